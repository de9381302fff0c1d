/* test_notify_render.c - what a notification becomes: the JSON payload, the
 * SNMP PDU (LINEWATCH-MIB varbinds), the webhook body, the e-mail */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"
#include "mail.h"
#include "notify.h"
#include "trap.h"
#include "webhook.h"

/* 2025-01-15 10:32:05.120 UTC */
#define T0 1736937125120LL

static const struct notify_event opened = {
    .type = NOTIFY_OPENED,
    .time_ms = T0,
    .ref = "LW-000123",
    .kind = "loss",
    .severity = "critical",
    .state = "open",
    .title = "isp-fibre: 12.5% loss to the ISP gateway",
    .link = "isp-fibre",
    .provider = "Example Telecom",
    .circuit = "ABC-12345",
    .metrics_json = "{\"loss\": 12.5, \"latency\": {\"value\": 84.25, \"unit\": \"ms\"}, "
                    "\"jitter\": {\"value\": 0.002, \"unit\": \"s\"}}",
};

static json_t *
load(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

static const char *
jpath(json_t *j, const char *a, const char *b)
{
	json_t *o = json_object_get(j, a);

	return json_string_value(b ? json_object_get(o, b) : o);
}

/* --- payload ------------------------------------------------------------- */

static void
test_payload_ticket(void **state)
{
	char *p = notify_payload(&opened, "Example Dental");
	json_t *j = load(p), *m;

	assert_int_equal(json_integer_value(json_object_get(j, "schema")), 1);
	assert_string_equal(jpath(j, "event", NULL), "opened");
	assert_string_equal(jpath(j, "time", NULL), "2025-01-15T10:32:05.120Z");
	assert_string_equal(jpath(j, "site", NULL), "Example Dental");
	assert_string_equal(jpath(j, "ticket", "ref"), "LW-000123");
	assert_string_equal(jpath(j, "ticket", "severity"), "critical");
	assert_string_equal(jpath(j, "link", "circuit"), "ABC-12345");
	assert_null(json_object_get(json_object_get(j, "link"), "state"));
	assert_null(json_object_get(j, "text"));
	m = json_object_get(j, "metrics");
	assert_true(json_real_value(json_object_get(json_object_get(m, "loss"), "value")) == 12.5);
	assert_string_equal(json_string_value(json_object_get(json_object_get(m, "loss"), "unit")),
	                    "%");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(m, "latency"), "unit")), "ms");
	json_decref(j);
	free(p);
}

static void
test_payload_metric_shapes_and_bad_text(void **state)
{
	struct notify_event ev = {
	    .type = NOTIFY_COMMENTED,
	    .time_ms = T0,
	    .ref = "LW-1",
	    .title = "bad \x01 bytes \xff\xfe here",
	    .text = "line one\nline two\x1b[31m",
	    .by = "alice",
	    .metrics_json = "[{\"name\": \"rtt_avg\", \"value\": 20}, {\"name\": \"x\", "
	                    "\"value\": \"not a number\"}, {\"value\": 3}]",
	};
	char *p = notify_payload(&ev, "s");
	json_t *j = load(p), *m = json_object_get(j, "metrics");

	/* never invalid JSON, never control characters; newlines stay */
	assert_string_equal(jpath(j, "ticket", "title"), "bad ? bytes ?? here");
	assert_string_equal(jpath(j, "text", NULL), "line one\nline two?[31m");
	assert_string_equal(jpath(j, "by", NULL), "alice");
	assert_int_equal(json_object_size(m), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(m, "rtt_avg"), "unit")), "ms");
	json_decref(j);
	free(p);

	ev.metrics_json = "not json at all {";
	p = notify_payload(&ev, "s");
	j = load(p);
	assert_int_equal(json_object_size(json_object_get(j, "metrics")), 0);
	json_decref(j);
	free(p);

	ev.type = 0;
	assert_null(notify_payload(&ev, "s"));
}

static void
test_type_names(void **state)
{
	for (int t = NOTIFY_OPENED; t <= NOTIFY_COLD_START; t++)
		assert_int_equal(notify_type_parse(notify_type_name((enum notify_type)t)), t);
	assert_string_equal(notify_type_name(NOTIFY_LINK_STATE), "link-state");
	assert_int_equal(notify_type_parse("nope"), 0);
	assert_null(notify_type_name(0));
}

