/* pages_tickets.c - ticket list, ticket page with timeline and actions, SLA
 * report.  Rendered from the same JSON the API serves (ticket.h, sla via
 * incidents), so the pages and the API never disagree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_links.h"
#include "html.h"
#include "log.h"
#include "pages_tickets.h"
#include "ticket.h"
#include "units.h"

#define PAGE_SIZE 50

struct pages_tickets_ctx {
	struct incidents *inc;
	struct auth *auth;
	const struct lw_config *const *cfgp;
	struct pages *pages;
};

struct pending {
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	char ref[16];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
jget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static time_t
iso_time(const char *s)
{
	struct tm tm;

	if (s == NULL || *s == '\0')
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		return 0;
	return timegm(&tm);
}

static void
when(struct evbuffer *b, const char *iso)
{
	time_t t = iso_time(iso);
	char buf[64], dur[64];
	struct tm tm;

	if (t == 0) {
		html_raw(b, "–");
		return;
	}
	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	html_raw(b, "<time datetime=\"");
	html_esc(b, iso);
	html_raw(b, "\">%s</time> (%s ago)", buf,
	         units_fmt_duration((int64_t)(time(NULL) - t) * 1000, dur, sizeof(dur)));
}

/* "due in 3 h" / "overdue by 20 min" / "met" from the ticket's sla object. */
static void
sla_countdown(struct evbuffer *b, json_t *t)
{
	json_t *sla = json_object_get(t, "sla");
	const char *resp = jget(sla, "response"), *res = jget(sla, "resolution");
	int acked = jget(t, "acknowledged") != NULL;
	const char *due = acked ? jget(sla, "resolution_due") : jget(sla, "response_due");
	const char *what = acked ? "resolution" : "response";
	time_t d = iso_time(due), now = time(NULL);
	char dur[64];

	if (strcmp(jget(t, "state") ? jget(t, "state") : "", "resolved") == 0) {
		html_esc(b, res ? res : "–");
		return;
	}
	(void)resp;
	if (d == 0) {
		html_raw(b, "–");
		return;
	}
	if (d >= now)
		html_raw(b, "%s due in %s", what,
		         units_fmt_duration((int64_t)(d - now) * 1000, dur, sizeof(dur)));
	else
		html_raw(b, "<span class=\"error\">%s overdue by %s</span>", what,
		         units_fmt_duration((int64_t)(now - d) * 1000, dur, sizeof(dur)));
}

static void
ticket_row(struct evbuffer *b, json_t *t)
{
	const char *ref = jget(t, "ref");
	char dur[64];
	json_t *ts = json_object_get(t, "opened_ts");

	html_raw(b, "<tr><td><a href=\"/tickets/");
	html_url(b, ref);
	html_raw(b, "\">");
	html_esc(b, ref);
	html_raw(b, "</a></td><td>");
	if (jget(t, "link")) {
		html_raw(b, "<a href=\"/links/");
		html_url(b, jget(t, "link"));
		html_raw(b, "\">");
		html_esc(b, jget(t, "link"));
		html_raw(b, "</a>");
	} else
		html_esc(b, jget(t, "name"));
	html_raw(b, "</td><td>");
	html_esc(b, jget(t, "title"));
	if (json_is_true(json_object_get(t, "flapping")))
		html_raw(b, " <span class=\"badge warning\">flapping</span>");
	html_raw(b, "</td><td>");
	html_badge(b, jget(t, "severity"));
	html_raw(b, " ");
	html_badge(b, jget(t, "state"));
	html_raw(b, "</td><td>");
	if (json_is_integer(ts))
		html_esc(b,
		         units_fmt_duration(((int64_t)time(NULL) - json_integer_value(ts)) * 1000,
		                            dur, sizeof(dur)));
	html_raw(b, "</td><td>");
	sla_countdown(b, t);
	html_raw(b, "</td></tr>");
}

/* For the overview and link pages (pages.h hook). */
static void
open_rows(struct evbuffer *b, const char *link, void *arg)
{
	struct pages_tickets_ctx *pt = arg;
	json_t *list =
	    ticket_list_json(incidents_db(pt->inc), "open", link, PAGE_SIZE, 0, now_ms());
	json_t *arr = json_object_get(list, "tickets"), *t;
	size_t i;

	if (json_array_size(arr) == 0)
		html_raw(b, "<tr><td colspan=\"6\">No open ticket.</td></tr>");
	json_array_foreach(arr, i, t) ticket_row(b, t);
	json_decref(list);
}

