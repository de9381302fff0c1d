/* dns.c - ask one named DNS server one question: answer time, rcode, answer.
 *
 * probe "dns" { type = "dns"  target = "198.18.2.2"  query = "example.lab"
 *               record = "A"  expect = "198.18.2.2" }
 *
 * target is the server, "ADDRESS" or "ADDRESS:PORT" ("[V6]:PORT").  Options:
 *   query     the name to look up (an address for record = "PTR")
 *   record    A (default), AAAA or PTR (what libevent's evdns can ask)
 *   expect    an address (A, AAAA) or name (PTR) that must be in the answer
 *   warning, critical   answer time thresholds ("100ms")
 * Metrics: answer_time (ms), answers (count).
 * The probe has its own evdns base with only this server: /etc/resolv.conf
 * is never read, nothing is forwarded, no search domains are applied.
 * NXDOMAIN, SERVFAIL, REFUSED, no answer, a missing expected answer:
 * critical.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "linewatch_plugin.h"
#include "plugin_util.h"

static const char *const dns_keys[] = {"query", "record", "expect", "warning", "critical", NULL};

enum dns_record { REC_A, REC_AAAA, REC_PTR };

struct dns_run;

/* The evdns callback argument: outlives a cancelled run (run = NULL), see
 * resolve.h for why evdns requests are never cancelled. */
struct dns_query {
	struct dns_run *run;
	struct dns_query *next;
};

struct dns_inst {
	struct event_base *base;
	struct evdns_base *dns;
	char *server;
	char *query;
	enum dns_record record;
	char *expect;
	int64_t warning_ms;
	int64_t critical_ms;
	int64_t deadline_ms;
	struct dns_run *run;
};

struct dns_run {
	struct dns_inst *di;
	lw_probe_done_cb done;
	void *arg;
	struct dns_query *q;
	struct event *deadline;
	struct event *later;
	struct timespec start;
	enum lw_probe_status status;
	char msg[512];
	double answer_ms;
	int answers;
	bool answered;
};

static struct dns_query *queries; /* not answered yet */
static struct event_base *dns_event_base;

static int
dns_parse(const struct lw_probe_spec *spec, struct dns_inst *di, char *err, size_t errlen)
{
	const char *rec = lw_probe_opt(spec, "record"), *q = lw_probe_opt(spec, "query");
	const char *expect = lw_probe_opt(spec, "expect");
	unsigned char buf[sizeof(struct in6_addr)];

	if (pu_check_keys(spec, "dns", dns_keys, err, errlen) != 0)
		return -1;
	if (spec->target == NULL || spec->target[0] == '\0') {
		snprintf(err, errlen, "target (the DNS server's address) is missing");
		return -1;
	}
	if (q == NULL || q[0] == '\0') {
		snprintf(err, errlen, "query (the name to look up) is missing");
		return -1;
	}
	if (rec == NULL || strcasecmp(rec, "A") == 0)
		di->record = REC_A;
	else if (strcasecmp(rec, "AAAA") == 0)
		di->record = REC_AAAA;
	else if (strcasecmp(rec, "PTR") == 0)
		di->record = REC_PTR;
	else {
		snprintf(err, errlen, "record \"%s\" is not supported: use A, AAAA or PTR", rec);
		return -1;
	}
	if (di->record == REC_PTR && !pu_numeric_host(q)) {
		snprintf(err, errlen, "record PTR needs an address as query, not \"%s\"", q);
		return -1;
	}
	if (expect != NULL && di->record != REC_PTR &&
	    inet_pton(di->record == REC_A ? AF_INET : AF_INET6, expect, buf) != 1) {
		snprintf(err, errlen, "expect \"%s\" is not an %s address", expect,
		         di->record == REC_A ? "IPv4" : "IPv6");
		return -1;
	}
	if (pu_opt_duration(spec, "warning", 0, &di->warning_ms, err, errlen) != 0 ||
	    pu_opt_duration(spec, "critical", 0, &di->critical_ms, err, errlen) != 0)
		return -1;
	/* the server must parse as evdns will take it */
	{
		struct sockaddr_storage ss;
		int len = sizeof(ss);
		char hp[300];

		snprintf(hp, sizeof(hp), "%s", spec->target);
		if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &len) != 0) {
			snprintf(err, errlen,
			         "target \"%s\" is not a server address (like 198.18.2.2, "
			         "127.0.0.1:5353 or [::1]:53)",
			         spec->target);
			return -1;
		}
	}
	return 0;
}

