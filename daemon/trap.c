/* trap.c - LINEWATCH-MIB traps and informs with net-snmp on libevent */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "log.h"
#include "snmp_ev.h"
#include "trap.h"

/* lwNotifyObjects members: linewatchMIB.1.1.N */
enum lw_obj {
	O_SITE = 1,
	O_EVENT_TYPE,
	O_EVENT_TIME,
	O_TICKET_REF,
	O_TICKET_KIND,
	O_TICKET_SEVERITY,
	O_TICKET_STATE,
	O_LINK_NAME,
	O_LINK_PROVIDER,
	O_LINK_CIRCUIT,
	O_LINK_STATE,
	O_MESSAGE,
	O_EVIDENCE,
	O_LOSS,
	O_LATENCY,
	O_JITTER,
	O_UTILIZATION,
	O_ERRORS,
	O_HB_INTERVAL,
	O_OUTBOX_DEPTH,
	O_OUTBOX_DROPPED,
	O_DEVICE_NAME,
	O_TICKET_BLAME,
};

/* lwNotifications members: linewatchMIB.0.N */
enum lw_notif {
	N_TICKET_OPENED = 1,
	N_TICKET_UPDATED,
	N_TICKET_RESOLVED,
	N_LINK_STATE_CHANGED,
	N_HEARTBEAT,
};

static const oid sysuptime_oid[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
static const oid trapoid_oid[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};
static const oid coldstart_oid[] = {1, 3, 6, 1, 6, 3, 1, 1, 5, 1};

struct trap_sender {
	struct event_base *base;
	const struct trap_env *env;
	char *name;
	char *target;
	struct lw_snmp_auth auth; /* own copies; keys never logged */
	bool inform;
	long timeout_us;
	int retries;

	void *sess;
	struct snmp_ev ev; /* the session on the loop */
	bool engine_known; /* v3 informs: the manager's engine ID */
	bool closing;

	/* the inform under way */
	netsnmp_pdu *pending; /* waiting for engine discovery */
	bool busy;
	deliver_cb cb;
	void *arg;
};

/* --- library ------------------------------------------------------------ */

void
trap_lib_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	/* the same settings as the poller: whichever starts first initialises */
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES, 1);
	netsnmp_set_mib_directory("/nonexistent");
	setenv("MIBS", "", 0);
	snmp_disable_log();
	init_snmp("linewatchd");
}

int
trap_parse_oid(const char *s, oid *out, size_t *outlen)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return -1;
	if (*s == '.')
		s++;
	while (*s) {
		char *end;
		unsigned long v;

		if (*s < '0' || *s > '9' || n >= MAX_OID_LEN - 8)
			return -1;
		v = strtoul(s, &end, 10);
		if (v > 0xffffffffUL)
			return -1;
		out[n++] = (oid)v;
		if (*end == '.' && end[1] != '\0')
			end++;
		else if (*end != '\0')
			return -1;
		s = end;
	}
	if (n < 2)
		return -1;
	*outlen = n;
	return 0;
}

/* --- payload to PDU ------------------------------------------------------ */

static void
obj_oid(const struct trap_env *env, enum lw_obj o, oid *out, size_t *len)
{
	memcpy(out, env->root, env->rootlen * sizeof(oid));
	out[env->rootlen] = 1;
	out[env->rootlen + 1] = 1;
	out[env->rootlen + 2] = (oid)o;
	out[env->rootlen + 3] = 0;
	*len = env->rootlen + 4;
}

