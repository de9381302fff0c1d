/* test_snmp_poll.c - the poller's response handling against a simulated
 * agent, without sockets (offline poller): rates, restarts, 32-bit wraps,
 * renumbered interfaces, discontinuities, looping agents, timeouts. */
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#undef max_repetitions
#undef non_repeaters

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "sample.h"
#include "snmp_poll.h"
#include "snmp_profile.h"

/* --- a tiny agent ------------------------------------------------------ */

#define MAXV 512
struct var {
	oid name[24];
	size_t len;
	u_char type;
	uint64_t num;
	char str[64];
};
struct agent {
	struct var v[MAXV];
	size_t n;
	bool loop;   /* answer every GETNEXT/GETBULK with the requested OID */
	bool silent; /* never answer */
};
static struct agent ag;

static void
agent_set(const char *oidtxt, u_char type, uint64_t num, const char *str)
{
	struct var *v = NULL;
	oid o[24];
	size_t len = 24;

	assert_int_equal(snmp_oid_parse(oidtxt, o, 24, &len), 0);
	for (size_t i = 0; i < ag.n; i++)
		if (snmp_oid_compare(ag.v[i].name, ag.v[i].len, o, len) == 0)
			v = &ag.v[i];
	if (v == NULL) {
		size_t i = ag.n++;
		while (i > 0 && snmp_oid_compare(ag.v[i - 1].name, ag.v[i - 1].len, o, len) > 0) {
			ag.v[i] = ag.v[i - 1];
			i--;
		}
		v = &ag.v[i];
	}
	memcpy(v->name, o, len * sizeof(oid));
	v->len = len;
	v->type = type;
	v->num = num;
	snprintf(v->str, sizeof(v->str), "%s", str ? str : "");
}

static void
agent_del_prefix(const char *prefix)
{
	oid o[24];
	size_t len = 24, k = 0;

	assert_int_equal(snmp_oid_parse(prefix, o, 24, &len), 0);
	for (size_t i = 0; i < ag.n; i++)
		if (!(ag.v[i].len >= len &&
		      snmp_oid_ncompare(ag.v[i].name, ag.v[i].len, o, len, len) == 0))
			ag.v[k++] = ag.v[i];
	ag.n = k;
}

static void
add_value(netsnmp_pdu *r, const oid *name, size_t len, const struct var *v)
{
	long l;
	struct counter64 c;

	if (v == NULL) {
		snmp_pdu_add_variable(r, name, len, SNMP_ENDOFMIBVIEW, NULL, 0);
		return;
	}
	switch (v->type) {
	case ASN_OCTET_STR:
		snmp_pdu_add_variable(r, v->name, v->len, v->type, v->str, strlen(v->str));
		break;
	case ASN_COUNTER64:
		c.high = v->num >> 32;
		c.low = v->num & 0xffffffffUL;
		snmp_pdu_add_variable(r, v->name, v->len, v->type, &c, sizeof(c));
		break;
	default:
		l = (long)v->num;
		snmp_pdu_add_variable(r, v->name, v->len, v->type, &l, sizeof(l));
		break;
	}
}

static const struct var *
agent_next(const oid *name, size_t len)
{
	for (size_t i = 0; i < ag.n; i++)
		if (snmp_oid_compare(ag.v[i].name, ag.v[i].len, name, len) > 0)
			return &ag.v[i];
	return NULL;
}

