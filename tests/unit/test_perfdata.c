/* test_perfdata.c - Monitoring Plugins output and performance data parsing */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perfdata.h"

static size_t
parse(const char *s, struct perf_item *items, size_t max, size_t *bad)
{
	return perfdata_parse(s, strlen(s), items, max, bad);
}

static void
test_simple(void **state)
{
	struct perf_item it[4];
	size_t bad = 99;

	assert_int_equal(parse("time=0.012s", it, 4, &bad), 1);
	assert_int_equal(bad, 0);
	assert_string_equal(it[0].label, "time");
	assert_string_equal(it[0].uom, "s");
	assert_float_equal(it[0].value, 0.012, 1e-12);
	assert_false(it[0].warn.set);
	assert_false(it[0].crit.set);
	assert_false(it[0].has_min);
	assert_false(it[0].has_max);
}

static void
test_all_fields(void **state)
{
	struct perf_item it[2];
	size_t bad;

	assert_int_equal(parse("rta=12.5ms;100.000;500.000;0;1000", it, 2, &bad), 1);
	assert_int_equal(bad, 0);
	assert_string_equal(it[0].uom, "ms");
	assert_float_equal(it[0].value, 12.5, 1e-12);
	assert_true(it[0].warn.set);
	assert_false(it[0].warn.inside);
	assert_float_equal(it[0].warn.start, 0, 0);
	assert_float_equal(it[0].warn.end, 100, 0);
	assert_float_equal(it[0].crit.end, 500, 0);
	assert_true(it[0].has_min);
	assert_true(it[0].has_max);
	assert_float_equal(it[0].min, 0, 0);
	assert_float_equal(it[0].max, 1000, 0);
}

static void
test_empty_fields(void **state)
{
	struct perf_item it[2];
	size_t bad;

	assert_int_equal(parse("pl=0%;;;0;100", it, 2, &bad), 1);
	assert_int_equal(bad, 0);
	assert_string_equal(it[0].uom, "%");
	assert_false(it[0].warn.set);
	assert_false(it[0].crit.set);
	assert_true(it[0].has_min);
	assert_float_equal(it[0].max, 100, 0);

	/* trailing semicolons, missing max */
	assert_int_equal(parse("a=1;2;3;", it, 2, &bad), 1);
	assert_int_equal(bad, 0);
	assert_false(it[0].has_min);
	assert_false(it[0].has_max);
	assert_float_equal(it[0].crit.end, 3, 0);

	/* extra fields are ignored */
	assert_int_equal(parse("a=1;2;3;4;5;6;7", it, 2, &bad), 1);
	assert_int_equal(bad, 0);
}

static void
test_quoted_labels(void **state)
{
	struct perf_item it[4];
	size_t bad;

	assert_int_equal(parse("'disk usage /'=2643MB;3000;3500;0;4000 'it''s'=1", it, 4, &bad), 2);
	assert_int_equal(bad, 0);
	assert_string_equal(it[0].label, "disk usage /");
	assert_string_equal(it[0].uom, "MB");
	assert_float_equal(it[0].value, 2643, 0);
	assert_string_equal(it[1].label, "it's");

	/* a label with '=' inside quotes */
	assert_int_equal(parse("'a=b'=3c", it, 4, &bad), 1);
	assert_string_equal(it[0].label, "a=b");
	assert_string_equal(it[0].uom, "c");

	/* unterminated quote */
	assert_int_equal(parse("'abc=1", it, 4, &bad), 0);
	assert_int_equal(bad, 1);
	/* empty label */
	assert_int_equal(parse("''=1 =2", it, 4, &bad), 0);
	assert_int_equal(bad, 2);
}

static void
test_units(void **state)
{
	static const struct {
		const char *in;
		const char *unit;
		double value;
	} cases[] = {
	    {"t=1.5s", "ms", 1500},
	    {"t=250ms", "ms", 250},
	    {"t=500us", "ms", 0.5},
	    {"p=42%", "%", 42},
	    {"b=10B", "B", 10},
	    {"b=2KB", "B", 2048},
	    {"b=3MB", "B", 3 * 1048576.0},
	    {"b=1GB", "B", 1073741824.0},
	    {"b=1TB", "B", 1099511627776.0},
	    {"n=12345c", "c", 12345},
	    {"n=7", "", 7},
	    {"f=50Hz", "Hz", 50},
	    {"x=-3.25e2", "", -325},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct perf_item it;
		size_t bad;
		double v;
		const char *u;

		assert_int_equal(parse(cases[i].in, &it, 1, &bad), 1);
		assert_int_equal(bad, 0);
		u = perfdata_normalize(&it, &v);
		assert_string_equal(u, cases[i].unit);
		assert_float_equal(v, cases[i].value, 1e-9);
	}
}

static void
test_unknown_value(void **state)
{
	struct perf_item it;
	size_t bad;

	assert_int_equal(parse("load=U;1;2", &it, 1, &bad), 1);
	assert_true(isnan(it.value));
	assert_float_equal(it.crit.end, 2, 0);
}

