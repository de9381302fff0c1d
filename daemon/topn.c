/* topn.c - weighted Space-Saving: hash index + min-heap over a fixed table */
#include <stdlib.h>
#include <string.h>

#include "topn.h"

/* Heap nodes carry a copy of the weight so sifting stays in one array. */
struct hnode {
	uint64_t w;
	uint32_t idx;
	uint32_t pad;
};

struct topn {
	struct topn_entry *e;
	struct hnode *heap; /* min weight at the root; kept only once full */
	uint32_t *slots;    /* open addressing, linear probing: entry index + 1 */
	const struct topn_entry **scratch;
	size_t cap;
	size_t count;
	size_t keylen;
	int heaped; /* heap valid: only needed to evict, i.e. once the table is full */
	uint32_t mask;
	uint64_t seed;
	uint64_t evictions;
};

static size_t
nslots_for(size_t cap)
{
	size_t n = 16;

	while (n < cap * 2)
		n <<= 1;
	return n;
}

size_t
topn_footprint(size_t capacity)
{
	return sizeof(struct topn) +
	       capacity * (sizeof(struct topn_entry) + sizeof(struct hnode) +
	                   sizeof(struct topn_entry *)) +
	       nslots_for(capacity) * sizeof(uint32_t);
}

size_t
topn_capacity_for(size_t bytes)
{
	size_t cap = bytes / (sizeof(struct topn_entry) + sizeof(struct hnode) +
	                      sizeof(struct topn_entry *) + 2 * sizeof(uint32_t));

	while (cap > 0 && topn_footprint(cap) > bytes)
		cap -= cap / 32 + 1;
	return cap;
}

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline int
key_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint64_t d = 0;

	for (size_t i = 0; i < len; i += 8)
		d |= load64(a + i) ^ load64(b + i);
	return d == 0;
}