static const char *
link_state(const char *link, void *arg)
{
	struct pages_tickets_ctx *pt = arg;
	struct incident_link_status st;

	if (incidents_link_status(pt->inc, link, &st) != 0)
		return "unknown";
	return st.state;
}

static void
frame(struct pages_tickets_ctx *pt, struct evhttp_request *req, struct html_page *hp,
      const char *title, const char *active)
{
	memset(hp, 0, sizeof(*hp));
	hp->title = title;
	hp->site = (*pt->cfgp)->site;
	hp->active = active;
	hp->user = auth_user(pt->auth, req);
	hp->csrf = hp->user ? auth_csrf(pt->auth, req) : NULL;
}

static void
filter_link(struct evbuffer *b, const char *state, const char *link, const char *label)
{
	html_raw(b, "<a href=\"/tickets?state=%s", state);
	if (link) {
		html_raw(b, "&amp;link=");
		html_url(b, link);
	}
	html_raw(b, "\">%s</a> ", label);
}

static void
list_page(struct pages_tickets_ctx *pt, struct evhttp_request *req)
{
	char *state = http_query(req, "state"), *link = http_query(req, "link");
	char *sev = http_query(req, "severity"), *pg = http_query(req, "page");
	const char *st = state && (!strcmp(state, "all") || !strcmp(state, "resolved") ||
	                           !strcmp(state, "acknowledged"))
	                     ? state
	                     : "open";
	int page = pg ? atoi(pg) : 0;
	struct evbuffer *b = evbuffer_new();
	struct html_page hp;
	json_t *list, *t;
	size_t i;
	int shown = 0;

	if (page < 0 || page > 100000)
		page = 0;
	if (link && config_link(*pt->cfgp, link) == NULL) {
		free(link);
		link = NULL;
	}
	list = ticket_list_json(incidents_db(pt->inc), st, link, PAGE_SIZE, page * PAGE_SIZE,
	                        now_ms());
	frame(pt, req, &hp, "Tickets", "tickets");
	html_begin(b, &hp);
	html_raw(b, "<p class=\"filters\">Show: ");
	filter_link(b, "open", link, "open");
	filter_link(b, "all", link, "all");
	html_raw(b,
	         "· Severity: <a href=\"/tickets?state=%s&amp;severity=critical\">critical</a> "
	         "<a href=\"/tickets?state=%s&amp;severity=warning\">warning</a> · Link: ",
	         st, st);
	for (size_t k = 0; k < (*pt->cfgp)->nlinks; k++) {
		html_raw(b, "<a href=\"/tickets?state=%s&amp;link=", st);
		html_url(b, (*pt->cfgp)->links[k].name);
		html_raw(b, "\">");
		html_esc(b, (*pt->cfgp)->links[k].name);
		html_raw(b, "</a> ");
	}
	html_raw(b, "</p><div class=\"scroll\"><table id=\"tickets\"><thead><tr><th>Ticket</th>"
	            "<th>Link</th><th>Problem</th><th>Severity / state</th><th>Age</th><th>SLA</th>"
	            "</tr></thead><tbody>");
	json_array_foreach(json_object_get(list, "tickets"), i, t)
	{
		if (sev && jget(t, "severity") && strcmp(sev, jget(t, "severity")) != 0)
			continue;
		ticket_row(b, t);
		shown++;
	}
	if (shown == 0)
		html_raw(b, "<tr><td colspan=\"6\">No ticket.</td></tr>");
	html_raw(b, "</tbody></table></div><p>");
	json_int_t total = json_integer_value(json_object_get(list, "total"));
	if (page > 0)
		html_raw(b, "<a href=\"/tickets?state=%s&amp;page=%d\">newer</a> ", st, page - 1);
	if ((json_int_t)(page + 1) * PAGE_SIZE < total)
		html_raw(b, "<a href=\"/tickets?state=%s&amp;page=%d\">older</a>", st, page + 1);
	html_raw(b, " %lld tickets</p>", (long long)total);
	html_end(b);
	html_send(req, 200, b);
	evbuffer_free(b);
	json_decref(list);
	free(state);
	free(link);
	free(sev);
	free(pg);
}

