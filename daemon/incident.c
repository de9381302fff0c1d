/* incident.c - evaluate links and devices on every sample, open and follow tickets */
#include <sys/time.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "blame.h"
#include "detect.h"
#include "incident.h"
#include "log.h"
#include "sla.h"
#include "units.h"

#define TICK_MS 1000
#define HEARTBEAT_MS 60000
#define WAIT_MAX_MS 60000 /* a child waits this long for its pending parent */
#define SETTLE_MS 30000   /* after a link comes back up, its other problems wait */
#define STALE_MIN_MS 30000
#define BASELINE_FLOOR_MS 20.0 /* above the baseline by at least this much */
#define BASELINE_DAYS 7
#define BASELINE_MIN_DAYS 3
#define HOUR_VALUES 720 /* latency values kept per probe and hour */
#define HIST_HOURS 192  /* 8 days of hourly medians */
#define HOUR_MS 3600000LL
#define DEVICE_FOR 2
#define DEVICE_CLEAR 2
#define STORAGE_WARN_PCT 90.0
#define STORAGE_CRIT_PCT 98.0
#define SATURATION_CRIT_PCT 98.0
#define UPS_CRIT_MIN 10.0
/* Loss, latency and jitter: each probe is a source of its own (a lossy far
 * target is not hidden by a clean gateway), and every result also feeds one
 * link-wide stream source, so path-wide trouble seen by every probe counts
 * `for` results in a row across them - each result once - instead of `for`
 * runs of one probe. */
#define SRC_STREAM (DETECT_MAX_SOURCES - 1)
#define MAX_PROBES (DETECT_MAX_SOURCES - 1)
#define BLAME_EVERY_MS 60000 /* at most one verdict change a minute per ticket */
#define WHO_MAX 64
#define TEXT_MAX 4000

enum subject { SUBJ_LINK, SUBJ_DEVICE, SUBJ_SITE };
enum hold { HOLD_NONE, HOLD_MAINT, HOLD_SUPPRESSED, HOLD_WAIT };

enum lkind { LK_DOWN, LK_LOSS, LK_LATENCY, LK_JITTER, LK_SATURATION, LK_ERRORS, LK_SERVICE, LK_N };
enum dkind { DK_UNREACHABLE, DK_UPS_BATTERY, DK_BATTERY_LOW, DK_STORAGE, DK_N };

static const char *const lkind_names[LK_N] = {
    "down", "loss", "latency", "jitter", "saturation", "errors", "service",
};
static const char *const dkind_names[DK_N] = {
    "unreachable",
    "ups_battery",
    "battery_low",
    "storage",
};

struct lctx;
struct dctx;

static void link_hops(struct lctx *l);

/* One problem key and everything it has to do with tickets. */
struct pkey {
	char key[200];
	const char *kind;
	enum subject subject;
	struct lctx *link;
	struct dctx *dev;
	struct detect det;
	struct detect_params params;
	struct ticket *ticket; /* its open ticket */
	struct ticket *recent; /* its last resolved ticket (hold-down reopen) */
	int64_t problem_id;    /* open problems row, 0 = none */
	int64_t problem_start_ms;
	enum hold hold;
	char held_into[16]; /* ticket ref a suppressed problem went to */
	int64_t wait_since_ms;
	int64_t released_ms; /* a hold ended: a fresh bad evaluation must follow */
	int64_t last_bad_ms;
	bool manual_closed; /* resolved by hand while the problem went on */
	char detail[256];   /* what is wrong, for titles and events */
	int detail_src;
	double detail_value;
	int64_t detail_ms;
	char blame_candidate[16];
	int blame_seen;
	int64_t blame_changed_ms;
};

struct pview {
	const struct lw_probe *cfg;
	bool have;
	int64_t ts_ms;
	int64_t interval_ms;
	enum lw_status status;
	char message[200];
	bool reach; /* reports a loss figure */
	bool failed;
	bool loss_v, rtt_v, jit_v;
	double loss, rtt, jitter;
	double baseline; /* NaN = none */
	/* latency history for the learned baseline */
	int64_t acc_hour;
	int nacc;
	double acc[HOUR_VALUES];
	struct {
		int64_t hour_ms;
		double median;
	} hist[HIST_HOURS];
};

struct iview {
	bool have;
	int64_t ts_ms;
	int64_t interval_ms;
	char oper[24], admin[24];
	bool util_v, err_v;
	double util_in, util_out, errors_pm;
};

struct dview {
	bool have;
	int64_t ts_ms;
	int64_t interval_ms;
	char state[24];
	char reason[160];
	bool uptime_v;
	double uptime_s;
	int64_t reboot_ms; /* 0 = none seen */
	bool ups_v, low_v, min_v, chg_v, disk_v;
	double on_battery, battery_low, battery_min, charge, disk;
	char disk_name[96];
};

struct lctx {
	const struct lw_link *cfg;
	struct pview *probes;
	size_t nprobes;
	struct iview ifv;
	struct pkey keys[LK_N];
	int nreach;      /* probes that report loss */
	int nearest_hop; /* 0 = no probe has a hop */
	int down_streak; /* failed results since the last success */
	bool down_near;  /* the streak includes the nearest hop */
	bool down_raw_bad;
};

struct dctx {
	const struct lw_device *cfg;
	struct dview dv;
	struct pkey keys[DK_N];
};

struct sub {
	ticket_event_cb cb;
	void *arg;
};

struct incidents {
	struct event_base *base;
	struct lw_bus *bus;
	struct db *db;
	const struct lw_config *cfg;
	struct lctx *links;
	size_t nlinks;
	struct dctx *devs;
	size_t ndevs;
	struct pkey site;
	struct ticket **orphans; /* open tickets without a key (reopened by hand, removed) */
	size_t norphans;
	struct ticket_ids ids;
	struct ticket_sink *sink;
	struct sub *subs;
	size_t nsubs;
	struct event *timer;
	struct ticket_batch *batch; /* changes of the current evaluation */
	int64_t last_heartbeat_ms;
	int64_t prev_alive_ms; /* last heartbeat of the previous run */
	int64_t started_ms;
	incidents_talkers_fn talkers;
	void *talkers_arg;
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int64_t
sample_ms(const struct lw_sample *s)
{
	if (s->ts.tv_sec == 0)
		return now_ms();
	return (int64_t)s->ts.tv_sec * 1000 + s->ts.tv_usec / 1000;
}

static int64_t
stale_ms(int64_t interval_ms)
{
	int64_t s = 3 * interval_ms;

	return s < STALE_MIN_MS ? STALE_MIN_MS : s;
}

static bool
fresh(int64_t ts_ms, int64_t interval_ms, int64_t now)
{
	return ts_ms > 0 && now - ts_ms <= stale_ms(interval_ms);
}

static const char *
fmt_dur(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldmin %llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh %lldmin", (long long)(s / 3600),
		         (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400),
		         (long long)(s % 86400 / 3600));
	return buf;
}

static const char *
local_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0)
		return "unknown";
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static void
copy_safe(char *dst, size_t len, const char *src)
{
	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	log_safe(dst, len, src);
}

static struct ticket_batch *
batch(struct incidents *inc)
{
	if (inc->batch == NULL && (inc->batch = ticket_batch_new()) == NULL)
		log_warnx("incidents: out of memory");
	return inc->batch;
}

static int
flush(struct incidents *inc, void (*committed)(int rc, void *arg), void *arg)
{
	struct ticket_batch *b = inc->batch;

	inc->batch = NULL;
	if (b == NULL || (ticket_batch_empty(b) && committed == NULL)) {
		ticket_batch_free(b);
		return 0;
	}
	return ticket_batch_submit(inc->db, b, inc->sink, committed, arg);
}

static struct lctx *
find_link(struct incidents *inc, const char *name)
{
	for (size_t i = 0; name && i < inc->nlinks; i++)
		if (strcmp(inc->links[i].cfg->name, name) == 0)
			return &inc->links[i];
	return NULL;
}

static struct dctx *
find_dev(struct incidents *inc, const char *name)
{
	for (size_t i = 0; name && i < inc->ndevs; i++)
		if (strcmp(inc->devs[i].cfg->name, name) == 0)
			return &inc->devs[i];
	return NULL;
}

/* Every key, for walks that do not care about subjects. */
static void
foreach_key(struct incidents *inc, void (*fn)(struct incidents *, struct pkey *, void *), void *arg)
{
	for (size_t i = 0; i < inc->nlinks; i++)
		for (int k = 0; k < LK_N; k++)
			fn(inc, &inc->links[i].keys[k], arg);
	for (size_t i = 0; i < inc->ndevs; i++)
		for (int k = 0; k < DK_N; k++)
			fn(inc, &inc->devs[i].keys[k], arg);
	fn(inc, &inc->site, arg);
}

struct find_key_arg {
	const char *key;
	int64_t ticket_id;
	struct pkey *found;
};

static void
find_key_cb(struct incidents *inc, struct pkey *k, void *arg)
{
	struct find_key_arg *a = arg;

	if (a->found != NULL)
		return;
	if (a->key && strcmp(k->key, a->key) == 0)
		a->found = k;
	else if (a->ticket_id > 0 && ((k->ticket && k->ticket->id == a->ticket_id) ||
	                              (k->recent && k->recent->id == a->ticket_id)))
		a->found = k;
}

static struct pkey *
find_key(struct incidents *inc, const char *key)
{
	struct find_key_arg a = {.key = key};

	foreach_key(inc, find_key_cb, &a);
	return a.found;
}

static struct pkey *
find_key_of_ticket(struct incidents *inc, int64_t id)
{
	struct find_key_arg a = {.ticket_id = id};

	foreach_key(inc, find_key_cb, &a);
	return a.found;
}

/* ---- metrics snapshots (JSON text for timeline events) ------------------- */

static json_t *
num(bool valid, double v)
{
	return valid && !isnan(v) ? json_real(round(v * 100) / 100) : json_null();
}

static void
link_worst(struct lctx *l, int64_t now, struct incident_link_status *st)
{
	for (size_t i = 0; i < l->nprobes; i++) {
		struct pview *p = &l->probes[i];

		if (!p->have || !fresh(p->ts_ms, p->interval_ms, now))
			continue;
		if (p->loss_v && (!st->loss_valid || p->loss > st->loss_pct)) {
			st->loss_valid = true;
			st->loss_pct = p->loss;
		}
		if (p->rtt_v && (!st->latency_valid || p->rtt > st->latency_ms)) {
			st->latency_valid = true;
			st->latency_ms = p->rtt;
		}
		if (p->jit_v && (!st->jitter_valid || p->jitter > st->jitter_ms)) {
			st->jitter_valid = true;
			st->jitter_ms = p->jitter;
		}
	}
	if (l->ifv.have && fresh(l->ifv.ts_ms, l->ifv.interval_ms, now)) {
		st->util_valid = l->ifv.util_v;
		st->util_in_pct = l->ifv.util_in;
		st->util_out_pct = l->ifv.util_out;
		st->errors_valid = l->ifv.err_v;
		st->errors_per_min = l->ifv.errors_pm;
	}
}

