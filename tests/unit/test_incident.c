/* test_incident.c - the incident engine end to end on synthetic samples:
 * real sample bus, real SQLite, real state machines (incident.c, ticket.c) */
#include <sys/time.h>

#include <math.h>
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
#include <event2/thread.h>
#include <jansson.h>

#include "config.h"
#include "db.h"
#include "incident.h"
#include "log.h"
#include "sample.h"
#include "ticket.h"

#define S 1000LL

static char dir[128];
static char cfgpath[256];
static struct event_base *base;
static struct lw_bus *bus;
static struct db *db;
static struct lw_config *cfg;
static struct incidents *inc;
static int64_t T; /* the test's clock, ms: starts at the real time */

/* events heard by a subscriber */
static char heard[200][64];
static int nheard;

#define BASE_CONF                                                                                  \
	"site = \"test site\"\n"                                                                   \
	"state-dir = \"%s\"\n"                                                                     \
	"device \"rtr\" {\n address = \"198.18.0.2\"\n community = \"public\"\n"                   \
	" interfaces = { \"Gi1/0/1\" }\n}\n"                                                       \
	"link \"isp\" {\n provider = \"Example Telecom\"\n circuit = \"ABC-12345\"\n"              \
	" support = \"+1 555 0100\"\n device = \"rtr\"\n interface = \"Gi1/0/1\"\n"                \
	" bandwidth = \"100M\"\n sla = \"99.9%%\"\n"                                               \
	" probe \"gateway\" { type = \"icmp\"  target = \"198.18.1.1\"  hop = \"gateway\" "        \
	"interval = \"5s\" }\n"                                                                    \
	" probe \"internet\" { type = \"icmp\"  target = \"198.18.2.2\"  hop = \"internet\" "      \
	"interval = \"5s\" }\n"                                                                    \
	" probe \"web\" { type = \"http\"  target = \"http://198.18.2.2/\"  hop = \"internet\" "   \
	"}\n"                                                                                      \
	" degraded { loss = \"5%%\"  loss-critical = \"25%%\"  for = 3  clear = 3  flap-count = 4" \
	"  flap-window = \"10m\"  hold-down = \"15m\" }\n}\n"                                      \
	"link \"backup\" {\n parent = \"isp\"\n"                                                   \
	" probe \"gw\" { type = \"icmp\"  target = \"198.18.5.1\"  hop = \"gateway\" "             \
	"interval = \"5s\" }\n}\n"                                                                 \
	"%s"

static void
cfg_err(const char *msg, void *arg)
{
	fprintf(stderr, "config: %s\n", msg);
}

static void
on_event(const struct ticket_event *ev, void *arg)
{
	if (nheard < 200)
		snprintf(heard[nheard++], sizeof(heard[0]), "%s %s", ev->ref, ev->type);
}

static void
start(const char *extra)
{
	char err[512];
	FILE *f;

	f = fopen(cfgpath, "w");
	assert_non_null(f);
	fprintf(f, BASE_CONF, dir, extra ? extra : "");
	fclose(f);
	cfg = config_load(cfgpath, cfg_err, NULL);
	assert_non_null(cfg);
	db = db_open(dir, err, sizeof(err));
	if (db == NULL)
		fail_msg("%s", err);
	inc = incidents_new(base, bus, db, cfg);
	assert_non_null(inc);
	assert_int_equal(ticket_subscribe(inc, on_event, NULL), 0);
}

static void
stop(void)
{
	db_sync(db, -1);
	incidents_free(inc);
	db_close(db);
	config_free(cfg);
	inc = NULL;
	db = NULL;
	cfg = NULL;
}

