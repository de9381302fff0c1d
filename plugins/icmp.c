/* icmp.c - ICMP / ICMPv6 echo probe plugin.
 *
 * A run sends `count` echoes (default 5, 1..100) `spacing` apart (default
 * 200ms) with `size` payload bytes (default 56, 0..1472) to one address and
 * reports loss (%), rtt_min/avg/max/median (ms), jitter (ms) and mos (see
 * probe_stats.h), with a message like "0/5 lost, rtt 12.1/12.5/13.0 ms,
 * jitter 0.3 ms".  It ends when every reply is in, `wait` (default 1s) after
 * the last echo, or at 90 % of the probe timeout, whichever comes first.
 * Status: ok, critical when every echo is lost, unknown when nothing could
 * be sent (a name that does not resolve).  The options "warning" and
 * "critical" are accepted and ignored: degradation is the detector's
 * decision, from the loss and latency metrics.
 *
 * Targets: a numeric IPv4 or IPv6 address (`family` ipv4, ipv6 or any only
 * checks it), or a host name together with server = "ADDRESS" (or "system"):
 * the name is looked up at the start of every run through that server only
 * (resolve.h, a private evdns base), never through the system resolver.
 *
 * Sockets: the whole process shares ONE socket per address family, opened in
 * init() (before privileges are dropped): a raw socket when allowed, else an
 * unprivileged ping socket (SOCK_DGRAM, needs net.ipv4.ping_group_range).
 * All echoes of a family carry the same identifier (random for a raw socket,
 * the kernel-assigned one for a ping socket) and a sequence number taken from
 * a process-wide 16-bit space; a table of 65536 slots indexed by sequence
 * says which probe and which echo of its run a reply belongs to.  Dispatch is
 * therefore O(1) and nothing is allocated per packet.
 *
 * A reply counts only if identifier, sequence, source address, payload
 * length and the send timestamp carried in the payload all match: a raw
 * socket sees every ICMP message on the box (other pings, our own requests
 * on loopback), and a slot may be reused once the sequence space wraps.  A
 * socket filter (classic BPF) drops other types and identifiers in the
 * kernel.  Replies after the end of their run are counted as late and
 * dropped; duplicates are counted and ignored; corrupted replies (checksum,
 * length) are counted, logged at most once a minute, and dropped.
 *
 * RTTs use the kernel receive timestamp (SO_TIMESTAMPNS), so time spent
 * waiting in the event loop is not counted as network latency.
 */
#include <sys/socket.h>
#include <sys/random.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "icmp_parse.h"
#include "linewatch_plugin.h"
#include "log.h"
#include "plugin_util.h"
#include "probe_stats.h"
#include "resolve.h"

#define ICMP_MAX_COUNT 100
#define ICMP_MAX_SIZE 1472
#define ICMP_NSLOTS 65536
#define ICMP_RX_BATCH 32
#define ICMP_RX_BUFLEN 2048 /* IPv4 header with options + 8 + ICMP_MAX_SIZE */
#define ICMP_RCVBUF (1024 * 1024)
#define ICMP_LOG_EVERY_NS (60 * 1000000000LL)

#define DEF_COUNT 5
#define DEF_SPACING_MS 200
#define DEF_SIZE 56
#define DEF_WAIT_MS 1000

struct icmp_probe;

struct icmp_slot {
	struct icmp_probe *probe; /* NULL: free */
	uint8_t idx;              /* echo number within the probe's run */
};

/* One recvmmsg() batch: allocated with the socket, reused for every read. */
struct icmp_rx {
	struct mmsghdr msgs[ICMP_RX_BATCH];
	struct iovec iov[ICMP_RX_BATCH];
	struct sockaddr_storage from[ICMP_RX_BATCH];
	uint8_t ctrl[ICMP_RX_BATCH][CMSG_SPACE(sizeof(struct timespec))];
	uint8_t buf[ICMP_RX_BATCH][ICMP_RX_BUFLEN];
};

struct icmp_sock {
	const char *fam_name; /* "IPv4", "IPv6" */
	int family;
	int fd;
	int raw; /* raw socket: IPv4 replies start with the IP header */
	uint16_t id;
	uint16_t next_seq;
	unsigned inflight;
	struct icmp_slot *slots; /* ICMP_NSLOTS entries */
	struct event *ev;
	char err[256]; /* why the socket could not be opened */
	/* counters, for the log */
	uint64_t rx, foreign, late, corrupt, dup;
	uint64_t corrupt_logged;
	int64_t last_log_ns;
	struct icmp_rx *batch; /* receive batch, reused for every read */
};

