/* test_topn.c - Space-Saving tables, the traffic aggregator and the evidence ring */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "decode.h"
#include "evidence.h"
#include "topn.h"
#include "traffic.h"

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
key_of(uint32_t k, uint8_t key[8])
{
	memset(key, 0, 8);
	memcpy(key, &k, sizeof(k));
}

static void
test_exact_below_capacity(void **state)
{
	struct topn *t = topn_new(100, 8, 1);
	const struct topn_entry *out[100];
	uint8_t key[8];

	assert_non_null(t);
	for (uint32_t k = 1; k <= 50; k++)
		for (uint32_t i = 0; i < k; i++) {
			key_of(k, key);
			topn_add(t, key, 10)->val[0]++;
		}
	assert_int_equal(topn_count(t), 50);
	assert_int_equal(topn_evictions(t), 0);
	assert_int_equal(topn_sorted(t, out, 100), 50);
	for (size_t i = 0; i < 50; i++) {
		uint32_t k;

		memcpy(&k, out[i]->key, 4);
		assert_int_equal(k, 50 - i); /* heaviest first */
		assert_int_equal(out[i]->weight, (uint64_t)k * 10);
		assert_int_equal(out[i]->val[0], k);
		assert_int_equal(out[i]->error, 0);
	}
	key_of(7, key);
	assert_non_null(topn_find(t, key));
	key_of(77, key);
	assert_null(topn_find(t, key));
	/* fewer than asked */
	assert_int_equal(topn_sorted(t, out, 3), 3);
	topn_reset(t);
	assert_int_equal(topn_count(t), 0);
	key_of(7, key);
	assert_null(topn_find(t, key));
	topn_free(t);
}

/* Heavy hitters survive a flood of one-off keys, with the Space-Saving
 * guarantees: weight >= true count >= weight - error. */
static void
test_heavy_hitters_survive_flood(void **state)
{
	enum { CAP = 256, HEAVY = 10, ROUNDS = 200000 };
	struct topn *t = topn_new(CAP, 8, 42);
	const struct topn_entry *out[CAP];
	uint64_t truth[HEAVY] = {0};
	uint8_t key[8];

	for (int i = 0; i < ROUNDS; i++) {
		if (i % 4 == 0) {
			uint32_t h = (uint32_t)(rnd() % HEAVY);

			key_of(h + 1, key);
			topn_add(t, key, 100);
			truth[h] += 100;
		} else {
			key_of((uint32_t)(rnd() | 0x80000000u), key);
			topn_add(t, key, 100);
		}
	}
	assert_int_equal(topn_count(t), CAP);
	assert_true(topn_evictions(t) > 0);
	assert_int_equal(topn_sorted(t, out, HEAVY), HEAVY);
	for (int i = 0; i < HEAVY; i++) {
		uint32_t k;

		memcpy(&k, out[i]->key, 4);
		assert_true(k >= 1 && k <= HEAVY);
		assert_true(out[i]->weight >= truth[k - 1]);
		assert_true(out[i]->weight - out[i]->error <= truth[k - 1]);
	}
	/* every key still findable after all the evictions (hash deletes) */
	for (uint32_t k = 1; k <= HEAVY; k++) {
		key_of(k, key);
		assert_non_null(topn_find(t, key));
	}
	topn_free(t);
}

static void
test_footprint(void **state)
{
	size_t cap = topn_capacity_for(1 << 20);

	assert_true(cap > 1000);
	assert_true(topn_footprint(cap) <= 1 << 20);
	assert_int_equal(topn_capacity_for(10), 0);
	assert_null(topn_new(0, 8, 0));
	assert_null(topn_new(10, 12, 0)); /* keys are whole 8-byte words */
	assert_null(topn_new(10, TOPN_KEYMAX + 1, 0));
}

static struct decode_pkt
pkt4(uint8_t a, uint8_t b, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct decode_pkt p = {.family = 4, .proto = proto, .sport = sport, .dport = dport};

	p.src[0] = 10, p.src[3] = a;
	p.dst[0] = 10, p.dst[3] = b;
	p.l4_off = 34;
	return p;
}

