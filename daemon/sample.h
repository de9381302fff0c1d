/* sample.h - the one internal currency between sources and consumers.
 *
 * A source (SNMP poll, probe, capture) fills a struct lw_sample describing one
 * subject at one moment and hands it to sample_publish(); every subscribed
 * consumer (state, rrd_store, detect, ...) sees it synchronously and copies
 * what it needs: the sample and its strings are only borrowed.
 */
#ifndef LW_SAMPLE_H
#define LW_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

enum lw_subject {
	LW_SUBJ_DEVICE = 0, /* device-level metrics: uptime, reachability, ups, host storage */
	LW_SUBJ_INTERFACE,  /* one device interface, keyed by name */
	LW_SUBJ_PROBE,      /* one probe of a link */
	LW_SUBJ_CAPTURE,    /* one capture's interval totals */
};

enum lw_status { LW_OK = 0, LW_WARNING = 1, LW_CRITICAL = 2, LW_UNKNOWN = 3 };

struct lw_metric {
	const char *name; /* user vocabulary: "loss", "rtt_avg", "in_bps" */
	const char *unit; /* "%", "ms", "bps", "pps", "s", ... */
	double value;
	bool valid; /* false = unknown for this interval (discontinuity, missing) */
};

/* A string fact about the subject: sysDescr, ifAlias, oper_status ("up").
 * Device-supplied values are untrusted: escape them wherever shown. */
struct lw_attr {
	const char *name;
	const char *value;
};

struct lw_sample {
	enum lw_subject kind;
	const char *device; /* device name (DEVICE, INTERFACE) */
	const char *link;   /* link name (PROBE) */
	const char *name;   /* interface / probe / capture name; NULL for DEVICE */
	struct timeval ts;
	int64_t interval_ms; /* the source's sampling interval (RRD step) */
	enum lw_status status;
	const char *message; /* short human text, may be NULL */
	const struct lw_metric *metrics;
	size_t nmetrics;
	const struct lw_attr *attrs;
	size_t nattrs;
};

typedef void (*lw_sample_cb)(const struct lw_sample *s, void *arg);

struct lw_bus;

struct lw_bus *sample_bus_new(void);
void sample_bus_free(struct lw_bus *bus);
int sample_subscribe(struct lw_bus *bus, lw_sample_cb cb, void *arg);
void sample_unsubscribe(struct lw_bus *bus, lw_sample_cb cb, void *arg);
void sample_publish(struct lw_bus *bus, const struct lw_sample *s);

/* Find a metric by name; NULL if absent. */
const struct lw_metric *sample_metric(const struct lw_sample *s, const char *name);

const char *sample_attr(const struct lw_sample *s, const char *name);

const char *lw_status_name(enum lw_status st);

#endif
