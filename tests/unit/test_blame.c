/* test_blame.c - fault location verdicts on recorded metric sequences (blame.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "blame.h"

/* A lab-like link: router "edge-router", interface Gi1/0/1, 100 Mbit/s,
 * probes to the provider's gateway, the ISP resolver and a far host. */
static struct blame_probe probes[3];
static struct blame_input in;

static void
reset(void)
{
	memset(probes, 0, sizeof(probes));
	probes[0] = (struct blame_probe){.name = "gateway",
	                                 .target = "198.18.1.1",
	                                 .hop = LW_HOP_GATEWAY,
	                                 .fresh = true,
	                                 .loss_valid = true,
	                                 .latency_valid = true,
	                                 .latency_ms = 1.2,
	                                 .jitter_valid = true,
	                                 .jitter_ms = 0.1};
	probes[1] = (struct blame_probe){
	    .name = "dns", .target = "198.18.1.53", .hop = LW_HOP_ISP, .fresh = true};
	probes[2] = (struct blame_probe){.name = "internet",
	                                 .target = "198.18.2.2",
	                                 .hop = LW_HOP_INTERNET,
	                                 .fresh = true,
	                                 .loss_valid = true,
	                                 .latency_valid = true,
	                                 .latency_ms = 12};
	memset(&in, 0, sizeof(in));
	in.device = "edge-router";
	in.device_known = true;
	in.device_reachable = true;
	in.reboot_age_s = -1;
	in.interface = "Gi1/0/1";
	in.iface_known = true;
	in.util_valid = true;
	in.util_pct = 12;
	in.bandwidth_bps = 100e6;
	in.errors_valid = true;
	in.errors_per_min = 0;
	in.util_threshold_pct = 90;
	in.errors_threshold = 10;
	in.probes = probes;
	in.nprobes = 3;
}

static void
set_loss(struct blame_probe *p, double loss, bool isbad)
{
	p->loss_pct = loss;
	p->loss_valid = true;
	p->bad = isbad;
	p->failed = loss >= 100;
}

static bool
has_reason(const struct blame *b, const char *needle)
{
	for (int i = 0; i < b->nreasons; i++)
		if (strstr(b->reasons[i], needle))
			return true;
	return false;
}

static void
test_names(void **state)
{
	assert_string_equal(blame_name(BLAME_ISP), "isp");
	assert_string_equal(blame_name(BLAME_BEYOND), "beyond");
	assert_string_equal(blame_name((enum blame_verdict)42), "unknown");
	assert_int_equal(blame_parse("CPE"), BLAME_CPE);
	assert_int_equal(blame_parse("nonsense"), BLAME_UNKNOWN);
	assert_int_equal(blame_parse(NULL), BLAME_UNKNOWN);
	assert_string_equal(blame_phrase(BLAME_UNKNOWN), "");
}

static void
test_loss_at_the_gateway_is_the_isp(void **state)
{
	struct blame b;

	reset();
	set_loss(&probes[0], 18, true);
	set_loss(&probes[2], 20, true);
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_ISP);
	assert_true(has_reason(&b, "gateway (198.18.1.1, hop gateway): 18% loss"));
	assert_true(has_reason(&b, "router edge-router answers SNMP"));
	assert_true(has_reason(&b, "Gi1/0/1 is clean: 0 errors/min, 12% utilization"));
}

static void
test_only_far_targets_is_beyond(void **state)
{
	struct blame b;

	reset();
	set_loss(&probes[0], 0, false);
	set_loss(&probes[2], 30, true);
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_BEYOND);
	assert_true(has_reason(&b, "gateway (198.18.1.1, hop gateway): 0% loss, 1.2 ms"));
	assert_true(has_reason(&b, "internet (198.18.2.2, hop internet): 30% loss"));
}

static void
test_saturation_is_the_lan(void **state)
{
	struct blame b;

	reset();
	in.util_pct = 97;
	in.top_talkers = "198.18.3.2 (81%)";
	/* saturation causes loss everywhere: the LAN still wins */
	set_loss(&probes[0], 8, true);
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_LAN);
	assert_true(has_reason(&b, "Gi1/0/1 inbound at 97% of 100 Mbit/s"));
	assert_true(has_reason(&b, "top talkers: 198.18.3.2 (81%)"));
	in.util_outbound = true;
	in.bandwidth_bps = 0;
	blame_evaluate(&in, &b);
	assert_true(has_reason(&b, "outbound at 97% of its speed"));
}

static void
test_router_unreachable_is_cpe(void **state)
{
	struct blame b;

	reset();
	in.device_reachable = false;
	set_loss(&probes[0], 100, true);
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_CPE);
	assert_true(has_reason(&b, "edge router edge-router does not answer SNMP"));
}