static netsnmp_pdu *
agent_answer(netsnmp_pdu *req)
{
	netsnmp_pdu *r = snmp_pdu_create(SNMP_MSG_RESPONSE);
	netsnmp_variable_list *vb;

	r->errstat = 0; /* as parsed from the wire (the library default is -1) */
	r->errindex = 0;
	if (req->command == SNMP_MSG_GET) {
		for (vb = req->variables; vb; vb = vb->next_variable) {
			const struct var *v = NULL;
			for (size_t i = 0; i < ag.n; i++)
				if (snmp_oid_compare(ag.v[i].name, ag.v[i].len, vb->name,
				                     vb->name_length) == 0)
					v = &ag.v[i];
			if (v)
				add_value(r, vb->name, vb->name_length, v);
			else
				snmp_pdu_add_variable(r, vb->name, vb->name_length,
				                      SNMP_NOSUCHOBJECT, NULL, 0);
		}
		return r;
	}
	/* GETNEXT, or GETBULK: non-repeaters then repetitions */
	long nonrep = req->command == SNMP_MSG_GETBULK ? req->errstat : 0;
	long reps = req->command == SNMP_MSG_GETBULK ? req->errindex : 1;
	oid cur[64][MAX_OID_LEN];
	size_t curlen[64], nrep = 0;
	long k = 0;

	for (vb = req->variables; vb; vb = vb->next_variable, k++) {
		if (ag.loop) {
			/* a buggy agent: the first row, then the same OID forever */
			oid o[MAX_OID_LEN];
			size_t n = vb->name_length;
			memcpy(o, vb->name, n * sizeof(oid));
			if (n < 11 && n + 1 < MAX_OID_LEN)
				o[n++] = 1;
			snmp_pdu_add_variable(r, o, n, ASN_INTEGER, &(long){1}, sizeof(long));
			continue;
		}
		if (k < nonrep) {
			add_value(r, vb->name, vb->name_length,
			          agent_next(vb->name, vb->name_length));
			continue;
		}
		assert_true(nrep < 64 && vb->name_length <= MAX_OID_LEN);
		memcpy(cur[nrep], vb->name, vb->name_length * sizeof(oid));
		curlen[nrep++] = vb->name_length;
	}
	if (ag.loop)
		return r;
	for (long rep = 0; rep < reps; rep++) {
		for (size_t c = 0; c < nrep; c++) {
			const struct var *v = agent_next(cur[c], curlen[c]);
			add_value(r, cur[c], curlen[c], v);
			if (v) {
				memcpy(cur[c], v->name, v->len * sizeof(oid));
				curlen[c] = v->len;
			}
		}
	}
	return r;
}

/* --- what the poller published ---------------------------------------- */

struct seen {
	char name[64];
	double in_bps;
	bool in_valid;
	double util;
	bool util_valid;
	char state[32];
	char ifindex[16];
	int n;
};
static struct seen dev_seen, if_seen;
static const char *watch_if = "Gi0/1";

static void
on_sample(const struct lw_sample *s, void *arg)
{
	if (s->kind == LW_SUBJ_DEVICE) {
		const char *st = sample_attr(s, "state");
		snprintf(dev_seen.state, sizeof(dev_seen.state), "%s", st ? st : "");
		dev_seen.n++;
		return;
	}
	if (s->kind != LW_SUBJ_INTERFACE || strcmp(s->name, watch_if) != 0)
		return;
	const struct lw_metric *m = sample_metric(s, "in_bps");
	const struct lw_metric *u = sample_metric(s, "utilization_in_pct");
	const char *ix = sample_attr(s, "ifindex");
	if_seen.in_bps = m ? m->value : -1;
	if_seen.in_valid = m && m->valid;
	if_seen.util = u ? u->value : -1;
	if_seen.util_valid = u && u->valid;
	snprintf(if_seen.ifindex, sizeof(if_seen.ifindex), "%s", ix ? ix : "");
	if_seen.n++;
}

/* --- fixtures ---------------------------------------------------------- */

static char profdir[4096];
static char *profiles[] = {"system", "if"};
static struct lw_device dev;
static struct lw_config cfg;
static struct lw_bus *bus;
static struct snmp_poller *poller;
static int64_t clock_ms;

static void
find_profiles(void)
{
	const char *env = getenv("LW_SRCDIR");
	char exe[2048];
	ssize_t n;

	if (env) {
		snprintf(profdir, sizeof(profdir), "%s/etc/profiles", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 3; up++) {
			char *slash = strrchr(exe, '/');
			if (slash)
				*slash = '\0';
		}
		snprintf(profdir, sizeof(profdir), "%s/etc/profiles", exe);
		if (access(profdir, R_OK) == 0)
			return;
	}
	snprintf(profdir, sizeof(profdir), "etc/profiles");
}

/* A 2-port switch: Gi0/1 100 Mbit/s (ifIndex 1), Gi0/2 (ifIndex 2). */
static void
agent_reset(uint32_t uptime, uint64_t octets, bool hc)
{
	memset(&ag, 0, sizeof(ag));
	agent_set(".1.3.6.1.2.1.1.1.0", ASN_OCTET_STR, 0, "test switch\x1b[31m");
	agent_set(".1.3.6.1.2.1.1.3.0", ASN_TIMETICKS, uptime, NULL);
	agent_set(".1.3.6.1.2.1.1.5.0", ASN_OCTET_STR, 0, "sw1");
	for (int i = 1; i <= 2; i++) {
		char o[64], nm[16];
		snprintf(nm, sizeof(nm), "Gi0/%d", i);
		snprintf(o, sizeof(o), ".1.3.6.1.2.1.2.2.1.2.%d", i);
		agent_set(o, ASN_OCTET_STR, 0, nm);
		snprintf(o, sizeof(o), ".1.3.6.1.2.1.2.2.1.8.%d", i);
		agent_set(o, ASN_INTEGER, 1, NULL);
		snprintf(o, sizeof(o), ".1.3.6.1.2.1.2.2.1.5.%d", i);
		agent_set(o, ASN_GAUGE, 100000000, NULL);
		snprintf(o, sizeof(o), ".1.3.6.1.2.1.2.2.1.10.%d", i);
		agent_set(o, ASN_COUNTER, octets & 0xffffffffULL, NULL);
		snprintf(o, sizeof(o), ".1.3.6.1.2.1.31.1.1.1.1.%d", i);
		agent_set(o, ASN_OCTET_STR, 0, nm);
		if (hc) {
			snprintf(o, sizeof(o), ".1.3.6.1.2.1.31.1.1.1.6.%d", i);
			agent_set(o, ASN_COUNTER64, octets, NULL);
			snprintf(o, sizeof(o), ".1.3.6.1.2.1.31.1.1.1.15.%d", i);
			agent_set(o, ASN_GAUGE, 100, NULL);
		}
	}
}

