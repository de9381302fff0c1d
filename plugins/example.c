/* example.c - the smallest complete probe plugin.
 *
 * probe "clock" { type = "example"  target = "local"  warning = "50" }
 *
 * Reports the seconds of the current minute as a metric and a message, one
 * event-loop turn after run() (results are always delivered asynchronously).
 * Option: `warning = "N"` warns when the seconds reach N (0..59).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linewatch_plugin.h"

struct example {
	struct event *ev; /* the pending "measurement" */
	int warning;      /* seconds, 60 = never */
	lw_probe_done_cb done;
	void *arg;
};

static int
parse_warning(const struct lw_probe_spec *spec, int *out, char *err, size_t errlen)
{
	const char *w = lw_probe_opt(spec, "warning");
	char *end;
	long v;

	*out = 60;
	for (size_t i = 0; i < spec->nopts; i++) {
		if (strcmp(spec->opts[i].key, "warning") != 0) {
			snprintf(err, errlen,
			         "option %s is not used by example probes (only warning)",
			         spec->opts[i].key);
			return -1;
		}
	}
	if (w == NULL)
		return 0;
	v = strtol(w, &end, 10);
	if (*w == '\0' || *end != '\0' || v < 0 || v > 59) {
		snprintf(err, errlen, "warning \"%s\" is not a number of seconds 0..59", w);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int
example_check(const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	int w;

	return parse_warning(spec, &w, err, errlen);
}

static void
example_fire(evutil_socket_t fd, short events, void *arg)
{
	struct example *ex = arg;
	struct lw_probe_metric m = {"seconds", "s", 0};
	struct lw_probe_result res = {LW_PROBE_OK, NULL, &m, 1};
	char msg[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	m.value = tm.tm_sec;
	if (tm.tm_sec >= ex->warning)
		res.status = LW_PROBE_WARNING;
	snprintf(msg, sizeof(msg), "%d seconds past the minute", tm.tm_sec);
	res.message = msg;
	ex->done(&res, ex->arg); /* exactly once per run */
}

static void *
example_create(struct event_base *base, const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct example *ex = calloc(1, sizeof(*ex));

	if (ex == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (parse_warning(spec, &ex->warning, err, errlen) != 0 ||
	    (ex->ev = evtimer_new(base, example_fire, ex)) == NULL) {
		free(ex);
		return NULL;
	}
	return ex;
}

static void
example_run(void *inst, lw_probe_done_cb done, void *arg)
{
	struct example *ex = inst;
	struct timeval now = {0, 0};

	ex->done = done;
	ex->arg = arg;
	evtimer_add(ex->ev, &now); /* never call done from inside run() */
}

static void
example_cancel(void *inst)
{
	struct example *ex = inst;

	evtimer_del(ex->ev); /* after cancel, done must not be called */
}

static void
example_destroy(void *inst)
{
	struct example *ex = inst;

	event_free(ex->ev);
	free(ex);
}

const struct lw_plugin linewatch_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "example",
    .check = example_check,
    .create = example_create,
    .run = example_run,
    .cancel = example_cancel,
    .destroy = example_destroy,
};
