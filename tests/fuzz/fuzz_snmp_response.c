/* fuzz_snmp_response.c - arbitrary agent answers into the SNMP poller.
 *
 * An offline poller (no sockets) polls one device with every shipped
 * profile and a custom OID; each request it makes is answered from the
 * fuzz input: error statuses, reports, timeouts and varbind lists whose
 * OIDs are near the requested ones (so walks really advance, loop and
 * misbehave) with any value type.  Two polls run, so rates, wraps and
 * restarts are exercised too.  Every published string is read back.
 */
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#undef max_repetitions
#undef non_repeaters

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sample.h"
#include "snmp_poll.h"

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t
take(struct input *in)
{
	uint8_t b;

	if (in->n == 0)
		return 0;
	b = *in->p++;
	in->n--;
	return b;
}

static uint32_t
take32(struct input *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = (v << 8) | take(in);
	return v;
}

static size_t published;

static void
on_sample(const struct lw_sample *s, void *arg)
{
	size_t sum = 0;

	for (size_t i = 0; i < s->nattrs; i++)
		sum += strlen(s->attrs[i].name) + strlen(s->attrs[i].value);
	for (size_t i = 0; i < s->nmetrics; i++)
		sum += strlen(s->metrics[i].name) + (s->metrics[i].valid ? 1 : 0);
	if (s->name)
		sum += strlen(s->name);
	published += sum;
}

static const u_char types[] = {
    ASN_INTEGER,         ASN_OCTET_STR,     ASN_OBJECT_ID, ASN_COUNTER,  ASN_GAUGE,
    ASN_TIMETICKS,       ASN_COUNTER64,     ASN_IPADDRESS, ASN_NULL,     SNMP_NOSUCHOBJECT,
    SNMP_NOSUCHINSTANCE, SNMP_ENDOFMIBVIEW, ASN_OPAQUE,    ASN_UINTEGER,
};

static void
add_varbind(netsnmp_pdu *resp, const netsnmp_variable_list *req, struct input *in)
{
	oid name[MAX_OID_LEN];
	size_t len = 0;
	uint8_t how = take(in);
	u_char type = types[take(in) % sizeof(types)];
	u_char buf[300];
	size_t vlen = 0;

	if (req && (how & 3) != 3) {
		len = req->name_length < MAX_OID_LEN - 8 ? req->name_length : MAX_OID_LEN - 8;
		memcpy(name, req->name, len * sizeof(oid));
		if ((how & 3) == 1 && len > 0)
			len--; /* step back: a non-increasing OID */
		for (int k = 0; k < ((how >> 2) & 3); k++)
			name[len++] = take(in) % 8;
	} else {
		size_t n = 2 + take(in) % 12;
		for (size_t k = 0; k < n; k++)
			name[len++] = take(in);
	}
	switch (type) {
	case ASN_INTEGER:
	case ASN_COUNTER:
	case ASN_GAUGE:
	case ASN_TIMETICKS:
	case ASN_UINTEGER: {
		long v = (long)(int32_t)take32(in);
		memcpy(buf, &v, sizeof(v));
		vlen = sizeof(v);
		break;
	}
	case ASN_COUNTER64: {
		struct counter64 c;
		c.high = take32(in);
		c.low = take32(in);
		memcpy(buf, &c, sizeof(c));
		vlen = sizeof(c);
		break;
	}
	case ASN_OBJECT_ID: {
		size_t n = 1 + take(in) % 20;
		oid o[20];
		for (size_t k = 0; k < n; k++)
			o[k] = take(in);
		memcpy(buf, o, n * sizeof(oid));
		vlen = n * sizeof(oid);
		break;
	}
	case ASN_IPADDRESS:
		for (int k = 0; k < 4; k++)
			buf[k] = take(in);
		vlen = 4;
		break;
	default:
		vlen = take(in) % 64;
		for (size_t k = 0; k < vlen; k++)
			buf[k] = take(in);
		break;
	}
	snmp_pdu_add_variable(resp, name, len, type, vlen ? buf : NULL, vlen);
}

