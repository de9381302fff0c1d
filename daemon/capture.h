/* capture.h - traffic sampling with libpcap, one thread per capture.
 *
 * Each `capture` section opens its interface (before privileges are
 * dropped) and runs capture, decoding and aggregation in a thread of its
 * own; per packet there is no allocation and no lock.  At the end of each
 * interval the thread hands a finished report to the event loop (mutex-
 * protected swap of preallocated buffers, then event_active), which
 * publishes a LW_SUBJ_CAPTURE sample (total_bps, tcp_bps, udp_bps,
 * icmp_bps, other_bps, pps, drops, interface_drops, undecoded) and queues
 * the tops for the traffic database.  Kernel and interface drops come from
 * pcap_stats() and are always reported.  Captures with `applications = yes`
 * classify through appclass-ndpi.so (appclass.h), loaded from plugin-dir at
 * start only when one does; a missing plugin is a configuration error.
 */
#ifndef LW_CAPTURE_H
#define LW_CAPTURE_H

#include <stddef.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "sample.h"

struct captures;
struct capture;
struct traffic_db;

/* Check what the configuration parser cannot: each capture's BPF filter
 * compiles.  Reports "FILE:LINE: ..." through cb; returns the error count. */
int capture_check_config(const struct lw_config *cfg, config_error_cb cb, void *arg);

/* Opens every configured capture and starts its thread; NULL (each
 * problem logged) if one cannot be opened: failing loudly at start-up. */
struct captures *captures_start(struct event_base *base, const struct lw_config *cfg,
                                struct lw_bus *bus);
/* Stops the threads (finishing evidence files being written) and frees. */
void captures_stop(struct captures *cs);
/* Interfaces cannot be reopened without privileges: changed capture
 * sections take effect at the next restart (logged). */
void captures_reload(struct captures *cs, const struct lw_config *cfg);

size_t captures_count(const struct captures *cs);
struct capture *captures_get(struct captures *cs, size_t i);
struct capture *captures_find(struct captures *cs, const char *name);
struct traffic_db *captures_db(struct captures *cs);
const char *captures_evidence_dir(const struct captures *cs);

const char *capture_name(const struct capture *c);
const char *capture_link(const struct capture *c);
/* {name, interface, link, running, error, ..., "latest": report} */
json_t *capture_status_json(const struct capture *c, int with_report);

/* Write the ring (frames from t - ring) and the next evidence-after of
 * traffic to <state-dir>/evidence/<capture>-<ticket_ref>.pcap.  Returns 0
 * once queued for the capture thread, -1 if the capture is not running or
 * too many files are being written. */
int evidence_trigger(struct capture *c, const char *ticket_ref, time_t t);
/* Trigger every capture that sees `link`; returns how many did. */
int captures_ticket_opened(struct captures *cs, const char *link, const char *ticket_ref, time_t t);

/* Heaviest hosts, conversations and services between from and to of each
 * capture on `link` (NULL: every capture): {"<capture>": {...}}, or an empty
 * object.  For a ticket's opening event. */
json_t *traffic_top_talkers(struct captures *cs, const char *link, time_t from, time_t to);

#endif
