/* snmp_poll.c - asynchronous SNMP polling of devices (net-snmp on libevent)
 *
 * One net-snmp single session per device; its socket is a persistent
 * libevent read event and its retransmission deadline a libevent timer, so
 * a silent agent never holds up anyone else.  A poll is a list of jobs
 * (a GET of the scalars, one parallel-column GETBULK/GETNEXT walk per
 * table), at most max_inflight of them with a request outstanding.  The
 * response handler takes a PDU and needs no socket: offline pollers (unit
 * tests, the fuzz harness) hold requests for the caller instead of sending.
 */
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
/* net-snmp names PDU fields with these macros; they would rewrite
 * struct lw_device's members of the same names. */
#undef max_repetitions
#undef non_repeaters

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "counter.h"
#include "log.h"
#include "snmp_ev.h"
#include "snmp_poll.h"
#include "snmp_profile.h"

#define MAX_ROWS 10000        /* per table and poll: more is a looping agent */
#define IDX_MAX 32            /* sub-ids of a row index we keep */
#define VB_PER_REQUEST 400    /* varbinds asked for in one GETBULK */
#define GET_CHUNK 24          /* scalars per GET */
#define STR_MAX 255           /* DisplayString SIZE (0..255) */
#define ARENA_MAX (4u << 20)  /* strings kept per device and poll */
#define BACKOFF_MAX_MS 300000 /* unreachable devices: at most every 5 min */
#define BACKOFF_FACTOR_MAX 8

/* hrStorageType values (HOST-RESOURCES-TYPES) */
#define HR_RAM "1.3.6.1.2.1.25.2.1.2"
#define HR_VIRTUAL "1.3.6.1.2.1.25.2.1.3"
#define HR_FIXED_DISK "1.3.6.1.2.1.25.2.1.4"

enum anomaly {
	AN_TIMEOUT = 0,
	AN_AGENT_ERROR,
	AN_WRONG_TYPE,
	AN_NO_SUCH,
	AN_NON_INCREASING,
	AN_TOO_MANY_ROWS,
	AN_NO_PROGRESS,
	AN_DUP_NAME,
	AN_OVERRUN,
	AN_LONG_INDEX,
	AN_DISCONTINUITY,
	AN_MAX
};

static const char *const anomaly_text[AN_MAX] = {
    [AN_TIMEOUT] = "no response",
    [AN_AGENT_ERROR] = "agent returned an error",
    [AN_WRONG_TYPE] = "value of the wrong type",
    [AN_NO_SUCH] = "object not supported (noSuchObject/noSuchInstance)",
    [AN_NON_INCREASING] = "table walk returned a non-increasing OID (agent loops); walk stopped",
    [AN_TOO_MANY_ROWS] = "table larger than "
                         "10000"
                         " rows; walk stopped",
    [AN_NO_PROGRESS] = "response without usable varbinds; walk stopped",
    [AN_DUP_NAME] = "two interfaces with the same name; the later one gets #ifIndex",
    [AN_OVERRUN] = "poll still running when the next was due; poll skipped",
    [AN_LONG_INDEX] = "row index too long; row skipped",
    [AN_DISCONTINUITY] = "counter discontinuity; interval left unknown",
};

/* A value as received.  Kept small: a poll of a big switch holds one per
 * row and walked column. */
struct cell {
	union {
		uint64_t u;
		int64_t i;
	} v;
	uint32_t off; /* text of strings and OIDs in the device arena */
	uint16_t clk; /* the response it came in: dev.clk[clk] */
	uint8_t asn;  /* 0 = absent */
};

/* When a response arrived, on our clock and (when it carried sysUpTime)
 * on the agent's: shared by every cell of that response. */
struct rclock {
	int64_t t_ms;
	uint32_t ticks;
	bool have_ticks;
};

/* A column OID walked (a profile column's primary or fallback OID). */
struct wcol {
	const oid *prefix; /* the profile object's OID (outlives the plan) */
	size_t len;
	bool need; /* walked this poll */
	bool done;
	oid *cur; /* where the walk is: grows for long indexes */
	size_t curlen, curcap;
};

/* One profile object in a plan: where its value comes from. */
struct pobj {
	const struct prof_object *o;
	int prim, fb; /* wcol (tables) or gvar (scalars) index; fb -1 = none */
	int ctr;      /* counter slot or -1 */
	int sum;      /* sum slot or -1 */
};

/* A row of this poll; its index sub-ids are in the table's pool. */
struct row {
	uint32_t off;
	uint32_t len;
};

struct rowstate {
	char *name;
	struct counter *ctr;
	uint32_t disc;
	bool have_disc;
	bool seen;
};

struct sum {
	const char *name;
	const char *unit;
	double value;
	bool valid;
	bool any;
};

struct ptable {
	const struct prof_table *t;
	struct wcol *w;
	size_t nw;
	struct pobj *c;
	size_t nc;
	size_t nctr;
	struct sum *sums;
	size_t nsums;
	int speed, disc, lastchange, stype, sunits, ssize, sused, sdescr;
	int in_bps, out_bps;
	/* this poll's rows, sorted by index; cells[row * nw + wcol] */
	struct row *rows;
	struct cell *cells;
	size_t nrows, caprows;
	uint32_t *pool; /* row index sub-ids */
	size_t npool, cappool;
	/* interfaces by name, across polls */
	struct rowstate *st;
	size_t nst;
	int reps;
};

struct gvar {
	oid o[PROF_OID_MAX];
	size_t len;
	struct cell c;
	bool absent; /* v1 noSuchName: never ask again this poll */
};

struct plan {
	struct gvar *g;
	size_t ng;
	struct pobj *s;
	size_t ns;
	struct counter *sctr;
	size_t nsctr;
	struct ptable *t;
	size_t nt;
	struct prof_object *custom; /* synthetic objects for custom OIDs */
	size_t ncustom;
	int uptime, eboots, etime; /* index in s, -1 = none */
	bool storage;
	uint64_t fingerprint;
	struct lw_metric *m;
	size_t mcap;
	struct lw_attr *a;
	size_t acap;
};

enum job_kind { JOB_PROBE, JOB_GET, JOB_WALK };

struct job {
	enum job_kind kind;
	int table;
	size_t gpos; /* JOB_GET: first gvar of the chunk in flight */
	int *req;    /* gvar or wcol index of each requested varbind */
	size_t nreq;
	size_t chunk; /* JOB_GET chunk size (halved on tooBig) */
	int reqid;    /* 0 = nothing in flight */
	bool done;
	bool uptime_vb; /* the request starts with sysUpTime (agent clock) */
	uint64_t requests;
};

enum dev_state { DS_UNKNOWN = 0, DS_OK, DS_UNREACHABLE };

struct dev {
	struct snmp_poller *p;
	const struct lw_device *cfg;
	char *name;
	void *sess;
	struct snmp_ev ev; /* the session on the loop */
	struct event *ev_poll;
	bool engine_known;   /* v3: engine ID discovered (again after a failure) */
	bool probed;         /* v3: this poll's discovery was answered */
	char sec_error[100]; /* v3: why a response of this poll failed USM checks */
	bool closing;
	bool no_uptime_vb; /* agent refuses sysUpTime in walks */
	struct plan plan;

	/* the poll in progress */
	bool busy;
	struct job *jobs;
	size_t njobs, nactive, next_job;
	int inflight;
	int64_t start_ms;
	struct timeval start_tv;
	bool failed;
	char reason[256];

	/* across polls */
	bool have_uptime;
	struct uptime_obs uptime;
	unsigned wraps;
	enum dev_state state;
	unsigned fails;
	int64_t next_ms;
	uint32_t logged;
	struct snmp_dev_stats stats;

	char *arena;
	size_t alen, acap;

	netsnmp_pdu *held; /* offline: the request awaiting an answer */
	int held_reqid;

	/* response clocks of the poll in progress; cells point into it */
	struct rclock *clk;
	size_t nclk, capclk;
};

struct snmp_poller {
	struct event_base *base; /* NULL = offline */
	struct lw_bus *bus;
	const struct lw_config *cfg;
	struct snmp_profiles *profiles;
	struct dev **devs;
	size_t ndevs;
	int64_t fake_ms;
	int next_reqid;
};

static void poll_start(struct dev *d);
static void job_send(struct dev *d, struct job *j);
static void poll_finish(struct dev *d);
static void dev_rearm(struct dev *d);

/* --- small helpers ---------------------------------------------------- */