static void
metric_line(struct evbuffer *b, json_t *m)
{
	static const struct {
		const char *key, *label, *unit;
	} shown[] = {
	    {"loss", "loss", " %"},           {"latency", "latency", " ms"},
	    {"jitter", "jitter", " ms"},      {"utilization_in", "in", " %"},
	    {"utilization_out", "out", " %"}, {"errors_per_min", "errors", "/min"},
	};
	json_t *v, *probes, *p;
	size_t i;

	if (!json_is_object(m))
		return;
	html_raw(b, "<div class=\"metrics\">");
	for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++) {
		v = json_object_get(m, shown[k].key);
		if (json_is_number(v))
			html_raw(b, "%s %.1f%s · ", shown[k].label, json_number_value(v),
			         shown[k].unit);
	}
	probes = json_object_get(m, "probes");
	json_array_foreach(probes, i, p)
	{
		html_raw(b, "<br>");
		html_esc(b, jget(p, "name"));
		html_raw(b, ": ");
		html_esc(b, jget(p, "message"));
	}
	html_raw(b, "</div>");
}

static void
incident_graphs(struct evbuffer *b, const struct lw_config *cfg, json_t *t)
{
	const struct lw_link *l = jget(t, "link") ? config_link(cfg, jget(t, "link")) : NULL;
	time_t from = iso_time(jget(t, "problem_since")), to = iso_time(jget(t, "resolved"));

	if (l == NULL || from == 0)
		return;
	if (to == 0)
		to = time(NULL);
	from -= 1800;
	to += 1800;
	if (to > time(NULL))
		to = time(NULL);
	html_raw(b, "<h2>The incident window</h2><div class=\"graphs\">");
	for (size_t i = 0; i < l->nprobes; i++) {
		const char *kinds[] = {"loss", "latency"};
		for (int k = 0; k < 2; k++) {
			html_raw(b, "<img alt=\"%s to ", kinds[k]);
			html_esc(b, l->probes[i].name);
			html_raw(b, " during the incident\" src=\"/graph/probe/");
			html_url(b, l->name);
			html_raw(b, "/");
			html_url(b, l->probes[i].name);
			html_raw(b, "/%s.png?start=%ld&amp;end=%ld\">", kinds[k], (long)from,
			         (long)to);
		}
	}
	if (l->device && l->interface) {
		html_raw(b, "<img alt=\"traffic during the incident\" src=\"/graph/interface/");
		html_url(b, l->device);
		html_raw(b, "/");
		html_url(b, l->interface);
		html_raw(b, "/traffic.png?start=%ld&amp;end=%ld\">", (long)from, (long)to);
	}
	html_raw(b, "</div>");
}

static void
action_form(struct evbuffer *b, const char *ref, const char *action, const char *label,
            const char *csrf, int comment)
{
	html_raw(b, "<form method=\"post\" action=\"/tickets/");
	html_url(b, ref);
	html_raw(b, "/%s\" class=\"action\">", action);
	html_raw(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", csrf ? csrf : "");
	if (comment)
		html_raw(b, "<textarea name=\"text\" rows=\"2\" cols=\"40\" maxlength=\"2000\" "
		            "placeholder=\"What was done, who was called\" required></textarea>");
	html_raw(b, "<button type=\"submit\" name=\"do\" value=\"%s\">%s</button></form>", action,
	         label);
}

static void
facts(struct evbuffer *b, json_t *t)
{
	static const char *const rows[][2] = {
	    {"Provider", "provider"},
	    {"Circuit", "circuit"},
	    {"Carrier support", "support"},
	    {"Device", "device"},
	    {"Acknowledged by", "acknowledged_by"},
	    {"Resolved by", "resolved_by"},
	    {"Resolution", "resolution"},
	};
	json_t *blame = json_object_get(t, "blame"), *r;
	size_t i;

	html_raw(b, "<table class=\"facts\"><tbody><tr><th>State</th><td>");
	html_badge(b, jget(t, "severity"));
	html_raw(b, " ");
	html_badge(b, jget(t, "state"));
	if (json_is_true(json_object_get(t, "flapping")))
		html_raw(b, " <span class=\"badge warning\">flapping</span>");
	html_raw(b, "</td></tr>");
	if (json_is_object(blame)) {
		html_raw(b, "<tr><th>Where is the fault</th><td><strong>");
		html_esc(b, jget(blame, "verdict"));
		html_raw(b, "</strong><ul>");
		json_array_foreach(json_object_get(blame, "reasons"), i, r)
		{
			html_raw(b, "<li>");
			html_esc(b, json_is_string(r) ? json_string_value(r) : NULL);
			html_raw(b, "</li>");
		}
		html_raw(b, "</ul></td></tr>");
	}
	for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		if (jget(t, rows[k][1]) == NULL)
			continue;
		html_raw(b, "<tr><th>%s</th><td>", rows[k][0]);
		html_esc(b, jget(t, rows[k][1]));
		html_raw(b, "</td></tr>");
	}
	html_raw(b, "<tr><th>Problem since</th><td>");
	when(b, jget(t, "problem_since"));
	html_raw(b, "</td></tr><tr><th>Opened</th><td>");
	when(b, jget(t, "opened"));
	html_raw(b, "</td></tr><tr><th>Acknowledged</th><td>");
	when(b, jget(t, "acknowledged"));
	html_raw(b, "</td></tr><tr><th>Resolved</th><td>");
	when(b, jget(t, "resolved"));
	html_raw(b, "</td></tr><tr><th>SLA</th><td>");
	sla_countdown(b, t);
	html_raw(b, "</td></tr></tbody></table>");
}

