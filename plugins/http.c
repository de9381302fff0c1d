/* http.c - an HTTP(S) request: status, times, expected text, certificate expiry.
 *
 * probe "web" { type = "http"  target = "http://198.18.2.2:8080/"
 *               expect-status = "200"  expect = "Welcome"  cert-warning = "14d" }
 *
 * Options:
 *   expect-status  accepted status codes, "200" or "200,301" (default: 2xx
 *                  and 3xx ok, 4xx warning, 5xx critical)
 *   expect         text the body (first 64 KiB) must contain
 *   method         GET (default) or HEAD
 *   cert-warning   warn when the certificate expires sooner (default 14d)
 *   insecure       "yes": do not verify the certificate (expiry still shown)
 *   family         any (default), ipv4 or ipv6
 *   server         DNS server for a name in the URL (see resolve.h)
 *   warning, critical   total time thresholds ("500ms", "2s")
 * Metrics: total_time, first_byte_time, connect_time (ms), tls_time (ms,
 * https), resolve_time (ms, names), http_status, cert_days (https).
 *
 * libcurl's multi interface runs on the daemon's event loop (socket and timer
 * callbacks).  Curl never resolves a name itself (we resolve through the
 * probe's own evdns base and hand the address over with CURLOPT_RESOLVE),
 * never uses a proxy (CURLOPT_PROXY "" and NOPROXY "*": the environment is
 * ignored), never follows redirects, speaks only http and https, and opens a
 * fresh connection for every run.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "linewatch_plugin.h"
#include "plugin_util.h"
#include "resolve.h"

#ifndef LW_VERSION
#define LW_VERSION "0"
#endif

#define HTTP_BODY_MAX (64 * 1024)
#define HTTP_MAX_STATUS 16
#define DAY_MS (86400 * 1000LL)

static const char *const http_keys[] = {"expect-status", "expect", "method", "cert-warning",
                                        "insecure",      "family", "server", "warning",
                                        "critical",      NULL};

struct http_run;

struct http_inst {
	struct event_base *base;
	struct evdns_base *dns; /* names only */
	CURLM *multi;
	struct event *timer;
	char *url;
	char *shown_url; /* for messages: without credentials */
	char host[256];
	int port;
	bool https;
	int family;
	int status_ok[HTTP_MAX_STATUS];
	size_t nstatus_ok;
	char *expect;
	bool head;
	bool insecure;
	int64_t cert_warning_ms;
	int64_t warning_ms;
	int64_t critical_ms;
	int64_t deadline_ms;
	struct http_run *run;
};

struct http_run {
	struct http_inst *hi;
	lw_probe_done_cb done;
	void *arg;
	CURL *easy;
	struct curl_slist *resolve;
	struct pu_lookup *lookup;
	struct event *later; /* delivers failures found inside run() */
	struct timespec start;
	double resolve_ms;
	char errbuf[CURL_ERROR_SIZE];
	char msg[512];
	char *body;
	size_t len;
};

static bool curl_ready;
static struct event_base *http_event_base;

