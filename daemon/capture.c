/* capture.c - libpcap capture threads and their hand-off to the event loop */
#include <sys/time.h>

#include <arpa/inet.h>
#include <poll.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appclass_load.h"
#include "capture.h"
#include "decode.h"
#include "evidence.h"
#include "log.h"
#include "pcap_lib.h"
#include "traffic.h"
#include "traffic_db.h"

#define CAPTURE_TOP 50         /* entries per table in each interval report */
#define CAPTURE_TIMEOUT_MS 250 /* longest wait in pcap_dispatch: stop, evidence, interval */
#define EVIDENCE_PENDING 8     /* trigger requests waiting for the thread */
#define EVIDENCE_ACTIVE 4      /* files written at once */
#define EVIDENCE_DONE 8        /* completions waiting for the loop */
#define REF_MAX 96

struct ev_request {
	char ref[REF_MAX];
	time_t t;      /* the ticket's opening second: the ring is kept from ring before it */
	int64_t at_us; /* when asked: evidence-after counts from here, not from t's whole second */
};

struct ev_active {
	struct evidence_file *f;
	char name[EVIDENCE_NAME_MAX + 8];
	int64_t until_us;
};

struct ev_done {
	char name[EVIDENCE_NAME_MAX + 8];
	uint64_t packets;
	int ok;
};

struct capture {
	struct captures *cs;
	/* immutable once started */
	char *name, *interface, *link, *filter;
	const struct pcap_lib *pl;
	int linktype;
	uint32_t snaplen;
	uint32_t sample_n;
	int64_t interval_us;
	int64_t ring_ms, evidence_after_ms, evidence_max_age_ms;
	uint64_t evidence_max_bytes;
	int payload;
	int applications;
	uint64_t memory, buffer; /* as configured (buffer 0: the default share) */
	struct traffic_budget budget;
	pcap_t *pcap;
	pthread_t thread;
	int started;
	atomic_int stop;
	struct event *ev;

	const struct lw_appclass *ac; /* appclass-ndpi.so's table, with apps */

	/* capture thread only */
	struct traffic_agg *agg;
	struct appclass *apps;     /* NULL: services named by port only */
	appclass_add_fn *classify; /* ac->add, taken once */
	struct evring *ring;
	struct traffic_report *work;
	uint32_t skip;
	int64_t next_flush_us;
	struct timeval istart;
	unsigned int last_drop, last_ifdrop;
	struct ev_active active[EVIDENCE_ACTIVE];

	/* shared, under lock */
	pthread_mutex_t lock;
	struct traffic_report *ready;
	int has_ready;
	uint64_t lost_reports;
	struct ev_request pending[EVIDENCE_PENDING];
	size_t npending;
	struct ev_done done[EVIDENCE_DONE];
	size_t ndone;
	int running;
	char error[PCAP_ERRBUF_SIZE + 64];

	/* event loop only */
	struct traffic_report *latest;
	int have_latest;
	uint64_t total_pkts, total_bytes, total_drops, total_ifdrops;
};

struct captures {
	struct event_base *base;
	struct lw_bus *bus;
	struct traffic_db *db;
	char evdir[PATH_MAX];
	struct capture **v;
	size_t n;
	void *appdl; /* appclass-ndpi.so, open while a capture classifies */
	const struct lw_appclass *ac;
};

