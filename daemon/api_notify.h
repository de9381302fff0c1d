/* api_notify.h - how notifications are getting out.
 *
 *   GET /api/v1/notifications
 *   {"outbox": {"waiting": N, "max": N, "write_errors": N,
 *               "dropped": {"heartbeat": N, "state_change": N, "ticket_event": N}},
 *    "snmp": {"enterprise_oid": "1.3.6.1.4.1.8072.9999.9999",
 *             "engine_id": "80001f8880...", "engine_boots": N},
 *    "destinations": [{"kind": "upstream"|"webhook"|"email", "name": NAME,
 *                      "waiting": N, "delivered": N, "failed_attempts": N,
 *                      "refused": N, "dropped": N, "failing_for": N,
 *                      "last_delivered": ISO 8601 or null,
 *                      "last_error": "..." or null}, ...]}
 *
 * failing_for: attempts in a row that failed (0 = fine); last_error never
 * holds a community, key, password or header value.  The same figures go to
 * /metrics as linewatch_notify_* (notify_metrics). */
#ifndef LW_API_NOTIFY_H
#define LW_API_NOTIFY_H

#include <event2/buffer.h>

#include "auth.h"
#include "http.h"
#include "notify.h"

/* auth may be NULL (tests): everyone may read. */
int api_notify_register(struct lw_http *h, struct notify *n, struct auth *auth);

/* A metrics_add_source() callback; arg is the struct notify. */
void api_notify_metrics(struct evbuffer *b, void *arg);

#endif