struct icmp_conf {
	char host[256]; /* a name to resolve at every run, or "" (numeric target) */
	int family;     /* AF_UNSPEC: any */
	int count;
	int64_t spacing_ms;
	int64_t wait_ms;
	size_t size;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

enum { M_LOSS, M_MOS, M_RTT_MIN, M_RTT_AVG, M_RTT_MAX, M_RTT_MEDIAN, M_JITTER, M_N };

struct icmp_probe {
	char *name; /* "link/probe", for logs */
	struct icmp_conf conf;
	struct icmp_sock *sock; /* of the address family being probed */
	struct event *timer;
	int64_t timeout_ms;
	struct evdns_base *dns; /* name targets only */
	struct pu_lookup *lookup;

	/* the run in flight */
	int running;
	int resolving; /* a name target's address is being looked up */
	int resolve_err;
	char why[384]; /* set: the run failed before sending (unknown) */
	int nsent;
	int nrecv;
	int pending; /* sent, slot held, no reply yet */
	int ndup;
	int send_errno;
	int64_t start_ns;
	int64_t end_ns; /* hard end: the core's timeout minus a margin; 0 = none */
	lw_probe_done_cb done;
	void *arg;
	int64_t sent_ns[ICMP_MAX_COUNT]; /* CLOCK_MONOTONIC; also the payload cookie */
	double rtt[ICMP_MAX_COUNT];      /* ms, < 0: no reply yet */
	uint16_t seq[ICMP_MAX_COUNT];
	uint8_t held[ICMP_MAX_COUNT]; /* slot seq[i] belongs to us */

	/* the last result, borrowed by the core during done() */
	struct lw_probe_metric metrics[M_N];
	char msg[400];
};

static struct icmp_sock icmp_socks[2] = {
    {.fam_name = "IPv4", .family = AF_INET, .fd = -1},
    {.fam_name = "IPv6", .family = AF_INET6, .fd = -1},
};
static uint8_t icmp_txbuf[ICMP_HDR_LEN + ICMP_MAX_SIZE];
static struct event_base *icmp_base; /* for pu_lookups_shutdown() */

static void icmp_read_cb(evutil_socket_t fd, short what, void *arg);
static void icmp_finish(struct icmp_probe *p);
static void icmp_timer_cb(evutil_socket_t fd, short what, void *arg);

static int64_t
now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct icmp_sock *
sock_for(int family)
{
	return family == AF_INET6 ? &icmp_socks[1] : &icmp_socks[0];
}

/* Kernel filter for a raw socket: pass echo replies with our identifier only.
 * IPv4 raw sockets see the IP header first, IPv6 ones the ICMPv6 header. */
static int
sock_attach_filter(struct icmp_sock *s)
{
	struct sock_filter v4[] = {
	    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
	    BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP_V4_ECHO_REPLY, 0, 3),
	    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, s->id, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0xffff),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter v6[] = {
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP_V6_ECHO_REPLY, 0, 3),
	    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, s->id, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0xffff),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog;

	if (s->family == AF_INET6)
		prog = (struct sock_fprog){.len = sizeof(v6) / sizeof(v6[0]), .filter = v6};
	else
		prog = (struct sock_fprog){.len = sizeof(v4) / sizeof(v4[0]), .filter = v4};
	return setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* A ping socket's identifier is its local "port", assigned by bind(). */
