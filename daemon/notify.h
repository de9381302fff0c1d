/* notify.h - upstream notifications: SNMP traps and informs, webhooks,
 * e-mail, all through one persistent outbox.
 *
 * Ticket events (notify_post) become one outbox item per destination that
 * wants them: every upstream, and every webhook/email whose `events` list
 * names the event (an empty list takes all).  Each upstream also gets a
 * coldStart when the daemon starts and an lwHeartbeat every `heartbeat`.
 * Items are written to state-dir/linewatch.db before they are sent and
 * removed once delivered (trap: sent; inform: acknowledged; webhook: 2xx;
 * mail: accepted by the SMTP server); see outbox.h.  A destination delivers
 * its items one at a time, in order; a failure is retried after a back-off
 * (1 s doubling to 1 min) until it succeeds, across restarts: delivery is at
 * least once.  A webhook answering 4xx other than 401, 403, 404, 408, 425
 * and 429 refuses the payload itself: that item is dropped and logged.
 * heartbeat = "0s" sends no heartbeats.  Traps are fire and forget: only
 * informs, webhooks and mail know that the receiver has it.
 *
 * The payload of every item is the JSON document of web/webhook.md
 * (without "id", which is the item's outbox id, added when sent).
 */
#ifndef LW_NOTIFY_H
#define LW_NOTIFY_H

#include <stdint.h>

#include <event2/event.h>

#include "config.h"

enum notify_type {
	NOTIFY_OPENED = 1,
	NOTIFY_UPDATED, /* severity or evidence changed */
	NOTIFY_ACKNOWLEDGED,
	NOTIFY_COMMENTED,
	NOTIFY_RESOLVED,
	NOTIFY_REOPENED,
	NOTIFY_LINK_STATE,
	NOTIFY_HEARTBEAT,  /* made by notify itself */
	NOTIFY_COLD_START, /* made by notify itself */
};

/* One event, borrowed for the duration of the call.  NULL strings are
 * left out.  metrics_json: the evidence, either {"loss": 12.5, ...} or
 * {"loss": {"value": 12.5, "unit": "%"}, ...} or [{"name": "loss",
 * "value": 12.5, "unit": "%"}, ...]; unknown units are guessed from the
 * name (loss, utilization: %, latency, rtt, jitter: ms).  Its "probes"
 * array and "interface" object (incident.c's evidence) are kept too. */
struct notify_event {
	enum notify_type type;
	int64_t time_ms; /* when it happened, unix ms; 0 = now */
	const char *ref; /* ticket reference */
	const char *kind;
	const char *severity; /* "warning", "critical" */
	const char *state;    /* "open", "acknowledged", "resolved" */
	const char *title;
	const char *link; /* link name */
	const char *provider;
	const char *circuit;
	const char *link_state; /* "up", "degraded", "down", "unknown" */
	const char *metrics_json;
	const char *device; /* device tickets: the device's name */
	const char *blame;  /* link tickets: lan, cpe, isp, beyond, unknown */
	const char *text;   /* the comment, or what the event says */
	const char *by;     /* who acted (acknowledge, comment, resolve) */
};

struct notify;
struct db;

/* Loads the outbox from db (opened, migrated and attached to base by the
 * caller, closed after notify_free), queues coldStart for every upstream
 * and starts delivering.  NULL (after logging why) on failure. */
struct notify *notify_new(struct event_base *base, struct db *db, const struct lw_config *cfg);
/* Switch to cfg: unchanged destinations keep their state; changed ones
 * start over with their queue; removed ones drop their queue (logged). */
int notify_reload(struct notify *n, const struct lw_config *cfg);
/* Stops delivering and closes the outbox after its last write; whatever is
 * not delivered yet waits on disk for the next start. */
void notify_free(struct notify *n);

/* Queue a ticket or link-state event for every destination that wants it. */
void notify_post(struct notify *n, const struct notify_event *ev);

/* -t and reload: what config.c cannot know (enterprise OID, transports).
 * Returns the number of errors reported through cb. */
int notify_check_config(const struct lw_config *cfg, config_error_cb cb, void *arg);

/* For the API and tests. */
struct notify_dest_stats {
	const char *kind; /* "upstream", "webhook", "email" */
	const char *name;
	uint64_t queued, delivered, failed, rejected, dropped;
	unsigned consecutive_failures;
	int64_t last_ok_ms;     /* 0 = never */
	const char *last_error; /* "" when none */
};
/* Calls cb for each destination, in configuration order by kind. */
void notify_foreach(struct notify *n, void (*cb)(const struct notify_dest_stats *s, void *arg),
                    void *arg);

struct notify_totals {
	uint64_t waiting; /* items in the outbox, every destination */
	uint64_t max;     /* tickets { outbox-max } */
	uint64_t dropped_heartbeat, dropped_state, dropped_ticket; /* since start */
	uint64_t write_errors;
	char engine_id[72]; /* hex, for SNMPv3 traps */
	uint32_t engine_boots;
	const char *enterprise_oid;
};
void notify_totals(struct notify *n, struct notify_totals *t);

/* The JSON payload of an event (web/webhook.md, without "id"); caller
 * frees.  NULL if ev->type is not valid. */
char *notify_payload(const struct notify_event *ev, const char *site);

const char *notify_type_name(enum notify_type t);
/* "opened" ... "cold-start" back to the type; 0 if unknown. */
enum notify_type notify_type_parse(const char *s);

#endif
