/* test_probe_stats.c - median, jitter, MOS and a run's statistics */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "probe_stats.h"

static void
test_median_odd(void **state)
{
	double v[] = {13.0, 12.1, 12.5};

	assert_float_equal(probe_stats_median(v, 3), 12.5, 1e-12);
	/* sorted in place */
	assert_float_equal(v[0], 12.1, 1e-12);
	assert_float_equal(v[2], 13.0, 1e-12);
}

static void
test_median_even(void **state)
{
	double v[] = {4, 1, 3, 2};

	assert_float_equal(probe_stats_median(v, 4), 2.5, 1e-12);
}

static void
test_median_small(void **state)
{
	double one[] = {7.25};
	double dup[] = {5, 5, 1, 5, 9};

	assert_float_equal(probe_stats_median(one, 1), 7.25, 1e-12);
	assert_float_equal(probe_stats_median(NULL, 0), 0, 1e-12);
	assert_float_equal(probe_stats_median(dup, 5), 5, 1e-12);
}

static void
test_jitter_known(void **state)
{
	const double v[] = {10, 12, 11, 15};
	const double flat[] = {20, 20, 20};
	const double saw[] = {10, 30, 10, 30, 10};

	/* |12-10| + |11-12| + |15-11| = 7 over 3 differences */
	assert_float_equal(probe_stats_jitter(v, 4), 7.0 / 3, 1e-12);
	assert_float_equal(probe_stats_jitter(flat, 3), 0, 1e-12);
	assert_float_equal(probe_stats_jitter(saw, 5), 20, 1e-12);
	/* order matters: the same values sorted jitter less */
	const double sorted[] = {10, 10, 10, 30, 30};
	assert_float_equal(probe_stats_jitter(sorted, 5), 5, 1e-12);
}

static void
test_jitter_too_few(void **state)
{
	const double one[] = {42};

	assert_float_equal(probe_stats_jitter(one, 1), 0, 1e-12);
	assert_float_equal(probe_stats_jitter(NULL, 0), 0, 1e-12);
}

/* Expected values computed independently from the formulas documented in
 * probe_stats.h. */
static void
test_mos_perfect_path(void **state)
{
	/* Ta = 10 ms: no delay impairment, no loss: R = 93.2 */
	assert_float_equal(probe_stats_mos(20, 0, 0), 4.409286, 1e-5);
	/* up to Ta = 100 ms the score does not move */
	assert_float_equal(probe_stats_mos(200, 0, 0), 4.409286, 1e-5);
}

static void
test_mos_loss(void **state)
{
	/* Ie,eff = 95 * 10 / (10 + 25.1) */
	assert_float_equal(probe_stats_mos(20, 0, 10), 3.410881, 1e-5);
	assert_true(probe_stats_mos(20, 0, 30) < probe_stats_mos(20, 0, 10));
}

static void
test_mos_latency(void **state)
{
	/* Ta = 200 ms: X = 1, Idd = 3.0444 */
	assert_float_equal(probe_stats_idd(200), 3.044414, 1e-5);
	assert_float_equal(probe_stats_mos(400, 0, 0), 4.342793, 1e-5);
	assert_float_equal(probe_stats_mos(2000, 0, 0), 2.544073, 1e-5);
	/* jitter counts twice into the one-way delay: Ta = 50 + 100 */
	assert_float_equal(probe_stats_mos(100, 50, 0), 4.406098, 1e-5);
	assert_float_equal(probe_stats_mos(600, 10, 5), 3.127831, 1e-5);
}

static void
test_mos_bounds(void **state)
{
	assert_float_equal(probe_stats_r_to_mos(-3), 1, 1e-12);
	assert_float_equal(probe_stats_r_to_mos(0), 1, 1e-12);
	assert_float_equal(probe_stats_r_to_mos(100), 4.5, 1e-12);
	assert_float_equal(probe_stats_r_to_mos(130), 4.5, 1e-12);
	assert_float_equal(probe_stats_mos(20, 0, 100), 1, 1e-12);
	/* absurd delay drives R below 0 */
	assert_float_equal(probe_stats_mos(1e7, 0, 50), 1, 1e-12);
	/* negative loss is treated as none */
	assert_float_equal(probe_stats_mos(20, 0, -5), 4.409286, 1e-5);
}

static void
test_compute_run(void **state)
{
	const double rtt[] = {12.1, 13.0, 12.4}; /* 3 of 5 replied, send order */
	double scratch[3];
	struct probe_stats st;

	probe_stats_compute(rtt, 3, 5, scratch, &st);
	assert_int_equal(st.sent, 5);
	assert_int_equal(st.received, 3);
	assert_float_equal(st.loss_pct, 40, 1e-12);
	assert_float_equal(st.rtt_min, 12.1, 1e-12);
	assert_float_equal(st.rtt_max, 13.0, 1e-12);
	assert_float_equal(st.rtt_avg, 37.5 / 3, 1e-12);
	assert_float_equal(st.rtt_median, 12.4, 1e-12);
	assert_float_equal(st.jitter, (0.9 + 0.6) / 2, 1e-12);
	assert_float_equal(st.mos, probe_stats_mos(st.rtt_avg, st.jitter, 40), 1e-12);
	/* the input stays in send order */
	assert_float_equal(rtt[1], 13.0, 1e-12);
}

static void
test_compute_all_lost(void **state)
{
	struct probe_stats st;

	probe_stats_compute(NULL, 0, 5, NULL, &st);
	assert_int_equal(st.sent, 5);
	assert_int_equal(st.received, 0);
	assert_float_equal(st.loss_pct, 100, 1e-12);
	assert_float_equal(st.mos, 1, 1e-12);
	assert_float_equal(st.rtt_avg, 0, 1e-12);
	assert_float_equal(st.jitter, 0, 1e-12);
}

static void
test_compute_nothing_sent(void **state)
{
	const double rtt[] = {1};
	double scratch[1];
	struct probe_stats st;

	/* more replies than echoes is a caller bug: counted as nothing received */
	probe_stats_compute(rtt, 1, 0, scratch, &st);
	assert_int_equal(st.received, 0);
	assert_float_equal(st.loss_pct, 100, 1e-12);
	assert_float_equal(st.mos, 1, 1e-12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_median_odd),       cmocka_unit_test(test_median_even),
	    cmocka_unit_test(test_median_small),     cmocka_unit_test(test_jitter_known),
	    cmocka_unit_test(test_jitter_too_few),   cmocka_unit_test(test_mos_perfect_path),
	    cmocka_unit_test(test_mos_loss),         cmocka_unit_test(test_mos_latency),
	    cmocka_unit_test(test_mos_bounds),       cmocka_unit_test(test_compute_run),
	    cmocka_unit_test(test_compute_all_lost), cmocka_unit_test(test_compute_nothing_sent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