static int
parse_status_list(const char *s, struct http_inst *hi, char *err, size_t errlen)
{
	const char *p = s;

	hi->nstatus_ok = 0;
	while (*p != '\0') {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v < 100 || v > 599 || hi->nstatus_ok == HTTP_MAX_STATUS) {
			snprintf(
			    err, errlen,
			    "expect-status \"%s\" is not a list of status codes (like \"200\" or "
			    "\"200,301\")",
			    s);
			return -1;
		}
		hi->status_ok[hi->nstatus_ok++] = (int)v;
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

static int
http_parse(const struct lw_probe_spec *spec, struct http_inst *hi, char *err, size_t errlen)
{
	const char *es = lw_probe_opt(spec, "expect-status"), *m = lw_probe_opt(spec, "method");
	const char *fam = lw_probe_opt(spec, "family");
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1;

	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pu_check_keys(spec, "http", http_keys, err, errlen) != 0)
		goto out;
	if (spec->target == NULL ||
	    curl_url_set(u, CURLUPART_URL, spec->target, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		snprintf(err, errlen, "target \"%s\" is not a URL (like http://198.18.2.2:8080/)",
		         spec->target ? spec->target : "");
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		snprintf(err, errlen, "target \"%s\": only http:// and https:// URLs",
		         spec->target);
		goto out;
	}
	hi->https = strcasecmp(scheme, "https") == 0;
	/* IPv6 hosts come back as "[::1]" */
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 3 || n - 2 >= sizeof(hi->host))
			goto badhost;
		memcpy(hi->host, host + 1, n - 2);
		hi->host[n - 2] = '\0';
	} else if (snprintf(hi->host, sizeof(hi->host), "%s", host) >= (int)sizeof(hi->host))
		goto badhost;
	hi->port = atoi(port);
	if (!pu_numeric_host(hi->host) && lw_probe_opt(spec, "server") == NULL) {
		snprintf(
		    err, errlen,
		    "the URL's host \"%s\" is a name: set server = \"ADDRESS\" (the DNS server to "
		    "resolve it with) or server = \"system\"",
		    hi->host);
		goto out;
	}
	if (es != NULL && parse_status_list(es, hi, err, errlen) != 0)
		goto out;
	if (m == NULL || strcasecmp(m, "GET") == 0)
		hi->head = false;
	else if (strcasecmp(m, "HEAD") == 0)
		hi->head = true;
	else {
		snprintf(err, errlen, "method \"%s\" is not GET or HEAD", m);
		goto out;
	}
	if (hi->head && lw_probe_opt(spec, "expect") != NULL) {
		snprintf(err, errlen, "expect needs a body: not with method HEAD");
		goto out;
	}
	hi->family = AF_UNSPEC;
	if (fam == NULL || strcmp(fam, "any") == 0)
		hi->family = AF_UNSPEC;
	else if (strcmp(fam, "ipv4") == 0 || strcmp(fam, "inet") == 0)
		hi->family = AF_INET;
	else if (strcmp(fam, "ipv6") == 0 || strcmp(fam, "inet6") == 0)
		hi->family = AF_INET6;
	else {
		snprintf(err, errlen, "family \"%s\" is not any, ipv4 or ipv6", fam);
		goto out;
	}
	if (pu_opt_bool(spec, "insecure", false, &hi->insecure, err, errlen) != 0 ||
	    pu_opt_duration(spec, "cert-warning", 14 * DAY_MS, &hi->cert_warning_ms, err, errlen) !=
	        0 ||
	    pu_opt_duration(spec, "warning", 0, &hi->warning_ms, err, errlen) != 0 ||
	    pu_opt_duration(spec, "critical", 0, &hi->critical_ms, err, errlen) != 0)
		goto out;
	rc = 0;
	goto out;
badhost:
	snprintf(err, errlen, "target \"%s\": the host is too long", spec->target);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

static int
http_check(const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct http_inst hi;

	memset(&hi, 0, sizeof(hi));
	return http_parse(spec, &hi, err, errlen);
}

static int
http_init(struct event_base *base, char *err, size_t errlen)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(rc));
		return -1;
	}
	curl_ready = true;
	http_event_base = base;
	return 0;
}

static void
http_fini(void)
{
	pu_lookups_shutdown(http_event_base);
	if (curl_ready)
		curl_global_cleanup();
	curl_ready = false;
}

/* ---- curl on the event loop ---- */

static void check_done(struct http_inst *hi);

static void
sock_event_cb(evutil_socket_t fd, short events, void *arg)
{
	struct http_inst *hi = arg;
	int flags = 0, running;

	if (events & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(hi->multi, fd, flags, &running);
	check_done(hi);
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_inst *hi = userp;
	struct event *ev = socketp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL)
			event_free(ev);
		curl_multi_assign(hi->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ev != NULL)
		event_free(ev);
	ev = event_new(hi->base, s, kind, sock_event_cb, hi);
	if (ev == NULL)
		return -1;
	curl_multi_assign(hi->multi, s, ev);
	return event_add(ev, NULL);
}

