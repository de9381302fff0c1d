/* pages.c - overview, link and device pages.
 *
 * Everything is rendered on the server from the state (newest samples) and
 * the configuration, so the pages work with JavaScript off; a section with
 * data-refresh is re-fetched by app.js as a fragment (?fragment=ID) so the
 * overview refreshes without a full reload.  Every string that comes from a
 * device, a probe or the configuration goes through html_esc().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "html.h"
#include "log.h"
#include "pages.h"
#include "units.h"

struct pages {
	struct lw_state *st;
	struct auth *auth;
	const struct lw_config *const *cfgp;
	struct pages_tickets tickets;
};

static const char *const range_names[] = {"3h", "1d", "1w", "1m", "1y", NULL};

/* --- small formatting helpers ------------------------------------------- */

static const struct lw_metric *
metric(const struct lw_sample *s, const char *name)
{
	const struct lw_metric *m = s ? sample_metric(s, name) : NULL;

	return (m && m->valid && isfinite(m->value)) ? m : NULL;
}

static void
num_cell(struct evbuffer *b, const struct lw_sample *s, const char *name, const char *unit,
         double scale)
{
	const struct lw_metric *m = metric(s, name);

	html_raw(b, "<td class=\"num\">");
	if (m)
		html_raw(b, "%.1f%s", m->value * scale, unit);
	else
		html_raw(b, "–");
	html_raw(b, "</td>");
}

static void
rate_text(struct evbuffer *b, const struct lw_sample *s, const char *name)
{
	const struct lw_metric *m = metric(s, name);
	char buf[64];

	html_esc(b, m ? units_fmt_rate(m->value, buf, sizeof(buf)) : "–");
}

static void
age_text(struct evbuffer *b, const struct lw_sample *s)
{
	char buf[64];
	time_t now = time(NULL);

	if (s == NULL) {
		html_raw(b, "never");
		return;
	}
	html_raw(b, "<time datetime=\"%ld\">%s ago</time>", (long)s->ts.tv_sec,
	         units_fmt_duration((int64_t)(now - s->ts.tv_sec) * 1000, buf, sizeof(buf)));
}

/* href with a URL-encoded name segment. */
static void
href(struct evbuffer *b, const char *prefix, const char *name, const char *suffix)
{
	html_raw(b, "%s", prefix);
	html_url(b, name);
	html_raw(b, "%s", suffix ? suffix : "");
}

static int
fragment_is(struct evhttp_request *req, const char *id)
{
	char *f = http_query(req, "fragment");
	int yes = f && strcmp(f, id) == 0;

	free(f);
	return yes;
}

/* --- link state for display --------------------------------------------- */

struct probe_summary {
	int n, bad, unknown;
	double loss, rtt, jitter; /* worst seen, -1 = none */
};

static void
summarize_probe(const struct lw_sample *s, void *arg)
{
	struct probe_summary *ps = arg;
	const struct lw_metric *m;

	ps->n++;
	if (s->status == LW_CRITICAL)
		ps->bad++;
	else if (s->status == LW_UNKNOWN)
		ps->unknown++;
	if ((m = metric(s, "loss")) && m->value > ps->loss)
		ps->loss = m->value;
	if ((m = metric(s, "rtt_avg")) && m->value > ps->rtt)
		ps->rtt = m->value;
	if ((m = metric(s, "jitter")) && m->value > ps->jitter)
		ps->jitter = m->value;
}

static const struct lw_sample *
link_iface(struct pages *p, const struct lw_link *l)
{
	if (l->device == NULL || l->interface == NULL)
		return NULL;
	return state_get(p->st, LW_SUBJ_INTERFACE, l->device, l->interface);
}

/* Without the ticket module: a plain reading of the newest samples. */
static const char *
link_state(struct pages *p, const struct lw_link *l, const struct probe_summary *ps)
{
	const struct lw_sample *ifs = link_iface(p, l);
	const char *oper = ifs ? sample_attr(ifs, "oper_status") : NULL;

	if (p->tickets.link_state)
		return p->tickets.link_state(l->name, p->tickets.arg);
	if ((oper && strcmp(oper, "up") != 0) || (ps->n > 0 && ps->bad == ps->n))
		return "down";
	if (ps->n == 0 && ifs == NULL)
		return "unknown";
	if (ps->bad > 0 || ps->loss > l->degraded.loss_pct ||
	    (ps->rtt > 0 && ps->rtt > l->degraded.latency_ms))
		return "degraded";
	return "ok";
}