static char *
link_metrics(struct lctx *l, int64_t now)
{
	struct incident_link_status w = {0};
	json_t *o, *probes = json_array();
	char *s;

	link_worst(l, now, &w);
	for (size_t i = 0; probes && i < l->nprobes; i++) {
		struct pview *p = &l->probes[i];
		json_t *po;

		if (!p->have)
			continue;
		po = json_pack(
		    "{s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:I}", "name", p->cfg->name, "hop",
		    config_hop_name(p->cfg->hop) ? json_string(config_hop_name(p->cfg->hop))
		                                 : json_null(),
		    "status", lw_status_name(p->status), "message", p->message, "loss",
		    num(p->loss_v, p->loss), "latency", num(p->rtt_v, p->rtt), "jitter",
		    num(p->jit_v, p->jitter), "age_s", (json_int_t)((now - p->ts_ms) / 1000));
		if (po)
			json_array_append_new(probes, po);
	}
	o = json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "loss", num(w.loss_valid, w.loss_pct), "latency",
	    num(w.latency_valid, w.latency_ms), "jitter", num(w.jitter_valid, w.jitter_ms),
	    "utilization_in", num(w.util_valid, w.util_in_pct), "utilization_out",
	    num(w.util_valid, w.util_out_pct), "errors_per_min",
	    num(w.errors_valid, w.errors_per_min), "probes", probes ? probes : json_array());
	if (o == NULL)
		return NULL;
	if (l->ifv.have)
		json_object_set_new(o, "interface",
		                    json_pack("{s:s, s:s, s:s}", "name",
		                              l->cfg->interface ? l->cfg->interface : "", "oper",
		                              l->ifv.oper, "admin", l->ifv.admin));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static char *
device_metrics(struct dctx *d)
{
	struct dview *v = &d->dv;
	json_t *o =
	    json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "device", d->cfg->name,
	              "state", v->state, "uptime_s", num(v->uptime_v, v->uptime_s),
	              "ups_on_battery", num(v->ups_v, v->on_battery), "battery_low",
	              num(v->low_v, v->battery_low), "battery_minutes",
	              num(v->min_v, v->battery_min), "battery_charge_pct", num(v->chg_v, v->charge),
	              "disk_used_pct", num(v->disk_v, v->disk), "reason", json_string(v->reason));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

static char *
site_metrics(struct incidents *inc)
{
	json_t *o = json_object(), *links = json_array();
	char *s;

	for (size_t i = 0; links && i < inc->nlinks; i++) {
		struct lctx *l = &inc->links[i];

		json_array_append_new(links,
		                      json_pack("{s:s, s:b}", "name", l->cfg->name, "down",
		                                l->keys[LK_DOWN].det.state == DETECT_PROBLEM));
	}
	json_object_set_new(o, "links", links ? links : json_array());
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static char *
key_metrics(struct incidents *inc, struct pkey *k, int64_t now)
{
	switch (k->subject) {
	case SUBJ_LINK:
		return link_metrics(k->link, now);
	case SUBJ_DEVICE:
		return device_metrics(k->dev);
	default:
		return site_metrics(inc);
	}
}

/* ---- blame and titles --------------------------------------------------- */

static bool
probe_bad(const struct lw_degraded *dg, const struct pview *p)
{
	if (p->failed)
		return true;
	if (p->loss_v && p->loss > dg->loss_pct)
		return true;
	if (p->rtt_v && dg->latency_ms > 0 && p->rtt > dg->latency_ms)
		return true;
	if (!isnan(p->baseline) && p->rtt_v &&
	    detect_latency_bad(p->rtt, 0, p->baseline, dg->baseline_factor, BASELINE_FLOOR_MS))
		return true;
	if (p->jit_v && dg->jitter_ms > 0 && p->jitter > dg->jitter_ms)
		return true;
	return !p->reach && p->status == LW_CRITICAL;
}

/* "198.18.3.2 (62%), 198.18.3.9 (20%)" from the captures of the link over
 * the last five minutes; NULL when there is nothing to say. */
static char *
talkers_text(struct incidents *inc, const char *link, int64_t now)
{
	json_t *j =
	    inc->talkers(link, (time_t)(now / 1000 - 300), (time_t)(now / 1000), inc->talkers_arg);
	char buf[BLAME_REASON_LEN] = "";
	size_t n = 0;
	const char *cap;
	json_t *c;

	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	json_object_foreach(j, cap, c)
	{
		json_t *hosts = json_object_get(c, "hosts"), *h;
		double total =
		    json_number_value(json_object_get(json_object_get(c, "totals"), "bytes"));
		size_t i;

		json_array_foreach(hosts, i, h)
		{
			const char *addr = json_string_value(json_object_get(h, "address"));
			double bytes = json_number_value(json_object_get(h, "bytes"));
			char safe[64];

			if (addr == NULL || i >= 3 || n >= sizeof(buf))
				continue;
			log_safe(safe, sizeof(safe), addr);
			if (total > 0)
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s (%.0f%%)",
				                      n ? ", " : "", safe, 100.0 * bytes / total);
			else
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
				                      n ? ", " : "", safe);
		}
	}
	json_decref(j);
	return buf[0] ? strdup(buf) : NULL;
}

/* A router reboot is evidence for a problem that began around it. */
#define REBOOT_BEFORE_MS 300000

static void
link_blame(struct incidents *inc, struct lctx *l, int64_t since_ms, int64_t now, bool talkers_too,
           struct blame *b)
{
	struct blame_probe bp[DETECT_MAX_SOURCES];
	struct blame_input in = {.reboot_age_s = -1};
	struct dctx *d = find_dev(inc, l->cfg->device);
	const struct lw_degraded *dg = &l->cfg->degraded;
	char *talkers = NULL;
	size_t n = 0;

	if (d != NULL) {
		in.device = d->cfg->name;
		in.device_known =
		    d->dv.have && fresh(d->dv.ts_ms, d->dv.interval_ms, now) &&
		    (strcmp(d->dv.state, "ok") == 0 || strcmp(d->dv.state, "unreachable") == 0);
		in.device_reachable = strcmp(d->dv.state, "unreachable") != 0;
		if (d->dv.reboot_ms > 0 && d->dv.reboot_ms >= since_ms - REBOOT_BEFORE_MS)
			in.reboot_age_s = (now - d->dv.reboot_ms) / 1000;
	}
	in.interface = l->cfg->interface;
	if (l->ifv.have && fresh(l->ifv.ts_ms, l->ifv.interval_ms, now)) {
		in.iface_known = true;
		in.oper_down =
		    strcmp(l->ifv.oper, "up") != 0 && strcmp(l->ifv.oper, "unknown") != 0;
		in.admin_down = strcmp(l->ifv.admin, "down") == 0;
		in.util_valid = l->ifv.util_v;
		in.util_pct = l->ifv.util_in > l->ifv.util_out ? l->ifv.util_in : l->ifv.util_out;
		in.util_outbound = l->ifv.util_out > l->ifv.util_in;
		in.errors_valid = l->ifv.err_v;
		in.errors_per_min = l->ifv.errors_pm;
	}
	in.bandwidth_bps = (double)l->cfg->bandwidth_bps;
	in.util_threshold_pct = dg->utilization_pct;
	in.errors_threshold = dg->errors_per_min;
	for (size_t i = 0; i < l->nprobes && n < DETECT_MAX_SOURCES; i++) {
		struct pview *p = &l->probes[i];

		bp[n++] = (struct blame_probe){
		    .name = p->cfg->name,
		    .target = p->cfg->target,
		    .hop = p->cfg->hop,
		    .fresh = p->have && fresh(p->ts_ms, p->interval_ms, now),
		    .failed = p->failed,
		    .loss_valid = p->loss_v,
		    .loss_pct = p->loss,
		    .latency_valid = p->rtt_v,
		    .latency_ms = p->rtt,
		    .jitter_valid = p->jit_v,
		    .jitter_ms = p->jitter,
		    .bad = probe_bad(dg, p),
		};
	}
	in.probes = bp;
	in.nprobes = n;
	if (talkers_too && inc->talkers && in.util_valid && in.util_pct >= in.util_threshold_pct)
		talkers = talkers_text(inc, l->cfg->name, now);
	in.top_talkers = talkers;
	blame_evaluate(&in, b);
	free(talkers);
}

static char *
reasons_json(const struct blame *b)
{
	json_t *a = json_array();
	char *s;

	for (int i = 0; a && i < b->nreasons; i++) {
		json_t *r = json_string(b->reasons[i]);
		json_array_append_new(a, r ? r : json_string("?"));
	}
	s = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return s;
}

static void
make_title(struct incidents *inc, struct pkey *k, const struct ticket *t, char *buf, size_t len)
{
	char what[300];
	const char *phrase = t && t->blame ? blame_phrase(blame_parse(t->blame)) : "";

	if (k->subject == SUBJ_LINK && k->det.flapping && k->kind == lkind_names[LK_DOWN]) {
		char win[32];
		int n = detect_flaps(&k->det, &k->params, now_ms());

		snprintf(what, sizeof(what), "flapping (%d up/down changes within %s)",
		         n > k->params.flap_count ? n : k->params.flap_count,
		         units_fmt_duration(k->params.flap_window_ms, win, sizeof(win)));
	} else
		snprintf(what, sizeof(what), "%s%s", k->det.flapping ? "flapping: " : "",
		         k->detail[0] ? k->detail : k->kind);
	if (k->subject == SUBJ_LINK) {
		const struct lw_link *c = k->link->cfg;
		char who[200] = "";

		if (c->provider && c->provider[0] && c->circuit && c->circuit[0])
			snprintf(who, sizeof(who), " (%s, circuit %s)", c->provider, c->circuit);
		else if (c->provider && c->provider[0])
			snprintf(who, sizeof(who), " (%s)", c->provider);
		else if (c->circuit && c->circuit[0])
			snprintf(who, sizeof(who), " (circuit %s)", c->circuit);
		snprintf(buf, len, "%s %s%s: %s%s%s",
		         c->provider && c->provider[0] ? "ISP link" : "Link", c->name, who, what,
		         phrase[0] ? "; fault: " : "", phrase);
	} else if (k->subject == SUBJ_DEVICE)
		snprintf(buf, len, "Device %s (%s): %s", k->dev->cfg->name,
		         k->dev->cfg->address ? k->dev->cfg->address : "?", what);
	else
		snprintf(buf, len, "linewatch at %s has no working path: %s", inc->cfg->site, what);
}

/* ---- timeline ------------------------------------------------------------ */