static int
sock_bind_ping(struct icmp_sock *s)
{
	struct sockaddr_storage ss = {.ss_family = (sa_family_t)s->family};
	socklen_t len =
	    s->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if (bind(s->fd, (struct sockaddr *)&ss, len) == -1 ||
	    getsockname(s->fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (s->family == AF_INET6)
		s->id = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		s->id = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static int
sock_setup(struct icmp_sock *s)
{
	int one = 1, rcvbuf = ICMP_RCVBUF;

	if (setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == -1)
		return -1;
	/* best effort: a small buffer only costs replies under bursts */
	(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (s->raw) {
		if (getrandom(&s->id, sizeof(s->id), 0) != sizeof(s->id))
			s->id = (uint16_t)getpid();
		return sock_attach_filter(s);
	}
	return sock_bind_ping(s);
}

static void
sock_close(struct icmp_sock *s)
{
	if (s->fd != -1)
		log_debug("icmp: %s socket closed: %" PRIu64 " replies received, %" PRIu64
		          " foreign, %" PRIu64 " late, %" PRIu64 " duplicate, %" PRIu64 " corrupt",
		          s->fam_name, s->rx, s->foreign, s->late, s->dup, s->corrupt);
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	free(s->slots);
	s->slots = NULL;
	free(s->batch);
	s->batch = NULL;
	s->inflight = 0;
}

/* Open the family's shared socket: raw if we may, else a ping socket. */
static int
sock_open(struct icmp_sock *s, struct event_base *base)
{
	int proto = s->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	int raw_errno;

	if (s->fd != -1)
		return 0;
	s->raw = 1;
	s->fd = socket(s->family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (s->fd == -1) {
		raw_errno = errno;
		s->raw = 0;
		s->fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
		if (s->fd == -1) {
			snprintf(s->err, sizeof(s->err),
			         "no %s ICMP socket (raw: %s; ping: %s): needs root, CAP_NET_RAW "
			         "or net.ipv4.ping_group_range",
			         s->fam_name, strerror(raw_errno), strerror(errno));
			return -1;
		}
	}
	if (sock_setup(s) == -1) {
		snprintf(s->err, sizeof(s->err), "cannot set up the %s ICMP socket: %s",
		         s->fam_name, strerror(errno));
		sock_close(s);
		return -1;
	}
	s->slots = calloc(ICMP_NSLOTS, sizeof(*s->slots));
	s->batch = calloc(1, sizeof(*s->batch));
	s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, icmp_read_cb, s);
	if (s->slots == NULL || s->batch == NULL || s->ev == NULL || event_add(s->ev, NULL) == -1) {
		snprintf(s->err, sizeof(s->err), "cannot set up the %s ICMP socket: out of memory",
		         s->fam_name);
		sock_close(s);
		return -1;
	}
	for (int i = 0; i < ICMP_RX_BATCH; i++) {
		s->batch->iov[i] =
		    (struct iovec){.iov_base = s->batch->buf[i], .iov_len = ICMP_RX_BUFLEN};
		s->batch->msgs[i].msg_hdr.msg_iov = &s->batch->iov[i];
		s->batch->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	s->err[0] = '\0';
	log_debug("icmp: %s %s socket, identifier %u", s->fam_name, s->raw ? "raw" : "ping", s->id);
	return 0;
}

static int
icmp_init(struct event_base *base, char *err, size_t errlen)
{
	int ok = 0;

	icmp_base = base;
	for (int i = 0; i < 2; i++)
		if (sock_open(&icmp_socks[i], base) == 0)
			ok++;
	if (ok == 0) {
		snprintf(err, errlen, "%s", icmp_socks[0].err);
		return -1;
	}
	for (int i = 0; i < 2; i++)
		if (icmp_socks[i].fd == -1)
			log_warnx("icmp: %s probes unavailable: %s", icmp_socks[i].fam_name,
			          icmp_socks[i].err);
	return 0;
}

static void
icmp_fini(void)
{
	pu_lookups_shutdown(icmp_base);
	for (int i = 0; i < 2; i++)
		sock_close(&icmp_socks[i]);
}

/* --- configuration --- */

static int
opt_int(const char *v, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	return errno || end == v || *end != '\0' || *out < lo || *out > hi ? -1 : 0;
}

static int
opt_duration(const struct lw_probe_spec *spec, const char *key, int64_t def, int64_t *out,
             char *err, size_t errlen)
{
	if (pu_opt_duration(spec, key, def, out, err, errlen) == -1)
		return -1;
	if (*out < 1 || *out > 60000) {
		snprintf(err, errlen, "%s \"%s\" must be between 1ms and 60s", key,
		         lw_probe_opt(spec, key));
		return -1;
	}
	return 0;
}

/* A host name target: resolved at the start of every run, only through the
 * DNS server given with server = "ADDRESS" (or the system's with "system"),
 * so that a probe never depends on, or leaks to, a resolver nobody chose. */
static int
conf_name(const struct lw_probe_spec *spec, int family, struct icmp_conf *c, char *err,
          size_t errlen)
{
	const char *server = lw_probe_opt(spec, "server");
	const char *t = spec->target;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);

	if (strlen(t) >= sizeof(c->host) || t[0] == '.' || t[0] == '-' ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
	        strlen(t)) {
		snprintf(err, errlen, "target \"%s\" is neither an IP address nor a host name", t);
		return -1;
	}
	if (server == NULL) {
		snprintf(err, errlen,
		         "target \"%s\" is a name: give a numeric address, or set server = "
		         "\"ADDRESS\" (the DNS server to resolve it with) or server = \"system\"",
		         t);
		return -1;
	}
	if (strcmp(server, "system") != 0 &&
	    evutil_parse_sockaddr_port(server, (struct sockaddr *)&ss, &sslen) != 0) {
		snprintf(err, errlen,
		         "server \"%s\" is not an address (like 192.0.2.53 or [2001:db8::53]:5353)",
		         server);
		return -1;
	}
	snprintf(c->host, sizeof(c->host), "%s", t);
	c->family = family;
	return 0;
}

static int
conf_target(const struct lw_probe_spec *spec, int family, struct icmp_conf *c, char *err,
            size_t errlen)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_RAW};
	struct addrinfo *res = NULL;
	int rc;

	if (spec->target == NULL || spec->target[0] == '\0') {
		snprintf(err, errlen, "icmp needs a target address");
		return -1;
	}
	/* Numeric only here: names go to the probe's own DNS server. */
	hints.ai_family = AF_UNSPEC;
	rc = getaddrinfo(spec->target, NULL, &hints, &res);
	if (rc != 0 || res == NULL) {
		if (res)
			freeaddrinfo(res);
		return conf_name(spec, family, c, err, errlen);
	}
	if (family != AF_UNSPEC && res->ai_family != family) {
		snprintf(err, errlen, "target %s is an %s address but family is %s", spec->target,
		         res->ai_family == AF_INET6 ? "IPv6" : "IPv4",
		         family == AF_INET6 ? "ipv6" : "ipv4");
		freeaddrinfo(res);
		return -1;
	}
	if (res->ai_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr)) {
		snprintf(err, errlen, "target %s: write IPv4-mapped addresses in IPv4 form",
		         spec->target);
		freeaddrinfo(res);
		return -1;
	}
	memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
	c->addrlen = res->ai_addrlen;
	c->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}

static const char *const icmp_keys[] = {"count",  "spacing", "size",     "family", "wait",
                                        "server", "warning", "critical", NULL};

static int
conf_parse(const struct lw_probe_spec *spec, struct icmp_conf *c, char *err, size_t errlen)
{
	const char *v;
	long n;
	int family = AF_UNSPEC;

	if (pu_check_keys(spec, "icmp", icmp_keys, err, errlen) == -1)
		return -1;
	*c = (struct icmp_conf){.count = DEF_COUNT, .size = DEF_SIZE};
	if ((v = lw_probe_opt(spec, "count")) != NULL) {
		if (opt_int(v, 1, ICMP_MAX_COUNT, &n) == -1) {
			snprintf(err, errlen, "count \"%s\" must be a whole number from 1 to %d", v,
			         ICMP_MAX_COUNT);
			return -1;
		}
		c->count = (int)n;
	}
	if ((v = lw_probe_opt(spec, "size")) != NULL) {
		if (opt_int(v, 0, ICMP_MAX_SIZE, &n) == -1) {
			snprintf(err, errlen,
			         "size \"%s\" must be a payload size in bytes from 0 to %d", v,
			         ICMP_MAX_SIZE);
			return -1;
		}
		c->size = (size_t)n;
	}
	if ((v = lw_probe_opt(spec, "family")) != NULL) {
		if (strcmp(v, "ipv4") == 0)
			family = AF_INET;
		else if (strcmp(v, "ipv6") == 0)
			family = AF_INET6;
		else if (strcmp(v, "any") != 0) {
			snprintf(err, errlen, "family \"%s\" must be ipv4, ipv6 or any", v);
			return -1;
		}
	}
	if (opt_duration(spec, "spacing", DEF_SPACING_MS, &c->spacing_ms, err, errlen) == -1 ||
	    opt_duration(spec, "wait", DEF_WAIT_MS, &c->wait_ms, err, errlen) == -1)
		return -1;
	if (spec->timeout_ms > 0 && (c->count - 1) * c->spacing_ms >= spec->timeout_ms * 9 / 10) {
		snprintf(err, errlen,
		         "%d echoes %" PRId64 "ms apart do not fit in the probe timeout (%" PRId64
		         "ms): lower count or spacing, or raise timeout",
		         c->count, c->spacing_ms, spec->timeout_ms);
		return -1;
	}
	return conf_target(spec, family, c, err, errlen);
}

static int
icmp_check(const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct icmp_conf c;

	return conf_parse(spec, &c, err, errlen);
}

/* The shared socket(s) a probe of family (AF_UNSPEC: either) may use. */
static int
need_socket(int family, struct event_base *base, char *err, size_t errlen)
{
	int ok = 0;

	for (int i = 0; i < 2; i++) {
		struct icmp_sock *s = &icmp_socks[i];

		if (family != AF_UNSPEC && s->family != family)
			continue;
		if (s->fd != -1 || sock_open(s, base) == 0)
			ok = 1;
		else
			snprintf(err, errlen, "%s", s->err);
	}
	return ok ? 0 : -1;
}

static void *
icmp_create(struct event_base *base, const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	int64_t dns_ms = spec->timeout_ms > 0 ? spec->timeout_ms * 9 / 10 : 5000;
	struct icmp_probe *p;
	struct icmp_conf c;

	if (conf_parse(spec, &c, err, errlen) == -1)
		return NULL;
	if (icmp_base == NULL)
		icmp_base = base;
	if (need_socket(c.family, base, err, errlen) == -1)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto oom;
	p->conf = c;
	p->sock = c.host[0] ? NULL : sock_for(c.family); /* a name: known once resolved */
	p->timeout_ms = spec->timeout_ms;
	if (asprintf(&p->name, "%s/%s", spec->link ? spec->link : "-",
	             spec->name ? spec->name : "icmp") == -1) {
		p->name = NULL;
		goto oom;
	}
	if ((p->timer = evtimer_new(base, icmp_timer_cb, p)) == NULL)
		goto oom;
	if (c.host[0] != '\0' &&
	    (p->dns = pu_dns_new(base, lw_probe_opt(spec, "server"), dns_ms, err, errlen)) == NULL)
		goto fail;
	return p;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	if (p != NULL) {
		if (p->timer != NULL)
			event_free(p->timer);
		free(p->name);
		free(p);
	}
	return NULL;
}

/* --- a run --- */

static int
slot_take(struct icmp_sock *s, struct icmp_probe *p, int idx)
{
	uint16_t seq;

	if (s->inflight >= ICMP_NSLOTS)
		return -1;
	while (s->slots[s->next_seq].probe != NULL)
		s->next_seq++;
	seq = s->next_seq++;
	s->slots[seq] = (struct icmp_slot){.probe = p, .idx = (uint8_t)idx};
	s->inflight++;
	p->seq[idx] = seq;
	p->held[idx] = 1;
	return 0;
}

static void
slot_drop(struct icmp_probe *p, int idx)
{
	if (!p->held[idx])
		return;
	p->sock->slots[p->seq[idx]].probe = NULL;
	p->sock->inflight--;
	p->held[idx] = 0;
}

static void
icmp_send(struct icmp_probe *p)
{
	struct icmp_sock *s = p->sock;
	int idx = p->nsent++;
	size_t len;
	int64_t t;

	t = now_ns(CLOCK_MONOTONIC);
	p->sent_ns[idx] = t;
	p->rtt[idx] = -1;
	p->held[idx] = 0;
	if (slot_take(s, p, idx) == -1) {
		p->send_errno = ENOBUFS; /* 65536 echoes in flight */
		return;
	}
	len = icmp_echo_build(s->family == AF_INET6, 0, icmp_txbuf, sizeof(icmp_txbuf), s->id,
	                      p->seq[idx], (uint64_t)t, p->conf.size);
	errno = 0;
	if (sendto(s->fd, icmp_txbuf, len, 0, (struct sockaddr *)&p->conf.addr, p->conf.addrlen) !=
	    (ssize_t)len) {
		p->send_errno = errno ? errno : EMSGSIZE;
		slot_drop(p, idx);
		return;
	}
	p->pending++;
}

/* Arm the timer for the next echo, or for the end of the run. */
static void
icmp_schedule(struct icmp_probe *p)
{
	int64_t now = now_ns(CLOCK_MONOTONIC), at;
	struct timeval tv;

	if (p->nsent < p->conf.count)
		at = p->start_ns + p->nsent * p->conf.spacing_ms * 1000000LL;
	else if (p->pending > 0)
		at = p->sent_ns[p->nsent - 1] + p->conf.wait_ms * 1000000LL;
	else
		at = now; /* every send failed: report from the loop, not from run() */
	if (p->end_ns && at > p->end_ns)
		at = p->end_ns;
	if (at < now)
		at = now;
	tv.tv_sec = (at - now) / 1000000000LL;
	tv.tv_usec = (at - now) % 1000000000LL / 1000;
	evtimer_add(p->timer, &tv);
}

/* A name target's address arrived (or did not): carry on from the timer,
 * never from inside run() (evdns may answer before pu_lookup() returns). */
static void
icmp_resolved(int err, const struct sockaddr *sa, int salen, void *arg)
{
	struct icmp_probe *p = arg;
	struct timeval now = {0, 0};

	p->lookup = NULL;
	p->resolve_err = err;
	if (err == 0 && salen > 0 && (size_t)salen <= sizeof(p->conf.addr)) {
		memcpy(&p->conf.addr, sa, (size_t)salen);
		p->conf.addrlen = (socklen_t)salen;
	} else if (err == 0) {
		p->resolve_err = EVUTIL_EAI_FAIL;
	}
	evtimer_add(p->timer, &now);
}

/* The lookup of a name target ended or timed out: start sending, or fail. */
static void
icmp_resolve_end(struct icmp_probe *p)
{
	p->resolving = 0;
	if (p->lookup != NULL) {
		pu_lookup_abandon(p->lookup);
		p->lookup = NULL;
		snprintf(p->why, sizeof(p->why), "cannot resolve %s: no answer in time",
		         p->conf.host);
	} else if (p->resolve_err != 0) {
		snprintf(p->why, sizeof(p->why), "cannot resolve %s: %s", p->conf.host,
		         evutil_gai_strerror(p->resolve_err));
	} else {
		p->sock = sock_for(p->conf.addr.ss_family);
		if (p->sock->fd == -1)
			snprintf(p->why, sizeof(p->why), "%s", p->sock->err);
	}
	if (p->why[0] != '\0') {
		icmp_finish(p);
		return;
	}
	p->start_ns = now_ns(CLOCK_MONOTONIC); /* the echoes' schedule starts now */
	icmp_send(p);
	icmp_schedule(p);
}

static void
icmp_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct icmp_probe *p = arg;

	if (p->resolving) {
		icmp_resolve_end(p);
		return;
	}
	if (p->nsent < p->conf.count && (p->end_ns == 0 || now_ns(CLOCK_MONOTONIC) < p->end_ns)) {
		icmp_send(p);
		icmp_schedule(p);
		return;
	}
	icmp_finish(p);
}