/* Move the agent forward: uptime and the octets of ifIndex 1 (both). */
static void
agent_at(uint32_t uptime, uint64_t octets, bool hc)
{
	agent_set(".1.3.6.1.2.1.1.3.0", ASN_TIMETICKS, uptime, NULL);
	agent_set(".1.3.6.1.2.1.2.2.1.10.1", ASN_COUNTER, octets & 0xffffffffULL, NULL);
	if (hc)
		agent_set(".1.3.6.1.2.1.31.1.1.1.6.1", ASN_COUNTER64, octets, NULL);
}

static void
poll_once(void)
{
	netsnmp_pdu *req;
	int guard = 0;

	snmp_poller_set_clock(poller, clock_ms);
	assert_int_equal(snmp_poller_poll_now(poller, "sw1"), 0);
	while ((req = snmp_poller_pending(poller, "sw1")) != NULL) {
		netsnmp_pdu *resp = ag.silent ? NULL : agent_answer(req);
		snmp_poller_answer(poller, "sw1", resp);
		if (resp)
			snmp_free_pdu(resp);
		assert_true(++guard < 1000); /* a walk always ends */
	}
}

static int
setup(void **state)
{
	find_profiles();
	memset(&dev, 0, sizeof(dev));
	memset(&cfg, 0, sizeof(cfg));
	memset(&if_seen, 0, sizeof(if_seen));
	memset(&dev_seen, 0, sizeof(dev_seen));
	dev.name = "sw1";
	dev.address = "127.0.0.1";
	dev.port = 161;
	dev.auth.version = LW_SNMP_V2C;
	dev.auth.community = "public";
	dev.interval_ms = 30000;
	dev.timeout_ms = 1000;
	dev.retries = 1;
	dev.max_repetitions = 3; /* several requests per walk */
	dev.max_inflight = 1;
	dev.profiles = profiles;
	dev.nprofiles = 2;
	cfg.profile_dir = profdir;
	cfg.devices = &dev;
	cfg.ndevices = 1;
	bus = sample_bus_new();
	sample_subscribe(bus, on_sample, NULL);
	poller = snmp_poller_new_offline(bus, &cfg);
	assert_non_null(poller);
	clock_ms = 1000000;
	return 0;
}

static int
teardown(void **state)
{
	snmp_poller_free(poller);
	sample_bus_free(bus);
	return 0;
}

/* 125000 B/s = 1 Mbit/s on a 100 Mbit/s port, 30 s apart */
static void
test_rate_and_restart(void **state)
{
	agent_reset(100000, 5000000, true);
	poll_once();
	assert_int_equal(if_seen.n, 1);
	assert_false(if_seen.in_valid); /* first reading */
	assert_string_equal(dev_seen.state, "ok");
	assert_string_equal(if_seen.ifindex, "1");

	clock_ms += 30000;
	agent_at(103000, 5000000 + 125000ULL * 30, true);
	poll_once();
	assert_true(if_seen.in_valid);
	assert_float_equal(if_seen.in_bps, 1000000.0, 1.0);
	assert_true(if_seen.util_valid);
	assert_float_equal(if_seen.util, 1.0, 0.001);

	/* agent restart: uptime and counters from zero -> unknown, no spike */
	clock_ms += 30000;
	agent_at(1500, 10000, true);
	poll_once();
	assert_false(if_seen.in_valid);
	struct snmp_dev_stats st;
	assert_int_equal(snmp_poller_stats(poller, "sw1", &st), 0);
	assert_true(st.discontinuities >= 1);

	clock_ms += 30000;
	agent_at(4500, 10000 + 125000ULL * 30, true);
	poll_once();
	assert_true(if_seen.in_valid);
	assert_float_equal(if_seen.in_bps, 1000000.0, 1.0);
}