/* --- SNMP ---------------------------------------------------------------- */

static struct trap_env env;

static int
setup_env(void **state)
{
	trap_lib_init();
	memset(&env, 0, sizeof(env));
	assert_int_equal(trap_parse_oid(TRAP_DEFAULT_ENTERPRISE, env.root, &env.rootlen), 0);
	return 0;
}

static void
test_parse_oid(void **state)
{
	oid o[MAX_OID_LEN];
	size_t n;

	assert_int_equal(trap_parse_oid(".1.3.6.1.4.1.99999", o, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(o[6], 99999);
	assert_int_equal(trap_parse_oid("1.3.6.x", o, &n), -1);
	assert_int_equal(trap_parse_oid("1..3", o, &n), -1);
	assert_int_equal(trap_parse_oid("1.3.", o, &n), -1);
	assert_int_equal(trap_parse_oid("1", o, &n), -1);
	assert_int_equal(trap_parse_oid("", o, &n), -1);
	assert_int_equal(trap_parse_oid("1.3.6.1.99999999999", o, &n), -1);
}

/* The varbind with OID root.1.1.<obj>.0, or NULL. */
static netsnmp_variable_list *
obj(netsnmp_pdu *pdu, int o)
{
	oid name[MAX_OID_LEN];

	memcpy(name, env.root, env.rootlen * sizeof(oid));
	name[env.rootlen] = 1;
	name[env.rootlen + 1] = 1;
	name[env.rootlen + 2] = (oid)o;
	name[env.rootlen + 3] = 0;
	for (netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable)
		if (snmp_oid_compare(v->name, v->name_length, name, env.rootlen + 4) == 0)
			return v;
	return NULL;
}

static void
assert_str_var(netsnmp_pdu *pdu, int o, const char *want)
{
	netsnmp_variable_list *v = obj(pdu, o);

	assert_non_null(v);
	assert_int_equal(v->type, ASN_OCTET_STR);
	assert_int_equal(v->val_len, strlen(want));
	assert_memory_equal(v->val.string, want, strlen(want));
}

static void
assert_trap_oid(netsnmp_pdu *pdu, int n)
{
	netsnmp_variable_list *v = pdu->variables;
	oid want[MAX_OID_LEN];

	/* sysUpTime.0 first, snmpTrapOID.0 second */
	assert_int_equal(v->type, ASN_TIMETICKS);
	v = v->next_variable;
	assert_int_equal(v->type, ASN_OBJECT_ID);
	memcpy(want, env.root, env.rootlen * sizeof(oid));
	want[env.rootlen] = 0;
	want[env.rootlen + 1] = (oid)n;
	assert_int_equal(
	    snmp_oid_compare(v->val.objid, v->val_len / sizeof(oid), want, env.rootlen + 2), 0);
}

static void
test_pdu_ticket_opened(void **state)
{
	char *p = notify_payload(&opened, "Example Dental"), why[128];
	netsnmp_pdu *pdu = trap_build_pdu(&env, SNMP_MSG_INFORM, p, why, sizeof(why));
	netsnmp_variable_list *v;
	static const unsigned char when[] = {0x07, 0xe9, 1, 15, 10, 32, 5, 1, '+', 0, 0};

	assert_non_null(pdu);
	assert_int_equal(pdu->command, SNMP_MSG_INFORM);
	assert_trap_oid(pdu, 1); /* lwTicketOpened */
	assert_str_var(pdu, 1, "Example Dental");
	assert_int_equal(*obj(pdu, 2)->val.integer, 1); /* lwEventType opened */
	v = obj(pdu, 3);
	assert_int_equal(v->val_len, sizeof(when));
	assert_memory_equal(v->val.string, when, sizeof(when));
	assert_str_var(pdu, 4, "LW-000123");
	assert_str_var(pdu, 5, "loss");
	assert_int_equal(*obj(pdu, 6)->val.integer, 3); /* critical */
	assert_int_equal(*obj(pdu, 7)->val.integer, 2); /* open */
	assert_str_var(pdu, 8, "isp-fibre");
	assert_str_var(pdu, 9, "Example Telecom");
	assert_str_var(pdu, 10, "ABC-12345");
	assert_str_var(pdu, 12, "isp-fibre: 12.5% loss to the ISP gateway");
	assert_str_var(pdu, 13, "loss=12.5% latency=84.25ms jitter=0.002s");
	assert_int_equal(obj(pdu, 14)->type, ASN_GAUGE);
	assert_int_equal(*obj(pdu, 14)->val.integer, 1250);  /* hundredths of a percent */
	assert_int_equal(*obj(pdu, 15)->val.integer, 84250); /* microseconds */
	assert_int_equal(*obj(pdu, 16)->val.integer, 2000);  /* 0.002 s */
	assert_null(obj(pdu, 17));                           /* no utilization given */
	assert_null(obj(pdu, 11));                           /* no link state */
	snmp_free_pdu(pdu);
	free(p);
}

static void
test_pdu_event_mapping(void **state)
{
	static const struct {
		enum notify_type type;
		int notification, event_type;
	} map[] = {
	    {NOTIFY_OPENED, 1, 1},       {NOTIFY_REOPENED, 1, 6},  {NOTIFY_UPDATED, 2, 2},
	    {NOTIFY_ACKNOWLEDGED, 2, 3}, {NOTIFY_COMMENTED, 2, 4}, {NOTIFY_RESOLVED, 3, 5},
	};
	char why[128];

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		struct notify_event ev = opened;
		char *p;
		netsnmp_pdu *pdu;

		ev.type = map[i].type;
		ev.state = "resolved";
		ev.severity = "weird";
		p = notify_payload(&ev, "s");
		pdu = trap_build_pdu(&env, SNMP_MSG_TRAP2, p, why, sizeof(why));
		assert_non_null(pdu);
		assert_trap_oid(pdu, map[i].notification);
		assert_int_equal(*obj(pdu, 2)->val.integer, map[i].event_type);
		assert_int_equal(*obj(pdu, 6)->val.integer, 1); /* other */
		assert_int_equal(*obj(pdu, 7)->val.integer, 4); /* resolved */
		snmp_free_pdu(pdu);
		free(p);
	}
}

static void
test_pdu_link_state_heartbeat_cold_start(void **state)
{
	struct notify_event ev = {
	    .type = NOTIFY_LINK_STATE,
	    .time_ms = T0,
	    .link = "isp-fibre",
	    .link_state = "down",
	    .provider = "P",
	};
	const char *hb =
	    "{\"schema\":1,\"event\":\"heartbeat\",\"time\":\"2025-01-15T10:32:05.1Z\","
	    "\"site\":\"s\",\"heartbeat\":{\"interval_s\":300,\"outbox\":7,"
	    "\"dropped\":2}}";
	const char *cold = "{\"schema\":1,\"event\":\"cold-start\",\"site\":\"s\"}";
	static const oid coldstart[] = {1, 3, 6, 1, 6, 3, 1, 1, 5, 1};
	char *p = notify_payload(&ev, "s"), why[128];
	netsnmp_pdu *pdu = trap_build_pdu(&env, SNMP_MSG_TRAP2, p, why, sizeof(why));

	assert_trap_oid(pdu, 4);
	assert_int_equal(*obj(pdu, 11)->val.integer, 4); /* down */
	assert_str_var(pdu, 8, "isp-fibre");
	assert_null(obj(pdu, 4)); /* no ticket objects */
	snmp_free_pdu(pdu);
	free(p);

	pdu = trap_build_pdu(&env, SNMP_MSG_TRAP2, hb, why, sizeof(why));
	assert_trap_oid(pdu, 5);
	assert_int_equal(*obj(pdu, 19)->val.integer, 300);
	assert_int_equal(*obj(pdu, 20)->val.integer, 7);
	assert_int_equal(obj(pdu, 21)->type, ASN_COUNTER);
	assert_int_equal(*obj(pdu, 21)->val.integer, 2);
	snmp_free_pdu(pdu);

	pdu = trap_build_pdu(&env, SNMP_MSG_TRAP2, cold, why, sizeof(why));
	assert_int_equal(snmp_oid_compare(pdu->variables->next_variable->val.objid,
	                                  pdu->variables->next_variable->val_len / sizeof(oid),
	                                  coldstart, 10),
	                 0);
	assert_str_var(pdu, 1, "s");
	snmp_free_pdu(pdu);

	/* SNMPv1: enterprise = linewatchMIB, specific = the notification */
	pdu = trap_build_pdu(&env, SNMP_MSG_TRAP, hb, why, sizeof(why));
	assert_int_equal(pdu->trap_type, SNMP_TRAP_ENTERPRISESPECIFIC);
	assert_int_equal(pdu->specific_type, 5);
	assert_int_equal(
	    snmp_oid_compare(pdu->enterprise, pdu->enterprise_length, env.root, env.rootlen), 0);
	assert_int_equal(obj(pdu, 19) != NULL, 1);
	snmp_free_pdu(pdu);
	pdu = trap_build_pdu(&env, SNMP_MSG_TRAP, cold, why, sizeof(why));
	assert_int_equal(pdu->trap_type, SNMP_TRAP_COLDSTART);
	snmp_free_pdu(pdu);
}

static void
test_pdu_limits_and_refusals(void **state)
{
	struct notify_event ev = opened;
	char title[400], why[128], *p;
	netsnmp_pdu *pdu;
	netsnmp_variable_list *v;

	/* 254 ASCII bytes then "é" (2 bytes) crosses 255: cut before it */
	memset(title, 'a', 254);
	strcpy(title + 254, "\xc3\xa9 and more");
	ev.title = title;
	ev.ref = "LW-0000000000000000000000000000000000000042"; /* > 32 */
	p = notify_payload(&ev, "s");
	pdu = trap_build_pdu(&env, SNMP_MSG_TRAP2, p, why, sizeof(why));
	v = obj(pdu, 12);
	assert_int_equal(v->val_len, 254);
	assert_int_equal(obj(pdu, 4)->val_len, 32);
	snmp_free_pdu(pdu);
	free(p);

	assert_null(trap_build_pdu(&env, SNMP_MSG_TRAP2, "not json", why, sizeof(why)));
	assert_non_null(strstr(why, "not a JSON object"));
	assert_null(
	    trap_build_pdu(&env, SNMP_MSG_TRAP2, "{\"event\":\"sneeze\"}", why, sizeof(why)));
	assert_non_null(strstr(why, "sneeze"));
	assert_null(trap_build_pdu(&env, SNMP_MSG_TRAP2, "[1,2]", why, sizeof(why)));
}

/* The evidence as incident.c gives it: figures (null when unknown), the
 * probes and the interface; a device ticket; a blame verdict. */
static const char *incident_metrics =
    "{\"loss\": 100, \"latency\": null, \"jitter\": null, \"utilization_in\": 12.5, "
    "\"utilization_out\": 97.25, \"errors_per_min\": 3, \"probes\": [{\"name\": \"gateway\", "
    "\"hop\": \"gateway\", \"status\": \"critical\", \"message\": \"no answer\\u0007\", \"loss\": "
    "100, "
    "\"latency\": null, \"jitter\": null, \"age_s\": 2}, {\"name\": \"dns\", \"status\": \"ok\", "
    "\"loss\": null, \"latency\": 12, \"jitter\": null, \"age_s\": 1}], \"interface\": {\"name\": "
    "\"Gi1/0/1\", \"oper\": \"down\", \"admin\": \"up\"}}";

static void
test_incident_evidence(void **state)
{
	struct notify_event ev = opened;
	char *to[] = {"noc@example.org"};
	char *p, *m, why[128];
	json_t *j, *pr, *v;
	netsnmp_pdu *pdu;

	ev.kind = "down";
	ev.blame = "isp";
	ev.metrics_json = incident_metrics;
	p = notify_payload(&ev, "s");
	j = load(p);
	assert_string_equal(jpath(j, "ticket", "blame"), "isp");
	v = json_object_get(json_object_get(json_object_get(j, "metrics"), "latency"), "value");
	assert_true(json_is_null(v));
	assert_null(json_object_get(json_object_get(j, "metrics"), "probes"));
	pr = json_object_get(j, "probes");
	assert_int_equal(json_array_size(pr), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pr, 0), "message")),
	                    "no answer?");
	assert_null(json_object_get(json_array_get(pr, 0), "age_s"));
	assert_string_equal(jpath(j, "interface", "oper"), "down");
	json_decref(j);

	pdu = trap_build_pdu(&env, SNMP_MSG_TRAP2, p, why, sizeof(why));
	assert_str_var(pdu, 23, "isp");
	assert_str_var(pdu, 22, "");
	assert_int_equal(*obj(pdu, 14)->val.integer, 10000);
	assert_null(obj(pdu, 15));                          /* latency unknown: left out */
	assert_int_equal(*obj(pdu, 17)->val.integer, 9725); /* the busier direction */
	assert_int_equal(*obj(pdu, 18)->val.integer, 300);
	assert_str_var(pdu, 13,
	               "loss=100% utilization_in=12.5% utilization_out=97.25% "
	               "errors_per_min=3/min");
	snmp_free_pdu(pdu);

	m = mail_render(p, 9, "lw@example.org", to, 1);
	assert_non_null(strstr(m, "  Blame:     isp\r\n"));
	assert_non_null(strstr(m, "  latency        unknown\r\n"));
	assert_non_null(
	    strstr(m, "Probes:\r\n  gateway (gateway): critical  loss 100% - no answer?\r\n"
	              "  dns: ok  latency 12 ms\r\n"));
	free(m);
	free(p);

	/* a device ticket */
	ev = (struct notify_event){.type = NOTIFY_OPENED,
	                           .time_ms = T0,
	                           .ref = "LW-000007",
	                           .kind = "ups_battery",
	                           .severity = "warning",
	                           .state = "open",
	                           .device = "ups-1",
	                           .title = "UPS ups-1 on battery"};
	p = notify_payload(&ev, "s");
	pdu = trap_build_pdu(&env, SNMP_MSG_TRAP2, p, why, sizeof(why));
	assert_str_var(pdu, 22, "ups-1");
	assert_str_var(pdu, 8, "");
	assert_int_equal(*obj(pdu, 6)->val.integer, 2); /* warning */
	snmp_free_pdu(pdu);
	m = mail_render(p, 10, "lw@example.org", to, 1);
	assert_non_null(strstr(m, "  Device:    ups-1\r\n"));
	free(m);
	free(p);
}

