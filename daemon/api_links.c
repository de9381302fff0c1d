/* api_links.c - links with their state, figures, open tickets and availability */
#include <sys/time.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "api_links.h"
#include "log.h"
#include "sla.h"
#include "ticket.h"

#define MAX_INTERVALS 4096
#define MAX_WINDOWS 512

struct api_links {
	struct lw_state *st;
	struct incidents *inc;
	const struct lw_config *const *cfgp;
};

/* One context per process: the daemon registers the API once. */
static struct api_links api;

static int64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static json_t *
jstr(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	return j ? j : json_string("?");
}

static json_t *
jnum(bool valid, double v)
{
	return valid && !isnan(v) ? json_real(round(v * 100) / 100) : json_null();
}

static json_t *
probe_json(const struct lw_probe *p)
{
	const struct lw_sample *s = state_get(api.st, LW_SUBJ_PROBE, p->link, p->name);
	json_t *o, *m;
	char when[32];

	o = json_pack("{s:o, s:o, s:o, s:o}", "name", jstr(p->name), "type", jstr(p->type),
	              "target", jstr(p->target), "hop", jstr(config_hop_name(p->hop)));
	if (o == NULL)
		return NULL;
	if (s == NULL) {
		json_object_set_new(o, "status", json_string("pending"));
		json_object_set_new(o, "message", json_null());
		json_object_set_new(o, "time", json_null());
		json_object_set_new(o, "metrics", json_object());
		return o;
	}
	json_object_set_new(o, "status", json_string(lw_status_name(s->status)));
	json_object_set_new(o, "message", jstr(s->message ? s->message : ""));
	json_object_set_new(o, "time",
	                    jstr(ticket_iso((int64_t)s->ts.tv_sec * 1000, when, sizeof(when))));
	m = json_object();
	for (size_t i = 0; m && i < s->nmetrics; i++)
		json_object_set_new(
		    m, s->metrics[i].name,
		    json_pack("{s:o, s:o}", "value", jnum(s->metrics[i].valid, s->metrics[i].value),
		              "unit", jstr(s->metrics[i].unit ? s->metrics[i].unit : "")));
	json_object_set_new(o, "metrics", m ? m : json_object());
	return o;
}

static json_t *
link_json(const struct lw_link *l)
{
	struct incident_link_status ls;
	json_t *o, *probes = json_array(), *refs = json_array(), *tk = json_null();

	if (incidents_link_status(api.inc, l->name, &ls) != 0)
		memset(&ls, 0, sizeof(ls));
	for (size_t i = 0; probes && i < l->nprobes; i++)
		json_array_append_new(probes, probe_json(&l->probes[i]));
	for (size_t i = 0; refs && i < ls.nopen; i++)
		json_array_append_new(refs, json_string(ls.open[i]->ref));
	if (ls.ticket)
		tk = json_pack("{s:s, s:o, s:s, s:s, s:o, s:o, s:b}", "ref", ls.ticket->ref, "kind",
		               jstr(ls.ticket->kind), "severity",
		               ticket_severity_name(ls.ticket->severity), "state",
		               ticket_state_name(ls.ticket->state), "title", jstr(ls.ticket->title),
		               "blame", jstr(ls.ticket->blame), "flapping", ls.ticket->flapping);
	o = json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:s, s:b}", "name", jstr(l->name), "provider",
	    jstr(l->provider), "circuit", jstr(l->circuit), "support", jstr(l->support), "device",
	    jstr(l->device), "interface", jstr(l->interface), "bandwidth_bps",
	    l->bandwidth_bps ? json_integer((json_int_t)l->bandwidth_bps) : json_null(), "sla_pct",
	    l->sla_pct, "state", ls.state ? ls.state : "unknown", "maintenance", ls.maintenance);
	if (o == NULL) {
		json_decref(probes);
		json_decref(refs);
		json_decref(tk);
		return NULL;
	}
	json_object_set_new(o, "loss_pct", jnum(ls.loss_valid, ls.loss_pct));
	json_object_set_new(o, "latency_ms", jnum(ls.latency_valid, ls.latency_ms));
	json_object_set_new(o, "jitter_ms", jnum(ls.jitter_valid, ls.jitter_ms));
	json_object_set_new(o, "utilization_in_pct", jnum(ls.util_valid, ls.util_in_pct));
	json_object_set_new(o, "utilization_out_pct", jnum(ls.util_valid, ls.util_out_pct));
	json_object_set_new(o, "errors_per_min", jnum(ls.errors_valid, ls.errors_per_min));
	json_object_set_new(o, "probes", probes ? probes : json_array());
	json_object_set_new(o, "ticket", tk ? tk : json_null());
	json_object_set_new(o, "tickets", refs ? refs : json_array());
	return o;
}

