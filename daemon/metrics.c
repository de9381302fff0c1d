/* metrics.c - Prometheus exposition of links, probes, devices and the daemon */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "metrics.h"

struct source {
	metrics_source_cb cb;
	void *arg;
};

struct metrics {
	struct lw_state *st;
	struct auth *auth;
	const struct lw_config *const *cfgp;
	struct source *sources;
	size_t nsources;
	unsigned long scrapes;
};

static void
label_value(struct evbuffer *b, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*v == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

void
metrics_family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
metrics_value(struct evbuffer *b, const char *name, double v, ...)
{
	va_list ap;
	const char *k;
	int first = 1;

	evbuffer_add_printf(b, "%s", name);
	va_start(ap, v);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);
		evbuffer_add_printf(b, "%s%s=\"", first ? "{" : ",", k);
		label_value(b, val ? val : "");
		evbuffer_add(b, "\"", 1);
		first = 0;
	}
	va_end(ap);
	if (!first)
		evbuffer_add(b, "}", 1);
	if (isnan(v))
		evbuffer_add_printf(b, " NaN\n");
	else
		evbuffer_add_printf(b, " %.17g\n", v);
}

/* One gauge family over every sample of a kind that has the metric. */
struct fam {
	struct evbuffer *b;
	const char *prom, *metric;
	double scale;
	enum lw_subject kind;
	int header_done;
	const char *help;
};

static void
fam_one(const struct lw_sample *s, void *arg)
{
	struct fam *f = arg;
	const struct lw_metric *m = sample_metric(s, f->metric);

	if (m == NULL || !m->valid || !isfinite(m->value))
		return;
	if (!f->header_done) {
		metrics_family(f->b, f->prom, "gauge", f->help);
		f->header_done = 1;
	}
	switch (f->kind) {
	case LW_SUBJ_PROBE:
		metrics_value(f->b, f->prom, m->value * f->scale, "link", s->link, "probe", s->name,
		              (const char *)NULL);
		break;
	case LW_SUBJ_INTERFACE:
		metrics_value(f->b, f->prom, m->value * f->scale, "device", s->device, "interface",
		              s->name, (const char *)NULL);
		break;
	case LW_SUBJ_DEVICE:
		metrics_value(f->b, f->prom, m->value * f->scale, "device", s->device,
		              (const char *)NULL);
		break;
	default:
		metrics_value(f->b, f->prom, m->value * f->scale, "capture", s->name,
		              (const char *)NULL);
	}
}

static void
family(struct metrics *mt, struct evbuffer *b, enum lw_subject kind, const char *prom,
       const char *metric, double scale, const char *help)
{
	struct fam f = {b, prom, metric, scale, kind, 0, help};

	state_foreach(mt->st, kind, NULL, fam_one, &f);
}

static void
probe_status(const struct lw_sample *s, void *arg)
{
	metrics_value(arg, "linewatch_probe_status", (double)s->status, "link", s->link, "probe",
	              s->name, (const char *)NULL);
}