/* --- webhook --------------------------------------------------------------- */

static void
test_webhook_body_and_status(void **state)
{
	char *p = notify_payload(&opened, "s"), *b = webhook_body(p, 77);
	json_t *j = load(b);
	const char *key;
	json_t *v;
	int i = 0;

	json_object_foreach(j, key, v)
	{
		if (i == 0)
			assert_string_equal(key, "schema");
		if (i == 1)
			assert_string_equal(key, "id");
		i++;
	}
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 77);
	assert_string_equal(jpath(j, "ticket", "ref"), "LW-000123");
	json_decref(j);
	free(b);
	free(p);
	assert_null(webhook_body("nope", 1));

	assert_int_equal(webhook_status_result(200), DELIVER_OK);
	assert_int_equal(webhook_status_result(204), DELIVER_OK);
	assert_int_equal(webhook_status_result(301), DELIVER_RETRY);
	assert_int_equal(webhook_status_result(400), DELIVER_REJECT);
	assert_int_equal(webhook_status_result(422), DELIVER_REJECT);
	assert_int_equal(webhook_status_result(401), DELIVER_RETRY);
	assert_int_equal(webhook_status_result(404), DELIVER_RETRY);
	assert_int_equal(webhook_status_result(429), DELIVER_RETRY);
	assert_int_equal(webhook_status_result(500), DELIVER_RETRY);
	assert_int_equal(webhook_status_result(503), DELIVER_RETRY);
}

