/* test_detect.c - every transition of the per-key state machine (detect.c) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "detect.h"

#define T0 1700000000000LL /* ms */
#define S 1000LL

static const struct detect_params P = {
    .for_n = 3,
    .clear_n = 3,
    .flap_count = 4,
    .flap_window_ms = 600 * S,
    .holddown_ms = 900 * S,
};

static unsigned
step(struct detect *d, const struct detect_params *p, int src, bool bad, enum lw_status sev,
     int64_t t, struct detect_result *r)
{
	struct detect_input in = {.source = src, .bad = bad, .severity = sev, .stale_ms = 30 * S};

	return detect_step(d, p, &in, t, r);
}

static unsigned
good(struct detect *d, int64_t t, struct detect_result *r)
{
	return step(d, &P, 0, false, LW_OK, t, r);
}

static unsigned
bad(struct detect *d, int64_t t, struct detect_result *r)
{
	return step(d, &P, 0, true, LW_WARNING, t, r);
}

static void
test_ok_stays_ok(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	for (int i = 0; i < 10; i++)
		assert_int_equal(good(&d, T0 + i * S, &r), 0);
	assert_int_equal(d.state, DETECT_OK);
}

static void
test_pending_then_cancel(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	assert_int_equal(bad(&d, T0, &r), DETECT_EV_PENDING);
	assert_int_equal(d.state, DETECT_PENDING);
	assert_int_equal(bad(&d, T0 + 5 * S, &r), 0);
	assert_int_equal(good(&d, T0 + 10 * S, &r), DETECT_EV_CANCEL);
	assert_int_equal(d.state, DETECT_OK);
	/* the count starts again from zero */
	assert_int_equal(bad(&d, T0 + 15 * S, &r), DETECT_EV_PENDING);
	assert_int_equal(bad(&d, T0 + 20 * S, &r), 0);
	assert_int_equal(d.state, DETECT_PENDING);
}

static void
test_problem_after_for_evaluations(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	bad(&d, T0, &r);
	bad(&d, T0 + 5 * S, &r);
	assert_int_equal(d.state, DETECT_PENDING);
	assert_int_equal(bad(&d, T0 + 10 * S, &r), DETECT_EV_OPEN);
	assert_int_equal(d.state, DETECT_PROBLEM);
	assert_int_equal(r.severity, LW_WARNING);
	/* the problem started at the first bad evaluation */
	assert_true(r.since_ms == T0);
	/* more bad evaluations change nothing */
	assert_int_equal(bad(&d, T0 + 15 * S, &r), 0);
}

static void
test_for_one_opens_at_once(void **state)
{
	struct detect_params p = P;
	struct detect d;
	struct detect_result r;

	p.for_n = 1;
	detect_init(&d);
	assert_int_equal(step(&d, &p, 0, true, LW_CRITICAL, T0, &r), DETECT_EV_OPEN);
	assert_int_equal(r.severity, LW_CRITICAL);
	assert_true(r.since_ms == T0);
}

static void
open_problem(struct detect *d, int64_t t)
{
	struct detect_result r;

	bad(d, t, &r);
	bad(d, t + S, &r);
	assert_int_equal(bad(d, t + 2 * S, &r), DETECT_EV_OPEN);
}

static void
test_recovery_needs_clear_in_a_row(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	open_problem(&d, T0);
	assert_int_equal(good(&d, T0 + 10 * S, &r), 0);
	assert_int_equal(good(&d, T0 + 11 * S, &r), 0);
	/* hysteresis: one bad evaluation restarts the count */
	assert_int_equal(bad(&d, T0 + 12 * S, &r), 0);
	assert_int_equal(good(&d, T0 + 13 * S, &r), 0);
	assert_int_equal(good(&d, T0 + 14 * S, &r), 0);
	assert_int_equal(d.state, DETECT_PROBLEM);
	assert_int_equal(good(&d, T0 + 15 * S, &r), DETECT_EV_RECOVERED);
	assert_int_equal(d.state, DETECT_OK);
	assert_true(r.duration_ms == 15 * S);
	assert_true(r.since_ms == T0);
	assert_false(r.after_restart);
}

