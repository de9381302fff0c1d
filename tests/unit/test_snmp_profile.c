/* test_snmp_profile.c - profile parsing and the shipped etc/profiles */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "snmp_profile.h"

static struct snmp_profiles *
parse(const char *text, char *err, size_t errlen)
{
	struct snmp_profiles *ps = calloc(1, sizeof(*ps));

	assert_non_null(ps);
	if (snmp_profiles_parse_buf(ps, text, "test.conf", err, errlen) != 0) {
		snmp_profiles_free(ps);
		return NULL;
	}
	return ps;
}

static void
expect_error(const char *text, const char *needle)
{
	char err[512] = "";
	struct snmp_profiles *ps = parse(text, err, sizeof(err));

	assert_null(ps);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
}

static void
test_oid_parse(void **state)
{
	oid o[PROF_OID_MAX];
	size_t n;
	char buf[64];

	assert_int_equal(snmp_oid_parse("1.3.6.1.2.1.1.3.0", o, PROF_OID_MAX, &n), 0);
	assert_int_equal(n, 9);
	assert_int_equal(o[8], 0);
	assert_string_equal(snmp_oid_fmt(o, n, buf, sizeof(buf)), "1.3.6.1.2.1.1.3.0");
	assert_int_equal(snmp_oid_parse(".1.3.4294967295", o, PROF_OID_MAX, &n), 0);
	assert_int_equal(o[2], 4294967295UL);
	assert_int_equal(snmp_oid_parse("1.3.4294967296", o, PROF_OID_MAX, &n), -1);
	assert_int_equal(snmp_oid_parse("1..3", o, PROF_OID_MAX, &n), -1);
	assert_int_equal(snmp_oid_parse("1.3.", o, PROF_OID_MAX, &n), -1);
	assert_int_equal(snmp_oid_parse("", o, PROF_OID_MAX, &n), -1);
	assert_int_equal(snmp_oid_parse("1", o, PROF_OID_MAX, &n), -1);
	assert_int_equal(snmp_oid_parse("iso.3.6", o, PROF_OID_MAX, &n), -1);
	assert_int_equal(snmp_oid_parse("1.3.6 ", o, PROF_OID_MAX, &n), -1);
	assert_int_equal(snmp_oid_parse(NULL, o, PROF_OID_MAX, &n), -1);
	assert_int_equal(snmp_oid_parse("1.2.3.4.5", o, 4, &n), -1);
}