static void
timeline(struct evbuffer *b, json_t *t)
{
	json_t *e;
	size_t i;

	html_raw(b, "<h2>Timeline</h2><ol class=\"timeline\">");
	json_array_foreach(json_object_get(t, "events"), i, e)
	{
		html_raw(b, "<li data-type=\"");
		html_esc(b, jget(e, "type"));
		html_raw(b, "\">");
		when(b, jget(e, "time"));
		html_raw(b, " <strong>");
		html_esc(b, jget(e, "type"));
		html_raw(b, "</strong>");
		if (jget(e, "severity")) {
			html_raw(b, " ");
			html_badge(b, jget(e, "severity"));
		}
		if (jget(e, "who")) {
			html_raw(b, " by ");
			html_esc(b, jget(e, "who"));
		}
		if (jget(e, "text")) {
			html_raw(b, "<p>");
			html_esc(b, jget(e, "text"));
			html_raw(b, "</p>");
		}
		metric_line(b, json_object_get(e, "metrics"));
		html_raw(b, "</li>");
	}
	html_raw(b, "</ol>");
}

static void
ticket_page(struct pages_tickets_ctx *pt, struct evhttp_request *req, int64_t id)
{
	json_t *t = ticket_get_json(incidents_db(pt->inc), id, now_ms());
	struct evbuffer *b;
	struct html_page hp;
	char title[64];
	const char *state;
	int may_act;

	if (t == NULL) {
		http_reply_error(req, 404, "no such ticket");
		return;
	}
	b = evbuffer_new();
	snprintf(title, sizeof(title), "Ticket %s", jget(t, "ref"));
	frame(pt, req, &hp, title, "tickets");
	html_begin(b, &hp);
	html_raw(b, "<p class=\"lead\">");
	html_esc(b, jget(t, "title"));
	html_raw(b, "</p>");
	facts(b, t);
	state = jget(t, "state") ? jget(t, "state") : "";
	may_act = hp.user != NULL || (!auth_has_users(pt->auth) && http_from_loopback(req));
	if (may_act) {
		html_raw(b, "<div class=\"actions\">");
		if (!strcmp(state, "open"))
			action_form(b, jget(t, "ref"), "ack", "Acknowledge", hp.csrf, 0);
		if (strcmp(state, "resolved") != 0)
			action_form(b, jget(t, "ref"), "resolve", "Resolve", hp.csrf, 0);
		else
			action_form(b, jget(t, "ref"), "reopen", "Reopen", hp.csrf, 0);
		action_form(b, jget(t, "ref"), "comment", "Add comment", hp.csrf, 1);
		html_raw(b, "</div>");
	} else
		html_raw(b,
		         "<p class=\"note\"><a href=\"/login?next=/tickets/%s\">Log in</a> to "
		         "acknowledge, comment or resolve.</p>",
		         jget(t, "ref"));
	incident_graphs(b, *pt->cfgp, t);
	html_raw(b, "<p>Packets around the opening, for the carrier: <a href=\"/api/v1/evidence"
	            "?ticket=");
	html_url(b, jget(t, "ref"));
	html_raw(b, "\">evidence captures</a> (pcap, opens in Wireshark).</p>");
	timeline(b, t);
	html_end(b);
	html_send(req, 200, b);
	evbuffer_free(b);
	json_decref(t);
}

static void
on_close(struct evhttp_connection *c, void *arg)
{
	struct pending *p = arg;

	p->req = NULL;
	p->conn = NULL;
}