static void event(struct incidents *inc, struct pkey *k, struct ticket *t, int64_t at,
                  const char *type, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void
event(struct incidents *inc, struct pkey *k, struct ticket *t, int64_t at, const char *type,
      const char *who, const char *fmt, ...)
{
	struct ticket_batch *b = batch(inc);
	char text[1200];
	char *metrics = k ? key_metrics(inc, k, at) : NULL;
	va_list ap;

	if (b == NULL) {
		free(metrics);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	t->updated_ms = at;
	ticket_batch_ticket(b, t);
	ticket_batch_event(b, t, ++inc->ids.event, at, type, who, text, metrics);
	free(metrics);
}

static void
problem_row(struct incidents *inc, struct pkey *k, int64_t end_ms, const char *note)
{
	struct ticket_batch *b = batch(inc);
	const char *held = k->hold == HOLD_MAINT        ? "maintenance"
	                   : k->hold == HOLD_SUPPRESSED ? "suppressed"
	                                                : NULL;
	int64_t tid = k->ticket ? k->ticket->id : 0;
	const char *name = k->subject == SUBJ_LINK     ? k->link->cfg->name
	                   : k->subject == SUBJ_DEVICE ? k->dev->cfg->name
	                                               : inc->cfg->site;

	if (b == NULL || k->problem_id == 0)
		return;
	if (k->hold == HOLD_SUPPRESSED && tid == 0) {
		int64_t id = ticket_ref_id(k->held_into);
		tid = id > 0 ? id : 0;
	}
	ticket_batch_problem(b, k->problem_id, k->key,
	                     k->subject == SUBJ_LINK     ? "link"
	                     : k->subject == SUBJ_DEVICE ? "device"
	                                                 : "site",
	                     name, k->subject == SUBJ_LINK ? k->link->cfg->name : NULL, k->kind,
	                     k->det.severity, k->problem_start_ms, end_ms, tid, held, note);
}

static void
set_due(struct incidents *inc, struct ticket *t)
{
	const struct lw_sla_target *tg =
	    t->severity == LW_CRITICAL ? &inc->cfg->tickets.critical : &inc->cfg->tickets.warning;
	int64_t resp = t->opened_ms + tg->response_ms, res = t->opened_ms + tg->resolution_ms;

	/* a rising severity tightens the targets, a falling one keeps them */
	if (t->response_due_ms <= 0 || resp < t->response_due_ms)
		t->response_due_ms = resp;
	if (t->resolution_due_ms <= 0 || res < t->resolution_due_ms)
		t->resolution_due_ms = res;
}

static void
update_blame(struct incidents *inc, struct pkey *k, struct ticket *t, int64_t now, bool force)
{
	struct blame b;
	const char *v;
	char *reasons, title[512], joined[1000] = "";
	size_t n = 0;

	if (k->subject != SUBJ_LINK)
		return;
	link_blame(inc, k->link, k->problem_start_ms, now, force, &b);
	v = blame_name(b.verdict);
	if (!force) {
		if (t->blame && strcmp(t->blame, v) == 0) {
			k->blame_seen = 0;
			return;
		}
		/* a new verdict must hold for two evaluations */
		if (strcmp(k->blame_candidate, v) != 0) {
			snprintf(k->blame_candidate, sizeof(k->blame_candidate), "%s", v);
			k->blame_seen = 1;
			return;
		}
		if (++k->blame_seen < 2 || now - k->blame_changed_ms < BLAME_EVERY_MS)
			return;
	}
	k->blame_changed_ms = now;
	k->blame_seen = 0;
	k->blame_candidate[0] = '\0';
	if (!force && b.verdict == BLAME_LAN)
		link_blame(inc, k->link, k->problem_start_ms, now, true, &b); /* with talkers */
	reasons = reasons_json(&b);
	ticket_set_str(&t->blame, v);
	ticket_set_str(&t->blame_reasons, reasons);
	free(reasons);
	for (int i = 0; i < b.nreasons && n < sizeof(joined); i++)
		n += (size_t)snprintf(joined + n, sizeof(joined) - n, "%s%s", i ? "; " : "",
		                      b.reasons[i]);
	make_title(inc, k, t, title, sizeof(title));
	ticket_set_str(&t->title, title);
	if (!force)
		event(inc, k, t, now, "blame", NULL, "fault now points to %s: %s", v, joined);
}

/* ---- opening, reopening, resolving -------------------------------------- */

static const char *
subject_name(struct incidents *inc, struct pkey *k)
{
	return k->subject == SUBJ_LINK     ? k->link->cfg->name
	       : k->subject == SUBJ_DEVICE ? k->dev->cfg->name
	                                   : inc->cfg->site;
}

static struct ticket *
new_ticket(struct incidents *inc, struct pkey *k, int64_t now)
{
	struct ticket *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		log_warnx("incidents: out of memory opening a ticket for %s", k->key);
		return NULL;
	}
	t->id = ++inc->ids.ticket;
	ticket_ref(t->id, t->ref, sizeof(t->ref));
	ticket_set_str(&t->key, k->key);
	ticket_set_str(&t->subject, k->subject == SUBJ_LINK     ? "link"
	                            : k->subject == SUBJ_DEVICE ? "device"
	                                                        : "site");
	ticket_set_str(&t->name, subject_name(inc, k));
	ticket_set_str(&t->kind, k->kind);
	if (k->subject == SUBJ_LINK) {
		const struct lw_link *c = k->link->cfg;

		ticket_set_str(&t->link, c->name);
		ticket_set_str(&t->device, c->device);
		ticket_set_str(&t->provider, c->provider && c->provider[0] ? c->provider : NULL);
		ticket_set_str(&t->circuit, c->circuit && c->circuit[0] ? c->circuit : NULL);
		ticket_set_str(&t->support, c->support && c->support[0] ? c->support : NULL);
	} else if (k->subject == SUBJ_DEVICE)
		ticket_set_str(&t->device, k->dev->cfg->name);
	t->severity = k->det.severity;
	t->state = TICKET_OPEN;
	t->flapping = k->det.flapping;
	t->problem_since_ms = k->problem_start_ms ? k->problem_start_ms : now;
	t->opened_ms = now;
	set_due(inc, t);
	return t;
}

static void
open_ticket(struct incidents *inc, struct pkey *k, int64_t now)
{
	struct ticket *t;
	char title[512], dur[48];
	bool reopen = k->recent && k->recent->resolved_ms > 0 &&
	              now - k->recent->resolved_ms <= k->params.holddown_ms;

	int64_t was_resolved = reopen ? k->recent->resolved_ms : 0;

	if (reopen) {
		t = k->recent;
		k->recent = NULL;
		t->state = TICKET_OPEN;
		t->resolved_ms = 0;
		ticket_set_str(&t->resolved_by, NULL);
		ticket_set_str(&t->resolution, NULL);
		t->acked_ms = 0;
		ticket_set_str(&t->acked_by, NULL);
		t->reopened++;
		t->severity = k->det.severity;
		t->flapping = t->flapping || k->det.flapping;
		set_due(inc, t);
	} else {
		if ((t = new_ticket(inc, k, now)) == NULL)
			return;
		ticket_free(k->recent);
		k->recent = NULL;
	}
	k->ticket = t;
	k->hold = HOLD_NONE;
	k->wait_since_ms = 0;
	k->released_ms = 0;
	update_blame(inc, k, t, now, true);
	make_title(inc, k, t, title, sizeof(title));
	ticket_set_str(&t->title, title);
	if (reopen) {
		event(inc, k, t, now, "reopened", NULL,
		      "the problem came back %s after it cleared: %s",
		      fmt_dur(now - was_resolved, dur, sizeof(dur)), k->detail);
		log_warnx("ticket %s reopened: %s", t->ref, title);
	} else {
		event(inc, k, t, now, "opened", NULL, "%s%s%s", k->detail,
		      t->blame && strcmp(t->blame, "unknown") != 0 ? "; fault: " : "",
		      t->blame && strcmp(t->blame, "unknown") != 0 ? t->blame : "");
		log_warnx("ticket %s opened: %s", t->ref, title);
	}
	problem_row(inc, k, 0, NULL);
}

static void
resolve_ticket(struct incidents *inc, struct pkey *k, int64_t now, const struct detect_result *r)
{
	struct ticket *t = k->ticket;
	char dur[48], a[32], b[32], note[400];

	if (t == NULL)
		return;
	if (r->after_restart)
		snprintf(note, sizeof(note),
		         "recovered while linewatchd was not running (last seen "
		         "running %s, restarted %s)",
		         local_time(inc->prev_alive_ms, a, sizeof(a)),
		         local_time(inc->started_ms, b, sizeof(b)));
	else
		snprintf(note, sizeof(note),
		         "recovered after %d good evaluations in a row; the "
		         "problem lasted %s",
		         k->params.clear_n, fmt_dur(now - t->problem_since_ms, dur, sizeof(dur)));
	event(inc, k, t, now, "recovered", NULL, "%s", note);
	t->state = TICKET_RESOLVED;
	t->resolved_ms = now;
	ticket_set_str(&t->resolved_by, "linewatchd");
	ticket_set_str(&t->resolution, note);
	event(inc, k, t, now, "resolved", NULL, "resolved automatically: %s", note);
	log_info("ticket %s resolved: %s", t->ref, note);
	ticket_free(k->recent);
	k->recent = t;
	k->ticket = NULL;
}

/* ---- holds: maintenance, suppression, waiting ---------------------------- */

static bool
in_maintenance(struct incidents *inc, const char *a, const char *b, int64_t now)
{
	for (size_t i = 0; i < inc->cfg->nmaintenances; i++) {
		const struct lw_maintenance *m = &inc->cfg->maintenances[i];

		if ((sla_maint_covers(m, a) || sla_maint_covers(m, b)) &&
		    sla_maint_active(m, now / 1000))
			return true;
	}
	return false;
}

static bool
key_in_maintenance(struct incidents *inc, struct pkey *k, int64_t now)
{
	if (k->subject == SUBJ_LINK)
		return in_maintenance(inc, k->link->cfg->name, k->link->cfg->device, now);
	if (k->subject == SUBJ_DEVICE)
		return in_maintenance(inc, k->dev->cfg->name, NULL, now);
	return false;
}

static struct ticket *
find_open_ref(struct incidents *inc, const char *ref)
{
	int64_t id = ticket_ref_id(ref);
	struct pkey *k = id > 0 ? find_key_of_ticket(inc, id) : NULL;

	return k && k->ticket && k->ticket->id == id ? k->ticket : NULL;
}

/* The ticket a problem of this subject would be suppressed into: the
 * dominant key's ticket first, then any open ticket of the subject. */
static struct ticket *
subject_ticket(struct pkey *keys, int n, int dominant, struct incidents *inc)
{
	struct pkey *d = &keys[dominant];

	if (d->ticket)
		return d->ticket;
	if (d->det.state == DETECT_PROBLEM && d->hold == HOLD_SUPPRESSED)
		return find_open_ref(inc, d->held_into);
	for (int i = 0; i < n; i++)
		if (keys[i].ticket)
			return keys[i].ticket;
	return NULL;
}

static const char *
parent_of(struct incidents *inc, const char *name, bool is_link)
{
	if (is_link) {
		struct lctx *l = find_link(inc, name);
		return l ? l->cfg->parent : NULL;
	}
	struct dctx *d = find_dev(inc, name);
	return d ? d->cfg->parent : NULL;
}

/* Walk up from `parent`: the first ancestor with an open ticket wins;
 * *pending says an ancestor's dominant problem is still pending. */
static struct ticket *
ancestor_ticket(struct incidents *inc, const char *parent, bool *pending)
{
	for (int depth = 0; parent != NULL && depth < 16; depth++) {
		struct lctx *l = find_link(inc, parent);
		struct dctx *d = l ? NULL : find_dev(inc, parent);
		struct ticket *t = NULL;

		if (l != NULL) {
			t = subject_ticket(l->keys, LK_N, LK_DOWN, inc);
			if (l->keys[LK_DOWN].det.state == DETECT_PENDING)
				*pending = true;
		} else if (d != NULL) {
			t = subject_ticket(d->keys, DK_N, DK_UNREACHABLE, inc);
			if (d->keys[DK_UNREACHABLE].det.state == DETECT_PENDING)
				*pending = true;
		} else
			return NULL;
		if (t != NULL)
			return t;
		parent = parent_of(inc, parent, l != NULL);
	}
	return NULL;
}

/* The subject's down/up state changed within SETTLE_MS: a recovery, or an
 * interface flap that never became a problem. */
static bool
recently_changed(const struct detect *d, int64_t now)
{
	int last = (d->flap_head - 1 + DETECT_MAX_FLAPS) % DETECT_MAX_FLAPS;

	if (d->last_recovered_ms > 0 && now - d->last_recovered_ms < SETTLE_MS)
		return true;
	return d->nflaps > 0 && now - d->flaps[last] < SETTLE_MS;
}

static enum hold
compute_hold(struct incidents *inc, struct pkey *k, int64_t now, struct ticket **into)
{
	struct pkey *dom = NULL;
	const char *parent = NULL;
	bool pending = false;

	*into = NULL;
	if (key_in_maintenance(inc, k, now))
		return HOLD_MAINT;
	if (k->subject == SUBJ_LINK) {
		dom = &k->link->keys[LK_DOWN];
		parent = k->link->cfg->parent;
	} else if (k->subject == SUBJ_DEVICE) {
		dom = &k->dev->keys[DK_UNREACHABLE];
		parent = k->dev->cfg->parent;
	}
	if (dom != NULL && dom != k) {
		/* A flapping link's ticket stays open through its up phases: the
		 * loss and jitter its flaps cause belong to it, not to new tickets. */
		if (dom->ticket != NULL && dom->ticket->flapping) {
			*into = dom->ticket;
			return HOLD_SUPPRESSED;
		}
		/* Just after the line came back (ARP, routes, queues), loss and
		 * jitter are the outage's tail: held into the down ticket, or
		 * waited out for a while when there is none. */
		if (recently_changed(&dom->det, now)) {
			if (dom->ticket != NULL) {
				*into = dom->ticket;
				return HOLD_SUPPRESSED;
			}
			pending = true;
		}
		if (dom->det.state == DETECT_PROBLEM) {
			if (dom->ticket) {
				*into = dom->ticket;
				return HOLD_SUPPRESSED;
			}
			if (dom->hold == HOLD_SUPPRESSED &&
			    (*into = find_open_ref(inc, dom->held_into)) != NULL)
				return HOLD_SUPPRESSED;
			if (dom->hold == HOLD_MAINT || dom->hold == HOLD_WAIT)
				return dom->hold;
		} else if (dom->det.state == DETECT_PENDING)
			pending = true;
	}
	if ((*into = ancestor_ticket(inc, parent, &pending)) != NULL)
		return HOLD_SUPPRESSED;
	if (pending) {
		if (k->wait_since_ms == 0)
			k->wait_since_ms = now;
		if (now - k->wait_since_ms < WAIT_MAX_MS)
			return HOLD_WAIT;
	}
	return HOLD_NONE;
}

static void
try_ticket(struct incidents *inc, struct pkey *k, int64_t now)
{
	struct ticket *into;
	enum hold h;

	if (k->det.state != DETECT_PROBLEM || k->ticket != NULL || k->manual_closed)
		return;
	h = compute_hold(inc, k, now, &into);
	switch (h) {
	case HOLD_MAINT:
		if (k->hold != HOLD_MAINT) {
			k->hold = HOLD_MAINT;
			log_info("%s: %s during maintenance: recorded, no ticket", k->key,
			         k->detail);
			problem_row(inc, k, 0, "during maintenance");
		}
		return;
	case HOLD_SUPPRESSED:
		if (k->hold != HOLD_SUPPRESSED || strcmp(k->held_into, into->ref) != 0) {
			k->hold = HOLD_SUPPRESSED;
			snprintf(k->held_into, sizeof(k->held_into), "%s", into->ref);
			event(inc, k, into, now, "suppressed", NULL, "suppressed: %s of %s %s: %s",
			      k->kind, k->subject == SUBJ_LINK ? "link" : "device",
			      subject_name(inc, k), k->detail);
			log_info("%s: %s: suppressed into %s", k->key, k->detail, into->ref);
			problem_row(inc, k, 0, NULL);
		}
		return;
	case HOLD_WAIT:
		k->hold = HOLD_WAIT;
		return;
	case HOLD_NONE:
		/* Out of maintenance or from under a parent's ticket: only a problem
		 * still seen after that deserves its own ticket, not one that was
		 * about to clear with its parent. */
		if (k->hold == HOLD_MAINT || k->hold == HOLD_SUPPRESSED) {
			k->hold = HOLD_NONE;
			k->released_ms = now;
		}
		if (k->released_ms && k->last_bad_ms <= k->released_ms)
			return;
		open_ticket(inc, k, now);
		return;
	}
}

/* ---- state machine events ----------------------------------------------- */

static void
handle(struct incidents *inc, struct pkey *k, const struct detect_result *r, int64_t now)
{
	struct ticket *t;
	char title[512];

	if (r->events & (DETECT_EV_OPEN | DETECT_EV_REOPEN)) {
		k->problem_id = ++inc->ids.problem;
		k->problem_start_ms = r->since_ms ? r->since_ms : now;
		k->manual_closed = false;
		k->hold = HOLD_NONE;
		k->wait_since_ms = 0;
		if (k->ticket == NULL) {
			problem_row(inc, k, 0, NULL);
			try_ticket(inc, k, now);
		} else {
			/* reopened by hand earlier: this problem continues it */
			event(inc, k, k->ticket, now, "note", NULL, "problem detected: %s",
			      k->detail);
			problem_row(inc, k, 0, NULL);
		}
	}
	t = k->ticket;
	if ((r->events & DETECT_EV_FLAPPING) && t != NULL) {
		t->flapping = true;
		make_title(inc, k, t, title, sizeof(title));
		ticket_set_str(&t->title, title);
		if (!(r->events & (DETECT_EV_OPEN | DETECT_EV_REOPEN))) {
			char win[32];

			event(inc, k, t, now, "flapping", NULL,
			      "flapping: %d state changes within %s", r->flaps,
			      units_fmt_duration(k->params.flap_window_ms, win, sizeof(win)));
		}
	}
	if ((r->events & DETECT_EV_SEVERITY) && t != NULL) {
		t->severity = r->severity;
		set_due(inc, t);
		make_title(inc, k, t, title, sizeof(title));
		ticket_set_str(&t->title, title);
		event(inc, k, t, now, "severity", NULL, "severity %s (was %s): %s",
		      ticket_severity_name(r->severity), ticket_severity_name(r->prev_severity),
		      k->detail);
		problem_row(inc, k, 0, NULL);
	}
	if ((r->events & DETECT_EV_CONFIRMED) && t != NULL)
		event(inc, k, t, now, "restarted", NULL,
		      "linewatchd restarted and the problem is "
		      "still present: %s",
		      k->detail);
	if (r->events & DETECT_EV_RECOVERED) {
		problem_row(inc, k, now,
		            r->after_restart ? "recovered while linewatchd was not "
		                               "running"
		                             : NULL);
		resolve_ticket(inc, k, now, r);
		k->problem_id = 0;
		k->hold = HOLD_NONE;
		k->held_into[0] = '\0';
		k->manual_closed = false;
		k->wait_since_ms = 0;
		k->released_ms = 0;
		k->detail[0] = '\0';
		k->detail_value = 0;
	}
}

static void set_detail(struct pkey *k, int src, double value, int64_t now, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
set_detail(struct pkey *k, int src, double value, int64_t now, const char *fmt, ...)
{
	va_list ap;

	/* keep the worst recent description: another source's milder one waits */
	if (k->detail[0] && src != k->detail_src && value < k->detail_value &&
	    now - k->detail_ms < STALE_MIN_MS)
		return;
	va_start(ap, fmt);
	vsnprintf(k->detail, sizeof(k->detail), fmt, ap);
	va_end(ap);
	k->detail_src = src;
	k->detail_value = value;
	k->detail_ms = now;
}

static void
step(struct incidents *inc, struct pkey *k, int src, bool bad, enum lw_status sev, bool edge,
     int64_t stale, int64_t now)
{
	struct detect_input in = {
	    .source = src,
	    .bad = bad,
	    .severity = sev,
	    .edge = edge,
	    .stale_ms = stale,
	};
	struct detect_result r;

	if (bad)
		k->last_bad_ms = now;
	if (detect_step(&k->det, &k->params, &in, now, &r) != 0)
		handle(inc, k, &r, now);
}

static void
edge_only(struct incidents *inc, struct pkey *k, int64_t now)
{
	struct detect_result r;

	if (detect_edge(&k->det, &k->params, now, &r) != 0) {
		if (!k->detail[0])
			snprintf(k->detail, sizeof(k->detail), "the interface goes up and down");
		handle(inc, k, &r, now);
	}
}

/* ---- links: probes -------------------------------------------------------- */

static double
metric(const struct lw_sample *s, const char *name, bool *valid)
{
	const struct lw_metric *m = sample_metric(s, name);

	*valid = m != NULL && m->valid && !isnan(m->value);
	return *valid ? m->value : NAN;
}

static int
hour_slot(int64_t hour_ms)
{
	return (int)((hour_ms / HOUR_MS) % HIST_HOURS);
}

static void
hist_put(struct pview *p, int64_t hour_ms, double median)
{
	int i = hour_slot(hour_ms);

	p->hist[i].hour_ms = hour_ms;
	p->hist[i].median = median;
}

static double
baseline_for(const struct pview *p, int64_t now)
{
	int64_t hour = now - now % HOUR_MS;
	double v[BASELINE_DAYS];

	for (int d = 0; d < BASELINE_DAYS; d++) {
		int64_t h = hour - (int64_t)(d + 1) * 24 * HOUR_MS;
		int i = hour_slot(h);

		v[d] = p->hist[i].hour_ms == h ? p->hist[i].median : NAN;
	}
	return detect_baseline(v, BASELINE_DAYS, BASELINE_MIN_DAYS);
}

/* Close the hour of latency values: its median becomes history. */
static void
roll_hour(struct incidents *inc, struct lctx *l, struct pview *p)
{
	struct ticket_batch *b;
	double m;
	int n = p->nacc;

	if (n == 0)
		return;
	m = detect_median(p->acc, (size_t)n);
	hist_put(p, p->acc_hour, m);
	if ((b = batch(inc)) != NULL)
		ticket_batch_latency(b, l->cfg->name, p->cfg->name, p->acc_hour, m, n);
	p->nacc = 0;
}

static void
learn_latency(struct incidents *inc, struct lctx *l, struct pview *p, int64_t now)
{
	int64_t hour = now - now % HOUR_MS;

	if (p->acc_hour != hour) {
		roll_hour(inc, l, p);
		p->acc_hour = hour;
		p->baseline = baseline_for(p, now);
	}
	if (p->rtt_v && p->nacc < HOUR_VALUES)
		p->acc[p->nacc++] = p->rtt;
}

static void
update_probe(struct pview *p, const struct lw_sample *s, int64_t now)
{
	bool v;
	double med;

	p->have = true;
	p->ts_ms = now;
	p->interval_ms = s->interval_ms > 0 ? s->interval_ms : p->cfg->interval_ms;
	p->status = s->status;
	copy_safe(p->message, sizeof(p->message), s->message);
	p->reach = sample_metric(s, "loss") != NULL;
	p->loss = metric(s, "loss", &p->loss_v);
	med = metric(s, "rtt_median", &v);
	if (v) {
		p->rtt = med;
		p->rtt_v = true;
	} else
		p->rtt = metric(s, "rtt_avg", &p->rtt_v);
	p->jitter = metric(s, "jitter", &p->jit_v);
	if (p->reach)
		p->failed =
		    (p->loss_v && p->loss >= 100) || (!p->loss_v && s->status == LW_CRITICAL);
	else
		p->failed = s->status == LW_CRITICAL;
}

static void
failing_list(struct lctx *l, int64_t now, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->nprobes && n < len; i++) {
		struct pview *p = &l->probes[i];

		if (p->have && p->failed && fresh(p->ts_ms, p->interval_ms, now) &&
		    (p->reach || l->nreach == 0))
			n += (size_t)snprintf(buf + n, len - n, "%s%s %s", n ? ", " : "",
			                      p->cfg->name, p->cfg->target);
	}
}

/* The link-wide down verdict from one probe result: a run of failures with
 * no success between; failures of farther hops wait until the nearest hop
 * fails too, then all of them count. */
static void
eval_down_probe(struct incidents *inc, struct lctx *l, struct pview *p, int64_t now)
{
	struct pkey *k = &l->keys[LK_DOWN];
	bool has_if = l->cfg->device && l->cfg->interface;
	int64_t st = stale_ms(p->interval_ms);
	char list[160];
	int n = 1;

	if (!p->reach && l->nreach > 0)
		return;
	if (!p->failed) {
		bool edge = !has_if && l->down_raw_bad;

		l->down_streak = 0;
		l->down_near = false;
		l->down_raw_bad = false;
		step(inc, k, 0, false, LW_OK, edge, st, now);
		return;
	}
	l->down_streak++;
	if (!l->down_near) {
		if (l->nearest_hop != 0 && (int)p->cfg->hop != l->nearest_hop)
			return; /* held: a farther hop alone is not "down" */
		l->down_near = true;
		n = l->down_streak;
	}
	failing_list(l, now, list, sizeof(list));
	set_detail(k, 0, 100, now, "down: no answer from %s", list[0] ? list : "the probes");
	for (int i = 0; i < n; i++) {
		step(inc, k, 0, true, LW_CRITICAL, i == 0 && !has_if && !l->down_raw_bad, st, now);
		l->down_raw_bad = true;
	}
}

static void
eval_probe(struct incidents *inc, struct lctx *l, int idx, int64_t now)
{
	struct pview *p = &l->probes[idx];
	const struct lw_degraded *dg = &l->cfg->degraded;
	int64_t st = stale_ms(p->interval_ms);
	const char *nm = p->cfg->name, *tg = p->cfg->target;

	/* down first: its problem holds the loss and service ones of the result */
	eval_down_probe(inc, l, p, now);
	if (p->reach && p->loss_v) {
		bool bad = p->loss > dg->loss_pct;
		enum lw_status sev = p->loss >= dg->loss_critical_pct ? LW_CRITICAL : LW_WARNING;

		if (bad)
			set_detail(&l->keys[LK_LOSS], idx, p->loss, now,
			           "%.0f%% packet loss to %s (%s)", p->loss, nm, tg);
		step(inc, &l->keys[LK_LOSS], idx, bad, sev, false, st, now);
		step(inc, &l->keys[LK_LOSS], SRC_STREAM, bad, sev, false, st, now);
	}
	if (p->rtt_v) {
		int v = detect_latency_bad(p->rtt, dg->latency_ms, p->baseline, dg->baseline_factor,
		                           BASELINE_FLOOR_MS);
		enum lw_status sev = p->rtt > 2 * dg->latency_ms ? LW_CRITICAL : LW_WARNING;

		if (v == 1)
			set_detail(&l->keys[LK_LATENCY], idx, p->rtt, now,
			           "latency %.0f ms to %s (%s), threshold %.0f ms", p->rtt, nm, tg,
			           dg->latency_ms);
		else if (v == 2)
			set_detail(
			    &l->keys[LK_LATENCY], idx, p->rtt, now,
			    "latency %.0f ms to %s (%s), %.1fx its usual %.0f ms at this hour",
			    p->rtt, nm, tg, p->rtt / p->baseline, p->baseline);
		step(inc, &l->keys[LK_LATENCY], idx, v != 0, v == 1 ? sev : LW_WARNING, false, st,
		     now);
		step(inc, &l->keys[LK_LATENCY], SRC_STREAM, v != 0, v == 1 ? sev : LW_WARNING,
		     false, st, now);
	}
	if (p->jit_v) {
		bool bad = dg->jitter_ms > 0 && p->jitter > dg->jitter_ms;

		if (bad)
			set_detail(&l->keys[LK_JITTER], idx, p->jitter, now,
			           "jitter %.0f ms to %s (%s), threshold %.0f ms", p->jitter, nm,
			           tg, dg->jitter_ms);
		step(inc, &l->keys[LK_JITTER], idx, bad,
		     p->jitter > 2 * dg->jitter_ms ? LW_CRITICAL : LW_WARNING, false, st, now);
		step(inc, &l->keys[LK_JITTER], SRC_STREAM, bad,
		     p->jitter > 2 * dg->jitter_ms ? LW_CRITICAL : LW_WARNING, false, st, now);
	}
	if (!p->reach && p->status != LW_UNKNOWN) {
		bool bad = p->status == LW_CRITICAL;

		if (bad)
			set_detail(&l->keys[LK_SERVICE], idx, 1, now,
			           "%s check %s (%s) failing: %s", p->cfg->type, nm, tg,
			           p->message[0] ? p->message : "critical");
		step(inc, &l->keys[LK_SERVICE], idx, bad, LW_CRITICAL, false, st, now);
	}
}

/* ---- links: interface ----------------------------------------------------- */

static bool
oper_is_down(const char *oper)
{
	return strcmp(oper, "down") == 0 || strcmp(oper, "lowerLayerDown") == 0 ||
	       strcmp(oper, "notPresent") == 0;
}

static bool
iface_matches(const struct lw_link *c, const struct lw_sample *s)
{
	const char *d, *a;

	if (c->device == NULL || c->interface == NULL || s->device == NULL ||
	    strcmp(c->device, s->device) != 0)
		return false;
	if (s->name && strcmp(s->name, c->interface) == 0)
		return true;
	d = sample_attr(s, "descr");
	a = sample_attr(s, "alias");
	return (d && strcmp(d, c->interface) == 0) || (a && strcmp(a, c->interface) == 0);
}

static void
eval_iface(struct incidents *inc, struct lctx *l, const struct lw_sample *s, int64_t now)
{
	struct iview *v = &l->ifv;
	const struct lw_degraded *dg = &l->cfg->degraded;
	const char *oper = sample_attr(s, "oper_status"), *admin = sample_attr(s, "admin_status");
	char was[24];
	bool vi, vo, ve, vd, had = v->have;
	double in, out, e, dsc;
	int64_t st;

	snprintf(was, sizeof(was), "%s", v->oper);
	v->have = true;
	v->ts_ms = now;
	v->interval_ms = s->interval_ms > 0 ? s->interval_ms : 30000;
	copy_safe(v->oper, sizeof(v->oper), oper ? oper : "unknown");
	copy_safe(v->admin, sizeof(v->admin), admin ? admin : "unknown");
	st = stale_ms(v->interval_ms);
	if (l->cfg->bandwidth_bps > 0) {
		in = metric(s, "in_bps", &vi) * 100.0 / (double)l->cfg->bandwidth_bps;
		out = metric(s, "out_bps", &vo) * 100.0 / (double)l->cfg->bandwidth_bps;
	} else {
		in = metric(s, "utilization_in_pct", &vi);
		out = metric(s, "utilization_out_pct", &vo);
	}
	v->util_v = vi || vo;
	v->util_in = vi ? in : 0;
	v->util_out = vo ? out : 0;
	e = metric(s, "in_errors_ps", &ve);
	dsc = metric(s, "in_discards_ps", &vd);
	v->err_v = ve || vd;
	v->errors_pm = ((ve ? e : 0) + (vd ? dsc : 0)) * 60.0;

	if (v->util_v) {
		double u = v->util_in > v->util_out ? v->util_in : v->util_out;
		bool bad = dg->utilization_pct > 0 && u >= dg->utilization_pct;
		char rate[32];

		if (bad)
			set_detail(
			    &l->keys[LK_SATURATION], 0, u, now, "saturated: %s at %.0f%% of %s",
			    v->util_out > v->util_in ? "outbound" : "inbound", u,
			    l->cfg->bandwidth_bps
			        ? units_fmt_rate((double)l->cfg->bandwidth_bps, rate, sizeof(rate))
			        : "the interface speed");
		step(inc, &l->keys[LK_SATURATION], 0, bad,
		     u >= SATURATION_CRIT_PCT ? LW_CRITICAL : LW_WARNING, false, st, now);
	}
	if (v->err_v) {
		bool bad = v->errors_pm > dg->errors_per_min;

		if (bad)
			set_detail(
			    &l->keys[LK_ERRORS], 0, v->errors_pm, now,
			    "%.0f input errors and discards per minute on %s (threshold %.0f)",
			    v->errors_pm, l->cfg->interface, dg->errors_per_min);
		step(inc, &l->keys[LK_ERRORS], 0, bad, LW_WARNING, false, st, now);
	}
	/* down: the router's word; flaps: every change of ifOperStatus */
	if (had && strcmp(was, "unknown") != 0 && strcmp(v->oper, "unknown") != 0 &&
	    oper_is_down(was) != oper_is_down(v->oper))
		edge_only(inc, &l->keys[LK_DOWN], now);
	if (oper_is_down(v->oper) && strcmp(v->admin, "up") == 0) {
		set_detail(&l->keys[LK_DOWN], 0, 100, now,
		           "down: interface %s is %s (ifAdminStatus up)", l->cfg->interface,
		           v->oper);
		step(inc, &l->keys[LK_DOWN], 0, true, LW_CRITICAL, false, st, now);
	} else if (strcmp(v->oper, "up") == 0 && l->nreach == 0 && l->nprobes == 0)
		step(inc, &l->keys[LK_DOWN], 0, false, LW_OK, false, st, now);
}

/* ---- devices ------------------------------------------------------------- */

static void
eval_device(struct incidents *inc, struct dctx *d, const struct lw_sample *s, int64_t now)
{
	struct dview *v = &d->dv;
	const char *state = sample_attr(s, "state"), *fullest = sample_attr(s, "disk_fullest");
	double up;
	bool upv;
	int64_t st;

	v->have = true;
	v->ts_ms = now;
	v->interval_ms = s->interval_ms > 0 ? s->interval_ms : d->cfg->interval_ms;
	st = stale_ms(v->interval_ms);
	copy_safe(v->state, sizeof(v->state), state ? state : "unknown");
	copy_safe(v->reason, sizeof(v->reason), s->message ? s->message : sample_attr(s, "reason"));
	up = metric(s, "uptime_s", &upv);
	if (upv) {
		/* a reboot seen: uptime went back (not merely small at the first poll:
		 * whether that boot was trouble is unknown) */
		if (v->uptime_v && up + 5 < v->uptime_s)
			v->reboot_ms = now - (int64_t)(up * 1000);
		v->uptime_s = up;
		v->uptime_v = true;
	}
	v->on_battery = metric(s, "ups_on_battery", &v->ups_v);
	v->battery_low = metric(s, "battery_low", &v->low_v);
	v->battery_min = metric(s, "battery_minutes", &v->min_v);
	v->charge = metric(s, "battery_charge_pct", &v->chg_v);
	v->disk = metric(s, "disk_used_pct", &v->disk_v);
	copy_safe(v->disk_name, sizeof(v->disk_name), fullest ? fullest : "");

	if (strcmp(v->state, "unreachable") == 0 || strcmp(v->state, "ok") == 0) {
		bool bad = strcmp(v->state, "unreachable") == 0;

		if (bad)
			set_detail(&d->keys[DK_UNREACHABLE], 0, 1, now, "does not answer SNMP%s%s",
			           v->reason[0] ? ": " : "", v->reason);
		step(inc, &d->keys[DK_UNREACHABLE], 0, bad, LW_CRITICAL, false, st, now);
	}
	if (v->ups_v) {
		bool bad = v->on_battery >= 1;

		if (bad && v->min_v)
			set_detail(&d->keys[DK_UPS_BATTERY], 0, 1, now,
			           "UPS on battery, %.0f min left", v->battery_min);
		else if (bad)
			set_detail(&d->keys[DK_UPS_BATTERY], 0, 1, now, "UPS on battery");
		step(inc, &d->keys[DK_UPS_BATTERY], 0, bad,
		     v->min_v && v->battery_min < UPS_CRIT_MIN ? LW_CRITICAL : LW_WARNING, false,
		     st, now);
	}
	if (v->low_v) {
		bool bad = v->battery_low >= 1;

		if (bad) {
			if (v->chg_v)
				set_detail(&d->keys[DK_BATTERY_LOW], 0, 1, now,
				           "UPS battery low (%.0f%% charge)", v->charge);
			else
				set_detail(&d->keys[DK_BATTERY_LOW], 0, 1, now, "UPS battery low");
		}
		step(inc, &d->keys[DK_BATTERY_LOW], 0, bad, LW_CRITICAL, false, st, now);
	}
	if (v->disk_v) {
		bool bad = v->disk >= STORAGE_WARN_PCT;

		if (bad)
			set_detail(&d->keys[DK_STORAGE], 0, v->disk, now, "disk %.0f%% full%s%s%s",
			           v->disk, v->disk_name[0] ? " (" : "", v->disk_name,
			           v->disk_name[0] ? ")" : "");
		step(inc, &d->keys[DK_STORAGE], 0, bad,
		     v->disk >= STORAGE_CRIT_PCT ? LW_CRITICAL : LW_WARNING, false, st, now);
	}
}

/* ---- after every evaluation ------------------------------------------------ */

/* Held problems may be free now; open link tickets re-read their blame. */
static void
followup_key(struct incidents *inc, struct pkey *k, int64_t now)
{
	if (k->det.state != DETECT_PROBLEM)
		return;
	if (k->ticket == NULL)
		try_ticket(inc, k, now);
	else if (k->subject == SUBJ_LINK)
		update_blame(inc, k, k->ticket, now, false);
}

static void
followup_link(struct incidents *inc, struct lctx *l, int64_t now)
{
	for (int k = 0; k < LK_N; k++)
		followup_key(inc, &l->keys[k], now);
}

static void
eval_site(struct incidents *inc, int64_t now)
{
	size_t ndown = 0, n = 0, len = 0;
	char names[200] = "";
	bool bad;

	for (size_t i = 0; i < inc->nlinks; i++) {
		struct lctx *l = &inc->links[i];

		if (l->nprobes == 0 && !(l->cfg->device && l->cfg->interface))
			continue;
		n++;
		if (l->keys[LK_DOWN].det.state == DETECT_PROBLEM) {
			ndown++;
			if (len < sizeof(names))
				len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
				                        len ? ", " : "", l->cfg->name);
		}
	}
	if (n < 2)
		return;
	bad = ndown == n;
	if (!bad && inc->site.det.state == DETECT_OK)
		return;
	if (bad)
		set_detail(&inc->site, 0, 1, now, "every link is down (%s)", names);
	step(inc, &inc->site, 0, bad, LW_CRITICAL, false, 0, now);
	if (bad && inc->site.ticket == NULL)
		try_ticket(inc, &inc->site, now);
}

