/* appclass.c - nDPI application classification in a fixed-size flow table:
 * appclass-ndpi.so (see appclass.h), never linked into linewatchd */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "appclass.h"

#define WAYS 4          /* flow table set size */
#define KEYLEN 40       /* family, proto, low address, high address, ports */
#define STATE_SLACK 512 /* nDPI's per-flow strings, budgeted per state */
#define NO_STATE UINT32_MAX

enum { F_FREE = 0, F_DETECTING, F_DONE };

struct aflow {
	uint8_t key[KEYLEN];
	uint32_t last;  /* seconds of the last packet: the oldest of a set goes */
	uint32_t state; /* index into the nDPI states while F_DETECTING */
	uint16_t master, app;
	uint16_t seen; /* packets given to nDPI */
	uint8_t status;
	uint64_t pending_bytes; /* before the application was known */
	uint32_t pending_pkts;
};

struct app_count {
	uint32_t key; /* master << 16 | app, +1 so that 0 is free */
	uint64_t bytes, pkts, flows;
};

struct appclass {
	struct ndpi_detection_module_struct *mod;
	struct aflow *flows;
	size_t nsets;    /* power of 2 */
	uint8_t *states; /* nstates nDPI flow structs */
	uint32_t *owner; /* flow index of each state, or NO_STATE */
	size_t nstates, statesize, hand;
	uint8_t scratch[65535]; /* a cut packet with its lengths fixed for nDPI */
	struct app_count counts[APPCLASS_NAMES];
	uint64_t lost_bytes, lost_pkts; /* more applications than counts */
	uint64_t evictions;             /* since the last flush */
	struct appclass_stats stats;
};

static const char *
appclass_version(void)
{
	static char v[48];

	if (v[0] == '\0')
		snprintf(v, sizeof(v), "nDPI %s", ndpi_revision());
	return v;
}

static struct ndpi_flow_struct *
state_at(struct appclass *a, size_t i)
{
	return (struct ndpi_flow_struct *)(void *)(a->states + i * a->statesize);
}

static void
appclass_free(struct appclass *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; a->owner && i < a->nstates; i++)
		if (a->owner[i] != NO_STATE)
			ndpi_free_flow_data(state_at(a, i));
	if (a->mod)
		ndpi_exit_detection_module(a->mod);
	free(a->flows);
	free(a->states);
	free(a->owner);
	free(a);
}

static struct appclass *
appclass_new(uint64_t budget)
{
	struct appclass *a;
	NDPI_PROTOCOL_BITMASK all;
	size_t nflows, sets = 1;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->statesize = (ndpi_detection_get_sizeof_ndpi_flow_struct() + 15) & ~(size_t)15;
	/* half for the table, half for the states of flows being classified */
	nflows = budget / 2 / sizeof(struct aflow);
	while (sets * 2 * WAYS <= nflows)
		sets *= 2;
	a->nsets = sets;
	a->nstates = budget / 2 / (a->statesize + STATE_SLACK + sizeof(uint32_t));
	if (a->nstates < 16 || nflows < WAYS)
		goto fail;
	a->flows = calloc(a->nsets * WAYS, sizeof(*a->flows));
	a->states = calloc(a->nstates, a->statesize);
	a->owner = malloc(a->nstates * sizeof(*a->owner));
	if (!a->flows || !a->states || !a->owner)
		goto fail;
	for (size_t i = 0; i < a->nstates; i++)
		a->owner[i] = NO_STATE;
	if ((a->mod = ndpi_init_detection_module(ndpi_no_prefs)) == NULL)
		goto fail;
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(a->mod, &all);
	ndpi_finalize_initialization(a->mod);
	return a;
fail:
	appclass_free(a);
	return NULL;
}

static void
appclass_size(const struct appclass *a, size_t *flows, size_t *states)
{
	*flows = a->nsets * WAYS;
	*states = a->nstates;
}

static void
appclass_stats(const struct appclass *a, struct appclass_stats *out)
{
	*out = a->stats;
}

static void
count(struct appclass *a, uint16_t master, uint16_t app, uint64_t bytes, uint64_t pkts,
      uint64_t flows)
{
	uint32_t key = ((uint32_t)master << 16 | app) + 1;
	size_t i = (key * 2654435761u) % APPCLASS_NAMES;

	for (size_t n = 0; n < APPCLASS_NAMES; n++, i = (i + 1) % APPCLASS_NAMES) {
		struct app_count *c = &a->counts[i];

		if (c->key == 0)
			c->key = key;
		if (c->key == key) {
			c->bytes += bytes;
			c->pkts += pkts;
			c->flows += flows;
			return;
		}
	}
	a->lost_bytes += bytes;
	a->lost_pkts += pkts;
}