/* Stop the run in flight, if any: no timer, no slots, no lookup. */
static void
icmp_stop(struct icmp_probe *p)
{
	evtimer_del(p->timer);
	for (int i = 0; i < p->nsent; i++)
		slot_drop(p, i);
	pu_lookup_abandon(p->lookup);
	p->lookup = NULL;
	p->resolving = 0;
	p->running = 0;
	p->done = NULL;
}

static void
icmp_run(void *inst, lw_probe_done_cb done, void *arg)
{
	struct icmp_probe *p = inst;
	struct timeval tv;
	int64_t guard_ms;

	if (p->running)
		icmp_stop(p);
	p->running = 1;
	p->done = done;
	p->arg = arg;
	p->nsent = p->nrecv = p->pending = p->ndup = 0;
	p->send_errno = 0;
	p->resolve_err = 0;
	p->why[0] = '\0';
	p->start_ns = now_ns(CLOCK_MONOTONIC);
	/* report before the core gives up on us at timeout_ms */
	p->end_ns = p->timeout_ms > 0 ? p->start_ns + p->timeout_ms * 900000LL : 0;
	if (p->conf.host[0] == '\0') {
		icmp_send(p);
		icmp_schedule(p);
		return;
	}
	/* a name: look it up first; the timer is the lookup's deadline */
	p->resolving = 1;
	guard_ms = p->timeout_ms > 0 ? p->timeout_ms * 9 / 10 : 5000;
	tv = (struct timeval){guard_ms / 1000, guard_ms % 1000 * 1000};
	evtimer_add(p->timer, &tv);
	p->lookup = pu_lookup(p->dns, p->conf.host, p->conf.family, icmp_resolved, p);
}