/* ---- the bus ---------------------------------------------------------------- */

static void
on_sample(const struct lw_sample *s, void *arg)
{
	struct incidents *inc = arg;
	int64_t now = sample_ms(s);

	switch (s->kind) {
	case LW_SUBJ_PROBE: {
		struct lctx *l = find_link(inc, s->link);

		if (l == NULL || s->name == NULL)
			return;
		for (size_t i = 0; i < l->nprobes; i++) {
			if (strcmp(l->probes[i].cfg->name, s->name) != 0)
				continue;
			{
				bool reach = l->probes[i].reach;

				update_probe(&l->probes[i], s, now);
				if (reach != l->probes[i].reach)
					link_hops(l);
			}
			learn_latency(inc, l, &l->probes[i], now);
			if ((int)i < MAX_PROBES)
				eval_probe(inc, l, (int)i, now);
			followup_link(inc, l, now);
			break;
		}
		break;
	}
	case LW_SUBJ_INTERFACE:
		for (size_t i = 0; i < inc->nlinks; i++) {
			if (!iface_matches(inc->links[i].cfg, s))
				continue;
			eval_iface(inc, &inc->links[i], s, now);
			followup_link(inc, &inc->links[i], now);
		}
		break;
	case LW_SUBJ_DEVICE: {
		struct dctx *d = find_dev(inc, s->device);

		if (d == NULL)
			return;
		eval_device(inc, d, s, now);
		for (int k = 0; k < DK_N; k++)
			followup_key(inc, &d->keys[k], now);
		/* the router's state is evidence for its links' tickets */
		for (size_t i = 0; i < inc->nlinks; i++)
			if (inc->links[i].cfg->device &&
			    strcmp(inc->links[i].cfg->device, d->cfg->name) == 0)
				followup_link(inc, &inc->links[i], now);
		break;
	}
	default:
		return;
	}
	eval_site(inc, now);
	flush(inc, NULL, NULL);
}