static int
setup(void **state)
{
	struct timeval tv;

	snprintf(dir, sizeof(dir), "/tmp/lw-test-incident-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cfgpath, sizeof(cfgpath), "%s/linewatch.conf", dir);
	base = event_base_new();
	bus = sample_bus_new();
	gettimeofday(&tv, NULL);
	T = (int64_t)tv.tv_sec * 1000;
	nheard = 0;
	return base && bus ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[200];

	if (inc)
		stop();
	sample_bus_free(bus);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
set_ts(struct lw_sample *s, int64_t ms)
{
	s->ts.tv_sec = ms / 1000;
	s->ts.tv_usec = (ms % 1000) * 1000;
}

/* An icmp probe result: loss %, rtt ms (NAN: none). */
static void
icmp(const char *link, const char *probe, double loss, double rtt, int64_t at)
{
	struct lw_metric m[3] = {
	    {"loss", "%", loss, true},
	    {"rtt_avg", "ms", rtt, rtt == rtt},
	    {"jitter", "ms", 0.2, rtt == rtt},
	};
	struct lw_sample s = {
	    .kind = LW_SUBJ_PROBE,
	    .link = link,
	    .name = probe,
	    .interval_ms = 5000,
	    .status = loss >= 100 ? LW_CRITICAL : LW_OK,
	    .message = "test",
	    .metrics = m,
	    .nmetrics = 3,
	};

	set_ts(&s, at);
	sample_publish(bus, &s);
}

static void
web(enum lw_status st, int64_t at)
{
	struct lw_metric m[1] = {{"time", "s", 0.01, true}};
	struct lw_sample s = {
	    .kind = LW_SUBJ_PROBE,
	    .link = "isp",
	    .name = "web",
	    .interval_ms = 10000,
	    .status = st,
	    .message = st == LW_OK ? "HTTP 200" : "connection refused",
	    .metrics = m,
	    .nmetrics = 1,
	};

	set_ts(&s, at);
	sample_publish(bus, &s);
}

static void
iface(const char *oper, double in_bps, double errs, int64_t at)
{
	struct lw_metric m[4] = {
	    {"in_bps", "bps", in_bps, true},
	    {"out_bps", "bps", 1e6, true},
	    {"in_errors_ps", "pps", errs, true},
	    {"in_discards_ps", "pps", 0, true},
	};
	struct lw_attr a[2] = {{"oper_status", oper}, {"admin_status", "up"}};
	struct lw_sample s = {
	    .kind = LW_SUBJ_INTERFACE,
	    .device = "rtr",
	    .name = "Gi1/0/1",
	    .interval_ms = 1000,
	    .status = LW_OK,
	    .metrics = m,
	    .nmetrics = 4,
	    .attrs = a,
	    .nattrs = 2,
	};

	set_ts(&s, at);
	sample_publish(bus, &s);
}

/* The tickets in the database, as "REF kind state severity" lines. */
static json_t *
tickets(const char *state)
{
	json_t *j;

	db_sync(db, -1);
	j = ticket_list_json(db, state, NULL, 100, 0, T);
	assert_non_null(j);
	return j;
}

static size_t
count_tickets(const char *state)
{
	json_t *j = tickets(state);
	size_t n = json_array_size(json_object_get(j, "tickets"));

	json_decref(j);
	return n;
}

static json_t *
ticket1(int64_t id)
{
	json_t *j;

	db_sync(db, -1);
	j = ticket_get_json(db, id, T);
	assert_non_null(j);
	return j;
}

static const char *
sget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static json_t *
event_n(json_t *t, size_t i)
{
	return json_array_get(json_object_get(t, "events"), i);
}

static bool
has_event(json_t *t, const char *type, const char *words)
{
	json_t *evs = json_object_get(t, "events");

	for (size_t i = 0; i < json_array_size(evs); i++) {
		json_t *e = json_array_get(evs, i);

		if (strcmp(sget(e, "type"), type) == 0 &&
		    (!words || strstr(sget(e, "text"), words)))
			return true;
	}
	return false;
}

static void
healthy(int64_t from, int n)
{
	for (int i = 0; i < n; i++) {
		int64_t t = from + i * 5 * S;

		icmp("isp", "gateway", 0, 1.0, t);
		icmp("isp", "internet", 0, 12.0, t + 1000);
		web(LW_OK, t + 2000);
		icmp("backup", "gw", 0, 2.0, t + 3000);
		iface("up", 12e6, 0, t + 4000);
	}
}

/* ---- tests ---- */

static void
test_healthy_no_tickets(void **state)
{
	start(NULL);
	healthy(T, 50);
	assert_int_equal(count_tickets("all"), 0);
	stop();
}

static void
test_loss_opens_one_ticket_and_resolves(void **state)
{
	json_t *t, *e;

	start(NULL);
	healthy(T, 2);
	T += 10 * S;
	icmp("isp", "gateway", 30, 1.0, T);
	icmp("isp", "gateway", 30, 1.0, T + 5 * S);
	assert_int_equal(count_tickets("all"), 0);
	icmp("isp", "gateway", 30, 1.0, T + 10 * S);
	assert_int_equal(count_tickets("open"), 1);
	t = ticket1(1);
	assert_string_equal(sget(t, "ref"), "LW-000001");
	assert_string_equal(sget(t, "kind"), "loss");
	assert_string_equal(sget(t, "severity"), "critical"); /* 30% >= loss-critical 25% */
	assert_string_equal(sget(t, "provider"), "Example Telecom");
	assert_string_equal(sget(t, "circuit"), "ABC-12345");
	assert_non_null(strstr(
	    sget(t, "title"),
	    "ISP link isp (Example Telecom, circuit ABC-12345): 30% packet loss to gateway"));
	/* the loss at the gateway with a clean router: the provider */
	assert_string_equal(sget(json_object_get(t, "blame"), "verdict"), "isp");
	assert_non_null(strstr(sget(t, "title"), "fault: the provider's side"));
	e = event_n(t, 0);
	assert_string_equal(sget(e, "type"), "opened");
	assert_non_null(strstr(sget(e, "text"), "30% packet loss"));
	assert_true(json_real_value(json_object_get(json_object_get(e, "metrics"), "loss")) == 30);
	assert_non_null(json_object_get(json_object_get(t, "sla"), "response_due"));
	json_decref(t);
	/* still lossy: nothing new */
	icmp("isp", "gateway", 30, 1.0, T + 15 * S);
	assert_int_equal(count_tickets("all"), 1);
	/* clean: resolves after clear = 3 */
	icmp("isp", "gateway", 0, 1.0, T + 20 * S);
	icmp("isp", "gateway", 0, 1.0, T + 25 * S);
	assert_int_equal(count_tickets("open"), 1);
	icmp("isp", "gateway", 0, 1.0, T + 30 * S);
	assert_int_equal(count_tickets("open"), 0);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "resolved");
	assert_string_equal(sget(t, "resolved_by"), "linewatchd");
	assert_true(has_event(t, "recovered", "lasted"));
	assert_true(has_event(t, "resolved", NULL));
	assert_int_equal(json_integer_value(json_object_get(t, "duration_s")), 30);
	json_decref(t);
	/* subscribers heard it all, in order, after the commits */
	assert_true(nheard >= 3);
	assert_string_equal(heard[0], "LW-000001 opened");
	assert_string_equal(heard[nheard - 1], "LW-000001 resolved");
	stop();
}

static void
test_path_wide_loss_counts_across_probes(void **state)
{
	start(NULL);
	/* one bad run of each probe: three results in a row across the link */
	icmp("isp", "gateway", 20, 1.0, T);
	icmp("isp", "internet", 20, 12.0, T + 1 * S);
	assert_int_equal(count_tickets("all"), 0);
	icmp("backup", "gw", 20, 2.0, T + 1500); /* another link: no effect */
	icmp("isp", "gateway", 20, 1.0, T + 5 * S);
	assert_int_equal(count_tickets("all"), 1);
	stop();
}

static void
test_one_lost_echo_is_no_ticket(void **state)
{
	start(NULL);
	for (int i = 0; i < 20; i++) {
		icmp("isp", "gateway", i % 4 == 0 ? 20 : 0, 1.0, T + i * 5 * S);
		icmp("isp", "internet", i % 4 == 2 ? 20 : 0, 12.0, T + i * 5 * S + 2500);
	}
	assert_int_equal(count_tickets("all"), 0);
	stop();
}

static void
test_severity_rises_and_falls_in_one_ticket(void **state)
{
	json_t *t;

	start(NULL);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 6, 1.0, T + i * 5 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "severity"), "warning");
	json_decref(t);
	icmp("isp", "gateway", 40, 1.0, T + 15 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "severity"), "critical");
	assert_true(has_event(t, "severity", "critical (was warning)"));
	json_decref(t);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 6, 1.0, T + (4 + i) * 5 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "severity"), "warning");
	assert_true(has_event(t, "severity", "warning (was critical)"));
	json_decref(t);
	assert_int_equal(count_tickets("all"), 1);
	stop();
}