static int64_t
now_ms(struct snmp_poller *p)
{
	struct timespec ts;

	if (p->fake_ms > 0)
		return p->fake_ms;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Log an agent's misbehaviour once per device and kind; count it always. */
static void
anomaly(struct dev *d, enum anomaly a, const char *detail)
{
	uint64_t *ctr = NULL;

	switch (a) {
	case AN_TIMEOUT:
		ctr = &d->stats.timeouts;
		break;
	case AN_AGENT_ERROR:
		ctr = &d->stats.agent_errors;
		break;
	case AN_WRONG_TYPE:
		ctr = &d->stats.wrong_types;
		break;
	case AN_NO_SUCH:
		ctr = &d->stats.no_such;
		break;
	case AN_NON_INCREASING:
	case AN_NO_PROGRESS:
	case AN_LONG_INDEX:
		ctr = &d->stats.non_increasing;
		break;
	case AN_TOO_MANY_ROWS:
		ctr = &d->stats.too_many_rows;
		break;
	case AN_OVERRUN:
		ctr = &d->stats.overruns;
		break;
	case AN_DISCONTINUITY:
		ctr = &d->stats.discontinuities;
		break;
	case AN_DUP_NAME:
	case AN_MAX:
		break;
	}
	if (ctr)
		(*ctr)++;
	if (d->logged & (1u << a))
		return;
	d->logged |= 1u << a;
	if (a == AN_DISCONTINUITY || a == AN_NO_SUCH)
		log_info("device %s: %s%s%s", d->name, anomaly_text[a], detail ? ": " : "",
		         detail ? detail : "");
	else
		log_warnx("device %s: %s%s%s (logged once)", d->name, anomaly_text[a],
		          detail ? ": " : "", detail ? detail : "");
}

/* Keep device text printable and valid UTF-8: control bytes, DEL and
 * malformed sequences become '?'. */
static size_t
sanitize(char *dst, const unsigned char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		unsigned char c = src[i];
		size_t n = 0;

		if (c == 0)
			break;
		if (c < 0x80) {
			dst[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		bool ok = n > 0;
		for (size_t k = 1; ok && k <= n; k++)
			if (i + k >= len || (src[i + k] & 0xc0) != 0x80)
				ok = false;
		/* overlongs and surrogates */
		if (ok && n == 2 && c == 0xe0 && src[i + 1] < 0xa0)
			ok = false;
		if (ok && n == 2 && c == 0xed && src[i + 1] >= 0xa0)
			ok = false;
		if (ok && n == 3 && c == 0xf0 && src[i + 1] < 0x90)
			ok = false;
		if (ok && n == 3 && c == 0xf4 && src[i + 1] >= 0x90)
			ok = false;
		if (!ok) {
			dst[o++] = '?';
			i++;
			continue;
		}
		memcpy(dst + o, src + i, n + 1);
		o += n + 1;
		i += n + 1;
	}
	dst[o] = '\0';
	return o;
}

/* Append text to the device arena; returns its offset or UINT32_MAX. */
static uint32_t
arena_put(struct dev *d, const unsigned char *s, size_t len, bool raw_text)
{
	size_t need;
	uint32_t off;

	if (len > STR_MAX)
		len = STR_MAX;
	need = d->alen + len + 1;
	if (need > ARENA_MAX)
		return UINT32_MAX;
	if (need > d->acap) {
		size_t ncap = d->acap ? d->acap : 4096;
		char *n;
		while (ncap < need)
			ncap *= 2;
		n = realloc(d->arena, ncap);
		if (n == NULL)
			return UINT32_MAX;
		d->arena = n;
		d->acap = ncap;
	}
	off = (uint32_t)d->alen;
	if (raw_text) {
		memcpy(d->arena + off, s, len);
		d->arena[off + len] = '\0';
		d->alen += len + 1;
	} else {
		d->alen += sanitize(d->arena + off, s, len) + 1;
	}
	return off;
}

static const char *
cell_str(const struct dev *d, const struct cell *c)
{
	if (c->asn != ASN_OCTET_STR && c->asn != ASN_OBJECT_ID)
		return NULL;
	if (c->off == UINT32_MAX)
		return "";
	return d->arena + c->off;
}

/* A response arrived at t (and, with sysUpTime in it, at ticks on the
 * agent's clock): the cells it fills refer to this entry.  Past 65536
 * responses in one poll the last entry is reused (times a little late). */
static void
clock_push(struct dev *d, int64_t t, bool have_ticks, uint32_t ticks)
{
	struct rclock *c;

	if (d->nclk >= UINT16_MAX + 1u) {
		c = &d->clk[d->nclk - 1];
	} else {
		if (d->nclk == d->capclk) {
			size_t ncap = d->capclk ? d->capclk * 2 : 16;
			struct rclock *n = realloc(d->clk, ncap * sizeof(*n));
			if (n == NULL)
				fatal("realloc");
			d->clk = n;
			d->capclk = ncap;
		}
		c = &d->clk[d->nclk++];
	}
	c->t_ms = t;
	c->ticks = ticks;
	c->have_ticks = have_ticks;
}

/* Store a varbind's value; the type is judged when it is used. */
static void
cell_set(struct dev *d, struct cell *c, const netsnmp_variable_list *vb)
{
	memset(c, 0, sizeof(*c));
	c->off = UINT32_MAX;
	c->clk = d->nclk > 0 ? (uint16_t)(d->nclk - 1) : 0;
	switch (vb->type) {
	case ASN_INTEGER:
		if (vb->val.integer == NULL || vb->val_len < sizeof(long))
			return;
		c->v.i = *vb->val.integer;
		break;
	case ASN_COUNTER:
	case ASN_GAUGE:
	case ASN_TIMETICKS:
	case ASN_UINTEGER:
		if (vb->val.integer == NULL || vb->val_len < sizeof(long))
			return;
		c->v.u = (uint64_t)(*vb->val.integer) & 0xffffffffULL;
		break;
	case ASN_COUNTER64:
		if (vb->val.counter64 == NULL || vb->val_len < sizeof(struct counter64))
			return;
		c->v.u = ((uint64_t)(vb->val.counter64->high & 0xffffffffUL) << 32) |
		         (vb->val.counter64->low & 0xffffffffUL);
		break;
	case ASN_OCTET_STR:
		if (vb->val.string == NULL && vb->val_len > 0)
			return;
		c->off = arena_put(d, vb->val.string ? vb->val.string : (const u_char *)"",
		                   vb->val_len, false);
		break;
	case ASN_OBJECT_ID: {
		char buf[STR_MAX + 1];
		size_t n = vb->val_len / sizeof(oid);
		if (vb->val.objid == NULL)
			return;
		snmp_oid_fmt(vb->val.objid, n, buf, sizeof(buf));
		c->off = arena_put(d, (const unsigned char *)buf, strlen(buf), true);
		break;
	}
	default:
		break;
	}
	c->asn = vb->type;
}

/* --- values of profile objects ----------------------------------------- */

static bool
type_fits(const struct prof_object *o, uint8_t asn)
{
	switch (o->type) {
	case PT_STRING:
		return asn == ASN_OCTET_STR;
	case PT_OID:
		return asn == ASN_OBJECT_ID;
	case PT_GAUGE:
		return asn == ASN_INTEGER || asn == ASN_GAUGE || asn == ASN_UINTEGER ||
		       asn == ASN_COUNTER || asn == ASN_TIMETICKS || asn == ASN_COUNTER64;
	case PT_COUNTER:
		return asn == ASN_COUNTER || asn == ASN_COUNTER64;
	case PT_TIMETICKS:
		return asn == ASN_TIMETICKS || asn == ASN_GAUGE || asn == ASN_UINTEGER ||
		       asn == ASN_INTEGER;
	case PT_ENUM:
	case PT_FLAG:
		return asn == ASN_INTEGER || asn == ASN_GAUGE || asn == ASN_UINTEGER;
	}
	return false;
}

static bool
is_exception(uint8_t asn)
{
	return asn == SNMP_NOSUCHOBJECT || asn == SNMP_NOSUCHINSTANCE || asn == SNMP_ENDOFMIBVIEW;
}

static double
cell_num(const struct cell *c)
{
	if (c->asn == ASN_INTEGER)
		return (double)c->v.i;
	return (double)c->v.u;
}

static long
cell_long(const struct cell *c)
{
	if (c->asn == ASN_INTEGER)
		return (long)c->v.i;
	return (long)c->v.u;
}

/* The cell holding an object's value: primary, else fallback.  *scale gets
 * the matching scale.  NULL if neither is there with a usable type. */
static const struct cell *
pick(struct dev *d, const struct pobj *po, const struct cell *prim, const struct cell *fb,
     double *scale)
{
	bool pok = prim && prim->asn && type_fits(po->o, prim->asn);
	bool fok = fb && fb->asn && type_fits(po->o, fb->asn);

	if (prim && prim->asn && !pok && !is_exception(prim->asn))
		anomaly(d, AN_WRONG_TYPE, po->o->name);
	if (pok && po->o->prefer_nonzero && cell_num(prim) == 0 && fok)
		pok = false;
	if (pok) {
		*scale = po->o->scale;
		return prim;
	}
	if (fok) {
		*scale = po->o->fallback_scale;
		return fb;
	}
	return NULL;
}

/* --- plan: what to ask a device for ------------------------------------ */

static void
plan_free(struct plan *pl)
{
	free(pl->g);
	free(pl->s);
	free(pl->sctr);
	for (size_t i = 0; i < pl->nt; i++) {
		struct ptable *t = &pl->t[i];
		for (size_t k = 0; k < t->nw; k++)
			free(t->w[k].cur);
		free(t->w);
		free(t->c);
		free(t->sums);
		free(t->rows);
		free(t->cells);
		free(t->pool);
		for (size_t k = 0; k < t->nst; k++) {
			free(t->st[k].name);
			free(t->st[k].ctr);
		}
		free(t->st);
	}
	free(pl->t);
	for (size_t i = 0; i < pl->ncustom; i++) {
		free(pl->custom[i].name);
		free(pl->custom[i].unit);
	}
	free(pl->custom);
	free(pl->m);
	free(pl->a);
	memset(pl, 0, sizeof(*pl));
}

static int
gvar_add(struct plan *pl, const oid *o, size_t len)
{
	for (size_t i = 0; i < pl->ng; i++)
		if (snmp_oid_compare(pl->g[i].o, pl->g[i].len, o, len) == 0)
			return (int)i;
	memcpy(pl->g[pl->ng].o, o, len * sizeof(oid));
	pl->g[pl->ng].len = len;
	return (int)pl->ng++;
}

static int
wcol_add(struct ptable *t, const oid *o, size_t len)
{
	for (size_t i = 0; i < t->nw; i++)
		if (snmp_oid_compare(t->w[i].prefix, t->w[i].len, o, len) == 0)
			return (int)i;
	/* room for the usual one- or few-sub-id index; walk_varbind grows it */
	if ((t->w[t->nw].cur = calloc(len + 4, sizeof(oid))) == NULL)
		return -1;
	t->w[t->nw].curcap = len + 4;
	t->w[t->nw].prefix = o;
	t->w[t->nw].len = len;
	t->w[t->nw].need = true;
	return (int)t->nw++;
}

static int
sum_add(struct ptable *t, const struct prof_object *o)
{
	for (size_t i = 0; i < t->nsums; i++)
		if (strcmp(t->sums[i].name, o->sum_into) == 0)
			return (int)i;
	t->sums[t->nsums].name = o->sum_into;
	t->sums[t->nsums].unit = o->unit;
	return (int)t->nsums++;
}

static uint64_t
fp_object(uint64_t h, const struct prof_object *o)
{
	h = fnv(h, o->name, strlen(o->name));
	h = fnv(h, o->oid, o->oidlen * sizeof(oid));
	h = fnv(h, o->fallback, o->fallbacklen * sizeof(oid));
	return fnv(h, &o->type, sizeof(o->type));
}

static int
plan_table(struct plan *pl, struct ptable *t, const struct prof_table *pt)
{
	t->t = pt;
	t->w = calloc(pt->ncols * 2, sizeof(*t->w));
	t->c = calloc(pt->ncols, sizeof(*t->c));
	t->sums = calloc(pt->ncols, sizeof(*t->sums));
	if (t->w == NULL || t->c == NULL || t->sums == NULL)
		return -1;
	t->speed = t->disc = t->lastchange = -1;
	t->stype = t->sunits = t->ssize = t->sused = t->sdescr = -1;
	t->in_bps = t->out_bps = -1;
	t->reps = 0;
	for (size_t i = 0; i < pt->ncols; i++) {
		const struct prof_object *o = &pt->cols[i];
		struct pobj *po = &t->c[t->nc++];

		po->o = o;
		po->prim = wcol_add(t, o->oid, o->oidlen);
		po->fb = o->fallbacklen ? wcol_add(t, o->fallback, o->fallbacklen) : -1;
		if (po->prim < 0 || (o->fallbacklen && po->fb < 0))
			return -1;
		po->ctr = o->type == PT_COUNTER ? (int)t->nctr++ : -1;
		po->sum = o->sum_into ? sum_add(t, o) : -1;
		pl->fingerprint = fp_object(pl->fingerprint, o);
		switch (o->role) {
		case PR_SPEED:
			t->speed = (int)i;
			break;
		case PR_DISCONTINUITY:
			t->disc = (int)i;
			break;
		case PR_LAST_CHANGE:
			t->lastchange = (int)i;
			break;
		case PR_STORAGE_TYPE:
			t->stype = (int)i;
			break;
		case PR_STORAGE_UNITS:
			t->sunits = (int)i;
			break;
		case PR_STORAGE_SIZE:
			t->ssize = (int)i;
			break;
		case PR_STORAGE_USED:
			t->sused = (int)i;
			break;
		default:
			break;
		}
		if (strcmp(o->name, "in_bps") == 0)
			t->in_bps = (int)i;
		else if (strcmp(o->name, "out_bps") == 0)
			t->out_bps = (int)i;
		else if (strcmp(o->name, "descr") == 0 && pt->kind == PK_STORAGE)
			t->sdescr = (int)i;
	}
	if (pt->kind == PK_STORAGE)
		pl->storage = true;
	return 0;
}

static void
plan_scalar(struct plan *pl, const struct prof_object *o)
{
	struct pobj *po = &pl->s[pl->ns];

	po->o = o;
	po->prim = gvar_add(pl, o->oid, o->oidlen);
	po->fb = o->fallbacklen ? gvar_add(pl, o->fallback, o->fallbacklen) : -1;
	po->ctr = o->type == PT_COUNTER ? (int)pl->nsctr++ : -1;
	po->sum = -1;
	if (o->role == PR_UPTIME)
		pl->uptime = (int)pl->ns;
	else if (o->role == PR_ENGINE_BOOTS)
		pl->eboots = (int)pl->ns;
	else if (o->role == PR_ENGINE_TIME)
		pl->etime = (int)pl->ns;
	pl->fingerprint = fp_object(pl->fingerprint, o);
	pl->ns++;
}

/* Build what to ask a device for from its profiles and custom OIDs.
 * err gets the reason on failure. */
static int
plan_build(struct plan *pl, const struct snmp_profiles *ps, const struct lw_device *dc, char *err,
           size_t errlen)
{
	size_t nscal = dc->noids, ntab = 0, nobj = 0;

	memset(pl, 0, sizeof(*pl));
	pl->uptime = pl->eboots = pl->etime = -1;
	pl->fingerprint = 1469598103934665603ULL;
	for (size_t i = 0; i < dc->nprofiles; i++) {
		const struct snmp_profile *pr = snmp_profiles_find(ps, dc->profiles[i]);
		if (pr == NULL) {
			snprintf(err, errlen,
			         "profile \"%s\" is not defined in the profile directory",
			         dc->profiles[i]);
			return -1;
		}
		nscal += pr->nscalars;
		ntab += pr->ntables;
		for (size_t t = 0; t < pr->ntables; t++)
			nobj += pr->tables[t].ncols + pr->tables[t].ncols / 2 + 8;
	}
	pl->g = calloc(nscal * 2 + 1, sizeof(*pl->g));
	pl->s = calloc(nscal + 1, sizeof(*pl->s));
	pl->t = calloc(ntab + 1, sizeof(*pl->t));
	pl->custom = calloc(dc->noids + 1, sizeof(*pl->custom));
	if (pl->g == NULL || pl->s == NULL || pl->t == NULL || pl->custom == NULL)
		goto nomem;
	for (size_t i = 0; i < dc->nprofiles; i++) {
		const struct snmp_profile *pr = snmp_profiles_find(ps, dc->profiles[i]);
		for (size_t k = 0; k < pr->nscalars; k++)
			plan_scalar(pl, &pr->scalars[k]);
		for (size_t k = 0; k < pr->ntables; k++)
			if (plan_table(pl, &pl->t[pl->nt++], &pr->tables[k]) != 0)
				goto nomem;
	}
	for (size_t i = 0; i < dc->noids; i++) {
		struct prof_object *o = &pl->custom[pl->ncustom];
		const struct lw_custom_oid *c = &dc->oids[i];

		if (snmp_oid_parse(c->oid, o->oid, PROF_OID_MAX, &o->oidlen) != 0) {
			snprintf(err, errlen, "oid %s: \"%s\" is not a numeric OID", c->name,
			         c->oid);
			plan_free(pl);
			return -1;
		}
		o->name = strdup(c->name);
		o->unit = c->unit ? strdup(c->unit) : NULL;
		pl->ncustom++;
		if (o->name == NULL)
			goto nomem;
		o->type = c->counter ? PT_COUNTER : PT_GAUGE;
		o->scale = o->fallback_scale = 1;
		o->publish = true;
		plan_scalar(pl, o);
	}
	pl->sctr = calloc(pl->nsctr + 1, sizeof(*pl->sctr));
	pl->mcap = nscal + nobj + 16;
	pl->acap = nscal + nobj + 16;
	pl->m = calloc(pl->mcap, sizeof(*pl->m));
	pl->a = calloc(pl->acap, sizeof(*pl->a));
	if (pl->sctr == NULL || pl->m == NULL || pl->a == NULL)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	plan_free(pl);
	return -1;
}

/* Carry the interface counters over to a rebuilt plan of the same shape. */
static void
plan_adopt(struct plan *nw, struct plan *old)
{
	if (nw->fingerprint != old->fingerprint || nw->nt != old->nt)
		return;
	for (size_t i = 0; i < nw->nt; i++) {
		struct ptable *a = &nw->t[i], *b = &old->t[i];
		a->st = b->st;
		a->nst = b->nst;
		b->st = NULL;
		b->nst = 0;
	}
	memcpy(nw->sctr, old->sctr, nw->nsctr * sizeof(*nw->sctr));
}

/* --- rows -------------------------------------------------------------- */

static int
row_cmp(const struct ptable *t, const struct row *r, const oid *idx, size_t len)
{
	const uint32_t *x = t->pool + r->off;
	size_t n = r->len < len ? r->len : len;

	for (size_t i = 0; i < n; i++)
		if (x[i] != idx[i])
			return x[i] < idx[i] ? -1 : 1;
	if (r->len == len)
		return 0;
	return r->len < len ? -1 : 1;
}

/* Find or insert the row with this index (sub-ids of 32 bits, as SNMP has
 * them); NULL when the table is full. */
static struct row *
row_get(struct ptable *t, const oid *idx, size_t len, size_t *pos)
{
	size_t lo = 0, hi = t->nrows;

	/* columns arrive in index order: the last row is the usual answer */
	if (t->nrows > 0) {
		int c = row_cmp(t, &t->rows[t->nrows - 1], idx, len);
		if (c == 0) {
			*pos = t->nrows - 1;
			return &t->rows[*pos];
		}
		if (c < 0)
			lo = t->nrows;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = row_cmp(t, &t->rows[mid], idx, len);
		if (c == 0) {
			*pos = mid;
			return &t->rows[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (t->nrows >= MAX_ROWS)
		return NULL;
	if (t->nrows == t->caprows) {
		/* a table is usually as long as last time: grow in small steps */
		size_t ncap = t->caprows ? t->caprows + t->caprows / 2 : 16;
		struct row *nr = realloc(t->rows, ncap * sizeof(*nr));
		if (nr == NULL)
			return NULL;
		t->rows = nr;
		struct cell *nc = realloc(t->cells, ncap * t->nw * sizeof(*nc));
		if (nc == NULL)
			return NULL;
		t->cells = nc;
		t->caprows = ncap;
	}
	if (t->npool + len > t->cappool) {
		size_t ncap = t->cappool ? t->cappool * 2 : 64;
		uint32_t *np;
		while (ncap < t->npool + len)
			ncap *= 2;
		if ((np = realloc(t->pool, ncap * sizeof(*np))) == NULL)
			return NULL;
		t->pool = np;
		t->cappool = ncap;
	}
	for (size_t i = 0; i < len; i++)
		t->pool[t->npool + i] = (uint32_t)idx[i];
	memmove(&t->rows[lo + 1], &t->rows[lo], (t->nrows - lo) * sizeof(*t->rows));
	memmove(&t->cells[(lo + 1) * t->nw], &t->cells[lo * t->nw],
	        (t->nrows - lo) * t->nw * sizeof(*t->cells));
	memset(&t->cells[lo * t->nw], 0, t->nw * sizeof(*t->cells));
	t->rows[lo].off = (uint32_t)t->npool;
	t->rows[lo].len = (uint32_t)len;
	t->npool += len;
	t->nrows++;
	*pos = lo;
	return &t->rows[lo];
}

static struct cell *
row_cell(struct ptable *t, size_t row, int w)
{
	return w < 0 ? NULL : &t->cells[row * t->nw + (size_t)w];
}

/* --- requests ---------------------------------------------------------- */

static const oid sysuptime_prefix[] = {1, 3, 6, 1, 2, 1, 1, 3};
static const oid sysuptime0[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};

static netsnmp_pdu *
pdu_new(struct dev *d, int type)
{
	netsnmp_pdu *pdu = snmp_pdu_create(type);

	if (pdu && d->cfg->auth.version == LW_SNMP_V3 && d->cfg->auth.context) {
		/* the session's contextName applies; nothing per PDU */
	}
	return pdu;
}

static void fail_poll(struct dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail_poll(struct dev *d, const char *fmt, ...)
{
	va_list ap;

	if (!d->failed) {
		va_start(ap, fmt);
		vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
		va_end(ap);
	}
	d->failed = true;
}

static void
send_pdu(struct dev *d, struct job *j, netsnmp_pdu *pdu)
{
	j->requests++;
	if (d->p->base == NULL) {
		/* offline: hold it for the caller, who answers or times out */
		if (d->held)
			snmp_free_pdu(d->held);
		d->held = pdu;
		d->held_reqid = ++d->p->next_reqid;
		j->reqid = d->held_reqid;
		d->inflight++;
		return;
	}
	j->reqid = snmp_sess_async_send(d->sess, pdu, NULL, d);
	if (j->reqid == 0) {
		int liberr = 0, syserr = 0;
		char *msg = NULL;
		snmp_sess_error(d->sess, &liberr, &syserr, &msg);
		fail_poll(d, "cannot send: %s", msg ? msg : "unknown error");
		free(msg);
		snmp_free_pdu(pdu);
		j->done = true;
		return;
	}
	d->inflight++;
}

/* Forget what we knew of the agent's engine: its ID in the session and its
 * boots/time, so that a replaced or reset agent (new engine ID, or engine
 * boots gone back) is learnt afresh instead of failing until a reload. */
static void
forget_engine(struct dev *d)
{
	netsnmp_session *s = d->sess ? snmp_sess_session(d->sess) : NULL;

	if (s == NULL)
		return;
	if (s->securityEngineIDLen > 0)
		free_enginetime(s->securityEngineID, s->securityEngineIDLen);
	SNMP_FREE(s->securityEngineID);
	s->securityEngineIDLen = 0;
	SNMP_FREE(s->contextEngineID);
	s->contextEngineIDLen = 0;
	/* else create_user_from_session() keeps the user of the old engine
	 * and requests to the new one fail with "unknown security name" */
	s->flags &= ~SNMP_FLAGS_USER_CREATED;
}

static void
send_probe(struct dev *d, struct job *j)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);

	forget_engine(d);
	if (pdu == NULL) {
		fail_poll(d, "out of memory");
		j->done = true;
		return;
	}
	/* RFC 3414 discovery: an unauthenticated request with an empty user
	 * draws a Report carrying the agent's engine ID. */
	pdu->version = SNMP_VERSION_3;
	pdu->securityModel = SNMP_SEC_MODEL_USM;
	pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
	pdu->securityName = strdup("");
	pdu->securityNameLen = 0;
	send_pdu(d, j, pdu);
}

static void
send_get(struct dev *d, struct job *j)
{
	struct plan *pl = &d->plan;
	netsnmp_pdu *pdu;

	while (j->gpos < pl->ng && pl->g[j->gpos].absent)
		j->gpos++;
	if (j->gpos >= pl->ng) {
		j->done = true;
		return;
	}
	pdu = pdu_new(d, SNMP_MSG_GET);
	if (pdu == NULL) {
		fail_poll(d, "out of memory");
		j->done = true;
		return;
	}
	j->nreq = 0;
	for (size_t i = j->gpos; i < pl->ng && j->nreq < j->chunk; i++) {
		if (pl->g[i].absent)
			continue;
		snmp_add_null_var(pdu, pl->g[i].o, pl->g[i].len);
		j->req[j->nreq++] = (int)i;
	}
	send_pdu(d, j, pdu);
}

static void
send_walk(struct dev *d, struct job *j)
{
	struct ptable *t = &d->plan.t[j->table];
	netsnmp_pdu *pdu;
	size_t n = 0;

	for (size_t i = 0; i < t->nw; i++)
		if (t->w[i].need && !t->w[i].done)
			n++;
	if (n == 0) {
		j->done = true;
		return;
	}
	if (d->cfg->auth.version == LW_SNMP_V1) {
		pdu = pdu_new(d, SNMP_MSG_GETNEXT);
	} else {
		int maxrep = d->cfg->max_repetitions > 0 ? d->cfg->max_repetitions : 25;
		int cap = VB_PER_REQUEST / (int)n;
		if (t->reps <= 0)
			t->reps = maxrep < cap ? maxrep : (cap > 0 ? cap : 1);
		pdu = pdu_new(d, SNMP_MSG_GETBULK);
		if (pdu) {
			pdu->errstat = d->no_uptime_vb ? 0 : 1; /* non-repeaters */
			pdu->errindex = t->reps;                /* max-repetitions */
		}
	}
	if (pdu == NULL) {
		fail_poll(d, "out of memory");
		j->done = true;
		return;
	}
	/* sysUpTime in every walk request: rates are worked out on the agent's
	 * clock, immune to network and agent response jitter */
	j->uptime_vb = !d->no_uptime_vb;
	if (j->uptime_vb)
		snmp_add_null_var(pdu, sysuptime_prefix, OID_LENGTH(sysuptime_prefix));
	j->nreq = 0;
	for (size_t i = 0; i < t->nw; i++) {
		struct wcol *w = &t->w[i];
		if (!w->need || w->done)
			continue;
		snmp_add_null_var(pdu, w->cur, w->curlen);
		j->req[j->nreq++] = (int)i;
	}
	send_pdu(d, j, pdu);
}

static void
job_send(struct dev *d, struct job *j)
{
	switch (j->kind) {
	case JOB_PROBE:
		send_probe(d, j);
		break;
	case JOB_GET:
		send_get(d, j);
		break;
	case JOB_WALK:
		send_walk(d, j);
		break;
	}
}

/* Start jobs up to max_inflight; finish the poll when all are done. */
static void
jobs_advance(struct dev *d)
{
	int maxin = d->cfg->max_inflight > 0 ? d->cfg->max_inflight : 1;

	if (d->p->base == NULL)
		maxin = 1;
	while (!d->failed && d->inflight < maxin && d->next_job < d->nactive) {
		struct job *j = &d->jobs[d->next_job++];
		job_send(d, j);
		/* a job with nothing to ask is done at once: try the next */
	}
	/* with a probe pending, nothing else may go out */
	if (d->inflight > 0)
		return;
	for (size_t i = 0; i < d->next_job; i++)
		if (!d->jobs[i].done && !d->failed)
			return;
	if (d->next_job < d->nactive && !d->failed)
		return;
	poll_finish(d);
}

/* --- responses --------------------------------------------------------- */

static const char *
report_reason(const netsnmp_pdu *pdu)
{
	static const oid usmstats[] = {1, 3, 6, 1, 6, 3, 15, 1, 1};
	const netsnmp_variable_list *vb = pdu->variables;

	if (vb && vb->name && vb->name_length > 9 &&
	    snmp_oid_ncompare(vb->name, vb->name_length, usmstats, 9, 9) == 0) {
		switch (vb->name[9]) {
		case 1:
			return "SNMPv3: security level not supported by the agent";
		case 2:
			return "SNMPv3: not in time window";
		case 3:
			return "SNMPv3: unknown user name";
		case 4:
			return "SNMPv3: unknown engine ID";
		case 5:
			return "SNMPv3: authentication failed (wrong auth key or protocol)";
		case 6:
			return "SNMPv3: decryption failed (wrong priv key or protocol)";
		}
	}
	return "SNMPv3: agent sent a report";
}

static void
handle_probe(struct dev *d, struct job *j, netsnmp_pdu *resp)
{
	netsnmp_session *s;

	j->done = true;
	if (d->p->base == NULL) {
		d->engine_known = true;
		return;
	}
	s = snmp_sess_session(d->sess);
	if (s == NULL || s->securityEngineIDLen == 0) {
		fail_poll(d, "SNMPv3: agent did not reveal its engine ID");
		return;
	}
	if (create_user_from_session(s) != SNMPERR_SUCCESS) {
		fail_poll(d, "SNMPv3: cannot set up the user for this agent");
		return;
	}
	d->engine_known = true;
	d->probed = true;
}

static void
handle_get(struct dev *d, struct job *j, netsnmp_pdu *resp, int64_t t)
{
	struct plan *pl = &d->plan;
	netsnmp_variable_list *vb;
	size_t i = 0;

	clock_push(d, t, false, 0);
	if (resp->errstat == SNMP_ERR_NOSUCHNAME) {
		/* SNMPv1: the whole GET fails for one missing object; drop it
		 * and ask again for the rest. */
		long ei = resp->errindex;
		if (ei >= 1 && (size_t)ei <= j->nreq) {
			pl->g[j->req[ei - 1]].absent = true;
			anomaly(d, AN_NO_SUCH, NULL);
			return;
		}
		anomaly(d, AN_AGENT_ERROR, "noSuchName without a valid index");
		j->gpos += j->nreq;
		return;
	}
	if (resp->errstat == SNMP_ERR_TOOBIG && j->chunk > 1) {
		j->chunk /= 2;
		return;
	}
	if (resp->errstat != SNMP_ERR_NOERROR) {
		anomaly(d, AN_AGENT_ERROR, snmp_errstring((int)resp->errstat));
		j->gpos += j->nreq;
		return;
	}
	for (vb = resp->variables; vb && i < j->nreq; vb = vb->next_variable, i++) {
		struct gvar *g = &pl->g[j->req[i]];
		if (vb->name == NULL ||
		    snmp_oid_compare(vb->name, vb->name_length, g->o, g->len) != 0) {
			anomaly(d, AN_AGENT_ERROR, "GET answered for another OID");
			continue;
		}
		if (is_exception(vb->type)) {
			char buf[128];
			anomaly(d, AN_NO_SUCH, snmp_oid_fmt(g->o, g->len, buf, sizeof(buf)));
			continue;
		}
		cell_set(d, &g->c, vb);
	}
	/* advance past the chunk just answered */
	if (j->nreq > 0) {
		size_t last = (size_t)j->req[j->nreq - 1];
		j->gpos = last + 1;
	}
}

/* Row index sub-ids are kept in 32 bits, as SNMP defines them. */
static bool
subids_fit(const oid *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (o[i] > UINT32_MAX)
			return false;
	return true;
}

/* One walked varbind for column w; returns false when the walk of this
 * table must stop altogether (too many rows). */
static bool
walk_varbind(struct dev *d, struct ptable *t, int wi, const netsnmp_variable_list *vb,
             bool *progress)
{
	struct wcol *w = &t->w[wi];
	struct row *r;
	size_t pos;

	if (w->done)
		return true;
	if (is_exception(vb->type) || vb->name == NULL || vb->name_length <= w->len ||
	    vb->name_length > MAX_OID_LEN ||
	    snmp_oid_ncompare(vb->name, vb->name_length, w->prefix, w->len, w->len) != 0) {
		w->done = true; /* the column is over */
		return true;
	}
	if (snmp_oid_compare(vb->name, vb->name_length, w->cur, w->curlen) <= 0) {
		char buf[128];
		anomaly(d, AN_NON_INCREASING,
		        snmp_oid_fmt(vb->name, vb->name_length, buf, sizeof(buf)));
		w->done = true;
		return true;
	}
	if (vb->name_length > w->curcap) {
		oid *n = realloc(w->cur, vb->name_length * sizeof(oid));
		if (n == NULL) {
			w->done = true;
			return true;
		}
		w->cur = n;
		w->curcap = vb->name_length;
	}
	memcpy(w->cur, vb->name, vb->name_length * sizeof(oid));
	w->curlen = vb->name_length;
	*progress = true;
	if (vb->name_length - w->len > IDX_MAX ||
	    !subids_fit(vb->name + w->len, vb->name_length - w->len)) {
		anomaly(d, AN_LONG_INDEX, NULL);
		return true;
	}
	r = row_get(t, vb->name + w->len, vb->name_length - w->len, &pos);
	if (r == NULL) {
		anomaly(d, AN_TOO_MANY_ROWS, NULL);
		return false;
	}
	cell_set(d, row_cell(t, pos, wi), vb);
	return true;
}

static void
walk_stop(struct ptable *t)
{
	for (size_t i = 0; i < t->nw; i++)
		t->w[i].done = true;
}

static void
handle_walk(struct dev *d, struct job *j, netsnmp_pdu *resp, int64_t ts)
{
	struct ptable *t = &d->plan.t[j->table];
	netsnmp_variable_list *vb;
	bool progress = false;
	size_t i = 0;
	uint32_t ticks = 0;
	bool have_ticks = false;

	if (resp->errstat == SNMP_ERR_NOSUCHNAME) {
		/* SNMPv1 end of MIB for one column */
		long ei = resp->errindex - (j->uptime_vb ? 1 : 0);
		if (j->uptime_vb && ei == 0) {
			d->no_uptime_vb = true;
			return;
		}
		if (ei >= 1 && (size_t)ei <= j->nreq) {
			t->w[j->req[ei - 1]].done = true;
			return;
		}
		anomaly(d, AN_AGENT_ERROR, "noSuchName without a valid index");
		walk_stop(t);
		return;
	}
	if (resp->errstat == SNMP_ERR_TOOBIG && t->reps > 1) {
		t->reps /= 2;
		return;
	}
	if (resp->errstat != SNMP_ERR_NOERROR) {
		anomaly(d, AN_AGENT_ERROR, snmp_errstring((int)resp->errstat));
		walk_stop(t);
		return;
	}
	if (j->nreq == 0) {
		walk_stop(t);
		return;
	}
	vb = resp->variables;
	if (j->uptime_vb && vb) {
		if (vb->type == ASN_TIMETICKS && vb->val.integer && vb->val_len >= sizeof(long) &&
		    snmp_oid_compare(vb->name, vb->name_length, sysuptime0,
		                     OID_LENGTH(sysuptime0)) == 0) {
			ticks = (uint32_t)*vb->val.integer;
			have_ticks = true;
		} else {
			d->no_uptime_vb = true; /* not what was asked: stop asking */
		}
		vb = vb->next_variable;
	}
	clock_push(d, ts, have_ticks, ticks);
	/* GETBULK answers repeat the requested columns in order, row by row */
	for (; vb; vb = vb->next_variable, i++) {
		int wi = j->req[i % j->nreq];
		if (!walk_varbind(d, t, wi, vb, &progress)) {
			walk_stop(t);
			return;
		}
	}
	if (!progress) {
		bool open = false;
		for (size_t k = 0; k < j->nreq; k++)
			open |= !t->w[j->req[k]].done;
		if (open) {
			anomaly(d, AN_NO_PROGRESS, NULL);
			walk_stop(t);
		}
	}
}

static struct job *
job_by_reqid(struct dev *d, int reqid)
{
	if (reqid == 0)
		return NULL;
	for (size_t i = 0; i < d->next_job && i < d->nactive; i++)
		if (d->jobs[i].reqid == reqid)
			return &d->jobs[i];
	return NULL;
}

/* The answer (or timeout, resp NULL) to a job's request. */
static void
on_answer(struct dev *d, int reqid, netsnmp_pdu *resp, const char *timeout_reason)
{
	struct job *j;
	int64_t t;

	if (!d->busy)
		return;
	j = job_by_reqid(d, reqid);
	if (j == NULL)
		return; /* a request of a cancelled poll */
	j->reqid = 0;
	d->inflight--;
	if (resp == NULL) {
		anomaly(d, AN_TIMEOUT, NULL);
		fail_poll(d, "%s", timeout_reason);
		j->done = true;
		jobs_advance(d);
		return;
	}
	t = now_ms(d->p);
	if (resp->command == SNMP_MSG_REPORT && j->kind != JOB_PROBE) {
		fail_poll(d, "%s", report_reason(resp));
		j->done = true;
		jobs_advance(d);
		return;
	}
	switch (j->kind) {
	case JOB_PROBE:
		handle_probe(d, j, resp);
		break;
	case JOB_GET:
		handle_get(d, j, resp, t);
		break;
	case JOB_WALK:
		handle_walk(d, j, resp, t);
		break;
	}
	if (!j->done && !d->failed)
		job_send(d, j);
	jobs_advance(d);
}

/* --- interpreting a finished poll ------------------------------------- */

struct out {
	struct lw_metric *m;
	size_t nm, mcap;
	struct lw_attr *a;
	size_t na, acap;
};

static void
out_metric(struct out *o, const char *name, const char *unit, double v, bool valid)
{
	if (o->nm >= o->mcap)
		return;
	o->m[o->nm].name = name;
	o->m[o->nm].unit = unit ? unit : "";
	o->m[o->nm].value = valid ? v : 0;
	o->m[o->nm].valid = valid;
	o->nm++;
}

static void
out_attr(struct out *o, const char *name, const char *value)
{
	if (o->na >= o->acap || value == NULL)
		return;
	o->a[o->na].name = name;
	o->a[o->na].value = value;
	o->na++;
}

static const char *arena_fmt(struct dev *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *
arena_fmt(struct dev *d, const char *fmt, ...)
{
	char buf[STR_MAX + 1];
	va_list ap;
	uint32_t off;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	off = arena_put(d, (const unsigned char *)buf, strlen(buf), true);
	return off == UINT32_MAX ? "" : d->arena + off;
}

static const char *
idx_text(struct dev *d, const struct ptable *t, size_t ri)
{
	const struct row *r = &t->rows[ri];
	char buf[STR_MAX + 1];
	size_t o = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < r->len && o < sizeof(buf); i++) {
		int n = snprintf(buf + o, sizeof(buf) - o, "%s%" PRIu32, i ? "." : "",
		                 t->pool[r->off + i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return arena_fmt(d, "%s", buf);
}

/* Publish one object's value from a cell (metric or attribute). */
static void
out_object(struct dev *d, struct out *o, const struct pobj *po, const struct cell *c, double scale)
{
	const struct prof_object *ob = po->o;

	if (!ob->publish)
		return;
	switch (ob->type) {
	case PT_STRING:
	case PT_OID:
		if (c)
			out_attr(o, ob->name, cell_str(d, c));
		break;
	case PT_ENUM:
		if (c) {
			const char *n = prof_enum_name(ob, cell_long(c));
			out_attr(o, ob->name, n ? n : arena_fmt(d, "%ld", cell_long(c)));
		}
		break;
	case PT_FLAG:
		out_metric(o, ob->name, ob->unit, c && prof_flag(ob, cell_long(c)) ? 1 : 0,
		           c != NULL);
		break;
	case PT_GAUGE:
		out_metric(o, ob->name, ob->unit, c ? cell_num(c) * scale : 0, c != NULL);
		break;
	case PT_TIMETICKS:
		out_metric(o, ob->name, ob->unit, c ? cell_num(c) / 100.0 * scale : 0, c != NULL);
		break;
	case PT_COUNTER:
		break; /* rates are worked out by the caller */
	}
}

/* Feed a counter; returns whether the rate is valid. */
static bool
feed_counter(struct dev *d, struct counter *ctr, const struct cell *c, double ceiling, bool disc,
             double *rate)
{
	const struct rclock *clk;
	enum counter_result r;
	int width;

	if (c == NULL)
		return false;
	width = c->asn == ASN_COUNTER64 ? 64 : 32;
	clk = &d->clk[c->clk];
	if (clk->have_ticks) {
		/* the agent's clock, sysUpTime wraps included (10 ms ticks) */
		int64_t t = (int64_t)((((uint64_t)d->wraps << 32) | clk->ticks) * 10);
		r = counter_update_clock(ctr, c->v.u, width, 1, t, ceiling, disc, rate);
	} else {
		r = counter_update_clock(ctr, c->v.u, width, 0, clk->t_ms, ceiling, disc, rate);
	}
	if (r == COUNTER_RESET || r == COUNTER_TOO_FAST)
		anomaly(d, AN_DISCONTINUITY, counter_result_name(r));
	return counter_valid(r);
}

static const char *row_name(struct dev *d, struct ptable *t, size_t ri);
static bool any_counter_down(struct dev *d, struct ptable *t, size_t ri, struct rowstate *st);

static struct rowstate *
rowstate_find(struct ptable *t, const char *name)
{
	for (size_t i = 0; i < t->nst; i++)
		if (strcmp(t->st[i].name, name) == 0)
			return &t->st[i];
	return NULL;
}

/* sysUpTime below its last value and no engine clocks to tell: a 497-day
 * wrap keeps the 64-bit counters climbing, a restart sets them back.  With
 * no 64-bit counter to look at, assume a restart: a gap, never a spike. */
static enum uptime_result
settle_ambiguous(struct dev *d)
{
	struct plan *pl = &d->plan;
	bool any = false;

	for (size_t ti = 0; ti < pl->nt; ti++) {
		struct ptable *t = &pl->t[ti];
		if (t->t->kind != PK_INTERFACE)
			continue;
		for (size_t ri = 0; ri < t->nrows; ri++) {
			struct rowstate *st = rowstate_find(t, row_name(d, t, ri));
			if (st == NULL)
				continue;
			if (any_counter_down(d, t, ri, st))
				return UPTIME_REBOOT;
			for (size_t ci = 0; ci < t->nc; ci++)
				if (t->c[ci].ctr >= 0 && st->ctr[t->c[ci].ctr].width == 64)
					any = true;
		}
	}
	return any ? UPTIME_WRAPPED : UPTIME_REBOOT;
}

/* sysUpTime and engine clocks: did the agent restart since the last poll? */
static bool
check_restart(struct dev *d)
{
	struct plan *pl = &d->plan;
	const struct cell *c, *b, *e;
	struct uptime_obs cur = {0};
	enum uptime_result r;

	if (pl->uptime < 0)
		return false;
	c = &pl->g[pl->s[pl->uptime].prim].c;
	if (!c->asn || !type_fits(pl->s[pl->uptime].o, c->asn))
		return false;
	cur.ticks = (uint32_t)c->v.u;
	cur.t_ms = d->clk[c->clk].t_ms;
	if (pl->eboots >= 0 && pl->etime >= 0) {
		b = &pl->g[pl->s[pl->eboots].prim].c;
		e = &pl->g[pl->s[pl->etime].prim].c;
		if (b->asn == ASN_INTEGER && e->asn == ASN_INTEGER && b->v.i >= 0 && e->v.i >= 0) {
			cur.have_engine = true;
			cur.engine_boots = (uint32_t)b->v.i;
			cur.engine_time = (uint32_t)e->v.i;
		}
	}
	r = uptime_check(d->have_uptime ? &d->uptime : NULL, &cur);
	if (r == UPTIME_AMBIGUOUS)
		r = settle_ambiguous(d);
	d->uptime = cur;
	d->have_uptime = true;
	if (r == UPTIME_WRAPPED) {
		d->wraps++;
		return false;
	}
	if (r == UPTIME_REBOOT) {
		d->wraps = 0;
		log_info("device %s: agent restarted (sysUpTime went back); rates of this interval "
		         "left unknown",
		         d->name);
		d->stats.discontinuities++;
		return true;
	}
	return false;
}

static const char *
row_string(struct dev *d, struct ptable *t, size_t ri, int ci)
{
	const struct cell *c;

	if (ci < 0)
		return NULL;
	c = row_cell(t, ri, t->c[ci].prim);
	if (c == NULL || c->asn != ASN_OCTET_STR)
		return NULL;
	return cell_str(d, c);
}

static struct rowstate *
rowstate_get(struct ptable *t, const char *name)
{
	struct rowstate *n = rowstate_find(t, name);

	if (n != NULL)
		return n;
	n = realloc(t->st, (t->nst + 1) * sizeof(*n));
	if (n == NULL)
		return NULL;
	t->st = n;
	n = &t->st[t->nst];
	memset(n, 0, sizeof(*n));
	n->name = strdup(name);
	n->ctr = calloc(t->nctr + 1, sizeof(*n->ctr));
	if (n->name == NULL || n->ctr == NULL) {
		free(n->name);
		free(n->ctr);
		return NULL;
	}
	t->nst++;
	return n;
}

static bool
selected(struct dev *d, struct ptable *t, size_t ri)
{
	const struct lw_device *dc = d->cfg;

	if (dc->ninterfaces == 0)
		return true;
	for (size_t ci = 0; ci < t->nc; ci++) {
		const char *s;
		if (t->c[ci].o->type != PT_STRING)
			continue;
		s = row_string(d, t, ri, (int)ci);
		if (s == NULL || *s == '\0')
			continue;
		for (size_t k = 0; k < dc->ninterfaces; k++)
			if (strcmp(dc->interfaces[k], s) == 0)
				return true;
	}
	return false;
}

static double
obj_value(struct dev *d, struct ptable *t, size_t ri, int ci, bool *ok)
{
	const struct pobj *po;
	const struct cell *c;
	double scale = 1;

	*ok = false;
	if (ci < 0)
		return 0;
	po = &t->c[ci];
	c = pick(d, po, row_cell(t, ri, po->prim), row_cell(t, ri, po->fb), &scale);
	if (c == NULL)
		return 0;
	*ok = true;
	return cell_num(c) * scale;
}

/* A name for the row: first non-empty key column, else its index. */
static const char *
row_name(struct dev *d, struct ptable *t, size_t ri)
{
	for (size_t k = 0; k < t->t->nkey; k++) {
		const char *s = row_string(d, t, ri, (int)t->t->key[k]);
		if (s && *s)
			return s;
	}
	return arena_fmt(d, "index %s", idx_text(d, t, ri));
}

static void
publish_sample(struct dev *d, enum lw_subject kind, const char *name, struct out *o)
{
	struct lw_sample s = {0};

	s.kind = kind;
	s.device = d->name;
	s.name = name;
	s.ts = d->start_tv;
	s.interval_ms = d->cfg->interval_ms;
	s.status = d->failed ? LW_CRITICAL : LW_OK;
	s.message = d->failed ? d->reason : NULL;
	s.metrics = o->m;
	s.nmetrics = o->nm;
	s.attrs = o->a;
	s.nattrs = o->na;
	if (d->p->bus)
		sample_publish(d->p->bus, &s);
}

/* Interfaces of an unreachable device: every value unknown this interval. */
static void
publish_unknown_rows(struct dev *d, struct ptable *t)
{
	struct plan *pl = &d->plan;

	for (size_t k = 0; k < t->nst; k++) {
		struct out o = {pl->m, 0, pl->mcap, pl->a, 0, pl->acap};
		for (size_t ci = 0; ci < t->nc; ci++) {
			const struct prof_object *ob = t->c[ci].o;
			if (ob->publish && ob->type != PT_STRING && ob->type != PT_OID &&
			    ob->type != PT_ENUM)
				out_metric(&o, ob->name, ob->unit, 0, false);
		}
		for (size_t si = 0; si < t->nsums; si++)
			out_metric(&o, t->sums[si].name, t->sums[si].unit, 0, false);
		out_metric(&o, "utilization_in_pct", "%", 0, false);
		out_metric(&o, "utilization_out_pct", "%", 0, false);
		publish_sample(d, LW_SUBJ_INTERFACE, t->st[k].name, &o);
	}
}

static bool
any_counter_down(struct dev *d, struct ptable *t, size_t ri, struct rowstate *st)
{
	for (size_t ci = 0; ci < t->nc; ci++) {
		const struct pobj *po = &t->c[ci];
		const struct cell *c = row_cell(t, ri, po->prim);
		if (po->ctr < 0 || c == NULL || c->asn != ASN_COUNTER64)
			continue;
		if (counter_went_down(&st->ctr[po->ctr], c->v.u, 64))
			return true;
	}
	return false;
}

static void
process_interfaces(struct dev *d, struct ptable *t, bool disc_all)
{
	struct plan *pl = &d->plan;
	double uptime_ticks = -1;

	if (pl->uptime >= 0 && d->have_uptime)
		uptime_ticks = d->uptime.ticks;
	for (size_t k = 0; k < t->nst; k++)
		t->st[k].seen = false;
	for (size_t ri = 0; ri < t->nrows; ri++) {
		struct out o = {pl->m, 0, pl->mcap, pl->a, 0, pl->acap};
		const char *name;
		struct rowstate *st;
		bool disc = disc_all, sok, ok;
		double speed, v;

		if (!selected(d, t, ri))
			continue;
		name = row_name(d, t, ri);
		st = rowstate_get(t, name);
		if (st && st->seen) {
			anomaly(d, AN_DUP_NAME, NULL);
			name = arena_fmt(d, "%s#%s", name, idx_text(d, t, ri));
			st = rowstate_get(t, name);
		}
		if (st == NULL)
			continue;
		st->seen = true;
		if (t->disc >= 0) {
			v = obj_value(d, t, ri, t->disc, &ok);
			if (ok && st->have_disc && (uint32_t)v != st->disc) {
				disc = true;
				anomaly(d, AN_DISCONTINUITY, "ifCounterDiscontinuityTime changed");
			}
			st->have_disc = ok;
			st->disc = ok ? (uint32_t)v : 0;
		}
		speed = obj_value(d, t, ri, t->speed, &sok);
		if (!sok)
			speed = 0;
		for (size_t si = 0; si < t->nsums; si++) {
			t->sums[si].value = 0;
			t->sums[si].valid = true;
			t->sums[si].any = false;
		}
		for (size_t ci = 0; ci < t->nc; ci++) {
			const struct pobj *po = &t->c[ci];
			const struct prof_object *ob = po->o;
			double scale = 1, rate = 0, ceiling = 0;
			const struct cell *c =
			    pick(d, po, row_cell(t, ri, po->prim), row_cell(t, ri, po->fb), &scale);

			if ((int)ci == t->lastchange) {
				bool have = c && uptime_ticks >= 0 && cell_num(c) <= uptime_ticks;
				if (ob->publish)
					out_metric(&o, ob->name, ob->unit,
					           have ? (uptime_ticks - cell_num(c)) / 100.0 : 0,
					           have);
				continue;
			}
			if (ob->type != PT_COUNTER) {
				out_object(d, &o, po, c, scale);
				continue;
			}
			if (speed > 0 && ob->unit && strcmp(ob->unit, "bps") == 0)
				ceiling = speed * 1.1 / scale;
			else if (speed > 0 && ob->unit && strcmp(ob->unit, "pps") == 0)
				ceiling = speed * 1.1 / 512.0; /* 64-byte frames */
			ok = feed_counter(d, &st->ctr[po->ctr], c, ceiling, disc, &rate);
			if (po->sum >= 0) {
				struct sum *s = &t->sums[po->sum];
				s->any = true;
				s->valid = s->valid && ok;
				s->value += rate * scale;
			}
			if (ob->publish)
				out_metric(&o, ob->name, ob->unit, rate * scale, ok);
		}
		for (size_t si = 0; si < t->nsums; si++)
			out_metric(&o, t->sums[si].name, t->sums[si].unit, t->sums[si].value,
			           t->sums[si].any && t->sums[si].valid);
		if (t->in_bps >= 0 || t->out_bps >= 0) {
			const struct lw_metric *in = NULL, *out = NULL;
			for (size_t mi = 0; mi < o.nm; mi++) {
				if (strcmp(o.m[mi].name, "in_bps") == 0)
					in = &o.m[mi];
				else if (strcmp(o.m[mi].name, "out_bps") == 0)
					out = &o.m[mi];
			}
			double inv = in ? in->value : 0, outv = out ? out->value : 0;
			bool inok = in && in->valid, outok = out && out->valid;
			out_metric(&o, "utilization_in_pct", "%", speed > 0 ? inv / speed * 100 : 0,
			           inok && speed > 0);
			out_metric(&o, "utilization_out_pct", "%",
			           speed > 0 ? outv / speed * 100 : 0, outok && speed > 0);
		}
		out_attr(&o, "ifindex", idx_text(d, t, ri));
		publish_sample(d, LW_SUBJ_INTERFACE, name, &o);
	}
	/* interfaces gone from the agent are forgotten */
	for (size_t k = 0; k < t->nst;) {
		if (t->st[k].seen) {
			k++;
			continue;
		}
		free(t->st[k].name);
		free(t->st[k].ctr);
		t->st[k] = t->st[t->nst - 1];
		t->nst--;
	}
}

/* hrStorageTable summarised into device metrics. */
static void
process_storage(struct dev *d, struct ptable *t, struct out *o)
{
	double mem = -1, swap = -1, disk = -1, v;
	bool swap_named = false, ok;
	const char *fullest = NULL;

	for (size_t ri = 0; ri < t->nrows; ri++) {
		const struct cell *tc = t->stype >= 0 ? row_cell(t, ri, t->c[t->stype].prim) : NULL;
		const char *type = tc ? cell_str(d, tc) : NULL;
		const char *descr = row_string(d, t, ri, t->sdescr);
		double size = obj_value(d, t, ri, t->ssize, &ok), used, pct;

		if (type == NULL || !ok || size <= 0)
			continue;
		used = obj_value(d, t, ri, t->sused, &ok);
		if (!ok)
			continue;
		pct = used / size * 100.0;
		if (strcmp(type, HR_RAM) == 0 && mem < 0) {
			mem = pct;
		} else if (strcmp(type, HR_VIRTUAL) == 0) {
			bool named = descr && strcasestr(descr, "swap") != NULL;
			if (swap < 0 || (named && !swap_named)) {
				swap = pct;
				swap_named = named;
			}
		} else if (strcmp(type, HR_FIXED_DISK) == 0 && pct > disk) {
			disk = pct;
			fullest = descr;
		}
	}
	v = mem;
	out_metric(o, "memory_used_pct", "%", v, v >= 0);
	out_metric(o, "swap_used_pct", "%", swap, swap >= 0);
	out_metric(o, "disk_used_pct", "%", disk, disk >= 0);
	if (fullest)
		out_attr(o, "disk_fullest", fullest);
}

static const char *
state_name(enum dev_state s)
{
	switch (s) {
	case DS_OK:
		return "ok";
	case DS_UNREACHABLE:
		return "unreachable";
	default:
		return "unknown";
	}
}

static void
publish_device(struct dev *d, bool disc_all, int64_t duration)
{
	struct plan *pl = &d->plan;
	struct out o = {pl->m, 0, pl->mcap, pl->a, 0, pl->acap};
	bool ok = !d->failed;

	out_attr(&o, "state", state_name(d->state));
	out_attr(&o, "reason", ok ? "" : d->reason);
	out_attr(&o, "address", d->cfg->address);
	out_metric(&o, "reachable", "", ok ? 1 : 0, true);
	out_metric(&o, "poll_duration_ms", "ms", (double)duration, true);
	for (size_t i = 0; i < pl->ns; i++) {
		const struct pobj *po = &pl->s[i];
		const struct prof_object *ob = po->o;
		double scale = 1, rate = 0;
		const struct cell *c = NULL;

		if (ok)
			c = pick(d, po, &pl->g[po->prim].c, po->fb >= 0 ? &pl->g[po->fb].c : NULL,
			         &scale);
		if ((int)i == pl->uptime) {
			bool have = c != NULL;
			out_metric(&o, ob->name, "s",
			           have ? uptime_seconds((uint32_t)c->v.u, d->wraps) : 0, have);
			continue;
		}
		if (ob->type == PT_COUNTER) {
			bool valid =
			    ok && feed_counter(d, &pl->sctr[po->ctr], c, 0, disc_all, &rate);
			if (ob->publish)
				out_metric(&o, ob->name, ob->unit, rate * scale, valid);
			continue;
		}
		if (!ok && ob->type != PT_STRING && ob->type != PT_OID && ob->type != PT_ENUM) {
			if (ob->publish)
				out_metric(&o, ob->name, ob->unit, 0, false);
			continue;
		}
		out_object(d, &o, po, c, scale);
	}
	for (size_t ti = 0; ti < pl->nt; ti++) {
		if (pl->t[ti].t->kind != PK_STORAGE)
			continue;
		if (ok) {
			process_storage(d, &pl->t[ti], &o);
		} else {
			out_metric(&o, "memory_used_pct", "%", 0, false);
			out_metric(&o, "swap_used_pct", "%", 0, false);
			out_metric(&o, "disk_used_pct", "%", 0, false);
		}
	}
	publish_sample(d, LW_SUBJ_DEVICE, NULL, &o);
}

/* Fallback columns are walked only while some row lacks the primary one. */
static void
update_fallback_need(struct ptable *t)
{
	for (size_t ci = 0; ci < t->nc; ci++)
		if (t->c[ci].fb >= 0)
			t->w[t->c[ci].fb].need = false;
	for (size_t ci = 0; ci < t->nc; ci++) {
		const struct pobj *po = &t->c[ci];
		bool need = t->nrows == 0;
		if (po->fb < 0)
			continue;
		for (size_t ri = 0; ri < t->nrows && !need; ri++) {
			const struct cell *c = row_cell(t, ri, po->prim);
			if (!c->asn || !type_fits(po->o, c->asn) ||
			    (po->o->prefer_nonzero && cell_num(c) == 0))
				need = true;
		}
		if (need)
			t->w[po->fb].need = true;
	}
}

static void
poll_finish(struct dev *d)
{
	struct plan *pl = &d->plan;
	int64_t duration = now_ms(d->p) - d->start_ms;
	enum dev_state prev = d->state;
	bool disc_all = false;

	d->busy = false;
	if (d->failed) {
		/* SNMPv3: the next poll discovers the engine first.  A changed
		 * engine ID (agent replaced or reset) shows as unknownEngineID,
		 * notInTimeWindow, decryption errors or silence; rediscovery
		 * costs one small exchange per failed poll. */
		if (d->cfg->auth.version == LW_SNMP_V3)
			d->engine_known = false;
		d->stats.polls_failed++;
		d->fails++;
		d->state = DS_UNREACHABLE;
		if (prev != DS_UNREACHABLE)
			log_warnx("device %s (%s) unreachable: %s", d->name, d->cfg->address,
			          d->reason);
		publish_device(d, false, duration);
		for (size_t ti = 0; ti < pl->nt; ti++)
			if (pl->t[ti].t->kind == PK_INTERFACE)
				publish_unknown_rows(d, &pl->t[ti]);
		return;
	}
	d->fails = 0;
	d->state = DS_OK;
	if (prev == DS_UNREACHABLE)
		log_info("device %s (%s) reachable again", d->name, d->cfg->address);
	disc_all = check_restart(d);
	for (size_t ti = 0; ti < pl->nt; ti++) {
		struct ptable *t = &pl->t[ti];
		if (t->t->kind == PK_INTERFACE)
			process_interfaces(d, t, disc_all);
		update_fallback_need(t);
	}
	publish_device(d, disc_all, duration);
}

/* --- polls ------------------------------------------------------------- */

static int
jobs_alloc(struct dev *d)
{
	struct plan *pl = &d->plan;
	size_t n = 1 + 1 + pl->nt, maxw = GET_CHUNK;

	for (size_t i = 0; i < pl->nt; i++)
		if (pl->t[i].nw > maxw)
			maxw = pl->t[i].nw;
	d->jobs = calloc(n, sizeof(*d->jobs));
	if (d->jobs == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		d->jobs[i].req = calloc(maxw, sizeof(int));
		if (d->jobs[i].req == NULL)
			return -1;
	}
	d->njobs = n;
	return 0;
}

static void
jobs_free(struct dev *d)
{
	for (size_t i = 0; i < d->njobs; i++)
		free(d->jobs[i].req);
	free(d->jobs);
	d->jobs = NULL;
	d->njobs = 0;
}

static void
poll_start(struct dev *d)
{
	struct plan *pl = &d->plan;
	size_t n = 0;

	if (d->busy) {
		anomaly(d, AN_OVERRUN, NULL);
		return;
	}
	d->busy = true;
	d->failed = false;
	d->reason[0] = '\0';
	d->probed = false;
	d->sec_error[0] = '\0';
	d->inflight = 0;
	d->next_job = 0;
	d->alen = 0;
	d->nclk = 0;
	d->start_ms = now_ms(d->p);
	gettimeofday(&d->start_tv, NULL);
	d->stats.polls++;
	for (size_t i = 0; i < d->njobs; i++) {
		int *req = d->jobs[i].req;
		memset(&d->jobs[i], 0, sizeof(d->jobs[i]));
		d->jobs[i].req = req;
	}
	if (d->cfg->auth.version == LW_SNMP_V3 && !d->engine_known)
		d->jobs[n++].kind = JOB_PROBE;
	for (size_t i = 0; i < pl->ng; i++) {
		memset(&pl->g[i].c, 0, sizeof(pl->g[i].c));
		pl->g[i].absent = false;
	}
	if (pl->ng > 0) {
		d->jobs[n].kind = JOB_GET;
		d->jobs[n].chunk = GET_CHUNK;
		n++;
	}
	for (size_t i = 0; i < pl->nt; i++) {
		struct ptable *t = &pl->t[i];
		t->nrows = 0;
		t->npool = 0;
		for (size_t k = 0; k < t->nw; k++) {
			struct wcol *w = &t->w[k];
			w->done = false;
			memcpy(w->cur, w->prefix, w->len * sizeof(oid));
			w->curlen = w->len;
		}
		d->jobs[n].kind = JOB_WALK;
		d->jobs[n].table = (int)i;
		n++;
	}
	d->nactive = n;
	jobs_advance(d);
}

/* --- sessions on the event loop ---------------------------------------- */

/* Why a request went unanswered, with what SNMPv3 saw on the way: a wrong
 * priv key (AES) makes the agent drop our requests silently, and only the
 * answered discovery tells that apart from a dead agent. */
static void
timeout_reason(struct dev *d, const struct job *j, char *buf, size_t len)
{
	int n = snprintf(buf, len, "no response after %d %s of %.1f s", d->cfg->retries + 1,
	                 d->cfg->retries ? "tries" : "try", (double)d->cfg->timeout_ms / 1000.0);

	if (n < 0 || (size_t)n >= len || d->cfg->auth.version != LW_SNMP_V3)
		return;
	if (d->sec_error[0] != '\0')
		snprintf(buf + n, len - (size_t)n, " (SNMPv3: %s)", d->sec_error);
	else if (d->probed && j != NULL && j->kind != JOB_PROBE)
		snprintf(buf + n, len - (size_t)n,
		         " (the agent answers SNMPv3 discovery but not our requests: check the "
		         "user, auth and priv keys and protocols)");
}

static int
on_snmp(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct dev *d = magic;
	const struct job *j;
	char reason[256];

	if (d == NULL || d->closing)
		return 1;
	switch (op) {
	case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE:
		on_answer(d, reqid, pdu, NULL);
		break;
	case NETSNMP_CALLBACK_OP_TIMED_OUT:
		timeout_reason(d, job_by_reqid(d, reqid), reason, sizeof(reason));
		on_answer(d, reqid, NULL, reason);
		break;
	case NETSNMP_CALLBACK_OP_SEND_FAILED:
		on_answer(d, reqid, NULL, "cannot send the request");
		break;
	case NETSNMP_CALLBACK_OP_SEC_ERROR:
		/* A response failed USM checks; net-snmp then delivers it anyway
		 * when it is a Report (to discovery: no engine time yet; to a
		 * wrong key: wrongDigests), else the request times out.  Kept
		 * for the reason; the request is not over yet. */
		if (d->busy && (j = job_by_reqid(d, reqid)) != NULL && j->kind != JOB_PROBE)
			snprintf(d->sec_error, sizeof(d->sec_error), "%s",
			         s != NULL && s->s_snmp_errno
			             ? snmp_api_errstring(s->s_snmp_errno)
			             : "the agent's answer failed authentication (wrong auth key "
			               "or protocol?)");
		break;
	default:
		break;
	}
	return 1;
}

/* Arm the timer for net-snmp's next retransmission or timeout. */
static void
dev_rearm(struct dev *d)
{
	if (d->sess == NULL || d->closing)
		return;
	snmp_ev_rearm(&d->ev);
}

static int64_t
backoff_ms(struct dev *d)
{
	int64_t iv = d->cfg->interval_ms > 0 ? d->cfg->interval_ms : 30000;
	int64_t f = 1, cap;

	for (unsigned i = 1; i < d->fails && f < BACKOFF_FACTOR_MAX; i++)
		f *= 2;
	cap = iv > BACKOFF_MAX_MS ? iv : BACKOFF_MAX_MS;
	return iv * f < cap ? iv * f : cap;
}

static void
schedule(struct dev *d, int64_t delay_ms)
{
	struct timeval tv;

	if (delay_ms < 0)
		delay_ms = 0;
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(d->ev_poll, &tv);
}

static void
on_poll_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dev *d = arg;
	int64_t now = now_ms(d->p), delay = backoff_ms(d);

	/* a poll whose requests net-snmp no longer has (none will be answered
	 * or time out) is over: never stay busy for ever */
	if (d->busy && d->inflight > 0 && !snmp_ev_pending(&d->ev)) {
		d->inflight = 0;
		if (d->sec_error[0])
			fail_poll(d, "SNMPv3: %s", d->sec_error);
		else if (d->probed)
			fail_poll(d, "SNMPv3: the agent answers discovery but not our requests: "
			             "check the user, auth and priv keys and protocols");
		else
			fail_poll(d, "request lost");
		poll_finish(d);
	}
	/* fixed cadence from the schedule, not from when we got to run */
	d->next_ms += delay;
	if (d->next_ms <= now)
		d->next_ms = now + delay;
	schedule(d, d->next_ms - now);
	poll_start(d);
	dev_rearm(d);
}

static int
auth_oid(const char *name, const oid **o, size_t *len)
{
	if (name == NULL)
		return 0;
	if (strcasecmp(name, "MD5") == 0) {
		*o = usmHMACMD5AuthProtocol;
		*len = USM_AUTH_PROTO_MD5_LEN;
	} else if (strcasecmp(name, "SHA") == 0 || strcasecmp(name, "SHA1") == 0) {
		*o = usmHMACSHA1AuthProtocol;
		*len = USM_AUTH_PROTO_SHA_LEN;
	} else if (strcasecmp(name, "SHA-256") == 0 || strcasecmp(name, "SHA256") == 0) {
		*o = usmHMAC192SHA256AuthProtocol;
		*len = OID_LENGTH(usmHMAC192SHA256AuthProtocol);
	} else if (strcasecmp(name, "SHA-512") == 0 || strcasecmp(name, "SHA512") == 0) {
		*o = usmHMAC384SHA512AuthProtocol;
		*len = OID_LENGTH(usmHMAC384SHA512AuthProtocol);
	} else {
		return -1;
	}
	return 1;
}

static int
priv_oid(const char *name, const oid **o, size_t *len)
{
	if (name == NULL)
		return 0;
	if (strcasecmp(name, "DES") == 0) {
		*o = usmDESPrivProtocol;
		*len = USM_PRIV_PROTO_DES_LEN;
	} else if (strcasecmp(name, "AES") == 0 || strcasecmp(name, "AES-128") == 0 ||
	           strcasecmp(name, "AES128") == 0) {
		*o = usmAESPrivProtocol;
		*len = USM_PRIV_PROTO_AES_LEN;
	} else if (strcasecmp(name, "AES-256") == 0 || strcasecmp(name, "AES256") == 0) {
		*o = usmAES256PrivProtocol;
		*len = OID_LENGTH(usmAES256PrivProtocol);
	} else if (strcasecmp(name, "AES-192") == 0 || strcasecmp(name, "AES192") == 0) {
		*o = usmAES192PrivProtocol;
		*len = OID_LENGTH(usmAES192PrivProtocol);
	} else {
		return -1;
	}
	return 1;
}

/* SNMPv3 USM settings; keys are derived with net-snmp's generate_Ku and
 * localised once the agent's engine ID is known. */
static int
session_v3(netsnmp_session *s, const struct lw_snmp_auth *a, char *err, size_t errlen)
{
	const oid *ao = NULL, *po = NULL;
	size_t al = 0, pl = 0;
	int ha, hp;

	s->version = SNMP_VERSION_3;
	s->securityModel = SNMP_SEC_MODEL_USM;
	s->flags |= SNMP_FLAGS_DONT_PROBE; /* discovery is ours, asynchronous */
	if (a->username == NULL || a->username[0] == '\0') {
		snprintf(err, errlen, "SNMPv3 needs a username");
		return -1;
	}
	s->securityName = strdup(a->username);
	s->securityNameLen = strlen(a->username);
	if (a->context) {
		s->contextName = strdup(a->context);
		s->contextNameLen = strlen(a->context);
	}
	ha = auth_oid(a->auth_protocol, &ao, &al);
	hp = priv_oid(a->priv_protocol, &po, &pl);
	if (ha < 0 || hp < 0) {
		snprintf(err, errlen, "unsupported SNMPv3 %s protocol \"%s\"",
		         ha < 0 ? "auth" : "priv", ha < 0 ? a->auth_protocol : a->priv_protocol);
		return -1;
	}
	if (hp > 0 && ha == 0) {
		snprintf(err, errlen, "SNMPv3 privacy needs an auth protocol too");
		return -1;
	}
	s->securityLevel = ha == 0
	                       ? SNMP_SEC_LEVEL_NOAUTH
	                       : (hp == 0 ? SNMP_SEC_LEVEL_AUTHNOPRIV : SNMP_SEC_LEVEL_AUTHPRIV);
	if (ha > 0) {
		if (a->auth_key == NULL || strlen(a->auth_key) < 8) {
			snprintf(err, errlen, "SNMPv3 auth key must be at least 8 characters");
			return -1;
		}
		s->securityAuthProto = snmp_duplicate_objid(ao, al);
		s->securityAuthProtoLen = al;
		s->securityAuthKeyLen = USM_AUTH_KU_LEN;
		if (generate_Ku(ao, (u_int)al, (const u_char *)a->auth_key, strlen(a->auth_key),
		                s->securityAuthKey, &s->securityAuthKeyLen) != SNMPERR_SUCCESS) {
			snprintf(err, errlen, "cannot derive the SNMPv3 auth key");
			return -1;
		}
	}
	if (hp > 0) {
		if (a->priv_key == NULL || strlen(a->priv_key) < 8) {
			snprintf(err, errlen, "SNMPv3 priv key must be at least 8 characters");
			return -1;
		}
		s->securityPrivProto = snmp_duplicate_objid(po, pl);
		s->securityPrivProtoLen = pl;
		s->securityPrivKeyLen = USM_PRIV_KU_LEN;
		if (generate_Ku(ao, (u_int)al, (const u_char *)a->priv_key, strlen(a->priv_key),
		                s->securityPrivKey, &s->securityPrivKeyLen) != SNMPERR_SUCCESS) {
			snprintf(err, errlen, "cannot derive the SNMPv3 priv key");
			return -1;
		}
	}
	return 0;
}

static void
session_clear(netsnmp_session *s)
{
	free(s->peername);
	free(s->community);
	free(s->securityName);
	free(s->contextName);
	free(s->securityAuthProto);
	free(s->securityPrivProto);
}

static int
dev_open(struct dev *d, char *err, size_t errlen)
{
	const struct lw_device *c = d->cfg;
	netsnmp_session s;
	char peer[300];
	int rc = -1;

	snmp_sess_init(&s);
	snprintf(peer, sizeof(peer), strchr(c->address, ':') ? "udp6:[%s]:%d" : "udp:%s:%d",
	         c->address, c->port > 0 ? c->port : 161);
	s.peername = strdup(peer);
	s.timeout = (long)(c->timeout_ms > 0 ? c->timeout_ms : 2000) * 1000L;
	s.retries = c->retries >= 0 ? c->retries : 1;
	s.callback = on_snmp;
	s.callback_magic = d;
	switch (c->auth.version) {
	case LW_SNMP_V1:
	case LW_SNMP_V2C:
		s.version = c->auth.version == LW_SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
		if (c->auth.community == NULL) {
			snprintf(err, errlen, "SNMP %s needs a community",
			         c->auth.version == LW_SNMP_V1 ? "v1" : "v2c");
			goto out;
		}
		s.community = (u_char *)strdup(c->auth.community);
		s.community_len = strlen(c->auth.community);
		break;
	case LW_SNMP_V3:
		if (session_v3(&s, &c->auth, err, errlen) != 0)
			goto out;
		break;
	default:
		snprintf(err, errlen, "unknown SNMP version");
		goto out;
	}
	d->sess = snmp_sess_open(&s);
	if (d->sess == NULL) {
		int liberr = 0, syserr = 0;
		char *msg = NULL;
		snmp_error(&s, &liberr, &syserr, &msg);
		snprintf(err, errlen, "cannot open an SNMP session to %s: %s", peer,
		         msg ? msg : "unknown error");
		free(msg);
		goto out;
	}
	/* net-snmp clears DONT_PROBE when it opens the session; without it the
	 * first v3 send would run a blocking engine probe on the loop. */
	snmp_sess_session(d->sess)->flags |= SNMP_FLAGS_DONT_PROBE;
	if (snmp_ev_open(&d->ev, d->p->base, d->sess) != 0) {
		snprintf(err, errlen, "cannot watch the socket of the SNMP session to %s", peer);
		goto out;
	}
	rc = 0;
out:
	/* snmp_sess_open copied what it needs; the keys are wiped here */
	explicit_bzero(s.securityAuthKey, sizeof(s.securityAuthKey));
	explicit_bzero(s.securityPrivKey, sizeof(s.securityPrivKey));
	session_clear(&s);
	return rc;
}

static void
dev_free(struct dev *d)
{
	if (d == NULL)
		return;
	d->closing = true;
	if (d->ev_poll)
		event_free(d->ev_poll);
	snmp_ev_close(&d->ev);
	if (d->sess)
		snmp_sess_close(d->sess);
	if (d->held)
		snmp_free_pdu(d->held);
	jobs_free(d);
	plan_free(&d->plan);
	free(d->arena);
	free(d->clk);
	free(d->name);
	free(d);
}

/* Where in the interval a device's polls fall: spread by name so that many
 * devices never fire in the same millisecond, stable across restarts. */
static int64_t
first_offset(const struct lw_device *c)
{
	int64_t iv = c->interval_ms > 0 ? c->interval_ms : 30000, win = iv;
	const char *e = getenv("LW_SNMP_SPREAD_MS");

	/* benchmarks measure a whole cycle: LW_SNMP_SPREAD_MS=0 starts all at once */
	if (e != NULL) {
		win = strtoll(e, NULL, 10);
		if (win < 0 || win > iv)
			win = iv;
	}
	if (win == 0)
		return 0;
	return (int64_t)(fnv(1469598103934665603ULL, c->name, strlen(c->name)) % (uint64_t)win);
}

static struct dev *
dev_new(struct snmp_poller *p, const struct lw_device *c, char *err, size_t errlen)
{
	struct dev *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->p = p;
	d->cfg = c;
	d->name = strdup(c->name);
	if (d->name == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (plan_build(&d->plan, p->profiles, c, err, errlen) != 0)
		goto fail;
	if (jobs_alloc(d) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (p->base == NULL)
		return d;
	if (dev_open(d, err, errlen) != 0)
		goto fail;
	d->ev_poll = evtimer_new(p->base, on_poll_timer, d);
	if (d->ev_poll == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	d->next_ms = now_ms(p) + first_offset(c);
	schedule(d, d->next_ms - now_ms(p));
	return d;
fail:
	dev_free(d);
	return NULL;
}

/* --- the poller -------------------------------------------------------- */

static void
lib_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	/* no snmp.conf, no persistent files, no MIB files: numeric OIDs only */
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES, 1);
	netsnmp_set_mib_directory("/nonexistent");
	setenv("MIBS", "", 0);
	snmp_disable_log();
	init_snmp("linewatchd");
}

static const char *
profile_dir(const struct lw_config *cfg)
{
	return cfg->profile_dir ? cfg->profile_dir : LW_DATADIR "/profiles";
}

static struct dev *
find_dev(struct snmp_poller *p, const char *name)
{
	for (size_t i = 0; i < p->ndevs; i++)
		if (p->devs[i] != NULL && strcmp(p->devs[i]->name, name) == 0)
			return p->devs[i];
	return NULL;
}

static bool
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
strv_eq(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!streq(a[i], b[i]))
			return false;
	return true;
}

/* Same session and same questions: the device keeps its state on reload. */
static bool
dev_conf_equal(const struct lw_device *a, const struct lw_device *b)
{
	const struct lw_snmp_auth *x = &a->auth, *y = &b->auth;

	if (!streq(a->address, b->address) || a->port != b->port ||
	    a->interval_ms != b->interval_ms || a->timeout_ms != b->timeout_ms ||
	    a->retries != b->retries || a->max_repetitions != b->max_repetitions ||
	    a->max_inflight != b->max_inflight)
		return false;
	if (x->version != y->version || !streq(x->community, y->community) ||
	    !streq(x->username, y->username) || !streq(x->auth_protocol, y->auth_protocol) ||
	    !streq(x->auth_key, y->auth_key) || !streq(x->priv_protocol, y->priv_protocol) ||
	    !streq(x->priv_key, y->priv_key) || !streq(x->context, y->context))
		return false;
	if (!strv_eq(a->interfaces, a->ninterfaces, b->interfaces, b->ninterfaces) ||
	    !strv_eq(a->profiles, a->nprofiles, b->profiles, b->nprofiles) || a->noids != b->noids)
		return false;
	for (size_t i = 0; i < a->noids; i++)
		if (!streq(a->oids[i].name, b->oids[i].name) ||
		    !streq(a->oids[i].oid, b->oids[i].oid) ||
		    a->oids[i].counter != b->oids[i].counter ||
		    !streq(a->oids[i].unit, b->oids[i].unit))
			return false;
	return true;
}

static struct snmp_poller *
poller_new(struct event_base *base, struct lw_bus *bus, const struct lw_config *cfg)
{
	struct snmp_poller *p = calloc(1, sizeof(*p));
	char err[512];

	if (p == NULL) {
		log_error("snmp: out of memory");
		return NULL;
	}
	p->base = base;
	p->bus = bus;
	p->cfg = cfg;
	if (base)
		lib_init();
	p->profiles = snmp_profiles_load(profile_dir(cfg), err, sizeof(err));
	if (p->profiles == NULL) {
		log_error("snmp: %s", err);
		free(p);
		return NULL;
	}
	p->devs = calloc(cfg->ndevices + 1, sizeof(*p->devs));
	if (p->devs == NULL) {
		log_error("snmp: out of memory");
		snmp_poller_free(p);
		return NULL;
	}
	for (size_t i = 0; i < cfg->ndevices; i++) {
		const struct lw_device *c = &cfg->devices[i];
		struct dev *d = dev_new(p, c, err, sizeof(err));
		if (d == NULL) {
			log_error("%s:%d: device %s: %s", cfg->file ? cfg->file : "config", c->line,
			          c->name, err);
			snmp_poller_free(p);
			return NULL;
		}
		p->devs[p->ndevs++] = d;
	}
	if (base && p->ndevs > 0)
		log_info("snmp: polling %zu device%s", p->ndevs, p->ndevs == 1 ? "" : "s");
	return p;
}

struct snmp_poller *
snmp_poller_new(struct event_base *base, struct lw_bus *bus, const struct lw_config *cfg)
{
	if (base == NULL) {
		log_error("snmp: no event base");
		return NULL;
	}
	return poller_new(base, bus, cfg);
}

struct snmp_poller *
snmp_poller_new_offline(struct lw_bus *bus, const struct lw_config *cfg)
{
	return poller_new(NULL, bus, cfg);
}

int
snmp_poller_reload(struct snmp_poller *p, const struct lw_config *cfg)
{
	struct snmp_profiles *nprof;
	struct dev **ndevs;
	size_t n = 0;
	char err[512];

	nprof = snmp_profiles_load(profile_dir(cfg), err, sizeof(err));
	if (nprof == NULL) {
		log_error("snmp: reload: %s; keeping the previous devices", err);
		return -1;
	}
	ndevs = calloc(cfg->ndevices + 1, sizeof(*ndevs));
	if (ndevs == NULL) {
		snmp_profiles_free(nprof);
		log_error("snmp: reload: out of memory");
		return -1;
	}
	struct snmp_profiles *oprof = p->profiles;
	p->profiles = nprof;
	for (size_t i = 0; i < cfg->ndevices; i++) {
		const struct lw_device *c = &cfg->devices[i];
		struct dev *d = find_dev(p, c->name);
		struct plan np;

		if (d && dev_conf_equal(d->cfg, c) &&
		    plan_build(&np, nprof, c, err, sizeof(err)) == 0) {
			/* a poll in flight is abandoned: its answers are ignored */
			d->busy = false;
			d->inflight = 0;
			for (size_t k = 0; k < d->njobs; k++)
				d->jobs[k].reqid = 0;
			d->cfg = c;
			plan_adopt(&np, &d->plan);
			jobs_free(d);
			plan_free(&d->plan);
			d->plan = np;
			if (jobs_alloc(d) != 0) {
				log_error("snmp: device %s: out of memory", c->name);
				jobs_free(d);
			}
			/* taken over: remove from the old list */
			for (size_t k = 0; k < p->ndevs; k++)
				if (p->devs[k] == d)
					p->devs[k] = NULL;
			ndevs[n++] = d;
			continue;
		}
		d = dev_new(p, c, err, sizeof(err));
		if (d == NULL) {
			log_error("%s:%d: device %s: %s; not polled",
			          cfg->file ? cfg->file : "config", c->line, c->name, err);
			continue;
		}
		ndevs[n++] = d;
	}
	for (size_t k = 0; k < p->ndevs; k++)
		dev_free(p->devs[k]);
	free(p->devs);
	p->devs = ndevs;
	p->ndevs = n;
	p->cfg = cfg;
	snmp_profiles_free(oprof);
	log_info("snmp: polling %zu device%s", n, n == 1 ? "" : "s");
	return 0;
}

void
snmp_poller_free(struct snmp_poller *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->ndevs; i++)
		dev_free(p->devs[i]);
	free(p->devs);
	snmp_profiles_free(p->profiles);
	free(p);
}

int
snmp_poller_check(const struct lw_config *cfg, config_error_cb cb, void *arg)
{
	struct snmp_profiles *ps;
	char err[512], msg[700];
	int nerr = 0;

	if (cfg->ndevices == 0)
		return 0;
	ps = snmp_profiles_load(profile_dir(cfg), err, sizeof(err));
	if (ps == NULL) {
		cb(err, arg);
		return 1;
	}
	for (size_t i = 0; i < cfg->ndevices; i++) {
		const struct lw_device *c = &cfg->devices[i];
		struct plan pl;
		if (plan_build(&pl, ps, c, err, sizeof(err)) != 0) {
			snprintf(msg, sizeof(msg), "%s:%d: device %s: %s",
			         cfg->file ? cfg->file : "config", c->line, c->name, err);
			cb(msg, arg);
			nerr++;
			continue;
		}
		plan_free(&pl);
	}
	snmp_profiles_free(ps);
	return nerr;
}

int
snmp_poller_stats(struct snmp_poller *p, const char *device, struct snmp_dev_stats *out)
{
	struct dev *d = p ? find_dev(p, device) : NULL;

	if (d == NULL)
		return -1;
	*out = d->stats;
	return 0;
}

/* --- offline ----------------------------------------------------------- */

void
snmp_poller_set_clock(struct snmp_poller *p, int64_t mono_ms)
{
	p->fake_ms = mono_ms;
}

int
snmp_poller_poll_now(struct snmp_poller *p, const char *device)
{
	struct dev *d = find_dev(p, device);

	if (d == NULL || d->busy)
		return -1;
	poll_start(d);
	if (p->base)
		dev_rearm(d);
	return 0;
}

struct snmp_pdu *
snmp_poller_pending(struct snmp_poller *p, const char *device)
{
	struct dev *d = find_dev(p, device);

	if (d == NULL || p->base != NULL || !d->busy)
		return NULL;
	return d->held;
}

void
snmp_poller_answer(struct snmp_poller *p, const char *device, struct snmp_pdu *resp)
{
	struct dev *d = find_dev(p, device);
	netsnmp_pdu *held;
	int reqid;

	if (d == NULL || p->base != NULL || d->held == NULL)
		return;
	held = d->held;
	reqid = d->held_reqid;
	d->held = NULL;
	on_answer(d, reqid, resp, "no response (offline)");
	snmp_free_pdu(held);
}
