/* traffic.h - per-interval traffic aggregation and its report.
 *
 * The aggregator counts decoded packets into fixed-size Space-Saving tables
 * (hosts, conversations, services) and exact per-class totals.  Bytes are
 * frame bytes as on the wire (the pcap "len" of each frame, which is what
 * tshark's conversation and endpoint statistics count).  No I/O, no clock,
 * no locks, no allocation after traffic_agg_new(): the capture thread and
 * the offline replay drive it the same way.
 */
#ifndef LW_TRAFFIC_H
#define LW_TRAFFIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <jansson.h>

#include "decode.h"

#define TRAFFIC_TOP_DEFAULT 20
#define TRAFFIC_MAX_LOCAL 32 /* local networks an aggregator knows */

/* Traffic classes published as <class>_bps. */
enum traffic_class {
	TC_TCP = 0,
	TC_UDP,
	TC_ICMP,  /* ICMP and ICMPv6 */
	TC_OTHER, /* other IP protocols, tunnels, non-IP, undecodable frames */
	TC_N
};

struct traffic_host {
	uint8_t family;
	uint8_t addr[16];
	bool local;
	uint64_t tx_bytes, rx_bytes; /* sent by / sent to this host */
	uint64_t tx_pkts, rx_pkts;
	uint64_t error; /* Space-Saving bound: bytes may be overstated by this */
};

struct traffic_conv {
	uint8_t family;
	uint8_t a[16], b[16]; /* a < b bytewise */
	uint64_t ab_bytes, ba_bytes;
	uint64_t ab_pkts, ba_pkts;
	uint64_t error;
};

struct traffic_service {
	uint8_t proto;
	uint16_t port; /* 0 for protocols without ports */
	uint64_t bytes, pkts;
	uint64_t to_server_bytes; /* towards `port` */
	uint64_t error;
};

#define TRAFFIC_APPS_MAX 32 /* applications a report carries */

/* An application as nDPI names it ("TLS.Google", "DNS"). */
struct traffic_app {
	char name[64];
	char category[32];
	uint64_t bytes, pkts;
	uint64_t flows; /* classified in the interval */
};

struct traffic_report {
	struct timeval start, end;
	uint32_t sample_n;    /* 1 in N packets aggregated (counts scaled back) */
	uint64_t pkts, bytes; /* every frame seen, exact */
	uint64_t class_bytes[TC_N], class_pkts[TC_N];
	uint64_t ip_pkts, fragments, tunnels, l4_cut;
	uint64_t malformed[DECODE_NRESULTS]; /* [DECODE_OK] unused */
	uint64_t drops, ifdrops;             /* kernel and interface drops (live capture) */
	bool drops_valid;
	uint64_t evictions; /* keys pushed out of the tables: tops are estimates */
	size_t max;         /* capacity of the arrays below */
	size_t nhosts, nconvs, nservices;
	struct traffic_host *hosts;
	struct traffic_conv *convs;
	struct traffic_service *services;
	/* with application classification (appclass.h) */
	bool apps_valid;
	size_t napps;
	uint64_t app_evictions; /* flows pushed out of the fixed flow table */
	struct traffic_app apps[TRAFFIC_APPS_MAX];
};

/* How a capture's `memory` is spent, so that live capture and replay size
 * their tables alike and the whole of it is bounded by one number: the
 * kernel's packet ring (`buffer`, a quarter of memory by default: mmapped,
 * it is resident like any other memory), 1 MB for the capture thread's
 * own allocations when there is room; when classifying applications,
 * nDPI's protocol tables (fixed, TRAFFIC_APPS_FIXED) and of the rest a
 * quarter for the flow table; then a quarter of what remains for the
 * evidence ring and the remainder for the top-N tables. */
#define TRAFFIC_MEMORY_MIN (2ULL << 20)
#define TRAFFIC_BUFFER_MIN (1ULL << 20)
/* nDPI 4.2's detection module: 4.4 MB allocated, 5.6 MB resident */
#define TRAFFIC_APPS_FIXED (6ULL << 20)
struct traffic_budget {
	uint64_t kernel, overhead, apps_fixed, apps, evidence, tables;
};
/* buffer 0 = the default share.  The configuration is checked first
 * (memory >= TRAFFIC_MEMORY_MIN, buffer and nDPI leave at least
 * TRAFFIC_BUFFER_MIN); past that each part gets at least a minimum. */
void traffic_budget_split(uint64_t memory, uint64_t buffer, bool apps, struct traffic_budget *b);

struct traffic_agg;

/* budget: bytes for the tables (fixed, whatever the traffic); top: how many
 * entries of each table a report carries (0 = everything in the tables). */
struct traffic_agg *traffic_agg_new(uint64_t budget, size_t top, uint64_t seed);
void traffic_agg_free(struct traffic_agg *a);
/* Entries per table a report gets (report arrays must hold as many). */
size_t traffic_agg_top(const struct traffic_agg *a);

/* Local networks (hosts there are "local": in = rx, out = tx).  Without any,
 * RFC 1918, RFC 6598, link-local and ULA addresses are local. */
int traffic_agg_add_local(struct traffic_agg *a, int family, const void *addr, int prefixlen);
int traffic_agg_parse_local(struct traffic_agg *a, const char *cidr);

/* Every frame, before sampling: exact totals. */
void traffic_agg_frame(struct traffic_agg *a, uint32_t wirelen);

/* A decoded (or undecodable) frame; scale = sampling factor (1 = all). */
void traffic_agg_add(struct traffic_agg *a, enum decode_result r, const struct decode_pkt *p,
                     uint32_t wirelen, uint32_t scale);

/* Fill a report (tops sorted heaviest first) and start a new interval. */
void traffic_agg_flush(struct traffic_agg *a, struct traffic_report *r);

struct traffic_report *traffic_report_new(size_t max);
void traffic_report_free(struct traffic_report *r);
/* Copy src into dst (dst->max >= src counts). */
void traffic_report_copy(struct traffic_report *dst, const struct traffic_report *src);

/* {"start":..., "totals":{...}, "hosts":[...], ...} */
json_t *traffic_report_json(const struct traffic_report *r);
double traffic_report_seconds(const struct traffic_report *r);

/* Well-known service name of a port ("https"), or NULL. */
const char *traffic_service_name(uint8_t proto, uint16_t port);
const char *traffic_proto_name(uint8_t proto, char *buf, size_t len);
const char *traffic_class_name(enum traffic_class c);
/* Address text (inet_ntop); buf of at least 46 bytes. */
const char *traffic_addr_str(int family, const uint8_t *addr, char *buf, size_t len);

#endif