static void
test_interface_down_one_ticket_probes_suppressed(void **state)
{
	json_t *t;
	int64_t t0;

	start(NULL);
	healthy(T, 2);
	t0 = T + 10 * S;
	/* the WAN interface goes down: the router says so, every probe fails */
	for (int i = 0; i < 6; i++) {
		int64_t at = t0 + i * 5 * S;

		iface("down", 0, 0, at);
		icmp("isp", "gateway", 100, NAN, at + 1000);
		icmp("isp", "internet", 100, NAN, at + 2000);
		web(LW_CRITICAL, at + 3000);
	}
	assert_int_equal(count_tickets("all"), 1);
	t = ticket1(1);
	assert_string_equal(sget(t, "kind"), "down");
	assert_string_equal(sget(t, "severity"), "critical");
	assert_true(has_event(t, "suppressed", "loss of link isp"));
	assert_true(has_event(t, "suppressed", "service of link isp"));
	/* interface down while the router answers: the line or provider */
	assert_string_equal(sget(json_object_get(t, "blame"), "verdict"), "isp");
	json_decref(t);
	/* the backup link names isp as parent: its loss goes on isp's ticket too */
	for (int i = 0; i < 3; i++)
		icmp("backup", "gw", 50, 3.0, t0 + 40 * S + i * 5 * S);
	assert_int_equal(count_tickets("all"), 1);
	t = ticket1(1);
	assert_true(has_event(t, "suppressed", "of link backup"));
	json_decref(t);
	/* back up: resolves; the still-lossy child then gets its own ticket */
	for (int i = 0; i < 3; i++) {
		int64_t at = t0 + 60 * S + i * 5 * S;

		iface("up", 1e6, 0, at);
		icmp("isp", "gateway", 0, 1.0, at + 1000);
		icmp("isp", "internet", 0, 12.0, at + 2000);
		web(LW_OK, at + 3000);
		icmp("backup", "gw", 50, 3.0, at + 4000);
	}
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "resolved");
	json_decref(t);
	assert_int_equal(count_tickets("open"), 1);
	t = ticket1(2);
	assert_string_equal(sget(t, "link"), "backup");
	assert_string_equal(sget(t, "kind"), "loss");
	json_decref(t);
	stop();
}