/* "0.042" below 1 ms, "12.3" above: integer formatting, cheaper than %f
 * on a path that runs for every echo of hundreds of targets. */
static const char *
fmt_ms(double v, char *buf, size_t len)
{
	long long us = v > 0 && v < 1e12 ? llround(v * 1000) : 0;

	if (us < 1000)
		snprintf(buf, len, "0.%03lld", us);
	else
		snprintf(buf, len, "%lld.%lld", (us + 50) / 1000, (us + 50) / 100 % 10);
	return buf;
}

static void
icmp_message(struct icmp_probe *p, const struct probe_stats *st)
{
	char a[32], b[32], c[32], d[32];
	size_t n;

	n = (size_t)snprintf(p->msg, sizeof(p->msg), "%u/%u lost", st->sent - st->received,
	                     st->sent);
	if (st->received > 0 && n < sizeof(p->msg))
		n += (size_t)snprintf(
		    p->msg + n, sizeof(p->msg) - n, ", rtt %s/%s/%s ms, jitter %s ms",
		    fmt_ms(st->rtt_min, a, sizeof(a)), fmt_ms(st->rtt_avg, b, sizeof(b)),
		    fmt_ms(st->rtt_max, c, sizeof(c)), fmt_ms(st->jitter, d, sizeof(d)));
	if (p->ndup > 0 && n < sizeof(p->msg))
		n += (size_t)snprintf(p->msg + n, sizeof(p->msg) - n, ", %d duplicate%s", p->ndup,
		                      p->ndup > 1 ? "s" : "");
	if (p->send_errno && n < sizeof(p->msg))
		snprintf(p->msg + n, sizeof(p->msg) - n, ", send failed: %s",
		         strerror(p->send_errno));
}