static int
dns_check(const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct dns_inst di;

	memset(&di, 0, sizeof(di));
	return dns_parse(spec, &di, err, errlen);
}

static int
dns_init(struct event_base *base, char *err, size_t errlen)
{
	dns_event_base = base;
	return 0;
}

static void
dns_fini(void)
{
	/* see pu_lookups_shutdown() in resolve.h */
	if (queries != NULL && dns_event_base != NULL)
		event_base_loop(dns_event_base, EVLOOP_NONBLOCK);
	while (queries != NULL) {
		struct dns_query *q = queries;

		queries = q->next;
		free(q);
	}
}

static void
inst_free(struct dns_inst *di)
{
	if (di->dns != NULL)
		evdns_base_free(di->dns, 1); /* pending queries end and free themselves */
	free(di->server);
	free(di->query);
	free(di->expect);
	free(di);
}

static void *
dns_create(struct event_base *base, const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct dns_inst *di = calloc(1, sizeof(*di));
	const char *expect = lw_probe_opt(spec, "expect");
	char t[32];

	if (di == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (dns_parse(spec, di, err, errlen) != 0) {
		inst_free(di);
		return NULL;
	}
	di->base = base;
	di->deadline_ms = spec->timeout_ms * 9 / 10;
	di->server = strdup(spec->target);
	di->query = strdup(lw_probe_opt(spec, "query"));
	if (expect != NULL)
		di->expect = strdup(expect);
	di->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (di->server == NULL || di->query == NULL || (expect != NULL && di->expect == NULL) ||
	    di->dns == NULL) {
		snprintf(err, errlen, "out of memory");
		inst_free(di);
		return NULL;
	}
	if (evdns_base_nameserver_ip_add(di->dns, di->server) != 0) {
		snprintf(err, errlen, "server \"%s\" cannot be used", di->server);
		inst_free(di);
		return NULL;
	}
	snprintf(t, sizeof(t), "%.3f", di->deadline_ms * 0.45 / 1000.0);
	evdns_base_set_option(di->dns, "timeout:", t);
	evdns_base_set_option(di->dns, "attempts:", "2");
	evdns_base_set_option(di->dns, "randomize-case:", "0");
	return di;
}

static void
query_unlink(struct dns_query *q)
{
	for (struct dns_query **p = &queries; *p != NULL; p = &(*p)->next) {
		if (*p == q) {
			*p = q->next;
			return;
		}
	}
}

static void
run_free(struct dns_run *r)
{
	if (r->q != NULL)
		r->q->run = NULL; /* the query frees itself when evdns is done */
	if (r->deadline != NULL)
		event_free(r->deadline);
	if (r->later != NULL)
		event_free(r->later);
	free(r);
}

static void
deliver(struct dns_run *r)
{
	struct lw_probe_metric m[2];
	struct lw_probe_result res = {r->status, NULL, m, 0};
	lw_probe_done_cb done = r->done;
	void *arg = r->arg;
	char msg[sizeof(r->msg)];

	memcpy(msg, r->msg, sizeof(msg));
	res.message = msg;
	if (r->answered) {
		m[res.nmetrics++] = (struct lw_probe_metric){"answer_time", "ms", r->answer_ms};
		m[res.nmetrics++] = (struct lw_probe_metric){"answers", "", r->answers};
	}
	r->di->run = NULL;
	run_free(r);
	done(&res, arg);
}

static void
later_cb(evutil_socket_t fd, short events, void *arg)
{
	deliver(arg);
}

static void
finish(struct dns_run *r, enum lw_probe_status st)
{
	struct timeval now = {0, 0};

	r->status = st;
	evtimer_del(r->deadline);
	evtimer_add(r->later, &now);
}

static const char *
rcode_name(int result)
{
	switch (result) {
	case DNS_ERR_NONE:
		return "NOERROR";
	case DNS_ERR_FORMAT:
		return "FORMERR";
	case DNS_ERR_SERVERFAILED:
		return "SERVFAIL";
	case DNS_ERR_NOTEXIST:
		return "NXDOMAIN";
	case DNS_ERR_NOTIMPL:
		return "NOTIMP";
	case DNS_ERR_REFUSED:
		return "REFUSED";
	case DNS_ERR_TRUNCATED:
		return "truncated answer";
	case DNS_ERR_TIMEOUT:
		return "no answer (timeout)";
	case DNS_ERR_SHUTDOWN:
		return "shut down";
	case DNS_ERR_CANCEL:
		return "cancelled";
	case DNS_ERR_NODATA:
		return "no records of this type";
	default:
		return "unknown error";
	}
}

/* Append the answers as text to buf; true if expect is among them. */
static bool
answers_text(struct dns_inst *di, char type, int count, const void *addresses, char *buf,
             size_t len)
{
	unsigned char want[sizeof(struct in6_addr)];
	bool found = false;
	size_t used = 0;

	buf[0] = '\0';
	if (di->expect != NULL && type != DNS_PTR)
		inet_pton(type == DNS_IPv4_A ? AF_INET : AF_INET6, di->expect, want);
	for (int i = 0; i < count; i++) {
		char a[INET6_ADDRSTRLEN];
		const char *s = a;

		if (type == DNS_IPv4_A) {
			const unsigned char *p = (const unsigned char *)addresses + 4 * i;

			inet_ntop(AF_INET, p, a, sizeof(a));
			found |= di->expect != NULL && memcmp(p, want, 4) == 0;
		} else if (type == DNS_IPv6_AAAA) {
			const unsigned char *p = (const unsigned char *)addresses + 16 * i;

			inet_ntop(AF_INET6, p, a, sizeof(a));
			found |= di->expect != NULL && memcmp(p, want, 16) == 0;
		} else {
			s = ((char *const *)addresses)[i];
			found |= di->expect != NULL && strcasecmp(s, di->expect) == 0;
		}
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%s", i ? ", " : "", s);
	}
	return found;
}

static void
answer_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct dns_query *q = arg;
	struct dns_run *r = q->run;
	struct dns_inst *di;
	char list[256];
	bool found;

	query_unlink(q);
	free(q);
	if (r == NULL)
		return; /* abandoned */
	r->q = NULL;
	di = r->di;
	r->answer_ms = pu_elapsed_ms(&r->start);
	if (result == DNS_ERR_TIMEOUT) {
		snprintf(r->msg, sizeof(r->msg), "no answer from %s for %s (timed out)", di->server,
		         di->query);
		finish(r, LW_PROBE_CRITICAL);
		return;
	}
	r->answered = true;
	if (result != DNS_ERR_NONE || count <= 0) {
		r->answers = 0;
		snprintf(r->msg, sizeof(r->msg), "%s: %s from %s", di->query,
		         result == DNS_ERR_NONE ? "no answer records" : rcode_name(result),
		         di->server);
		finish(r, LW_PROBE_CRITICAL);
		return;
	}
	if (type == DNS_PTR)
		count = 1; /* evdns returns one name */
	r->answers = count;
	found = answers_text(di, type, count, addresses, list, sizeof(list));
	if (di->expect != NULL && !found) {
		snprintf(r->msg, sizeof(r->msg), "%s is %s, not %s (from %s)", di->query, list,
		         di->expect, di->server);
		finish(r, LW_PROBE_CRITICAL);
		return;
	}
	r->status = pu_time_status(r->answer_ms, di->warning_ms, di->critical_ms);
	snprintf(r->msg, sizeof(r->msg), "%s is %s (%s in %.1f ms%s)", di->query, list, di->server,
	         r->answer_ms,
	         r->status == LW_PROBE_CRITICAL  ? ", above critical"
	         : r->status == LW_PROBE_WARNING ? ", above warning"
	                                         : "");
	(void)ttl;
	finish(r, r->status);
}