/* --- overview ------------------------------------------------------------ */

static void
link_tile(struct pages *p, struct evbuffer *b, const struct lw_link *l)
{
	struct probe_summary ps = {0, 0, 0, -1, -1, -1};
	const struct lw_sample *ifs = link_iface(p, l);
	const char *state;
	const struct lw_metric *ui, *uo;

	state_foreach(p->st, LW_SUBJ_PROBE, l->name, summarize_probe, &ps);
	state = link_state(p, l, &ps);
	html_raw(b, "<article class=\"tile state-%s\" data-link=\"", state);
	html_esc(b, l->name);
	html_raw(b, "\"><h3><a href=\"");
	href(b, "/links/", l->name, "");
	html_raw(b, "\">");
	html_esc(b, l->name);
	html_raw(b, "</a> ");
	html_badge(b, state);
	html_raw(b, "</h3><div class=\"meta\">");
	html_esc(b, l->provider);
	if (l->circuit && *l->circuit) {
		html_raw(b, " · circuit ");
		html_esc(b, l->circuit);
	}
	html_raw(b, "</div><dl>");
	html_raw(b, "<dt>Loss</dt><dd>");
	if (ps.loss >= 0)
		html_raw(b, "%.1f %%", ps.loss);
	else
		html_raw(b, "–");
	html_raw(b, "</dd><dt>Latency</dt><dd>");
	if (ps.rtt >= 0)
		html_raw(b, "%.1f ms", ps.rtt);
	else
		html_raw(b, "–");
	if (ps.jitter >= 0)
		html_raw(b, " (jitter %.1f ms)", ps.jitter);
	html_raw(b, "</dd><dt>Utilization</dt><dd>");
	ui = metric(ifs, "utilization_in_pct");
	uo = metric(ifs, "utilization_out_pct");
	if (ui || uo)
		html_raw(b, "in %.0f %% · out %.0f %%", ui ? ui->value : 0, uo ? uo->value : 0);
	else
		html_raw(b, "–");
	html_raw(b, "</dd></dl>");
	if (l->nprobes > 0) {
		html_raw(
		    b,
		    "<img class=\"spark\" alt=\"latency, last 3 hours\" loading=\"lazy\" src=\"");
		href(b, "/graph/probe/", l->name, "/");
		html_url(b, l->probes[0].name);
		html_raw(b, "/latency.png?range=3h&amp;w=200&amp;h=80\">");
	}
	html_raw(b, "</article>");
}

struct dev_count {
	int total, unreachable;
	time_t last;
	struct evbuffer *b;
};

static void
unreachable_row(const struct lw_sample *s, void *arg)
{
	struct dev_count *dc = arg;
	const char *st = sample_attr(s, "state");

	dc->total++;
	if (s->ts.tv_sec > dc->last)
		dc->last = s->ts.tv_sec;
	if (st == NULL || strcmp(st, "unreachable") != 0)
		return;
	dc->unreachable++;
	html_raw(dc->b, "<li><a href=\"");
	href(dc->b, "/devices/", s->device, "");
	html_raw(dc->b, "\">");
	html_esc(dc->b, s->device);
	html_raw(dc->b, "</a>: ");
	html_esc(dc->b, sample_attr(s, "reason"));
	html_raw(dc->b, "</li>");
}