static void
test_traffic_aggregation(void **state)
{
	struct traffic_agg *a = traffic_agg_new(4 << 20, 10, 7);
	struct traffic_report *r;
	struct decode_pkt p;

	assert_non_null(a);
	r = traffic_report_new(traffic_agg_top(a));
	/* host 1 downloads from host 2 over https: 3 x 1000 bytes in, 2 x 100 out */
	for (int i = 0; i < 3; i++) {
		p = pkt4(2, 1, 6, 443, 50000);
		traffic_agg_frame(a, 1000);
		traffic_agg_add(a, DECODE_OK, &p, 1000, 1);
	}
	for (int i = 0; i < 2; i++) {
		p = pkt4(1, 2, 6, 50000, 443);
		traffic_agg_frame(a, 100);
		traffic_agg_add(a, DECODE_OK, &p, 100, 1);
	}
	p = pkt4(1, 3, 17, 40000, 53);
	traffic_agg_frame(a, 80);
	traffic_agg_add(a, DECODE_OK, &p, 80, 1);
	traffic_agg_frame(a, 60);
	traffic_agg_add(a, DECODE_NOT_IP, &p, 60, 1);
	traffic_agg_flush(a, r);

	assert_int_equal(r->pkts, 7);
	assert_int_equal(r->bytes, 3000 + 200 + 80 + 60);
	assert_int_equal(r->class_bytes[TC_TCP], 3200);
	assert_int_equal(r->class_bytes[TC_UDP], 80);
	assert_int_equal(r->class_bytes[TC_OTHER], 60);
	assert_int_equal(r->malformed[DECODE_NOT_IP], 1);
	assert_int_equal(r->nhosts, 3);
	/* 10.0.0.1 and .2 both saw 3200 bytes; ties break on the address */
	assert_int_equal(r->hosts[0].addr[3], 1);
	assert_int_equal(r->hosts[0].tx_bytes, 280);
	assert_int_equal(r->hosts[0].rx_bytes, 3000);
	assert_int_equal(r->hosts[0].tx_pkts, 3);
	assert_true(r->hosts[0].local); /* 10/8 is private */
	assert_int_equal(r->nconvs, 2);
	assert_int_equal(r->convs[0].a[3], 1);
	assert_int_equal(r->convs[0].b[3], 2);
	assert_int_equal(r->convs[0].ab_bytes, 200);
	assert_int_equal(r->convs[0].ba_bytes, 3000);
	assert_int_equal(r->nservices, 2);
	assert_int_equal(r->services[0].proto, 6);
	assert_int_equal(r->services[0].port, 443);
	assert_int_equal(r->services[0].to_server_bytes, 200);
	assert_int_equal(r->services[1].port, 53);
	assert_string_equal(traffic_service_name(6, 443), "https");
	assert_string_equal(traffic_service_name(17, 443), "quic");
	assert_null(traffic_service_name(6, 12345));

	/* the next interval starts empty */
	traffic_agg_flush(a, r);
	assert_int_equal(r->pkts, 0);
	assert_int_equal(r->nhosts, 0);

	/* local networks replace the private default */
	assert_int_equal(traffic_agg_parse_local(a, "10.0.0.2/32"), 0);
	assert_int_equal(traffic_agg_parse_local(a, "not-an-address"), -1);
	assert_int_equal(traffic_agg_parse_local(a, "10.0.0.0/33"), -1);
	p = pkt4(1, 2, 6, 50000, 443);
	traffic_agg_add(a, DECODE_OK, &p, 100, 4); /* sampled 1 in 4 */
	traffic_agg_flush(a, r);
	assert_int_equal(r->hosts[0].addr[3], 1);
	assert_false(r->hosts[0].local);
	assert_true(r->hosts[1].local);
	assert_int_equal(r->hosts[0].tx_bytes, 400);
	assert_int_equal(r->hosts[0].tx_pkts, 4);

	json_t *j = traffic_report_json(r);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "hosts")), 2);
	json_decref(j);
	traffic_report_free(r);
	traffic_agg_free(a);
}

/* A flood of random sources never grows the tables past their capacity. */
static void
test_traffic_flood_fixed_memory(void **state)
{
	struct traffic_agg *a = traffic_agg_new(1 << 20, 20, 3);
	struct traffic_report *r = traffic_report_new(20);
	struct decode_pkt p;

	for (int i = 0; i < 300000; i++) {
		p = pkt4(1, 2, 6, 1234, 80);
		memcpy(p.src, &(uint32_t){(uint32_t)rnd()}, 4);
		traffic_agg_add(a, DECODE_OK, &p, 60, 1);
		if (i % 10 == 0) {
			p = pkt4(9, 2, 6, 4444, 22);
			traffic_agg_add(a, DECODE_OK, &p, 1500, 1);
		}
	}
	traffic_agg_flush(a, r);
	assert_true(r->evictions > 0);
	/* the real talker is still first, with a bounded error */
	assert_int_equal(r->convs[0].a[3], 2);
	assert_int_equal(r->convs[0].b[3], 9);
	assert_true(r->convs[0].ba_bytes <= 30000 * 1500);
	assert_true(r->convs[0].ba_bytes + r->convs[0].error >= 30000 * 1500);
	traffic_report_free(r);
	traffic_agg_free(a);
}