static void
test_reopen_within_holddown(void **state)
{
	struct detect d;
	struct detect_result r;
	int64_t t;

	detect_init(&d);
	open_problem(&d, T0);
	good(&d, T0 + 10 * S, &r);
	good(&d, T0 + 11 * S, &r);
	assert_int_equal(good(&d, T0 + 12 * S, &r), DETECT_EV_RECOVERED);
	/* back 5 minutes later: the same ticket */
	t = T0 + 12 * S + 300 * S;
	bad(&d, t, &r);
	bad(&d, t + S, &r);
	assert_int_equal(bad(&d, t + 2 * S, &r), DETECT_EV_REOPEN);
	good(&d, t + 3 * S, &r);
	good(&d, t + 4 * S, &r);
	assert_int_equal(good(&d, t + 5 * S, &r), DETECT_EV_RECOVERED);
	/* back after the hold-down: a new problem */
	t += 5 * S + P.holddown_ms + S;
	bad(&d, t, &r);
	bad(&d, t + S, &r);
	assert_int_equal(bad(&d, t + 2 * S, &r), DETECT_EV_OPEN);
}

static void
test_seed_recovered_for_holddown(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	detect_seed_recovered(&d, T0 - 60 * S);
	bad(&d, T0, &r);
	bad(&d, T0 + S, &r);
	assert_int_equal(bad(&d, T0 + 2 * S, &r), DETECT_EV_REOPEN);
}

static void
test_severity_rises_at_once_falls_slowly(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	open_problem(&d, T0);
	assert_int_equal(d.severity, LW_WARNING);
	/* 6% -> 40% loss */
	assert_int_equal(step(&d, &P, 0, true, LW_CRITICAL, T0 + 10 * S, &r), DETECT_EV_SEVERITY);
	assert_int_equal(r.severity, LW_CRITICAL);
	assert_int_equal(r.prev_severity, LW_WARNING);
	/* back to warning level: needs clear_n such evaluations */
	assert_int_equal(bad(&d, T0 + 11 * S, &r), 0);
	assert_int_equal(bad(&d, T0 + 12 * S, &r), 0);
	/* a critical one in between resets the fall */
	assert_int_equal(step(&d, &P, 0, true, LW_CRITICAL, T0 + 13 * S, &r), 0);
	assert_int_equal(bad(&d, T0 + 14 * S, &r), 0);
	assert_int_equal(bad(&d, T0 + 15 * S, &r), 0);
	assert_int_equal(bad(&d, T0 + 16 * S, &r), DETECT_EV_SEVERITY);
	assert_int_equal(r.severity, LW_WARNING);
	assert_int_equal(r.prev_severity, LW_CRITICAL);
	/* good evaluations do not change severity */
	assert_int_equal(good(&d, T0 + 17 * S, &r), 0);
	assert_int_equal(d.severity, LW_WARNING);
}

static void
test_unknown_severity_counts_as_warning(void **state)
{
	struct detect_params p = P;
	struct detect d;
	struct detect_result r;

	p.for_n = 1;
	detect_init(&d);
	step(&d, &p, 0, true, LW_UNKNOWN, T0, &r);
	assert_int_equal(r.severity, LW_WARNING);
}

static void
test_sources_never_count_twice(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	/* two probes see one bad run each: two bad evaluations, no problem */
	step(&d, &P, 0, true, LW_WARNING, T0, &r);
	step(&d, &P, 1, true, LW_WARNING, T0 + S, &r);
	step(&d, &P, 0, false, LW_OK, T0 + 5 * S, &r);
	step(&d, &P, 1, false, LW_OK, T0 + 6 * S, &r);
	assert_int_equal(d.state, DETECT_OK);
	step(&d, &P, 0, true, LW_WARNING, T0 + 10 * S, &r);
	step(&d, &P, 1, true, LW_WARNING, T0 + 11 * S, &r);
	step(&d, &P, 0, true, LW_WARNING, T0 + 15 * S, &r);
	step(&d, &P, 1, true, LW_WARNING, T0 + 16 * S, &r);
	assert_int_equal(d.state, DETECT_PENDING);
}

