/* notify.c - ticket events to the outbox, the outbox to the destinations */
#include <sys/random.h>

#include <dlfcn.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "deliver.h"
#include "log.h"
#include "notify.h"
#include "notify_curl.h"
#include "outbox.h"
#include "plugin_table.h"
#include "trap.h"

#define NOTIFY_SCHEMA 1
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define PUMP_BATCH 64 /* traps sent per turn of the loop */
#define TEXT_MAX 4096 /* comments and titles are cut here */
#define PROBES_MAX 16

enum dest_kind { D_UPSTREAM, D_WEBHOOK, D_EMAIL };

static const char *const kind_names[] = {"upstream", "webhook", "email"};

struct dest {
	struct notify *n;
	enum dest_kind kind;
	char *name;
	struct outbox_queue *q;
	char **events; /* empty: every event */
	size_t nevents;
	int64_t heartbeat_ms;

	struct trap_sender *trap;
	struct webhook *wh;
	struct mailer *mail;

	struct outbox_item *inflight;
	unsigned fails; /* consecutive */
	bool waiting;   /* back-off under way */
	struct event *ev_kick;
	struct event *ev_heartbeat;

	uint64_t delivered, failed, rejected;
	int64_t last_ok_ms;
	char last_error[256];
	bool keep; /* reload bookkeeping */
	struct dest *next;
};

struct notify {
	struct event_base *base;
	struct outbox *ob;
	void *dl;                        /* notify-curl.so, once a webhook or email needs it */
	const struct lw_notify_curl *nc; /* its table; NULL until then */
	struct curlev *ce;
	struct trap_env env;
	char *site;
	const struct lw_config *cfg; /* alive until the next reload returns */
	struct dest *dests;
};

/* --- names and time ------------------------------------------------------ */

static const char *const type_names[] = {NULL,        "opened",    "updated",  "acknowledged",
                                         "commented", "resolved",  "reopened", "link-state",
                                         "heartbeat", "cold-start"};

const char *
notify_type_name(enum notify_type t)
{
	if ((int)t < NOTIFY_OPENED || t > NOTIFY_COLD_START)
		return NULL;
	return type_names[t];
}

enum notify_type
notify_type_parse(const char *s)
{
	for (int t = NOTIFY_OPENED; s && t <= NOTIFY_COLD_START; t++)
		if (strcasecmp(s, type_names[t]) == 0)
			return (enum notify_type)t;
	return 0;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *
iso_time(int64_t ms)
{
	char buf[40], out[48];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, sizeof(out), "%s.%03dZ", buf, (int)(ms % 1000));
	return json_string(out);
}

/* --- payloads ------------------------------------------------------------ */

/* A JSON string of s, which may be anything: cut at TEXT_MAX, invalid
 * UTF-8 and control characters (but newlines) become '?'. */
static json_t *
jtext(const char *s)
{
	char buf[TEXT_MAX + 1];
	size_t n = 0;
	json_t *j;

	for (const unsigned char *p = (const unsigned char *)s; *p && n < TEXT_MAX; p++)
		buf[n++] = (*p < 0x20 && *p != '\n') || *p == 0x7f ? '?' : (char)*p;
	buf[n] = '\0';
	if ((j = json_stringn(buf, n)) != NULL)
		return j;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] >= 0x80)
			buf[i] = '?';
	return json_stringn(buf, n);
}

static void
set_text(json_t *o, const char *key, const char *s)
{
	if (s != NULL)
		json_object_set_new(o, key, jtext(s));
}

static const char *
guess_unit(const char *name)
{
	if (strstr(name, "loss") || strstr(name, "utilization") || strstr(name, "pct"))
		return "%";
	if (strstr(name, "latency") || strstr(name, "rtt") || strstr(name, "jitter"))
		return "ms";
	if (strstr(name, "errors"))
		return "/min";
	if (strstr(name, "bps"))
		return "bps";
	return NULL;
}

static void
add_metric(json_t *out, const char *name, json_t *value, const char *unit)
{
	json_t *m;

	if (name == NULL || *name == '\0' || strlen(name) > 64)
		return;
	if (!json_is_number(value) && !json_is_null(value))
		return;
	if (json_is_number(value) && !isfinite(json_number_value(value)))
		return;
	m = json_object();
	json_object_set(m, "value", value);
	if (unit == NULL)
		unit = guess_unit(name);
	if (unit != NULL)
		json_object_set_new(m, "unit", jtext(unit));
	json_object_set_new(out, name, m);
}

/* A probe result of the evidence, with only what is worth sending. */
static json_t *
probe_json(json_t *p)
{
	static const char *const texts[] = {"name", "hop", "status", "message"};
	static const char *const nums[] = {"loss", "latency", "jitter"};
	json_t *o = json_object();

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *s = json_string_value(json_object_get(p, texts[i]));
		if (s)
			json_object_set_new(o, texts[i], jtext(s));
	}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		json_t *v = json_object_get(p, nums[i]);
		if (json_is_number(v) && isfinite(json_number_value(v)))
			json_object_set(o, nums[i], v);
		else if (json_is_null(v))
			json_object_set_new(o, nums[i], json_null());
	}
	return o;
}

