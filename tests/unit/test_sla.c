/* test_sla.c - availability arithmetic and maintenance windows (sla.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sla.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
/* 2026-11-01 00:00:00 UTC, a Sunday, in ms */
#define NOV1 1793491200000LL

static void
use_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void
test_union_merges_overlaps(void **state)
{
	struct sla_interval iv[] = {
	    {50, 70}, {10, 30}, {20, 40}, {100, 110}, {105, 108},
	};

	/* [10,40) + [50,70) + [100,110) */
	assert_int_equal(sla_union_ms(iv, 5, 0, 1000, NULL, 0), 30 + 20 + 10);
}

static void
test_union_clips_to_the_period(void **state)
{
	struct sla_interval iv[] = {{-50, 20}, {90, 150}};

	assert_int_equal(sla_union_ms(iv, 2, 0, 100, NULL, 0), 20 + 10);
	assert_int_equal(sla_union_ms(iv, 2, 100, 100, NULL, 0), 0);
}

static void
test_open_interval_runs_to_the_end(void **state)
{
	struct sla_interval iv[] = {{80, 0}};

	assert_int_equal(sla_union_ms(iv, 1, 0, 100, NULL, 0), 20);
}

static void
test_exclusions(void **state)
{
	struct sla_interval iv[] = {{0, 100}};
	struct sla_interval ex[] = {{10, 20}, {15, 30}, {90, 200}};

	/* excluded: [10,30) and [90,100) */
	assert_int_equal(sla_union_ms(iv, 1, 0, 100, ex, 3), 100 - 20 - 10);
}

static void
test_availability(void **state)
{
	struct sla_interval down[] = {{NOV1 + 1 * DAY, NOV1 + 1 * DAY + 43 * MIN}};
	struct sla_interval deg[] = {
	    {NOV1 + 1 * DAY, NOV1 + 1 * DAY + 43 * MIN},
	    {NOV1 + 2 * DAY, NOV1 + 2 * DAY + 2 * HOUR},
	};
	struct sla_result r;
	int64_t from = NOV1, to = NOV1 + 30 * DAY;

	sla_compute(down, 1, deg, 2, NULL, 0, from, to, to + DAY, 99.9, &r);
	assert_int_equal(r.period_ms, 30 * DAY);
	assert_int_equal(r.downtime_ms, 43 * MIN);
	assert_int_equal(r.degraded_ms, 43 * MIN + 2 * HOUR);
	/* 43 min in 30 days = 99.9005% */
	assert_float_equal(r.availability_pct, 100.0 * (1 - 43.0 / (30 * 24 * 60)), 1e-9);
	assert_true(r.met);
	down[0].end_ms = NOV1 + 1 * DAY + 44 * MIN;
	sla_compute(down, 1, deg, 2, NULL, 0, from, to, to + DAY, 99.9, &r);
	assert_false(r.met);
}

static void
test_availability_so_far_and_maintenance(void **state)
{
	struct sla_interval down[] = {{NOV1 + 10 * HOUR, NOV1 + 12 * HOUR}};
	struct sla_interval maint[] = {{NOV1 + 11 * HOUR, NOV1 + 13 * HOUR}};
	struct sla_result r;

	/* one day into the month; the outage half inside planned works */
	sla_compute(down, 1, NULL, 0, maint, 1, NOV1, NOV1 + 30 * DAY, NOV1 + DAY, 99.5, &r);
	assert_int_equal(r.period_ms, DAY);
	assert_int_equal(r.maintenance_ms, 2 * HOUR);
	assert_int_equal(r.counted_ms, 22 * HOUR);
	assert_int_equal(r.downtime_ms, HOUR);
	assert_float_equal(r.availability_pct, 100.0 * (1 - 1.0 / 22), 1e-9);
	/* nothing counted yet: 100 */
	sla_compute(NULL, 0, NULL, 0, NULL, 0, NOV1, NOV1 + 30 * DAY, NOV1 - DAY, 99.5, &r);
	assert_int_equal(r.period_ms, 0);
	assert_float_equal(r.availability_pct, 100, 1e-9);
	assert_true(r.met);
}

static void
test_month_range(void **state)
{
	int64_t a, b;

	use_tz("UTC");
	assert_int_equal(sla_month_range("2026-11", &a, &b), 0);
	assert_int_equal(a, NOV1 / 1000);
	assert_int_equal(b - a, 30 * 86400);
	assert_int_equal(sla_month_range("2026-12", &a, &b), 0);
	assert_int_equal(b - a, 31 * 86400); /* into January of the next year */
	assert_int_equal(sla_month_range("2028-02", &a, &b), 0);
	assert_int_equal(b - a, 29 * 86400);
	assert_int_equal(sla_month_range("2026-13", &a, &b), -1);
	assert_int_equal(sla_month_range("2026-1", &a, &b), -1);
	assert_int_equal(sla_month_range("2026-011", &a, &b), -1);
	assert_int_equal(sla_month_range("2026/11", &a, &b), -1);
	assert_int_equal(sla_month_range("abcd-ef", &a, &b), -1);
	assert_int_equal(sla_month_range(NULL, &a, &b), -1);
}

