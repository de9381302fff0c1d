/* api_devices.h - GET /api/v1/devices: SNMP-polled devices and interfaces.
 *
 *   /api/v1/devices          {"devices": [DEVICE, ...]} in configuration order
 *   /api/v1/devices/NAME     one DEVICE (404 if not configured)
 *
 * DEVICE: name, address, port, snmp ("v1", "v2c", "v3"), profiles, state
 * ("ok", "unreachable", "unknown" before the first poll), reason, last_poll
 * (ISO 8601 UTC or null), ts (unix seconds or null), poll_duration_ms,
 * sysName, sysDescr, sysObjectID, sysLocation, uptime_s, metrics
 * {"name": {"value": V, "unit": U}} (all device metrics, value null when
 * unknown), interfaces [IFACE, ...].
 * IFACE: name, alias, descr, ifindex, oper_status, admin_status, speed_bps,
 * in_bps, out_bps, in_pps, out_pps, in_errors_ps, out_errors_ps,
 * in_discards_ps, out_discards_ps, utilization_in_pct, utilization_out_pct,
 * last_change_s (numbers, null when unknown this interval).
 * Communities and SNMPv3 keys are never shown.
 */
#ifndef LW_API_DEVICES_H
#define LW_API_DEVICES_H

#include "config.h"
#include "http.h"
#include "state.h"

/* cfgp points at the daemon's current configuration pointer (reloads). */
void api_devices_register(struct lw_http *h, struct lw_state *st,
                          const struct lw_config *const *cfgp);

#endif