static double
rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *fp = fopen("/proc/self/statm", "r");

	if (fp == NULL)
		return NAN;
	if (fscanf(fp, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(fp);
	return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static void
render(struct metrics *mt, struct evbuffer *b)
{
	const struct lw_config *cfg = *mt->cfgp;

	family(mt, b, LW_SUBJ_PROBE, "linewatch_probe_loss_ratio", "loss", 0.01,
	       "Packet loss of the newest probe run, 0 to 1.");
	family(mt, b, LW_SUBJ_PROBE, "linewatch_probe_rtt_seconds", "rtt_avg", 0.001,
	       "Average round-trip time of the newest probe run.");
	family(mt, b, LW_SUBJ_PROBE, "linewatch_probe_jitter_seconds", "jitter", 0.001,
	       "Jitter (mean difference of consecutive round trips) of the newest probe run.");
	metrics_family(b, "linewatch_probe_status", "gauge",
	               "Newest probe result: 0 ok, 1 warning, 2 critical, 3 unknown.");
	state_foreach(mt->st, LW_SUBJ_PROBE, NULL, probe_status, b);
	family(mt, b, LW_SUBJ_DEVICE, "linewatch_device_reachable", "reachable", 1,
	       "1 if the device answered its last SNMP poll.");
	family(mt, b, LW_SUBJ_DEVICE, "linewatch_device_poll_duration_seconds", "poll_duration_ms",
	       0.001, "Duration of the device's last SNMP poll.");
	family(mt, b, LW_SUBJ_DEVICE, "linewatch_device_uptime_seconds", "uptime_s", 1,
	       "Device uptime from sysUpTime.");
	family(mt, b, LW_SUBJ_INTERFACE, "linewatch_interface_receive_bytes_per_second", "in_bps",
	       0.125, "Interface input rate.");
	family(mt, b, LW_SUBJ_INTERFACE, "linewatch_interface_transmit_bytes_per_second", "out_bps",
	       0.125, "Interface output rate.");
	family(mt, b, LW_SUBJ_INTERFACE, "linewatch_interface_receive_utilization_ratio",
	       "utilization_in_pct", 0.01, "Input rate over interface speed, 0 to 1.");
	family(mt, b, LW_SUBJ_INTERFACE, "linewatch_interface_transmit_utilization_ratio",
	       "utilization_out_pct", 0.01, "Output rate over interface speed, 0 to 1.");
	family(mt, b, LW_SUBJ_INTERFACE, "linewatch_interface_receive_errors_per_second",
	       "in_errors_ps", 1, "Interface input errors per second.");
	family(mt, b, LW_SUBJ_INTERFACE, "linewatch_interface_oper_up", "oper_up", 1,
	       "1 if the interface's operational status is up.");
	family(mt, b, LW_SUBJ_CAPTURE, "linewatch_capture_bytes_per_second", "total_bps", 0.125,
	       "Traffic seen by a capture in its last interval.");

	metrics_family(b, "linewatch_link_sla_ratio", "gauge",
	               "The link's contracted availability, 0 to 1.");
	for (size_t i = 0; i < cfg->nlinks; i++)
		metrics_value(b, "linewatch_link_sla_ratio", cfg->links[i].sla_pct / 100.0, "link",
		              cfg->links[i].name, "provider", cfg->links[i].provider, "circuit",
		              cfg->links[i].circuit, (const char *)NULL);
	metrics_family(b, "linewatch_link_bandwidth_bytes_per_second", "gauge",
	               "The link's contracted bandwidth (0: the interface speed).");
	for (size_t i = 0; i < cfg->nlinks; i++)
		metrics_value(b, "linewatch_link_bandwidth_bytes_per_second",
		              (double)cfg->links[i].bandwidth_bps / 8.0, "link", cfg->links[i].name,
		              (const char *)NULL);

	for (size_t i = 0; i < mt->nsources; i++)
		mt->sources[i].cb(b, mt->sources[i].arg);

	struct auth_stats as;
	auth_stats(mt->auth, &as);
	metrics_family(b, "linewatch_web_logins_failed_total", "counter", "Failed web logins.");
	metrics_value(b, "linewatch_web_logins_failed_total", (double)as.logins_failed,
	              (const char *)NULL);
	metrics_family(b, "linewatch_web_sessions", "gauge", "Open web sessions.");
	metrics_value(b, "linewatch_web_sessions", (double)as.sessions, (const char *)NULL);
	metrics_family(b, "linewatch_metrics_scrapes_total", "counter", "Scrapes of /metrics.");
	metrics_value(b, "linewatch_metrics_scrapes_total", (double)++mt->scrapes,
	              (const char *)NULL);
	metrics_family(b, "linewatch_process_resident_memory_bytes", "gauge",
	               "Resident memory of linewatchd.");
	metrics_value(b, "linewatch_process_resident_memory_bytes", rss_bytes(),
	              (const char *)NULL);
}

static void
metrics_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct metrics *mt = arg;
	struct evbuffer *b;

	if (rest[0] != '\0') {
		http_reply_error(req, 404, "no such page");
		return;
	}
	if (!auth_may_read(mt->auth, req))
		return;
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	render(mt, b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

struct metrics *
metrics_new(struct lw_http *h, struct lw_state *st, struct auth *auth,
            const struct lw_config *const *cfgp)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->st = st;
	m->auth = auth;
	m->cfgp = cfgp;
	if (http_route(h, "/metrics", metrics_cb, m) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

int
metrics_add_source(struct metrics *m, metrics_source_cb cb, void *arg)
{
	struct source *n = realloc(m->sources, (m->nsources + 1) * sizeof(*n));

	if (n == NULL)
		return -1;
	m->sources = n;
	m->sources[m->nsources].cb = cb;
	m->sources[m->nsources].arg = arg;
	m->nsources++;
	return 0;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	free(m->sources);
	free(m);
}