static void
test_fixed_window(void **state)
{
	struct lw_maintenance m = {.from = NOV1 / 1000 + 3600, .to = NOV1 / 1000 + 7200};
	struct sla_interval w[4];

	assert_int_equal(sla_maint_windows(&m, NOV1 / 1000, NOV1 / 1000 + 86400, w, 4), 1);
	assert_int_equal(w[0].start_ms, NOV1 + HOUR);
	assert_int_equal(w[0].end_ms, NOV1 + 2 * HOUR);
	assert_int_equal(sla_maint_windows(&m, NOV1 / 1000 + 7200, NOV1 / 1000 + 9000, w, 4), 0);
	assert_true(sla_maint_active(&m, NOV1 / 1000 + 3600));
	assert_true(sla_maint_active(&m, NOV1 / 1000 + 7199));
	assert_false(sla_maint_active(&m, NOV1 / 1000 + 7200));
	assert_false(sla_maint_active(&m, NOV1 / 1000 + 3599));
}

static void
test_weekly_windows(void **state)
{
	/* Sundays 03:00 for 30 minutes */
	struct lw_maintenance m = {.weekdays = 1u << 0, .start_min = 180, .duration_ms = 30 * MIN};
	struct sla_interval w[8];
	int64_t from, to;

	use_tz("UTC");
	sla_month_range("2026-11", &from, &to);
	/* November 2026 has five Sundays: 1, 8, 15, 22, 29 */
	assert_int_equal(sla_maint_windows(&m, from, to, w, 8), 5);
	assert_int_equal(w[0].start_ms, NOV1 + 3 * HOUR);
	assert_int_equal(w[4].start_ms, NOV1 + 28 * DAY + 3 * HOUR);
	assert_true(sla_maint_active(&m, NOV1 / 1000 + 3 * 3600 + 60));
	assert_false(sla_maint_active(&m, NOV1 / 1000 + 3 * 3600 + 1800));
	assert_false(sla_maint_active(&m, NOV1 / 1000 + 86400 + 3 * 3600 + 60)); /* Monday */
	/* more windows than room: all are counted, max are stored */
	assert_int_equal(sla_maint_windows(&m, from, to, w, 2), 5);
}

static void
test_weekly_window_across_midnight(void **state)
{
	/* Saturdays 23:00 for 2 hours: still on at Sunday 00:30 */
	struct lw_maintenance m = {
	    .weekdays = 1u << 6, .start_min = 23 * 60, .duration_ms = 2 * HOUR};

	use_tz("UTC");
	assert_true(sla_maint_active(&m, NOV1 / 1000 + 1800));
	assert_false(sla_maint_active(&m, NOV1 / 1000 + 3600));
}

static void
test_weekly_window_across_dst(void **state)
{
	/* Europe/Berlin switches to winter time on 2026-10-25 (a Sunday). */
	struct lw_maintenance m = {.weekdays = 0x7f, .start_min = 12 * 60, .duration_ms = MIN};
	struct sla_interval w[40];
	int64_t from, to;

	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		skip();
	use_tz("Europe/Berlin");
	assert_int_equal(sla_month_range("2026-10", &from, &to), 0);
	assert_int_equal(to - from, 31 * 86400 + 3600); /* the 25-hour day */
	/* every day has its noon window, none twice or missing */
	assert_int_equal(sla_maint_windows(&m, from, to, w, 40), 31);
	for (int i = 0; i < 31; i++) {
		time_t t = (time_t)(w[i].start_ms / 1000);
		struct tm tm;

		localtime_r(&t, &tm);
		assert_int_equal(tm.tm_hour, 12);
		assert_int_equal(tm.tm_mday, i + 1);
	}
	use_tz("UTC");
}

static void
test_covers(void **state)
{
	char *names[] = {"isp-fibre", "edge-router"};
	struct lw_maintenance m = {.links = names, .nlinks = 2};

	assert_true(sla_maint_covers(&m, "edge-router"));
	assert_false(sla_maint_covers(&m, "isp-dsl"));
	assert_false(sla_maint_covers(&m, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_union_merges_overlaps),
	    cmocka_unit_test(test_union_clips_to_the_period),
	    cmocka_unit_test(test_open_interval_runs_to_the_end),
	    cmocka_unit_test(test_exclusions),
	    cmocka_unit_test(test_availability),
	    cmocka_unit_test(test_availability_so_far_and_maintenance),
	    cmocka_unit_test(test_month_range),
	    cmocka_unit_test(test_fixed_window),
	    cmocka_unit_test(test_weekly_windows),
	    cmocka_unit_test(test_weekly_window_across_midnight),
	    cmocka_unit_test(test_weekly_window_across_dst),
	    cmocka_unit_test(test_covers),
	};

	use_tz("UTC");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
