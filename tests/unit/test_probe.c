/* test_probe.c - the probe engine with the built plugins (example, exec):
 * config checks, results on the bus, timeouts, reload, teardown in flight.
 * Plugins come from ../plugins next to this binary (make builds them). */
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
#include <event2/event.h>

#include "config.h"
#include "probe.h"
#include "sample.h"
#include "plugin_dir.h"

static char plugin_dir[PATH_MAX + 16];

struct seen {
	int n;
	char link[64];
	char name[64];
	enum lw_status status;
	char message[256];
	char type[32];
	char target[128];
	char hop[32];
	int nmetrics;
	char metric0[64];
	char unit0[16];
	struct event_base *base;
	const char *want; /* stop the loop on this probe's first sample */
};

static void
on_sample(const struct lw_sample *s, void *arg)
{
	struct seen *sn = arg;
	const char *v;

	if (s->kind != LW_SUBJ_PROBE || (sn->want && strcmp(s->name, sn->want) != 0))
		return;
	sn->n++;
	snprintf(sn->link, sizeof(sn->link), "%s", s->link);
	snprintf(sn->name, sizeof(sn->name), "%s", s->name);
	snprintf(sn->message, sizeof(sn->message), "%s", s->message ? s->message : "");
	sn->status = s->status;
	v = sample_attr(s, "type");
	snprintf(sn->type, sizeof(sn->type), "%s", v ? v : "");
	v = sample_attr(s, "target");
	snprintf(sn->target, sizeof(sn->target), "%s", v ? v : "");
	v = sample_attr(s, "hop");
	snprintf(sn->hop, sizeof(sn->hop), "%s", v ? v : "");
	sn->nmetrics = (int)s->nmetrics;
	if (s->nmetrics > 0) {
		snprintf(sn->metric0, sizeof(sn->metric0), "%s", s->metrics[0].name);
		snprintf(sn->unit0, sizeof(sn->unit0), "%s", s->metrics[0].unit);
	}
	event_base_loopexit(sn->base, NULL);
}

/* A one-link config with the given probes. */
struct fixture {
	struct lw_config cfg;
	struct lw_link link;
	struct lw_probe probes[4];
	struct lw_kv kv[4][4];
};

static void
add_probe(struct fixture *f, const char *name, const char *type, const char *target,
          int64_t interval, int64_t timeout, const char *const *kv)
{
	struct lw_probe *p = &f->probes[f->link.nprobes];
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	p->name = (char *)name;
	p->line = 10 + (int)f->link.nprobes;
	p->link = f->link.name;
	p->type = (char *)type;
	p->target = (char *)target;
	p->hop = LW_HOP_GATEWAY;
	p->interval_ms = interval;
	p->timeout_ms = timeout;
	for (; kv && kv[2 * n]; n++) {
		f->kv[f->link.nprobes][n].key = (char *)kv[2 * n];
		f->kv[f->link.nprobes][n].value = (char *)kv[2 * n + 1];
	}
	p->opts = f->kv[f->link.nprobes];
	p->nopts = n;
	f->link.nprobes++;
}

static void
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->cfg.file = "test.conf";
	f->cfg.plugin_dir = plugin_dir;
	f->link.name = "wan";
	f->link.probes = f->probes;
	f->cfg.links = &f->link;
	f->cfg.nlinks = 1;
}

struct errs {
	int n;
	char last[512];
};

static void
collect(const char *msg, void *arg)
{
	struct errs *e = arg;

	e->n++;
	snprintf(e->last, sizeof(e->last), "%s", msg);
}

static void
run_loop(struct event_base *base, int seconds)
{
	struct timeval tv = {seconds, 0};

	event_base_loopexit(base, &tv); /* the deadline; on_sample exits earlier */
	event_base_dispatch(base);
}

static void
test_check_config(void **state)
{
	static const char *const good[] = {"warning", "30", NULL};
	static const char *const bad[] = {"colour", "blue", NULL};
	struct fixture f;
	struct errs e = {0};

	fixture_init(&f);
	add_probe(&f, "clock", "example", "x", 1000, 1000, good);
	assert_int_equal(probe_check_config(&f.cfg, collect, &e), 0);
	assert_int_equal(e.n, 0);

	add_probe(&f, "odd", "example", "x", 1000, 1000, bad);
	assert_int_equal(probe_check_config(&f.cfg, collect, &e), 1);
	assert_string_equal(e.last, "test.conf:11: probe \"odd\" of link \"wan\": option colour is "
	                            "not used by example probes (only warning)");

	e.n = 0;
	add_probe(&f, "none", "nosuch", "x", 1000, 1000, NULL);
	assert_int_equal(probe_check_config(&f.cfg, collect, &e), 2);
	assert_non_null(strstr(e.last, "test.conf:12: probe \"none\" of link \"wan\": plugin "));
	assert_non_null(strstr(e.last, "nosuch.so does not exist"));
}