static void
test_probes_alone_detect_down(void **state)
{
	json_t *t;

	start(NULL);
	healthy(T, 2);
	/* no interface data; far failures wait for the gateway, then all count */
	icmp("isp", "internet", 100, NAN, T + 10 * S);
	icmp("isp", "internet", 100, NAN, T + 11 * S);
	assert_int_equal(count_tickets("all"), 0);
	icmp("isp", "gateway", 100, NAN, T + 12 * S);
	assert_int_equal(count_tickets("all"), 1);
	t = ticket1(1);
	assert_string_equal(sget(t, "kind"), "down");
	assert_non_null(strstr(sget(t, "title"), "no answer from"));
	json_decref(t);
	stop();
}

static void
test_far_failures_alone_are_not_down(void **state)
{
	start(NULL);
	/* the internet host is dead, the gateway fine: loss, not down */
	for (int i = 0; i < 6; i++) {
		icmp("isp", "internet", 100, NAN, T + i * 5 * S);
		icmp("isp", "gateway", 0, 1.0, T + i * 5 * S + 1000);
	}
	json_t *j = tickets("all");
	json_t *list = json_object_get(j, "tickets");

	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(sget(json_array_get(list, 0), "kind"), "loss");
	assert_string_equal(sget(json_object_get(json_array_get(list, 0), "blame"), "verdict"),
	                    "beyond");
	json_decref(j);
	stop();
}

