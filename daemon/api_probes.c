/* api_probes.c - the probes API: configuration joined with the last sample */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "api_probes.h"
#include "log.h"
#include "probe.h"
#include "sample.h"
#include "state.h"

struct api_probes {
	struct lw_state *st;
	const struct lw_config *const *cfgp;
};

/* One static context per process: the daemon registers the API once. */
static struct api_probes api;

/* json_string refuses invalid UTF-8; the probe engine cleans plugin text,
 * so this only guards against a NULL. */
static json_t *
jstr(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	return j != NULL ? j : json_string("?");
}

static json_t *
metrics_json(const struct lw_sample *s)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < s->nmetrics; i++) {
		const struct lw_metric *m = &s->metrics[i];
		json_t *v = m->valid ? json_real(m->value) : json_null();

		json_object_set_new(
		    o, m->name,
		    json_pack("{s:o, s:o}", "value", v, "unit", jstr(m->unit ? m->unit : "")));
	}
	return o;
}

static json_t *
probe_json(const struct lw_probe *p)
{
	const struct lw_sample *s = state_get(api.st, LW_SUBJ_PROBE, p->link, p->name);
	json_t *o;
	char when[32], target[1024];
	struct tm tm;
	time_t t;

	o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "link", jstr(p->link), "name",
	              jstr(p->name), "type", jstr(p->type), "target",
	              jstr(probe_shown_target(p->target, target, sizeof(target))), "hop",
	              jstr(config_hop_name(p->hop)), "interval_ms", (json_int_t)p->interval_ms,
	              "timeout_ms", (json_int_t)p->timeout_ms);
	if (o == NULL)
		return NULL;
	if (s == NULL) {
		json_object_set_new(o, "status", json_string("pending"));
		json_object_set_new(o, "message", json_null());
		json_object_set_new(o, "time", json_null());
		json_object_set_new(o, "ts", json_null());
		json_object_set_new(o, "metrics", json_object());
		return o;
	}
	t = s->ts.tv_sec;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(o, "status", json_string(lw_status_name(s->status)));
	json_object_set_new(o, "message", jstr(s->message ? s->message : ""));
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "ts", json_real(s->ts.tv_sec + s->ts.tv_usec / 1e6));
	json_object_set_new(o, "metrics", metrics_json(s));
	return o;
}

static void
probes_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	const struct lw_config *cfg = *api.cfgp;
	char linkname[256] = "", probename[256] = "";
	char *q = NULL;
	json_t *list;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_reply_error(req, 405, "only GET is allowed here");
		return;
	}
	/* rest: "", "/LINK" or "/LINK/PROBE" (names are plain words, see config) */
	if (rest[0] == '/' && rest[1] != '\0') {
		const char *slash = strchr(rest + 1, '/');
		size_t n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);

		if (n >= sizeof(linkname) || (slash && strlen(slash + 1) >= sizeof(probename))) {
			http_reply_error(req, 404, "no such probe");
			return;
		}
		memcpy(linkname, rest + 1, n);
		linkname[n] = '\0';
		if (slash != NULL)
			snprintf(probename, sizeof(probename), "%s", slash + 1);
	} else if (rest[0] != '\0' && strcmp(rest, "/") != 0) {
		http_reply_error(req, 404, "no such page");
		return;
	} else if ((q = http_query(req, "link")) != NULL) {
		snprintf(linkname, sizeof(linkname), "%s", q);
		free(q);
	}
	if (linkname[0] != '\0' && config_link(cfg, linkname) == NULL) {
		http_reply_error(req, 404, "no link \"%s\" in the configuration", linkname);
		return;
	}
	list = json_array();
	for (size_t l = 0; list != NULL && l < cfg->nlinks; l++) {
		const struct lw_link *link = &cfg->links[l];

		if (linkname[0] != '\0' && strcmp(link->name, linkname) != 0)
			continue;
		for (size_t i = 0; i < link->nprobes; i++) {
			const struct lw_probe *p = &link->probes[i];

			if (probename[0] != '\0') {
				if (strcmp(p->name, probename) == 0) {
					json_decref(list);
					http_reply_json(req, 200, probe_json(p));
					return;
				}
				continue;
			}
			json_array_append_new(list, probe_json(p));
		}
	}
	if (probename[0] != '\0') {
		json_decref(list);
		http_reply_error(req, 404, "no probe \"%s\" on link \"%s\"", probename, linkname);
		return;
	}
	if (list == NULL) {
		http_reply_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "probes", list));
}

void
api_probes_register(struct lw_http *h, struct lw_state *st, const struct lw_config *const *cfgp)
{
	api.st = st;
	api.cfgp = cfgp;
	if (http_route(h, "/api/v1/probes", probes_cb, &api) != 0)
		log_warnx("cannot register /api/v1/probes");
}