/* --- mail ---------------------------------------------------------------- */

static char *
header(const char *msg, const char *name)
{
	const char *end = strstr(msg, "\r\n\r\n");
	size_t nl = strlen(name);

	for (const char *p = msg; p && p < end;
	     p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL)
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *e = p;
			/* unfold continuation lines */
			while ((e = strstr(e, "\r\n")) && (e[2] == ' ' || e[2] == '\t'))
				e += 2;
			return strndup(p + nl + 2, (size_t)(e - p - nl - 2));
		}
	return NULL;
}

static void
assert_crlf_only(const char *msg)
{
	for (const char *p = msg; *p; p++) {
		if (*p == '\n')
			assert_true(p > msg && p[-1] == '\r');
		if (*p == '\r')
			assert_int_equal(p[1], '\n');
	}
}

static void
test_mail_ticket(void **state)
{
	struct notify_event ev = opened;
	char *to[] = {"noc@example.org", "Ops <ops@example.org>"};
	char *p, *m, *subj, *body;

	ev.type = NOTIFY_ACKNOWLEDGED;
	ev.state = "acknowledged";
	ev.by = "alice";
	ev.text = "called the provider\nticket 4711";
	p = notify_payload(&ev, "Example Dental");
	m = mail_render(p, 42, "linewatch@example.org", to, 2);
	assert_non_null(m);
	assert_crlf_only(m);
	subj = header(m, "Subject");
	assert_string_equal(subj, "LW-000123 acknowledged by alice: isp-fibre: 12.5% loss to the "
	                          "ISP gateway (Example Dental)");
	free(subj);
	subj = header(m, "To");
	assert_string_equal(subj, "noc@example.org,\r\n Ops <ops@example.org>");
	free(subj);
	body = strstr(m, "\r\n\r\n") + 4;
	assert_non_null(strstr(body, "Ticket LW-000123 was acknowledged by alice.\r\n"));
	assert_non_null(strstr(body, "  Provider:  Example Telecom\r\n"));
	assert_non_null(strstr(body, "  Circuit:   ABC-12345\r\n"));
	assert_non_null(strstr(body, "  When:      2025-01-15 10:32:05 UTC\r\n"));
	assert_non_null(strstr(body, "Evidence:\r\n  loss           12.5 %\r\n"));
	assert_non_null(strstr(body, "  latency        84.25 ms\r\n"));
	assert_non_null(
	    strstr(body, "Comment by alice:\r\ncalled the provider\r\nticket 4711\r\n"));
	free(m);
	free(p);
}

