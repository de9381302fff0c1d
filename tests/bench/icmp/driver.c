/* driver.c - the icmp plugin alone on an event loop, for the benchmark: the
 * same schedule as linewatchd's probe engine (one run per target per
 * interval, never two at once), without the rest of the daemon.
 *
 *   driver PLUGIN.so SECONDS INTERVAL_MS COUNT TARGET...
 *
 * Prints "TARGET rtt_median..." (one value per run with a reply) at the end. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "linewatch_plugin.h"
#include "log.h"

struct target {
	const struct lw_plugin *pl;
	struct lw_probe_spec spec;
	void *inst;
	struct event *tick;
	int busy;
	int started;
	struct timeval iv;
	double *rtt;
	size_t nrtt, cap;
};

static struct lw_probe_option opts[1];

static void
done(const struct lw_probe_result *res, void *arg)
{
	struct target *t = arg;

	t->busy = 0;
	for (size_t i = 0; i < res->nmetrics; i++) {
		if (strcmp(res->metrics[i].name, "rtt_median") != 0 || isnan(res->metrics[i].value))
			continue;
		if (t->nrtt == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 64;
			if ((t->rtt = realloc(t->rtt, t->cap * sizeof(*t->rtt))) == NULL)
				abort();
		}
		t->rtt[t->nrtt++] = res->metrics[i].value;
	}
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct target *t = arg;

	if (!t->started) { /* from the spread-out first delay to the interval */
		t->started = 1;
		event_add(t->tick, &t->iv);
	}
	if (t->busy)
		return;
	t->busy = 1;
	t->pl->run(t->inst, done, t);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	const struct lw_plugin *pl;
	struct target *ts;
	char err[256];
	void *dl;
	int n, interval;
	struct timeval end;

	if (argc < 6) {
		fprintf(stderr, "usage: driver PLUGIN.so SECONDS INTERVAL_MS COUNT TARGET...\n");
		return 2;
	}
	log_init(1, LOG_LVL_WARN);
	if ((dl = dlopen(argv[1], RTLD_NOW)) == NULL ||
	    (pl = dlsym(dl, "linewatch_plugin")) == NULL) {
		fprintf(stderr, "driver: %s\n", dlerror());
		return 1;
	}
	end = (struct timeval){atoi(argv[2]), 0};
	interval = atoi(argv[3]);
	opts[0] = (struct lw_probe_option){"count", argv[4]};
	n = argc - 5;
	base = event_base_new();
	if (pl->init(base, err, sizeof(err)) != 0) {
		fprintf(stderr, "driver: %s\n", err);
		return 1;
	}
	ts = calloc((size_t)n, sizeof(*ts));
	for (int i = 0; i < n; i++) {
		struct timeval iv = {interval / 1000, interval % 1000 * 1000};
		struct timeval first = {0, (suseconds_t)((long)interval * 1000 * i / n)};
		struct target *t = &ts[i];

		t->pl = pl;
		t->spec = (struct lw_probe_spec){.name = "bench",
		                                 .link = "bench",
		                                 .target = argv[5 + i],
		                                 .interval_ms = interval,
		                                 .timeout_ms = interval,
		                                 .opts = opts,
		                                 .nopts = 1};
		if ((t->inst = pl->create(base, &t->spec, err, sizeof(err))) == NULL) {
			fprintf(stderr, "driver: %s: %s\n", argv[5 + i], err);
			return 1;
		}
		/* spread the first runs over one interval, like the engine */
		t->iv = iv;
		t->tick = event_new(base, -1, EV_PERSIST, tick, t);
		event_add(t->tick, &first);
	}
	event_base_loopexit(base, &end);
	event_base_dispatch(base);
	for (int i = 0; i < n; i++) {
		printf("%s", ts[i].spec.target);
		for (size_t k = 0; k < ts[i].nrtt; k++)
			printf(" %.4f", ts[i].rtt[k]);
		printf("\n");
		pl->destroy(ts[i].inst);
		event_free(ts[i].tick);
		free(ts[i].rtt);
	}
	pl->fini();
	free(ts);
	event_base_free(base);
	dlclose(dl);
	return 0;
}