static json_t *
interface_json(json_t *ifc)
{
	static const char *const keys[] = {"name", "oper", "admin"};
	json_t *o = json_object();

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *s = json_string_value(json_object_get(ifc, keys[k]));
		if (s)
			json_object_set_new(o, keys[k], jtext(s));
	}
	return o;
}

/* The evidence in one shape: "metrics" {"name": {"value": V, "unit": U}},
 * plus "probes" and "interface" when the ticket's evidence has them. */
static void
evidence(json_t *j, const char *text)
{
	json_t *in, *out = json_object(), *probes, *ifc;

	json_object_set_new(j, "metrics", out);
	if (text == NULL || (in = json_loads(text, JSON_DECODE_ANY, NULL)) == NULL)
		return;
	if (json_is_object(in)) {
		for (void *it = json_object_iter(in); it; it = json_object_iter_next(in, it)) {
			const char *name = json_object_iter_key(it);
			json_t *v = json_object_iter_value(it);
			if (json_is_object(v))
				add_metric(out, name, json_object_get(v, "value"),
				           json_string_value(json_object_get(v, "unit")));
			else
				add_metric(out, name, v, NULL);
		}
	} else if (json_is_array(in)) {
		for (size_t i = 0; i < json_array_size(in); i++) {
			json_t *v = json_array_get(in, i);
			add_metric(out, json_string_value(json_object_get(v, "name")),
			           json_object_get(v, "value"),
			           json_string_value(json_object_get(v, "unit")));
		}
	}
	if (json_is_array(probes = json_object_get(in, "probes"))) {
		json_t *a = json_array();
		for (size_t i = 0; i < json_array_size(probes) && i < PROBES_MAX; i++)
			if (json_is_object(json_array_get(probes, i)))
				json_array_append_new(a, probe_json(json_array_get(probes, i)));
		json_object_set_new(j, "probes", a);
	}
	if (json_is_object(ifc = json_object_get(in, "interface")))
		json_object_set_new(j, "interface", interface_json(ifc));
	json_decref(in);
}

static bool
is_ticket_event(enum notify_type t)
{
	return t >= NOTIFY_OPENED && t <= NOTIFY_REOPENED;
}

static json_t *
payload_base(enum notify_type type, int64_t time_ms, const char *site)
{
	json_t *j = json_object();

	json_object_set_new(j, "schema", json_integer(NOTIFY_SCHEMA));
	json_object_set_new(j, "event", json_string(notify_type_name(type)));
	json_object_set_new(j, "time", iso_time(time_ms > 0 ? time_ms : wall_ms()));
	json_object_set_new(j, "site", jtext(site ? site : ""));
	return j;
}

static char *
dump(json_t *j)
{
	char *s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT);

	json_decref(j);
	return s;
}

char *
notify_payload(const struct notify_event *ev, const char *site)
{
	json_t *j, *o;

	if (notify_type_name(ev->type) == NULL)
		return NULL;
	j = payload_base(ev->type, ev->time_ms, site);
	if (is_ticket_event(ev->type) || ev->ref) {
		o = json_object();
		set_text(o, "ref", ev->ref);
		set_text(o, "kind", ev->kind);
		set_text(o, "severity", ev->severity);
		set_text(o, "state", ev->state);
		set_text(o, "title", ev->title);
		set_text(o, "blame", ev->blame);
		json_object_set_new(j, "ticket", o);
	}
	if (ev->link || ev->link_state) {
		o = json_object();
		set_text(o, "name", ev->link);
		set_text(o, "provider", ev->provider);
		set_text(o, "circuit", ev->circuit);
		set_text(o, "state", ev->link_state);
		json_object_set_new(j, "link", o);
	}
	if (ev->device) {
		o = json_object();
		set_text(o, "name", ev->device);
		json_object_set_new(j, "device", o);
	}
	evidence(j, ev->metrics_json);
	set_text(j, "text", ev->text);
	set_text(j, "by", ev->by);
	return dump(j);
}

/* --- delivery ----------------------------------------------------------- */

static void
kick(struct dest *d)
{
	static const struct timeval now = {0, 0};

	if (!d->waiting)
		evtimer_add(d->ev_kick, &now);
}

static void
kick_all(struct notify *n)
{
	for (struct dest *d = n->dests; d; d = d->next)
		kick(d);
}

static void
on_stored(void *arg)
{
	kick_all(arg);
}