static void
test_flapping_link_one_ticket(void **state)
{
	json_t *t;

	start(NULL);
	healthy(T, 1);
	/* up and down every 2 s: never `for` bad evaluations in a row */
	for (int i = 0; i < 20; i++) {
		int64_t at = T + 10 * S + i * 2 * S;

		iface(i % 2 == 0 ? "down" : "up", 1e6, 0, at);
		icmp("isp", "gateway", 0, 1.0, at + 500);
	}
	assert_int_equal(count_tickets("all"), 1);
	t = ticket1(1);
	assert_string_equal(sget(t, "kind"), "down");
	assert_true(json_is_true(json_object_get(t, "flapping")));
	assert_non_null(strstr(sget(t, "title"), "flapping"));
	json_decref(t);
	stop();
}

static void
test_holddown_reopens_the_same_ticket(void **state)
{
	json_t *t;
	int64_t t1;

	start(NULL);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 30, 1.0, T + i * 5 * S);
	for (int i = 3; i < 6; i++)
		icmp("isp", "gateway", 0, 1.0, T + i * 5 * S);
	assert_int_equal(count_tickets("open"), 0);
	t1 = T + 120 * S;
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 30, 1.0, t1 + i * 5 * S);
	assert_int_equal(count_tickets("all"), 1);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "open");
	assert_int_equal(json_integer_value(json_object_get(t, "reopened")), 1);
	assert_true(has_event(t, "reopened", "came back"));
	json_decref(t);
	stop();
}

static void
test_maintenance_records_without_ticket(void **state)
{
	char extra[256];
	time_t now = time(NULL) - 3600;
	struct tm a, b;
	char from[32], to[32];

	localtime_r(&now, &a);
	now += 3 * 3600;
	localtime_r(&now, &b);
	strftime(from, sizeof(from), "%Y-%m-%d %H:%M", &a);
	strftime(to, sizeof(to), "%Y-%m-%d %H:%M", &b);
	snprintf(extra, sizeof(extra),
	         "maintenance \"works\" { links = { \"isp\" }  from = \"%s\"  to = \"%s\" }\n",
	         from, to);
	start(extra);
	for (int i = 0; i < 5; i++)
		icmp("isp", "gateway", 30, 1.0, T + i * 5 * S);
	assert_int_equal(count_tickets("all"), 0);
	{
		sqlite3_stmt *st;
		db_sync(db, -1);
		assert_int_equal(sqlite3_prepare_v2(db_reader(db),
		                                    "SELECT count(*) FROM problems WHERE held = "
		                                    "'maintenance' AND kind = 'loss'",
		                                    -1, &st, NULL),
		                 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 1);
		sqlite3_finalize(st);
	}
	stop();
}

static void
test_restart_continues_the_ticket(void **state)
{
	json_t *t;

	start(NULL);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 30, 1.0, T + i * 5 * S);
	assert_int_equal(count_tickets("open"), 1);
	stop(); /* as good as kill -9 once the writes are committed */
	start(NULL);
	icmp("isp", "gateway", 30, 1.0, T + 60 * S);
	icmp("isp", "gateway", 30, 1.0, T + 65 * S);
	icmp("isp", "gateway", 30, 1.0, T + 70 * S);
	assert_int_equal(count_tickets("all"), 1);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "open");
	assert_true(has_event(t, "restarted", "still present"));
	json_decref(t);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 0, 1.0, T + 80 * S + i * 5 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "resolved");
	assert_null(strstr(sget(t, "resolution"), "not running"));
	json_decref(t);
	stop();
}

static void
test_restart_after_recovery_while_down(void **state)
{
	json_t *t;

	start(NULL);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 30, 1.0, T + i * 5 * S);
	stop();
	start(NULL);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 0, 1.0, T + 60 * S + i * 5 * S);
	assert_int_equal(count_tickets("all"), 1);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "resolved");
	assert_non_null(
	    strstr(sget(t, "resolution"), "recovered while linewatchd was not running"));
	json_decref(t);
	stop();
}