static int64_t
tv_us(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

/* --- capture thread ---------------------------------------------------- */

/* Bytes of a frame worth keeping as evidence: headers, not payload (unless
 * the configuration asks for payload).  ICMP errors keep the quoted header. */
static uint32_t
header_bytes(enum decode_result r, const struct decode_pkt *p, const uint8_t *b, uint32_t caplen)
{
	uint32_t n;

	if (r == DECODE_NOT_IP)
		return caplen < 64 ? caplen : 64;
	if (r != DECODE_OK || (p->flags & DECODE_F_TUNNEL))
		return caplen;
	if (p->flags & DECODE_F_INNER) {
		/* the tunnelled IP header and its ports are headers too */
		n = p->inner_off + (p->inner_family == 4 ? 20 + 40 : 40 + 64);
		return n < caplen ? n : caplen;
	}
	if (p->l4_off == 0) {
		n = p->l3_off + (p->family == 4 ? 20 + 40 : 40 + 64);
		return n < caplen ? n : caplen;
	}
	switch (p->proto) {
	case 6:
		n = caplen > p->l4_off + 12 ? p->l4_off + (uint32_t)(b[p->l4_off + 12] >> 4) * 4
		                            : caplen;
		break;
	case 1:
	case 58:
		if ((p->proto == 1 &&
		     (p->icmp_type == 3 || p->icmp_type == 11 || p->icmp_type == 12)) ||
		    (p->proto == 58 && p->icmp_type < 5))
			return caplen;
		n = p->l4_off + 8;
		break;
	default:
		n = p->l4_off + 8;
		break;
	}
	return n < caplen ? n : caplen;
}

static void
on_packet(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)arg;
	struct decode_pkt pkt;
	enum decode_result r;
	uint32_t keep;

	traffic_agg_frame(c->agg, h->len);
	r = decode_packet(c->linktype, bytes, h->caplen, &pkt);
	if (c->sample_n <= 1 || ++c->skip >= c->sample_n) {
		c->skip = 0;
		traffic_agg_add(c->agg, r, &pkt, h->len, c->sample_n);
		if (c->apps)
			c->classify(c->apps, r, &pkt, bytes, h->caplen, h->len, c->sample_n,
			            &h->ts);
	}
	keep = c->payload ? h->caplen : header_bytes(r, &pkt, bytes, h->caplen);
	/* classifying captures more than the configured snaplen: not for evidence */
	if (keep > c->snaplen)
		keep = c->snaplen;
	evring_push(c->ring, &h->ts, keep, h->len, bytes);
	for (int i = 0; i < EVIDENCE_ACTIVE; i++)
		if (c->active[i].f != NULL)
			evidence_write(c->active[i].f, &h->ts, keep, h->len, bytes);
}

static void
notify(struct capture *c)
{
	event_active(c->ev, EV_READ, 0);
}

static void
flush_interval(struct capture *c, const struct timeval *now)
{
	struct traffic_report *t;
	struct pcap_stat ps;

	traffic_agg_flush(c->agg, c->work);
	if (c->apps)
		c->ac->flush(c->apps, c->work, false);
	c->work->start = c->istart;
	c->work->end = *now;
	c->work->sample_n = c->sample_n;
	c->work->drops_valid = 0;
	if (c->pl->stats(c->pcap, &ps) == 0) {
		/* 32-bit counters since open: unsigned difference survives a wrap */
		c->work->drops = (unsigned int)(ps.ps_drop - c->last_drop);
		c->work->ifdrops = (unsigned int)(ps.ps_ifdrop - c->last_ifdrop);
		c->work->drops_valid = 1;
		c->last_drop = ps.ps_drop;
		c->last_ifdrop = ps.ps_ifdrop;
	}
	c->istart = *now;
	while (c->next_flush_us <= tv_us(now))
		c->next_flush_us += c->interval_us;

	pthread_mutex_lock(&c->lock);
	t = c->ready;
	c->ready = c->work;
	c->work = t;
	if (c->has_ready)
		c->lost_reports++;
	c->has_ready = 1;
	pthread_mutex_unlock(&c->lock);
	notify(c);
}

struct dump_arg {
	struct evidence_file *f;
};

static void
dump_frame(const struct timeval *ts, uint32_t caplen, uint32_t wirelen, const uint8_t *data,
           void *arg)
{
	struct dump_arg *d = arg;

	evidence_write(d->f, ts, caplen, wirelen, data);
}

static void
finish_evidence(struct capture *c, struct ev_active *a)
{
	uint64_t n = evidence_packets(a->f);
	int ok = evidence_close(a->f) == 0;

	a->f = NULL;
	evidence_rotate(c->cs->evdir, c->evidence_max_bytes, c->evidence_max_age_ms, time(NULL));
	pthread_mutex_lock(&c->lock);
	if (c->ndone < EVIDENCE_DONE) {
		struct ev_done *d = &c->done[c->ndone++];

		memcpy(d->name, a->name, sizeof(d->name)); /* same size, NUL-terminated */
		d->packets = n;
		d->ok = ok;
	}
	pthread_mutex_unlock(&c->lock);
	notify(c);
}