static netsnmp_pdu *
make_response(netsnmp_pdu *req, struct input *in)
{
	netsnmp_pdu *resp;
	uint8_t kind = take(in);
	size_t n;
	const netsnmp_variable_list *rv = req->variables;
	size_t nreq = 0;

	if (kind % 16 == 0)
		return NULL; /* timeout */
	resp = snmp_pdu_create(kind % 16 == 1 ? SNMP_MSG_REPORT : SNMP_MSG_RESPONSE);
	if (resp == NULL)
		return NULL;
	resp->errstat = 0;
	resp->errindex = 0;
	if (kind % 16 == 2) {
		resp->errstat = take(in) % 20;
		resp->errindex = take(in) % 8;
	}
	for (const netsnmp_variable_list *v = rv; v; v = v->next_variable)
		nreq++;
	n = take(in) % 64;
	for (size_t i = 0; i < n && in->n > 0; i++) {
		/* mostly follow the request's columns in order, as agents do */
		const netsnmp_variable_list *v = rv;
		for (size_t k = 0; nreq && k < i % nreq && v; k++)
			v = v->next_variable;
		add_varbind(resp, v, in);
	}
	return resp;
}

static char profdir[4096];

static const char *
find_profiles(void)
{
	const char *env = getenv("LW_SRCDIR");
	char exe[2048];
	ssize_t n;

	if (env) {
		snprintf(profdir, sizeof(profdir), "%s/etc/profiles", env);
		return profdir;
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
			return profdir;
	}
	return "etc/profiles";
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(1, LOG_LVL_ERROR);
	find_profiles();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *profiles[] = {"system", "if", "ups", "host"};
	static char *ifs[] = {"Gi1/0/1", "eth0"};
	static struct lw_custom_oid oids[] = {
	    {"temp", "1.3.6.1.4.1.9.9.13.1.3.1.3.1", false, "C"},
	    {"drops", "1.3.6.1.4.1.9.9.13.1.3.1.4.1", true, "pps"},
	};
	struct lw_device dev = {0};
	struct lw_config cfg = {0};
	struct input in = {data, size};
	struct lw_bus *bus;
	struct snmp_poller *p;
	uint8_t flags = take(&in);

	dev.name = "fuzz";
	dev.address = "127.0.0.1";
	dev.port = 161;
	dev.auth.version = (flags & 1) ? LW_SNMP_V1 : LW_SNMP_V2C;
	dev.auth.community = "public";
	dev.interval_ms = 30000;
	dev.timeout_ms = 1000;
	dev.retries = 1;
	dev.max_repetitions = 1 + (flags >> 1) % 30;
	dev.max_inflight = 1;
	dev.interfaces = ifs;
	dev.ninterfaces = (flags & 0x80) ? 2 : 0;
	dev.profiles = profiles;
	dev.nprofiles = 4;
	dev.oids = oids;
	dev.noids = 2;
	cfg.profile_dir = profdir;
	cfg.devices = &dev;
	cfg.ndevices = 1;

	bus = sample_bus_new();
	sample_subscribe(bus, on_sample, NULL);
	p = snmp_poller_new_offline(bus, &cfg);
	if (p == NULL)
		abort(); /* the shipped profiles must load */
	for (int poll = 0; poll < 3; poll++) {
		int answers = 0;
		snmp_poller_set_clock(p, 1000000 + poll * 30000 + (take(&in) % 8) * 1000);
		if (snmp_poller_poll_now(p, "fuzz") != 0)
			break;
		for (netsnmp_pdu *req; (req = snmp_poller_pending(p, "fuzz")) != NULL;) {
			netsnmp_pdu *resp =
			    in.n > 0 && answers < 4000 ? make_response(req, &in) : NULL;
			snmp_poller_answer(p, "fuzz", resp);
			if (resp)
				snmp_free_pdu(resp);
			answers++;
		}
	}
	snmp_poller_free(p);
	sample_bus_free(bus);
	return 0;
}