static int done_rc;
static int ndone;

static void
done_cb(int rc, void *arg)
{
	done_rc = rc;
	ndone++;
}

static int
action(int64_t id, enum incident_action a, const char *who, const char *text)
{
	char msg[256];
	int rc = incidents_action(inc, id, a, who, text, done_cb, NULL, msg, sizeof(msg));

	db_sync(db, -1);
	return rc;
}

static void
test_actions(void **state)
{
	json_t *t;

	start(NULL);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 30, 1.0, T + i * 5 * S);
	assert_int_equal(action(99, INCIDENT_ACK, "local", NULL), 404);
	assert_int_equal(action(1, INCIDENT_ACK, "", NULL), 400);
	assert_int_equal(action(1, INCIDENT_COMMENT, "tech", NULL), 400);
	assert_int_equal(action(1, INCIDENT_ACK, "tech", "calling the carrier"), 0);
	assert_int_equal(ndone, 1);
	assert_int_equal(done_rc, 0);
	assert_int_equal(action(1, INCIDENT_ACK, "tech", NULL), 409);
	assert_int_equal(action(1, INCIDENT_COMMENT, "tech", "carrier ref 4711"), 0);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "acknowledged");
	assert_string_equal(sget(t, "acknowledged_by"), "tech");
	assert_true(has_event(t, "acknowledged", "calling the carrier"));
	assert_true(has_event(t, "comment", "carrier ref 4711"));
	assert_string_equal(sget(json_object_get(t, "sla"), "response"), "met");
	json_decref(t);
	/* resolved by hand while the loss goes on: no new ticket */
	assert_int_equal(action(1, INCIDENT_RESOLVE, "tech", NULL), 0);
	assert_int_equal(action(1, INCIDENT_RESOLVE, "tech", NULL), 409);
	for (int i = 3; i < 8; i++)
		icmp("isp", "gateway", 30, 1.0, T + i * 5 * S);
	assert_int_equal(count_tickets("open"), 0);
	/* reopened: it follows the problem again and resolves on recovery */
	assert_int_equal(action(1, INCIDENT_REOPEN, "tech", "not fixed"), 0);
	assert_int_equal(action(1, INCIDENT_REOPEN, "tech", NULL), 409);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "open");
	assert_true(has_event(t, "reopened", "not fixed"));
	json_decref(t);
	for (int i = 8; i < 11; i++)
		icmp("isp", "gateway", 0, 1.0, T + i * 5 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "resolved");
	assert_string_equal(sget(t, "resolved_by"), "linewatchd");
	json_decref(t);
	/* a comment on a resolved ticket is fine */
	assert_int_equal(action(1, INCIDENT_COMMENT, "tech", "closed with the carrier"), 0);
	stop();
}

static void
test_ups_on_battery(void **state)
{
	struct lw_metric m[3] = {
	    {"reachable", "", 1, true},
	    {"uptime_s", "s", 100000, true},
	    {"ups_on_battery", "", 1, true},
	};
	struct lw_attr a[1] = {{"state", "ok"}};
	struct lw_sample s = {
	    .kind = LW_SUBJ_DEVICE,
	    .device = "rtr",
	    .interval_ms = 30000,
	    .status = LW_OK,
	    .metrics = m,
	    .nmetrics = 3,
	    .attrs = a,
	    .nattrs = 1,
	};
	json_t *t;

	start(NULL);
	for (int i = 0; i < 2; i++) {
		set_ts(&s, T + i * 30 * S);
		sample_publish(bus, &s);
	}
	t = ticket1(1);
	assert_string_equal(sget(t, "kind"), "ups_battery");
	assert_string_equal(sget(t, "subject"), "device");
	assert_non_null(strstr(sget(t, "title"), "Device rtr (198.18.0.2): UPS on battery"));
	json_decref(t);
	stop();
}

