/* state.c - newest sample per subject, deep-copied off the bus */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state.h"

/* One subject's newest sample.  Its metrics, attributes and the strings
 * only it uses (device, name, attribute values, message) live in one block
 * that is reused while it is big enough: a sample is one memcpy-sized
 * refill, not fifty small allocations.  Metric names, units and attribute
 * names come from a small vocabulary and are interned in the state. */
struct entry {
	struct lw_sample s;
	uint32_t hash; /* of kind, owner and name */
	char *blk;
	size_t cap;
};

struct lw_state {
	struct lw_bus *bus;
	struct entry **entries; /* insertion order (state_foreach) */
	size_t nentries, capentries;
	uint32_t *index; /* open addressing: entries index + 1, 0 = free */
	size_t nindex;   /* power of two, at least twice nentries */
	char **words;    /* interned names and units */
	size_t nwords, capwords;
	uint32_t *wordidx; /* open addressing into words: index + 1 */
	size_t nwordidx;
};

static const char *
owner_of(const struct lw_sample *s)
{
	return s->kind == LW_SUBJ_PROBE ? s->link : s->device;
}

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static uint32_t
fnv_str(uint32_t h, const char *s)
{
	/* NULL and "" must differ: a device sample has no name */
	if (s == NULL)
		return (h ^ 0xffu) * 16777619u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return (h ^ 0u) * 16777619u;
}

static uint32_t
key_hash(enum lw_subject kind, const char *owner, const char *name)
{
	uint32_t h = (2166136261u ^ (uint32_t)kind) * 16777619u;

	return fnv_str(fnv_str(h, owner), name);
}

static void
index_build(struct lw_state *st)
{
	size_t n = st->nindex ? st->nindex : 64;

	while (n < st->nentries * 2 + 2)
		n *= 2;
	free(st->index);
	if ((st->index = calloc(n, sizeof(*st->index))) == NULL)
		fatal("calloc");
	st->nindex = n;
	for (size_t i = 0; i < st->nentries; i++) {
		size_t k = st->entries[i]->hash & (n - 1);
		while (st->index[k] != 0)
			k = (k + 1) & (n - 1);
		st->index[k] = (uint32_t)i + 1;
	}
}

/* Samples arrive by the thousand per poll cycle: a hash lookup, never a
 * scan of every subject. */
static struct entry *
find(struct lw_state *st, enum lw_subject kind, const char *owner, const char *name)
{
	uint32_t h = key_hash(kind, owner, name);

	if (st->nindex == 0)
		return NULL;
	for (size_t k = h & (st->nindex - 1); st->index[k] != 0; k = (k + 1) & (st->nindex - 1)) {
		struct entry *e = st->entries[st->index[k] - 1];
		if (e->hash == h && e->s.kind == kind && same(owner_of(&e->s), owner) &&
		    same(e->s.name, name))
			return e;
	}
	return NULL;
}

/* The one copy of a metric name, unit or attribute name. */
static const char *
intern(struct lw_state *st, const char *w)
{
	uint32_t h;
	size_t k;
	char *d;

	if (w == NULL)
		return NULL;
	h = fnv_str(2166136261u, w);
	if (st->nwordidx > 0)
		for (k = h & (st->nwordidx - 1); st->wordidx[k] != 0;
		     k = (k + 1) & (st->nwordidx - 1))
			if (strcmp(st->words[st->wordidx[k] - 1], w) == 0)
				return st->words[st->wordidx[k] - 1];
	if (st->nwords == st->capwords) {
		size_t ncap = st->capwords ? st->capwords * 2 : 64;
		char **n = realloc(st->words, ncap * sizeof(*n));
		if (n == NULL)
			fatal("realloc");
		st->words = n;
		st->capwords = ncap;
	}
	if ((d = strdup(w)) == NULL)
		fatal("strdup");
	st->words[st->nwords++] = d;
	if (st->nwords * 2 > st->nwordidx) {
		size_t n = st->nwordidx ? st->nwordidx * 2 : 128;
		free(st->wordidx);
		if ((st->wordidx = calloc(n, sizeof(*st->wordidx))) == NULL)
			fatal("calloc");
		st->nwordidx = n;
		for (size_t i = 0; i < st->nwords; i++) {
			k = fnv_str(2166136261u, st->words[i]) & (n - 1);
			while (st->wordidx[k] != 0)
				k = (k + 1) & (n - 1);
			st->wordidx[k] = (uint32_t)i + 1;
		}
		return d;
	}
	for (k = h & (st->nwordidx - 1); st->wordidx[k] != 0; k = (k + 1) & (st->nwordidx - 1))
		;
	st->wordidx[k] = (uint32_t)st->nwords;
	return d;
}

static size_t
slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copy s into the block at *pos; NULL stays NULL. */
static const char *
put(char *blk, size_t *pos, const char *s)
{
	size_t n = slen(s);
	char *d = blk + *pos;

	if (s == NULL)
		return NULL;
	memcpy(d, s, n);
	*pos += n;
	return d;
}

