/* outbox.h - the persistent, ordered, bounded queue of notifications.
 *
 * Every notification for every destination is one item: written to the
 * notify_outbox table of state-dir/linewatch.db before it may be sent, and
 * removed once delivered.  Items of one destination come out in the order
 * they went in; after a restart the queue is loaded back as it was.
 *
 * Writes go through the database writer thread (db.h), never on the event
 * loop: outbox_add() returns at once and the item becomes `stored` when the
 * transaction holding it has committed, announced through the stored
 * callback on the loop.  Writes are batched: one transaction at a time holds
 * everything that was pending.  If the database takes no write for
 * OUTBOX_WRITE_GRACE_MS (disk full, file made read-only), items count as
 * stored anyway so that notifications still go out (logged: a restart then
 * would lose them).
 *
 * The outbox holds at most `max` items.  When a new item does not fit, the
 * oldest item of the lowest class goes (heartbeats first, ticket events
 * last); an item being delivered is never dropped.  Every drop is counted
 * and logged.
 */
#ifndef LW_OUTBOX_H
#define LW_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define OUTBOX_WRITE_GRACE_MS 30000

struct db;

enum outbox_class {
	OUTBOX_HEARTBEAT = 0, /* dropped first */
	OUTBOX_STATE = 1,     /* coldStart, link state changes */
	OUTBOX_TICKET = 2,    /* ticket events: dropped last */
};
#define OUTBOX_NCLASS 3

struct outbox;
struct outbox_queue; /* the items of one destination */

struct outbox_item {
	int64_t id; /* delivery order; never reused, even across restarts */
	enum outbox_class cls;
	int64_t created_ms; /* wall clock, ms */
	char *payload;      /* JSON text */
	struct outbox_queue *q;
	bool busy; /* being delivered: set and cleared by the caller */
	/* private */
	struct outbox_item *qnext, *qprev;
	struct outbox_item *cnext, *cprev;
};

struct outbox_stats {
	uint64_t items;
	uint64_t added;
	uint64_t delivered;
	uint64_t dropped[OUTBOX_NCLASS]; /* since start */
	uint64_t write_errors;
};

typedef void (*outbox_stored_cb)(void *arg);

/* Load the queue from db (migrated by db_open; attached to base); blocking,
 * for start-up.  stored_cb runs on the loop whenever items became stored.
 * NULL with err filled on failure. */
struct outbox *outbox_open(struct event_base *base, struct db *db, uint64_t max,
                           outbox_stored_cb stored_cb, void *arg, char *err, size_t errlen);
/* Hand the last writes to the database writer (db_close completes them). */
void outbox_close(struct outbox *ob);

void outbox_set_max(struct outbox *ob, uint64_t max);

/* The queue of a destination ("upstream:noc", "webhook:psa"), created on
 * first use.  Queues live until outbox_close. */
struct outbox_queue *outbox_queue(struct outbox *ob, const char *dest);
const char *outbox_queue_name(const struct outbox_queue *q);
/* Queues in creation order (loaded ones first); NULL after the last. */
struct outbox_queue *outbox_queue_next(struct outbox *ob, struct outbox_queue *q);
size_t outbox_queue_len(const struct outbox_queue *q);
uint64_t outbox_queue_dropped(const struct outbox_queue *q);

/* Append a copy of payload.  Returns the new item, or NULL when it was
 * itself the one dropped (the outbox is full of more important items). */
struct outbox_item *outbox_add(struct outbox *ob, struct outbox_queue *q, enum outbox_class cls,
                               int64_t created_ms, const char *payload);

/* The oldest item of the queue, NULL when empty. */
struct outbox_item *outbox_head(struct outbox_queue *q);
/* The item is safely on disk (or the disk failed and it goes anyway). */
bool outbox_stored(const struct outbox *ob, const struct outbox_item *it);

/* Delivered: removed from memory now and from disk soon. */
void outbox_done(struct outbox *ob, struct outbox_item *it);
/* Remove every item of the queue that is not busy (destination removed from
 * the configuration); returns how many went. */
size_t outbox_purge(struct outbox *ob, struct outbox_queue *q);

void outbox_get_stats(struct outbox *ob, struct outbox_stats *st);

/* A small persistent key/value store beside the queue (engine boots, engine
 * ID).  get: a blocking read, for start-up only; set: written by the worker. */
int outbox_meta_get(struct outbox *ob, const char *key, char *buf, size_t len);
void outbox_meta_set(struct outbox *ob, const char *key, const char *value);

/* Wait until every write queued so far has committed (tests). */
void outbox_sync(struct outbox *ob);

const char *outbox_class_name(enum outbox_class cls);

/* Tests: a shorter grace than OUTBOX_WRITE_GRACE_MS. */
void outbox_test_grace_ms(struct outbox *ob, int64_t ms);

#endif