static void
test_ranges(void **state)
{
	struct perf_range r;

	assert_int_equal(perfdata_range_parse("10", 2, &r), 0);
	assert_true(r.set);
	assert_false(r.inside);
	assert_float_equal(r.start, 0, 0);
	assert_float_equal(r.end, 10, 0);

	assert_int_equal(perfdata_range_parse("10:", 3, &r), 0);
	assert_float_equal(r.start, 10, 0);
	assert_true(isinf(r.end) && r.end > 0);

	assert_int_equal(perfdata_range_parse("~:10", 4, &r), 0);
	assert_true(isinf(r.start) && r.start < 0);
	assert_float_equal(r.end, 10, 0);

	assert_int_equal(perfdata_range_parse("@10:20", 6, &r), 0);
	assert_true(r.inside);
	assert_float_equal(r.start, 10, 0);
	assert_float_equal(r.end, 20, 0);

	assert_int_equal(perfdata_range_parse("", 0, &r), 0);
	assert_false(r.set);

	assert_int_equal(perfdata_range_parse("20:10", 5, &r), -1);
	assert_int_equal(perfdata_range_parse("abc", 3, &r), -1);
	assert_int_equal(perfdata_range_parse("@", 1, &r), -1);
	assert_int_equal(perfdata_range_parse("1:2:3", 5, &r), -1);
}

static void
test_garbage(void **state)
{
	static const char *bad_items[] = {
	    "novalue",
	    "a=",
	    "a=abc",
	    "a=1..2.3.4",
	    "a=inf",
	    "a=nan",
	    "a=0x10",
	    "a=1e999",
	    "a=1;x",
	    "a=1;1;2;min",
	    "a=1;1;2;0;max",
	    "a=12ms<script>",
	    "a=1averyveryverylongunit",
	    "a=,5",
	    "=",
	    "a=-",
	    "a=.",
	};
	struct perf_item it[2];
	size_t bad;

	for (size_t i = 0; i < sizeof(bad_items) / sizeof(bad_items[0]); i++) {
		assert_int_equal(parse(bad_items[i], it, 2, &bad), 0);
		assert_int_equal(bad, 1);
	}

	/* good items survive between bad ones */
	assert_int_equal(parse("x y=1 z= w=2s", it, 2, &bad), 2);
	assert_int_equal(bad, 2);
	assert_string_equal(it[0].label, "y");
	assert_string_equal(it[1].label, "w");

	/* nothing at all */
	assert_int_equal(parse("   \t\n ", it, 2, &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(perfdata_parse(NULL, 0, it, 2, NULL), 0);
}

static void
test_capacity(void **state)
{
	struct perf_item it[2];
	size_t bad;
	char longlabel[200];

	assert_int_equal(parse("a=1 b=2 c=3 d=4", it, 2, &bad), 2);
	assert_int_equal(bad, 2);
	assert_string_equal(it[1].label, "b");

	memset(longlabel, 'x', sizeof(longlabel));
	memcpy(longlabel + 150, "=5", 3);
	assert_int_equal(parse(longlabel, it, 2, &bad), 1);
	assert_int_equal(strlen(it[0].label), PERF_LABEL_MAX - 1);
	assert_float_equal(it[0].value, 5, 0);
}

static void
test_not_nul_terminated(void **state)
{
	/* the parser honours len and never reads past it */
	const char buf[] = {'a', '=', '1', '2', '3'};
	struct perf_item it;

	assert_int_equal(perfdata_parse(buf, 4, &it, 1, NULL), 1);
	assert_float_equal(it.value, 12, 0);
}

static void
test_output(void **state)
{
	const char *out = "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
	                  "/ 15272 MB (77%);\n"
	                  "/boot 68 MB (69%);\n"
	                  "/home 69357 MB (27%); | /boot=68MB;88;93;0;98\n"
	                  "/home=69357MB;253404;253409;0;253414\n";
	struct perf_item it[8];
	char msg[128];
	size_t bad;

	assert_int_equal(perfdata_parse_output(out, strlen(out), msg, sizeof(msg), it, 8, &bad), 3);
	assert_int_equal(bad, 0);
	assert_string_equal(msg, "DISK OK - free space: / 3326 MB (56%);");
	assert_string_equal(it[0].label, "/");
	assert_string_equal(it[1].label, "/boot");
	assert_string_equal(it[2].label, "/home");
	assert_float_equal(it[2].value, 69357, 0);
}

static void
test_output_plain(void **state)
{
	struct perf_item it[2];
	char msg[16];
	size_t bad;
	const char *out = "  OK: fine  \n";

	assert_int_equal(perfdata_parse_output(out, strlen(out), msg, sizeof(msg), it, 2, &bad), 0);
	assert_string_equal(msg, "OK: fine");

	/* truncated to the buffer */
	out = "a very long first line that does not fit";
	perfdata_parse_output(out, strlen(out), msg, sizeof(msg), it, 2, &bad);
	assert_string_equal(msg, "a very long fir");

	/* empty output */
	perfdata_parse_output("", 0, msg, sizeof(msg), it, 2, &bad);
	assert_string_equal(msg, "");

	/* NUL bytes in output do not cut the message short */
	perfdata_parse_output("a\0b|x=1", 7, msg, sizeof(msg), it, 2, &bad);
	assert_string_equal(msg, "a b");
	assert_float_equal(it[0].value, 1, 0);
}

static void
test_output_capacity(void **state)
{
	/* first line fills the array; the long text's items are counted as bad */
	const char *out = "OK | a=1 b=2\nlong | c=3\n";
	struct perf_item it[2];
	char msg[8];
	size_t bad;

	assert_int_equal(perfdata_parse_output(out, strlen(out), msg, sizeof(msg), it, 2, &bad), 2);
	assert_int_equal(bad, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),          cmocka_unit_test(test_all_fields),
	    cmocka_unit_test(test_empty_fields),    cmocka_unit_test(test_quoted_labels),
	    cmocka_unit_test(test_units),           cmocka_unit_test(test_unknown_value),
	    cmocka_unit_test(test_ranges),          cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_capacity),        cmocka_unit_test(test_not_nul_terminated),
	    cmocka_unit_test(test_output),          cmocka_unit_test(test_output_plain),
	    cmocka_unit_test(test_output_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
