/* test_counter.c - every case of counter.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "counter.h"

#define T0 1000000 /* arbitrary monotonic start, ms */

static enum counter_result
feed(struct counter *c, uint64_t v, int width, int64_t t, double ceiling, double *rate)
{
	return counter_update(c, v, width, t, ceiling, false, rate);
}

static void
test_first_reading_unknown(void **state)
{
	struct counter c = {0};
	double rate = -1;

	assert_int_equal(feed(&c, 1000, 64, T0, 0, &rate), COUNTER_FIRST);
	assert_true(rate == -1);
	assert_false(counter_valid(COUNTER_FIRST));
}

static void
test_rate_64(void **state)
{
	struct counter c = {0};
	double rate = 0;

	feed(&c, 1000000, 64, T0, 0, &rate);
	assert_int_equal(feed(&c, 1000000 + 125000 * 30, 64, T0 + 30000, 0, &rate), COUNTER_OK);
	assert_float_equal(rate, 125000.0, 1e-9);
	/* the new reading is the base for the next interval */
	assert_int_equal(feed(&c, 1000000 + 125000 * 40, 64, T0 + 40000, 0, &rate), COUNTER_OK);
	assert_float_equal(rate, 125000.0, 1e-9);
	assert_true(counter_valid(COUNTER_OK));
}

static void
test_rate_64_large_values(void **state)
{
	struct counter c = {0};
	double rate = 0;
	uint64_t big = 0xfffffff000000000ULL;

	feed(&c, big, 64, T0, 0, &rate);
	assert_int_equal(feed(&c, big + 1000, 64, T0 + 1000, 0, &rate), COUNTER_OK);
	assert_float_equal(rate, 1000.0, 1e-6);
}

static void
test_zero_delta(void **state)
{
	struct counter c = {0};
	double rate = -1;

	feed(&c, 5, 32, T0, 0, &rate);
	assert_int_equal(feed(&c, 5, 32, T0 + 1000, 0, &rate), COUNTER_OK);
	assert_float_equal(rate, 0.0, 0);
}

static void
test_wrap_32_with_ceiling(void **state)
{
	struct counter c = {0};
	double rate = 0;

	/* 100 Mbit/s link: 12.5 MB/s ceiling before the 110% margin */
	feed(&c, 4294967296ULL - 1000000, 32, T0, 12500000 * 1.1, &rate);
	assert_int_equal(feed(&c, 2000000, 32, T0 + 10000, 12500000 * 1.1, &rate), COUNTER_WRAPPED);
	assert_float_equal(rate, 300000.0, 1e-6);
	assert_true(counter_valid(COUNTER_WRAPPED));
}

static void
test_wrap_32_without_ceiling(void **state)
{
	struct counter c = {0};
	double rate = 0;

	feed(&c, 4294967000ULL, 32, T0, 0, &rate);
	assert_int_equal(feed(&c, 704, 32, T0 + 1000, 0, &rate), COUNTER_WRAPPED);
	assert_float_equal(rate, 1000.0, 1e-6);
}

static void
test_wrap_32_masks_value(void **state)
{
	struct counter c = {0};
	double rate = 0;

	/* a buggy agent sending more than 32 bits in a Counter32 */
	feed(&c, 0x1ffffff00ULL, 32, T0, 0, &rate);
	assert_int_equal(c.value, 0xffffff00ULL);
	assert_int_equal(feed(&c, 0x100, 32, T0 + 1000, 0, &rate), COUNTER_WRAPPED);
	assert_float_equal(rate, 512.0, 1e-6);
}

static void
test_reset_32_implausible_wrap_ceiling(void **state)
{
	struct counter c = {0};
	double rate = -1;

	/* 10 Mbit/s link: a wrap would need 4 GB in 10 s */
	feed(&c, 1000000, 32, T0, 1250000 * 1.1, &rate);
	assert_int_equal(feed(&c, 10, 32, T0 + 10000, 1250000 * 1.1, &rate), COUNTER_RESET);
	assert_true(rate == -1);
	/* the reset value is the new base */
	assert_int_equal(feed(&c, 1010, 32, T0 + 11000, 1250000 * 1.1, &rate), COUNTER_OK);
	assert_float_equal(rate, 1000.0, 1e-6);
}