static void
deadline_cb(evutil_socket_t fd, short events, void *arg)
{
	struct dns_run *r = arg;

	snprintf(r->msg, sizeof(r->msg), "no answer from %s for %s within %" PRId64 " ms",
	         r->di->server, r->di->query, r->di->deadline_ms);
	if (r->q != NULL) {
		r->q->run = NULL;
		r->q = NULL;
	}
	finish(r, LW_PROBE_CRITICAL);
}

static struct evdns_request *
ask(struct dns_inst *di, struct dns_query *q)
{
	struct in_addr a4;
	struct in6_addr a6;

	switch (di->record) {
	case REC_A:
		return evdns_base_resolve_ipv4(di->dns, di->query, DNS_QUERY_NO_SEARCH, answer_cb,
		                               q);
	case REC_AAAA:
		return evdns_base_resolve_ipv6(di->dns, di->query, DNS_QUERY_NO_SEARCH, answer_cb,
		                               q);
	case REC_PTR:
		if (inet_pton(AF_INET, di->query, &a4) == 1)
			return evdns_base_resolve_reverse(di->dns, &a4, DNS_QUERY_NO_SEARCH,
			                                  answer_cb, q);
		if (inet_pton(AF_INET6, di->query, &a6) == 1)
			return evdns_base_resolve_reverse_ipv6(di->dns, &a6, DNS_QUERY_NO_SEARCH,
			                                       answer_cb, q);
		break;
	}
	return NULL;
}

