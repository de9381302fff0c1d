/* perfdata.h - Monitoring Plugins output: status text and performance data.
 *
 * A check command prints "TEXT | 'label'=value[UOM];[warn];[crit];[min];[max] ..."
 * (Monitoring Plugins development guidelines).  The output comes from an
 * arbitrary program, so parsing never trusts it: nothing is allocated, every
 * length is bounded, malformed items are counted and skipped.
 */
#ifndef LW_PERFDATA_H
#define LW_PERFDATA_H

#include <stdbool.h>
#include <stddef.h>

#define PERF_LABEL_MAX 64
#define PERF_UOM_MAX 8

/* A threshold range: "10", "10:", "~:10", "10:20", "@10:20". */
struct perf_range {
	bool set;
	bool inside;  /* '@': alert when inside start..end */
	double start; /* -INFINITY for '~' */
	double end;   /* INFINITY when omitted */
};

struct perf_item {
	char label[PERF_LABEL_MAX]; /* unquoted; longer labels are truncated */
	char uom[PERF_UOM_MAX];     /* as written: "ms", "KB", "%", "c", "" */
	double value;               /* NAN for "U" (unknown) */
	struct perf_range warn;
	struct perf_range crit;
	bool has_min;
	bool has_max;
	double min;
	double max;
};

/* Parse whitespace separated items from s[0..len).  Stores at most max
 * items and returns how many; *bad (may be NULL) counts malformed items and
 * items beyond max. */
size_t perfdata_parse(const char *s, size_t len, struct perf_item *items, size_t max, size_t *bad);

/* Split a whole plugin output: the first line's text (trimmed, without its
 * performance data) goes to msg; the performance data of the first line and
 * of the long text (everything after the next '|') is parsed as above. */
size_t perfdata_parse_output(const char *out, size_t len, char *msg, size_t msglen,
                             struct perf_item *items, size_t max, size_t *bad);

/* Parse one range; 0 on success, -1 if malformed.  An empty string leaves
 * r->set false. */
int perfdata_range_parse(const char *s, size_t len, struct perf_range *r);

/* The item's value in linewatch units: durations in "ms", sizes in "B";
 * percentages, counters ("c") and other units unchanged. */
const char *perfdata_normalize(const struct perf_item *it, double *value);

#endif