/* ---- availability ---------------------------------------------------------- */

struct sla_collect {
	struct sla_interval down[MAX_INTERVALS];
	size_t ndown;
	struct sla_interval deg[MAX_INTERVALS];
	size_t ndeg;
	json_t *incidents;
	const struct sla_interval *maint;
	size_t nmaint;
	int64_t from_ms, to_ms, now_ms;
};

static void
problem_cb(const struct ticket_problem *p, void *arg)
{
	struct sla_collect *c = arg;
	bool down = strcmp(p->kind, "down") == 0;
	struct sla_interval iv = {p->start_ms, p->end_ms > 0 ? p->end_ms : c->now_ms};
	struct sla_interval one = iv;
	int64_t end = c->to_ms < c->now_ms ? c->to_ms : c->now_ms;
	char ref[16];
	json_t *o;

	if (down && c->ndown < MAX_INTERVALS)
		c->down[c->ndown++] = iv;
	if (c->ndeg < MAX_INTERVALS)
		c->deg[c->ndeg++] = iv;
	if (p->ticket_id > 0)
		ticket_ref(p->ticket_id, ref, sizeof(ref));
	o = json_pack(
	    "{s:s, s:o, s:o, s:I, s:I, s:o, s:o, s:s}", "kind", p->kind, "start",
	    jstr(ticket_iso(p->start_ms, (char[32]){0}, 32)), "end",
	    p->end_ms > 0 ? jstr(ticket_iso(p->end_ms, (char[32]){0}, 32)) : json_null(),
	    "duration_s", (json_int_t)((iv.end_ms - iv.start_ms) / 1000), "counted_s",
	    (json_int_t)(sla_union_ms(&one, 1, c->from_ms, end, c->maint, c->nmaint) / 1000),
	    "ticket", p->ticket_id > 0 ? json_string(ref) : json_null(), "held", jstr(p->held),
	    "counts_as", down ? "downtime" : "degraded");
	if (o != NULL)
		json_array_append_new(c->incidents, o);
}

static size_t
link_windows(const struct lw_config *cfg, const struct lw_link *l, int64_t from_s, int64_t to_s,
             struct sla_interval *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nmaintenances && n < max; i++) {
		const struct lw_maintenance *m = &cfg->maintenances[i];
		size_t k;

		if (!sla_maint_covers(m, l->name) && !sla_maint_covers(m, l->device))
			continue;
		k = sla_maint_windows(m, from_s, to_s, out + n, max - n);
		n += k < max - n ? k : max - n;
	}
	return n;
}

json_t *
api_links_sla_json(struct incidents *inc, const struct lw_config *cfg, const struct lw_link *l,
                   const char *month, char *err, size_t errlen)
{
	struct sla_interval win[MAX_WINDOWS];
	struct sla_collect *c;
	struct sla_result r;
	int64_t from, to;
	json_t *o;

	if (strlen(month) != 7 || sla_month_range(month, &from, &to) != 0) {
		snprintf(err, errlen, "month must be YYYY-MM");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->incidents = json_array()) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->from_ms = from * 1000;
	c->to_ms = to * 1000;
	c->now_ms = now_ms();
	c->nmaint = link_windows(cfg, l, from, to, win, MAX_WINDOWS);
	c->maint = win;
	if (ticket_link_problems(incidents_db(inc), l->name, c->from_ms, c->to_ms, problem_cb, c) !=
	    0) {
		json_decref(c->incidents);
		free(c);
		snprintf(err, errlen, "cannot read the ticket database (see the log)");
		return NULL;
	}
	sla_compute(c->down, c->ndown, c->deg, c->ndeg, win, c->nmaint, c->from_ms, c->to_ms,
	            c->now_ms, l->sla_pct, &r);
	o = json_pack(
	    "{s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:f, s:b, s:o}", "link", l->name, "month",
	    month, "sla_pct", l->sla_pct, "period_s", (json_int_t)(r.period_ms / 1000),
	    "maintenance_s", (json_int_t)(r.maintenance_ms / 1000), "counted_s",
	    (json_int_t)(r.counted_ms / 1000), "downtime_s", (json_int_t)(r.downtime_ms / 1000),
	    "degraded_s", (json_int_t)(r.degraded_ms / 1000), "availability_pct",
	    r.availability_pct, "met", r.met, "incidents", c->incidents);
	free(c);
	if (o == NULL)
		snprintf(err, errlen, "out of memory");
	return o;
}