static void
test_clean_gateway_does_not_reset_a_lossy_far_target(void **state)
{
	struct detect d;
	struct detect_result r;
	unsigned ev = 0;

	detect_init(&d);
	for (int i = 0; i < 3; i++) {
		step(&d, &P, 0, false, LW_OK, T0 + i * 10 * S, &r);                   /* gateway */
		ev |= step(&d, &P, 1, true, LW_WARNING, T0 + i * 10 * S + 5 * S, &r); /* far */
	}
	assert_true(ev & DETECT_EV_OPEN);
	/* recovery needs the far target good too */
	for (int i = 3; i < 6; i++)
		assert_int_equal(step(&d, &P, 0, false, LW_OK, T0 + i * 10 * S, &r), 0);
	step(&d, &P, 1, false, LW_OK, T0 + 61 * S, &r);
	step(&d, &P, 1, false, LW_OK, T0 + 62 * S, &r);
	assert_int_equal(step(&d, &P, 1, false, LW_OK, T0 + 63 * S, &r), DETECT_EV_RECOVERED);
}

static void
test_pending_held_by_another_source(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	step(&d, &P, 0, true, LW_WARNING, T0, &r);
	step(&d, &P, 1, true, LW_WARNING, T0 + S, &r);
	/* source 0 recovers, source 1 is still bad: still pending */
	assert_int_equal(step(&d, &P, 0, false, LW_OK, T0 + 2 * S, &r), 0);
	assert_int_equal(d.state, DETECT_PENDING);
	assert_int_equal(step(&d, &P, 1, false, LW_OK, T0 + 3 * S, &r), DETECT_EV_CANCEL);
}

static void
test_stale_source_does_not_block_recovery(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	/* source 1 reported bad once and then went silent (probe removed) */
	step(&d, &P, 1, true, LW_WARNING, T0, &r);
	open_problem(&d, T0 + S);
	good(&d, T0 + 100 * S, &r);
	good(&d, T0 + 101 * S, &r);
	assert_int_equal(good(&d, T0 + 102 * S, &r), DETECT_EV_RECOVERED);
}

static void
test_severity_ignores_stale_sources(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	step(&d, &P, 1, true, LW_CRITICAL, T0, &r);
	/* 100 s later only source 0 speaks: the stale critical no longer counts */
	bad(&d, T0 + 100 * S, &r);
	bad(&d, T0 + 101 * S, &r);
	assert_int_equal(bad(&d, T0 + 102 * S, &r), DETECT_EV_OPEN);
	assert_int_equal(r.severity, LW_WARNING);
}

static unsigned
edge(struct detect *d, bool isbad, int64_t t, struct detect_result *r)
{
	struct detect_input in = {
	    .source = 0, .bad = isbad, .severity = LW_CRITICAL, .edge = true, .stale_ms = 30 * S};

	return detect_step(d, &P, &in, t, r);
}

static void
test_flapping_opens_one_problem(void **state)
{
	struct detect d;
	struct detect_result r;
	unsigned ev = 0;
	int64_t t = T0;

	detect_init(&d);
	/* down for one evaluation, up for one: never `for` in a row */
	ev |= edge(&d, true, t += 10 * S, &r);
	ev |= edge(&d, false, t += 10 * S, &r);
	ev |= edge(&d, true, t += 10 * S, &r);
	assert_int_equal(d.state, DETECT_PENDING);
	assert_false(ev & (DETECT_EV_OPEN | DETECT_EV_FLAPPING));
	ev = edge(&d, false, t += 10 * S, &r);
	assert_int_equal(ev, DETECT_EV_OPEN | DETECT_EV_FLAPPING);
	assert_int_equal(r.flaps, 4);
	assert_true(d.flapping);
	/* it keeps flapping: nothing new */
	for (int i = 0; i < 10; i++) {
		ev = edge(&d, i % 2 == 0, t += 10 * S, &r);
		assert_int_equal(ev & ~DETECT_EV_SEVERITY, 0);
	}
	/* stable and good, but the window still holds the flaps */
	for (int i = 0; i < 5; i++)
		assert_int_equal(good(&d, t += 10 * S, &r), 0);
	assert_int_equal(d.state, DETECT_PROBLEM);
	/* the window has slid past: recovers */
	t += P.flap_window_ms;
	assert_int_equal(good(&d, t, &r), DETECT_EV_RECOVERED);
	assert_false(d.flapping);
}

