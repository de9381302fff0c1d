/* sla.c - availability from problem intervals, maintenance windows */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sla.h"

static int
cmp_start(const void *a, const void *b)
{
	const struct sla_interval *x = a, *y = b;

	return (x->start_ms > y->start_ms) - (x->start_ms < y->start_ms);
}

/* Length of [a, b) not covered by any exclude window (which may overlap). */
static int64_t
outside(int64_t a, int64_t b, const struct sla_interval *ex, size_t nex)
{
	int64_t len = b - a;

	if (len <= 0)
		return 0;
	if (nex == 0)
		return len;
	/* Subtract the part of [a, b) inside ex[0], then recurse on what is left
	 * on either side with the remaining windows: windows are few (a handful
	 * per month), so the recursion stays small. */
	int64_t s = ex[0].start_ms > a ? ex[0].start_ms : a;
	int64_t e = ex[0].end_ms < b ? ex[0].end_ms : b;

	if (s >= e)
		return outside(a, b, ex + 1, nex - 1);
	return outside(a, s, ex + 1, nex - 1) + outside(e, b, ex + 1, nex - 1);
}

int64_t
sla_union_ms(struct sla_interval *iv, size_t n, int64_t from_ms, int64_t to_ms,
             const struct sla_interval *exclude, size_t nexclude)
{
	int64_t total = 0, cur_s = 0, cur_e = 0;
	bool open = false;

	if (to_ms <= from_ms)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (iv[i].end_ms <= iv[i].start_ms)
			iv[i].end_ms = to_ms;
	if (n > 1)
		qsort(iv, n, sizeof(*iv), cmp_start);
	for (size_t i = 0; i < n; i++) {
		int64_t s = iv[i].start_ms < from_ms ? from_ms : iv[i].start_ms;
		int64_t e = iv[i].end_ms > to_ms ? to_ms : iv[i].end_ms;

		if (s >= e)
			continue;
		if (open && s <= cur_e) {
			if (e > cur_e)
				cur_e = e;
			continue;
		}
		if (open)
			total += outside(cur_s, cur_e, exclude, nexclude);
		cur_s = s;
		cur_e = e;
		open = true;
	}
	if (open)
		total += outside(cur_s, cur_e, exclude, nexclude);
	return total;
}

void
sla_compute(struct sla_interval *down, size_t ndown, struct sla_interval *degraded,
            size_t ndegraded, const struct sla_interval *maint, size_t nmaint, int64_t from_ms,
            int64_t to_ms, int64_t now_ms, double sla_pct, struct sla_result *out)
{
	int64_t end = to_ms < now_ms ? to_ms : now_ms;

	memset(out, 0, sizeof(*out));
	if (end < from_ms)
		end = from_ms;
	out->period_ms = end - from_ms;
	out->counted_ms = outside(from_ms, end, maint, nmaint);
	out->maintenance_ms = out->period_ms - out->counted_ms;
	out->downtime_ms = sla_union_ms(down, ndown, from_ms, end, maint, nmaint);
	out->degraded_ms = sla_union_ms(degraded, ndegraded, from_ms, end, maint, nmaint);
	if (out->counted_ms > 0)
		out->availability_pct =
		    100.0 * (1.0 - (double)out->downtime_ms / (double)out->counted_ms);
	else
		out->availability_pct = 100.0;
	out->met = out->availability_pct + 1e-9 >= sla_pct;
}

int
sla_month_range(const char *month, int64_t *from_s, int64_t *to_s)
{
	struct tm a = {0}, b = {0};
	int y, m, n = 0;

	if (month == NULL || strlen(month) != 7 || sscanf(month, "%4d-%2d%n", &y, &m, &n) != 2 ||
	    n != 7 || month[4] != '-' || y < 1970 || y > 9999 || m < 1 || m > 12)
		return -1;
	a.tm_year = y - 1900;
	a.tm_mon = m - 1;
	a.tm_mday = 1;
	a.tm_isdst = -1;
	b = a;
	b.tm_mon += 1; /* mktime normalises December + 1 */
	*from_s = (int64_t)mktime(&a);
	*to_s = (int64_t)mktime(&b);
	return *to_s > *from_s ? 0 : -1;
}

size_t
sla_maint_windows(const struct lw_maintenance *m, int64_t from_s, int64_t to_s,
                  struct sla_interval *out, size_t max)
{
	struct tm day;
	time_t t = (time_t)from_s;
	size_t n = 0;

	if (m->from > 0 || m->to > 0) {
		if (m->to > from_s && m->from < to_s) {
			if (max > 0)
				out[0] = (struct sla_interval){m->from * 1000, m->to * 1000};
			return 1;
		}
		return 0;
	}
	if (m->weekdays == 0 || m->duration_ms <= 0)
		return 0;
	/* Walk calendar days (not 86400 s steps: DST days are 23 or 25 hours),
	 * starting early enough for a long window begun before from_s. */
	localtime_r(&t, &day);
	day.tm_mday -= (int)(m->duration_ms / 86400000) + 1;
	day.tm_hour = m->start_min / 60;
	day.tm_min = m->start_min % 60;
	day.tm_sec = 0;
	for (;;) {
		struct tm x = day;
		int64_t s;

		x.tm_isdst = -1;
		s = (int64_t)mktime(&x);
		if (s >= to_s)
			break;
		if ((m->weekdays & (1u << x.tm_wday)) &&
		    s * 1000 + m->duration_ms > from_s * 1000) {
			if (n < max)
				out[n] = (struct sla_interval){s * 1000, s * 1000 + m->duration_ms};
			n++;
		}
		day.tm_mday++;
	}
	return n;
}

bool
sla_maint_active(const struct lw_maintenance *m, int64_t now_s)
{
	struct sla_interval w[16];
	size_t n = sla_maint_windows(m, now_s, now_s + 1, w, 16);

	for (size_t i = 0; i < n && i < 16; i++)
		if (w[i].start_ms <= now_s * 1000 && now_s * 1000 < w[i].end_ms)
			return true;
	return false;
}

bool
sla_maint_covers(const struct lw_maintenance *m, const char *name)
{
	for (size_t i = 0; name != NULL && i < m->nlinks; i++)
		if (strcmp(m->links[i], name) == 0)
			return true;
	return false;
}