static void
overview_links(struct pages *p, struct evbuffer *b, const struct lw_config *cfg)
{
	html_raw(b, "<section id=\"links\" data-refresh=\"/?fragment=links\" data-every=\"10\">"
	            "<div class=\"tiles\">");
	for (size_t i = 0; i < cfg->nlinks; i++)
		link_tile(p, b, &cfg->links[i]);
	html_raw(b, "</div>");
	if (cfg->nlinks == 0)
		html_raw(b, "<p class=\"note\">No link is configured yet: add a <code>link</code> "
		            "section to the configuration (see <code>linewatchd "
		            "--suggest-config</code>).</p>");
	html_raw(b, "<h2>Open tickets</h2>");
	if (p->tickets.open_rows) {
		html_raw(b, "<div class=\"scroll\"><table><thead><tr><th>Ticket</th><th>Link</th>"
		            "<th>Problem</th><th>Severity</th><th>Age</th><th>SLA</th></tr></thead>"
		            "<tbody>");
		p->tickets.open_rows(b, NULL, p->tickets.arg);
		html_raw(b, "</tbody></table></div>");
	} else
		html_raw(b, "<p>Tickets are not available.</p>");

	struct evbuffer *devs = evbuffer_new();
	struct dev_count dc = {0, 0, 0, devs};
	if (devs != NULL) {
		state_foreach(p->st, LW_SUBJ_DEVICE, NULL, unreachable_row, &dc);
		html_raw(b, "<h2>Devices</h2><p>%d polled, %d unreachable; last poll ", dc.total,
		         dc.unreachable);
		if (dc.last) {
			char buf[64];
			html_raw(b, "%s ago",
			         units_fmt_duration((int64_t)(time(NULL) - dc.last) * 1000, buf,
			                            sizeof(buf)));
		} else
			html_raw(b, "not yet");
		html_raw(b, ".</p>");
		if (dc.unreachable) {
			html_raw(b, "<ul class=\"unreachable\">");
			evbuffer_add_buffer(b, devs);
			html_raw(b, "</ul>");
		}
		evbuffer_free(devs);
	}
	html_raw(b, "</section>");
}

static void
page_frame(struct pages *p, struct evhttp_request *req, struct html_page *hp, const char *title,
           const char *active)
{
	const struct lw_config *cfg = *p->cfgp;

	memset(hp, 0, sizeof(*hp));
	hp->title = title;
	hp->site = cfg->site;
	hp->active = active;
	hp->user = auth_user(p->auth, req);
	hp->csrf = hp->user ? auth_csrf(p->auth, req) : NULL;
}

static void
overview_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct pages *p = arg;
	const struct lw_config *cfg = *p->cfgp;
	struct evbuffer *b;
	struct html_page hp;

	if (strcmp(rest, "/") != 0 && rest[0] != '\0') {
		http_reply_error(req, 404, "no such page");
		return;
	}
	if (!auth_may_read(p->auth, req))
		return;
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (fragment_is(req, "links")) {
		overview_links(p, b, cfg);
		html_send(req, 200, b);
		evbuffer_free(b);
		return;
	}
	page_frame(p, req, &hp, "Is the internet OK?", "overview");
	hp.refresh_s = 30;
	html_begin(b, &hp);
	overview_links(p, b, cfg);
	html_end(b);
	html_send(req, 200, b);
	evbuffer_free(b);
}

/* --- devices ------------------------------------------------------------ */

static void
device_row(const struct lw_sample *s, void *arg)
{
	struct evbuffer *b = arg;
	const char *st = sample_attr(s, "state");

	html_raw(b, "<tr><td><a href=\"");
	href(b, "/devices/", s->device, "");
	html_raw(b, "\">");
	html_esc(b, s->device);
	html_raw(b, "</a></td><td>");
	html_badge(b, st ? st : "unknown");
	html_raw(b, "</td><td>");
	html_esc(b, sample_attr(s, "sysName"));
	html_raw(b, "</td><td>");
	html_esc(b, sample_attr(s, "sysDescr"));
	html_raw(b, "</td><td>");
	age_text(b, s);
	html_raw(b, "</td></tr>");
}

static void
devices_list(struct pages *p, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	struct html_page hp;

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	page_frame(p, req, &hp, "Devices", "devices");
	html_begin(b, &hp);
	html_raw(b, "<div class=\"scroll\"><table><thead><tr><th>Device</th><th>State</th>"
	            "<th>Name</th><th>Description</th><th>Last poll</th></tr></thead><tbody>");
	state_foreach(p->st, LW_SUBJ_DEVICE, NULL, device_row, b);
	html_raw(b, "</tbody></table></div>");
	html_end(b);
	html_send(req, 200, b);
	evbuffer_free(b);
}