static void
test_oid_fmt_truncates(void **state)
{
	oid o[20];
	char buf[16];

	for (int i = 0; i < 20; i++)
		o[i] = 12345;
	snmp_oid_fmt(o, 20, buf, sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_string_equal(buf + strlen(buf) - 3, "...");
}

static void
test_full_profile(void **state)
{
	char err[512] = "";
	struct snmp_profiles *ps = parse(
	    "profile \"t\" {\n"
	    "  description = \"test\"\n"
	    "  scalar \"uptime_s\" { oid = \"1.3.6.1.2.1.1.3.0\" type = \"timeticks\" role = "
	    "\"uptime\" }\n"
	    "  scalar \"on_batt\" { oid = \".1.3.6.1.2.1.33.1.4.1.0\" type = \"flag\" true-values "
	    "= { 5, 6 } }\n"
	    "  table \"ifs\" {\n"
	    "    kind = \"interface\"\n"
	    "    key = { \"name\", \"descr\" }\n"
	    "    column \"descr\" { oid = \"1.3.6.1.2.1.2.2.1.2\" type = \"string\" }\n"
	    "    column \"name\" { oid = \"1.3.6.1.2.1.31.1.1.1.1\" type = \"string\" }\n"
	    "    column \"oper\" { oid = \"1.3.6.1.2.1.2.2.1.8\" type = \"enum\" enum = { "
	    "\"1=up\", \"2=down\" } }\n"
	    "    column \"in_bps\" { oid = \"1.3.6.1.2.1.31.1.1.1.6\" type = \"counter\" scale = 8 "
	    "unit = \"bps\" fallback = \"1.3.6.1.2.1.2.2.1.10\" }\n"
	    "    column \"speed_bps\" { oid = \"1.3.6.1.2.1.31.1.1.1.15\" type = \"gauge\" scale = "
	    "1000000 fallback = \"1.3.6.1.2.1.2.2.1.5\" fallback-scale = 1 prefer-nonzero = true "
	    "role = \"speed\" }\n"
	    "    column \"ucast\" { oid = \"1.3.6.1.2.1.31.1.1.1.7\" type = \"counter\" sum-into = "
	    "\"in_pps\" publish = false }\n"
	    "  }\n"
	    "}\n",
	    err, sizeof(err));
	const struct snmp_profile *p;
	const struct prof_table *tb;

	if (ps == NULL)
		fail_msg("%s", err);
	p = snmp_profiles_find(ps, "t");
	assert_non_null(p);
	assert_null(snmp_profiles_find(ps, "other"));
	assert_string_equal(p->description, "test");
	assert_int_equal(p->nscalars, 2);
	assert_int_equal(p->scalars[0].role, PR_UPTIME);
	assert_int_equal(p->scalars[0].type, PT_TIMETICKS);
	assert_true(p->scalars[0].publish);
	assert_int_equal(p->scalars[1].oidlen, 11);
	assert_true(prof_flag(&p->scalars[1], 5));
	assert_true(prof_flag(&p->scalars[1], 6));
	assert_false(prof_flag(&p->scalars[1], 3));
	assert_int_equal(p->ntables, 1);
	tb = &p->tables[0];
	assert_int_equal(tb->kind, PK_INTERFACE);
	assert_int_equal(tb->nkey, 2);
	assert_int_equal(tb->key[0], 1);
	assert_int_equal(tb->key[1], 0);
	assert_int_equal(tb->ncols, 6);
	assert_string_equal(prof_enum_name(&tb->cols[2], 2), "down");
	assert_null(prof_enum_name(&tb->cols[2], 7));
	assert_float_equal(tb->cols[3].scale, 8, 0);
	assert_float_equal(tb->cols[3].fallback_scale, 8, 0); /* defaults to scale */
	assert_int_equal(tb->cols[3].fallbacklen, 10);
	assert_string_equal(tb->cols[3].unit, "bps");
	assert_float_equal(tb->cols[4].fallback_scale, 1, 0);
	assert_true(tb->cols[4].prefer_nonzero);
	assert_int_equal(tb->cols[4].role, PR_SPEED);
	assert_string_equal(tb->cols[5].sum_into, "in_pps");
	assert_false(tb->cols[5].publish);
	snmp_profiles_free(ps);
}

static void
test_errors(void **state)
{
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.x\" type = \"gauge\" } }",
	             "oid must be numeric");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"float\" } }",
	             "type must be one of");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" } }", "type must be");
	expect_error("profile \"x\" { scalar \"a\" { type = \"gauge\" } }", "oid must be");
	expect_error("profile \"x\" { }", "asks for nothing");
	expect_error("", "no profile");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"flag\" } }",
	             "true-values");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"enum\" enum = { "
	             "\"up\" } } }",
	             "NUMBER=name");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" role = "
	             "\"speed\" } }",
	             "role speed is for table");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" role = "
	             "\"bogus\" } }",
	             "unknown role");
	expect_error(
	    "profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" scale = 0 } }",
	    "scale must not be 0");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" sum-into = "
	             "\"b\" } }",
	             "sum-into needs");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" fallback = "
	             "\"z\" } }",
	             "fallback must be");
	expect_error("profile \"x\" { table \"t\" { kind = \"matrix\" column \"a\" { oid = "
	             "\"1.3.6\" type = \"string\" } key = { \"a\" } } }",
	             "kind must be");
	expect_error("profile \"x\" { table \"t\" { kind = \"storage\" key = { \"a\" } } }",
	             "has no column");
	expect_error("profile \"x\" { table \"t\" { kind = \"storage\" column \"a\" { oid = "
	             "\"1.3.6\" type = \"string\" } } }",
	             "key must name");
	expect_error("profile \"x\" { table \"t\" { kind = \"storage\" column \"a\" { oid = "
	             "\"1.3.6\" type = \"gauge\" } key = { \"a\" } } }",
	             "not a string column");
	expect_error("profile \"x\" { table \"t\" { kind = \"storage\" column \"a\" { oid = "
	             "\"1.3.6\" type = \"string\" role = \"speed\" } key = { \"a\" } } }",
	             "does not fit");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" } }\n"
	             "profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" } }",
	             "");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" nosuch = 1 "
	             "} }",
	             "test.conf");
	expect_error("profile \"x\" { scalar \"a\" { oid = \"1.3.6\" ", "");
}

