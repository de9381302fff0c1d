/* ticket.h - ticket records: what a ticket is, how it is stored and read.
 *
 * A ticket follows one problem key ("link:isp-fibre:loss") from opened to
 * resolved.  The incident engine (incident.c) keeps its open tickets in
 * memory and writes every change as a batch - the ticket row, its new
 * timeline events, problem periods - that the database writer thread
 * commits in one transaction (db.h).  Readers (the API) query the database.
 *
 * Ticket events go to subscribers after their batch has committed, in
 * commit order (struct ticket_event below; see ticket_subscribe() in
 * incident.h).
 */
#ifndef LW_TICKET_H
#define LW_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "sample.h"

enum ticket_state { TICKET_OPEN = 0, TICKET_ACKNOWLEDGED, TICKET_RESOLVED };

struct ticket {
	int64_t id;
	char ref[16];  /* "LW-000123" */
	char *key;     /* problem key: "link:isp-fibre:loss", "device:ups-1:ups_battery" */
	char *subject; /* "link", "device", "site" */
	char *name;    /* the link's, device's or site's name */
	char *kind;    /* down, loss, latency, jitter, saturation, errors, service,
	                * unreachable, ups_battery, battery_low, storage, no_path */
	char *title;
	char *link, *device, *provider, *circuit, *support; /* NULL when not applicable */
	char *blame;         /* lan, cpe, isp, beyond, unknown; NULL: not a link ticket */
	char *blame_reasons; /* JSON array text */
	enum lw_status severity;
	enum ticket_state state;
	bool flapping;
	int64_t problem_since_ms;
	int64_t opened_ms;
	int64_t acked_ms; /* 0 = not acknowledged */
	char *acked_by;
	int64_t resolved_ms; /* 0 = not resolved */
	char *resolved_by;
	char *resolution;
	int64_t response_due_ms;
	int64_t resolution_due_ms;
	int reopened;
	int64_t updated_ms;
};

/*
 * A ticket event, as subscribers (notifications, capture evidence, pages)
 * receive it: on the loop, after it is committed to the database, in
 * order.  Every pointer is valid during the callback only.
 *
 *   type      opened, reopened, severity, flapping, suppressed, blame,
 *             restarted (problem still present after a daemon restart),
 *             recovered, resolved, acknowledged, comment, note
 *   severity  "warning" or "critical" (the ticket's, after the event)
 *   state     "open", "acknowledged" or "resolved" (after the event)
 *   link, device, provider, circuit, blame, who: NULL when not applicable
 *   metrics   JSON object text: the link's figures at that moment - loss,
 *             latency, jitter (worst fresh probe), utilization_in/out,
 *             errors_per_min, probes [{name, hop, status, message, ...}]
 */
struct ticket_event {
	int64_t id;
	int64_t ticket_id;
	const char *ref;
	const char *type;
	const char *kind;
	const char *severity;
	const char *state;
	const char *key;
	const char *link;
	const char *device;
	const char *provider;
	const char *circuit;
	const char *title;
	const char *blame;
	const char *text;
	const char *who;
	const char *metrics;
	int64_t time_ms;
};

typedef void (*ticket_event_cb)(const struct ticket_event *ev, void *arg);

const char *ticket_state_name(enum ticket_state st);
int ticket_state_parse(const char *s, enum ticket_state *out);
const char *ticket_severity_name(enum lw_status s); /* "warning" / "critical" */
enum lw_status ticket_severity_parse(const char *s);
void ticket_ref(int64_t id, char *buf, size_t len); /* "LW-000123" */
/* "LW-000123" (or "lw-123", "123", at most 12 digits) -> 123; -1 if not a
 * reference */
int64_t ticket_ref_id(const char *ref);

struct ticket *ticket_dup(const struct ticket *t);
void ticket_free(struct ticket *t);
/* Replace *dst with a copy of src (NULL allowed). */
void ticket_set_str(char **dst, const char *src);

/* ---- writing: one batch = one transaction -------------------------------- */

/* Who hears about committed events; detached when the engine stops (batches
 * still in flight then commit silently). */
struct ticket_sink;
struct ticket_sink *ticket_sink_new(ticket_event_cb cb, void *arg);
void ticket_sink_detach(struct ticket_sink *s);