static void
icmp_finish(struct icmp_probe *p)
{
	double rtt[ICMP_MAX_COUNT], scratch[ICMP_MAX_COUNT];
	lw_probe_done_cb done = p->done;
	void *arg = p->arg;
	struct lw_probe_result res;
	struct probe_stats st;
	size_t n = 0;

	for (int i = 0; i < p->nsent; i++)
		if (p->rtt[i] >= 0)
			rtt[n++] = p->rtt[i];
	icmp_stop(p);
	probe_stats_compute(rtt, n, (unsigned)p->nsent, scratch, &st);
	p->metrics[M_LOSS] = (struct lw_probe_metric){"loss", "%", st.loss_pct};
	p->metrics[M_MOS] = (struct lw_probe_metric){"mos", "", st.mos};
	p->metrics[M_RTT_MIN] = (struct lw_probe_metric){"rtt_min", "ms", st.rtt_min};
	p->metrics[M_RTT_AVG] = (struct lw_probe_metric){"rtt_avg", "ms", st.rtt_avg};
	p->metrics[M_RTT_MAX] = (struct lw_probe_metric){"rtt_max", "ms", st.rtt_max};
	p->metrics[M_RTT_MEDIAN] = (struct lw_probe_metric){"rtt_median", "ms", st.rtt_median};
	p->metrics[M_JITTER] = (struct lw_probe_metric){"jitter", "ms", st.jitter};
	res = (struct lw_probe_result){
	    .status = st.received > 0 ? LW_PROBE_OK : LW_PROBE_CRITICAL,
	    .message = p->msg,
	    .metrics = p->metrics,
	    .nmetrics = M_N,
	};
	if (st.received == 0) /* no round trip: unknown, not 0 */
		for (int i = M_RTT_MIN; i <= M_JITTER; i++)
			p->metrics[i].value = NAN;
	if (p->why[0] != '\0') {
		/* nothing was sent: no measurement at all */
		res.status = LW_PROBE_UNKNOWN;
		snprintf(p->msg, sizeof(p->msg), "%s", p->why);
		for (int i = 0; i < M_N; i++)
			p->metrics[i].value = NAN;
	} else {
		icmp_message(p, &st);
	}
	if (done)
		done(&res, arg); /* last: the core may destroy p from here */
}

