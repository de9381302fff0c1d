/* snmp_ev.h - one net-snmp single session driven by the libevent loop.
 *
 * The session's socket is a persistent read event; net-snmp's next
 * retransmission or timeout deadline is a libevent timer.  The owner calls
 * snmp_ev_rearm() after every send (the deadline moved); reads and
 * timeouts rearm themselves.  Used by the SNMP poller and the trap/inform
 * sender, so both follow the same rules: no blocking call, no alarms.
 */
#ifndef LW_SNMP_EV_H
#define LW_SNMP_EV_H

#include <stdbool.h>

#include <event2/event.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

struct snmp_ev {
	void *sess; /* net-snmp single-session handle, owned by the caller */
	struct event *ev_read, *ev_tmo;
	netsnmp_large_fd_set fds;
	bool fds_init;
};

/* Watch the session's socket on base.  -1 on failure (no socket, out of
 * memory); snmp_ev_close() is safe afterwards either way. */
int snmp_ev_open(struct snmp_ev *e, struct event_base *base, void *sess);
/* Arm the timer for net-snmp's next deadline (or disarm it). */
void snmp_ev_rearm(struct snmp_ev *e);
/* Whether net-snmp still has a request of this session outstanding. */
bool snmp_ev_pending(struct snmp_ev *e);
/* Stop watching; the session itself is the caller's to close. */
void snmp_ev_close(struct snmp_ev *e);

#endif
