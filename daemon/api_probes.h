/* api_probes.h - GET /api/v1/probes: every configured probe and its last result.
 *
 *   /api/v1/probes              all probes ({"probes": [...]})
 *   /api/v1/probes?link=NAME    the probes of one link
 *   /api/v1/probes/LINK         the same
 *   /api/v1/probes/LINK/PROBE   one probe (the object itself; 404 if unknown)
 *
 * A probe object: link, name, type, target, hop (null if unset), interval_ms,
 * timeout_ms, status ("ok", "warning", "critical", "unknown"; "pending"
 * before the first result), message, time (ISO 8601 UTC, null before the
 * first result), ts (unix seconds), metrics {"name": {"value": V, "unit": U}}
 * (value null when unknown).
 */
#ifndef LW_API_PROBES_H
#define LW_API_PROBES_H

#include "config.h"
#include "http.h"
#include "state.h"

/* cfgp points at the daemon's current configuration pointer (reloads). */
void api_probes_register(struct lw_http *h, struct lw_state *st,
                         const struct lw_config *const *cfgp);

#endif