static void
device_state(const char *state, double uptime, int64_t at)
{
	struct lw_metric m[2] = {
	    {"reachable", "", strcmp(state, "ok") == 0, true},
	    {"uptime_s", "s", uptime, uptime == uptime},
	};
	struct lw_attr a[1] = {{"state", state}};
	struct lw_sample s = {
	    .kind = LW_SUBJ_DEVICE,
	    .device = "rtr",
	    .interval_ms = 30000,
	    .status = strcmp(state, "ok") == 0 ? LW_OK : LW_CRITICAL,
	    .message = strcmp(state, "ok") == 0 ? NULL : "timeout",
	    .metrics = m,
	    .nmetrics = 2,
	    .attrs = a,
	    .nattrs = 1,
	};

	set_ts(&s, at);
	sample_publish(bus, &s);
}

static void
test_blame_follows_the_incident(void **state)
{
	json_t *t;

	start(NULL);
	for (int i = 0; i < 3; i++) {
		icmp("isp", "gateway", 30, 1.0, T + i * 5 * S);
		icmp("isp", "internet", 30, 12.0, T + i * 5 * S + 1000);
	}
	t = ticket1(1);
	assert_string_equal(sget(json_object_get(t, "blame"), "verdict"), "isp");
	json_decref(t);
	/* the gateway clears, the far host stays lossy: beyond the provider */
	for (int i = 0; i < 4; i++) {
		icmp("isp", "gateway", 0, 1.0, T + 70 * S + i * 5 * S);
		icmp("isp", "internet", 30, 12.0, T + 70 * S + i * 5 * S + 1000);
	}
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "open");
	assert_string_equal(sget(json_object_get(t, "blame"), "verdict"), "beyond");
	assert_true(has_event(t, "blame", "fault now points to beyond"));
	assert_non_null(strstr(sget(t, "title"), "fault: beyond the provider's gateway"));
	json_decref(t);
	stop();
}

static void
test_errors_blame_the_router(void **state)
{
	json_t *t;

	start(NULL);
	/* 1 input error a second = 60 a minute, above the default 10 */
	for (int i = 0; i < 3; i++)
		iface("up", 12e6, 1.0, T + i * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "kind"), "errors");
	assert_non_null(strstr(sget(t, "title"), "60 input errors and discards per minute"));
	assert_string_equal(sget(json_object_get(t, "blame"), "verdict"), "cpe");
	json_decref(t);
	stop();
}

static void
test_saturation_blames_the_lan(void **state)
{
	json_t *t;

	start(NULL);
	/* 95 Mbit/s of the contracted 100M */
	for (int i = 0; i < 3; i++)
		iface("up", 95e6, 0, T + i * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "kind"), "saturation");
	assert_non_null(strstr(sget(t, "title"), "inbound at 95% of 100 Mbit/s"));
	assert_string_equal(sget(json_object_get(t, "blame"), "verdict"), "lan");
	json_decref(t);
	stop();
}

static void
test_router_unreachable_and_reboot(void **state)
{
	json_t *t;

	start(NULL);
	device_state("ok", 5000, T);
	device_state("unreachable", NAN, T + 30 * S);
	device_state("unreachable", NAN, T + 60 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "kind"), "unreachable");
	assert_string_equal(sget(t, "severity"), "critical");
	assert_non_null(strstr(sget(t, "title"), "Device rtr (198.18.0.2): does not answer SNMP"));
	json_decref(t);
	/* it comes back rebooted: resolves; the reboot is evidence for a link
	 * problem that starts now */
	device_state("ok", 40, T + 90 * S);
	device_state("ok", 70, T + 120 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "resolved");
	json_decref(t);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 30, 1.0, T + 125 * S + i * 5 * S);
	t = ticket1(2);
	assert_string_equal(sget(json_object_get(t, "blame"), "verdict"), "cpe");
	assert_non_null(strstr(json_string_value(json_array_get(
	                           json_object_get(json_object_get(t, "blame"), "reasons"), 0)),
	                       "rebooted"));
	json_decref(t);
	stop();
}

