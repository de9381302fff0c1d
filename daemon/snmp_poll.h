/* snmp_poll.h - SNMP polling of devices on the libevent loop.
 *
 * Every configured device is polled every `interval` with net-snmp's
 * asynchronous single-session API: one UDP socket per device watched by a
 * libevent read event, net-snmp's retransmission timeouts as a libevent
 * timer.  Nothing blocks, no threads.  What is asked for comes from the
 * device's profiles (etc/profiles, see snmp_profile.h) and custom OIDs.
 *
 * Samples published per poll (sample.h), interval_ms = device interval:
 *
 * LW_SUBJ_DEVICE, device = device name, name = NULL
 *   metrics (unit):
 *     reachable         0/1          answered this poll
 *     poll_duration_ms  ms           first request to last answer
 *     uptime_s          s            sysUpTime, 497-day wraps accounted for
 *     profile "ups":    ups_on_battery (0/1), battery_low (0/1),
 *                       battery_minutes (min), battery_charge_pct (%)
 *     profile "host":   memory_used_pct, swap_used_pct, disk_used_pct (%)
 *     custom oids:      their configured name (gauge, or rate per second
 *                       of a counter), unit as configured
 *   attrs: state ("ok" | "unreachable" | "unknown"), reason, address,
 *     sysName, sysDescr, sysObjectID, sysLocation; "ups": output_source,
 *     battery_status; "host": disk_fullest (descr of the fullest disk)
 *   status: LW_OK reachable, LW_CRITICAL unreachable; message = reason
 *
 * LW_SUBJ_INTERFACE, device = device name, name = interface name (ifName,
 * or ifDescr where ifName is empty; one per selected interface)
 *   metrics: in_bps, out_bps (bps), in_pps, out_pps (pps; unicast +
 *     multicast + broadcast), in_errors_ps, out_errors_ps, in_discards_ps,
 *     out_discards_ps (pps), oper_up (0/1), speed_bps (bps),
 *     utilization_in_pct, utilization_out_pct (%), last_change_s (s since
 *     ifLastChange)
 *   attrs: descr, name, alias, oper_status ("up", "down", "testing",
 *     "unknown", "dormant", "notPresent", "lowerLayerDown"), admin_status
 *     ("up", "down", "testing"), ifindex (decimal)
 *   A rate is valid=false for the interval after an agent restart, a
 *   counter reset, an ifCounterDiscontinuityTime change, a rate above 110%
 *   of speed, the first poll, and when the device is unreachable.
 *
 * Polls of many devices are spread over the interval by a hash of the
 * device name; the environment variable LW_SNMP_SPREAD_MS narrows that
 * window (0 = every device at once: benchmarks only).
 *
 * Device-supplied strings in attrs are made printable (control bytes and
 * invalid UTF-8 become '?'); never the community or keys anywhere.
 */
#ifndef LW_SNMP_POLL_H
#define LW_SNMP_POLL_H

#include <event2/event.h>
#include <stdint.h>

#include "config.h"
#include "sample.h"

struct snmp_poller;

/* NULL + logged error on failure (bad profile dir, unknown profile name,
 * session that cannot be opened). */
struct snmp_poller *snmp_poller_new(struct event_base *base, struct lw_bus *bus,
                                    const struct lw_config *cfg);
/* Switch to cfg (kept valid by the caller until the next reload): devices
 * added, removed or changed; unchanged devices keep their counters.
 * Returns -1 (old configuration kept) if the profiles cannot be loaded. */
int snmp_poller_reload(struct snmp_poller *p, const struct lw_config *cfg);
void snmp_poller_free(struct snmp_poller *p);

/* Config check for linewatchd -t and reload: profile dir loads, every
 * device's profiles exist, custom OIDs are numeric.  Returns the number of
 * errors reported through cb. */
int snmp_poller_check(const struct lw_config *cfg, config_error_cb cb, void *arg);

/* Counters of malformed agent behaviour for a device (API, tests). */
struct snmp_dev_stats {
	uint64_t polls, polls_failed, overruns;
	uint64_t timeouts, agent_errors, wrong_types, no_such, non_increasing, too_many_rows,
	    discontinuities;
};
int snmp_poller_stats(struct snmp_poller *p, const char *device, struct snmp_dev_stats *out);

/* --- without sockets: unit tests and the fuzz harness ------------------ */
struct snmp_pdu;
/* A poller whose requests are held for the caller instead of sent. */
struct snmp_poller *snmp_poller_new_offline(struct lw_bus *bus, const struct lw_config *cfg);
/* Offline clock (monotonic ms) used for rates. */
void snmp_poller_set_clock(struct snmp_poller *p, int64_t mono_ms);
/* Start a poll of the device now. */
int snmp_poller_poll_now(struct snmp_poller *p, const char *device);
/* The request awaiting an answer, NULL when the poll is over. */
struct snmp_pdu *snmp_poller_pending(struct snmp_poller *p, const char *device);
/* Answer the pending request (resp borrowed; NULL = timed out). */
void snmp_poller_answer(struct snmp_poller *p, const char *device, struct snmp_pdu *resp);

#endif