static void
test_duplicate_across_files(void **state)
{
	char err[512] = "";
	struct snmp_profiles *ps = calloc(1, sizeof(*ps));
	const char *p = "profile \"x\" { scalar \"a\" { oid = \"1.3.6\" type = \"gauge\" } }";

	assert_int_equal(snmp_profiles_parse_buf(ps, p, "a.conf", err, sizeof(err)), 0);
	assert_int_equal(snmp_profiles_parse_buf(ps, p, "b.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "defined twice"));
	snmp_profiles_free(ps);
}

static void
test_missing_dir(void **state)
{
	char err[512] = "";

	assert_null(snmp_profiles_load("/nonexistent/profiles", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/profiles"));
}

/* etc/profiles of this source tree: $LW_SRCDIR, else two levels above the
 * test binary (build/tests/test_x), else the current directory. */
static const char *
profile_dir(char *buf, size_t len)
{
	const char *env = getenv("LW_SRCDIR");
	char exe[2048];
	ssize_t n;

	if (env) {
		snprintf(buf, len, "%s/etc/profiles", env);
		return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 3; up++) {
			char *slash = strrchr(exe, '/');
			if (slash)
				*slash = '\0';
		}
		snprintf(buf, len, "%s/etc/profiles", exe);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	snprintf(buf, len, "etc/profiles");
	return buf;
}

/* The shipped profiles load and hold what the poller relies on. */
static void
test_shipped_profiles(void **state)
{
	char err[512] = "", dir[4096];
	struct snmp_profiles *ps =
	    snmp_profiles_load(profile_dir(dir, sizeof(dir)), err, sizeof(err));
	const struct snmp_profile *p;
	bool uptime = false, speed = false, disc = false;

	if (ps == NULL)
		fail_msg("%s", err);
	p = snmp_profiles_find(ps, "system");
	assert_non_null(p);
	for (size_t i = 0; i < p->nscalars; i++)
		uptime |= p->scalars[i].role == PR_UPTIME;
	assert_true(uptime);
	p = snmp_profiles_find(ps, "if");
	assert_non_null(p);
	assert_int_equal(p->ntables, 1);
	for (size_t i = 0; i < p->tables[0].ncols; i++) {
		speed |= p->tables[0].cols[i].role == PR_SPEED;
		disc |= p->tables[0].cols[i].role == PR_DISCONTINUITY;
	}
	assert_true(speed && disc);
	assert_non_null(snmp_profiles_find(ps, "ups"));
	p = snmp_profiles_find(ps, "host");
	assert_non_null(p);
	assert_int_equal(p->tables[0].kind, PK_STORAGE);
	snmp_profiles_free(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oid_parse),
	    cmocka_unit_test(test_oid_fmt_truncates),
	    cmocka_unit_test(test_full_profile),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_duplicate_across_files),
	    cmocka_unit_test(test_missing_dir),
	    cmocka_unit_test(test_shipped_profiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
