/* api_links.h - the links API: state, figures, open tickets, availability.
 *
 *   GET /api/v1/links              {"links": [LINK...]} in configuration order
 *   GET /api/v1/links/NAME         LINK
 *   GET /api/v1/links/NAME/sla?month=YYYY-MM   availability of one month
 *       (local time; default this month, counted up to now)
 *
 * LINK: name, provider, circuit, support, device, interface, bandwidth_bps
 * (null: the interface speed), sla_pct, state (ok|degraded|down|unknown),
 * maintenance (bool), loss_pct, latency_ms, jitter_ms (worst fresh probe),
 * utilization_in_pct, utilization_out_pct, errors_per_min (null when
 * unknown), probes [{name, type, target, hop, status, message, time,
 * metrics {NAME: {value, unit}}}], ticket (the open ticket shown for the
 * link - its down ticket first, else the most severe: {ref, kind, severity,
 * state, title, blame, flapping}) or null, tickets [refs of every open
 * ticket of the link].
 *
 * SLA: link, month, sla_pct, period_s (up to now), maintenance_s,
 * counted_s, downtime_s (down problems, overlaps once), degraded_s (any
 * problem), availability_pct, met, incidents [{kind, severity, start, end,
 * duration_s, counted_s, ticket, held, counts_as: downtime|degraded}].
 * Availability = 100 x (1 - downtime / counted); see sla.h.
 */
#ifndef LW_API_LINKS_H
#define LW_API_LINKS_H

#include <jansson.h>

#include "config.h"
#include "http.h"
#include "incident.h"
#include "state.h"

/* The availability report of one link and month ("YYYY-MM", local time),
 * as GET .../sla serves it; NULL with err filled. */
json_t *api_links_sla_json(struct incidents *inc, const struct lw_config *cfg,
                           const struct lw_link *l, const char *month, char *err, size_t errlen);
/* "YYYY-MM" of today, local time. */
void api_links_this_month(char *buf, size_t len);

/* Frees the cached list at shutdown. */
void api_links_free(void);

void api_links_register(struct lw_http *h, struct lw_state *st, struct incidents *inc,
                        const struct lw_config *const *cfgp);

#endif
