/* incident.h - from samples to tickets: evaluation, dependencies, actions.
 *
 * Subscribes to the sample bus.  Every sample of a link (its probes, its
 * interface) or of a device is an evaluation of that subject's problem keys
 * ("link:NAME:KIND", "device:NAME:KIND"), each run through its own
 * detect.h state machine with the link's degraded { } thresholds:
 *
 *   link   down       interface oper down with admin up, or every probe
 *                     failing: failed reachability results (probes with a
 *                     loss figure; service probes when there are none) in a
 *                     row with no success between, the nearest hop among
 *                     them; critical.  Flap edges: ifOperStatus changes (or
 *                     the probes' verdict changing when there is no
 *                     interface) - flap-count of them in flap-window make
 *                     one ticket marked flapping.
 *          loss       a probe's loss above `loss` (critical from
 *                     `loss-critical`).  Loss, latency and jitter count
 *                     `for` bad results in a row of one probe, or of the
 *                     link's probes taken together (each result once).
 *                     One probe does not hide another's trouble, and
 *                     trouble every probe sees is confirmed N probes times
 *                     sooner.
 *          latency    a probe's latency (median, else average) above
 *                     `latency`, or `baseline` x its learned median for this
 *                     hour of the day (past 7 days, once 3 days are known)
 *                     and 20 ms above it; critical above 2 x `latency`
 *          jitter     above `jitter`; critical above 2 x
 *          saturation in or out utilization of `bandwidth` (else ifSpeed)
 *                     at or above `utilization`; critical from 98%
 *          errors     input errors + discards per minute above `errors`
 *          service    a probe without a loss figure (dns, http, tcp, exec)
 *                     critical
 *   device unreachable SNMP state unreachable; critical
 *          ups_battery on battery (warning; critical under 10 min left)
 *          battery_low battery low; critical
 *          storage    fullest disk at or above 90% (critical from 98%)
 *   site   no_path    with two links or more, every link down: said once
 *
 *   Links use their degraded for/clear/hold-down; devices for = 2, clear =
 *   2 and tickets { hold-down }.
 *
 * A problem opens a ticket unless it is held:
 *   - maintenance: a maintenance window names the link, its device or the
 *     device: the problem is recorded, no ticket (one opens if it outlasts
 *     the window);
 *   - suppressed: the subject's dominant problem (the link's down, the
 *     device's unreachable) or its parent's (parent = device or link, up
 *     the chain) has an open ticket: a "suppressed" event goes on that
 *     ticket instead; the child gets its own ticket if it outlasts it;
 *   - waiting: the dominant problem is pending (at most 60 s).
 * A problem recurring within hold-down of its ticket's resolution reopens
 * that ticket.  Blame (blame.h) is evaluated for link tickets at opening and
 * re-evaluated on every evaluation; a changed verdict (seen twice in a row,
 * at most one change a minute) becomes a timeline event and the title
 * follows.
 *
 * Restarts: open tickets are reloaded and their keys seeded as problems
 * (detect_seed).  The first bad evaluation confirms the problem (timeline
 * "restarted": the same ticket continues, no duplicate).  If `clear` good
 * evaluations in a row come first, the problem cleared while linewatchd was
 * not running: the ticket resolves at that moment with the resolution
 * "recovered while linewatchd was not running (last seen running ...,
 * restarted ...)".  Problem periods of held problems open at the stop end
 * at the last heartbeat (written every minute).
 */
#ifndef LW_INCIDENT_H
#define LW_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "db.h"
#include "sample.h"
#include "ticket.h"

struct incidents;

/* Loads open tickets from db and subscribes to bus.  NULL (logged) on a
 * database read error.  cfg must stay valid until the next reload. */
struct incidents *incidents_new(struct event_base *base, struct lw_bus *bus, struct db *db,
                                const struct lw_config *cfg);
int incidents_reload(struct incidents *inc, const struct lw_config *cfg);
/* Unsubscribes and frees; writes still queued commit later without
 * notifying anyone. */
void incidents_free(struct incidents *inc);

/* Hear every ticket event after it is committed (struct ticket_event in
 * ticket.h), on the loop, in order.  0, or -1 out of memory. */
int ticket_subscribe(struct incidents *inc, ticket_event_cb cb, void *arg);
void ticket_unsubscribe(struct incidents *inc, ticket_event_cb cb, void *arg);

/* Optional: the heaviest hosts on a link between from and to, as evidence
 * when blame says the LAN fills the line.  The shape of capture.h's
 * traffic_top_talkers(): {"<capture>": {"totals": {"bytes": N}, "hosts":
 * [{"address": "198.18.3.2", "bytes": N}, ...]}}; NULL when unknown.  The
 * caller (incident.c) releases it. */
typedef json_t *(*incidents_talkers_fn)(const char *link, time_t from, time_t to, void *arg);
void incidents_set_talkers(struct incidents *inc, incidents_talkers_fn fn, void *arg);

struct db *incidents_db(struct incidents *inc);

/* ---- actions (API) ------------------------------------------------------- */

enum incident_action { INCIDENT_ACK, INCIDENT_COMMENT, INCIDENT_RESOLVE, INCIDENT_REOPEN };

/* Act on ticket `id` as `who` (text: the comment, or a note for the
 * others; may be NULL).  Returns 0 when the change is queued: done(rc, arg)
 * runs after it is committed (rc SQLITE_OK) or given up.  Otherwise an HTTP
 * status with msg filled: 404 no such ticket, 409 not in a state for it,
 * 400 bad input, 503 the database refused the write. */
int incidents_action(struct incidents *inc, int64_t id, enum incident_action a, const char *who,
                     const char *text, void (*done)(int rc, void *arg), void *arg, char *msg,
                     size_t msglen);

/* ---- link status (API) --------------------------------------------------- */

struct incident_link_status {
	const char *state; /* "ok", "degraded", "down", "unknown" */
	const char *blame; /* of the shown ticket, or NULL */
	bool loss_valid, latency_valid, jitter_valid, util_valid, errors_valid;
	double loss_pct, latency_ms, jitter_ms; /* worst fresh probe */
	double util_in_pct, util_out_pct, errors_per_min;
	const struct ticket *ticket;   /* the open ticket to show (down first), or NULL */
	const struct ticket *open[16]; /* every open ticket of the link */
	size_t nopen;
	bool maintenance; /* in a maintenance window now */
};
/* -1 if the link is unknown. */
int incidents_link_status(struct incidents *inc, const char *link,
                          struct incident_link_status *out);

#endif