static inline uint32_t
hash_key(const struct topn *t, const uint8_t *k)
{
	uint64_t h = t->seed ^ (t->keylen * 0x9e3779b97f4a7c15ULL);

	for (size_t i = 0; i < t->keylen; i += 8) {
		h ^= load64(k + i);
		h *= 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

struct topn *
topn_new(size_t capacity, size_t keylen, uint64_t seed)
{
	struct topn *t;
	size_t ns;

	if (capacity == 0 || capacity >= UINT32_MAX / 4 || keylen == 0 || keylen > TOPN_KEYMAX ||
	    keylen % 8 != 0)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	ns = nslots_for(capacity);
	t->e = calloc(capacity, sizeof(*t->e));
	t->heap = calloc(capacity, sizeof(*t->heap));
	t->slots = calloc(ns, sizeof(*t->slots));
	t->scratch = calloc(capacity, sizeof(*t->scratch));
	if (!t->e || !t->heap || !t->slots || !t->scratch) {
		topn_free(t);
		return NULL;
	}
	t->cap = capacity;
	t->keylen = keylen;
	t->mask = (uint32_t)(ns - 1);
	t->seed = seed;
	return t;
}

void
topn_free(struct topn *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t->heap);
	free(t->slots);
	free(t->scratch);
	free(t);
}

static inline void
heap_set(struct topn *t, size_t pos, struct hnode n)
{
	t->heap[pos] = n;
	t->e[n.idx].heap = (uint32_t)pos;
}

static void
sift_down(struct topn *t, size_t pos)
{
	struct hnode n = t->heap[pos];

	for (;;) {
		size_t l = 2 * pos + 1, m;

		if (l >= t->count)
			break;
		m = l;
		if (l + 1 < t->count && t->heap[l + 1].w < t->heap[l].w)
			m = l + 1;
		if (t->heap[m].w >= n.w)
			break;
		heap_set(t, pos, t->heap[m]);
		pos = m;
	}
	heap_set(t, pos, n);
}

/* The table just filled up: from now on evictions need the minimum. */
static void
heapify(struct topn *t)
{
	for (size_t i = 0; i < t->count; i++)
		heap_set(t, i, (struct hnode){.w = t->e[i].weight, .idx = (uint32_t)i});
	for (size_t i = t->count / 2; i-- > 0;)
		sift_down(t, i);
	t->heaped = 1;
}

/* Slot holding entry idx (it is in the index). */
static uint32_t
slot_of(const struct topn *t, uint32_t idx, uint32_t h)
{
	uint32_t i = h & t->mask;

	while (t->slots[i] != idx + 1)
		i = (i + 1) & t->mask;
	return i;
}

/* Linear-probing delete: shift later members of the cluster back so no
 * lookup ever meets a hole before its key. */
static void
slot_delete(struct topn *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (t->slots[j] == 0)
			break;
		home = hash_key(t, t->e[t->slots[j] - 1].key) & t->mask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = 0;
}

static uint32_t
slot_free(const struct topn *t, uint32_t h)
{
	uint32_t i = h & t->mask;

	while (t->slots[i] != 0)
		i = (i + 1) & t->mask;
	return i;
}

uint32_t
topn_hash(const struct topn *t, const void *key)
{
	return hash_key(t, key);
}

void
topn_prefetch_slot(const struct topn *t, uint32_t h)
{
	__builtin_prefetch(&t->slots[h & t->mask]);
}

void
topn_prefetch_entry(const struct topn *t, uint32_t h)
{
	uint32_t s = t->slots[h & t->mask];

	if (s != 0)
		__builtin_prefetch(&t->e[s - 1]);
}

struct topn_entry *
topn_add(struct topn *t, const void *key, uint64_t w)
{
	return topn_add_hashed(t, key, hash_key(t, key), w);
}

struct topn_entry *
topn_add_hashed(struct topn *t, const void *key, uint32_t h, uint64_t w)
{
	uint32_t i = h & t->mask, idx, s;
	struct topn_entry *e;
	uint64_t min;

	while ((s = t->slots[i]) != 0) {
		e = &t->e[s - 1];
		if (key_equal(e->key, key, t->keylen)) {
			e->weight += w;
			if (t->heaped) {
				t->heap[e->heap].w = e->weight;
				sift_down(t, e->heap);
			}
			return e;
		}
		i = (i + 1) & t->mask;
	}
	if (t->count < t->cap) {
		idx = (uint32_t)t->count++;
		e = &t->e[idx];
		memset(e, 0, sizeof(*e));
		memcpy(e->key, key, t->keylen);
		e->weight = w;
		t->slots[i] = idx + 1;
		if (t->count == t->cap)
			heapify(t);
		return e;
	}
	/* full: the lightest key gives its place (and weight) to the new one */
	idx = t->heap[0].idx;
	e = &t->e[idx];
	slot_delete(t, slot_of(t, idx, hash_key(t, e->key)));
	min = e->weight;
	memset(e->val, 0, sizeof(e->val));
	memset(e->key, 0, sizeof(e->key));
	memcpy(e->key, key, t->keylen);
	e->error = min;
	e->weight = min + w;
	t->slots[slot_free(t, h)] = idx + 1;
	t->heap[0].w = e->weight;
	sift_down(t, 0);
	t->evictions++;
	return e;
}

const struct topn_entry *
topn_find(const struct topn *t, const void *key)
{
	uint32_t i = hash_key(t, key) & t->mask, s;

	while ((s = t->slots[i]) != 0) {
		if (key_equal(t->e[s - 1].key, key, t->keylen))
			return &t->e[s - 1];
		i = (i + 1) & t->mask;
	}
	return NULL;
}

size_t
topn_count(const struct topn *t)
{
	return t->count;
}

uint64_t
topn_evictions(const struct topn *t)
{
	return t->evictions;
}

size_t
topn_capacity(const struct topn *t)
{
	return t->cap;
}

static int
cmp_desc(const void *a, const void *b)
{
	const struct topn_entry *x = *(const struct topn_entry *const *)a;
	const struct topn_entry *y = *(const struct topn_entry *const *)b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return memcmp(x->key, y->key, TOPN_KEYMAX);
}

size_t
topn_sorted(struct topn *t, const struct topn_entry **out, size_t max)
{
	size_t n = t->count < max ? t->count : max;

	for (size_t i = 0; i < t->count; i++)
		t->scratch[i] = &t->e[i];
	qsort(t->scratch, t->count, sizeof(*t->scratch), cmp_desc);
	memcpy(out, t->scratch, n * sizeof(*out));
	return n;
}

void
topn_reset(struct topn *t)
{
	memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof(*t->slots));
	t->count = 0;
	t->heaped = 0;
	t->evictions = 0;
}
