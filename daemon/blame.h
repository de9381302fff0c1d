/* blame.h - where is the fault of a degraded link (pure).
 *
 * From one snapshot of what is known about a link - its router, interface
 * and probes, each probe placed on the path by its hop - blame_evaluate()
 * names the most likely side and the evidence behind it:
 *
 *   cpe     the edge router itself: it does not answer SNMP, it rebooted
 *           recently (sysUpTime restarted), its interface is shut or counts
 *           input errors/discards above the link's threshold;
 *   lan     the LAN side fills the line: utilization at or above the link's
 *           threshold of bandwidth (top talkers from capture when given);
 *   isp     the provider: the interface lost carrier while the router
 *           answers, or loss/latency already to the gateway or isp hop
 *           while the local side (router, interface) is clean;
 *   beyond  the provider's gateway/isp hop is clean, only internet-hop
 *           targets suffer;
 *   unknown nothing points anywhere (e.g. no probe has a hop).
 *
 * Rules are tried in that order; the first that matches decides, and its
 * reasons come first.  The caller re-evaluates as the incident evolves and
 * records a change of verdict in the ticket timeline.
 */
#ifndef LW_BLAME_H
#define LW_BLAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum blame_verdict { BLAME_UNKNOWN = 0, BLAME_LAN, BLAME_CPE, BLAME_ISP, BLAME_BEYOND };

struct blame_probe {
	const char *name;
	const char *target;
	enum lw_hop hop;
	bool fresh;  /* a recent result exists; stale probes are not evidence */
	bool failed; /* no answer at all */
	bool loss_valid;
	double loss_pct;
	bool latency_valid;
	double latency_ms;
	bool jitter_valid;
	double jitter_ms;
	bool bad; /* failed, or above the link's loss/latency/jitter thresholds */
};

struct blame_input {
	const char *device; /* the link's router; NULL if none is configured */
	bool device_known;  /* a recent SNMP poll result exists */
	bool device_reachable;
	int64_t reboot_age_s; /* seconds since a sysUpTime restart was seen; -1 none */
	const char *interface;
	bool iface_known;
	bool oper_down;
	bool admin_down;
	bool util_valid;
	double util_pct;    /* max of in and out, of the link's bandwidth */
	bool util_outbound; /* the max is the outbound direction */
	double bandwidth_bps;
	bool errors_valid;
	double errors_per_min; /* input errors + discards */
	double util_threshold_pct;
	double errors_threshold;
	const char *top_talkers; /* from capture: "198.18.3.2 (62%), ..."; NULL if none */
	const struct blame_probe *probes;
	size_t nprobes;
};

#define BLAME_MAX_REASONS 6
#define BLAME_REASON_LEN 240

struct blame {
	enum blame_verdict verdict;
	int nreasons;
	char reasons[BLAME_MAX_REASONS][BLAME_REASON_LEN];
};

/* A reboot this recent still counts as evidence against the router. */
#define BLAME_REBOOT_RECENT_S 900

void blame_evaluate(const struct blame_input *in, struct blame *out);

/* "lan", "cpe", "isp", "beyond", "unknown" (API, database) */
const char *blame_name(enum blame_verdict v);
/* For ticket titles: "LAN traffic fills the line", ... ; "" for unknown. */
const char *blame_phrase(enum blame_verdict v);
/* Parse a blame_name(); BLAME_UNKNOWN for anything else. */
enum blame_verdict blame_parse(const char *s);

#endif