void
api_links_this_month(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m", &tm);
}

static void
sla(struct evhttp_request *req, const struct lw_link *l)
{
	char *q = http_query(req, "month"), month[16], err[128];
	json_t *o;

	if (q == NULL)
		api_links_this_month(month, sizeof(month));
	else
		snprintf(month, sizeof(month), "%.15s", q);
	free(q);
	if ((o = api_links_sla_json(api.inc, *api.cfgp, l, month, err, sizeof(err))) == NULL) {
		http_reply_error(req, strstr(err, "YYYY") ? 400 : 500, "%s", err);
		return;
	}
	http_reply_json(req, 200, o);
}

/* The list is what dashboards poll: built at most once a second (the
 * figures change with each probe run, seconds apart), then served as is. */
static struct {
	char *text;
	size_t len;
	int64_t made_ms;
	const struct lw_config *cfg;
} list_cache;

static void
links_list(struct evhttp_request *req, const struct lw_config *cfg)
{
	int64_t now = now_ms();
	json_t *list;

	if (list_cache.text == NULL || list_cache.cfg != cfg || now - list_cache.made_ms >= 1000 ||
	    now < list_cache.made_ms) {
		list = json_array();
		for (size_t i = 0; list && i < cfg->nlinks; i++)
			json_array_append_new(list, link_json(&cfg->links[i]));
		json_t *o = list ? json_pack("{s:o}", "links", list) : NULL;
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (text == NULL) {
			http_reply_error(req, 500, "out of memory");
			return;
		}
		free(list_cache.text);
		list_cache.text = text;
		list_cache.len = strlen(text);
		list_cache.made_ms = now;
		list_cache.cfg = cfg;
	}
	http_reply_json_text(req, 200, list_cache.text, list_cache.len);
}

void
api_links_free(void)
{
	free(list_cache.text);
	list_cache.text = NULL;
}

static void
links_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	const struct lw_config *cfg = *api.cfgp;
	char name[256] = "", what[32] = "";
	const struct lw_link *l;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		http_reply_error(req, 405, "only GET is allowed here");
		return;
	}
	if (rest[0] == '/' && rest[1] != '\0') {
		const char *slash = strchr(rest + 1, '/');
		size_t n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);

		if (n >= sizeof(name) || (slash && strlen(slash + 1) >= sizeof(what))) {
			http_reply_error(req, 404, "no such link");
			return;
		}
		memcpy(name, rest + 1, n);
		name[n] = '\0';
		if (slash)
			snprintf(what, sizeof(what), "%s", slash + 1);
	} else if (rest[0] != '\0' && strcmp(rest, "/") != 0) {
		http_reply_error(req, 404, "no such page");
		return;
	}
	if (name[0] == '\0') {
		links_list(req, cfg);
		return;
	}
	if ((l = config_link(cfg, name)) == NULL) {
		http_reply_error(req, 404, "no link \"%s\" in the configuration", name);
		return;
	}
	if (what[0] == '\0')
		http_reply_json(req, 200, link_json(l));
	else if (strcmp(what, "sla") == 0)
		sla(req, l);
	else
		http_reply_error(req, 404, "no such page: use /api/v1/links/%s or .../sla",
		                 l->name);
}

void
api_links_register(struct lw_http *h, struct lw_state *st, struct incidents *inc,
                   const struct lw_config *const *cfgp)
{
	api.st = st;
	api.inc = inc;
	api.cfgp = cfgp;
	if (http_route(h, "/api/v1/links", links_cb, &api) != 0)
		log_warnx("cannot register /api/v1/links");
}