static void
entry_fill(struct lw_state *st, struct entry *e, const struct lw_sample *s)
{
	size_t need, pos;
	struct lw_metric *m;
	struct lw_attr *a;

	/* the block: metrics, attributes (both pointer-aligned), strings */
	need = s->nmetrics * sizeof(*m) + s->nattrs * sizeof(*a) + slen(s->device) + slen(s->link) +
	       slen(s->name) + slen(s->message);
	for (size_t i = 0; i < s->nattrs; i++)
		need += slen(s->attrs[i].value);
	if (need > e->cap || e->blk == NULL) {
		size_t ncap = (need + 63) & ~(size_t)63;
		free(e->blk);
		if ((e->blk = malloc(ncap ? ncap : 64)) == NULL)
			fatal("malloc");
		e->cap = ncap ? ncap : 64;
	}
	m = (struct lw_metric *)(void *)e->blk;
	a = (struct lw_attr *)(void *)(e->blk + s->nmetrics * sizeof(*m));
	pos = s->nmetrics * sizeof(*m) + s->nattrs * sizeof(*a);
	e->s = *s;
	e->s.device = put(e->blk, &pos, s->device);
	e->s.link = put(e->blk, &pos, s->link);
	e->s.name = put(e->blk, &pos, s->name);
	e->s.message = put(e->blk, &pos, s->message);
	for (size_t i = 0; i < s->nmetrics; i++) {
		m[i] = s->metrics[i];
		m[i].name = intern(st, s->metrics[i].name);
		m[i].unit = intern(st, s->metrics[i].unit);
	}
	for (size_t i = 0; i < s->nattrs; i++) {
		a[i].name = intern(st, s->attrs[i].name);
		a[i].value = put(e->blk, &pos, s->attrs[i].value);
	}
	e->s.metrics = s->nmetrics ? m : NULL;
	e->s.attrs = s->nattrs ? a : NULL;
}

static void
on_sample(const struct lw_sample *s, void *arg)
{
	struct lw_state *st = arg;
	const char *owner = owner_of(s);
	struct entry *e = find(st, s->kind, owner, s->name);

	if (e == NULL) {
		if (st->nentries == st->capentries) {
			size_t ncap = st->capentries ? st->capentries * 2 : 64;
			struct entry **n = realloc(st->entries, ncap * sizeof(*n));
			if (n == NULL)
				fatal("state");
			st->entries = n;
			st->capentries = ncap;
		}
		if ((e = calloc(1, sizeof(*e))) == NULL)
			fatal("state");
		e->hash = key_hash(s->kind, owner, s->name);
		st->entries[st->nentries++] = e;
		entry_fill(st, e, s);
		if (st->nentries * 2 + 2 > st->nindex) {
			index_build(st);
		} else {
			size_t k = e->hash & (st->nindex - 1);
			while (st->index[k] != 0)
				k = (k + 1) & (st->nindex - 1);
			st->index[k] = (uint32_t)st->nentries;
		}
		return;
	}
	entry_fill(st, e, s);
}

struct lw_state *
state_new(struct lw_bus *bus)
{
	struct lw_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->bus = bus;
	if (sample_subscribe(bus, on_sample, st) != 0) {
		free(st);
		return NULL;
	}
	return st;
}

static void
entry_free(struct entry *e)
{
	free(e->blk);
	free(e);
}

void
state_free(struct lw_state *st)
{
	if (st == NULL)
		return;
	sample_unsubscribe(st->bus, on_sample, st);
	for (size_t i = 0; i < st->nentries; i++)
		entry_free(st->entries[i]);
	free(st->entries);
	free(st->index);
	for (size_t i = 0; i < st->nwords; i++)
		free(st->words[i]);
	free(st->words);
	free(st->wordidx);
	free(st);
}

const struct lw_sample *
state_get(struct lw_state *st, enum lw_subject kind, const char *owner, const char *name)
{
	struct entry *e = find(st, kind, owner, name);

	return e ? &e->s : NULL;
}

void
state_foreach(struct lw_state *st, enum lw_subject kind, const char *owner, state_iter_cb cb,
              void *arg)
{
	for (size_t i = 0; i < st->nentries; i++) {
		struct entry *e = st->entries[i];
		if (e->s.kind != kind)
			continue;
		if (owner != NULL && !same(owner_of(&e->s), owner))
			continue;
		cb(&e->s, arg);
	}
}

void
state_forget(struct lw_state *st, enum lw_subject kind, const char *owner)
{
	size_t j = 0;

	for (size_t i = 0; i < st->nentries; i++) {
		struct entry *e = st->entries[i];
		if (e->s.kind == kind && same(owner_of(&e->s), owner))
			entry_free(e);
		else
			st->entries[j++] = e;
	}
	st->nentries = j;
	index_build(st);
}
