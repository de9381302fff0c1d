/* test_traffic.c - the capture memory budget, MPLS-over-UDP accounting and
 * application classification (appclass-ndpi.so through appclass_load.c, as
 * the daemon loads it; or its absence without nDPI) */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "appclass_load.h"
#include "decode.h"
#include "traffic.h"
#include "plugin_dir.h"

#define MB (1ULL << 20)

/* BUILD/plugins, where appclass-ndpi.so is, from BUILD/tests/this */
static char plugin_dir[PATH_MAX + 16];
static const struct lw_appclass *ac; /* NULL without nDPI */

static void
test_budget_split(void **state)
{
	struct traffic_budget b;

	/* the default: a quarter of memory for the kernel ring */
	traffic_budget_split(16 * MB, 0, false, &b);
	assert_int_equal(b.kernel, 4 * MB);
	assert_int_equal(b.overhead, 1 * MB);
	assert_int_equal(b.apps, 0);
	assert_int_equal(b.evidence, 11 * MB / 4);
	assert_int_equal(b.tables, 11 * MB - 11 * MB / 4);
	assert_int_equal(b.kernel + b.overhead + b.apps + b.evidence + b.tables, 16 * MB);

	/* classifying: nDPI's fixed tables, then a quarter for the flows */
	traffic_budget_split(16 * MB, 0, true, &b);
	assert_int_equal(b.kernel, 4 * MB);
	assert_int_equal(b.apps_fixed, TRAFFIC_APPS_FIXED);
	assert_int_equal(b.apps, (11 * MB - TRAFFIC_APPS_FIXED) / 4);
	assert_int_equal(b.kernel + b.overhead + b.apps_fixed + b.apps + b.evidence + b.tables,
	                 16 * MB);

	/* an explicit buffer comes off the top */
	traffic_budget_split(64 * MB, 32 * MB, false, &b);
	assert_int_equal(b.kernel, 32 * MB);
	assert_int_equal(b.kernel + b.overhead + b.evidence + b.tables, 64 * MB);

	/* never less than the minimum ring, never all of memory */
	traffic_budget_split(2 * MB, 0, false, &b);
	assert_int_equal(b.kernel, TRAFFIC_BUFFER_MIN);
	assert_int_equal(b.overhead, 0);
	assert_int_equal(b.kernel + b.evidence + b.tables, 2 * MB);
	traffic_budget_split(4 * MB, 8 * MB, false, &b);
	assert_int_equal(b.kernel, 3 * MB);
	assert_int_equal(b.evidence + b.tables, 1 * MB);
}

/* Ethernet + IPv4 10.0.0.1 -> 192.0.2.<dst> + UDP sport -> dport + data */
static size_t
udp_frame(uint8_t *f, uint8_t dst, uint16_t sport, uint16_t dport, const void *data, size_t n)
{
	uint8_t h[42] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45};

	h[16] = (uint8_t)((28 + n) >> 8), h[17] = (uint8_t)(28 + n);
	h[22] = 64, h[23] = 17;
	h[26] = 10, h[29] = 1;
	h[30] = 192, h[32] = 2, h[33] = dst;
	h[34] = (uint8_t)(sport >> 8), h[35] = (uint8_t)sport;
	h[36] = (uint8_t)(dport >> 8), h[37] = (uint8_t)dport;
	h[38] = (uint8_t)((8 + n) >> 8), h[39] = (uint8_t)(8 + n);
	memcpy(f, h, sizeof(h));
	memcpy(f + sizeof(h), data, n);
	return sizeof(h) + n;
}

static const uint8_t dns_query[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0,   0,
                                    0,    0,    7,    'e',  'x', 'a', 'm', 'p', 'l', 'e',
                                    3,    'o',  'r',  'g',  0,   0,   1,   0,   1};

static void
add(struct appclass *a, const uint8_t *f, size_t n, time_t t)
{
	struct decode_pkt p;
	struct timeval ts = {.tv_sec = t};
	enum decode_result r = decode_packet(DECODE_LINK_ETHERNET, f, n, &p);

	ac->add(a, r, &p, f, (uint32_t)n, (uint32_t)n, 1, &ts);
}

static void
test_appclass_without_ndpi_loads_nothing(void **state)
{
	const struct lw_appclass *t = NULL;
	char err[PATH_MAX + 256];

	if (appclass_built())
		skip();
	assert_null(appclass_open(plugin_dir, &t, err, sizeof(err)));
	assert_null(t);
	assert_non_null(strstr(err, "built without nDPI"));
}