static void
test_flapping_marks_an_open_problem(void **state)
{
	struct detect d;
	struct detect_result r;
	int64_t t = T0;

	detect_init(&d);
	open_problem(&d, t);
	t += 3 * S;
	assert_int_equal(edge(&d, false, t += S, &r), 0);
	/* critical now: severity rises, not flapping yet */
	assert_int_equal(edge(&d, true, t += S, &r), DETECT_EV_SEVERITY);
	assert_int_equal(edge(&d, false, t += S, &r), 0);
	assert_int_equal(edge(&d, true, t += S, &r), DETECT_EV_FLAPPING);
	assert_true(d.flapping);
}

static void
test_flaps_outside_the_window_do_not_count(void **state)
{
	struct detect d;
	struct detect_result r;
	int64_t t = T0;

	detect_init(&d);
	for (int i = 0; i < 8; i++) {
		edge(&d, i % 2 == 0, t, &r);
		t += P.flap_window_ms / 3 + S; /* at most 3 in any window */
	}
	assert_false(d.flapping);
	assert_true(detect_flaps(&d, &P, t) <= 3);
}

static void
test_edges_without_verdict(void **state)
{
	struct detect_params off = P;
	struct detect d;
	struct detect_result r;
	int64_t t = T0;

	detect_init(&d);
	assert_int_equal(detect_edge(&d, &P, t += S, &r), 0);
	assert_int_equal(detect_edge(&d, &P, t += S, &r), 0);
	assert_int_equal(detect_edge(&d, &P, t += S, &r), 0);
	assert_int_equal(d.state, DETECT_OK);
	assert_int_equal(detect_edge(&d, &P, t += S, &r), DETECT_EV_OPEN | DETECT_EV_FLAPPING);
	assert_int_equal(r.flaps, 4);
	assert_int_equal(detect_edge(&d, &P, t += S, &r), 0);
	/* off: nothing counted */
	off.flap_count = 0;
	detect_init(&d);
	for (int i = 0; i < 10; i++)
		assert_int_equal(detect_edge(&d, &off, t += S, &r), 0);
	assert_int_equal(d.nflaps, 0);
}

static void
test_no_flap_detection_when_off(void **state)
{
	struct detect_params p = P;
	struct detect d;
	struct detect_result r;
	struct detect_input in = {.source = 0, .edge = true, .stale_ms = 30 * S};

	p.flap_count = 0;
	detect_init(&d);
	for (int i = 0; i < 20; i++) {
		in.bad = i % 2 == 0;
		detect_step(&d, &p, &in, T0 + i * S, &r);
	}
	assert_int_not_equal(d.state, DETECT_PROBLEM);
}

static void
test_restored_problem_confirmed(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	detect_seed(&d, LW_CRITICAL, T0 - 3600 * S, false);
	assert_int_equal(d.state, DETECT_PROBLEM);
	assert_int_equal(step(&d, &P, 0, true, LW_CRITICAL, T0, &r), DETECT_EV_CONFIRMED);
	assert_int_equal(step(&d, &P, 0, true, LW_CRITICAL, T0 + S, &r), 0);
	good(&d, T0 + 2 * S, &r);
	good(&d, T0 + 3 * S, &r);
	assert_int_equal(good(&d, T0 + 4 * S, &r), DETECT_EV_RECOVERED);
	assert_false(r.after_restart);
	assert_true(r.duration_ms == 3604 * S);
}

static void
test_restored_problem_cleared_while_down(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	detect_seed(&d, LW_WARNING, T0 - 600 * S, true);
	assert_true(d.flapping);
	good(&d, T0, &r);
	good(&d, T0 + S, &r);
	assert_int_equal(good(&d, T0 + 2 * S, &r), DETECT_EV_RECOVERED);
	assert_true(r.after_restart);
}

static void
test_restored_then_bad_again_is_not_after_restart(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	detect_seed(&d, LW_WARNING, T0 - 600 * S, false);
	good(&d, T0, &r);
	assert_int_equal(bad(&d, T0 + S, &r), DETECT_EV_CONFIRMED);
	good(&d, T0 + 2 * S, &r);
	good(&d, T0 + 3 * S, &r);
	assert_int_equal(good(&d, T0 + 4 * S, &r), DETECT_EV_RECOVERED);
	assert_false(r.after_restart);
}

