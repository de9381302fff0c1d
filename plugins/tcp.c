/* tcp.c - TCP connect time, optionally with an expected banner.
 *
 * probe "smtp" { type = "tcp"  target = "198.18.2.2:25"  expect = "220" }
 *
 * target "HOST:PORT", "[V6]:PORT", or HOST with port = "N".  Options:
 *   expect    text the server's first bytes must contain (a banner)
 *   family    "any" (default), "ipv4" or "ipv6": which address of a name
 *   server    DNS server for a name target (see resolve.h); numeric
 *             targets need none
 *   warning, critical   response time thresholds ("200ms", "1s")
 * Metrics: connect_time (ms); with expect also response_time (ms, connect
 * to banner); with a name also resolve_time (ms).
 * Refused, unreachable, closed before the banner, or no answer within 90% of
 * the probe timeout: critical.  A name that does not resolve: unknown.
 */
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "linewatch_plugin.h"
#include "plugin_util.h"
#include "resolve.h"

#define TCP_BANNER_MAX 1024

static const char *const tcp_keys[] = {"port",    "expect",   "family", "server",
                                       "warning", "critical", NULL};

struct tcp_run;

struct tcp_inst {
	struct event_base *base;
	struct evdns_base *dns; /* name targets only */
	char host[256];
	char port[8];
	int family;
	char *expect;
	int64_t warning_ms;
	int64_t critical_ms;
	int64_t deadline_ms; /* our own, inside the core's timeout */
	struct tcp_run *run;
};

struct tcp_run {
	struct tcp_inst *ti;
	lw_probe_done_cb done;
	void *arg;
	struct pu_lookup *lookup;
	struct bufferevent *bev;
	struct event *deadline;
	struct event *later; /* delivers results found inside run() */
	struct timespec start;
	struct timespec connect_start;
	double resolve_ms;
	double connect_ms;
	bool connected;
	char addr[300]; /* "ADDRESS:PORT", or the name while resolving */
	/* the result, once known */
	enum lw_probe_status status;
	char msg[512];
	bool have_response;
	double response_ms;
};

static struct event_base *tcp_base; /* for pu_lookups_shutdown */

static int
tcp_parse(const struct lw_probe_spec *spec, struct tcp_inst *ti, char *err, size_t errlen)
{
	const char *port = lw_probe_opt(spec, "port"), *fam = lw_probe_opt(spec, "family");
	int p;

	if (pu_check_keys(spec, "tcp", tcp_keys, err, errlen) != 0)
		return -1;
	if (spec->target == NULL || pu_split_hostport(spec->target, ti->host, sizeof(ti->host),
	                                              ti->port, sizeof(ti->port)) != 0) {
		snprintf(err, errlen, "target \"%s\" is not HOST:PORT (or [IPV6]:PORT)",
		         spec->target ? spec->target : "");
		return -1;
	}
	if (port != NULL) {
		if (ti->port[0] != '\0') {
			snprintf(err, errlen, "the port is both in target and in port");
			return -1;
		}
		snprintf(ti->port, sizeof(ti->port), "%s", port);
	}
	if (ti->port[0] == '\0' || pu_port(ti->port, &p) != 0) {
		snprintf(err, errlen, "%s: give a port 1..65535 (target HOST:PORT or port = \"N\")",
		         ti->port[0] ? ti->port : "no port");
		return -1;
	}
	ti->family = AF_UNSPEC;
	if (fam == NULL || strcmp(fam, "any") == 0)
		ti->family = AF_UNSPEC;
	else if (strcmp(fam, "ipv4") == 0 || strcmp(fam, "inet") == 0)
		ti->family = AF_INET;
	else if (strcmp(fam, "ipv6") == 0 || strcmp(fam, "inet6") == 0)
		ti->family = AF_INET6;
	else {
		snprintf(err, errlen, "family \"%s\" is not any, ipv4 or ipv6", fam);
		return -1;
	}
	if (!pu_numeric_host(ti->host) && lw_probe_opt(spec, "server") == NULL) {
		snprintf(
		    err, errlen,
		    "target host \"%s\" is a name: set server = \"ADDRESS\" (the DNS server to "
		    "resolve it with) or server = \"system\"",
		    ti->host);
		return -1;
	}
	if (pu_opt_duration(spec, "warning", 0, &ti->warning_ms, err, errlen) != 0 ||
	    pu_opt_duration(spec, "critical", 0, &ti->critical_ms, err, errlen) != 0)
		return -1;
	return 0;
}

static int
tcp_check(const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct tcp_inst ti;

	memset(&ti, 0, sizeof(ti));
	return tcp_parse(spec, &ti, err, errlen);
}

static int
tcp_init(struct event_base *base, char *err, size_t errlen)
{
	tcp_base = base;
	return 0;
}

static void
tcp_fini(void)
{
	pu_lookups_shutdown(tcp_base);
}