static void
start_evidence(struct capture *c, const struct ev_request *rq)
{
	struct ev_active *a = NULL;
	struct dump_arg d;
	struct timeval since = {.tv_sec = rq->t - (time_t)(c->ring_ms / 1000)};

	for (int i = 0; i < EVIDENCE_ACTIVE; i++)
		if (c->active[i].f == NULL) {
			a = &c->active[i];
			break;
		}
	if (a == NULL || evidence_file_name(c->name, rq->ref, a->name, sizeof(a->name)) != 0)
		return;
	a->f = evidence_open(c->cs->evdir, a->name, c->linktype, evring_snaplen(c->ring));
	if (a->f == NULL) {
		log_warn("capture %s: evidence %s/%s", c->name, c->cs->evdir, a->name);
		return;
	}
	a->until_us = rq->at_us + c->evidence_after_ms * 1000;
	if (a->until_us < ((int64_t)rq->t * 1000 + c->evidence_after_ms) * 1000)
		a->until_us = ((int64_t)rq->t * 1000 + c->evidence_after_ms) * 1000;
	d.f = a->f;
	evring_walk(c->ring, &since, dump_frame, &d);
}

static void
service_evidence(struct capture *c, const struct timeval *now)
{
	struct ev_request rq[EVIDENCE_PENDING];
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->npending;
	memcpy(rq, c->pending, n * sizeof(rq[0]));
	c->npending = 0;
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		start_evidence(c, &rq[i]);
	for (int i = 0; i < EVIDENCE_ACTIVE; i++)
		if (c->active[i].f != NULL && tv_us(now) >= c->active[i].until_us)
			finish_evidence(c, &c->active[i]);
}

static void *
capture_main(void *arg)
{
	struct capture *c = arg;
	struct pollfd pfd = {.fd = c->pl->get_selectable_fd(c->pcap), .events = POLLIN};
	struct timeval now;
	int n, pollerr = 0;

	gettimeofday(&c->istart, NULL);
	/* intervals end on multiples of the interval (the minute, ...) */
	c->next_flush_us = tv_us(&c->istart) - tv_us(&c->istart) % c->interval_us + c->interval_us;
	while (!atomic_load(&c->stop)) {
		/* non-blocking: with TPACKET_V3 a blocking read would wait for
		 * the next packet forever on an idle link, and the interval,
		 * evidence files and stop requests with it */
		n = c->pl->dispatch(c->pcap, -1, on_packet, (u_char *)c);
		if (n == 0 && poll(&pfd, 1, CAPTURE_TIMEOUT_MS) == -1 && errno != EINTR) {
			pollerr = errno;
			n = PCAP_ERROR;
		}
		gettimeofday(&now, NULL);
		if (n == PCAP_ERROR) {
			pthread_mutex_lock(&c->lock);
			snprintf(c->error, sizeof(c->error), "%s",
			         pollerr ? strerror(pollerr) : c->pl->geterr(c->pcap));
			c->running = 0;
			pthread_mutex_unlock(&c->lock);
			notify(c);
			break;
		}
		service_evidence(c, &now);
		if (tv_us(&now) >= c->next_flush_us)
			flush_interval(c, &now);
	}
	/* keep what the evidence files have so far */
	for (int i = 0; i < EVIDENCE_ACTIVE; i++)
		if (c->active[i].f != NULL) {
			evidence_close(c->active[i].f);
			c->active[i].f = NULL;
		}
	return NULL;
}

/* --- event loop side ----------------------------------------------------- */

static void
publish(struct capture *c, const struct traffic_report *r)
{
	double secs = traffic_report_seconds(r);
	uint64_t bad = 0;
	char msg[128];
	struct lw_metric m[9];
	struct lw_sample s = {
	    .kind = LW_SUBJ_CAPTURE,
	    .link = c->link,
	    .name = c->name,
	    .ts = r->end,
	    .interval_ms = c->interval_us / 1000,
	    .status = LW_OK,
	    .metrics = m,
	    .nmetrics = 9,
	};
	static const char *const names[TC_N] = {"tcp_bps", "udp_bps", "icmp_bps", "other_bps"};

	for (int i = DECODE_OK + 1; i < DECODE_NRESULTS; i++)
		if (i != DECODE_NOT_IP)
			bad += r->malformed[i];
	m[0] = (struct lw_metric){"total_bps", "bps", secs > 0 ? (double)r->bytes * 8 / secs : 0,
	                          secs > 0};
	for (int i = 0; i < TC_N; i++)
		m[1 + i] = (struct lw_metric){
		    names[i], "bps", secs > 0 ? (double)r->class_bytes[i] * 8 / secs : 0, secs > 0};
	m[5] = (struct lw_metric){"pps", "pps", secs > 0 ? (double)r->pkts / secs : 0, secs > 0};
	m[6] = (struct lw_metric){"drops", "packets", (double)r->drops, r->drops_valid};
	m[7] = (struct lw_metric){"interface_drops", "packets", (double)r->ifdrops, r->drops_valid};
	m[8] = (struct lw_metric){"undecoded", "packets", (double)bad, true};
	if (r->drops_valid && r->drops > 0) {
		snprintf(msg, sizeof(msg),
		         "%llu packets dropped by the kernel: traffic figures are "
		         "low",
		         (unsigned long long)r->drops);
		s.status = LW_WARNING;
		s.message = msg;
	}
	sample_publish(c->cs->bus, &s);
}