struct iface_ctx {
	struct evbuffer *b;
	const char *device;
};

static void
iface_row(const struct lw_sample *s, void *arg)
{
	struct iface_ctx *ic = arg;
	struct evbuffer *b = ic->b;
	const char *oper = sample_attr(s, "oper_status");

	html_raw(b, "<tr><td>");
	html_esc(b, s->name);
	html_raw(b, "</td><td>");
	html_esc(b, sample_attr(s, "alias"));
	html_raw(b, "</td><td>");
	html_badge(b, oper ? oper : "unknown");
	html_raw(b, " / ");
	html_esc(b, sample_attr(s, "admin_status"));
	html_raw(b, "</td><td class=\"num\">");
	rate_text(b, s, "speed_bps");
	html_raw(b, "</td><td class=\"num\">");
	rate_text(b, s, "in_bps");
	html_raw(b, "</td><td class=\"num\">");
	rate_text(b, s, "out_bps");
	html_raw(b, "</td>");
	num_cell(b, s, "utilization_in_pct", " %", 1);
	num_cell(b, s, "utilization_out_pct", " %", 1);
	num_cell(b, s, "in_errors_ps", "", 60);
	num_cell(b, s, "in_discards_ps", "", 60);
	html_raw(b, "<td><a href=\"");
	href(b, "/graph/interface/", ic->device, "/");
	html_url(b, s->name);
	html_raw(b, "/traffic.png?range=1d\">traffic</a> · <a href=\"");
	href(b, "/graph/interface/", ic->device, "/");
	html_url(b, s->name);
	html_raw(b, "/errors.png?range=1d\">errors</a></td></tr>");
}

static void
device_page(struct pages *p, struct evhttp_request *req, const struct lw_device *d)
{
	const struct lw_sample *s = state_get(p->st, LW_SUBJ_DEVICE, d->name, NULL);
	struct evbuffer *b = evbuffer_new();
	struct iface_ctx ic = {b, d->name};
	struct html_page hp;
	const struct lw_metric *up;
	char buf[64];

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	page_frame(p, req, &hp, d->name, "devices");
	html_begin(b, &hp);
	html_raw(b, "<section id=\"device\"><table class=\"facts\"><tbody><tr><th>State</th><td>");
	html_badge(b, s && sample_attr(s, "state") ? sample_attr(s, "state") : "unknown");
	if (s && s->message) {
		html_raw(b, " ");
		html_esc(b, s->message);
	}
	html_raw(b, "</td></tr><tr><th>Address</th><td>");
	html_esc(b, d->address);
	html_raw(b, "</td></tr><tr><th>Name</th><td>");
	html_esc(b, s ? sample_attr(s, "sysName") : NULL);
	html_raw(b, "</td></tr><tr><th>Description</th><td>");
	html_esc(b, s ? sample_attr(s, "sysDescr") : NULL);
	html_raw(b, "</td></tr><tr><th>Location</th><td>");
	html_esc(b, s ? sample_attr(s, "sysLocation") : NULL);
	html_raw(b, "</td></tr><tr><th>Uptime</th><td>");
	if ((up = metric(s, "uptime_s")) != NULL)
		html_esc(b, units_fmt_duration((int64_t)(up->value * 1000), buf, sizeof(buf)));
	html_raw(b, "</td></tr><tr><th>Last poll</th><td>");
	age_text(b, s);
	html_raw(b, "</td></tr></tbody></table>");
	html_raw(b, "<h2>Interfaces</h2><div class=\"scroll\"><table><thead><tr><th>Interface</th>"
	            "<th>Alias</th><th>Status</th><th>Speed</th><th>In</th><th>Out</th>"
	            "<th>Util in</th><th>Util out</th><th>Errors/min</th><th>Discards/min</th>"
	            "<th>Graphs</th></tr></thead><tbody>");
	state_foreach(p->st, LW_SUBJ_INTERFACE, d->name, iface_row, &ic);
	html_raw(b, "</tbody></table></div><h2>Reachability</h2><div class=\"graphs\">"
	            "<img alt=\"SNMP reachability, last day\" src=\"");
	href(b, "/graph/device/", d->name, "/reachability.png?range=1d");
	html_raw(b, "\"></div></section>");
	html_end(b);
	html_send(req, 200, b);
	evbuffer_free(b);
}

