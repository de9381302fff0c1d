/* icmp.c - ICMP / ICMPv6 echo probe plugin.
 *
 * A run sends `count` echoes `spacing` apart to one numeric address and
 * reports loss, round-trip times, jitter and a MOS estimate.
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
 *
 * The options "warning" and "critical" are accepted and ignored: a run is
 * critical only when every echo is lost; degradation is decided by the
 * detector from the loss and latency metrics.
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
	struct icmp_sock *sock;
	struct event *timer;
	int64_t timeout_ms;

	/* the run in flight */
	int running;
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
	char msg[200];
};

static struct icmp_sock icmp_socks[2] = {
    {.fam_name = "IPv4", .family = AF_INET, .fd = -1},
    {.fam_name = "IPv6", .family = AF_INET6, .fd = -1},
};
static uint8_t icmp_txbuf[ICMP_HDR_LEN + ICMP_MAX_SIZE];

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
	/* No system resolver: a probe must not depend on, or leak to, DNS. */
	hints.ai_family = AF_UNSPEC;
	rc = getaddrinfo(spec->target, NULL, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen,
		         "target \"%s\" must be a numeric IPv4 or IPv6 address (host names are not "
		         "resolved)",
		         spec->target);
		if (res)
			freeaddrinfo(res);
		return -1;
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
	freeaddrinfo(res);
	return 0;
}

static const char *const icmp_keys[] = {"count", "spacing", "size",     "family",
                                        "wait",  "warning", "critical", NULL};

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

static void *
icmp_create(struct event_base *base, const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct icmp_probe *p;
	struct icmp_conf c;
	struct icmp_sock *s;

	if (conf_parse(spec, &c, err, errlen) == -1)
		return NULL;
	s = sock_for(c.addr.ss_family);
	if (s->fd == -1 && sock_open(s, base) == -1) {
		snprintf(err, errlen, "%s", s->err);
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    asprintf(&p->name, "%s/%s", spec->link ? spec->link : "-",
	             spec->name ? spec->name : "icmp") == -1) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->conf = c;
	p->sock = s;
	p->timeout_ms = spec->timeout_ms;
	p->timer = evtimer_new(base, icmp_timer_cb, p);
	if (p->timer == NULL) {
		free(p->name);
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return p;
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

	p->rtt[idx] = -1;
	p->held[idx] = 0;
	if (slot_take(s, p, idx) == -1) {
		p->send_errno = ENOBUFS;
		return;
	}
	t = now_ns(CLOCK_MONOTONIC);
	p->sent_ns[idx] = t;
	len = icmp_echo_build(s->family == AF_INET6, 0, icmp_txbuf, sizeof(icmp_txbuf), s->id,
	                      p->seq[idx], (uint64_t)t, p->conf.size);
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

static void
icmp_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct icmp_probe *p = arg;

	if (p->nsent < p->conf.count && (p->end_ns == 0 || now_ns(CLOCK_MONOTONIC) < p->end_ns)) {
		icmp_send(p);
		icmp_schedule(p);
		return;
	}
	icmp_finish(p);
}

static void
icmp_run(void *inst, lw_probe_done_cb done, void *arg)
{
	struct icmp_probe *p = inst;

	if (p->running) {
		evtimer_del(p->timer);
		for (int i = 0; i < p->nsent; i++)
			slot_drop(p, i);
	}
	p->running = 1;
	p->done = done;
	p->arg = arg;
	p->nsent = p->nrecv = p->pending = p->ndup = 0;
	p->send_errno = 0;
	p->start_ns = now_ns(CLOCK_MONOTONIC);
	/* report before the core gives up on us at timeout_ms */
	p->end_ns = p->timeout_ms > 0 ? p->start_ns + p->timeout_ms * 900000LL : 0;
	icmp_send(p);
	icmp_schedule(p);
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
	struct lw_probe_result res;
	struct probe_stats st;
	lw_probe_done_cb done = p->done;
	size_t n = 0;

	evtimer_del(p->timer);
	for (int i = 0; i < p->nsent; i++) {
		slot_drop(p, i);
		if (p->rtt[i] >= 0)
			rtt[n++] = p->rtt[i];
	}
	p->running = 0;
	p->done = NULL;
	probe_stats_compute(rtt, n, (unsigned)p->nsent, scratch, &st);
	icmp_message(p, &st);
	p->metrics[M_LOSS] = (struct lw_probe_metric){"loss", "%", st.loss_pct};
	p->metrics[M_MOS] = (struct lw_probe_metric){"mos", "", st.mos};
	p->metrics[M_RTT_MIN] = (struct lw_probe_metric){"rtt_min", "ms", st.rtt_min};
	p->metrics[M_RTT_AVG] = (struct lw_probe_metric){"rtt_avg", "ms", st.rtt_avg};
	p->metrics[M_RTT_MAX] = (struct lw_probe_metric){"rtt_max", "ms", st.rtt_max};
	p->metrics[M_RTT_MEDIAN] = (struct lw_probe_metric){"rtt_median", "ms", st.rtt_median};
	p->metrics[M_JITTER] = (struct lw_probe_metric){"jitter", "ms", st.jitter};
	if (st.received == 0) /* no round trip: unknown, not 0 */
		for (int i = M_RTT_MIN; i <= M_JITTER; i++)
			p->metrics[i].value = NAN;
	res = (struct lw_probe_result){
	    .status = st.received > 0 ? LW_PROBE_OK : LW_PROBE_CRITICAL,
	    .message = p->msg,
	    .metrics = p->metrics,
	    .nmetrics = M_N,
	};
	if (done)
		done(&res, p->arg); /* last: the core may destroy p from here */
}

static void
icmp_cancel(void *inst)
{
	struct icmp_probe *p = inst;

	if (!p->running)
		return;
	evtimer_del(p->timer);
	for (int i = 0; i < p->nsent; i++)
		slot_drop(p, i);
	p->running = 0;
	p->done = NULL;
}

static void
icmp_destroy(void *inst)
{
	struct icmp_probe *p = inst;

	if (p == NULL)
		return;
	icmp_cancel(p);
	event_free(p->timer);
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
