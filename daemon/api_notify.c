/* api_notify.c - notification status for technicians and for Prometheus */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "api_notify.h"
#include "metrics.h"

struct api_notify {
	struct notify *n;
	struct auth *auth;
};

/* One per process: the daemon registers the API once. */
static struct api_notify api;

static json_t *
iso(int64_t ms)
{
	char buf[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0)
		return json_null();
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *
text_or_null(const char *s)
{
	json_t *j;

	if (s == NULL || *s == '\0')
		return json_null();
	/* errors may quote a server: never let bad UTF-8 lose the field */
	return (j = json_string(s)) != NULL ? j : json_string("?");
}

static void
add_dest(const struct notify_dest_stats *s, void *arg)
{
	json_array_append_new(
	    arg, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "kind", s->kind,
	                   "name", s->name, "waiting", (json_int_t)s->queued, "delivered",
	                   (json_int_t)s->delivered, "failed_attempts", (json_int_t)s->failed,
	                   "refused", (json_int_t)s->rejected, "dropped", (json_int_t)s->dropped,
	                   "failing_for", (json_int_t)s->consecutive_failures, "last_delivered",
	                   iso(s->last_ok_ms), "last_error", text_or_null(s->last_error)));
}

static void
status_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct api_notify *a = arg;
	struct notify_totals t;
	json_t *dests = json_array();

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		json_decref(dests);
		http_reply_error(req, 405, "only GET here");
		return;
	}
	if (a->auth != NULL && !auth_may_read(a->auth, req)) {
		json_decref(dests);
		return;
	}
	if (rest[0] != '\0' && strcmp(rest, "/") != 0) {
		json_decref(dests);
		http_reply_error(req, 404, "no such page");
		return;
	}
	notify_totals(a->n, &t);
	notify_foreach(a->n, add_dest, dests);
	http_reply_json(req, 200,
	                json_pack("{s:{s:I, s:I, s:I, s:{s:I, s:I, s:I}}, s:{s:s, s:s, s:I}, s:o}",
	                          "outbox", "waiting", (json_int_t)t.waiting, "max",
	                          (json_int_t)t.max, "write_errors", (json_int_t)t.write_errors,
	                          "dropped", "heartbeat", (json_int_t)t.dropped_heartbeat,
	                          "state_change", (json_int_t)t.dropped_state, "ticket_event",
	                          (json_int_t)t.dropped_ticket, "snmp", "enterprise_oid",
	                          t.enterprise_oid, "engine_id", t.engine_id, "engine_boots",
	                          (json_int_t)t.engine_boots, "destinations", dests));
}

int
api_notify_register(struct lw_http *h, struct notify *n, struct auth *auth)
{
	api.n = n;
	api.auth = auth;
	return http_route(h, "/api/v1/notifications", status_cb, &api);
}

static void
dest_metrics(const struct notify_dest_stats *s, void *arg)
{
	struct evbuffer *b = arg;

	metrics_value(b, "linewatch_notify_waiting", (double)s->queued, "kind", s->kind,
	              "destination", s->name, (const char *)NULL);
}

static void
dest_counters(const struct notify_dest_stats *s, void *arg)
{
	struct evbuffer *b = arg;

	metrics_value(b, "linewatch_notify_delivered_total", (double)s->delivered, "kind", s->kind,
	              "destination", s->name, (const char *)NULL);
}

static void
dest_failed(const struct notify_dest_stats *s, void *arg)
{
	metrics_value(arg, "linewatch_notify_failed_attempts_total", (double)s->failed, "kind",
	              s->kind, "destination", s->name, (const char *)NULL);
}

static void
dest_refused(const struct notify_dest_stats *s, void *arg)
{
	metrics_value(arg, "linewatch_notify_refused_total", (double)s->rejected, "kind", s->kind,
	              "destination", s->name, (const char *)NULL);
}

void
api_notify_metrics(struct evbuffer *b, void *arg)
{
	struct notify *n = arg;
	struct notify_totals t;

	notify_totals(n, &t);
	metrics_family(b, "linewatch_notify_waiting", "gauge",
	               "Notifications in the outbox waiting for delivery.");
	notify_foreach(n, dest_metrics, b);
	metrics_family(b, "linewatch_notify_delivered_total", "counter",
	               "Notifications delivered since start.");
	notify_foreach(n, dest_counters, b);
	metrics_family(b, "linewatch_notify_failed_attempts_total", "counter",
	               "Delivery attempts that failed and will be retried.");
	notify_foreach(n, dest_failed, b);
	metrics_family(b, "linewatch_notify_refused_total", "counter",
	               "Notifications the receiver refused (dropped, not retried).");
	notify_foreach(n, dest_refused, b);
	metrics_family(b, "linewatch_notify_dropped_total", "counter",
	               "Notifications dropped because the outbox was full.");
	metrics_value(b, "linewatch_notify_dropped_total", (double)t.dropped_heartbeat, "class",
	              "heartbeat", (const char *)NULL);
	metrics_value(b, "linewatch_notify_dropped_total", (double)t.dropped_state, "class",
	              "state_change", (const char *)NULL);
	metrics_value(b, "linewatch_notify_dropped_total", (double)t.dropped_ticket, "class",
	              "ticket_event", (const char *)NULL);
	metrics_family(b, "linewatch_notify_outbox_write_errors_total", "counter",
	               "Outbox writes the database did not take (sent from memory).");
	metrics_value(b, "linewatch_notify_outbox_write_errors_total", (double)t.write_errors,
	              (const char *)NULL);
}
