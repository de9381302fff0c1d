/* Unit tests for the one parser of durations, rates, sizes and percentages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "units.h"

static int64_t
dur(const char *s)
{
	char err[256];
	int64_t v = -42;

	assert_int_equal(units_duration_ms(s, &v, err, sizeof(err)), 0);
	return v;
}

static void
dur_bad(const char *s)
{
	char err[256] = "";
	int64_t v;

	assert_int_equal(units_duration_ms(s, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "30s"));
}

static void
test_durations(void **state)
{
	assert_int_equal(dur("150ms"), 150);
	assert_int_equal(dur("30s"), 30000);
	assert_int_equal(dur("1.5s"), 1500);
	assert_int_equal(dur("5m"), 300000);
	assert_int_equal(dur("5min"), 300000);
	assert_int_equal(dur("1h"), 3600000);
	assert_int_equal(dur("7d"), 604800000);
	assert_int_equal(dur("2w"), 1209600000);
	assert_int_equal(dur(" 10 s "), 10000);
	assert_int_equal(dur("0s"), 0);
	dur_bad("30");
	dur_bad("");
	dur_bad("s");
	dur_bad("-5s");
	dur_bad("5 parsecs");
	dur_bad("5sx");
	dur_bad("nan s");
	dur_bad("1e300d");
}

static uint64_t
rate(const char *s)
{
	char err[256];
	uint64_t v = 0;

	assert_int_equal(units_rate_bps(s, &v, err, sizeof(err)), 0);
	return v;
}

static void
test_rates(void **state)
{
	char err[256];
	uint64_t v;

	assert_true(rate("100M") == 100000000ULL);
	assert_true(rate("1.5G") == 1500000000ULL);
	assert_true(rate("512k") == 512000ULL);
	assert_true(rate("100Mbit") == 100000000ULL);
	assert_true(rate("100Mbps") == 100000000ULL);
	assert_true(rate("100 Mbit/s") == 100000000ULL);
	assert_true(rate("2000000") == 2000000ULL);
	assert_int_equal(units_rate_bps("fast", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "100M"));
	assert_int_equal(units_rate_bps("100X", &v, err, sizeof(err)), -1);
	assert_int_equal(units_rate_bps("100MB", &v, err, sizeof(err)), -1);
}

static void
test_sizes(void **state)
{
	char err[256];
	uint64_t v;

	assert_int_equal(units_size_bytes("16M", &v, err, sizeof(err)), 0);
	assert_true(v == 16ULL * 1024 * 1024);
	assert_int_equal(units_size_bytes("16MiB", &v, err, sizeof(err)), 0);
	assert_true(v == 16ULL * 1024 * 1024);
	assert_int_equal(units_size_bytes("512k", &v, err, sizeof(err)), 0);
	assert_true(v == 512ULL * 1024);
	assert_int_equal(units_size_bytes("4096", &v, err, sizeof(err)), 0);
	assert_true(v == 4096);
	assert_int_equal(units_size_bytes("1G", &v, err, sizeof(err)), 0);
	assert_true(v == 1073741824ULL);
	assert_int_equal(units_size_bytes("lots", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "16M"));
}

static void
test_percent(void **state)
{
	char err[256];
	double v;

	assert_int_equal(units_percent("5%", &v, err, sizeof(err)), 0);
	assert_true(v == 5.0);
	assert_int_equal(units_percent("99.9%", &v, err, sizeof(err)), 0);
	assert_true(v == 99.9);
	assert_int_equal(units_percent("7", &v, err, sizeof(err)), 0);
	assert_true(v == 7.0);
	assert_int_equal(units_percent("100%", &v, err, sizeof(err)), 0);
	assert_int_equal(units_percent("101%", &v, err, sizeof(err)), -1);
	assert_int_equal(units_percent("-1%", &v, err, sizeof(err)), -1);
	assert_int_equal(units_percent("5%%", &v, err, sizeof(err)), -1);
	assert_int_equal(units_percent("half", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "99.9%"));
}

static void
test_format(void **state)
{
	char b[64];

	assert_string_equal(units_fmt_duration(150, b, sizeof(b)), "150 ms");
	assert_string_equal(units_fmt_duration(30000, b, sizeof(b)), "30 s");
	assert_string_equal(units_fmt_duration(300000, b, sizeof(b)), "5 min");
	assert_string_equal(units_fmt_rate(100e6, b, sizeof(b)), "100 Mbit/s");
	assert_string_equal(units_fmt_rate(1.5e9, b, sizeof(b)), "1.5 Gbit/s");
	assert_string_equal(units_fmt_rate(512, b, sizeof(b)), "512 bit/s");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations), cmocka_unit_test(test_rates),
	    cmocka_unit_test(test_sizes),     cmocka_unit_test(test_percent),
	    cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