static void
dns_run(void *inst, lw_probe_done_cb done, void *arg)
{
	struct dns_inst *di = inst;
	struct dns_run *r = calloc(1, sizeof(*r));
	struct lw_probe_result oom = {LW_PROBE_UNKNOWN, "out of memory", NULL, 0};
	struct timeval dl;
	struct dns_query *q;

	if (r == NULL || (r->later = evtimer_new(di->base, later_cb, r)) == NULL ||
	    (r->deadline = evtimer_new(di->base, deadline_cb, r)) == NULL ||
	    (q = calloc(1, sizeof(*q))) == NULL) {
		if (r != NULL)
			run_free(r);
		done(&oom, arg);
		return;
	}
	r->di = di;
	r->done = done;
	r->arg = arg;
	di->run = r;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	dl.tv_sec = di->deadline_ms / 1000;
	dl.tv_usec = (di->deadline_ms % 1000) * 1000;
	evtimer_add(r->deadline, &dl);
	q->run = r;
	q->next = queries;
	queries = q;
	r->q = q;
	if (ask(di, q) == NULL && r->q == q) {
		/* not sent and no callback: evdns refused the request */
		query_unlink(q);
		free(q);
		r->q = NULL;
		snprintf(r->msg, sizeof(r->msg), "cannot send a query for %s to %s", di->query,
		         di->server);
		finish(r, LW_PROBE_UNKNOWN);
	}
}

static void
dns_cancel(void *inst)
{
	struct dns_inst *di = inst;

	if (di->run != NULL) {
		run_free(di->run);
		di->run = NULL;
	}
}

static void
dns_destroy(void *inst)
{
	dns_cancel(inst);
	inst_free(inst);
}

const struct lw_plugin linewatch_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "dns",
    .init = dns_init,
    .fini = dns_fini,
    .check = dns_check,
    .create = dns_create,
    .run = dns_run,
    .cancel = dns_cancel,
    .destroy = dns_destroy,
};