/* ---- the clock: held problems, heartbeat, hourly baselines ------------------- */

static void
tick_key(struct incidents *inc, struct pkey *k, void *arg)
{
	int64_t now = *(int64_t *)arg;

	if (k->det.state == DETECT_PROBLEM && k->ticket == NULL)
		try_ticket(inc, k, now);
}

static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct incidents *inc = arg;
	int64_t now = now_ms();
	char v[32];

	foreach_key(inc, tick_key, &now);
	for (size_t i = 0; i < inc->nlinks; i++) {
		struct lctx *l = &inc->links[i];

		for (size_t p = 0; p < l->nprobes; p++)
			if (l->probes[p].nacc > 0 && l->probes[p].acc_hour != now - now % HOUR_MS) {
				roll_hour(inc, l, &l->probes[p]);
				l->probes[p].baseline = baseline_for(&l->probes[p], now);
			}
	}
	if (now - inc->last_heartbeat_ms >= HEARTBEAT_MS) {
		struct ticket_batch *b = batch(inc);

		snprintf(v, sizeof(v), "%lld", (long long)now);
		if (b)
			ticket_batch_meta(b, "last_alive_ms", v);
		inc->last_heartbeat_ms = now;
	}
	flush(inc, NULL, NULL);
}

/* ---- building the subjects from the configuration --------------------------- */