/* The flow's application is known (or guessed): its held bytes count now
 * and its nDPI state goes back to the pool. */
static void
finish(struct appclass *a, struct aflow *f, ndpi_protocol pr)
{
	f->master = pr.master_protocol;
	f->app = pr.app_protocol;
	/* "DNS" alone is reported as app DNS, master unknown: one spelling */
	if (f->app == NDPI_PROTOCOL_UNKNOWN) {
		f->app = f->master;
		f->master = NDPI_PROTOCOL_UNKNOWN;
	}
	if (f->master == f->app)
		f->master = NDPI_PROTOCOL_UNKNOWN;
	count(a, f->master, f->app, f->pending_bytes, f->pending_pkts, 1);
	f->pending_bytes = 0;
	f->pending_pkts = 0;
	if (f->state != NO_STATE) {
		ndpi_free_flow_data(state_at(a, f->state));
		a->owner[f->state] = NO_STATE;
		f->state = NO_STATE;
	}
	f->status = F_DONE;
	a->stats.flows++;
}

static void
give_up(struct appclass *a, struct aflow *f)
{
	uint8_t guessed = 0;
	ndpi_protocol pr = ndpi_detection_giveup(a->mod, state_at(a, f->state), 1, &guessed);

	finish(a, f, pr);
}

/* The next nDPI state in turn; its flow, the one classified longest, is
 * given up on if it is still at it. */
static uint32_t
take_state(struct appclass *a, uint32_t fi)
{
	uint32_t s = (uint32_t)a->hand;

	a->hand = (a->hand + 1) % a->nstates;
	if (a->owner[s] != NO_STATE) {
		give_up(a, &a->flows[a->owner[s]]);
		a->stats.detect_evictions++;
		a->evictions++;
	}
	memset(state_at(a, s), 0, a->statesize);
	a->owner[s] = fi;
	return s;
}

static uint32_t
hash_key(const uint8_t *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < KEYLEN; i++)
		h = (h ^ k[i]) * 0x100000001b3ULL;
	return (uint32_t)(h ^ (h >> 32));
}

/* The flow of a packet, either direction: found, or put in place of the
 * least recently seen flow of its set. */
static struct aflow *
lookup(struct appclass *a, const struct decode_pkt *p, uint32_t now)
{
	uint8_t key[KEYLEN] = {0};
	size_t alen = p->family == 4 ? 4 : 16, set;
	int fwd = memcmp(p->src, p->dst, alen);
	struct aflow *f, *victim = NULL;

	if (fwd == 0)
		fwd = p->sport <= p->dport ? -1 : 1;
	key[0] = p->family;
	key[1] = p->proto;
	memcpy(key + 2, fwd < 0 ? p->src : p->dst, alen);
	memcpy(key + 18, fwd < 0 ? p->dst : p->src, alen);
	key[34] = (uint8_t)((fwd < 0 ? p->sport : p->dport) >> 8);
	key[35] = (uint8_t)(fwd < 0 ? p->sport : p->dport);
	key[36] = (uint8_t)((fwd < 0 ? p->dport : p->sport) >> 8);
	key[37] = (uint8_t)(fwd < 0 ? p->dport : p->sport);
	set = hash_key(key) & (a->nsets - 1);
	f = &a->flows[set * WAYS];
	for (int w = 0; w < WAYS; w++) {
		if (f[w].status != F_FREE && memcmp(f[w].key, key, KEYLEN) == 0) {
			f[w].last = now;
			return &f[w];
		}
		if (victim == NULL || f[w].status == F_FREE ||
		    (victim->status != F_FREE && f[w].last < victim->last))
			victim = &f[w];
	}
	if (victim->status != F_FREE) {
		if (victim->status == F_DETECTING)
			give_up(a, victim);
		a->stats.flow_evictions++;
		a->evictions++;
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, key, KEYLEN);
	victim->last = now;
	victim->status = F_DETECTING;
	victim->state = take_state(a, (uint32_t)(victim - a->flows));
	return victim;
}

/* nDPI drops packets whose IP length is longer than what it is given: a
 * frame cut by the snaplen gets its lengths made to fit, in a copy. */