/* No HC columns (old agent): ifInOctets, wrapped once, gives the true rate. */
static void
test_32bit_fallback_wrap(void **state)
{
	uint64_t start = 4294967296ULL - 125000ULL * 10;

	agent_reset(100000, start, false);
	poll_once();
	clock_ms += 30000;
	agent_at(103000, start + 125000ULL * 30, false);
	poll_once();
	assert_true(if_seen.in_valid);
	assert_float_equal(if_seen.in_bps, 1000000.0, 1.0);
}

/* ifIndex renumbered after a reboot-less reindex: keyed by name, the rate
 * continues and the history does not mix. */
static void
test_renumbered_interface(void **state)
{
	agent_reset(100000, 5000000, true);
	poll_once();
	clock_ms += 30000;
	/* Gi0/1 moves to ifIndex 7, Gi0/2 keeps 2 */
	agent_del_prefix(".1.3.6.1.2.1.2.2.1");
	agent_del_prefix(".1.3.6.1.2.1.31.1.1.1");
	agent_set(".1.3.6.1.2.1.1.3.0", ASN_TIMETICKS, 103000, NULL);
	agent_set(".1.3.6.1.2.1.2.2.1.2.7", ASN_OCTET_STR, 0, "Gi0/1");
	agent_set(".1.3.6.1.2.1.31.1.1.1.1.7", ASN_OCTET_STR, 0, "Gi0/1");
	agent_set(".1.3.6.1.2.1.31.1.1.1.6.7", ASN_COUNTER64, 5000000 + 125000ULL * 30, NULL);
	agent_set(".1.3.6.1.2.1.31.1.1.1.15.7", ASN_GAUGE, 100, NULL);
	poll_once();
	assert_string_equal(if_seen.ifindex, "7");
	assert_true(if_seen.in_valid);
	assert_float_equal(if_seen.in_bps, 1000000.0, 1.0);
}

static void
test_discontinuity_time(void **state)
{
	agent_reset(100000, 5000000, true);
	agent_set(".1.3.6.1.2.1.31.1.1.1.19.1", ASN_TIMETICKS, 0, NULL);
	poll_once();
	clock_ms += 30000;
	agent_at(103000, 5000000 + 125000ULL * 30, true);
	agent_set(".1.3.6.1.2.1.31.1.1.1.19.1", ASN_TIMETICKS, 102000, NULL);
	poll_once();
	assert_false(if_seen.in_valid);
	clock_ms += 30000;
	agent_at(106000, 5000000 + 125000ULL * 60, true);
	poll_once();
	assert_true(if_seen.in_valid);
}

static void
test_above_speed_is_unknown(void **state)
{
	agent_reset(100000, 5000000, true);
	poll_once();
	clock_ms += 30000;
	/* 100 Mbit/s port, 1 Gbit/s worth of octets */
	agent_at(103000, 5000000 + 125000000ULL * 30, true);
	poll_once();
	assert_false(if_seen.in_valid);
}

static void
test_looping_agent(void **state)
{
	struct snmp_dev_stats st;

	agent_reset(100000, 5000000, true);
	ag.loop = true;
	poll_once(); /* ends: the guard in poll_once would fail otherwise */
	assert_int_equal(snmp_poller_stats(poller, "sw1", &st), 0);
	assert_true(st.non_increasing > 0);
	assert_string_equal(dev_seen.state, "ok");
}

static void
test_timeout_unreachable(void **state)
{
	struct snmp_dev_stats st;

	agent_reset(100000, 5000000, true);
	poll_once();
	assert_string_equal(dev_seen.state, "ok");
	ag.silent = true;
	clock_ms += 30000;
	poll_once();
	assert_string_equal(dev_seen.state, "unreachable");
	assert_false(if_seen.in_valid);
	assert_int_equal(snmp_poller_stats(poller, "sw1", &st), 0);
	assert_int_equal(st.polls_failed, 1);
	ag.silent = false;
	clock_ms += 30000;
	agent_at(106000, 5000000 + 125000ULL * 60, true);
	poll_once();
	assert_string_equal(dev_seen.state, "ok");
	/* the rate over the outage is still the true average */
	assert_true(if_seen.in_valid);
	assert_float_equal(if_seen.in_bps, 1000000.0, 1.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rate_and_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_32bit_fallback_wrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renumbered_interface, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discontinuity_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_above_speed_is_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_looping_agent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_unreachable, setup, teardown),
	};
	log_init(1, LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