struct walk {
	int n;
	uint32_t first, last;
	uint32_t maxcap;
};

static void
walk_cb(const struct timeval *ts, uint32_t caplen, uint32_t wirelen, const uint8_t *data, void *arg)
{
	struct walk *w = arg;

	if (w->n == 0)
		w->first = (uint32_t)ts->tv_sec;
	w->last = (uint32_t)ts->tv_sec;
	if (caplen > w->maxcap)
		w->maxcap = caplen;
	assert_int_equal(data[0], (uint8_t)ts->tv_sec);
	w->n++;
}

static void
test_evidence_ring(void **state)
{
	struct evring *r = evring_new(64 * 1024, 128);
	uint8_t frame[1500];
	struct timeval tv = {0};
	struct walk w = {0};
	size_t slots;

	assert_non_null(r);
	assert_int_equal(evring_snaplen(r), 128);
	slots = evring_slots(r);
	assert_true(slots >= 64);
	for (int i = 1; i <= 1000; i++) {
		tv.tv_sec = i;
		memset(frame, i, sizeof(frame));
		evring_push(r, &tv, sizeof(frame), sizeof(frame), frame);
	}
	assert_int_equal(evring_walk(r, NULL, walk_cb, &w), slots);
	assert_int_equal(w.last, 1000);
	assert_int_equal(w.first, 1000 - slots + 1);
	assert_int_equal(w.maxcap, 128); /* cut at the ring's snaplen */
	memset(&w, 0, sizeof(w));
	tv.tv_sec = 991;
	assert_int_equal(evring_walk(r, &tv, walk_cb, &w), 10);
	assert_int_equal(w.first, 991);
	evring_free(r);
	assert_null(evring_new(100, 128)); /* too small to be useful */
	r = evring_new(64 * 1024, 65535);  /* big snaplen: still 64 frames */
	assert_true(evring_slots(r) >= 64);
	evring_free(r);
}

static void
test_evidence_names(void **state)
{
	char buf[64];

	assert_int_equal(evidence_file_name("wan", "T-2024/7", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "wan-T-2024_7.pcap");
	assert_int_equal(evidence_file_name("..", "../../etc", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "_.-_._.._etc.pcap");
	assert_true(evidence_name_valid(buf));
	assert_int_equal(evidence_file_name("wan", "", buf, sizeof(buf)), -1);
	assert_false(evidence_name_valid("../x.pcap"));
	assert_false(evidence_name_valid(".hidden.pcap"));
	assert_false(evidence_name_valid("a.pcap.part"));
	assert_false(evidence_name_valid("traffic.db"));
}

static void
touch(const char *dir, const char *name, size_t size, time_t mtime)
{
	char path[512];
	struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fclose(f);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int
exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void
test_evidence_rotation(void **state)
{
	char dir[] = "/tmp/lw-evidence-XXXXXX";
	time_t now = 1700000000;

	assert_non_null(mkdtemp(dir));
	touch(dir, "a-old.pcap", 10, now - 40 * 86400);
	touch(dir, "b-1.pcap", 1000, now - 300);
	touch(dir, "b-2.pcap", 1000, now - 200);
	touch(dir, "b-3.pcap", 1000, now - 100);
	touch(dir, "b-4.pcap.part", 5000, now - 50);       /* being written: kept */
	touch(dir, "traffic.db", 99999, now - 90 * 86400); /* not evidence: kept */
	/* 30 days, 6500 bytes: the old one goes by age, then the oldest until the
	 * total (the .part file included) fits */
	assert_int_equal(evidence_rotate(dir, 6500, 30LL * 86400 * 1000, now), 3);
	assert_false(exists(dir, "a-old.pcap"));
	assert_false(exists(dir, "b-1.pcap"));
	assert_false(exists(dir, "b-2.pcap"));
	assert_true(exists(dir, "b-3.pcap"));
	assert_true(exists(dir, "b-4.pcap.part"));
	assert_true(exists(dir, "traffic.db"));
	assert_int_equal(evidence_rotate(dir, 6500, 30LL * 86400 * 1000, now), 0);
	assert_int_equal(evidence_rotate("/nonexistent/dir", 1, 1, now), 0);
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_below_capacity),
	    cmocka_unit_test(test_heavy_hitters_survive_flood),
	    cmocka_unit_test(test_footprint),
	    cmocka_unit_test(test_traffic_aggregation),
	    cmocka_unit_test(test_traffic_flood_fixed_memory),
	    cmocka_unit_test(test_evidence_ring),
	    cmocka_unit_test(test_evidence_names),
	    cmocka_unit_test(test_evidence_rotation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
