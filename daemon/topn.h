/* topn.h - heavy hitters in fixed memory (weighted Space-Saving).
 *
 * A table of `capacity` counters, allocated once.  A key already in the
 * table has its weight added; a new key takes over the entry with the
 * smallest weight and inherits that weight as its error bound, so the
 * heaviest keys are always kept and their weights are never underestimated
 * by more than `error` (Metwally, Agrawal, El Abbadi 2005).  A port scan or
 * a flood of random addresses only churns the light entries: memory never
 * grows.  Pure: no I/O, no locks, no allocation after topn_new().
 */
#ifndef LW_TOPN_H
#define LW_TOPN_H

#include <stddef.h>
#include <stdint.h>

#define TOPN_KEYMAX 40 /* bytes: an address pair with the family, padded */
#define TOPN_NVAL 4    /* caller's counters per entry */

struct topn_entry {
	uint64_t weight;         /* estimate, upper bound: true <= weight */
	uint64_t error;          /* weight - error <= true weight */
	uint64_t val[TOPN_NVAL]; /* exact since the key last entered */
	uint32_t heap;           /* position in the min-heap (private) */
	uint8_t key[TOPN_KEYMAX];
};

struct topn;

/* keylen: a multiple of 8, at most TOPN_KEYMAX (callers zero the padding);
 * seed varies the hash (pass a random one live). */
struct topn *topn_new(size_t capacity, size_t keylen, uint64_t seed);
void topn_free(struct topn *t);

/* Bytes a table of that capacity takes, and the largest capacity that fits
 * in a budget. */
size_t topn_footprint(size_t capacity);
size_t topn_capacity_for(size_t bytes);

/* Add w to key's weight; returns its entry (never NULL) for the caller to
 * update val[].  A key that replaced another starts with val[] zeroed. */
struct topn_entry *topn_add(struct topn *t, const void *key, uint64_t w);

/* The same in steps, so a caller with several keys per packet can overlap
 * their cache misses: hash every key, prefetch their slots, then their
 * entries, then add.  h must be topn_hash() of key. */
uint32_t topn_hash(const struct topn *t, const void *key);
void topn_prefetch_slot(const struct topn *t, uint32_t h);
void topn_prefetch_entry(const struct topn *t, uint32_t h);
struct topn_entry *topn_add_hashed(struct topn *t, const void *key, uint32_t h, uint64_t w);

/* The entry of key, or NULL. */
const struct topn_entry *topn_find(const struct topn *t, const void *key);

/* Entries in use, how many keys were evicted since the last reset. */
size_t topn_count(const struct topn *t);
uint64_t topn_evictions(const struct topn *t);
size_t topn_capacity(const struct topn *t);

/* Up to max entries, heaviest first, into out[] (pointers into the table,
 * valid until the next topn_add/topn_reset). Returns how many. */
size_t topn_sorted(struct topn *t, const struct topn_entry **out, size_t max);

/* Forget every key (start of an interval). */
void topn_reset(struct topn *t);

#endif