static void
init_key(struct pkey *k, enum subject subj, const char *name, const char *kind,
         const struct detect_params *p)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->key, sizeof(k->key), "%s:%s:%s",
	         subj == SUBJ_LINK     ? "link"
	         : subj == SUBJ_DEVICE ? "device"
	                               : "site",
	         name, kind);
	k->kind = kind;
	k->subject = subj;
	k->params = *p;
	k->detail_src = -1;
	detect_init(&k->det);
}

static void
link_params(const struct lw_link *c, bool flaps, struct detect_params *p)
{
	const struct lw_degraded *dg = &c->degraded;

	p->for_n = dg->for_n > 0 ? dg->for_n : 1;
	p->clear_n = dg->clear_n > 0 ? dg->clear_n : 1;
	p->flap_count = flaps ? dg->flap_count : 0;
	p->flap_window_ms = dg->flap_window_ms;
	p->holddown_ms = dg->holddown_ms;
}

static void
device_params(const struct lw_config *cfg, struct detect_params *p)
{
	p->for_n = DEVICE_FOR;
	p->clear_n = DEVICE_CLEAR;
	p->flap_count = 0;
	p->flap_window_ms = 0;
	p->holddown_ms = cfg->tickets.holddown_ms;
}

static void
link_hops(struct lctx *l)
{
	l->nreach = 0;
	l->nearest_hop = 0;
	for (size_t i = 0; i < l->nprobes; i++)
		if (l->probes[i].cfg &&
		    (strcmp(l->probes[i].cfg->type, "icmp") == 0 || l->probes[i].reach))
			l->nreach++;
	for (size_t i = 0; i < l->nprobes; i++) {
		const struct lw_probe *p = l->probes[i].cfg;
		bool counts = l->nreach == 0 || strcmp(p->type, "icmp") == 0 || l->probes[i].reach;

		if (counts && p->hop != LW_HOP_NONE &&
		    (l->nearest_hop == 0 || (int)p->hop < l->nearest_hop))
			l->nearest_hop = (int)p->hop;
	}
}

static int
build_link(struct lctx *l, const struct lw_link *c)
{
	struct detect_params p;

	memset(l, 0, sizeof(*l));
	l->cfg = c;
	l->nprobes = c->nprobes;
	if (c->nprobes > MAX_PROBES)
		log_warnx("link %s: only its first %d probes are evaluated for tickets", c->name,
		          MAX_PROBES);
	if (c->nprobes > 0 && (l->probes = calloc(c->nprobes, sizeof(*l->probes))) == NULL)
		return -1;
	for (size_t i = 0; i < c->nprobes; i++) {
		l->probes[i].cfg = &c->probes[i];
		l->probes[i].baseline = NAN;
	}
	for (int k = 0; k < LK_N; k++) {
		link_params(c, k == LK_DOWN, &p);
		init_key(&l->keys[k], SUBJ_LINK, c->name, lkind_names[k], &p);
		l->keys[k].link = l;
	}
	link_hops(l);
	return 0;
}

static void
build_dev(struct dctx *d, const struct lw_device *c, const struct lw_config *cfg)
{
	struct detect_params p;

	memset(d, 0, sizeof(*d));
	d->cfg = c;
	device_params(cfg, &p);
	for (int k = 0; k < DK_N; k++) {
		init_key(&d->keys[k], SUBJ_DEVICE, c->name, dkind_names[k], &p);
		d->keys[k].dev = d;
	}
}

