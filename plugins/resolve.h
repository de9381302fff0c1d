/* resolve.h - name lookups for probe plugins, header-only.
 *
 * A probe that targets a name resolves it through its own evdns base, built
 * without /etc/resolv.conf: only the server given with `server = "ADDRESS"`
 * (or "ADDRESS:PORT") is asked.  `server = "system"` opts into
 * /etc/resolv.conf and /etc/hosts.  Numeric addresses never need DNS.
 *
 * evdns delivers every callback later from the loop, also for cancelled and
 * shut-down requests, and evdns_getaddrinfo_cancel() followed by freeing the
 * base is unsafe.  So a lookup is never cancelled: a cancelled probe run
 * abandons it (cb = NULL) and the lookup frees itself when evdns answers,
 * times out (its timeout is below the probe's) or the base is freed
 * (evdns_base_free(dns, 1) fails pending lookups).  pu_lookups_shutdown()
 * in fini() frees what the stopped loop can no longer deliver.
 */
#ifndef LW_PLUGIN_RESOLVE_H
#define LW_PLUGIN_RESOLVE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/util.h>

typedef void (*pu_lookup_cb)(int err, const struct sockaddr *sa, int salen, void *arg);

struct pu_lookup {
	pu_lookup_cb cb; /* NULL: abandoned */
	void *arg;
	struct pu_lookup *next;
};

/* Lookups not answered yet (one list per plugin). */
static struct pu_lookup *pu_lookups;

static inline void
pu_lookup_unlink(struct pu_lookup *lk)
{
	for (struct pu_lookup **p = &pu_lookups; *p != NULL; p = &(*p)->next) {
		if (*p == lk) {
			*p = lk->next;
			return;
		}
	}
}

static inline void
pu_lookup_done(int err, struct evutil_addrinfo *res, void *arg)
{
	struct pu_lookup *lk = arg;
	pu_lookup_cb cb = lk->cb;
	void *cbarg = lk->arg;

	pu_lookup_unlink(lk);
	free(lk);
	if (cb != NULL) {
		if (err == 0 && res != NULL)
			cb(0, res->ai_addr, (int)res->ai_addrlen, cbarg);
		else
			cb(err != 0 ? err : EVUTIL_EAI_NODATA, NULL, 0, cbarg);
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
}

/* Resolve host (a name) for family AF_INET, AF_INET6 or AF_UNSPEC.  cb may
 * run before this returns (immediate failure); returns the lookup (for
 * pu_lookup_abandon) or NULL if cb has already run. */
static inline struct pu_lookup *
pu_lookup(struct evdns_base *dns, const char *host, int family, pu_lookup_cb cb, void *arg)
{
	struct evutil_addrinfo hints;
	struct pu_lookup *lk = calloc(1, sizeof(*lk));

	if (lk == NULL) {
		cb(EVUTIL_EAI_MEMORY, NULL, 0, arg);
		return NULL;
	}
	lk->cb = cb;
	lk->arg = arg;
	lk->next = pu_lookups;
	pu_lookups = lk;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	if (evdns_getaddrinfo(dns, host, NULL, &hints, pu_lookup_done, lk) == NULL)
		return NULL; /* answered (and freed) already */
	return lk;
}

static inline void
pu_lookup_abandon(struct pu_lookup *lk)
{
	if (lk != NULL)
		lk->cb = NULL;
}

/* The evdns base for a probe: server "ADDRESS[:PORT]" or "system". */
static inline struct evdns_base *
pu_dns_new(struct event_base *base, const char *server, int64_t timeout_ms, char *err,
           size_t errlen)
{
	struct evdns_base *dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	char t[32];

	if (dns == NULL) {
		snprintf(err, errlen, "cannot create a DNS resolver");
		return NULL;
	}
	if (strcmp(server, "system") == 0) {
		if (evdns_base_resolv_conf_parse(dns, DNS_OPTIONS_ALL, "/etc/resolv.conf") != 0 ||
		    evdns_base_count_nameservers(dns) == 0) {
			snprintf(err, errlen,
			         "server \"system\": no nameserver in /etc/resolv.conf");
			evdns_base_free(dns, 0);
			return NULL;
		}
		evdns_base_load_hosts(dns, NULL);
	} else if (evdns_base_nameserver_ip_add(dns, server) != 0) {
		snprintf(err, errlen,
		         "server \"%s\" is not an address (like 192.0.2.53 or "
		         "[2001:db8::53]:5353)",
		         server);
		evdns_base_free(dns, 0);
		return NULL;
	}
	/* Two tries that together end before the probe's timeout. */
	snprintf(t, sizeof(t), "%.3f", timeout_ms * 0.45 / 1000.0);
	evdns_base_set_option(dns, "timeout:", t);
	evdns_base_set_option(dns, "attempts:", "2");
	evdns_base_set_option(dns, "randomize-case:", "0");
	return dns;
}

/* In fini(): the loop has stopped, so callbacks that evdns scheduled (for
 * lookups abandoned or failed by evdns_base_free) would never run.  One
 * non-blocking pass delivers them, then whatever is left is freed. */
static inline void
pu_lookups_shutdown(struct event_base *base)
{
	if (pu_lookups != NULL && base != NULL)
		event_base_loop(base, EVLOOP_NONBLOCK);
	while (pu_lookups != NULL) {
		struct pu_lookup *lk = pu_lookups;

		pu_lookups = lk->next;
		free(lk);
	}
}

#endif