static void
test_reset_32_implausible_wrap_no_ceiling(void **state)
{
	struct counter c = {0};
	double rate = -1;

	feed(&c, 1000000, 32, T0, 0, &rate);
	assert_int_equal(feed(&c, 10, 32, T0 + 10000, 0, &rate), COUNTER_RESET);
	assert_true(rate == -1);
	assert_false(counter_valid(COUNTER_RESET));
}

static void
test_reset_64(void **state)
{
	struct counter c = {0};
	double rate = -1;

	feed(&c, 4294967000ULL, 64, T0, 0, &rate);
	assert_int_equal(feed(&c, 704, 64, T0 + 1000, 0, &rate), COUNTER_RESET);
	assert_true(rate == -1);
}

static void
test_too_fast(void **state)
{
	struct counter c = {0};
	double rate = -1;
	double ceiling = 125000000 * 1.1; /* 1 Gbit/s in bytes */

	feed(&c, 0, 64, T0, ceiling, &rate);
	assert_int_equal(feed(&c, 10ULL * 1000 * 1000 * 1000, 64, T0 + 10000, ceiling, &rate),
	                 COUNTER_TOO_FAST);
	assert_true(rate == -1);
	assert_false(counter_valid(COUNTER_TOO_FAST));
}

static void
test_at_ceiling_ok(void **state)
{
	struct counter c = {0};
	double rate = -1;

	feed(&c, 0, 64, T0, 1100, &rate);
	assert_int_equal(feed(&c, 1100, 64, T0 + 1000, 1100, &rate), COUNTER_OK);
	assert_float_equal(rate, 1100.0, 1e-9);
}

static void
test_wrap_above_ceiling_is_reset(void **state)
{
	struct counter c = {0};
	double rate = -1;

	/* the wrapped delta (about 2^31) exceeds what the link can carry */
	feed(&c, 2147483648ULL, 32, T0, 1000, &rate);
	assert_int_equal(feed(&c, 0, 32, T0 + 1000, 1000, &rate), COUNTER_RESET);
}

static void
test_no_time(void **state)
{
	struct counter c = {0};
	double rate = -1;

	feed(&c, 10, 64, T0, 0, &rate);
	assert_int_equal(feed(&c, 20, 64, T0, 0, &rate), COUNTER_NO_TIME);
	assert_int_equal(feed(&c, 30, 64, T0 - 5, 0, &rate), COUNTER_NO_TIME);
	assert_true(rate == -1);
}

static void
test_forced_discontinuity(void **state)
{
	struct counter c = {0};
	double rate = -1;

	feed(&c, 10, 64, T0, 0, &rate);
	assert_int_equal(counter_update(&c, 20, 64, T0 + 1000, 0, true, &rate),
	                 COUNTER_DISCONTINUITY);
	assert_true(rate == -1);
	assert_int_equal(feed(&c, 30, 64, T0 + 2000, 0, &rate), COUNTER_OK);
	assert_float_equal(rate, 10.0, 1e-9);
}

static void
test_width_change(void **state)
{
	struct counter c = {0};
	double rate = -1;

	feed(&c, 10, 32, T0, 0, &rate);
	/* HC column appeared: not comparable with the 32-bit reading */
	assert_int_equal(feed(&c, 20, 64, T0 + 1000, 0, &rate), COUNTER_FIRST);
	assert_int_equal(feed(&c, 30, 64, T0 + 2000, 0, &rate), COUNTER_OK);
}

static void
test_clock_change(void **state)
{
	struct counter c = {0};
	double rate = -1;

	assert_int_equal(counter_update_clock(&c, 10, 64, 1, 5000, 0, false, &rate), COUNTER_FIRST);
	assert_int_equal(counter_update_clock(&c, 20, 64, 1, 6000, 0, false, &rate), COUNTER_OK);
	assert_float_equal(rate, 10.0, 1e-9);
	/* the agent stopped sending its clock: our clock is not comparable */
	assert_int_equal(counter_update_clock(&c, 30, 64, 0, T0, 0, false, &rate), COUNTER_FIRST);
	assert_int_equal(counter_update_clock(&c, 40, 64, 0, T0 + 2000, 0, false, &rate),
	                 COUNTER_OK);
	assert_float_equal(rate, 5.0, 1e-9);
}