static const uint8_t *
l3_packet(struct appclass *a, const struct decode_pkt *p, const uint8_t *frame, uint32_t caplen,
          uint16_t *len)
{
	const uint8_t *ip = frame + p->l3_off;
	size_t n = caplen - p->l3_off;

	/* nDPI takes 16-bit lengths: a bigger (GRO) frame is cut to fit */
	if (n > sizeof(a->scratch))
		n = sizeof(a->scratch);
	*len = (uint16_t)n;
	if (p->family == 4 && n >= 20) {
		size_t tot = (size_t)(ip[2] << 8 | ip[3]);

		/* Ethernet padding after the datagram is not payload */
		if (tot != 0 && tot <= n) {
			*len = (uint16_t)tot;
			return ip;
		}
		memcpy(a->scratch, ip, n);
		a->scratch[2] = (uint8_t)(n >> 8);
		a->scratch[3] = (uint8_t)n;
		return a->scratch;
	}
	if (p->family == 6 && n >= 40) {
		size_t pl = (size_t)(ip[4] << 8 | ip[5]);

		if (pl != 0 && pl + 40 <= n) {
			*len = (uint16_t)(pl + 40);
			return ip;
		}
		memcpy(a->scratch, ip, n);
		a->scratch[4] = (uint8_t)((n - 40) >> 8);
		a->scratch[5] = (uint8_t)(n - 40);
		return a->scratch;
	}
	return ip;
}

static void
appclass_add(struct appclass *a, enum decode_result r, const struct decode_pkt *p,
             const uint8_t *frame, uint32_t caplen, uint32_t wirelen, uint32_t scale,
             const struct timeval *ts)
{
	uint64_t b = (uint64_t)wirelen * scale;
	struct aflow *f;
	const uint8_t *ip;
	uint16_t len;
	ndpi_protocol pr;

	if (r != DECODE_OK || (p->family != 4 && p->family != 6) ||
	    (p->flags & DECODE_F_LATERFRAG) || p->l3_off >= caplen) {
		count(a, NDPI_PROTOCOL_UNKNOWN, NDPI_PROTOCOL_UNKNOWN, b, scale, 0);
		return;
	}
	f = lookup(a, p, (uint32_t)ts->tv_sec);
	if (f->status == F_DONE) {
		count(a, f->master, f->app, b, scale, 0);
		return;
	}
	f->pending_bytes += b;
	f->pending_pkts += scale;
	ip = l3_packet(a, p, frame, caplen, &len);
	pr = ndpi_detection_process_packet(a->mod, state_at(a, f->state), ip, len,
	                                   (uint64_t)ts->tv_sec * 1000 + ts->tv_usec / 1000);
	f->seen++;
	if (pr.app_protocol != NDPI_PROTOCOL_UNKNOWN || pr.master_protocol != NDPI_PROTOCOL_UNKNOWN)
		finish(a, f, pr);
	else if (f->seen >= APPCLASS_MAX_PKTS)
		give_up(a, f);
}

static int
by_bytes(const void *x, const void *y)
{
	const struct app_count *a = x, *b = y;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

static void
appclass_flush(struct appclass *a, struct traffic_report *r, bool last)
{
	size_t n = 0;

	for (size_t i = 0; last && i < a->nstates; i++)
		if (a->owner[i] != NO_STATE)
			give_up(a, &a->flows[a->owner[i]]);

	/* sort in place: the counts start over anyway */
	for (size_t i = 0; i < APPCLASS_NAMES; i++)
		if (a->counts[i].key != 0)
			a->counts[n++] = a->counts[i];
	qsort(a->counts, n, sizeof(a->counts[0]), by_bytes);
	r->apps_valid = true;
	r->napps = 0;
	for (size_t i = 0; i < n && r->napps < TRAFFIC_APPS_MAX; i++) {
		const struct app_count *c = &a->counts[i];
		struct traffic_app *t = &r->apps[r->napps++];
		ndpi_protocol pr = {.master_protocol = (uint16_t)((c->key - 1) >> 16),
		                    .app_protocol = (uint16_t)((c->key - 1) & 0xffff)};

		ndpi_protocol2name(a->mod, pr, t->name, sizeof(t->name));
		snprintf(t->category, sizeof(t->category), "%s",
		         ndpi_category_get_name(a->mod, ndpi_get_proto_category(a->mod, pr)));
		t->bytes = c->bytes;
		t->pkts = c->pkts;
		t->flows = c->flows;
	}
	r->app_evictions = a->evictions;
	memset(a->counts, 0, sizeof(a->counts));
	a->lost_bytes = a->lost_pkts = 0;
	a->evictions = 0;
}

const struct lw_appclass lw_appclass = {
    .abi = LW_APPCLASS_ABI,
    .pkt_size = sizeof(struct decode_pkt),
    .report_size = sizeof(struct traffic_report),
    .version = appclass_version,
    .create = appclass_new,
    .destroy = appclass_free,
    .size = appclass_size,
    .add = appclass_add,
    .flush = appclass_flush,
    .stats = appclass_stats,
};