static void
devices_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct pages *p = arg;
	const struct lw_device *d;
	size_t dlen;
	char *name;

	if (!auth_may_read(p->auth, req))
		return;
	if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
		devices_list(p, req);
		return;
	}
	name = evhttp_uridecode(rest + 1, 0, &dlen);
	d = (name && strlen(name) == dlen) ? config_device(*p->cfgp, name) : NULL;
	free(name);
	if (d == NULL) {
		http_reply_error(req, 404, "no such device");
		return;
	}
	device_page(p, req, d);
}

/* --- links -------------------------------------------------------------- */

static void
probe_row(const struct lw_sample *s, void *arg)
{
	struct evbuffer *b = arg;

	html_raw(b, "<tr><td>");
	html_esc(b, s->name);
	html_raw(b, "</td><td>");
	html_esc(b, sample_attr(s, "type"));
	html_raw(b, "</td><td>");
	html_esc(b, sample_attr(s, "target"));
	html_raw(b, "</td><td>");
	html_esc(b, sample_attr(s, "hop"));
	html_raw(b, "</td><td>");
	html_badge(b, lw_status_name(s->status));
	html_raw(b, " ");
	html_esc(b, s->message);
	html_raw(b, "</td>");
	num_cell(b, s, "loss", " %", 1);
	num_cell(b, s, "rtt_avg", " ms", 1);
	num_cell(b, s, "jitter", " ms", 1);
	html_raw(b, "<td>");
	age_text(b, s);
	html_raw(b, "</td></tr>");
}

static const char *
range_param(struct evhttp_request *req, char *buf, size_t len)
{
	char *r = http_query(req, "range");

	snprintf(buf, len, "1d");
	for (int i = 0; r && range_names[i]; i++)
		if (strcmp(r, range_names[i]) == 0)
			snprintf(buf, len, "%s", r);
	free(r);
	return buf;
}

static void
link_graphs(struct evbuffer *b, const struct lw_link *l, const char *range)
{
	html_raw(b, "<div class=\"ranges\">Period: ");
	for (int i = 0; range_names[i]; i++) {
		html_raw(b, "<a href=\"");
		href(b, "/links/", l->name, "");
		html_raw(b, "?range=%s\"%s>%s</a>", range_names[i],
		         strcmp(range, range_names[i]) == 0 ? " class=\"on\"" : "", range_names[i]);
	}
	html_raw(b, "</div><div class=\"graphs\">");
	if (l->device && l->interface) {
		html_raw(b, "<img alt=\"traffic in and out against bandwidth\" src=\"");
		href(b, "/graph/interface/", l->device, "/");
		html_url(b, l->interface);
		html_raw(b, "/traffic.png?range=%s\"><img alt=\"errors and discards\" src=\"",
		         range);
		href(b, "/graph/interface/", l->device, "/");
		html_url(b, l->interface);
		html_raw(b, "/errors.png?range=%s\">", range);
	}
	for (size_t i = 0; i < l->nprobes; i++) {
		const char *kinds[] = {"loss", "latency"};
		for (int k = 0; k < 2; k++) {
			html_raw(b, "<img alt=\"%s to ", kinds[k]);
			html_esc(b, l->probes[i].name);
			html_raw(b, "\" src=\"");
			href(b, "/graph/probe/", l->name, "/");
			html_url(b, l->probes[i].name);
			html_raw(b, "/%s.png?range=%s\">", kinds[k], range);
		}
	}
	html_raw(b, "</div>");
}

