/* state.c - newest sample per subject, deep-copied off the bus */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state.h"

struct entry {
	struct lw_sample s;
	char *owner; /* device or link: the key with kind and name */
	struct lw_metric *metrics;
	struct lw_attr *attrs;
	char **strings; /* every string owned by this entry */
	size_t nstrings;
};

struct lw_state {
	struct lw_bus *bus;
	struct entry **entries;
	size_t nentries;
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

static struct entry *
find(struct lw_state *st, enum lw_subject kind, const char *owner, const char *name)
{
	for (size_t i = 0; i < st->nentries; i++) {
		struct entry *e = st->entries[i];
		if (e->s.kind == kind && same(e->owner, owner) && same(e->s.name, name))
			return e;
	}
	return NULL;
}

static void
entry_clear(struct entry *e)
{
	for (size_t i = 0; i < e->nstrings; i++)
		free(e->strings[i]);
	free(e->strings);
	free(e->metrics);
	free(e->attrs);
	e->strings = NULL;
	e->nstrings = 0;
	e->metrics = NULL;
	e->attrs = NULL;
}

static const char *
keep(struct entry *e, const char *s)
{
	char *d, **n;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		fatal("strdup");
	if ((n = realloc(e->strings, (e->nstrings + 1) * sizeof(*n))) == NULL)
		fatal("realloc");
	e->strings = n;
	e->strings[e->nstrings++] = d;
	return d;
}

static void
entry_fill(struct entry *e, const struct lw_sample *s)
{
	entry_clear(e);
	e->s = *s;
	e->s.device = keep(e, s->device);
	e->s.link = keep(e, s->link);
	e->s.name = keep(e, s->name);
	e->s.message = keep(e, s->message);
	e->metrics = calloc(s->nmetrics ? s->nmetrics : 1, sizeof(*e->metrics));
	e->attrs = calloc(s->nattrs ? s->nattrs : 1, sizeof(*e->attrs));
	if (e->metrics == NULL || e->attrs == NULL)
		fatal("calloc");
	for (size_t i = 0; i < s->nmetrics; i++) {
		e->metrics[i] = s->metrics[i];
		e->metrics[i].name = keep(e, s->metrics[i].name);
		e->metrics[i].unit = keep(e, s->metrics[i].unit);
	}
	for (size_t i = 0; i < s->nattrs; i++) {
		e->attrs[i].name = keep(e, s->attrs[i].name);
		e->attrs[i].value = keep(e, s->attrs[i].value);
	}
	e->s.metrics = e->metrics;
	e->s.attrs = e->attrs;
}

static void
on_sample(const struct lw_sample *s, void *arg)
{
	struct lw_state *st = arg;
	const char *owner = owner_of(s);
	struct entry *e = find(st, s->kind, owner, s->name);

	if (e == NULL) {
		struct entry **n = realloc(st->entries, (st->nentries + 1) * sizeof(*n));
		if (n == NULL || (e = calloc(1, sizeof(*e))) == NULL)
			fatal("state");
		st->entries = n;
		st->entries[st->nentries++] = e;
		e->owner = owner ? strdup(owner) : NULL;
	}
	entry_fill(e, s);
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
	entry_clear(e);
	free(e->owner);
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
		if (owner != NULL && !same(e->owner, owner))
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
		if (e->s.kind == kind && same(e->owner, owner))
			entry_free(e);
		else
			st->entries[j++] = e;
	}
	st->nentries = j;
}