static void
test_errors_and_reboot_are_cpe(void **state)
{
	struct blame b;

	reset();
	in.errors_per_min = 90;
	set_loss(&probes[0], 6, true);
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_CPE);
	assert_true(has_reason(&b, "90 input errors and discards per minute"));

	reset();
	in.reboot_age_s = 180;
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_CPE);
	assert_true(has_reason(&b, "rebooted 3 min ago"));
	/* an old reboot is not evidence */
	in.reboot_age_s = BLAME_REBOOT_RECENT_S + 1;
	blame_evaluate(&in, &b);
	assert_int_not_equal(b.verdict, BLAME_CPE);
}

static void
test_no_carrier_is_the_isp(void **state)
{
	struct blame b;

	reset();
	in.oper_down = true;
	set_loss(&probes[0], 100, true);
	set_loss(&probes[2], 100, true);
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_ISP);
	assert_true(has_reason(&b, "Gi1/0/1 has no carrier"));
	/* shut by hand on the router: the router */
	in.admin_down = true;
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_CPE);
	assert_true(has_reason(&b, "shut down"));
}

static void
test_without_hops_unknown_with_advice(void **state)
{
	struct blame b;

	reset();
	for (int i = 0; i < 3; i++)
		probes[i].hop = LW_HOP_NONE;
	set_loss(&probes[0], 30, true);
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_UNKNOWN);
	assert_true(has_reason(&b, "set hop"));

	reset();
	in.nprobes = 1;
	in.probes = &probes[2]; /* only the far host */
	set_loss(&probes[2], 30, true);
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_UNKNOWN);
	assert_true(has_reason(&b, "only far targets"));

	reset();
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_UNKNOWN);
	assert_int_equal(b.nreasons, 1);
}

static void
test_stale_probes_are_not_evidence(void **state)
{
	struct blame b;

	reset();
	set_loss(&probes[0], 50, true);
	probes[0].fresh = false;
	probes[1].fresh = false;
	set_loss(&probes[2], 30, true);
	blame_evaluate(&in, &b);
	/* the gateway's old bad result does not make it the ISP, nor clean */
	assert_int_equal(b.verdict, BLAME_UNKNOWN);
	/* the ISP-hop resolver answering now is clean evidence */
	probes[1].fresh = true;
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_BEYOND);
}

/* A recorded incident: the verdict follows the evidence as it evolves. */
static void
test_sequence(void **state)
{
	static const struct {
		double gw_loss, far_loss, util, errors;
		bool reachable;
		enum blame_verdict want;
	} seq[] = {
	    {0, 25, 10, 0, true, BLAME_BEYOND}, /* far host lossy */
	    {20, 30, 10, 0, true, BLAME_ISP},   /* now the gateway too */
	    {20, 30, 95, 0, true, BLAME_LAN},   /* a backup saturates the line */
	    {20, 30, 40, 30, true, BLAME_CPE},  /* the port counts errors */
	    {100, 100, 0, 0, false, BLAME_CPE}, /* the router died */
	    {0, 0, 10, 0, true, BLAME_UNKNOWN}, /* all clean again */
	};
	struct blame b;

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		reset();
		set_loss(&probes[0], seq[i].gw_loss, seq[i].gw_loss > 5);
		set_loss(&probes[2], seq[i].far_loss, seq[i].far_loss > 5);
		in.util_pct = seq[i].util;
		in.errors_per_min = seq[i].errors;
		in.device_reachable = seq[i].reachable;
		blame_evaluate(&in, &b);
		assert_int_equal(b.verdict, seq[i].want);
		assert_true(b.nreasons >= 1);
	}
}

static void
test_reasons_are_bounded(void **state)
{
	struct blame_probe many[20];
	struct blame b;

	reset();
	for (int i = 0; i < 20; i++) {
		many[i] = probes[0];
		set_loss(&many[i], 50, true);
	}
	in.probes = many;
	in.nprobes = 20;
	blame_evaluate(&in, &b);
	assert_int_equal(b.verdict, BLAME_ISP);
	assert_int_equal(b.nreasons, BLAME_MAX_REASONS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_loss_at_the_gateway_is_the_isp),
	    cmocka_unit_test(test_only_far_targets_is_beyond),
	    cmocka_unit_test(test_saturation_is_the_lan),
	    cmocka_unit_test(test_router_unreachable_is_cpe),
	    cmocka_unit_test(test_errors_and_reboot_are_cpe),
	    cmocka_unit_test(test_no_carrier_is_the_isp),
	    cmocka_unit_test(test_without_hops_unknown_with_advice),
	    cmocka_unit_test(test_stale_probes_are_not_evidence),
	    cmocka_unit_test(test_sequence),
	    cmocka_unit_test(test_reasons_are_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