static void
timer_event_cb(evutil_socket_t fd, short events, void *arg)
{
	struct http_inst *hi = arg;
	int running;

	curl_multi_socket_action(hi->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(hi);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_inst *hi = userp;
	struct timeval tv;

	if (timeout_ms < 0)
		return evtimer_del(hi->timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(hi->timer, &tv);
}

static size_t
write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct http_run *r = userp;
	size_t len = size * n, room = HTTP_BODY_MAX - r->len;

	if (r->body != NULL && room > 0) {
		size_t k = len < room ? len : room;

		memcpy(r->body + r->len, data, k);
		r->len += k;
	}
	return len; /* the rest is read and dropped */
}

/* ---- instances and runs ---- */

/* The URL for messages: user:password before the host becomes three stars. */
static char *
shown_url(const char *url)
{
	const char *scheme = strstr(url, "://"), *host, *at;
	char *s = NULL;

	if (scheme != NULL) {
		host = scheme + 3;
		at = host + strcspn(host, "/?#@");
		if (*at == '@') {
			if (asprintf(&s, "%.*s***%s", (int)(host - url), url, at) == -1)
				return NULL;
			return s;
		}
	}
	return strdup(url);
}

static void
inst_free(struct http_inst *hi)
{
	if (hi->multi != NULL)
		curl_multi_cleanup(hi->multi);
	if (hi->timer != NULL)
		event_free(hi->timer);
	if (hi->dns != NULL)
		evdns_base_free(hi->dns, 1);
	free(hi->url);
	free(hi->shown_url);
	free(hi->expect);
	free(hi);
}

static void *
http_create(struct event_base *base, const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct http_inst *hi = calloc(1, sizeof(*hi));
	const char *expect = lw_probe_opt(spec, "expect");

	if (hi == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (http_parse(spec, hi, err, errlen) != 0) {
		inst_free(hi);
		return NULL;
	}
	hi->base = base;
	hi->deadline_ms = spec->timeout_ms * 9 / 10;
	hi->url = strdup(spec->target);
	hi->shown_url = shown_url(spec->target);
	hi->expect = expect != NULL ? strdup(expect) : NULL;
	hi->multi = curl_multi_init();
	hi->timer = evtimer_new(base, timer_event_cb, hi);
	if (hi->url == NULL || hi->shown_url == NULL || (expect != NULL && hi->expect == NULL) ||
	    hi->multi == NULL || hi->timer == NULL) {
		snprintf(err, errlen, "out of memory");
		inst_free(hi);
		return NULL;
	}
	curl_multi_setopt(hi->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(hi->multi, CURLMOPT_SOCKETDATA, hi);
	curl_multi_setopt(hi->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(hi->multi, CURLMOPT_TIMERDATA, hi);
	if (!pu_numeric_host(hi->host)) {
		hi->dns =
		    pu_dns_new(base, lw_probe_opt(spec, "server"), hi->deadline_ms, err, errlen);
		if (hi->dns == NULL) {
			inst_free(hi);
			return NULL;
		}
	}
	return hi;
}

static void
run_free(struct http_run *r)
{
	pu_lookup_abandon(r->lookup);
	if (r->easy != NULL) {
		curl_multi_remove_handle(r->hi->multi, r->easy); /* frees its socket events */
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->resolve);
	if (r->later != NULL)
		event_free(r->later);
	free(r->body);
	free(r);
}

static void
end_run(struct http_run *r, const struct lw_probe_result *res)
{
	lw_probe_done_cb done = r->done;
	void *arg = r->arg;

	r->hi->run = NULL;
	run_free(r);
	done(res, arg);
}

static void
later_cb(evutil_socket_t fd, short events, void *arg)
{
	struct http_run *r = arg;
	struct lw_probe_metric m = {"resolve_time", "ms", r->resolve_ms};
	struct lw_probe_result res = {LW_PROBE_UNKNOWN, NULL, &m, r->resolve_ms >= 0 ? 1 : 0};
	char msg[sizeof(r->msg)];

	memcpy(msg, r->msg, sizeof(msg));
	res.message = msg;
	end_run(r, &res);
}

static void fail_later(struct http_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail_later(struct http_run *r, const char *fmt, ...)
{
	struct timeval now = {0, 0};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	evtimer_add(r->later, &now);
}

/* Days until the leaf certificate expires; false if unknown. */
static bool
cert_days(CURL *easy, double *days)
{
	struct curl_certinfo *ci = NULL;
	struct tm tm;

	if (curl_easy_getinfo(easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
	    ci->num_of_certs < 1)
		return false;
	for (struct curl_slist *s = ci->certinfo[0]; s != NULL; s = s->next) {
		const char *v;

		if (strncasecmp(s->data, "Expire date:", 12) != 0)
			continue;
		v = s->data + 12;
		memset(&tm, 0, sizeof(tm));
		/* OpenSSL: "Mar  1 12:00:00 2030 GMT" */
		if (strptime(v, "%b %d %H:%M:%S %Y", &tm) == NULL)
			return false;
		*days = (double)(timegm(&tm) - time(NULL)) / 86400.0;
		return true;
	}
	return false;
}

static bool
status_accepted(const struct http_inst *hi, long code, enum lw_probe_status *st)
{
	if (hi->nstatus_ok > 0) {
		for (size_t i = 0; i < hi->nstatus_ok; i++)
			if (hi->status_ok[i] == code)
				return true;
		*st = LW_PROBE_CRITICAL;
		return false;
	}
	if (code >= 500 || code < 100)
		*st = LW_PROBE_CRITICAL;
	else if (code >= 400)
		*st = LW_PROBE_WARNING;
	return code >= 100 && code < 400;
}

static void
worse(enum lw_probe_status *st, enum lw_probe_status s)
{
	if (s > *st)
		*st = s;
}

static void
transfer_done(struct http_run *r, CURLcode cc)
{
	struct http_inst *hi = r->hi;
	struct lw_probe_metric m[8];
	struct lw_probe_result res = {LW_PROBE_OK, NULL, m, 0};
	curl_off_t total = 0, ttfb = 0, conn = 0, tls = 0;
	char msg[600], what[256] = "";
	long code = 0;
	double days = 0;
	bool have_days;
	enum lw_probe_status st = LW_PROBE_OK, tst;

	if (r->resolve_ms >= 0)
		m[res.nmetrics++] = (struct lw_probe_metric){"resolve_time", "ms", r->resolve_ms};
	if (cc != CURLE_OK) {
		res.status = LW_PROBE_CRITICAL;
		snprintf(msg, sizeof(msg), "%s: %s", hi->shown_url,
		         r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
		res.message = msg;
		end_run(r, &res);
		return;
	}
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &total);
	curl_easy_getinfo(r->easy, CURLINFO_STARTTRANSFER_TIME_T, &ttfb);
	curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &conn);
	curl_easy_getinfo(r->easy, CURLINFO_APPCONNECT_TIME_T, &tls);
	m[res.nmetrics++] = (struct lw_probe_metric){"total_time", "ms", total / 1e3};
	m[res.nmetrics++] = (struct lw_probe_metric){"first_byte_time", "ms", ttfb / 1e3};
	m[res.nmetrics++] = (struct lw_probe_metric){"connect_time", "ms", conn / 1e3};
	if (hi->https)
		m[res.nmetrics++] = (struct lw_probe_metric){"tls_time", "ms", tls / 1e3};
	m[res.nmetrics++] = (struct lw_probe_metric){"http_status", "", (double)code};
	have_days = hi->https && cert_days(r->easy, &days);
	if (have_days)
		m[res.nmetrics++] = (struct lw_probe_metric){"cert_days", "d", days};

	/* the worst finding names the message */
	if (!status_accepted(hi, code, &st))
		snprintf(what, sizeof(what), ", unexpected status");
	if (hi->expect != NULL &&
	    (r->body == NULL || memmem(r->body, r->len, hi->expect, strlen(hi->expect)) == NULL)) {
		worse(&st, LW_PROBE_CRITICAL);
		snprintf(what, sizeof(what), ", \"%s\" not in the page", hi->expect);
	}
	if (have_days && days < 0) {
		worse(&st, LW_PROBE_CRITICAL);
		snprintf(what, sizeof(what), ", certificate expired %.0f days ago", -days);
	} else if (have_days && days * DAY_MS < hi->cert_warning_ms) {
		worse(&st, LW_PROBE_WARNING);
		if (st == LW_PROBE_WARNING)
			snprintf(what, sizeof(what), ", certificate expires in %.1f days", days);
	}
	tst = pu_time_status(total / 1e3, hi->warning_ms, hi->critical_ms);
	if (tst > st)
		snprintf(what, sizeof(what), ", slower than %s",
		         tst == LW_PROBE_CRITICAL ? "critical" : "warning");
	worse(&st, tst);
	res.status = st;
	snprintf(msg, sizeof(msg), "HTTP %ld in %.1f ms%s", code, total / 1e3, what);
	res.message = msg;
	end_run(r, &res);
}

static void
check_done(struct http_inst *hi)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(hi->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE || hi->run == NULL ||
		    msg->easy_handle != hi->run->easy)
			continue;
		transfer_done(hi->run, msg->data.result);
		return; /* one transfer per instance */
	}
}

static int
start_transfer(struct http_run *r, const char *addr)
{
	struct http_inst *hi = r->hi;
	CURL *e = curl_easy_init();
	char entry[600];

	if (e == NULL)
		return -1;
	r->easy = e;
	if (addr != NULL) {
		/* curl must not resolve: give it the address we found */
		snprintf(entry, sizeof(entry), strchr(addr, ':') ? "%s:%d:[%s]" : "%s:%d:%s",
		         hi->host, hi->port, addr);
		if ((r->resolve = curl_slist_append(NULL, entry)) == NULL)
			return -1;
		curl_easy_setopt(e, CURLOPT_RESOLVE, r->resolve);
	}
	curl_easy_setopt(e, CURLOPT_URL, hi->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)hi->deadline_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "linewatch/" LW_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_NOBODY, hi->head ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_IPRESOLVE,
	                 hi->family == AF_INET    ? CURL_IPRESOLVE_V4
	                 : hi->family == AF_INET6 ? CURL_IPRESOLVE_V6
	                                          : CURL_IPRESOLVE_WHATEVER);
	if (hi->https) {
		curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, hi->insecure ? 0L : 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, hi->insecure ? 0L : 2L);
	}
	if (curl_multi_add_handle(hi->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		r->easy = NULL;
		return -1;
	}
	return 0;
}

static void
resolved_cb(int err, const struct sockaddr *sa, int salen, void *arg)
{
	struct http_run *r = arg;
	char addr[INET6_ADDRSTRLEN];

	r->lookup = NULL;
	r->resolve_ms = pu_elapsed_ms(&r->start);
	if (err != 0 || sa == NULL) {
		fail_later(r, "cannot resolve %s: %s", r->hi->host, evutil_gai_strerror(err));
		return;
	}
	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
		          sizeof(addr));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
	if (start_transfer(r, addr) != 0)
		fail_later(r, "cannot start the request (out of memory)");
}

static void
http_run(void *inst, lw_probe_done_cb done, void *arg)
{
	struct http_inst *hi = inst;
	struct http_run *r = calloc(1, sizeof(*r));
	struct lw_probe_result oom = {LW_PROBE_UNKNOWN, "out of memory", NULL, 0};

	if (r == NULL || (r->later = evtimer_new(hi->base, later_cb, r)) == NULL ||
	    (!hi->head && (r->body = malloc(HTTP_BODY_MAX)) == NULL)) {
		if (r != NULL) {
			r->hi = hi;
			run_free(r);
		}
		done(&oom, arg);
		return;
	}
	r->hi = hi;
	r->done = done;
	r->arg = arg;
	r->resolve_ms = -1;
	hi->run = r;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	if (hi->dns != NULL) {
		r->lookup = pu_lookup(hi->dns, hi->host, hi->family, resolved_cb, r);
		return;
	}
	if (start_transfer(r, NULL) != 0)
		fail_later(r, "cannot start the request (out of memory)");
}

static void
http_cancel(void *inst)
{
	struct http_inst *hi = inst;

	if (hi->run != NULL) {
		run_free(hi->run);
		hi->run = NULL;
	}
}

static void
http_destroy(void *inst)
{
	http_cancel(inst);
	inst_free(inst);
}

const struct lw_plugin linewatch_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "http",
    .init = http_init,
    .fini = http_fini,
    .check = http_check,
    .create = http_create,
    .run = http_run,
    .cancel = http_cancel,
    .destroy = http_destroy,
};