static void
test_bad_source_index_ignored(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	assert_int_equal(step(&d, &P, DETECT_MAX_SOURCES, true, LW_CRITICAL, T0, &r), 0);
	assert_int_equal(step(&d, &P, -1, true, LW_CRITICAL, T0, &r), 0);
	assert_int_equal(d.state, DETECT_OK);
}

static void
test_reset_sources_keeps_state(void **state)
{
	struct detect d;
	struct detect_result r;

	detect_init(&d);
	open_problem(&d, T0);
	detect_reset_sources(&d);
	assert_int_equal(d.state, DETECT_PROBLEM);
	good(&d, T0 + 10 * S, &r);
	good(&d, T0 + 11 * S, &r);
	assert_int_equal(good(&d, T0 + 12 * S, &r), DETECT_EV_RECOVERED);
}

static void
test_median(void **state)
{
	double a[] = {5, 1, 3};
	double b[] = {4, 1, 3, 2};

	assert_float_equal(detect_median(a, 3), 3, 1e-9);
	assert_float_equal(detect_median(b, 4), 2.5, 1e-9);
	assert_float_equal(detect_median(NULL, 0), 0, 1e-9);
}

static void
test_baseline(void **state)
{
	double week[7] = {10, 12, NAN, 11, NAN, NAN, NAN};
	double few[7] = {10, NAN, NAN, NAN, NAN, NAN, NAN};

	assert_float_equal(detect_baseline(week, 7, 3), 11, 1e-9);
	assert_true(isnan(detect_baseline(few, 7, 3)));
	assert_float_equal(detect_baseline(few, 7, 1), 10, 1e-9);
}

static void
test_latency_verdicts(void **state)
{
	/* fixed threshold */
	assert_int_equal(detect_latency_bad(160, 150, NAN, 3, 20), 1);
	assert_int_equal(detect_latency_bad(140, 150, NAN, 3, 20), 0);
	/* baseline: 3 x 12 ms = 36 ms, and 20 ms above it */
	assert_int_equal(detect_latency_bad(40, 150, 12, 3, 20), 2);
	assert_int_equal(detect_latency_bad(30, 150, 12, 3, 20), 0);
	/* a LAN-fast path: 3x but not 20 ms worse is normal jitter */
	assert_int_equal(detect_latency_bad(0.9, 150, 0.2, 3, 20), 0);
	/* baseline off */
	assert_int_equal(detect_latency_bad(40, 150, 12, 0, 20), 0);
	assert_int_equal(detect_latency_bad(NAN, 150, 12, 3, 20), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ok_stays_ok),
	    cmocka_unit_test(test_pending_then_cancel),
	    cmocka_unit_test(test_problem_after_for_evaluations),
	    cmocka_unit_test(test_for_one_opens_at_once),
	    cmocka_unit_test(test_recovery_needs_clear_in_a_row),
	    cmocka_unit_test(test_reopen_within_holddown),
	    cmocka_unit_test(test_seed_recovered_for_holddown),
	    cmocka_unit_test(test_severity_rises_at_once_falls_slowly),
	    cmocka_unit_test(test_unknown_severity_counts_as_warning),
	    cmocka_unit_test(test_sources_never_count_twice),
	    cmocka_unit_test(test_clean_gateway_does_not_reset_a_lossy_far_target),
	    cmocka_unit_test(test_pending_held_by_another_source),
	    cmocka_unit_test(test_stale_source_does_not_block_recovery),
	    cmocka_unit_test(test_severity_ignores_stale_sources),
	    cmocka_unit_test(test_flapping_opens_one_problem),
	    cmocka_unit_test(test_flapping_marks_an_open_problem),
	    cmocka_unit_test(test_flaps_outside_the_window_do_not_count),
	    cmocka_unit_test(test_edges_without_verdict),
	    cmocka_unit_test(test_no_flap_detection_when_off),
	    cmocka_unit_test(test_restored_problem_confirmed),
	    cmocka_unit_test(test_restored_problem_cleared_while_down),
	    cmocka_unit_test(test_restored_then_bad_again_is_not_after_restart),
	    cmocka_unit_test(test_bad_source_index_ignored),
	    cmocka_unit_test(test_reset_sources_keeps_state),
	    cmocka_unit_test(test_median),
	    cmocka_unit_test(test_baseline),
	    cmocka_unit_test(test_latency_verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