static void
test_mail_hostile_text(void **state)
{
	struct notify_event ev = opened;
	char *to[] = {"noc@example.org"};
	char longline[3000], *p, *m, *subj, *body;
	size_t col = 0;

	ev.title = "Zürich link\r\nBcc: victim@example.org";
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	ev.text = longline;
	p = notify_payload(&ev, "s");
	m = mail_render(p, 1, "lw@example.org", to, 1);
	assert_crlf_only(m);
	/* no header was injected, and the non-ASCII subject is encoded */
	assert_null(header(m, "Bcc"));
	subj = header(m, "Subject");
	assert_non_null(strstr(subj, "=?UTF-8?B?"));
	for (const char *s = subj; *s; s++)
		assert_true((unsigned char)*s < 0x80);
	free(subj);
	/* no line longer than RFC 5322 allows */
	body = strstr(m, "\r\n\r\n");
	for (const char *s = m; *s; s++) {
		col = *s == '\n' ? 0 : col + 1;
		assert_true(col <= 998);
	}
	(void)body;
	free(m);
	free(p);
	assert_null(mail_render("{}", 1, "a@b", to, 1));
	assert_null(mail_render("garbage", 1, "a@b", to, 1));
}

static void
test_mail_link_state(void **state)
{
	struct notify_event ev = {
	    .type = NOTIFY_LINK_STATE, .time_ms = T0, .link = "dsl", .link_state = "down"};
	char *to[] = {"noc@example.org"};
	char *p = notify_payload(&ev, "HQ"), *m = mail_render(p, 5, "lw@example.org", to, 1);
	char *subj = header(m, "Subject");

	assert_string_equal(subj, "Link dsl is down (HQ)");
	assert_non_null(strstr(m, "  Link state: down\r\n"));
	free(subj);
	free(m);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_payload_ticket),
	    cmocka_unit_test(test_payload_metric_shapes_and_bad_text),
	    cmocka_unit_test(test_type_names),
	    cmocka_unit_test(test_parse_oid),
	    cmocka_unit_test_setup(test_pdu_ticket_opened, setup_env),
	    cmocka_unit_test_setup(test_pdu_event_mapping, setup_env),
	    cmocka_unit_test_setup(test_pdu_link_state_heartbeat_cold_start, setup_env),
	    cmocka_unit_test_setup(test_pdu_limits_and_refusals, setup_env),
	    cmocka_unit_test_setup(test_incident_evidence, setup_env),
	    cmocka_unit_test(test_webhook_body_and_status),
	    cmocka_unit_test(test_mail_ticket),
	    cmocka_unit_test(test_mail_hostile_text),
	    cmocka_unit_test(test_mail_link_state),
	};

	log_init(1, LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