static int64_t
backoff_ms(unsigned fails)
{
	int64_t ms = BACKOFF_MIN_MS;

	for (unsigned i = 1; i < fails && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* Note an attempt's outcome; the item is done with unless it is retried. */
static void
result(struct dest *d, enum deliver_result r, const char *why)
{
	struct outbox_item *it = d->inflight;
	const char *kind = kind_names[d->kind];
	struct timeval tv;
	int64_t wait;
	char safe[256];

	d->inflight = NULL;
	if (it == NULL)
		return;
	/* may quote the receiver (an SMTP or HTTP server): untrusted */
	why = log_safe(safe, sizeof(safe), why ? why : "");
	if (r == DELIVER_OK) {
		if (d->fails > 0)
			log_info("%s \"%s\": delivering again after %u failed attempt%s", kind,
			         d->name, d->fails, d->fails == 1 ? "" : "s");
		log_debug("%s \"%s\": notification #%" PRId64 " delivered (%s)", kind, d->name,
		          it->id, why[0] ? why : "ok");
		d->fails = 0;
		d->delivered++;
		d->last_ok_ms = wall_ms();
		d->last_error[0] = '\0';
		outbox_done(d->n->ob, it);
		return;
	}
	if (r == DELIVER_REJECT) {
		log_warnx("%s \"%s\": notification #%" PRId64 " refused, dropped: %s", kind,
		          d->name, it->id, why[0] ? why : "refused");
		d->fails = 0;
		d->rejected++;
		snprintf(d->last_error, sizeof(d->last_error), "%s", why[0] ? why : "refused");
		outbox_done(d->n->ob, it);
		return;
	}
	it->busy = false;
	d->fails++;
	d->failed++;
	snprintf(d->last_error, sizeof(d->last_error), "%s", why[0] ? why : "failed");
	wait = backoff_ms(d->fails);
	if (d->fails == 1 || d->fails % 10 == 0)
		log_warnx("%s \"%s\": cannot deliver notification #%" PRId64 " (%s): %zu waiting, "
		          "retrying in %" PRId64 "s",
		          kind, d->name, it->id, d->last_error, outbox_queue_len(d->q),
		          wait / 1000);
	else
		log_debug("%s \"%s\": attempt %u for #%" PRId64 " failed (%s)", kind, d->name,
		          d->fails, it->id, d->last_error);
	tv.tv_sec = wait / 1000;
	tv.tv_usec = (wait % 1000) * 1000;
	d->waiting = true;
	evtimer_add(d->ev_kick, &tv);
}

static void
on_result(void *arg, enum deliver_result r, const char *why)
{
	struct dest *d = arg;

	result(d, r, why);
	kick(d); /* the next one on a fresh turn of the loop */
}

static enum deliver_result
send_item(struct dest *d, struct outbox_item *it, char *why, size_t whylen)
{
	switch (d->kind) {
	case D_UPSTREAM:
		return trap_send(d->trap, it->payload, on_result, d, why, whylen);
	case D_WEBHOOK:
		return d->n->nc->webhook_send(d->wh, it->payload, it->id, on_result, d, why,
		                              whylen);
	case D_EMAIL:
		return d->n->nc->mail_send(d->mail, it->payload, it->id, on_result, d, why, whylen);
	}
	return DELIVER_REJECT;
}

static void
pump(struct dest *d)
{
	char why[256];

	for (int i = 0; i < PUMP_BATCH; i++) {
		struct outbox_item *it = outbox_head(d->q);
		enum deliver_result r;

		if (d->inflight || d->waiting || it == NULL || !outbox_stored(d->n->ob, it))
			return;
		if (d->kind == D_UPSTREAM && d->trap == NULL) {
			snprintf(why, sizeof(why), "no SNMP session");
			d->inflight = it;
			it->busy = true;
			result(d, DELIVER_RETRY, why);
			return;
		}
		why[0] = '\0';
		it->busy = true;
		d->inflight = it;
		r = send_item(d, it, why, sizeof(why));
		if (r == DELIVER_PENDING)
			return;
		result(d, r, why);
	}
	kick(d);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct dest *d = arg;

	d->waiting = false;
	pump(d);
}

/* --- heartbeats and start-up ---------------------------------------------- */

static uint64_t
dropped_total(struct notify *n)
{
	struct outbox_stats st;
	uint64_t t = 0;

	outbox_get_stats(n->ob, &st);
	for (int c = 0; c < OUTBOX_NCLASS; c++)
		t += st.dropped[c];
	return t;
}

static void
queue_item(struct dest *d, enum outbox_class cls, int64_t time_ms, const char *payload)
{
	if (payload == NULL) {
		log_warnx("%s \"%s\": out of memory: a notification is lost", kind_names[d->kind],
		          d->name);
		return;
	}
	outbox_add(d->n->ob, d->q, cls, time_ms, payload);
}

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct dest *d = arg;
	struct outbox_stats st;
	json_t *j = payload_base(NOTIFY_HEARTBEAT, 0, d->n->site), *hb = json_object();
	char *p;

	outbox_get_stats(d->n->ob, &st);
	json_object_set_new(hb, "interval_s", json_integer(d->heartbeat_ms / 1000));
	json_object_set_new(hb, "outbox", json_integer((json_int_t)st.items));
	json_object_set_new(hb, "dropped", json_integer((json_int_t)dropped_total(d->n)));
	json_object_set_new(j, "heartbeat", hb);
	p = dump(j);
	queue_item(d, OUTBOX_HEARTBEAT, wall_ms(), p);
	free(p);
}

static void
cold_start(struct notify *n)
{
	char *p = dump(payload_base(NOTIFY_COLD_START, 0, n->site));

	for (struct dest *d = n->dests; d; d = d->next)
		if (d->kind == D_UPSTREAM)
			queue_item(d, OUTBOX_STATE, wall_ms(), p);
	free(p);
}

/* --- destinations ------------------------------------------------------- */

static void
dest_stop(struct dest *d)
{
	/* an attempt under way is abandoned: the item stays queued */
	if (d->inflight) {
		d->inflight->busy = false;
		d->inflight = NULL;
	}
	trap_free(d->trap);
	d->trap = NULL;
	/* a transport exists only if notify-curl.so was loaded for it */
	if (d->wh != NULL)
		d->n->nc->webhook_free(d->wh);
	d->wh = NULL;
	if (d->mail != NULL)
		d->n->nc->mail_free(d->mail);
	d->mail = NULL;
	if (d->ev_heartbeat) {
		event_free(d->ev_heartbeat);
		d->ev_heartbeat = NULL;
	}
	d->waiting = false;
	d->fails = 0;
}

static void
dest_free(struct dest *d)
{
	if (d == NULL)
		return;
	dest_stop(d);
	if (d->ev_kick)
		event_free(d->ev_kick);
	for (size_t i = 0; i < d->nevents; i++)
		free(d->events[i]);
	free(d->events);
	free(d->name);
	free(d);
}

static int
set_events(struct dest *d, char **ev, size_t n)
{
	for (size_t i = 0; i < d->nevents; i++)
		free(d->events[i]);
	free(d->events);
	d->events = NULL;
	d->nevents = 0;
	if (n == 0)
		return 0;
	if ((d->events = calloc(n, sizeof(char *))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((d->events[i] = strdup(ev[i])) == NULL)
			return -1;
		d->nevents++;
	}
	return 0;
}

/* (Re)start the transport of d from its configuration. */
static int
dest_start(struct dest *d, const void *cfg)
{
	char err[256] = "";
	struct timeval tv;

	switch (d->kind) {
	case D_UPSTREAM: {
		const struct lw_upstream *u = cfg;
		d->heartbeat_ms = u->heartbeat_ms;
		/* a session that cannot open now is retried on every attempt */
		if ((d->trap = trap_new(d->n->base, u, &d->n->env, err, sizeof(err))) == NULL)
			log_warnx("upstream \"%s\": %s", d->name, err);
		if (d->heartbeat_ms > 0) {
			d->ev_heartbeat = event_new(d->n->base, -1, EV_PERSIST, on_heartbeat, d);
			tv.tv_sec = d->heartbeat_ms / 1000;
			tv.tv_usec = (d->heartbeat_ms % 1000) * 1000;
			if (d->ev_heartbeat == NULL || event_add(d->ev_heartbeat, &tv) != 0)
				return -1;
		}
		return 0;
	}
	case D_WEBHOOK: {
		const struct lw_webhook *w = cfg;
		if (d->n->nc == NULL) /* ncurl_load failed: apply is not reached */
			return -1;
		if (set_events(d, w->events, w->nevents) != 0)
			return -1;
		d->wh = d->n->nc->webhook_new(d->n->ce, w);
		return d->wh ? 0 : -1;
	}
	case D_EMAIL: {
		const struct lw_email *m = cfg;
		if (d->n->nc == NULL)
			return -1;
		if (set_events(d, m->events, m->nevents) != 0)
			return -1;
		d->mail = d->n->nc->mail_new(d->n->base, m);
		return d->mail ? 0 : -1;
	}
	}
	return -1;
}

static struct dest *
dest_new(struct notify *n, enum dest_kind kind, const char *name, const void *cfg)
{
	struct dest *d = calloc(1, sizeof(*d));
	char qname[128];

	if (d == NULL)
		return NULL;
	d->n = n;
	d->kind = kind;
	snprintf(qname, sizeof(qname), "%s:%s", kind_names[kind], name);
	if ((d->name = strdup(name)) == NULL || (d->q = outbox_queue(n->ob, qname)) == NULL ||
	    (d->ev_kick = evtimer_new(n->base, on_kick, d)) == NULL || dest_start(d, cfg) != 0) {
		log_warnx("%s \"%s\": cannot start (out of memory?)", kind_names[kind], name);
		dest_free(d);
		return NULL;
	}
	return d;
}

static struct dest *
find_dest(struct notify *n, enum dest_kind kind, const char *name)
{
	for (struct dest *d = n->dests; d; d = d->next)
		if (d->kind == kind && strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static bool
wants(const struct dest *d, enum notify_type t)
{
	const char *name = notify_type_name(t);

	if (d->kind == D_UPSTREAM || d->nevents == 0)
		return true;
	for (size_t i = 0; i < d->nevents; i++)
		if (strcasecmp(d->events[i], name) == 0)
			return true;
	return false;
}

/* --- configuration comparison -------------------------------------------- */

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool
same_list(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!same_str(a[i], b[i]))
			return false;
	return true;
}

static bool
same_auth(const struct lw_snmp_auth *a, const struct lw_snmp_auth *b)
{
	return a->version == b->version && same_str(a->community, b->community) &&
	       same_str(a->username, b->username) && same_str(a->auth_protocol, b->auth_protocol) &&
	       same_str(a->auth_key, b->auth_key) && same_str(a->priv_protocol, b->priv_protocol) &&
	       same_str(a->priv_key, b->priv_key) && same_str(a->context, b->context);
}

static bool
same_upstream(const struct lw_upstream *a, const struct lw_upstream *b)
{
	return same_str(a->target, b->target) && same_auth(&a->auth, &b->auth) &&
	       a->inform == b->inform && a->timeout_ms == b->timeout_ms &&
	       a->retries == b->retries && a->heartbeat_ms == b->heartbeat_ms;
}

static bool
same_webhook(const struct lw_webhook *a, const struct lw_webhook *b)
{
	if (!same_str(a->url, b->url) || a->timeout_ms != b->timeout_ms ||
	    a->nheaders != b->nheaders || !same_list(a->events, a->nevents, b->events, b->nevents))
		return false;
	for (size_t i = 0; i < a->nheaders; i++)
		if (!same_str(a->headers[i].key, b->headers[i].key) ||
		    !same_str(a->headers[i].value, b->headers[i].value))
			return false;
	return true;
}

static bool
same_email(const struct lw_email *a, const struct lw_email *b)
{
	return same_str(a->smtp, b->smtp) && same_str(a->from, b->from) &&
	       same_list(a->to, a->nto, b->to, b->nto) && a->starttls == b->starttls &&
	       same_str(a->username, b->username) && same_str(a->password, b->password) &&
	       same_list(a->events, a->nevents, b->events, b->nevents);
}

/* --- notify-curl.so -------------------------------------------------------- */

/* libcurl is in notify-curl.so, not in linewatchd: its library closure
 * costs ~4 MB of resident pages, which a daemon without webhook or email
 * destinations should not pay. */
static bool
needs_curl(const struct lw_config *cfg)
{
	return cfg->nwebhooks > 0 || cfg->nemails > 0;
}

/* Open PLUGIN-DIR/notify-curl.so and check its table.  Returns the handle
 * (*tp set) or NULL with err saying what to do. */
static void *
ncurl_open(const struct lw_config *cfg, const struct lw_notify_curl **tp, char *err, size_t errlen)
{
	const char *dir = cfg->plugin_dir ? cfg->plugin_dir : ".";
	const struct lw_notify_curl *t;
	char path[PATH_MAX];
	const void *tab;
	void *dl;

	dl = plugin_table_open(dir, LW_NOTIFY_CURL_FILE, LW_NOTIFY_CURL_SYMBOL,
	                       "webhook and email destinations need it",
	                       "linewatch's notify plugin", &tab, path, sizeof(path), err, errlen);
	if (dl == NULL)
		return NULL;
	t = tab;
	/* the table and the structures must be the ones this linewatchd has */
	if (t->abi != LW_NOTIFY_CURL_ABI) {
		snprintf(err, errlen,
		         "plugin %s has ABI version %" PRIu32 ", linewatchd needs %d: install the "
		         "notify-curl.so built with this linewatchd",
		         path, t->abi, LW_NOTIFY_CURL_ABI);
		dlclose(dl);
		return NULL;
	}
	if (t->webhook_cfg_size != sizeof(struct lw_webhook) ||
	    t->email_cfg_size != sizeof(struct lw_email)) {
		snprintf(err, errlen,
		         "plugin %s was built from another version of config.h: install the "
		         "notify-curl.so built with this linewatchd",
		         path);
		dlclose(dl);
		return NULL;
	}
	if (t->url_ok == NULL || t->curlev_new == NULL || t->curlev_free == NULL ||
	    t->webhook_new == NULL || t->webhook_free == NULL || t->webhook_send == NULL ||
	    t->mail_new == NULL || t->mail_free == NULL || t->mail_send == NULL) {
		snprintf(err, errlen, "plugin %s lacks a function of its table", path);
		dlclose(dl);
		return NULL;
	}
	*tp = t;
	return dl;
}

/* Load notify-curl.so into n and start libcurl, once. */
static int
ncurl_load(struct notify *n, const struct lw_config *cfg)
{
	char err[PATH_MAX + 256];

	if (n->nc != NULL)
		return 0;
	if ((n->dl = ncurl_open(cfg, &n->nc, err, sizeof(err))) == NULL) {
		log_warnx("notifications: %s", err);
		return -1;
	}
	if ((n->ce = n->nc->curlev_new(n->base)) == NULL) {
		log_warnx("notifications: cannot set up libcurl");
		dlclose(n->dl);
		n->dl = NULL;
		n->nc = NULL;
		return -1;
	}
	log_debug("notifications: webhooks and e-mail through %s/%s",
	          cfg->plugin_dir ? cfg->plugin_dir : ".", LW_NOTIFY_CURL_FILE);
	return 0;
}

/* --- the module ----------------------------------------------------------- */

/* Bring the destinations in line with cfg.  old: the configuration the
 * running destinations came from (NULL at start-up). */
static int
apply(struct notify *n, const struct lw_config *old, const struct lw_config *cfg)
{
	struct dest **tail, *d, *next;
	struct {
		enum dest_kind kind;
		size_t count;
	} kinds[] = {
	    {D_UPSTREAM, cfg->nupstreams}, {D_WEBHOOK, cfg->nwebhooks}, {D_EMAIL, cfg->nemails}};

	for (d = n->dests; d; d = d->next)
		d->keep = false;
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < kinds[k].count; i++) {
			const char *name;
			const void *c, *oc = NULL;
			bool same = false;

			if (kinds[k].kind == D_UPSTREAM) {
				c = &cfg->upstreams[i];
				name = cfg->upstreams[i].name;
			} else if (kinds[k].kind == D_WEBHOOK) {
				c = &cfg->webhooks[i];
				name = cfg->webhooks[i].name;
			} else {
				c = &cfg->emails[i];
				name = cfg->emails[i].name;
			}
			d = find_dest(n, kinds[k].kind, name);
			if (d != NULL && old != NULL) {
				for (size_t j = 0;
				     kinds[k].kind == D_UPSTREAM && j < old->nupstreams; j++)
					if (strcmp(old->upstreams[j].name, name) == 0)
						oc = &old->upstreams[j];
				for (size_t j = 0; kinds[k].kind == D_WEBHOOK && j < old->nwebhooks;
				     j++)
					if (strcmp(old->webhooks[j].name, name) == 0)
						oc = &old->webhooks[j];
				for (size_t j = 0; kinds[k].kind == D_EMAIL && j < old->nemails;
				     j++)
					if (strcmp(old->emails[j].name, name) == 0)
						oc = &old->emails[j];
				if (oc != NULL)
					same = kinds[k].kind == D_UPSTREAM  ? same_upstream(oc, c)
					       : kinds[k].kind == D_WEBHOOK ? same_webhook(oc, c)
					                                    : same_email(oc, c);
			}
			if (d != NULL) {
				d->keep = true;
				if (same)
					continue;
				log_info("%s \"%s\": configuration changed, starting over",
				         kind_names[d->kind], d->name);
				dest_stop(d);
				if (dest_start(d, c) != 0)
					log_warnx("%s \"%s\": cannot restart", kind_names[d->kind],
					          d->name);
				kick(d);
				continue;
			}
			if ((d = dest_new(n, kinds[k].kind, name, c)) == NULL)
				return -1;
			d->keep = true;
			for (tail = &n->dests; *tail; tail = &(*tail)->next)
				;
			*tail = d; /* configuration order, for the API */
			kick(d);
		}
	/* removed from the configuration: what they had queued goes */
	for (tail = &n->dests, d = n->dests; d; d = next) {
		size_t dropped;
		next = d->next;
		if (d->keep) {
			tail = &d->next;
			continue;
		}
		*tail = next;
		dest_stop(d);
		dropped = outbox_purge(n->ob, d->q);
		log_info("%s \"%s\" removed%s%zu queued notification%s dropped",
		         kind_names[d->kind], d->name, dropped ? ": " : "", dropped,
		         dropped == 1 ? "" : "s");
		dest_free(d);
	}
	return 0;
}

/* Queues on disk whose destination is gone from the configuration. */
static void
purge_orphans(struct notify *n)
{
	for (struct outbox_queue *q = outbox_queue_next(n->ob, NULL); q;
	     q = outbox_queue_next(n->ob, q)) {
		bool used = false;
		size_t dropped;
		for (struct dest *d = n->dests; d; d = d->next)
			if (d->q == q)
				used = true;
		if (used || outbox_queue_len(q) == 0)
			continue;
		dropped = outbox_purge(n->ob, q);
		log_warnx("outbox: %zu notification%s for %s, which is no longer configured, "
		          "dropped",
		          dropped, dropped == 1 ? "" : "s", outbox_queue_name(q));
	}
}

/* Our SNMP engine: a random ID made once and kept, boots counted. */
static void
engine_setup(struct notify *n)
{
	char buf[128];
	unsigned long boots = 0;
	size_t len = 0;

	if (outbox_meta_get(n->ob, "engine-boots", buf, sizeof(buf)) == 0)
		boots = strtoul(buf, NULL, 10);
	if (boots >= 2147483647UL)
		boots = 0;
	n->env.engine_boots = (uint32_t)boots + 1;
	snprintf(buf, sizeof(buf), "%" PRIu32, n->env.engine_boots);
	outbox_meta_set(n->ob, "engine-boots", buf);

	if (outbox_meta_get(n->ob, "engine-id", buf, sizeof(buf)) == 0) {
		for (const char *p = buf; p[0] && p[1] && len < sizeof(n->env.engine_id); p += 2) {
			unsigned v;
			if (sscanf(p, "%2x", &v) != 1)
				break;
			n->env.engine_id[len++] = (unsigned char)v;
		}
	}
	if (len < 5) {
		/* RFC 3411 format: enterprise 8072 (net-snmp) with the high bit,
		 * then net-snmp's "random" format and 8 random octets */
		static const unsigned char head[] = {0x80, 0x00, 0x1f, 0x88, 0x80};
		memcpy(n->env.engine_id, head, sizeof(head));
		len = sizeof(head);
		if (getrandom(n->env.engine_id + len, 8, 0) != 8) {
			int64_t t = wall_ms();
			memcpy(n->env.engine_id + len, &t, 8);
		}
		len += 8;
		for (size_t i = 0; i < len; i++)
			snprintf(buf + 2 * i, sizeof(buf) - 2 * i, "%02x", n->env.engine_id[i]);
		outbox_meta_set(n->ob, "engine-id", buf);
	}
	n->env.engine_id_len = len;
}

static void
log_engine(struct notify *n, const struct lw_config *cfg)
{
	char hex[80];

	for (size_t i = 0; i < n->env.engine_id_len; i++)
		snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", n->env.engine_id[i]);
	for (size_t i = 0; i < cfg->nupstreams; i++)
		if (cfg->upstreams[i].auth.version == LW_SNMP_V3 && !cfg->upstreams[i].inform)
			log_info("upstream \"%s\": SNMPv3 traps come from engine ID 0x%s (boots "
			         "%" PRIu32 "): the manager needs the user under this engine ID",
			         cfg->upstreams[i].name, hex, n->env.engine_boots);
}

static const char *
enterprise_oid(const struct lw_config *cfg)
{
	return cfg->enterprise_oid ? cfg->enterprise_oid : TRAP_DEFAULT_ENTERPRISE;
}

struct notify *
notify_new(struct event_base *base, struct db *db, const struct lw_config *cfg)
{
	struct notify *n = calloc(1, sizeof(*n));
	char err[512];

	if (n == NULL) {
		log_warnx("notify: out of memory");
		return NULL;
	}
	n->base = base;
	n->cfg = cfg;
	n->env.started_ms = mono_ms();
	if (trap_parse_oid(enterprise_oid(cfg), n->env.root, &n->env.rootlen) != 0) {
		log_warnx("enterprise-oid \"%s\" is not a numeric OID", enterprise_oid(cfg));
		goto fail;
	}
	if ((n->site = strdup(cfg->site ? cfg->site : "")) == NULL)
		goto fail;
	n->ob = outbox_open(base, db, cfg->tickets.outbox_max, on_stored, n, err, sizeof(err));
	if (n->ob == NULL) {
		log_warnx("notifications: cannot open the outbox: %s", err);
		goto fail;
	}
	engine_setup(n);
	if (needs_curl(cfg) && ncurl_load(n, cfg) != 0)
		goto fail;
	if (apply(n, NULL, cfg) != 0)
		goto fail;
	purge_orphans(n);
	log_engine(n, cfg);
	cold_start(n);
	kick_all(n);
	return n;
fail:
	notify_free(n);
	return NULL;
}

int
notify_reload(struct notify *n, const struct lw_config *cfg)
{
	char *site = strdup(cfg->site ? cfg->site : "");
	oid root[MAX_OID_LEN];
	size_t rootlen;
	int rc;

	if (site == NULL)
		return -1;
	/* checked by notify_check_config; failing here keeps the old config */
	if (needs_curl(cfg) && ncurl_load(n, cfg) != 0) {
		log_warnx("notifications: keeping the running configuration");
		free(site);
		return -1;
	}
	free(n->site);
	n->site = site;
	outbox_set_max(n->ob, cfg->tickets.outbox_max);
	/* notifications already queued go out under the new root too */
	if (trap_parse_oid(enterprise_oid(cfg), root, &rootlen) != 0) {
		log_warnx("enterprise-oid \"%s\" is not a numeric OID: keeping the old one",
		          enterprise_oid(cfg));
	} else {
		memcpy(n->env.root, root, rootlen * sizeof(oid));
		n->env.rootlen = rootlen;
	}
	/* n->cfg, the old snapshot, is freed only after this returns */
	rc = apply(n, n->cfg, cfg);
	n->cfg = cfg;
	log_engine(n, cfg);
	return rc;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	while (n->dests) {
		struct dest *d = n->dests;
		n->dests = d->next;
		dest_free(d);
	}
	if (n->ce != NULL)
		n->nc->curlev_free(n->ce);
	if (n->dl != NULL)
		dlclose(n->dl);
	outbox_close(n->ob);
	free(n->site);
	free(n);
}

void
notify_post(struct notify *n, const struct notify_event *ev)
{
	enum outbox_class cls = ev->type == NOTIFY_LINK_STATE ? OUTBOX_STATE : OUTBOX_TICKET;
	int64_t t = ev->time_ms > 0 ? ev->time_ms : wall_ms();
	char *p;

	if (n == NULL || !(is_ticket_event(ev->type) || ev->type == NOTIFY_LINK_STATE))
		return;
	if ((p = notify_payload(ev, n->site)) == NULL) {
		log_warnx("notifications: out of memory: an event is lost");
		return;
	}
	for (struct dest *d = n->dests; d; d = d->next)
		if (wants(d, ev->type))
			outbox_add(n->ob, d->q, cls, t, p);
	free(p);
}

void
notify_foreach(struct notify *n, void (*cb)(const struct notify_dest_stats *s, void *arg),
               void *arg)
{
	for (struct dest *d = n->dests; d; d = d->next) {
		struct notify_dest_stats s = {
		    .kind = kind_names[d->kind],
		    .name = d->name,
		    .queued = outbox_queue_len(d->q),
		    .delivered = d->delivered,
		    .failed = d->failed,
		    .rejected = d->rejected,
		    .dropped = outbox_queue_dropped(d->q),
		    .consecutive_failures = d->fails,
		    .last_ok_ms = d->last_ok_ms,
		    .last_error = d->last_error,
		};
		cb(&s, arg);
	}
}

void
notify_totals(struct notify *n, struct notify_totals *t)
{
	struct outbox_stats st;

	memset(t, 0, sizeof(*t));
	outbox_get_stats(n->ob, &st);
	t->waiting = st.items;
	t->max = n->cfg->tickets.outbox_max;
	t->dropped_heartbeat = st.dropped[OUTBOX_HEARTBEAT];
	t->dropped_state = st.dropped[OUTBOX_STATE];
	t->dropped_ticket = st.dropped[OUTBOX_TICKET];
	t->write_errors = st.write_errors;
	for (size_t i = 0; i < n->env.engine_id_len && 2 * i + 2 < sizeof(t->engine_id); i++)
		snprintf(t->engine_id + 2 * i, sizeof(t->engine_id) - 2 * i, "%02x",
		         n->env.engine_id[i]);
	t->engine_boots = n->env.engine_boots;
	t->enterprise_oid = enterprise_oid(n->cfg);
}

/* --- configuration check -------------------------------------------------- */

static void report(config_error_cb cb, void *arg, int *nerr, const struct lw_config *cfg, int line,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
report(config_error_cb cb, void *arg, int *nerr, const struct lw_config *cfg, int line,
       const char *fmt, ...)
{
	char msg[768], full[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%d: %s", cfg->file ? cfg->file : "config", line, msg);
	(*nerr)++;
	if (cb)
		cb(full, arg);
}

int
notify_check_config(const struct lw_config *cfg, config_error_cb cb, void *arg)
{
	const struct lw_notify_curl *nc = NULL;
	char why[PATH_MAX + 256];
	oid root[MAX_OID_LEN];
	size_t rootlen;
	void *dl;
	int nerr = 0;

	if (trap_parse_oid(enterprise_oid(cfg), root, &rootlen) != 0)
		report(cb, arg, &nerr, cfg, 1,
		       "enterprise-oid \"%s\" is not a numeric OID "
		       "like " TRAP_DEFAULT_ENTERPRISE,
		       enterprise_oid(cfg));
	for (size_t i = 0; i < cfg->nupstreams; i++) {
		const struct lw_upstream *u = &cfg->upstreams[i];
		char err[512];

		if (u->heartbeat_ms > 0 && u->heartbeat_ms < 1000)
			report(cb, arg, &nerr, cfg, u->line,
			       "upstream \"%s\": heartbeat must be at least 1s", u->name);
		if (u->target == NULL || *u->target == '\0')
			continue; /* config.c said so */
		if (trap_check_target(u->target, err, sizeof(err)) != 0)
			report(cb, arg, &nerr, cfg, u->line, "upstream \"%s\": %s", u->name, err);
	}
	if (!needs_curl(cfg))
		return nerr;
	/* the plugin is loaded here, as probe plugins are, so that -t, start-up
	 * and reload refuse a configuration whose destinations cannot run */
	if ((dl = ncurl_open(cfg, &nc, why, sizeof(why))) == NULL) {
		if (cfg->nwebhooks > 0)
			report(cb, arg, &nerr, cfg, cfg->webhooks[0].line, "webhook \"%s\": %s",
			       cfg->webhooks[0].name, why);
		else
			report(cb, arg, &nerr, cfg, cfg->emails[0].line, "email \"%s\": %s",
			       cfg->emails[0].name, why);
		return nerr;
	}
	for (size_t i = 0; i < cfg->nwebhooks; i++)
		if (cfg->webhooks[i].url && !nc->url_ok(cfg->webhooks[i].url))
			report(cb, arg, &nerr, cfg, cfg->webhooks[i].line,
			       "webhook \"%s\": url is not a valid URL", cfg->webhooks[i].name);
	for (size_t i = 0; i < cfg->nemails; i++)
		if (cfg->emails[i].smtp && !nc->url_ok(cfg->emails[i].smtp))
			report(cb, arg, &nerr, cfg, cfg->emails[i].line,
			       "email \"%s\": smtp is not a valid URL", cfg->emails[i].name);
	dlclose(dl);
	return nerr;
}