static void
test_result_on_bus(void **state)
{
	struct event_base *base = event_base_new();
	struct lw_bus *bus = sample_bus_new();
	struct seen sn = {.base = base};
	struct probe_engine *pe;
	struct fixture f;

	fixture_init(&f);
	add_probe(&f, "clock", "example", "here", 200, 200, NULL);
	sample_subscribe(bus, on_sample, &sn);
	pe = probe_engine_new(base, bus, &f.cfg);
	assert_non_null(pe);
	run_loop(base, 10);
	assert_int_equal(sn.n, 1);
	assert_string_equal(sn.link, "wan");
	assert_string_equal(sn.name, "clock");
	assert_string_equal(sn.type, "example");
	assert_string_equal(sn.target, "here");
	assert_string_equal(sn.hop, "gateway");
	assert_int_equal(sn.status, LW_OK);
	assert_string_equal(sn.metric0, "seconds");
	assert_string_equal(sn.unit0, "s");
	probe_engine_free(pe);
	sample_bus_free(bus);
	event_base_free(base);
}

static void
test_timeout_is_unknown(void **state)
{
	static const char *const args[] = {"arguments", "30", NULL};
	struct event_base *base = event_base_new();
	struct lw_bus *bus = sample_bus_new();
	struct seen sn = {.base = base};
	struct probe_engine *pe;
	struct fixture f;

	fixture_init(&f);
	add_probe(&f, "slow", "exec", "/bin/sleep", 1000, 300, args);
	sample_subscribe(bus, on_sample, &sn);
	pe = probe_engine_new(base, bus, &f.cfg);
	assert_non_null(pe);
	run_loop(base, 10);
	assert_int_equal(sn.n, 1);
	assert_int_equal(sn.status, LW_UNKNOWN);
	assert_string_equal(sn.message, "timed out after 300 ms");
	assert_int_equal(sn.nmetrics, 0);
	probe_engine_free(pe); /* the killed sleep is reaped here */
	sample_bus_free(bus);
	event_base_free(base);
}

static void
test_free_with_run_in_flight(void **state)
{
	static const char *const args[] = {"arguments", "30", NULL};
	struct event_base *base = event_base_new();
	struct lw_bus *bus = sample_bus_new();
	struct probe_engine *pe;
	struct fixture f;

	fixture_init(&f);
	add_probe(&f, "slow", "exec", "/bin/sleep", 100, 5000, args);
	pe = probe_engine_new(base, bus, &f.cfg);
	assert_non_null(pe);
	run_loop(base, 1); /* started, not finished */
	probe_engine_free(pe);
	sample_bus_free(bus);
	event_base_free(base);
}

static void
test_reload(void **state)
{
	static const char *const args[] = {"arguments", "2", "arguments", "down", NULL};
	struct event_base *base = event_base_new();
	struct lw_bus *bus = sample_bus_new();
	struct seen sn = {.base = base};
	struct probe_engine *pe;
	struct fixture f, g;

	fixture_init(&f);
	add_probe(&f, "clock", "example", "here", 200, 200, NULL);
	sample_subscribe(bus, on_sample, &sn);
	pe = probe_engine_new(base, bus, &f.cfg);
	assert_non_null(pe);

	/* a new type after the start, a broken probe: reload degrades */
	fixture_init(&g);
	add_probe(&g, "check", "exec", "/usr/lib/nagios/plugins/check_dummy", 200, 1000, args);
	add_probe(&g, "ghost", "nosuch", "x", 200, 200, NULL);
	assert_int_equal(probe_engine_reload(pe, &g.cfg), -1);
	sn.want = "check";
	run_loop(base, 10);
	assert_int_equal(sn.n, 1);
	if (access("/usr/lib/nagios/plugins/check_dummy", X_OK) == 0) {
		assert_int_equal(sn.status, LW_CRITICAL);
		assert_string_equal(sn.message, "CRITICAL: down");
	}
	/* the broken one reports why, as unknown */
	sn.want = "ghost";
	sn.n = 0;
	run_loop(base, 10);
	assert_int_equal(sn.n, 1);
	assert_int_equal(sn.status, LW_UNKNOWN);
	assert_non_null(strstr(sn.message, "nosuch.so does not exist"));

	/* back: the removed probe stops, the old one runs again */
	assert_int_equal(probe_engine_reload(pe, &f.cfg), 0);
	sn.want = "clock";
	sn.n = 0;
	run_loop(base, 10);
	assert_int_equal(sn.n, 1);
	probe_engine_free(pe);
	sample_bus_free(bus);
	event_base_free(base);
}

static void
test_shown_target(void **state)
{
	char buf[128];

	assert_string_equal(probe_shown_target("http://u:pw@h:8080/x?a=b@c", buf, sizeof(buf)),
	                    "http://***@h:8080/x?a=b@c");
	assert_string_equal(probe_shown_target("https://h/p@q", buf, sizeof(buf)), "https://h/p@q");
	assert_string_equal(probe_shown_target("198.18.1.1", buf, sizeof(buf)), "198.18.1.1");
	assert_string_equal(probe_shown_target("user@host:22", buf, sizeof(buf)), "user@host:22");
	assert_string_equal(probe_shown_target(NULL, buf, sizeof(buf)), "");
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_config),
	    cmocka_unit_test(test_result_on_bus),
	    cmocka_unit_test(test_timeout_is_unknown),
	    cmocka_unit_test(test_free_with_run_in_flight),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_shown_target),
	};

	if (plugin_dir_of_build(plugin_dir, sizeof(plugin_dir)) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