static void
action_done(int rc, void *arg)
{
	struct pending *p = arg;
	char loc[64];

	if (p->conn)
		evhttp_connection_set_closecb(p->conn, NULL, NULL);
	if (p->req) {
		snprintf(loc, sizeof(loc), "/tickets/%s", p->ref);
		evhttp_add_header(evhttp_request_get_output_headers(p->req), "Location", loc);
		evhttp_send_reply(p->req, 303, "See Other", NULL);
	}
	free(p);
}

static void
action_post(struct pages_tickets_ctx *pt, struct evhttp_request *req, int64_t id, const char *verb)
{
	struct evkeyvalq form;
	enum incident_action a;
	const char *who, *text;
	struct pending *p;
	char msg[256];
	int rc;

	if (!strcmp(verb, "ack"))
		a = INCIDENT_ACK;
	else if (!strcmp(verb, "comment"))
		a = INCIDENT_COMMENT;
	else if (!strcmp(verb, "resolve"))
		a = INCIDENT_RESOLVE;
	else if (!strcmp(verb, "reopen"))
		a = INCIDENT_REOPEN;
	else {
		http_reply_error(req, 404, "no such action");
		return;
	}
	if (auth_parse_form(req, &form) != 0) {
		http_reply_error(req, 400, "the form could not be read");
		return;
	}
	who = auth_may_write(pt->auth, req, evhttp_find_header(&form, "csrf"));
	if (who == NULL) {
		evhttp_clear_headers(&form);
		return;
	}
	text = evhttp_find_header(&form, "text");
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		evhttp_clear_headers(&form);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	p->req = req;
	p->conn = evhttp_request_get_connection(req);
	ticket_ref(id, p->ref, sizeof(p->ref));
	rc = incidents_action(pt->inc, id, a, who, text, action_done, p, msg, sizeof(msg));
	evhttp_clear_headers(&form);
	if (rc != 0) {
		free(p);
		http_reply_error(req, rc, "%s", msg);
		return;
	}
	if (p->conn)
		evhttp_connection_set_closecb(p->conn, on_close, p);
}

static void
tickets_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct pages_tickets_ctx *pt = arg;
	char ref[32], verb[16];
	int64_t id;
	int n;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST && !auth_may_read(pt->auth, req))
		return;
	if (rest[0] == '\0' || !strcmp(rest, "/")) {
		list_page(pt, req);
		return;
	}
	n = sscanf(rest, "/%31[A-Za-z0-9-]/%15[a-z]", ref, verb);
	id = n >= 1 ? ticket_ref_id(ref) : -1;
	if (id < 0) {
		http_reply_error(req, 404, "no such ticket");
		return;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && n == 2)
		action_post(pt, req, id, verb);
	else if (n == 1)
		ticket_page(pt, req, id);
	else
		http_reply_error(req, 405, "use POST for ticket actions");
}

static void
hours(struct evbuffer *b, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	char buf[64];

	html_esc(b, json_is_integer(v)
	                ? units_fmt_duration(json_integer_value(v) * 1000, buf, sizeof(buf))
	                : "–");
}

static void
sla_link(struct evbuffer *b, json_t *r)
{
	json_t *inc, *avail = json_object_get(r, "availability_pct");
	size_t i;

	html_raw(b, "<section class=\"sla\"><h2>");
	html_esc(b, jget(r, "link"));
	html_raw(b, "</h2><table class=\"facts\"><tbody><tr><th>Availability</th><td><strong>");
	if (json_is_number(avail))
		html_raw(b, "%.3f %%", json_number_value(avail));
	html_raw(b, "</strong> against %.3g %% contracted: ",
	         json_number_value(json_object_get(r, "sla_pct")));
	html_badge(b, json_is_true(json_object_get(r, "met")) ? "met" : "missed");
	html_raw(b, "</td></tr><tr><th>Downtime</th><td>");
	hours(b, r, "downtime_s");
	html_raw(b, "</td></tr><tr><th>Degraded</th><td>");
	hours(b, r, "degraded_s");
	html_raw(b, "</td></tr><tr><th>Planned maintenance</th><td>");
	hours(b, r, "maintenance_s");
	html_raw(b, "</td></tr><tr><th>Period counted</th><td>");
	hours(b, r, "counted_s");
	html_raw(b, "</td></tr></tbody></table><table><thead><tr><th>Problem</th><th>Started</th>"
	            "<th>Ended</th><th>Duration</th><th>Counts as</th><th>Ticket</th></tr></thead>"
	            "<tbody>");
	json_array_foreach(json_object_get(r, "incidents"), i, inc)
	{
		html_raw(b, "<tr><td>");
		html_esc(b, jget(inc, "kind"));
		html_raw(b, "</td><td>");
		html_esc(b, jget(inc, "start"));
		html_raw(b, "</td><td>");
		html_esc(b, jget(inc, "end") ? jget(inc, "end") : "going on");
		html_raw(b, "</td><td>");
		hours(b, inc, "duration_s");
		html_raw(b, "</td><td>");
		html_esc(b, jget(inc, "counts_as"));
		if (jget(inc, "held")) {
			html_raw(b, " (");
			html_esc(b, jget(inc, "held"));
			html_raw(b, ")");
		}
		html_raw(b, "</td><td>");
		if (jget(inc, "ticket")) {
			html_raw(b, "<a href=\"/tickets/");
			html_url(b, jget(inc, "ticket"));
			html_raw(b, "\">");
			html_esc(b, jget(inc, "ticket"));
			html_raw(b, "</a>");
		}
		html_raw(b, "</td></tr>");
	}
	if (json_array_size(json_object_get(r, "incidents")) == 0)
		html_raw(b, "<tr><td colspan=\"6\">No incident this month.</td></tr>");
	html_raw(b, "</tbody></table></section>");
}