static void *
tcp_create(struct event_base *base, const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct tcp_inst *ti = calloc(1, sizeof(*ti));
	const char *expect = lw_probe_opt(spec, "expect");

	if (ti == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (tcp_parse(spec, ti, err, errlen) != 0)
		goto fail;
	ti->base = base;
	ti->deadline_ms = spec->timeout_ms * 9 / 10;
	if (expect != NULL && (ti->expect = strdup(expect)) == NULL)
		goto fail;
	if (!pu_numeric_host(ti->host)) {
		ti->dns =
		    pu_dns_new(base, lw_probe_opt(spec, "server"), ti->deadline_ms, err, errlen);
		if (ti->dns == NULL)
			goto fail;
	}
	return ti;
fail:
	free(ti->expect);
	free(ti);
	return NULL;
}

static void
run_free(struct tcp_run *r)
{
	pu_lookup_abandon(r->lookup);
	if (r->bev != NULL)
		bufferevent_free(r->bev);
	if (r->deadline != NULL)
		event_free(r->deadline);
	if (r->later != NULL)
		event_free(r->later);
	free(r);
}

/* Deliver the result stored in r and end the run. */
static void
deliver(struct tcp_run *r)
{
	struct lw_probe_metric m[3];
	struct lw_probe_result res = {r->status, NULL, m, 0};
	lw_probe_done_cb done = r->done;
	void *arg = r->arg;
	char msg[sizeof(r->msg)];

	memcpy(msg, r->msg, sizeof(msg));
	res.message = msg;

	if (r->ti->dns != NULL && r->resolve_ms >= 0)
		m[res.nmetrics++] = (struct lw_probe_metric){"resolve_time", "ms", r->resolve_ms};
	if (r->connected)
		m[res.nmetrics++] = (struct lw_probe_metric){"connect_time", "ms", r->connect_ms};
	if (r->have_response)
		m[res.nmetrics++] = (struct lw_probe_metric){"response_time", "ms", r->response_ms};
	r->ti->run = NULL;
	run_free(r);
	done(&res, arg);
}

static void
later_cb(evutil_socket_t fd, short events, void *arg)
{
	deliver(arg);
}

/* Record the result; deliver from the loop (finish may run inside run()). */
static void finish(struct tcp_run *r, enum lw_probe_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
finish(struct tcp_run *r, enum lw_probe_status st, const char *fmt, ...)
{
	va_list ap;
	struct timeval now = {0, 0};

	r->status = st;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	if (r->bev != NULL) {
		bufferevent_free(r->bev);
		r->bev = NULL;
	}
	if (r->deadline != NULL)
		evtimer_del(r->deadline);
	evtimer_add(r->later, &now);
}

static void
judge(struct tcp_run *r, double ms, const char *what)
{
	enum lw_probe_status st = pu_time_status(ms, r->ti->warning_ms, r->ti->critical_ms);

	finish(r, st, "%s %s in %.1f ms%s", what, r->addr, ms,
	       st == LW_PROBE_CRITICAL  ? " (above critical)"
	       : st == LW_PROBE_WARNING ? " (above warning)"
	                                : "");
}

/* Printable copy of a banner for messages. */
static const char *
printable(char *dst, size_t len, const unsigned char *src, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < len; i++) {
		if (src[i] == '\r' || src[i] == '\n')
			break;
		dst[o++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	}
	dst[o] = '\0';
	return dst;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_run *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	struct evbuffer_ptr p;
	char shown[128];

	p = evbuffer_search(in, r->ti->expect, strlen(r->ti->expect), NULL);
	if (p.pos != -1) {
		r->have_response = true;
		r->response_ms = pu_elapsed_ms(&r->connect_start);
		judge(r, r->response_ms, "expected banner from");
		return;
	}
	if (n >= TCP_BANNER_MAX) {
		unsigned char *b = evbuffer_pullup(in, TCP_BANNER_MAX);

		finish(r, LW_PROBE_CRITICAL, "%s answered \"%s\", without \"%s\"", r->addr,
		       printable(shown, sizeof(shown), b, TCP_BANNER_MAX), r->ti->expect);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_run *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char shown[128];
	int e = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		r->connected = true;
		r->connect_ms = pu_elapsed_ms(&r->connect_start);
		if (r->ti->expect == NULL) {
			judge(r, r->connect_ms, "connected to");
			return;
		}
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		size_t n = evbuffer_get_length(in);

		if (n == 0)
			finish(r, LW_PROBE_CRITICAL,
			       "%s closed the connection without sending anything", r->addr);
		else
			finish(r, LW_PROBE_CRITICAL,
			       "%s closed the connection after \"%s\", without \"%s\"", r->addr,
			       printable(shown, sizeof(shown), evbuffer_pullup(in, n), n),
			       r->ti->expect);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (r->connected)
			finish(r, LW_PROBE_CRITICAL, "%s: %s", r->addr,
			       evutil_socket_error_to_string(e));
		else
			finish(r, LW_PROBE_CRITICAL, "cannot connect to %s: %s", r->addr,
			       evutil_socket_error_to_string(e));
	}
}

static void
deadline_cb(evutil_socket_t fd, short events, void *arg)
{
	struct tcp_run *r = arg;

	if (r->lookup != NULL)
		finish(r, LW_PROBE_UNKNOWN, "no DNS answer for %s within %" PRId64 " ms",
		       r->ti->host, r->ti->deadline_ms);
	else if (!r->connected)
		finish(r, LW_PROBE_CRITICAL, "no connection to %s within %" PRId64 " ms", r->addr,
		       r->ti->deadline_ms);
	else
		finish(r, LW_PROBE_CRITICAL, "%s sent no \"%s\" within %" PRId64 " ms", r->addr,
		       r->ti->expect, r->ti->deadline_ms);
}

static void
connect_to(struct tcp_run *r, const struct sockaddr *sa, int salen)
{
	char host[INET6_ADDRSTRLEN];
	int port = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(r->addr, sizeof(r->addr), "[%s]:%d", host, port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(r->addr, sizeof(r->addr), "%s:%d", host, port);
	}
	r->bev = bufferevent_socket_new(r->ti->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev == NULL) {
		finish(r, LW_PROBE_UNKNOWN, "out of memory");
		return;
	}
	bufferevent_setcb(r->bev, r->ti->expect ? read_cb : NULL, NULL, event_cb, r);
	clock_gettime(CLOCK_MONOTONIC, &r->connect_start);
	if (bufferevent_socket_connect(r->bev, (struct sockaddr *)sa, salen) != 0)
		finish(r, LW_PROBE_CRITICAL, "cannot connect to %s: %s", r->addr,
		       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void
resolved_cb(int err, const struct sockaddr *sa, int salen, void *arg)
{
	struct tcp_run *r = arg;
	struct sockaddr_storage ss;
	int port = atoi(r->ti->port);

	r->lookup = NULL;
	r->resolve_ms = pu_elapsed_ms(&r->start);
	if (err != 0 || sa == NULL || (size_t)salen > sizeof(ss)) {
		finish(r, LW_PROBE_UNKNOWN, "cannot resolve %s: %s", r->ti->host,
		       evutil_gai_strerror(err));
		return;
	}
	memcpy(&ss, sa, salen);
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	connect_to(r, (struct sockaddr *)&ss, salen);
}

static void
tcp_run(void *inst, lw_probe_done_cb done, void *arg)
{
	struct tcp_inst *ti = inst;
	struct tcp_run *r = calloc(1, sizeof(*r));
	struct lw_probe_result oom = {LW_PROBE_UNKNOWN, "out of memory", NULL, 0};
	struct timeval dl;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char hp[300];

	if (r == NULL || (r->later = evtimer_new(ti->base, later_cb, r)) == NULL ||
	    (r->deadline = evtimer_new(ti->base, deadline_cb, r)) == NULL) {
		if (r != NULL)
			run_free(r);
		done(&oom, arg);
		return;
	}
	r->ti = ti;
	r->done = done;
	r->arg = arg;
	r->resolve_ms = -1;
	ti->run = r;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	dl.tv_sec = ti->deadline_ms / 1000;
	dl.tv_usec = (ti->deadline_ms % 1000) * 1000;
	evtimer_add(r->deadline, &dl);
	if (ti->dns == NULL) {
		snprintf(hp, sizeof(hp), strchr(ti->host, ':') ? "[%s]:%s" : "%s:%s", ti->host,
		         ti->port);
		if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sslen) != 0) {
			finish(r, LW_PROBE_UNKNOWN, "%s is not an address", hp);
			return;
		}
		connect_to(r, (struct sockaddr *)&ss, sslen);
		return;
	}
	snprintf(r->addr, sizeof(r->addr), "%s", ti->host);
	r->lookup = pu_lookup(ti->dns, ti->host, ti->family, resolved_cb, r);
}

static void
tcp_cancel(void *inst)
{
	struct tcp_inst *ti = inst;

	if (ti->run != NULL) {
		run_free(ti->run); /* abandons a lookup, closes the socket */
		ti->run = NULL;
	}
}

static void
tcp_destroy(void *inst)
{
	struct tcp_inst *ti = inst;

	tcp_cancel(ti);
	if (ti->dns != NULL)
		evdns_base_free(ti->dns, 1); /* abandoned lookups end and free themselves */
	free(ti->expect);
	free(ti);
}

const struct lw_plugin linewatch_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "tcp",
    .init = tcp_init,
    .fini = tcp_fini,
    .check = tcp_check,
    .create = tcp_create,
    .run = tcp_run,
    .cancel = tcp_cancel,
    .destroy = tcp_destroy,
};