/* What linewatchd -t and start-up report after FILE:LINE. */
static void
test_appclass_plugin_missing_or_broken(void **state)
{
	const struct lw_appclass *t = NULL;
	char dir[] = "/tmp/lw-test-appclass.XXXXXX", path[sizeof(dir) + 32];
	char err[PATH_MAX + 256], want[PATH_MAX + 64];
	FILE *f;

	if (!appclass_built())
		skip();
	assert_non_null(mkdtemp(dir));
	assert_null(appclass_open(dir, &t, err, sizeof(err)));
	snprintf(want, sizeof(want), "plugin %s/appclass-ndpi.so does not exist", dir);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "plugin-dir"));
	/* a file that is not a shared object */
	snprintf(path, sizeof(path), "%s/appclass-ndpi.so", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("not an ELF file\n", f);
	assert_int_equal(fclose(f), 0);
	assert_null(appclass_open(dir, &t, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot be loaded"));
	assert_null(t);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_appclass_plugin_table(void **state)
{
	if (ac == NULL)
		skip();
	assert_int_equal(ac->abi, LW_APPCLASS_ABI);
	assert_non_null(strstr(ac->version(), "nDPI "));
}

static void
test_appclass_names_dns_and_counts_all_bytes(void **state)
{
	struct traffic_report *r = traffic_report_new(4);
	struct appclass *a;
	uint8_t f[256], junk[64];
	size_t n, total = 0;

	if (ac == NULL)
		skip();
	assert_non_null(r);
	assert_non_null(a = ac->create(1 * MB));
	for (int i = 0; i < 3; i++) {
		n = udp_frame(f, 53, 40000, 53, dns_query, sizeof(dns_query));
		add(a, f, n, 1000);
		total += n;
	}
	memset(junk, 0xa5, sizeof(junk));
	n = udp_frame(f, 99, 47000, 47001, junk, sizeof(junk));
	add(a, f, n, 1000);
	total += n;
	/* ARP: not IP, counted as Unknown */
	memset(f, 0, 60);
	f[12] = 0x08, f[13] = 0x06;
	add(a, f, 60, 1000);
	total += 60;
	ac->flush(a, r, true);
	assert_true(r->apps_valid);
	assert_int_equal(r->napps, 2);
	assert_string_equal(r->apps[0].name, "DNS");
	assert_int_equal(r->apps[0].pkts, 3);
	assert_int_equal(r->apps[0].flows, 1);
	assert_string_equal(r->apps[1].name, "Unknown");
	assert_int_equal(r->apps[0].bytes + r->apps[1].bytes, total);
	assert_int_equal(r->app_evictions, 0);
	ac->destroy(a);
	traffic_report_free(r);
}

/* More flows than the table holds: the oldest go, counted; memory stays. */
static void
test_appclass_flow_table_evicts(void **state)
{
	struct traffic_report *r = traffic_report_new(4);
	struct appclass *a;
	struct appclass_stats st;
	size_t nflows, nstates;
	uint8_t f[256];
	uint64_t pkts = 0;

	if (ac == NULL)
		skip();
	assert_non_null(a = ac->create(256 * 1024));
	ac->size(a, &nflows, &nstates);
	assert_true(nflows >= 64 && nstates >= 16);
	for (uint32_t i = 0; i < 4 * nflows; i++) {
		size_t n = udp_frame(f, (uint8_t)(i % 200), (uint16_t)(1024 + i), 53, dns_query,
		                     sizeof(dns_query));

		add(a, f, n, 1000 + i / 100);
	}
	ac->flush(a, r, true);
	ac->stats(a, &st);
	assert_true(st.flow_evictions >= 3 * nflows - nflows / 4);
	assert_int_equal(r->app_evictions, st.flow_evictions + st.detect_evictions);
	for (size_t i = 0; i < r->napps; i++)
		pkts += r->apps[i].pkts;
	assert_int_equal(pkts, 4 * nflows);
	assert_string_equal(r->apps[0].name, "DNS");
	ac->destroy(a);
	traffic_report_free(r);
}

/* The addresses under MPLS over UDP count like the outer ones. */
static void
test_mpls_over_udp_inner_hosts(void **state)
{
	struct traffic_agg *agg = traffic_agg_new(1 * MB, 0, 1);
	struct traffic_report *r;
	struct decode_pkt p;
	uint8_t f[256];
	uint8_t inner[4 + 20] = {0x00, 0x01, 0x51, 0x3f, 0x45};
	size_t n;

	assert_non_null(agg);
	inner[4 + 3] = 20;
	inner[4 + 9] = 1;
	inner[4 + 12] = 10, inner[4 + 13] = 3, inner[4 + 15] = 10;
	inner[4 + 16] = 10, inner[4 + 17] = 1, inner[4 + 19] = 10;
	n = udp_frame(f, 9, 58699, DECODE_PORT_MPLS_UDP, inner, sizeof(inner));
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f, n, &p), DECODE_OK);
	traffic_agg_frame(agg, (uint32_t)n);
	traffic_agg_add(agg, DECODE_OK, &p, (uint32_t)n, 1);
	assert_non_null(r = traffic_report_new(traffic_agg_top(agg)));
	traffic_agg_flush(agg, r);
	assert_int_equal(r->nhosts, 4);
	assert_int_equal(r->nconvs, 2);
	assert_int_equal(r->tunnels, 1);
	for (size_t i = 0; i < r->nhosts; i++)
		assert_int_equal(r->hosts[i].tx_bytes + r->hosts[i].rx_bytes, n);
	traffic_report_free(r);
	traffic_agg_free(agg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_budget_split),
	    cmocka_unit_test(test_appclass_without_ndpi_loads_nothing),
	    cmocka_unit_test(test_appclass_plugin_missing_or_broken),
	    cmocka_unit_test(test_appclass_plugin_table),
	    cmocka_unit_test(test_appclass_names_dns_and_counts_all_bytes),
	    cmocka_unit_test(test_appclass_flow_table_evicts),
	    cmocka_unit_test(test_mpls_over_udp_inner_hosts),
	};
	char err[PATH_MAX + 256];
	void *dl = NULL;
	int rc;

	if (plugin_dir_of_build(plugin_dir, sizeof(plugin_dir)) != 0)
		return 1;
	if (appclass_built() && (dl = appclass_open(plugin_dir, &ac, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	appclass_close(dl);
	return rc;
}
