/* Unit tests for config validation: each class of error, and a full file. */
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

struct errs {
	char text[8192];
	int n;
};

static void
collect(const char *msg, void *arg)
{
	struct errs *e = arg;
	size_t len = strlen(e->text);

	snprintf(e->text + len, sizeof(e->text) - len, "%s\n", msg);
	e->n++;
}

static char path[64];

static struct lw_config *
load(const char *text, struct errs *e)
{
	FILE *fp;
	int fd;

	strcpy(path, "/tmp/lw-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	memset(e, 0, sizeof(*e));
	struct lw_config *c = config_load(path, collect, e);
	unlink(path);
	return c;
}

/* The error list contains "path:line:" and the words. */
static void
expect_error(const char *text, int line, const char *words)
{
	struct errs e;
	char want[128];
	struct lw_config *c = load(text, &e);

	assert_null(c);
	assert_true(e.n >= 1);
	snprintf(want, sizeof(want), "%s:%d:", path, line);
	if (strstr(e.text, want) == NULL || strstr(e.text, words) == NULL)
		fail_msg("want \"%s ... %s\" in:\n%s", want, words, e.text);
}

static const char *full =
    "site = \"Example Dental, main office\"\n"
    "state-dir = \"/var/lib/linewatch\"\n"
    "http {\n  listen = { \"127.0.0.1:8080\", \"[::1]:8080\" }\n}\n"
    "device \"edge-router\" {\n"
    "  address = \"198.18.0.2\"\n  snmp = \"v2c\"\n  community = \"public\"\n"
    "  interval = \"30s\"\n  interfaces = { \"Gi1/0/1\" }\n"
    "  oid \"temp\" { oid = \"1.3.6.1.4.1.9.9.13.1.3.1.3.1\"  unit = \"C\" }\n"
    "}\n"
    "device \"ups\" {\n  address = \"198.18.0.9\"\n  snmp = \"v3\"\n  username = \"u\"\n"
    "  auth-protocol = \"SHA-256\"\n  auth-key = \"authpass123\"\n  priv-protocol = \"AES\"\n"
    "  priv-key = \"privpass123\"\n  profiles = { \"system\", \"ups\" }\n  parent = "
    "\"edge-router\"\n}\n"
    "link \"isp-fibre\" {\n"
    "  provider = \"Example Telecom\"\n  circuit = \"ABC-12345\"\n  support = \"+1 555 0100\"\n"
    "  device = \"edge-router\"\n  interface = \"Gi1/0/1\"\n  bandwidth = \"100M\"\n"
    "  sla = \"99.9%\"\n"
    "  probe \"gateway\" { type = \"icmp\"  target = \"198.18.1.1\"  interval = \"5s\"  hop = "
    "\"gateway\"  count = \"10\" }\n"
    "  probe \"script\" { type = \"exec\"  target = \"/bin/true\"  arguments = { \"a\", \"b\" }  "
    "options = { \"x=1\" } }\n"
    "  degraded { loss = \"5%\"  latency = \"150ms\"  utilization = \"90%\"  for = 3  clear = 4 }\n"
    "}\n"
    "capture \"lan\" { interface = \"eth1\"  filter = \"not port 22\"  link = \"isp-fibre\" }\n"
    "upstream \"noc\" { target = \"udp:127.0.0.1:162\"  snmp = \"v2c\"  community = \"public\"  "
    "inform = true }\n"
    "webhook \"psa\" { url = \"http://127.0.0.1:9/hook\"  headers = { \"Authorization: Bearer x\" "
    "} }\n"
    "email \"oncall\" { smtp = \"smtp://127.0.0.1:2525\"  from = \"a@b.c\"  to = { \"d@e.f\" } }\n"
    "maintenance \"w\" { links = { \"isp-fibre\" }  days = { \"sun\" }  start = \"03:00\"  "
    "duration = \"30m\" }\n";

static void
test_full_file(void **state)
{
	struct errs e;
	struct lw_config *c = load(full, &e);

	if (c == NULL)
		fail_msg("%s", e.text);
	assert_string_equal(c->site, "Example Dental, main office");
	assert_int_equal(c->http.nlisten, 2);
	assert_int_equal(c->ndevices, 2);
	const struct lw_device *d = config_device(c, "edge-router");
	assert_non_null(d);
	assert_int_equal(d->line, 6);
	assert_int_equal(d->auth.version, LW_SNMP_V2C);
	assert_int_equal(d->interval_ms, 30000);
	assert_int_equal(d->timeout_ms, 2000);
	assert_int_equal(d->port, 161);
	assert_int_equal(d->ninterfaces, 1);
	assert_int_equal(d->nprofiles, 2);
	assert_int_equal(d->noids, 1);
	assert_false(d->oids[0].counter);
	const struct lw_device *u = config_device(c, "ups");
	assert_int_equal(u->auth.version, LW_SNMP_V3);
	assert_string_equal(u->auth.priv_protocol, "AES");
	const struct lw_link *l = config_link(c, "isp-fibre");
	assert_non_null(l);
	assert_true(l->bandwidth_bps == 100000000ULL);
	assert_true(l->sla_pct == 99.9);
	assert_int_equal(l->nprobes, 2);
	assert_int_equal(l->probes[0].interval_ms, 5000);
	assert_int_equal(l->probes[0].timeout_ms, 5000);
	assert_int_equal(l->probes[0].hop, LW_HOP_GATEWAY);
	assert_string_equal(config_probe_opt(&l->probes[0], "count"), "10");
	assert_string_equal(l->probes[0].link, "isp-fibre");
	assert_string_equal(config_probe_opt(&l->probes[1], "x"), "1");
	assert_int_equal(l->degraded.for_n, 3);
	assert_int_equal(l->degraded.clear_n, 4);
	assert_true(l->degraded.latency_ms == 150.0);
	assert_int_equal(c->ncaptures, 1);
	assert_int_equal(c->captures[0].memory_bytes, 16 * 1024 * 1024);
	assert_true(c->upstreams[0].inform);
	assert_string_equal(c->webhooks[0].headers[0].key, "Authorization");
	assert_string_equal(c->webhooks[0].headers[0].value, "Bearer x");
	assert_int_equal(c->maintenances[0].weekdays, 1);
	assert_int_equal(c->maintenances[0].start_min, 180);
	config_free(c);
}

static void
test_errors(void **state)
{
	expect_error("bogus = 1\n", 1, "no such option");
	expect_error("device \"r\" {\n address = \"198.18.0.2\"\n community = \"c\"\n"
	             " interval = \"30\"\n}\n",
	             4, "not a duration");
	expect_error("device \"r\" {\n address = \"198.18.0.2\"\n community = \"c\"\n"
	             " port = 0\n}\n",
	             4, "out of range");
	expect_error("device \"r\" {\n address = \"198.18.0.2\"\n community = \"c\"\n"
	             " retries = \"x\"\n}\n",
	             4, "retries");
	expect_error("\ndevice \"r\" {\n community = \"c\"\n}\n", 2, "address is missing");
	expect_error("device \"r\" {\n address = \"a\"\n snmp = \"v2c\"\n}\n", 1,
	             "needs a community");
	expect_error("device \"r\" {\n address = \"a\"\n snmp = \"v3\"\n username = \"u\"\n"
	             " priv-protocol = \"AES\"\n priv-key = \"12345678\"\n}\n",
	             1, "needs auth-protocol");
	expect_error("device \"r\" {\n address = \"a\"\n snmp = \"v3\"\n username = \"u\"\n"
	             " auth-protocol = \"ROT13\"\n auth-key = \"12345678\"\n}\n",
	             1, "unknown");
	expect_error("device \"a/b\" {\n address = \"a\"\n community = \"c\"\n}\n", 1,
	             "not usable");
	expect_error("link \"l\" {\n device = \"ghost\"\n interface = \"x\"\n}\n", 1,
	             "is not defined");
	expect_error("link \"l\" {\n parent = \"ghost\"\n}\n", 1, "neither a device nor a link");
	expect_error("link \"l\" {\n probe \"p\" { type = \"icmp\" }\n}\n", 2, "target is missing");
	expect_error(
	    "link \"l\" {\n probe \"p\" { type = \"icmp\"  target = \"x\"  hop = \"moon\" }\n}\n",
	    2, "hop");
	expect_error("link \"l\" {\n degraded {\n  for = 0\n }\n}\n", 3, "out of range");
	expect_error(
	    "link \"l\" {\n degraded {\n  loss = \"50%\"\n  loss-critical = \"10%\"\n }\n}\n", 2,
	    "loss-critical");
	expect_error("capture \"c\" {\n filter = \"x\"\n}\n", 1, "interface is missing");
	expect_error("capture \"c\" {\n interface = \"eth0\"\n link = \"nope\"\n}\n", 1,
	             "is not defined");
	expect_error("upstream \"u\" {\n target = \"udp:127.0.0.1:162\"\n snmp = \"v1\"\n"
	             " community = \"c\"\n inform = true\n}\n",
	             1, "no informs");
	expect_error("webhook \"w\" {\n url = \"ftp://x\"\n}\n", 1, "http://");
	expect_error("email \"m\" {\n smtp = \"smtp://127.0.0.1\"\n from = \"nobody\"\n"
	             " to = { \"a@b\" }\n}\n",
	             1, "from must be");
	expect_error("maintenance \"m\" {\n links = { \"x\" }\n}\n", 1, "neither a link");
	expect_error("http {\n listen = { \"127.0.0.1\" }\n}\n", 1, "ADDRESS:PORT");
	expect_error("log-level = \"loud\"\n", 1, "log-level");
	expect_error("state-dir = \"relative\"\n", 1, "absolute");
	expect_error("web-user \"a\" { hash = \"plain\" }\n", 1, "hash-password");
	expect_error("link \"l\" {\n", 1, "never closed");
	expect_error("device \"r\" {\n address = \"a\"\n community = \"c\"\n}\n"
	             "device \"r\" {\n address = \"b\"\n community = \"c\"\n}\n",
	             5, "duplicate");
}

static void
test_missing_file(void **state)
{
	struct errs e;

	memset(&e, 0, sizeof(e));
	assert_null(config_load("/nonexistent/linewatch.conf", collect, &e));
	assert_non_null(strstr(e.text, "/nonexistent/linewatch.conf"));
	assert_non_null(strstr(e.text, "No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