static void
icmp_cancel(void *inst)
{
	icmp_stop(inst);
}

static void
icmp_destroy(void *inst)
{
	struct icmp_probe *p = inst;

	if (p == NULL)
		return;
	icmp_stop(p);
	event_free(p->timer);
	if (p->dns != NULL)
		evdns_base_free(p->dns, 1); /* an abandoned lookup ends and frees itself */
	free(p->name);
	free(p);
}

/* --- replies --- */

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr,
		              sizeof(struct in6_addr)) == 0;
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

static void
icmp_corrupt(struct icmp_sock *s, const char *why, const struct sockaddr_storage *from,
             int64_t mono)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	s->corrupt++;
	if (s->last_log_ns != 0 && mono - s->last_log_ns < ICMP_LOG_EVERY_NS)
		return;
	s->last_log_ns = mono;
	if (from->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)from)->sin6_addr, addr,
		          sizeof(addr));
	else if (from->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)from)->sin_addr, addr,
		          sizeof(addr));
	log_warnx("icmp: dropped a corrupt %s echo reply from %s: %s (%" PRIu64
	          " dropped since start, %" PRIu64 " since the last message)",
	          s->fam_name, addr, why, s->corrupt, s->corrupt - s->corrupt_logged);
	s->corrupt_logged = s->corrupt;
}