static void
free_key(struct pkey *k)
{
	ticket_free(k->ticket);
	ticket_free(k->recent);
	k->ticket = k->recent = NULL;
}

static void
free_subjects(struct lctx *links, size_t nlinks, struct dctx *devs, size_t ndevs)
{
	for (size_t i = 0; i < nlinks; i++) {
		for (int k = 0; k < LK_N; k++)
			free_key(&links[i].keys[k]);
		free(links[i].probes);
	}
	free(links);
	for (size_t i = 0; i < ndevs; i++)
		for (int k = 0; k < DK_N; k++)
			free_key(&devs[i].keys[k]);
	free(devs);
}

static int
build_subjects(const struct lw_config *cfg, struct lctx **links, struct dctx **devs)
{
	*links = cfg->nlinks ? calloc(cfg->nlinks, sizeof(**links)) : NULL;
	*devs = cfg->ndevices ? calloc(cfg->ndevices, sizeof(**devs)) : NULL;
	if ((cfg->nlinks && *links == NULL) || (cfg->ndevices && *devs == NULL))
		return -1;
	for (size_t i = 0; i < cfg->nlinks; i++)
		if (build_link(&(*links)[i], &cfg->links[i]) != 0)
			return -1;
	for (size_t i = 0; i < cfg->ndevices; i++)
		build_dev(&(*devs)[i], &cfg->devices[i], cfg);
	return 0;
}

/* Carry a key's state to its rebuilt self, keeping the new parameters. */
static void
move_key(struct pkey *to, struct pkey *from, bool reset_sources)
{
	struct detect_params p = to->params;
	struct lctx *l = to->link;
	struct dctx *d = to->dev;
	const char *kind = to->kind;

	*to = *from;
	to->params = p;
	to->link = l;
	to->dev = d;
	to->kind = kind;
	if (reset_sources)
		detect_reset_sources(&to->det);
	from->ticket = from->recent = NULL;
}

/* ---- start-up: what the database remembers --------------------------------- */

static void
resolve_unknown(struct incidents *inc, struct ticket *t, int64_t now, const char *why)
{
	t->state = TICKET_RESOLVED;
	t->resolved_ms = now;
	ticket_set_str(&t->resolved_by, "linewatchd");
	ticket_set_str(&t->resolution, why);
	event(inc, NULL, t, now, "resolved", NULL, "resolved automatically: %s", why);
	log_info("ticket %s resolved: %s", t->ref, why);
}

static void
load_open_cb(struct ticket *t, void *arg)
{
	struct incidents *inc = arg;
	struct pkey *k = find_key(inc, t->key);
	int64_t now = now_ms();

	if (k != NULL && k->ticket == NULL) {
		k->ticket = t;
		detect_seed(&k->det, t->severity, t->problem_since_ms, t->flapping);
		k->problem_start_ms = t->problem_since_ms;
		snprintf(k->detail, sizeof(k->detail), "%s",
		         "the problem of ticket before the restart");
		log_info("ticket %s continues after the restart: %s", t->ref, t->title);
		return;
	}
	if (k != NULL)
		resolve_unknown(inc, t, now, "duplicate of the open ticket of the same problem");
	else if (t->subject && strcmp(t->subject, "site") == 0 && inc->site.ticket == NULL) {
		/* the site's name changed: still the same appliance */
		inc->site.ticket = t;
		detect_seed(&inc->site.det, t->severity, t->problem_since_ms, false);
		return;
	} else
		resolve_unknown(inc, t, now,
		                "its link or device is no longer in the configuration");
	ticket_free(t);
}

static void
load_problem_cb(const struct ticket_problem *p, void *arg)
{
	struct incidents *inc = arg;
	struct pkey *k = find_key(inc, p->key);
	struct ticket_batch *b;
	int64_t end;

	if (k != NULL && k->ticket != NULL && p->ticket_id == k->ticket->id && k->problem_id == 0) {
		k->problem_id = p->id;
		k->problem_start_ms = p->start_ms;
		return;
	}
	/* held or orphaned periods end when linewatchd stopped */
	end = inc->prev_alive_ms > p->start_ms ? inc->prev_alive_ms : p->start_ms;
	if ((b = batch(inc)) == NULL)
		return;
	ticket_batch_problem(b, p->id, p->key,
	                     k && k->subject == SUBJ_DEVICE ? "device"
	                     : k && k->subject == SUBJ_SITE ? "site"
	                                                    : "link",
	                     k ? subject_name(inc, k) : "?",
	                     k && k->subject == SUBJ_LINK ? k->link->cfg->name : NULL, p->kind,
	                     LW_WARNING, p->start_ms, end, p->ticket_id, p->held,
	                     "ended when linewatchd stopped");
}

static void
load_recent_cb(struct incidents *inc, struct pkey *k, void *arg)
{
	struct ticket *t;

	if (k->ticket != NULL)
		return;
	t = ticket_load_last(inc->db, k->key);
	if (t == NULL)
		return;
	if (t->state == TICKET_RESOLVED && t->resolved_ms > 0) {
		detect_seed_recovered(&k->det, t->resolved_ms);
		k->recent = t;
	} else
		ticket_free(t);
}

static void
restored_problem_rows(struct incidents *inc, struct pkey *k, void *arg)
{
	/* an open ticket without its problem period (written by an older run) */
	if (k->ticket != NULL && k->problem_id == 0) {
		k->problem_id = ++inc->ids.problem;
		k->problem_start_ms = k->ticket->problem_since_ms;
		problem_row(inc, k, 0, NULL);
	}
}

struct lat_arg {
	struct incidents *inc;
};

static void
load_latency_cb(const char *link, const char *probe, int64_t hour_ms, double median, void *arg)
{
	struct incidents *inc = arg;
	struct lctx *l = find_link(inc, link);

	for (size_t i = 0; l && i < l->nprobes; i++)
		if (strcmp(l->probes[i].cfg->name, probe) == 0)
			hist_put(&l->probes[i], hour_ms, median);
}

static int
load_state(struct incidents *inc)
{
	int64_t now = now_ms();

	if (ticket_max_ids(inc->db, &inc->ids) != 0)
		return -1;
	inc->prev_alive_ms = ticket_meta_int(inc->db, "last_alive_ms", 0);
	if (ticket_load_open(inc->db, load_open_cb, inc) != 0 ||
	    ticket_open_problems(inc->db, load_problem_cb, inc) != 0)
		return -1;
	foreach_key(inc, restored_problem_rows, NULL);
	foreach_key(inc, load_recent_cb, NULL);
	if (ticket_latency_load(inc->db, now - (BASELINE_DAYS + 1) * 24 * HOUR_MS, load_latency_cb,
	                        inc) != 0)
		return -1;
	for (size_t i = 0; i < inc->nlinks; i++)
		for (size_t p = 0; p < inc->links[i].nprobes; p++)
			inc->links[i].probes[p].baseline =
			    baseline_for(&inc->links[i].probes[p], now);
	return 0;
}

/* ---- public ------------------------------------------------------------- */

static void
notify_subs(const struct ticket_event *ev, void *arg)
{
	struct incidents *inc = arg;

	for (size_t i = 0; i < inc->nsubs; i++)
		inc->subs[i].cb(ev, inc->subs[i].arg);
}

struct incidents *
incidents_new(struct event_base *base, struct lw_bus *bus, struct db *db,
              const struct lw_config *cfg)
{
	struct incidents *inc = calloc(1, sizeof(*inc));
	struct detect_params sp = {.for_n = 1, .clear_n = 1, .holddown_ms = 0};
	struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};

	if (inc == NULL)
		return NULL;
	inc->base = base;
	inc->bus = bus;
	inc->db = db;
	inc->cfg = cfg;
	inc->started_ms = now_ms();
	sp.holddown_ms = cfg->tickets.holddown_ms;
	init_key(&inc->site, SUBJ_SITE, cfg->site, "no_path", &sp);
	if (build_subjects(cfg, &inc->links, &inc->devs) != 0) {
		log_warnx("incidents: out of memory");
		goto fail;
	}
	inc->nlinks = cfg->nlinks;
	inc->ndevs = cfg->ndevices;
	for (size_t i = 0; i < inc->nlinks; i++)
		for (int k = 0; k < LK_N; k++)
			inc->links[i].keys[k].link = &inc->links[i];
	for (size_t i = 0; i < inc->ndevs; i++)
		for (int k = 0; k < DK_N; k++)
			inc->devs[i].keys[k].dev = &inc->devs[i];
	if ((inc->sink = ticket_sink_new(notify_subs, inc)) == NULL || db_attach(db, base) != 0)
		goto fail;
	if (load_state(inc) != 0) {
		log_warnx("incidents: cannot load the open tickets from %s", db_path(db));
		goto fail;
	}
	flush(inc, NULL, NULL);
	inc->timer = event_new(base, -1, EV_PERSIST, on_tick, inc);
	if (inc->timer == NULL || event_add(inc->timer, &tv) != 0 ||
	    sample_subscribe(bus, on_sample, inc) != 0)
		goto fail;
	return inc;
fail:
	incidents_free(inc);
	return NULL;
}

int
incidents_reload(struct incidents *inc, const struct lw_config *cfg)
{
	struct lctx *links = NULL;
	struct dctx *devs = NULL;
	int64_t now = now_ms();

	if (build_subjects(cfg, &links, &devs) != 0) {
		log_warnx("incidents: out of memory: keeping the old configuration");
		free_subjects(links, cfg->nlinks, devs, cfg->ndevices);
		return -1;
	}
	for (size_t i = 0; i < cfg->nlinks; i++) {
		struct lctx *n = &links[i], *o = find_link(inc, cfg->links[i].name);
		bool same = o && o->nprobes == n->nprobes;

		for (size_t p = 0; same && p < n->nprobes; p++)
			same = strcmp(o->probes[p].cfg->name, n->probes[p].cfg->name) == 0;
		for (int k = 0; k < LK_N; k++) {
			n->keys[k].link = n;
			if (o)
				move_key(&n->keys[k], &o->keys[k], !same);
		}
		if (o == NULL)
			continue;
		n->ifv = o->ifv;
		n->down_streak = o->down_streak;
		n->down_near = o->down_near;
		n->down_raw_bad = o->down_raw_bad;
		for (size_t p = 0; p < n->nprobes; p++)
			for (size_t q = 0; q < o->nprobes; q++)
				if (strcmp(o->probes[q].cfg->name, n->probes[p].cfg->name) == 0) {
					n->probes[p] = o->probes[q];
					n->probes[p].cfg = &cfg->links[i].probes[p];
				}
		link_hops(n);
	}
	for (size_t i = 0; i < cfg->ndevices; i++) {
		struct dctx *n = &devs[i], *o = find_dev(inc, cfg->devices[i].name);

		for (int k = 0; k < DK_N; k++) {
			n->keys[k].dev = n;
			if (o)
				move_key(&n->keys[k], &o->keys[k], false);
		}
		if (o)
			n->dv = o->dv;
	}
	/* what is left in the old subjects is gone from the configuration */
	for (size_t i = 0; i < inc->nlinks; i++)
		for (int k = 0; k < LK_N; k++) {
			struct pkey *key = &inc->links[i].keys[k];

			if (key->ticket)
				resolve_unknown(inc, key->ticket, now,
				                "the link was removed from the configuration");
			if (key->problem_id)
				problem_row(inc, key, now, "link removed from the configuration");
		}
	for (size_t i = 0; i < inc->ndevs; i++)
		for (int k = 0; k < DK_N; k++) {
			struct pkey *key = &inc->devs[i].keys[k];

			if (key->ticket)
				resolve_unknown(inc, key->ticket, now,
				                "the device was removed from the configuration");
			if (key->problem_id)
				problem_row(inc, key, now, "device removed from the configuration");
		}
	flush(inc, NULL, NULL);
	free_subjects(inc->links, inc->nlinks, inc->devs, inc->ndevs);
	inc->links = links;
	inc->nlinks = cfg->nlinks;
	inc->devs = devs;
	inc->ndevs = cfg->ndevices;
	inc->cfg = cfg;
	inc->site.params.holddown_ms = cfg->tickets.holddown_ms;
	return 0;
}

