/* trap.h - SNMP notifications (LINEWATCH-MIB) to one upstream manager.
 *
 * v1 traps, v2c traps and informs, v3 traps and informs (noAuthNoPriv,
 * authNoPriv, authPriv) through net-snmp's asynchronous single-session
 * API: the session's socket is a libevent read event, its retransmission
 * timeouts a libevent timer.  An inform is delivered when the manager
 * acknowledges it (net-snmp retransmits `retries` times, every `timeout`);
 * a trap when it has been sent.
 *
 * SNMPv3 informs discover the manager's engine ID with an asynchronous
 * RFC 3414 probe before the first inform (and again after a failure).
 * SNMPv3 traps are sent with linewatchd's own engine ID (trap_env), so the
 * manager must know the user under that engine ID (snmptrapd: createUser
 * -e ENGINEID user SHA authkey AES privkey).
 */
#ifndef LW_TRAP_H
#define LW_TRAP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "config.h"
#include "deliver.h"

/* Default OID of linewatchMIB (etc/mibs/LINEWATCH-MIB.txt): net-snmp's
 * netSnmpPlaypen, a placeholder until a Private Enterprise Number exists. */
#define TRAP_DEFAULT_ENTERPRISE "1.3.6.1.4.1.8072.9999.9999"

/* What every sender shares; owned by the caller, outlives the senders. */
struct trap_env {
	oid root[MAX_OID_LEN]; /* linewatchMIB */
	size_t rootlen;
	unsigned char engine_id[32]; /* ours, for v3 traps */
	size_t engine_id_len;
	uint32_t engine_boots;
	int64_t started_ms; /* monotonic: sysUpTime counts from here */
};

/* Parse a numeric OID ("1.3.6.1.4.1.8072.9999.9999"); -1 if it is not one. */
int trap_parse_oid(const char *s, oid *out, size_t *outlen);

/* Prepare net-snmp once: no config files, no persistent state, no MIBs. */
void trap_lib_init(void);

/* -t: is target a UDP transport address net-snmp can open (the port
 * defaults to 162)?  0, or -1 with err filled. */
int trap_check_target(const char *target, char *err, size_t errlen);

struct trap_sender;

/* Opens the session (no network traffic).  NULL with err filled. */
struct trap_sender *trap_new(struct event_base *base, const struct lw_upstream *u,
                             const struct trap_env *env, char *err, size_t errlen);
/* Abandons an inform under way (its callback is not called). */
void trap_free(struct trap_sender *t);

/* One notification at a time.  Traps: DELIVER_OK once sent.  Informs:
 * DELIVER_PENDING, cb follows.  DELIVER_RETRY/REJECT with why filled. */
enum deliver_result trap_send(struct trap_sender *t, const char *payload, deliver_cb cb, void *arg,
                              char *why, size_t whylen);

/* The PDU for a payload (command SNMP_MSG_TRAP2, SNMP_MSG_INFORM or
 * SNMP_MSG_TRAP for v1); NULL with why filled when the payload is not a
 * notification.  For tests and trap_send. */
netsnmp_pdu *trap_build_pdu(const struct trap_env *env, int command, const char *payload, char *why,
                            size_t whylen);

#endif