static void
test_no_working_path_said_once(void **state)
{
	json_t *j, *list;
	bool site = false;

	start(NULL);
	for (int i = 0; i < 4; i++) {
		int64_t at = T + i * 5 * S;

		icmp("isp", "gateway", 100, NAN, at);
		icmp("isp", "internet", 100, NAN, at + 1000);
		icmp("backup", "gw", 100, NAN, at + 2000);
	}
	j = tickets("open");
	list = json_object_get(j, "tickets");
	/* isp's down ticket (backup's down is suppressed into it, its parent)
	 * and one saying the appliance has no path at all */
	assert_int_equal(json_array_size(list), 2);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *t = json_array_get(list, i);

		if (strcmp(sget(t, "kind"), "no_path") == 0) {
			site = true;
			assert_string_equal(sget(t, "subject"), "site");
			assert_non_null(strstr(
			    sget(t, "title"),
			    "linewatch at test site has no working path: every link is down"));
		}
	}
	assert_true(site);
	json_decref(j);
	/* one link back: the path is back */
	for (int i = 0; i < 3; i++)
		icmp("backup", "gw", 0, 2.0, T + 30 * S + i * 5 * S);
	j = tickets("open");
	list = json_object_get(j, "tickets");
	for (size_t i = 0; i < json_array_size(list); i++)
		assert_string_not_equal(sget(json_array_get(list, i), "kind"), "no_path");
	json_decref(j);
	stop();
}

static void
test_latency_against_learned_baseline(void **state)
{
	int64_t hour = T - T % 3600000;
	json_t *t;
	sqlite3 *c;
	char path[300], sql[300];

	/* three earlier days knew 10 ms at this hour of the day */
	snprintf(path, sizeof(path), "%s/linewatch.db", dir);
	start(NULL);
	stop();
	assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
	for (int d = 1; d <= 3; d++) {
		snprintf(sql, sizeof(sql),
		         "INSERT INTO latency_hourly VALUES ('isp', 'gateway', "
		         "%lld, 10.0, 700)",
		         (long long)(hour - d * 86400000LL));
		assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close(c);
	start(NULL);
	/* 40 ms: under the 150 ms threshold, but 4x the usual and 30 ms above */
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 0, 40.0, T + i * 5 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "kind"), "latency");
	assert_non_null(strstr(sget(t, "title"), "4.0x its usual 10 ms at this hour"));
	json_decref(t);
	stop();
}

static void
test_reload_keeps_open_tickets(void **state)
{
	struct lw_config *ncfg;
	json_t *t;

	start(NULL);
	for (int i = 0; i < 3; i++)
		icmp("isp", "gateway", 30, 1.0, T + i * 5 * S);
	ncfg = config_load(cfgpath, cfg_err, NULL);
	assert_non_null(ncfg);
	assert_int_equal(incidents_reload(inc, ncfg), 0);
	config_free(cfg);
	cfg = ncfg;
	for (int i = 3; i < 6; i++)
		icmp("isp", "gateway", 0, 1.0, T + i * 5 * S);
	t = ticket1(1);
	assert_string_equal(sget(t, "state"), "resolved");
	json_decref(t);
	assert_int_equal(count_tickets("all"), 1);
	stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_healthy_no_tickets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loss_opens_one_ticket_and_resolves, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_path_wide_loss_counts_across_probes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_one_lost_echo_is_no_ticket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_severity_rises_and_falls_in_one_ticket, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_interface_down_one_ticket_probes_suppressed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_probes_alone_detect_down, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_far_failures_alone_are_not_down, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flapping_link_one_ticket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_holddown_reopens_the_same_ticket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maintenance_records_without_ticket, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_restart_continues_the_ticket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_after_recovery_while_down, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ups_on_battery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blame_follows_the_incident, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors_blame_the_router, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_saturation_blames_the_lan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_router_unreachable_and_reboot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_working_path_said_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_latency_against_learned_baseline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_keeps_open_tickets, setup, teardown),
	};

	log_init(1, LOG_LVL_WARN);
	evthread_use_pthreads();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