void
incidents_free(struct incidents *inc)
{
	if (inc == NULL)
		return;
	if (inc->bus)
		sample_unsubscribe(inc->bus, on_sample, inc);
	if (inc->timer)
		event_free(inc->timer);
	flush(inc, NULL, NULL);
	ticket_sink_detach(inc->sink);
	free_subjects(inc->links, inc->nlinks, inc->devs, inc->ndevs);
	free_key(&inc->site);
	for (size_t i = 0; i < inc->norphans; i++)
		ticket_free(inc->orphans[i]);
	free(inc->orphans);
	free(inc->subs);
	free(inc);
}

int
ticket_subscribe(struct incidents *inc, ticket_event_cb cb, void *arg)
{
	struct sub *n = realloc(inc->subs, (inc->nsubs + 1) * sizeof(*n));

	if (n == NULL)
		return -1;
	inc->subs = n;
	inc->subs[inc->nsubs].cb = cb;
	inc->subs[inc->nsubs].arg = arg;
	inc->nsubs++;
	return 0;
}

void
ticket_unsubscribe(struct incidents *inc, ticket_event_cb cb, void *arg)
{
	for (size_t i = 0; i < inc->nsubs; i++)
		if (inc->subs[i].cb == cb && inc->subs[i].arg == arg) {
			memmove(&inc->subs[i], &inc->subs[i + 1],
			        (inc->nsubs - i - 1) * sizeof(*inc->subs));
			inc->nsubs--;
			return;
		}
}

void
incidents_set_talkers(struct incidents *inc, incidents_talkers_fn fn, void *arg)
{
	inc->talkers = fn;
	inc->talkers_arg = arg;
}

struct db *
incidents_db(struct incidents *inc)
{
	return inc->db;
}

/* ---- actions -------------------------------------------------------------- */

static size_t
orphan_index(struct incidents *inc, int64_t id)
{
	for (size_t i = 0; i < inc->norphans; i++)
		if (inc->orphans[i]->id == id)
			return i;
	return (size_t)-1;
}

static void
orphan_remove(struct incidents *inc, size_t i)
{
	memmove(&inc->orphans[i], &inc->orphans[i + 1],
	        (inc->norphans - i - 1) * sizeof(*inc->orphans));
	inc->norphans--;
}

static int
orphan_add(struct incidents *inc, struct ticket *t)
{
	struct ticket **n = realloc(inc->orphans, (inc->norphans + 1) * sizeof(*n));

	if (n == NULL)
		return -1;
	inc->orphans = n;
	inc->orphans[inc->norphans++] = t;
	return 0;
}

static bool
valid_who(const char *who)
{
	size_t n = strlen(who);

	if (n == 0 || n > WHO_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)who[i] < 0x20 || who[i] == 0x7f)
			return false;
	return true;
}

static int fail(char *msg, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *msg, size_t len, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return code;
}

static int
act_reopen(struct incidents *inc, struct ticket *t, struct pkey *k, const char *who,
           const char *text, int64_t now, char *msg, size_t msglen)
{
	if (t->state != TICKET_RESOLVED)
		return fail(msg, msglen, 409, "%s is %s, not resolved", t->ref,
		            ticket_state_name(t->state));
	if (k == NULL)
		k = find_key(inc, t->key);
	if (k != NULL && k->ticket != NULL)
		return fail(msg, msglen, 409, "the problem of %s has another open ticket: %s",
		            t->ref, k->ticket->ref);
	if (k == NULL && orphan_add(inc, t) != 0)
		return fail(msg, msglen, 503, "out of memory");
	t->state = TICKET_OPEN;
	t->resolved_ms = 0;
	ticket_set_str(&t->resolved_by, NULL);
	ticket_set_str(&t->resolution, NULL);
	t->reopened++;
	if (k != NULL) {
		if (k->recent == t)
			k->recent = NULL;
		k->ticket = t;
		k->manual_closed = false;
		if (k->det.state == DETECT_PROBLEM && k->problem_id)
			problem_row(inc, k, 0, NULL);
	}
	event(inc, k, t, now, "reopened", who, "reopened by %s%s%s", who, text ? ": " : "",
	      text ? text : "");
	log_info("ticket %s reopened by %s", t->ref, who);
	return 0;
}

int
incidents_action(struct incidents *inc, int64_t id, enum incident_action a, const char *who,
                 const char *text, void (*done)(int rc, void *arg), void *arg, char *msg,
                 size_t msglen)
{
	struct pkey *k = find_key_of_ticket(inc, id);
	struct ticket *t = NULL, *loaded = NULL;
	size_t oi = orphan_index(inc, id);
	int64_t now = now_ms();
	int rc = 0;

	if (who == NULL || !valid_who(who))
		return fail(msg, msglen, 400, "\"by\" must be 1 to %d printable characters",
		            WHO_MAX);
	if (text != NULL && (strlen(text) > TEXT_MAX || text[0] == '\0'))
		return fail(msg, msglen, 400, "text must be 1 to %d characters", TEXT_MAX);
	if (a == INCIDENT_COMMENT && text == NULL)
		return fail(msg, msglen, 400, "a comment needs \"text\"");
	if (k && k->ticket && k->ticket->id == id)
		t = k->ticket;
	else if (k && k->recent && k->recent->id == id)
		t = k->recent;
	else if (oi != (size_t)-1)
		t = inc->orphans[oi];
	else {
		k = NULL;
		if ((t = loaded = ticket_load(inc->db, id)) == NULL)
			return fail(msg, msglen, 404, "no ticket LW-%06lld", (long long)id);
		if (t->state != TICKET_RESOLVED) {
			/* open in the database but unknown here: take it in */
			if (orphan_add(inc, t) != 0) {
				ticket_free(t);
				return fail(msg, msglen, 503, "out of memory");
			}
			loaded = NULL;
			oi = inc->norphans - 1;
		}
	}
	switch (a) {
	case INCIDENT_ACK:
		if (t->state == TICKET_RESOLVED)
			rc = fail(msg, msglen, 409, "%s is resolved: reopen it first", t->ref);
		else if (t->state == TICKET_ACKNOWLEDGED)
			rc = fail(msg, msglen, 409, "%s was already acknowledged by %s", t->ref,
			          t->acked_by ? t->acked_by : "someone");
		else {
			t->state = TICKET_ACKNOWLEDGED;
			t->acked_ms = now;
			ticket_set_str(&t->acked_by, who);
			event(inc, k, t, now, "acknowledged", who, "acknowledged by %s%s%s", who,
			      text ? ": " : "", text ? text : "");
			log_info("ticket %s acknowledged by %s", t->ref, who);
		}
		break;
	case INCIDENT_COMMENT:
		event(inc, k, t, now, "comment", who, "%s", text);
		break;
	case INCIDENT_RESOLVE:
		if (t->state == TICKET_RESOLVED) {
			rc = fail(msg, msglen, 409, "%s is already resolved", t->ref);
			break;
		}
		t->state = TICKET_RESOLVED;
		t->resolved_ms = now;
		ticket_set_str(&t->resolved_by, who);
		{
			char note[TEXT_MAX + 64];

			snprintf(note, sizeof(note), "resolved by %s%s%s", who, text ? ": " : "",
			         text ? text : "");
			ticket_set_str(&t->resolution, note);
			event(inc, k, t, now, "resolved", who, "%s%s", note,
			      k && k->det.state == DETECT_PROBLEM
			          ? " (the problem is still present: "
			            "no new ticket until it clears and comes back)"
			          : "");
		}
		log_info("ticket %s resolved by %s", t->ref, who);
		if (k && k->ticket == t) {
			ticket_free(k->recent);
			k->recent = t;
			k->ticket = NULL;
			if (k->det.state == DETECT_PROBLEM)
				k->manual_closed = true;
		} else if (oi != (size_t)-1) {
			orphan_remove(inc, oi);
			loaded = t;
		}
		break;
	case INCIDENT_REOPEN:
		rc = act_reopen(inc, t, k, who, text, now, msg, msglen);
		if (rc == 0)
			loaded = NULL; /* now owned by its key or the orphans */
		break;
	}
	ticket_free(loaded);
	if (rc != 0) {
		flush(inc, NULL, NULL);
		return rc;
	}
	if (flush(inc, done, arg) != 0)
		return fail(msg, msglen, 503,
		            "the ticket database refused the write (see the log)");
	return 0;
}

/* ---- link status ----------------------------------------------------------- */

int
incidents_link_status(struct incidents *inc, const char *link, struct incident_link_status *out)
{
	struct lctx *l = find_link(inc, link);
	int64_t now = now_ms();
	bool anyfresh = false, problem = false;

	memset(out, 0, sizeof(*out));
	if (l == NULL)
		return -1;
	link_worst(l, now, out);
	for (size_t i = 0; i < l->nprobes; i++)
		if (l->probes[i].have && fresh(l->probes[i].ts_ms, l->probes[i].interval_ms, now))
			anyfresh = true;
	if (l->ifv.have && fresh(l->ifv.ts_ms, l->ifv.interval_ms, now))
		anyfresh = true;
	for (int k = 0; k < LK_N; k++) {
		struct pkey *key = &l->keys[k];

		if (key->det.state == DETECT_PROBLEM)
			problem = true;
		if (key->ticket && out->nopen < 16)
			out->open[out->nopen++] = key->ticket;
	}
	for (size_t i = 0; i < inc->norphans && out->nopen < 16; i++)
		if (inc->orphans[i]->link && strcmp(inc->orphans[i]->link, link) == 0)
			out->open[out->nopen++] = inc->orphans[i];
	if (l->keys[LK_DOWN].det.state == DETECT_PROBLEM)
		out->state = "down";
	else if (problem)
		out->state = "degraded";
	else if (!anyfresh)
		out->state = "unknown";
	else
		out->state = "ok";
	out->ticket = l->keys[LK_DOWN].ticket;
	if (out->ticket == NULL)
		for (size_t i = 0; i < out->nopen; i++)
			if (out->ticket == NULL || out->open[i]->severity > out->ticket->severity)
				out->ticket = out->open[i];
	out->blame = out->ticket ? out->ticket->blame : NULL;
	out->maintenance = in_maintenance(inc, l->cfg->name, l->cfg->device, now);
	return 0;
}