struct ticket_batch;
struct ticket_batch *ticket_batch_new(void);
/* Store this snapshot of the ticket's row (insert or update). */
void ticket_batch_ticket(struct ticket_batch *b, const struct ticket *t);
/* A timeline event of t (t's snapshot is taken for subscribers too). */
void ticket_batch_event(struct ticket_batch *b, const struct ticket *t, int64_t event_id,
                        int64_t at_ms, const char *type, const char *who, const char *text,
                        const char *metrics);
/* A problem period row (insert or update); end_ms 0 = going on, ticket_id 0
 * = none, held NULL/"maintenance"/"suppressed". */
void ticket_batch_problem(struct ticket_batch *b, int64_t id, const char *key, const char *subject,
                          const char *name, const char *link, const char *kind,
                          enum lw_status severity, int64_t start_ms, int64_t end_ms,
                          int64_t ticket_id, const char *held, const char *note);
void ticket_batch_meta(struct ticket_batch *b, const char *key, const char *value);
void ticket_batch_latency(struct ticket_batch *b, const char *link, const char *probe,
                          int64_t hour_ms, double median_ms, int n);
bool ticket_batch_empty(const struct ticket_batch *b);
/* Queue it; sink (may be NULL) hears of its events after the commit, then
 * committed(rc, arg) runs (may be NULL).  The batch is consumed; -1 when
 * the database refused it (logged). */
int ticket_batch_submit(struct db *db, struct ticket_batch *b, struct ticket_sink *sink,
                        void (*committed)(int rc, void *arg), void *arg);
void ticket_batch_free(struct ticket_batch *b);

/* ---- reading (db_reader, on the loop) ----------------------------------- */

struct ticket_ids {
	int64_t ticket, event, problem; /* highest in use */
};
int ticket_max_ids(struct db *db, struct ticket_ids *ids);

/* Every ticket not resolved; cb owns t. */
int ticket_load_open(struct db *db, void (*cb)(struct ticket *t, void *arg), void *arg);
/* The newest ticket of a key (any state), or NULL. */
struct ticket *ticket_load_last(struct db *db, const char *key);
struct ticket *ticket_load(struct db *db, int64_t id);

struct ticket_problem {
	int64_t id;
	const char *key;
	const char *kind;
	int64_t start_ms;
	int64_t end_ms; /* 0 = going on */
	int64_t ticket_id;
	const char *held;
};
/* Problem rows still open (end_ms NULL). */
int ticket_open_problems(struct db *db, void (*cb)(const struct ticket_problem *p, void *arg),
                         void *arg);
/* Problem rows of a link overlapping [from_ms, to_ms). */
int ticket_link_problems(struct db *db, const char *link, int64_t from_ms, int64_t to_ms,
                         void (*cb)(const struct ticket_problem *p, void *arg), void *arg);

int64_t ticket_meta_int(struct db *db, const char *key, int64_t dflt);

/* Hourly latency medians since since_ms: cb(link, probe, hour_ms, median). */
int ticket_latency_load(struct db *db, int64_t since_ms,
                        void (*cb)(const char *link, const char *probe, int64_t hour_ms,
                                   double median, void *arg),
                        void *arg);

/* ---- JSON for the API ----------------------------------------------------- */

json_t *ticket_json(const struct ticket *t, int64_t now_ms);
/* state: "open" (= not resolved), "acknowledged", "resolved", "all";
 * link may be NULL.  {"tickets": [...], "total": N, "limit": L, "offset": O} */
json_t *ticket_list_json(struct db *db, const char *state, const char *link, int limit, int offset,
                         int64_t now_ms);
/* One ticket with its "events"; NULL if there is no such ticket. */
json_t *ticket_get_json(struct db *db, int64_t id, int64_t now_ms);
/* Tickets opened in [from_ms, to_ms): counts, mean time to acknowledge
 * and to resolve, SLA targets met. */
json_t *ticket_kpi_json(struct db *db, int64_t from_ms, int64_t to_ms, int64_t now_ms);

/* "2026-11-25T11:50:18Z"; "" for 0 */
const char *ticket_iso(int64_t ms, char *buf, size_t len);

#endif