static void
on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = arg;
	struct ev_done done[EVIDENCE_DONE];
	struct traffic_report *t;
	size_t ndone;
	int got;
	char err[sizeof(c->error)];

	pthread_mutex_lock(&c->lock);
	got = c->has_ready;
	if (got) {
		t = c->latest;
		c->latest = c->ready;
		c->ready = t;
		c->has_ready = 0;
	}
	ndone = c->ndone;
	memcpy(done, c->done, ndone * sizeof(done[0]));
	c->ndone = 0;
	snprintf(err, sizeof(err), "%s", c->error);
	pthread_mutex_unlock(&c->lock);

	if (got) {
		c->have_latest = 1;
		c->total_pkts += c->latest->pkts;
		c->total_bytes += c->latest->bytes;
		c->total_drops += c->latest->drops;
		c->total_ifdrops += c->latest->ifdrops;
		if (c->latest->drops_valid && c->latest->drops > 0)
			log_warnx(
			    "capture %s: %llu packets dropped by the kernel in the last interval",
			    c->name, (unsigned long long)c->latest->drops);
		publish(c, c->latest);
		if (c->cs->db != NULL && traffic_db_save(c->cs->db, c->name, c->latest) != 0)
			log_warnx("capture %s: traffic database is behind, interval not stored",
			          c->name);
	}
	for (size_t i = 0; i < ndone; i++) {
		if (done[i].ok)
			log_info("capture %s: evidence %s written (%llu packets)", c->name,
			         done[i].name, (unsigned long long)done[i].packets);
		else
			log_warnx("capture %s: evidence %s failed", c->name, done[i].name);
	}
	if (err[0] != '\0' && c->started == 1) {
		log_warnx("capture %s on %s stopped: %s", c->name, c->interface, err);
		c->started = 2; /* say it once */
	}
}

/* --- start and stop ------------------------------------------------------ */

static void
add_interface_networks(struct capture *c)
{
	pcap_if_t *all = NULL;
	char err[PCAP_ERRBUF_SIZE];

	if (c->pl->findalldevs(&all, err) != 0)
		return;
	for (pcap_if_t *d = all; d != NULL; d = d->next) {
		if (strcmp(d->name, c->interface) != 0)
			continue;
		for (pcap_addr_t *a = d->addresses; a != NULL; a = a->next) {
			int bits = 0;

			if (a->addr == NULL || a->netmask == NULL)
				continue;
			if (a->addr->sa_family == AF_INET) {
				const struct sockaddr_in *m = (const void *)a->netmask;

				bits = __builtin_popcount(m->sin_addr.s_addr);
				traffic_agg_add_local(
				    c->agg, 4,
				    &((const struct sockaddr_in *)(const void *)a->addr)->sin_addr,
				    bits);
			} else if (a->addr->sa_family == AF_INET6) {
				const struct sockaddr_in6 *m = (const void *)a->netmask;

				for (int i = 0; i < 16; i++)
					bits += __builtin_popcount(m->sin6_addr.s6_addr[i]);
				traffic_agg_add_local(
				    c->agg, 6,
				    &((const struct sockaddr_in6 *)(const void *)a->addr)
				         ->sin6_addr,
				    bits);
			}
		}
	}
	c->pl->freealldevs(all);
}

/* The first capture that classifies applications (NULL: none does or this
 * linewatchd is built without nDPI). */
