/* fuzz_notify.c - libFuzzer harness for what notifications are made of:
 * ticket evidence (metrics JSON from the incident engine, carrying probe
 * messages and device strings) and outbox rows read back from the database,
 * through the payload, the SNMP PDU, the webhook body and the e-mail.
 *
 * Input: the first byte picks how the rest is used. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mail.h"
#include "notify.h"
#include "trap.h"
#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct trap_env env;

static void
render(const char *payload)
{
	static const int commands[] = {SNMP_MSG_TRAP2, SNMP_MSG_INFORM, SNMP_MSG_TRAP};
	char *to[] = {"noc@example.org", "Ops <ops@example.org>"};
	char why[256], *s;

	for (size_t i = 0; i < 3; i++) {
		netsnmp_pdu *pdu = trap_build_pdu(&env, commands[i], payload, why, sizeof(why));
		if (pdu)
			snmp_free_pdu(pdu);
	}
	free(webhook_body(payload, 42));
	s = mail_render(payload, 42, "lw@example.org", to, 2);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char *text;

	if (!ready) {
		log_init(1, LOG_LVL_ERROR);
		trap_lib_init();
		trap_parse_oid(TRAP_DEFAULT_ENTERPRISE, env.root, &env.rootlen);
		ready = 1;
	}
	if (size < 1)
		return 0;
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] & 1) {
		/* a row of the outbox, as read back from disk */
		render(text);
	} else {
		/* a ticket event: the evidence and every string from outside */
		struct notify_event ev = {
		    .type = (enum notify_type)(1 + (data[0] >> 1) % NOTIFY_LINK_STATE),
		    .time_ms = (int64_t)data[0] * 1000003,
		    .ref = "LW-000001",
		    .kind = text,
		    .severity = text,
		    .state = "open",
		    .title = text,
		    .link = text,
		    .provider = text,
		    .circuit = text,
		    .link_state = text,
		    .metrics_json = text,
		    .device = text,
		    .blame = text,
		    .text = text,
		    .by = text,
		};
		char *p = notify_payload(&ev, text);
		if (p)
			render(p);
		free(p);
	}
	free(text);
	return 0;
}
