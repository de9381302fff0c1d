/* sla.h - availability arithmetic and maintenance windows (pure).
 *
 * Availability of a link over a period (a calendar month in the appliance's
 * local time zone):
 *
 *   counted  = the period, up to now, minus its maintenance windows
 *   downtime = the union of the link's "down" problem intervals within the
 *              counted time (overlapping problems count once)
 *   availability % = 100 * (1 - downtime / counted); 100 when nothing counted
 *   met      = availability >= the link's sla
 *
 * Degraded time (any problem: loss, latency, saturation, ...) is reported
 * beside it the same way but does not lower availability: the carrier sold
 * a working line, and a slow line is still up.
 *
 * No I/O; local time comes from localtime_r/mktime (the TZ environment).
 */
#ifndef LW_SLA_H
#define LW_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct sla_interval {
	int64_t start_ms;
	int64_t end_ms; /* <= start: still going on (taken as "until now") */
};

struct sla_result {
	int64_t period_ms;      /* from the period start up to min(end, now) */
	int64_t maintenance_ms; /* of it, inside maintenance windows */
	int64_t counted_ms;     /* period - maintenance */
	int64_t downtime_ms;
	int64_t degraded_ms;
	double availability_pct;
	bool met;
};

/* Length of the union of iv[] within [from, to) outside every exclude[]
 * window.  iv[] is sorted in place; an open interval ends at `to`. */
int64_t sla_union_ms(struct sla_interval *iv, size_t n, int64_t from_ms, int64_t to_ms,
                     const struct sla_interval *exclude, size_t nexclude);

void sla_compute(struct sla_interval *down, size_t ndown, struct sla_interval *degraded,
                 size_t ndegraded, const struct sla_interval *maint, size_t nmaint, int64_t from_ms,
                 int64_t to_ms, int64_t now_ms, double sla_pct, struct sla_result *out);

/* "YYYY-MM" -> [first instant of the month, first instant of the next) in
 * local time, unix seconds.  -1 when malformed. */
int sla_month_range(const char *month, int64_t *from_s, int64_t *to_s);

/* The windows of one maintenance section overlapping [from_s, to_s), unix
 * ms.  Returns how many were found (at most max are stored). */
size_t sla_maint_windows(const struct lw_maintenance *m, int64_t from_s, int64_t to_s,
                         struct sla_interval *out, size_t max);

/* A maintenance section covers now_s. */
bool sla_maint_active(const struct lw_maintenance *m, int64_t now_s);

/* The section names `name` (a link or a device) in its links list. */
bool sla_maint_covers(const struct lw_maintenance *m, const char *name);

#endif