static void
test_clear(void **state)
{
	struct counter c = {0};
	double rate = -1;

	feed(&c, 10, 64, T0, 0, &rate);
	counter_clear(&c);
	assert_int_equal(feed(&c, 20, 64, T0 + 1000, 0, &rate), COUNTER_FIRST);
}

static void
test_went_down(void **state)
{
	struct counter c = {0};
	double rate;

	assert_false(counter_went_down(&c, 5, 64));
	feed(&c, 10, 64, T0, 0, &rate);
	assert_true(counter_went_down(&c, 5, 64));
	assert_false(counter_went_down(&c, 15, 64));
	assert_false(counter_went_down(&c, 5, 32));
}

static void
test_names(void **state)
{
	for (int r = COUNTER_OK; r <= COUNTER_DISCONTINUITY; r++)
		assert_non_null(counter_result_name((enum counter_result)r));
	for (int r = UPTIME_FIRST; r <= UPTIME_AMBIGUOUS; r++)
		assert_non_null(uptime_result_name((enum uptime_result)r));
	assert_string_equal(counter_result_name(COUNTER_RESET), "counter reset");
}

/* --- sysUpTime --------------------------------------------------------- */

static struct uptime_obs
ut(uint32_t ticks, int64_t t_ms)
{
	struct uptime_obs o = {.ticks = ticks, .t_ms = t_ms};
	return o;
}

static struct uptime_obs
ute(uint32_t ticks, int64_t t_ms, uint32_t boots, uint32_t etime)
{
	struct uptime_obs o = {.ticks = ticks,
	                       .t_ms = t_ms,
	                       .have_engine = true,
	                       .engine_boots = boots,
	                       .engine_time = etime};
	return o;
}

static void
test_uptime_first(void **state)
{
	struct uptime_obs cur = ut(100, T0);

	assert_int_equal(uptime_check(NULL, &cur), UPTIME_FIRST);
}

static void
test_uptime_ok(void **state)
{
	struct uptime_obs a = ut(100000, T0), b = ut(103000, T0 + 30000);

	assert_int_equal(uptime_check(&a, &b), UPTIME_OK);
}

static void
test_uptime_ok_with_jitter(void **state)
{
	/* the response came 2 s late: within the slack */
	struct uptime_obs a = ut(100000, T0), b = ut(102800, T0 + 30000);

	assert_int_equal(uptime_check(&a, &b), UPTIME_OK);
}

static void
test_uptime_reboot_went_back(void **state)
{
	struct uptime_obs a = ut(100000, T0), b = ut(500, T0 + 30000);

	assert_int_equal(uptime_check(&a, &b), UPTIME_REBOOT);
}

static void
test_uptime_reboot_long_outage(void **state)
{
	/* up 10 s, restarted, we saw it again 1 h later with 20 min uptime */
	struct uptime_obs a = ut(1000, T0), b = ut(120000, T0 + 3600000);

	assert_int_equal(uptime_check(&a, &b), UPTIME_REBOOT);
}

static void
test_uptime_long_outage_no_reboot(void **state)
{
	/* unreachable for an hour but not restarted */
	struct uptime_obs a = ut(1000, T0), b = ut(361000, T0 + 3600000);

	assert_int_equal(uptime_check(&a, &b), UPTIME_OK);
}

static void
test_uptime_went_back_implausibly(void **state)
{
	/* lower, yet larger than anything since our last look */
	struct uptime_obs a = ut(4000000000U, T0), b = ut(3000000000U, T0 + 30000);

	assert_int_equal(uptime_check(&a, &b), UPTIME_REBOOT);
}

static void
test_uptime_wrap_ambiguous(void **state)
{
	/* 497 days: 2^32 ticks; wrapped 10 s ago, poll every 30 s */
	struct uptime_obs a = ut(4294967295U - 2000, T0), b = ut(1000, T0 + 30000);

	assert_int_equal(uptime_check(&a, &b), UPTIME_AMBIGUOUS);
}