static void
sla_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct pages_tickets_ctx *pt = arg;
	const struct lw_config *cfg = *pt->cfgp;
	char *qm = http_query(req, "month"), *ql = http_query(req, "link");
	char month[16], err[128], title[96];
	struct evbuffer *b;
	struct html_page hp;
	int shown = 0;

	if (!auth_may_read(pt->auth, req)) {
		free(qm);
		free(ql);
		return;
	}
	if (qm)
		snprintf(month, sizeof(month), "%.15s", qm);
	else
		api_links_this_month(month, sizeof(month));
	b = evbuffer_new();
	snprintf(title, sizeof(title), "Availability report %s", month);
	frame(pt, req, &hp, title, "sla");
	html_begin(b, &hp);
	html_raw(b, "<form method=\"get\" action=\"/sla\" class=\"filters\"><label>Month "
	            "<input name=\"month\" value=\"");
	html_esc(b, month);
	html_raw(b, "\" pattern=\"[0-9]{4}-[0-9]{2}\" size=\"8\"></label> <button>Show</button>"
	            "</form><p class=\"note\">");
	html_esc(b, cfg->site);
	html_raw(b, ". Availability = 1 − downtime ÷ period counted; planned maintenance is not "
	            "counted; \"degraded\" is time with any open problem.</p>");
	for (size_t i = 0; i < cfg->nlinks; i++) {
		const struct lw_link *l = &cfg->links[i];
		json_t *r;
		if (ql && strcmp(ql, l->name) != 0)
			continue;
		if ((r = api_links_sla_json(pt->inc, cfg, l, month, err, sizeof(err))) == NULL) {
			html_raw(b, "<p class=\"error\">");
			html_esc(b, err);
			html_raw(b, "</p>");
			break;
		}
		html_raw(b, "<p class=\"meta\">");
		html_esc(b, l->provider);
		html_raw(b, " · circuit ");
		html_esc(b, l->circuit);
		html_raw(b, " · support ");
		html_esc(b, l->support);
		html_raw(b, "</p>");
		sla_link(b, r);
		json_decref(r);
		shown++;
	}
	if (shown == 0 && cfg->nlinks == 0)
		html_raw(b, "<p>No link is configured.</p>");
	html_end(b);
	html_send(req, 200, b);
	evbuffer_free(b);
	free(qm);
	free(ql);
}

struct pages_tickets_ctx *
pages_tickets_new(struct lw_http *h, struct pages *pages, struct incidents *inc, struct auth *auth,
                  const struct lw_config *const *cfgp)
{
	struct pages_tickets_ctx *pt = calloc(1, sizeof(*pt));
	struct pages_tickets hook;

	if (pt == NULL)
		return NULL;
	pt->inc = inc;
	pt->auth = auth;
	pt->cfgp = cfgp;
	pt->pages = pages;
	if (http_route(h, "/tickets", tickets_cb, pt) != 0 || http_route(h, "/sla", sla_cb, pt)) {
		free(pt);
		return NULL;
	}
	hook.link_state = link_state;
	hook.open_rows = open_rows;
	hook.arg = pt;
	pages_set_tickets(pages, &hook);
	return pt;
}

void
pages_tickets_free(struct pages_tickets_ctx *pt)
{
	free(pt);
}