static const struct lw_capture *
wants_applications(const struct lw_config *cfg)
{
	for (size_t i = 0; appclass_built() && i < cfg->ncaptures; i++)
		if (cfg->captures[i].applications)
			return &cfg->captures[i];
	return NULL;
}

int
capture_check_config(const struct lw_config *cfg, config_error_cb cb, void *arg)
{
	const struct lw_capture *apps = wants_applications(cfg);
	const struct lw_appclass *t;
	const struct pcap_lib *pl;
	struct bpf_program prog;
	char msg[PATH_MAX + 768], why[PATH_MAX + 256], err[PCAP_ERRBUF_SIZE];
	int nerr = 0;
	void *dl;

	if (cfg->ncaptures == 0)
		return 0;
	if ((pl = pcap_lib(err)) == NULL) {
		snprintf(msg, sizeof(msg), "%s:%d: capture \"%s\": %s", cfg->file,
		         cfg->captures[0].line, cfg->captures[0].name, err);
		cb(msg, arg);
		return 1;
	}
	for (size_t i = 0; i < cfg->ncaptures; i++) {
		const struct lw_capture *cc = &cfg->captures[i];
		pcap_t *p;

		if (cc->filter == NULL || cc->filter[0] == '\0')
			continue;
		/* the link type of the interface is unknown here: Ethernet is the
		 * usual one, and a filter's syntax does not depend on it */
		if ((p = pl->open_dead(DLT_EN10MB, cc->snaplen)) == NULL)
			continue;
		if (pl->compile(p, &prog, cc->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			snprintf(msg, sizeof(msg), "%s:%d: capture \"%s\": filter \"%.200s\": %s",
			         cfg->file, cc->line, cc->name, cc->filter, pl->geterr(p));
			cb(msg, arg);
			nerr++;
		} else
			pl->freecode(&prog);
		pl->close(p);
	}
	if (apps == NULL)
		return nerr;
	/* the plugin is loaded here, as probe plugins are, so that -t, start-up
	 * and reload refuse a configuration whose classification cannot run */
	dl = appclass_open(cfg->plugin_dir ? cfg->plugin_dir : ".", &t, why, sizeof(why));
	if (dl == NULL) {
		snprintf(msg, sizeof(msg), "%s:%d: capture \"%s\": %s", cfg->file, apps->line,
		         apps->name, why);
		cb(msg, arg);
		nerr++;
	}
	appclass_close(dl);
	return nerr;
}

static int
open_pcap(struct capture *c, const struct lw_capture *cc)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	int rc;

	if ((c->pcap = c->pl->create(c->interface, err)) == NULL) {
		log_warnx("capture %s: %s", c->name, err);
		return -1;
	}
	/* nDPI needs payload (names in TLS hellos, HTTP requests, DNS queries) */
	c->pl->set_snaplen(c->pcap, c->apps && cc->snaplen < APPCLASS_SNAPLEN ? APPCLASS_SNAPLEN
	                                                                      : cc->snaplen);
	c->pl->set_promisc(c->pcap, 1);
	c->pl->set_timeout(c->pcap, CAPTURE_TIMEOUT_MS);
	/* batches of packets per wake-up: the kernel fills whole blocks */
	c->pl->set_immediate_mode(c->pcap, 0);
	/* the kernel ring is mmapped: resident memory, part of the budget */
	if (c->pl->set_buffer_size(
	        c->pcap, c->budget.kernel > INT32_MAX ? INT32_MAX : (int)c->budget.kernel) != 0)
		log_warnx("capture %s: cannot set the kernel buffer size", c->name);
	rc = c->pl->activate(c->pcap);
	if (rc < 0) {
		log_warnx("capture %s: cannot capture on %s: %s%s", c->name, c->interface,
		          c->pl->geterr(c->pcap),
		          rc == PCAP_ERROR_PERM_DENIED
		              ? " (linewatchd must start as root or with CAP_NET_RAW)"
		              : "");
		return -1;
	}
	if (rc > 0)
		log_warnx("capture %s on %s: %s", c->name, c->interface, c->pl->geterr(c->pcap));
	if (c->filter != NULL && c->filter[0] != '\0') {
		if (c->pl->compile(c->pcap, &prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			log_warnx("capture %s: filter \"%s\": %s", c->name, c->filter,
			          c->pl->geterr(c->pcap));
			return -1;
		}
		rc = c->pl->setfilter(c->pcap, &prog);
		c->pl->freecode(&prog);
		if (rc != 0) {
			log_warnx("capture %s: filter: %s", c->name, c->pl->geterr(c->pcap));
			return -1;
		}
	}
	if (c->pl->setnonblock(c->pcap, 1, err) != 0 || c->pl->get_selectable_fd(c->pcap) == -1) {
		log_warnx("capture %s: cannot read %s without blocking: %s", c->name, c->interface,
		          err);
		return -1;
	}
	c->linktype = c->pl->datalink(c->pcap);
	if (!decode_link_supported(c->linktype))
		log_warnx("capture %s: link type %s of %s is not decoded: only totals are counted",
		          c->name,
		          c->pl->datalink_val_to_name(c->linktype)
		              ? c->pl->datalink_val_to_name(c->linktype)
		              : "?",
		          c->interface);
	return 0;
}

static void
capture_free(struct capture *c)
{
	if (c == NULL)
		return;
	if (c->pcap)
		c->pl->close(c->pcap);
	if (c->ev)
		event_free(c->ev);
	traffic_agg_free(c->agg);
	evring_free(c->ring);
	if (c->apps)
		c->ac->destroy(c->apps);
	traffic_report_free(c->work);
	traffic_report_free(c->ready);
	traffic_report_free(c->latest);
	pthread_mutex_destroy(&c->lock);
	free(c->name);
	free(c->interface);
	free(c->link);
	free(c->filter);
	free(c);
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct capture *
capture_new(struct captures *cs, const struct lw_capture *cc)
{
	char err[PCAP_ERRBUF_SIZE];
	const struct pcap_lib *pl;
	struct capture *c;
	uint64_t seed;

	if ((pl = pcap_lib(err)) == NULL) {
		log_warnx("capture %s: %s", cc->name, err);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->pl = pl;
	pthread_mutex_init(&c->lock, NULL);
	c->cs = cs;
	c->name = strdup(cc->name);
	c->interface = strdup(cc->interface);
	c->link = dup_or_null(cc->link);
	c->filter = dup_or_null(cc->filter);
	c->snaplen = (uint32_t)cc->snaplen;
	c->sample_n = cc->sample_n > 1 ? (uint32_t)cc->sample_n : 1;
	c->interval_us = cc->interval_ms * 1000;
	c->ring_ms = cc->ring_ms;
	c->evidence_after_ms = cc->evidence_after_ms;
	c->evidence_max_bytes = cc->evidence_max_bytes;
	c->evidence_max_age_ms = cc->evidence_max_age_ms;
	c->payload = cc->payload;
	c->memory = cc->memory_bytes;
	c->buffer = cc->buffer_bytes;
	if (!c->name || !c->interface || (cc->link && !c->link) || (cc->filter && !c->filter))
		goto fail;
	if (c->interval_us <= 0)
		c->interval_us = 60000000;
	if (cc->applications && !appclass_built())
		log_warnx("capture %s: applications = yes, but this linewatchd is built without "
		          "nDPI: services are named by their well-known ports",
		          c->name);
	c->applications = cc->applications && appclass_built();
	traffic_budget_split(cc->memory_bytes, cc->buffer_bytes, c->applications, &c->budget);
	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
	c->agg = traffic_agg_new(c->budget.tables, CAPTURE_TOP, seed);
	c->ring = evring_new(c->budget.evidence, c->snaplen);
	if (c->applications) {
		c->ac = cs->ac; /* captures_start opened the plugin */
		c->classify = c->ac->add;
		if ((c->apps = c->ac->create(c->budget.apps)) == NULL)
			goto fail;
	}
	c->work = traffic_report_new(CAPTURE_TOP);
	c->ready = traffic_report_new(CAPTURE_TOP);
	c->latest = traffic_report_new(CAPTURE_TOP);
	if (!c->agg || !c->ring || !c->work || !c->ready || !c->latest)
		goto fail;
	c->ev = event_new(cs->base, -1, 0, on_notify, c);
	if (c->ev == NULL)
		goto fail;
	add_interface_networks(c);
	return c;
fail:
	log_warnx("capture %s: out of memory", cc->name);
	capture_free(c);
	return NULL;
}

static void
capture_stop(struct capture *c)
{
	if (c->started) {
		atomic_store(&c->stop, 1);
		c->pl->breakloop(c->pcap);
		pthread_join(c->thread, NULL);
	}
}

void
captures_stop(struct captures *cs)
{
	if (cs == NULL)
		return;
	for (size_t i = 0; i < cs->n; i++)
		capture_stop(cs->v[i]);
	for (size_t i = 0; i < cs->n; i++)
		capture_free(cs->v[i]);
	free(cs->v);
	appclass_close(cs->appdl); /* after every instance is gone */
	traffic_db_close(cs->db);
	free(cs);
}

struct captures *
captures_start(struct event_base *base, const struct lw_config *cfg, struct lw_bus *bus)
{
	struct captures *cs;
	struct capture *c;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	cs->base = base;
	cs->bus = bus;
	snprintf(cs->evdir, sizeof(cs->evdir), "%s/%s", cfg->state_dir, EVIDENCE_DIR);
	if (cfg->ncaptures == 0)
		return cs;
	cs->v = calloc(cfg->ncaptures, sizeof(*cs->v));
	if (cs->v == NULL) {
		free(cs);
		return NULL;
	}
	/* nDPI is mapped only into a daemon that classifies */
	if (wants_applications(cfg) != NULL) {
		char err[PATH_MAX + 256];

		cs->appdl = appclass_open(cfg->plugin_dir ? cfg->plugin_dir : ".", &cs->ac, err,
		                          sizeof(err));
		if (cs->appdl == NULL) {
			log_warnx("capture %s: %s", wants_applications(cfg)->name, err);
			captures_stop(cs);
			return NULL;
		}
	}
	/* history is worth having but not worth refusing to capture for */
	cs->db = traffic_db_open(cfg->state_dir);
	for (size_t i = 0; i < cfg->ncaptures; i++) {
		c = capture_new(cs, &cfg->captures[i]);
		if (c == NULL)
			goto fail;
		cs->v[cs->n++] = c;
		if (open_pcap(c, &cfg->captures[i]) != 0)
			goto fail;
	}
	for (size_t i = 0; i < cs->n; i++) {
		c = cs->v[i];
		c->running = 1;
		if (pthread_create(&c->thread, NULL, capture_main, c) != 0) {
			c->running = 0;
			log_warnx("capture %s: cannot start its thread", c->name);
			goto fail;
		}
		c->started = 1;
		log_info("capture %s on %s: snaplen %u, sample 1/%u, interval %llds, memory "
		         "%lluK: kernel buffer %lluK, evidence ring %lluK (%zu frames), tables "
		         "%lluK",
		         c->name, c->interface, c->snaplen, c->sample_n,
		         (long long)(c->interval_us / 1000000),
		         (unsigned long long)(c->memory >> 10),
		         (unsigned long long)(c->budget.kernel >> 10),
		         (unsigned long long)(c->budget.evidence >> 10), evring_slots(c->ring),
		         (unsigned long long)(c->budget.tables >> 10));
		if (c->apps) {
			size_t nf, ns;

			c->ac->size(c->apps, &nf, &ns);
			log_info("capture %s: applications by %s: %lluK for %zu flows, %zu "
			         "classified at once; snaplen %u for it",
			         c->name, c->ac->version(),
			         (unsigned long long)(c->budget.apps >> 10), nf, ns,
			         c->snaplen < APPCLASS_SNAPLEN ? APPCLASS_SNAPLEN : c->snaplen);
		}
	}
	return cs;
fail:
	captures_stop(cs);
	return NULL;
}

void
captures_reload(struct captures *cs, const struct lw_config *cfg)
{
	size_t same = cs->n == cfg->ncaptures;

	for (size_t i = 0; same && i < cs->n; i++) {
		const struct lw_capture *cc = &cfg->captures[i];
		const struct capture *c = cs->v[i];

		same = strcmp(c->name, cc->name) == 0 && strcmp(c->interface, cc->interface) == 0 &&
		       strcmp(c->filter ? c->filter : "", cc->filter ? cc->filter : "") == 0 &&
		       strcmp(c->link ? c->link : "", cc->link ? cc->link : "") == 0 &&
		       c->snaplen == (uint32_t)cc->snaplen &&
		       c->interval_us == cc->interval_ms * 1000 && c->memory == cc->memory_bytes &&
		       c->buffer == cc->buffer_bytes &&
		       c->applications == (cc->applications && appclass_built());
	}
	if (!same)
		log_warnx("capture changes take effect at the next restart");
}

size_t
captures_count(const struct captures *cs)
{
	return cs ? cs->n : 0;
}

struct capture *
captures_get(struct captures *cs, size_t i)
{
	return cs && i < cs->n ? cs->v[i] : NULL;
}

struct capture *
captures_find(struct captures *cs, const char *name)
{
	for (size_t i = 0; cs && i < cs->n; i++)
		if (strcmp(cs->v[i]->name, name) == 0)
			return cs->v[i];
	return NULL;
}

struct traffic_db *
captures_db(struct captures *cs)
{
	return cs ? cs->db : NULL;
}

const char *
captures_evidence_dir(const struct captures *cs)
{
	return cs->evdir;
}

const char *
capture_name(const struct capture *c)
{
	return c->name;
}

const char *
capture_link(const struct capture *c)
{
	return c->link;
}

json_t *
capture_status_json(const struct capture *c, int with_report)
{
	struct capture *mc = (struct capture *)c;
	int running;
	char err[sizeof(c->error)];
	uint64_t lost;
	json_t *j;

	pthread_mutex_lock(&mc->lock);
	running = c->running;
	lost = c->lost_reports;
	snprintf(err, sizeof(err), "%s", c->error);
	pthread_mutex_unlock(&mc->lock);
	j = json_pack("{s:s, s:s, s:s?, s:s, s:b, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
	              c->name, "interface", c->interface, "link", c->link, "filter",
	              c->filter ? c->filter : "", "running", running, "snaplen", (int)c->snaplen,
	              "sample", (int)c->sample_n, "interval_ms",
	              (json_int_t)(c->interval_us / 1000), "packets", (json_int_t)c->total_pkts,
	              "bytes", (json_int_t)c->total_bytes, "drops", (json_int_t)c->total_drops,
	              "interface_drops", (json_int_t)c->total_ifdrops, "lost_reports",
	              (json_int_t)lost);
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "error", err[0] ? json_string(err) : json_null());
	json_object_set_new(j, "memory", json_integer((json_int_t)c->memory));
	json_object_set_new(j, "buffer", json_integer((json_int_t)c->budget.kernel));
	json_object_set_new(j, "applications",
	                    c->applications ? json_string(c->ac->version()) : json_null());
	if (with_report)
		json_object_set_new(j, "latest",
		                    c->have_latest ? traffic_report_json(c->latest) : json_null());
	return j;
}

int
evidence_trigger(struct capture *c, const char *ticket_ref, time_t t)
{
	int rc = -1;

	if (ticket_ref == NULL || ticket_ref[0] == '\0' || strlen(ticket_ref) >= REF_MAX)
		return -1;
	pthread_mutex_lock(&c->lock);
	if (c->running && c->npending < EVIDENCE_PENDING) {
		struct ev_request *rq = &c->pending[c->npending++];

		struct timeval now;

		gettimeofday(&now, NULL);
		snprintf(rq->ref, sizeof(rq->ref), "%s", ticket_ref);
		rq->t = t;
		rq->at_us = tv_us(&now);
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	if (rc == 0)
		log_info("capture %s: recording evidence for ticket %s", c->name, ticket_ref);
	else
		log_warnx("capture %s: no evidence for ticket %s (capture not running or busy)",
		          c->name, ticket_ref);
	return rc;
}

int
captures_ticket_opened(struct captures *cs, const char *link, const char *ticket_ref, time_t t)
{
	int n = 0;

	for (size_t i = 0; cs && link && i < cs->n; i++)
		if (cs->v[i]->link && strcmp(cs->v[i]->link, link) == 0 &&
		    evidence_trigger(cs->v[i], ticket_ref, t) == 0)
			n++;
	return n;
}

json_t *
traffic_top_talkers(struct captures *cs, const char *link, time_t from, time_t to)
{
	json_t *j = json_object();
	const char *err;

	for (size_t i = 0; cs && i < cs->n; i++) {
		struct capture *c = cs->v[i];
		json_t *q = NULL;

		if (link && (!c->link || strcmp(c->link, link) != 0))
			continue;
		if (cs->db)
			q = traffic_db_query(cs->db, c->name, (double)from, (double)to, 5, &err);
		if (q == NULL)
			continue;
		json_object_del(q, "series");
		json_object_set_new(j, c->name, q);
	}
	return j;
}