/* Bytes of s that fit in max, never cutting a UTF-8 character. */
static size_t
fit(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static void
add_str(netsnmp_pdu *pdu, const struct trap_env *env, enum lw_obj o, const char *s, size_t max)
{
	oid name[MAX_OID_LEN];
	size_t len;

	obj_oid(env, o, name, &len);
	if (s == NULL)
		s = "";
	snmp_pdu_add_variable(pdu, name, len, ASN_OCTET_STR, s, fit(s, max));
}

static void
add_int(netsnmp_pdu *pdu, const struct trap_env *env, enum lw_obj o, long v)
{
	oid name[MAX_OID_LEN];
	size_t len;

	obj_oid(env, o, name, &len);
	snmp_pdu_add_variable(pdu, name, len, ASN_INTEGER, &v, sizeof(v));
}

static void
add_unsigned(netsnmp_pdu *pdu, const struct trap_env *env, enum lw_obj o, u_char type, double v)
{
	oid name[MAX_OID_LEN];
	size_t len;
	u_long u;

	if (!isfinite(v) || v < 0)
		v = 0;
	u = v > 4294967295.0 ? 4294967295UL : (u_long)llround(v);
	obj_oid(env, o, name, &len);
	snmp_pdu_add_variable(pdu, name, len, type, &u, sizeof(u));
}

static long
word_value(const char *s, const char *const *words, long other)
{
	for (long i = 0; s && words[i]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return i + 1;
	return other;
}

/* DateAndTime (RFC 2579), UTC, from "2025-01-15T10:32:05.120Z". */
static void
add_time(netsnmp_pdu *pdu, const struct trap_env *env, const char *iso)
{
	unsigned char b[11] = {0};
	oid name[MAX_OID_LEN];
	size_t len;
	int y = 1970, mo = 1, d = 1, h = 0, mi = 0, s = 0, ms = 0;

	if (iso)
		sscanf(iso, "%d-%d-%dT%d:%d:%d.%d", &y, &mo, &d, &h, &mi, &s, &ms);
	b[0] = (unsigned char)((y >> 8) & 0xff);
	b[1] = (unsigned char)(y & 0xff);
	b[2] = (unsigned char)mo;
	b[3] = (unsigned char)d;
	b[4] = (unsigned char)h;
	b[5] = (unsigned char)mi;
	b[6] = (unsigned char)s;
	b[7] = (unsigned char)(ms / 100);
	b[8] = '+';
	obj_oid(env, O_EVENT_TIME, name, &len);
	snmp_pdu_add_variable(pdu, name, len, ASN_OCTET_STR, b, sizeof(b));
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Metrics the MIB has objects for, by the names the evidence uses. */
static const struct {
	const char *name;
	enum lw_obj obj;
	double scale; /* to the object's unit */
} metric_map[] = {
    {"loss", O_LOSS, 100},
    {"loss_pct", O_LOSS, 100},
    {"latency", O_LATENCY, 1000},
    {"latency_ms", O_LATENCY, 1000},
    {"rtt", O_LATENCY, 1000},
    {"rtt_avg", O_LATENCY, 1000},
    {"jitter", O_JITTER, 1000},
    {"jitter_ms", O_JITTER, 1000},
    {"utilization", O_UTILIZATION, 100},
    {"utilization_pct", O_UTILIZATION, 100},
    {"utilization_in_pct", O_UTILIZATION, 100},
    {"utilization_out_pct", O_UTILIZATION, 100},
    {"utilization_in", O_UTILIZATION, 100},
    {"utilization_out", O_UTILIZATION, 100},
    {"errors", O_ERRORS, 100},
    {"errors_per_min", O_ERRORS, 100},
};

static double
unit_scale(enum lw_obj o, const char *unit)
{
	if (unit == NULL || (o != O_LATENCY && o != O_JITTER))
		return 1;
	if (strcmp(unit, "s") == 0)
		return 1000;
	if (strcmp(unit, "us") == 0 || strcmp(unit, "µs") == 0)
		return 0.001;
	return 1;
}

/* "loss=12.5% latency=84.2ms": the evidence for people. */
static void
add_evidence(netsnmp_pdu *pdu, const struct trap_env *env, json_t *metrics)
{
	char text[256] = "";
	size_t tl = 0;

	for (void *it = json_object_iter(metrics); it; it = json_object_iter_next(metrics, it)) {
		json_t *m = json_object_iter_value(it), *v = json_object_get(m, "value");
		const char *unit = jstr(m, "unit");
		int w;

		if (!json_is_number(v) || tl >= sizeof(text))
			continue;
		w = snprintf(text + tl, sizeof(text) - tl, "%s%s=%g%s", tl ? " " : "",
		             json_object_iter_key(it), json_number_value(v), unit ? unit : "");
		if (w > 0)
			tl += (size_t)w;
	}
	add_str(pdu, env, O_EVIDENCE, text, 255);
}

/* One Gauge32 per metric the MIB has an object for (the largest value where
 * two names map to one object, as utilization in and out). */
static void
add_metrics(netsnmp_pdu *pdu, const struct trap_env *env, json_t *metrics)
{
	double best[O_ERRORS + 1];
	bool have[O_ERRORS + 1] = {false};

	for (void *it = json_object_iter(metrics); it; it = json_object_iter_next(metrics, it)) {
		const char *name = json_object_iter_key(it);
		json_t *m = json_object_iter_value(it), *v = json_object_get(m, "value");
		const char *unit = jstr(m, "unit");

		if (!json_is_number(v))
			continue;
		for (size_t i = 0; i < sizeof(metric_map) / sizeof(metric_map[0]); i++) {
			enum lw_obj o = metric_map[i].obj;
			double x = json_number_value(v) * unit_scale(o, unit) * metric_map[i].scale;
			if (strcmp(name, metric_map[i].name) != 0)
				continue;
			if (!have[o] || x > best[o])
				best[o] = x;
			have[o] = true;
		}
	}
	for (int o = O_LOSS; o <= O_ERRORS; o++)
		if (have[o])
			add_unsigned(pdu, env, (enum lw_obj)o, ASN_GAUGE, best[o]);
}

static int
ticket_notification(const char *event)
{
	if (strcmp(event, "opened") == 0 || strcmp(event, "reopened") == 0)
		return N_TICKET_OPENED;
	if (strcmp(event, "updated") == 0 || strcmp(event, "acknowledged") == 0 ||
	    strcmp(event, "commented") == 0)
		return N_TICKET_UPDATED;
	if (strcmp(event, "resolved") == 0)
		return N_TICKET_RESOLVED;
	return 0;
}

static const char *const events[] = {"opened",     "updated",   "acknowledged",
                                     "commented",  "resolved",  "reopened",
                                     "link-state", "heartbeat", NULL};
static const char *const severities[] = {"other", "warning", "critical", NULL};
static const char *const ticket_states[] = {"other", "open", "acknowledged", "resolved", NULL};
static const char *const link_states[] = {"unknown", "up", "degraded", "down", NULL};

static void
add_ticket(netsnmp_pdu *pdu, const struct trap_env *env, json_t *j, const char *event)
{
	json_t *t = json_object_get(j, "ticket"), *l = json_object_get(j, "link");

	add_str(pdu, env, O_SITE, jstr(j, "site"), 255);
	add_int(pdu, env, O_EVENT_TYPE, word_value(event, events, 2));
	add_time(pdu, env, jstr(j, "time"));
	add_str(pdu, env, O_TICKET_REF, jstr(t, "ref"), 32);
	add_str(pdu, env, O_TICKET_KIND, jstr(t, "kind"), 32);
	add_int(pdu, env, O_TICKET_SEVERITY, word_value(jstr(t, "severity"), severities, 1));
	add_int(pdu, env, O_TICKET_STATE, word_value(jstr(t, "state"), ticket_states, 1));
	add_str(pdu, env, O_LINK_NAME, jstr(l, "name"), 64);
	add_str(pdu, env, O_LINK_PROVIDER, jstr(l, "provider"), 255);
	add_str(pdu, env, O_LINK_CIRCUIT, jstr(l, "circuit"), 255);
	add_str(pdu, env, O_MESSAGE, jstr(t, "title"), 255);
	add_evidence(pdu, env, json_object_get(j, "metrics"));
	add_str(pdu, env, O_DEVICE_NAME, jstr(json_object_get(j, "device"), "name"), 64);
	add_str(pdu, env, O_TICKET_BLAME, jstr(t, "blame"), 16);
	add_metrics(pdu, env, json_object_get(j, "metrics"));
}

static void
add_link_state(netsnmp_pdu *pdu, const struct trap_env *env, json_t *j)
{
	json_t *l = json_object_get(j, "link");
	const char *msg = jstr(json_object_get(j, "ticket"), "title");

	add_str(pdu, env, O_SITE, jstr(j, "site"), 255);
	add_time(pdu, env, jstr(j, "time"));
	add_str(pdu, env, O_LINK_NAME, jstr(l, "name"), 64);
	add_str(pdu, env, O_LINK_PROVIDER, jstr(l, "provider"), 255);
	add_str(pdu, env, O_LINK_CIRCUIT, jstr(l, "circuit"), 255);
	add_int(pdu, env, O_LINK_STATE, word_value(jstr(l, "state"), link_states, 1));
	add_str(pdu, env, O_MESSAGE, msg ? msg : jstr(j, "text"), 255);
}

static void
add_heartbeat(netsnmp_pdu *pdu, const struct trap_env *env, json_t *j)
{
	json_t *hb = json_object_get(j, "heartbeat");

	add_str(pdu, env, O_SITE, jstr(j, "site"), 255);
	add_time(pdu, env, jstr(j, "time"));
	add_unsigned(pdu, env, O_HB_INTERVAL, ASN_GAUGE,
	             json_number_value(json_object_get(hb, "interval_s")));
	add_unsigned(pdu, env, O_OUTBOX_DEPTH, ASN_GAUGE,
	             json_number_value(json_object_get(hb, "outbox")));
	add_unsigned(pdu, env, O_OUTBOX_DROPPED, ASN_COUNTER,
	             json_number_value(json_object_get(hb, "dropped")));
}

static u_long
uptime_ticks(const struct trap_env *env)
{
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return now > env->started_ms ? (u_long)((now - env->started_ms) / 10) : 0;
}

/* Header of the PDU: v2 sysUpTime.0 and snmpTrapOID.0, or v1 fields. */
static void
add_header(netsnmp_pdu *pdu, const struct trap_env *env, int command, const oid *trap,
           size_t traplen, bool cold)
{
	u_long up = uptime_ticks(env);

	if (command == SNMP_MSG_TRAP) {
		pdu->enterprise = snmp_duplicate_objid(env->root, env->rootlen);
		pdu->enterprise_length = env->rootlen;
		pdu->trap_type = cold ? SNMP_TRAP_COLDSTART : SNMP_TRAP_ENTERPRISESPECIFIC;
		pdu->specific_type = cold ? 0 : (long)trap[traplen - 1];
		pdu->time = up;
		return;
	}
	snmp_pdu_add_variable(pdu, sysuptime_oid, OID_LENGTH(sysuptime_oid), ASN_TIMETICKS, &up,
	                      sizeof(up));
	snmp_pdu_add_variable(pdu, trapoid_oid, OID_LENGTH(trapoid_oid), ASN_OBJECT_ID, trap,
	                      traplen * sizeof(oid));
}

netsnmp_pdu *
trap_build_pdu(const struct trap_env *env, int command, const char *payload, char *why,
               size_t whylen)
{
	json_t *j = json_loads(payload, 0, NULL);
	const char *event = j ? jstr(j, "event") : NULL;
	oid trap[MAX_OID_LEN];
	size_t traplen = env->rootlen + 2;
	netsnmp_pdu *pdu;
	bool cold = false;
	int n = 0;

	if (event == NULL) {
		snprintf(why, whylen, "the notification is not a JSON object with an event");
		json_decref(j);
		return NULL;
	}
	if (strcmp(event, "cold-start") == 0)
		cold = true;
	else if (strcmp(event, "link-state") == 0)
		n = N_LINK_STATE_CHANGED;
	else if (strcmp(event, "heartbeat") == 0)
		n = N_HEARTBEAT;
	else
		n = ticket_notification(event);
	if (!cold && n == 0) {
		snprintf(why, whylen, "event \"%.32s\" has no SNMP notification", event);
		json_decref(j);
		return NULL;
	}
	if (cold) {
		memcpy(trap, coldstart_oid, sizeof(coldstart_oid));
		traplen = OID_LENGTH(coldstart_oid);
	} else {
		memcpy(trap, env->root, env->rootlen * sizeof(oid));
		trap[env->rootlen] = 0;
		trap[env->rootlen + 1] = (oid)n;
	}
	if ((pdu = snmp_pdu_create(command)) == NULL) {
		snprintf(why, whylen, "out of memory");
		json_decref(j);
		return NULL;
	}
	add_header(pdu, env, command, trap, traplen, cold);
	if (cold)
		add_str(pdu, env, O_SITE, jstr(j, "site"), 255);
	else if (n == N_LINK_STATE_CHANGED)
		add_link_state(pdu, env, j);
	else if (n == N_HEARTBEAT)
		add_heartbeat(pdu, env, j);
	else
		add_ticket(pdu, env, j, event);
	json_decref(j);
	return pdu;
}

/* --- session ------------------------------------------------------------ */

static int
auth_oid(const char *name, const oid **o, size_t *len)
{
	if (name == NULL)
		return 0;
	if (strcasecmp(name, "MD5") == 0) {
		*o = usmHMACMD5AuthProtocol;
		*len = OID_LENGTH(usmHMACMD5AuthProtocol);
	} else if (strcasecmp(name, "SHA") == 0 || strcasecmp(name, "SHA-1") == 0) {
		*o = usmHMACSHA1AuthProtocol;
		*len = OID_LENGTH(usmHMACSHA1AuthProtocol);
	} else if (strcasecmp(name, "SHA-224") == 0) {
		*o = usmHMAC128SHA224AuthProtocol;
		*len = OID_LENGTH(usmHMAC128SHA224AuthProtocol);
	} else if (strcasecmp(name, "SHA-256") == 0) {
		*o = usmHMAC192SHA256AuthProtocol;
		*len = OID_LENGTH(usmHMAC192SHA256AuthProtocol);
	} else if (strcasecmp(name, "SHA-384") == 0) {
		*o = usmHMAC256SHA384AuthProtocol;
		*len = OID_LENGTH(usmHMAC256SHA384AuthProtocol);
	} else if (strcasecmp(name, "SHA-512") == 0) {
		*o = usmHMAC384SHA512AuthProtocol;
		*len = OID_LENGTH(usmHMAC384SHA512AuthProtocol);
	} else {
		return -1;
	}
	return 1;
}

static int
priv_oid(const char *name, const oid **o, size_t *len)
{
	if (name == NULL)
		return 0;
	if (strcasecmp(name, "DES") == 0) {
		*o = usmDESPrivProtocol;
		*len = OID_LENGTH(usmDESPrivProtocol);
	} else if (strcasecmp(name, "AES") == 0 || strcasecmp(name, "AES-128") == 0) {
		*o = usmAESPrivProtocol;
		*len = OID_LENGTH(usmAESPrivProtocol);
	} else if (strcasecmp(name, "AES-192") == 0) {
		*o = usmAES192PrivProtocol;
		*len = OID_LENGTH(usmAES192PrivProtocol);
	} else if (strcasecmp(name, "AES-256") == 0) {
		*o = usmAES256PrivProtocol;
		*len = OID_LENGTH(usmAES256PrivProtocol);
	} else {
		return -1;
	}
	return 1;
}

static int
session_v3(struct trap_sender *t, netsnmp_session *s, char *err, size_t errlen)
{
	const struct lw_snmp_auth *a = &t->auth;
	const oid *ao = NULL, *po = NULL;
	size_t al = 0, pl = 0;
	int ha, hp;

	s->version = SNMP_VERSION_3;
	s->securityModel = SNMP_SEC_MODEL_USM;
	if (a->username == NULL || *a->username == '\0') {
		snprintf(err, errlen, "SNMP v3 needs a username");
		return -1;
	}
	s->securityName = strdup(a->username);
	s->securityNameLen = strlen(a->username);
	if (a->context) {
		s->contextName = strdup(a->context);
		s->contextNameLen = strlen(a->context);
	}
	ha = auth_oid(a->auth_protocol, &ao, &al);
	hp = priv_oid(a->priv_protocol, &po, &pl);
	if (ha < 0 || hp < 0 || (hp > 0 && ha == 0)) {
		snprintf(err, errlen, "unsupported SNMP v3 auth/priv protocol combination");
		return -1;
	}
	s->securityLevel = ha == 0
	                       ? SNMP_SEC_LEVEL_NOAUTH
	                       : (hp == 0 ? SNMP_SEC_LEVEL_AUTHNOPRIV : SNMP_SEC_LEVEL_AUTHPRIV);
	if (ha > 0) {
		s->securityAuthProto = snmp_duplicate_objid(ao, al);
		s->securityAuthProtoLen = al;
		s->securityAuthKeyLen = USM_AUTH_KU_LEN;
		if (a->auth_key == NULL ||
		    generate_Ku(ao, (u_int)al, (const u_char *)a->auth_key, strlen(a->auth_key),
		                s->securityAuthKey, &s->securityAuthKeyLen) != SNMPERR_SUCCESS) {
			snprintf(err, errlen, "cannot derive the SNMP v3 auth key");
			return -1;
		}
	}
	if (hp > 0) {
		s->securityPrivProto = snmp_duplicate_objid(po, pl);
		s->securityPrivProtoLen = pl;
		s->securityPrivKeyLen = USM_PRIV_KU_LEN;
		if (a->priv_key == NULL ||
		    generate_Ku(ao, (u_int)al, (const u_char *)a->priv_key, strlen(a->priv_key),
		                s->securityPrivKey, &s->securityPrivKeyLen) != SNMPERR_SUCCESS) {
			snprintf(err, errlen, "cannot derive the SNMP v3 priv key");
			return -1;
		}
	}
	if (t->inform) {
		/* the manager is authoritative: discovered asynchronously */
		s->flags |= SNMP_FLAGS_DONT_PROBE;
	} else {
		/* we are authoritative for traps: our engine ID, boots, time */
		s->securityEngineID = netsnmp_memdup(t->env->engine_id, t->env->engine_id_len);
		s->securityEngineIDLen = t->env->engine_id_len;
		s->contextEngineID = netsnmp_memdup(t->env->engine_id, t->env->engine_id_len);
		s->contextEngineIDLen = t->env->engine_id_len;
		s->engineBoots = t->env->engine_boots ? t->env->engine_boots : 1;
		s->engineTime = (u_int)(uptime_ticks(t->env) / 100) + 1;
	}
	return 0;
}

static void
session_clear(netsnmp_session *s)
{
	free(s->peername);
	free(s->community);
	free(s->securityName);
	free(s->contextName);
	free(s->securityAuthProto);
	free(s->securityPrivProto);
	free(s->securityEngineID);
	free(s->contextEngineID);
	explicit_bzero(s->securityAuthKey, sizeof(s->securityAuthKey));
	explicit_bzero(s->securityPrivKey, sizeof(s->securityPrivKey));
}

static void
rearm(struct trap_sender *t)
{
	if (t->sess == NULL || t->closing)
		return;
	snmp_ev_rearm(&t->ev);
}

static void
session_close(struct trap_sender *t)
{
	t->closing = true;
	snmp_ev_close(&t->ev);
	if (t->sess) {
		snmp_sess_close(t->sess);
		t->sess = NULL;
	}
	t->engine_known = false;
	t->closing = false;
}

/* Only UDP: net-snmp connects stream transports synchronously, which the
 * event loop cannot afford. */
static bool
stream_domain(const char *target)
{
	static const char *const refused[] = {
	    "tcp",     "tcp6", "tcpv6", "tcpipv6",  "unix", "tls",     "tlstcp", "dtls",
	    "dtlsudp", "ssh",  "alias", "callback", "ipx",  "aal5pvc", "pvc",    NULL};
	const char *colon = strchr(target, ':');

	for (size_t i = 0; colon && refused[i]; i++)
		if ((size_t)(colon - target) == strlen(refused[i]) &&
		    strncasecmp(target, refused[i], strlen(refused[i])) == 0)
			return true;
	return false;
}

/* The client transport for a target; the port defaults to 162. */
static netsnmp_transport *
open_target(const char *target, char *err, size_t errlen)
{
	netsnmp_transport *tr;

	if (stream_domain(target)) {
		snprintf(
		    err, errlen,
		    "target \"%s\": only UDP is supported (udp:HOST:PORT, udp6:[ADDRESS]:PORT)",
		    target);
		return NULL;
	}
	if ((tr = netsnmp_transport_open_client("snmptrap", target)) == NULL)
		snprintf(err, errlen,
		         "target \"%s\" is not an SNMP address (udp:192.0.2.10:162, "
		         "udp6:[2001:db8::1]:162)",
		         target);
	return tr;
}

int
trap_check_target(const char *target, char *err, size_t errlen)
{
	netsnmp_transport *tr;

	trap_lib_init();
	if ((tr = open_target(target, err, errlen)) == NULL)
		return -1;
	netsnmp_transport_free(tr);
	return 0;
}

static int
session_open(struct trap_sender *t, char *err, size_t errlen)
{
	netsnmp_session s;
	netsnmp_transport *tr;
	int rc = -1;

	snmp_sess_init(&s);
	s.timeout = t->timeout_us;
	s.retries = t->retries;
	switch (t->auth.version) {
	case LW_SNMP_V1:
	case LW_SNMP_V2C:
		s.version = t->auth.version == LW_SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
		if (t->auth.community == NULL) {
			snprintf(err, errlen, "no community");
			goto out;
		}
		s.community = (u_char *)strdup(t->auth.community);
		s.community_len = strlen(t->auth.community);
		break;
	case LW_SNMP_V3:
		if (session_v3(t, &s, err, errlen) != 0)
			goto out;
		break;
	default:
		snprintf(err, errlen, "unknown SNMP version");
		goto out;
	}
	if ((tr = open_target(t->target, err, errlen)) == NULL)
		goto out;
	/* on failure snmp_sess_add closes the transport itself */
	if ((t->sess = snmp_sess_add(&s, tr, NULL, NULL)) == NULL) {
		int liberr = 0, syserr = 0;
		char *msg = NULL;
		snmp_error(&s, &liberr, &syserr, &msg);
		snprintf(err, errlen, "cannot open an SNMP session to %s: %s", t->target,
		         msg ? msg : "unknown error");
		free(msg);
		goto out;
	}
	/* net-snmp clears the flag once the session is open, and would then
	 * probe synchronously inside the first send: keep it */
	if (t->auth.version == LW_SNMP_V3 && t->inform)
		snmp_sess_session(t->sess)->flags |= SNMP_FLAGS_DONT_PROBE;
	if (snmp_ev_open(&t->ev, t->base, t->sess) != 0) {
		snprintf(err, errlen, "cannot watch the socket of the SNMP session to %s",
		         t->target);
		goto out;
	}
	t->engine_known = t->auth.version != LW_SNMP_V3 || !t->inform;
	rc = 0;
out:
	session_clear(&s);
	if (rc != 0)
		session_close(t);
	return rc;
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct trap_sender *
trap_new(struct event_base *base, const struct lw_upstream *u, const struct trap_env *env,
         char *err, size_t errlen)
{
	struct trap_sender *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	trap_lib_init();
	t->base = base;
	t->env = env;
	t->name = dup_or_null(u->name);
	t->target = dup_or_null(u->target);
	t->auth.version = u->auth.version;
	t->auth.community = dup_or_null(u->auth.community);
	t->auth.username = dup_or_null(u->auth.username);
	t->auth.auth_protocol = dup_or_null(u->auth.auth_protocol);
	t->auth.auth_key = dup_or_null(u->auth.auth_key);
	t->auth.priv_protocol = dup_or_null(u->auth.priv_protocol);
	t->auth.priv_key = dup_or_null(u->auth.priv_key);
	t->auth.context = dup_or_null(u->auth.context);
	t->inform = u->inform && u->auth.version != LW_SNMP_V1;
	t->timeout_us = (long)(u->timeout_ms > 0 ? u->timeout_ms : 5000) * 1000L;
	t->retries = u->retries >= 0 ? u->retries : 3;
	if (t->name == NULL || t->target == NULL) {
		snprintf(err, errlen, "out of memory");
		trap_free(t);
		return NULL;
	}
	if (session_open(t, err, errlen) != 0) {
		trap_free(t);
		return NULL;
	}
	return t;
}

static void
wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void
trap_free(struct trap_sender *t)
{
	if (t == NULL)
		return;
	session_close(t);
	if (t->pending)
		snmp_free_pdu(t->pending);
	free(t->name);
	free(t->target);
	wipe_free(t->auth.community);
	free(t->auth.username);
	free(t->auth.auth_protocol);
	wipe_free(t->auth.auth_key);
	free(t->auth.priv_protocol);
	wipe_free(t->auth.priv_key);
	free(t->auth.context);
	free(t);
}

/* --- sending ------------------------------------------------------------ */

static const char *
report_reason(const netsnmp_pdu *pdu)
{
	static const oid usmstats[] = {1, 3, 6, 1, 6, 3, 15, 1, 1};
	const netsnmp_variable_list *vb = pdu->variables;

	if (vb && vb->name_length > 9 &&
	    snmp_oid_ncompare(vb->name, vb->name_length, usmstats, 9, 9) == 0) {
		switch (vb->name[9]) {
		case 1:
			return "SNMPv3: security level not supported by the manager";
		case 2:
			return "SNMPv3: not in time window";
		case 3:
			return "SNMPv3: unknown user name at the manager";
		case 4:
			return "SNMPv3: unknown engine ID";
		case 5:
			return "SNMPv3: wrong auth key or protocol";
		case 6:
			return "SNMPv3: wrong priv key or protocol";
		}
	}
	return "SNMPv3: the manager sent a report";
}

/* The attempt is over: tell the owner.  v3 starts over with discovery
 * next time, in case the manager's engine changed. */
static void
finish(struct trap_sender *t, enum deliver_result r, const char *why)
{
	deliver_cb cb = t->cb;
	void *arg = t->arg;

	t->busy = false;
	if (t->pending) {
		snmp_free_pdu(t->pending);
		t->pending = NULL;
	}
	if (r != DELIVER_OK && t->auth.version == LW_SNMP_V3 && t->inform)
		t->engine_known = false;
	if (cb)
		cb(arg, r, why);
}

static int
on_inform(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct trap_sender *t = magic;
	char why[160];

	if (t->closing || !t->busy)
		return 1;
	switch (op) {
	case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE:
		if (pdu->command == SNMP_MSG_REPORT)
			finish(t, DELIVER_RETRY, report_reason(pdu));
		else if (pdu->errstat != SNMP_ERR_NOERROR) {
			snprintf(why, sizeof(why), "the manager answered %s",
			         snmp_errstring((int)pdu->errstat));
			finish(t, DELIVER_RETRY, why);
		} else
			finish(t, DELIVER_OK, "acknowledged");
		break;
	case NETSNMP_CALLBACK_OP_TIMED_OUT:
		snprintf(why, sizeof(why), "no acknowledgement after %d %s of %.1fs",
		         t->retries + 1, t->retries ? "tries" : "try", (double)t->timeout_us / 1e6);
		finish(t, DELIVER_RETRY, why);
		break;
	case NETSNMP_CALLBACK_OP_SEND_FAILED:
		finish(t, DELIVER_RETRY, "cannot send the inform");
		break;
	case NETSNMP_CALLBACK_OP_SEC_ERROR:
		finish(t, DELIVER_RETRY, "SNMPv3 security error (check user, keys and protocols)");
		break;
	default:
		break;
	}
	return 1;
}

static int
send_inform(struct trap_sender *t, netsnmp_pdu *pdu, char *why, size_t whylen)
{
	if (snmp_sess_async_send(t->sess, pdu, on_inform, t) == 0) {
		snprintf(why, whylen, "cannot send the inform: %s",
		         snmp_api_errstring(snmp_sess_session(t->sess)->s_snmp_errno));
		snmp_free_pdu(pdu);
		return -1;
	}
	rearm(t);
	return 0;
}

static int
on_probe(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct trap_sender *t = magic;
	netsnmp_session *ss;
	netsnmp_pdu *p;
	char why[160];

	if (t->closing || !t->busy)
		return 1;
	if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
		finish(t, DELIVER_RETRY, "no answer to SNMPv3 engine ID discovery");
		return 1;
	}
	if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE)
		return 1;
	ss = snmp_sess_session(t->sess);
	if (ss == NULL || ss->securityEngineIDLen == 0) {
		finish(t, DELIVER_RETRY, "the manager did not reveal its SNMPv3 engine ID");
		return 1;
	}
	if (create_user_from_session(ss) != SNMPERR_SUCCESS) {
		finish(t, DELIVER_RETRY, "cannot set up the SNMPv3 user for this manager");
		return 1;
	}
	t->engine_known = true;
	p = t->pending;
	t->pending = NULL;
	if (send_inform(t, p, why, sizeof(why)) != 0)
		finish(t, DELIVER_RETRY, why);
	return 1;
}

/* RFC 3414 discovery: an unauthenticated request with an empty user draws
 * a Report carrying the manager's engine ID. */
static int
send_probe(struct trap_sender *t, char *why, size_t whylen)
{
	netsnmp_session *ss = snmp_sess_session(t->sess);
	netsnmp_pdu *pdu;

	/* forget the old engine: the probe must go out without one */
	if (ss != NULL && ss->securityEngineIDLen > 0) {
		SNMP_FREE(ss->securityEngineID);
		ss->securityEngineIDLen = 0;
		SNMP_FREE(ss->contextEngineID);
		ss->contextEngineIDLen = 0;
		/* or the user of the old engine is kept: "unknown security name" */
		ss->flags &= ~SNMP_FLAGS_USER_CREATED;
	}
	if ((pdu = snmp_pdu_create(SNMP_MSG_GET)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	pdu->version = SNMP_VERSION_3;
	pdu->securityModel = SNMP_SEC_MODEL_USM;
	pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
	pdu->securityName = strdup("");
	pdu->securityNameLen = 0;
	if (snmp_sess_async_send(t->sess, pdu, on_probe, t) == 0) {
		snprintf(why, whylen, "cannot send the SNMPv3 discovery probe");
		snmp_free_pdu(pdu);
		return -1;
	}
	rearm(t);
	return 0;
}

enum deliver_result
trap_send(struct trap_sender *t, const char *payload, deliver_cb cb, void *arg, char *why,
          size_t whylen)
{
	int command = t->inform ? SNMP_MSG_INFORM
	                        : (t->auth.version == LW_SNMP_V1 ? SNMP_MSG_TRAP : SNMP_MSG_TRAP2);
	netsnmp_pdu *pdu;

	if (t->busy) {
		snprintf(why, whylen, "an inform is already under way");
		return DELIVER_RETRY;
	}
	if (t->sess == NULL && session_open(t, why, whylen) != 0)
		return DELIVER_RETRY;
	if ((pdu = trap_build_pdu(t->env, command, payload, why, whylen)) == NULL)
		return DELIVER_REJECT;
	if (!t->inform) {
		if (snmp_sess_send(t->sess, pdu) == 0) {
			snprintf(why, whylen, "cannot send the trap: %s",
			         snmp_api_errstring(snmp_sess_session(t->sess)->s_snmp_errno));
			snmp_free_pdu(pdu);
			return DELIVER_RETRY;
		}
		snprintf(why, whylen, "sent");
		return DELIVER_OK;
	}
	t->cb = cb;
	t->arg = arg;
	t->busy = true;
	if (!t->engine_known) {
		t->pending = pdu;
		if (send_probe(t, why, whylen) != 0) {
			t->busy = false;
			snmp_free_pdu(t->pending);
			t->pending = NULL;
			return DELIVER_RETRY;
		}
		return DELIVER_PENDING;
	}
	if (send_inform(t, pdu, why, whylen) != 0) {
		t->busy = false;
		return DELIVER_RETRY;
	}
	return DELIVER_PENDING;
}