static void
test_uptime_wrap_engine_settles(void **state)
{
	struct uptime_obs a = ute(4294967295U - 2000, T0, 7, 5000);
	struct uptime_obs b = ute(1000, T0 + 30000, 7, 5030);

	assert_int_equal(uptime_check(&a, &b), UPTIME_WRAPPED);
}

static void
test_uptime_engine_boots_changed(void **state)
{
	struct uptime_obs a = ute(4294967295U - 2000, T0, 7, 5000);
	struct uptime_obs b = ute(1000, T0 + 30000, 8, 10);

	assert_int_equal(uptime_check(&a, &b), UPTIME_REBOOT);
	/* even if sysUpTime looks fine */
	a = ute(1000, T0, 7, 10);
	b = ute(4000, T0 + 30000, 8, 10);
	assert_int_equal(uptime_check(&a, &b), UPTIME_REBOOT);
}

static void
test_uptime_engine_time_back(void **state)
{
	struct uptime_obs a = ute(100000, T0, 7, 5000), b = ute(500, T0 + 30000, 7, 3);

	assert_int_equal(uptime_check(&a, &b), UPTIME_REBOOT);
}

static void
test_uptime_engine_ok_overrides_slow_clock(void **state)
{
	/* engine clocks say no restart although sysUpTime lags a lot */
	struct uptime_obs a = ute(1000, T0, 7, 10), b = ute(120000, T0 + 3600000, 7, 3610);

	assert_int_equal(uptime_check(&a, &b), UPTIME_OK);
}

static void
test_uptime_engine_missing_on_one_side(void **state)
{
	struct uptime_obs a = ut(4294967295U - 2000, T0);
	struct uptime_obs b = ute(1000, T0 + 30000, 7, 5030);

	assert_int_equal(uptime_check(&a, &b), UPTIME_AMBIGUOUS);
}

static void
test_uptime_seconds(void **state)
{
	assert_float_equal(uptime_seconds(12345, 0), 123.45, 1e-9);
	assert_float_equal(uptime_seconds(100, 1), (4294967296.0 + 100) / 100.0, 1e-6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_reading_unknown),
	    cmocka_unit_test(test_rate_64),
	    cmocka_unit_test(test_rate_64_large_values),
	    cmocka_unit_test(test_zero_delta),
	    cmocka_unit_test(test_wrap_32_with_ceiling),
	    cmocka_unit_test(test_wrap_32_without_ceiling),
	    cmocka_unit_test(test_wrap_32_masks_value),
	    cmocka_unit_test(test_reset_32_implausible_wrap_ceiling),
	    cmocka_unit_test(test_reset_32_implausible_wrap_no_ceiling),
	    cmocka_unit_test(test_reset_64),
	    cmocka_unit_test(test_too_fast),
	    cmocka_unit_test(test_at_ceiling_ok),
	    cmocka_unit_test(test_wrap_above_ceiling_is_reset),
	    cmocka_unit_test(test_no_time),
	    cmocka_unit_test(test_forced_discontinuity),
	    cmocka_unit_test(test_width_change),
	    cmocka_unit_test(test_clock_change),
	    cmocka_unit_test(test_clear),
	    cmocka_unit_test(test_went_down),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_uptime_first),
	    cmocka_unit_test(test_uptime_ok),
	    cmocka_unit_test(test_uptime_ok_with_jitter),
	    cmocka_unit_test(test_uptime_reboot_went_back),
	    cmocka_unit_test(test_uptime_reboot_long_outage),
	    cmocka_unit_test(test_uptime_long_outage_no_reboot),
	    cmocka_unit_test(test_uptime_went_back_implausibly),
	    cmocka_unit_test(test_uptime_wrap_ambiguous),
	    cmocka_unit_test(test_uptime_wrap_engine_settles),
	    cmocka_unit_test(test_uptime_engine_boots_changed),
	    cmocka_unit_test(test_uptime_engine_time_back),
	    cmocka_unit_test(test_uptime_engine_ok_overrides_slow_clock),
	    cmocka_unit_test(test_uptime_engine_missing_on_one_side),
	    cmocka_unit_test(test_uptime_seconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
