/* api_tickets.h - the tickets API.
 *
 *   GET  /api/v1/tickets?state=open|acknowledged|resolved|all&link=NAME&limit=N&offset=N
 *        {"tickets": [TICKET...], "total": N, "limit": N, "offset": N}, newest
 *        first; state defaults to open (= not resolved), limit to 50 (1..500)
 *   GET  /api/v1/tickets/REF                TICKET with "events": [EVENT...]
 *   GET  /api/v1/tickets/kpi?month=YYYY-MM  tickets opened that month (local
 *        time; default this month): opened, acknowledged, resolved, mtta_s,
 *        mttr_s (mean seconds from opening to acknowledgement / resolution),
 *        response_met_pct, resolution_met_pct, by_severity {warning, critical}
 *   POST /api/v1/tickets/REF/ack|acknowledge|comment|resolve|reopen
 *        body (JSON object, may be empty): {"by": "who", "text": "..."};
 *        comment needs text.  Answers with the TICKET after the change is
 *        committed to the database; 404 unknown ticket, 409 wrong state,
 *        400 bad body, 503 database refusing writes.  Who may write is
 *        auth_may_write()'s (auth.h): a web session with its CSRF token (the
 *        session's user acts), or "local" - from loopback when no web-user
 *        is configured, or linewatchctl from loopback (X-Linewatch-Client);
 *        otherwise 401/403.  For "local", "by" names the person.
 *
 * TICKET: ref, key, subject (link|device|site), name, kind, title, severity
 * (warning|critical), state (open|acknowledged|resolved), flapping, blame
 * {verdict: lan|cpe|isp|beyond|unknown, reasons: [...]} or null, link,
 * device, provider, circuit, support, problem_since, opened, opened_ts,
 * acknowledged, acknowledged_by, resolved, resolved_by, resolution,
 * duration_s, reopened, sla {response_due, resolution_due, response,
 * resolution: met|missed|pending}.  Times are ISO 8601 UTC or null.
 * EVENT: id, time, ts, type, severity, who, text, metrics (object or null).
 */
#ifndef LW_API_TICKETS_H
#define LW_API_TICKETS_H

#include "config.h"
#include "db.h"
#include "auth.h"
#include "http.h"
#include "incident.h"

void api_tickets_register(struct lw_http *h, struct incidents *inc, struct db *db,
                          struct auth *auth, const struct lw_config *const *cfgp);

#endif