/* The kernel receive time on the monotonic clock. */
static int64_t
rx_time(struct msghdr *h, int64_t mono, int64_t real)
{
	struct cmsghdr *cm;
	struct timespec ts;

	for (cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		return mono - (real - ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec));
	}
	return mono;
}

static void
icmp_handle(struct icmp_sock *s, int i, int64_t mono, int64_t real)
{
	struct msghdr *h = &s->batch->msgs[i].msg_hdr;
	const struct sockaddr_storage *from = &s->batch->from[i];
	size_t len = s->batch->msgs[i].msg_len;
	struct icmp_probe *p;
	struct icmp_echo e;
	int rc, idx;
	double rtt;

	s->rx++;
	if (h->msg_flags & MSG_TRUNC) {
		icmp_corrupt(s, "truncated", from, mono);
		return;
	}
	if (s->family == AF_INET6)
		rc = icmp_parse_reply6(s->batch->buf[i], len, NULL, NULL, &e);
	else
		rc = icmp_parse_reply4(s->batch->buf[i], len, s->raw, &e);
	if (rc == ICMP_PARSE_NOT_REPLY) {
		s->foreign++;
		return;
	}
	if (rc != ICMP_PARSE_OK) {
		icmp_corrupt(s, icmp_parse_strerror(rc), from, mono);
		return;
	}
	if (e.id != s->id) {
		s->foreign++; /* another ping on this box */
		return;
	}
	p = s->slots[e.seq].probe;
	if (p == NULL) {
		s->late++;
		return;
	}
	idx = s->slots[e.seq].idx;
	if (!same_addr(&p->conf.addr, from)) {
		s->foreign++;
		return;
	}
	if (e.payload_len != p->conf.size) {
		icmp_corrupt(s, "payload length differs from the request", from, mono);
		return;
	}
	if (e.has_ts && e.ts != (uint64_t)p->sent_ns[idx]) {
		s->late++; /* an earlier echo with the same sequence number */
		return;
	}
	if (p->rtt[idx] >= 0) {
		s->dup++;
		p->ndup++;
		return;
	}
	rtt = (double)(rx_time(h, mono, real) - p->sent_ns[idx]) / 1e6;
	p->rtt[idx] = rtt > 0 ? rtt : 0;
	p->nrecv++;
	p->pending--;
	if (p->nsent == p->conf.count && p->pending == 0)
		icmp_finish(p);
}

static void
icmp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct icmp_sock *s = arg;
	int64_t mono, real;
	int n;

	for (int i = 0; i < ICMP_RX_BATCH; i++) {
		struct msghdr *h = &s->batch->msgs[i].msg_hdr;

		h->msg_name = &s->batch->from[i];
		h->msg_namelen = sizeof(s->batch->from[i]);
		h->msg_control = s->batch->ctrl[i];
		h->msg_controllen = sizeof(s->batch->ctrl[i]);
		h->msg_flags = 0;
	}
	n = recvmmsg(fd, s->batch->msgs, ICMP_RX_BATCH, MSG_DONTWAIT, NULL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("icmp: %s receive", s->fam_name);
		return;
	}
	mono = now_ns(CLOCK_MONOTONIC);
	real = now_ns(CLOCK_REALTIME);
	for (int i = 0; i < n; i++)
		icmp_handle(s, i, mono, real);
}

const struct lw_plugin linewatch_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "icmp",
    .init = icmp_init,
    .fini = icmp_fini,
    .check = icmp_check,
    .create = icmp_create,
    .run = icmp_run,
    .cancel = icmp_cancel,
    .destroy = icmp_destroy,
};