static void
link_page(struct pages *p, struct evhttp_request *req, const struct lw_link *l)
{
	struct evbuffer *b = evbuffer_new();
	struct probe_summary ps = {0, 0, 0, -1, -1, -1};
	struct html_page hp;
	char range[8], title[160], bw[64];

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	snprintf(title, sizeof(title), "Link %s", l->name);
	page_frame(p, req, &hp, title, "overview");
	html_begin(b, &hp);
	state_foreach(p->st, LW_SUBJ_PROBE, l->name, summarize_probe, &ps);
	html_raw(b, "<table class=\"facts\"><tbody><tr><th>State</th><td>");
	html_badge(b, link_state(p, l, &ps));
	html_raw(b, "</td></tr><tr><th>Provider</th><td>");
	html_esc(b, l->provider);
	html_raw(b, "</td></tr><tr><th>Circuit</th><td>");
	html_esc(b, l->circuit);
	html_raw(b, "</td></tr><tr><th>Carrier support</th><td>");
	html_esc(b, l->support);
	html_raw(b, "</td></tr><tr><th>Bandwidth</th><td>");
	html_esc(b, l->bandwidth_bps ? units_fmt_rate((double)l->bandwidth_bps, bw, sizeof(bw))
	                             : "interface speed");
	html_raw(b, "</td></tr><tr><th>SLA</th><td>%.3g %% · <a href=\"", l->sla_pct);
	href(b, "/sla?link=", l->name, "");
	html_raw(b, "\">this month's availability</a></td></tr>");
	if (l->device) {
		html_raw(b, "<tr><th>Carried by</th><td><a href=\"");
		href(b, "/devices/", l->device, "");
		html_raw(b, "\">");
		html_esc(b, l->device);
		html_raw(b, "</a> ");
		html_esc(b, l->interface);
		html_raw(b, "</td></tr>");
	}
	html_raw(b, "</tbody></table><h2>Graphs</h2>");
	link_graphs(b, l, range_param(req, range, sizeof(range)));
	html_raw(b, "<h2>Probes</h2><div class=\"scroll\"><table><thead><tr><th>Probe</th>"
	            "<th>Type</th><th>Target</th><th>Hop</th><th>Result</th><th>Loss</th>"
	            "<th>Latency</th><th>Jitter</th><th>When</th></tr></thead><tbody>");
	state_foreach(p->st, LW_SUBJ_PROBE, l->name, probe_row, b);
	html_raw(b, "</tbody></table></div>");
	if (p->tickets.open_rows) {
		html_raw(b,
		         "<h2>Open tickets</h2><div class=\"scroll\"><table><thead><tr>"
		         "<th>Ticket</th><th>Link</th><th>Problem</th><th>Severity</th><th>Age</th>"
		         "<th>SLA</th></tr></thead><tbody>");
		p->tickets.open_rows(b, l->name, p->tickets.arg);
		html_raw(b, "</tbody></table></div><p><a href=\"");
		href(b, "/tickets?state=all&amp;link=", l->name, "");
		html_raw(b, "\">All tickets of this link</a></p>");
	}
	html_end(b);
	html_send(req, 200, b);
	evbuffer_free(b);
}

static void
links_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct pages *p = arg;
	const struct lw_link *l;
	size_t dlen;
	char *name;

	if (!auth_may_read(p->auth, req))
		return;
	if (rest[0] != '/' || rest[1] == '\0') {
		http_reply_error(req, 404, "no such link: see /");
		return;
	}
	name = evhttp_uridecode(rest + 1, 0, &dlen);
	l = (name && strlen(name) == dlen) ? config_link(*p->cfgp, name) : NULL;
	free(name);
	if (l == NULL) {
		http_reply_error(req, 404, "no such link");
		return;
	}
	link_page(p, req, l);
}

struct pages *
pages_new(struct lw_http *h, struct lw_state *st, struct auth *auth,
          const struct lw_config *const *cfgp)
{
	struct pages *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->st = st;
	p->auth = auth;
	p->cfgp = cfgp;
	if (http_route(h, "/", overview_cb, p) != 0 || http_route(h, "/devices", devices_cb, p) ||
	    http_route(h, "/links", links_cb, p)) {
		free(p);
		return NULL;
	}
	return p;
}

void
pages_set_tickets(struct pages *p, const struct pages_tickets *t)
{
	p->tickets = *t;
}

void
pages_free(struct pages *p)
{
	free(p);
}
