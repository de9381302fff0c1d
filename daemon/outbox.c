/* outbox.c - persistent ordered bounded queue: memory on the loop, rows in
 * linewatch.db through the database writer (db.h) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "db.h"
#include "log.h"
#include "outbox.h"

enum op_kind { OP_INSERT, OP_DELETE, OP_META };

/* A write; it owns copies of everything it needs, because the item may be
 * gone from memory before the write runs. */
struct op {
	enum op_kind kind;
	int64_t id;
	int cls;
	int64_t created_ms;
	char *dest;
	char *text; /* payload, or meta value */
	char *key;
	struct op *next;
};

/* The writes handed to the database writer as one transaction. */
struct batch {
	struct outbox *ob; /* NULL once the outbox is closed */
	struct op *ops;
	int64_t maxid; /* highest id inserted */
};

struct outbox_queue {
	char *name;
	struct outbox_item *head, *tail;
	size_t len;
	uint64_t dropped;
	struct outbox_queue *next;
};

struct outbox {
	struct event_base *base;
	struct db *db;
	uint64_t max;
	struct outbox_queue *queues, **qtail;
	struct {
		struct outbox_item *head, *tail;
	} cls[OUTBOX_NCLASS];
	uint64_t count;
	int64_t next_id;
	int64_t stored_upto; /* every id up to here is committed */
	outbox_stored_cb cb;
	void *arg;
	struct outbox_stats st;

	struct op *pending, **ptail; /* not yet handed to the writer */
	struct batch *writing;       /* with the writer now */
	struct event *ev_grace;
	int64_t grace_ms;
	bool unsafe; /* the disk does not take writes: send without them */
};

const char *
outbox_class_name(enum outbox_class cls)
{
	switch (cls) {
	case OUTBOX_HEARTBEAT:
		return "heartbeat";
	case OUTBOX_STATE:
		return "state change";
	case OUTBOX_TICKET:
		return "ticket event";
	}
	return "notification";
}

/* --- writes --------------------------------------------------------------- */

static void
op_free(struct op *o)
{
	free(o->dest);
	free(o->text);
	free(o->key);
	free(o);
}

static void
ops_free(struct op *o)
{
	while (o) {
		struct op *n = o->next;
		op_free(o);
		o = n;
	}
}

static int
exec_op(sqlite3 *conn, sqlite3_stmt *s, const struct op *o)
{
	int rc;

	switch (o->kind) {
	case OP_INSERT:
		sqlite3_bind_int64(s, 1, o->id);
		sqlite3_bind_text(s, 2, o->dest, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, o->cls);
		sqlite3_bind_int64(s, 4, o->created_ms);
		sqlite3_bind_text(s, 5, o->text, -1, SQLITE_STATIC);
		break;
	case OP_DELETE:
		sqlite3_bind_int64(s, 1, o->id);
		break;
	case OP_META:
		sqlite3_bind_text(s, 1, o->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, o->text, -1, SQLITE_STATIC);
		break;
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? SQLITE_OK
	                         : (rc == SQLITE_ROW ? SQLITE_OK : sqlite3_errcode(conn));
}

/* On the writer thread, inside the writer's transaction. */
static int
batch_work(sqlite3 *conn, void *arg)
{
	static const char *const sql[] = {
	    [OP_INSERT] = "INSERT INTO notify_outbox (id, dest, class, created_ms, payload) "
	                  "VALUES (?, ?, ?, ?, ?)",
	    [OP_DELETE] = "DELETE FROM notify_outbox WHERE id = ?",
	    [OP_META] = "INSERT OR REPLACE INTO notify_meta (key, value) VALUES (?, ?)",
	};
	struct batch *b = arg;
	sqlite3_stmt *st[3] = {NULL, NULL, NULL};
	int rc = SQLITE_OK;

	for (int k = 0; k < 3 && rc == SQLITE_OK; k++)
		rc = sqlite3_prepare_v2(conn, sql[k], -1, &st[k], NULL);
	for (struct op *o = b->ops; o && rc == SQLITE_OK; o = o->next)
		rc = exec_op(conn, st[o->kind], o);
	for (int k = 0; k < 3; k++)
		sqlite3_finalize(st[k]);
	return rc;
}

static void
batch_free(void *arg)
{
	struct batch *b = arg;

	ops_free(b->ops);
	free(b);
}

static void flush(struct outbox *ob);

/* On the loop, after the commit (or after the writer gave up). */
static void
batch_done(int rc, void *arg)
{
	struct batch *b = arg;
	struct outbox *ob = b->ob;

	if (ob == NULL)
		return;
	ob->writing = NULL;
	evtimer_del(ob->ev_grace);
	if (rc != SQLITE_OK)
		ob->st.write_errors++; /* logged by the writer; sent all the same */
	if (ob->unsafe && rc == SQLITE_OK)
		log_info("outbox: the database takes writes again");
	ob->unsafe = false;
	if (b->maxid > ob->stored_upto)
		ob->stored_upto = b->maxid;
	flush(ob);
	if (b->maxid > 0 && ob->cb)
		ob->cb(ob->arg);
}

/* A write that does not commit within the grace period (disk full, file
 * made read-only) must not hold the notifications back: they are sent and
 * kept in memory only, until the writer catches up. */
static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;

	if (ob->writing == NULL || ob->unsafe)
		return;
	ob->unsafe = true;
	log_warnx("outbox: the database has not taken a write for %llds: notifications are sent "
	          "without being kept (a restart now would lose them)",
	          (long long)(ob->grace_ms / 1000));
	if (ob->cb)
		ob->cb(ob->arg);
}

/* Hand what is pending to the writer, one batch at a time: each batch is a
 * single transaction, however many items it holds. */
static void
flush(struct outbox *ob)
{
	struct batch *b;
	struct timeval tv = {ob->grace_ms / 1000, (ob->grace_ms % 1000) * 1000};

	if (ob->writing != NULL || ob->pending == NULL)
		return;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		log_warnx("outbox: out of memory: writes are delayed");
		return;
	}
	b->ob = ob;
	b->ops = ob->pending;
	for (struct op *o = b->ops; o; o = o->next)
		if (o->kind == OP_INSERT && o->id > b->maxid)
			b->maxid = o->id;
	ob->pending = NULL;
	ob->ptail = &ob->pending;
	if (db_submit(ob->db, batch_work, batch_done, batch_free, b) != 0) {
		/* refused (logged by db): go on from memory */
		ob->st.write_errors++;
		if (b->maxid > ob->stored_upto)
			ob->stored_upto = b->maxid;
		batch_free(b);
		if (ob->cb)
			ob->cb(ob->arg);
		return;
	}
	ob->writing = b;
	if (ob->ev_grace)
		evtimer_add(ob->ev_grace, &tv);
}

static void
enqueue(struct outbox *ob, struct op *o)
{
	o->next = NULL;
	*ob->ptail = o;
	ob->ptail = &o->next;
	flush(ob);
}

static struct op *
op_new(enum op_kind kind)
{
	struct op *o = calloc(1, sizeof(*o));

	if (o == NULL)
		log_warnx("outbox: out of memory: a write is lost");
	else
		o->kind = kind;
	return o;
}

static void
write_insert(struct outbox *ob, const struct outbox_item *it)
{
	struct op *o = op_new(OP_INSERT);

	if (o == NULL)
		return;
	o->id = it->id;
	o->cls = it->cls;
	o->created_ms = it->created_ms;
	o->dest = strdup(it->q->name);
	o->text = strdup(it->payload);
	if (o->dest == NULL || o->text == NULL) {
		log_warnx("outbox: out of memory: a write is lost");
		op_free(o);
		return;
	}
	enqueue(ob, o);
}

static void
write_delete(struct outbox *ob, int64_t id)
{
	struct op *o = op_new(OP_DELETE);

	if (o == NULL)
		return;
	o->id = id;
	enqueue(ob, o);
}

void
outbox_meta_set(struct outbox *ob, const char *key, const char *value)
{
	struct op *o = op_new(OP_META);

	if (o == NULL)
		return;
	o->key = strdup(key);
	o->text = strdup(value);
	if (o->key == NULL || o->text == NULL) {
		op_free(o);
		return;
	}
	enqueue(ob, o);
}

void
outbox_sync(struct outbox *ob)
{
	/* each round commits one batch and may start the next */
	while (ob->writing != NULL || ob->pending != NULL) {
		flush(ob);
		if (db_sync(ob->db, -1) != 0)
			break;
	}
}

/* --- memory ------------------------------------------------------------- */

static void
link_item(struct outbox *ob, struct outbox_item *it)
{
	struct outbox_queue *q = it->q;

	it->qprev = q->tail;
	it->qnext = NULL;
	if (q->tail)
		q->tail->qnext = it;
	else
		q->head = it;
	q->tail = it;
	q->len++;

	it->cprev = ob->cls[it->cls].tail;
	it->cnext = NULL;
	if (ob->cls[it->cls].tail)
		ob->cls[it->cls].tail->cnext = it;
	else
		ob->cls[it->cls].head = it;
	ob->cls[it->cls].tail = it;
	ob->count++;
}

static void
unlink_item(struct outbox *ob, struct outbox_item *it)
{
	struct outbox_queue *q = it->q;

	if (it->qprev)
		it->qprev->qnext = it->qnext;
	else
		q->head = it->qnext;
	if (it->qnext)
		it->qnext->qprev = it->qprev;
	else
		q->tail = it->qprev;
	q->len--;

	if (it->cprev)
		it->cprev->cnext = it->cnext;
	else
		ob->cls[it->cls].head = it->cnext;
	if (it->cnext)
		it->cnext->cprev = it->cprev;
	else
		ob->cls[it->cls].tail = it->cprev;
	ob->count--;
}

static void
item_free(struct outbox_item *it)
{
	free(it->payload);
	free(it);
}

static void
count_drop(struct outbox *ob, struct outbox_queue *q, enum outbox_class cls, int64_t id)
{
	ob->st.dropped[cls]++;
	q->dropped++;
	log_warnx("outbox full (%" PRIu64 " notifications): dropped %s #%" PRId64 " for %s "
	          "(%s drops since start: %" PRIu64 ")",
	          ob->max, outbox_class_name(cls), id, q->name, outbox_class_name(cls),
	          ob->st.dropped[cls]);
}

/* The oldest item not being delivered, of the lowest class up to `upto`. */
static struct outbox_item *
victim(struct outbox *ob, enum outbox_class upto)
{
	for (int c = 0; c <= (int)upto; c++)
		for (struct outbox_item *it = ob->cls[c].head; it; it = it->cnext)
			if (!it->busy)
				return it;
	return NULL;
}

static void
drop_item(struct outbox *ob, struct outbox_item *it)
{
	count_drop(ob, it->q, it->cls, it->id);
	unlink_item(ob, it);
	write_delete(ob, it->id);
	item_free(it);
}

/* Make room for one item of class cls; false if cls itself must go. */
static bool
make_room(struct outbox *ob, enum outbox_class cls)
{
	while (ob->count >= ob->max) {
		struct outbox_item *v = victim(ob, cls);
		if (v == NULL)
			return false;
		drop_item(ob, v);
	}
	return true;
}

void
outbox_set_max(struct outbox *ob, uint64_t max)
{
	ob->max = max > 0 ? max : 1;
	while (ob->count > ob->max) {
		struct outbox_item *v = victim(ob, OUTBOX_TICKET);
		if (v == NULL)
			break;
		drop_item(ob, v);
	}
}

struct outbox_queue *
outbox_queue(struct outbox *ob, const char *dest)
{
	struct outbox_queue *q;

	for (q = ob->queues; q; q = q->next)
		if (strcmp(q->name, dest) == 0)
			return q;
	if ((q = calloc(1, sizeof(*q))) == NULL || (q->name = strdup(dest)) == NULL) {
		free(q);
		return NULL;
	}
	*ob->qtail = q;
	ob->qtail = &q->next;
	return q;
}

const char *
outbox_queue_name(const struct outbox_queue *q)
{
	return q->name;
}

struct outbox_queue *
outbox_queue_next(struct outbox *ob, struct outbox_queue *q)
{
	return q ? q->next : ob->queues;
}

size_t
outbox_queue_len(const struct outbox_queue *q)
{
	return q->len;
}

uint64_t
outbox_queue_dropped(const struct outbox_queue *q)
{
	return q->dropped;
}

static struct outbox_item *
item_new(struct outbox_queue *q, int64_t id, enum outbox_class cls, int64_t created_ms,
         const char *payload)
{
	struct outbox_item *it = calloc(1, sizeof(*it));

	if (it == NULL || (it->payload = strdup(payload)) == NULL) {
		free(it);
		return NULL;
	}
	it->id = id;
	it->cls = cls;
	it->created_ms = created_ms;
	it->q = q;
	return it;
}

struct outbox_item *
outbox_add(struct outbox *ob, struct outbox_queue *q, enum outbox_class cls, int64_t created_ms,
           const char *payload)
{
	struct outbox_item *it;
	int64_t id = ob->next_id++;

	if ((int)cls < 0 || cls >= OUTBOX_NCLASS)
		cls = OUTBOX_TICKET;
	if (!make_room(ob, cls)) {
		count_drop(ob, q, cls, id);
		return NULL;
	}
	if ((it = item_new(q, id, cls, created_ms, payload)) == NULL) {
		log_warnx("outbox: out of memory: %s #%" PRId64 " for %s is lost",
		          outbox_class_name(cls), id, q->name);
		ob->st.dropped[cls]++;
		q->dropped++;
		return NULL;
	}
	link_item(ob, it);
	ob->st.added++;
	write_insert(ob, it);
	return it;
}

struct outbox_item *
outbox_head(struct outbox_queue *q)
{
	return q->head;
}

bool
outbox_stored(const struct outbox *ob, const struct outbox_item *it)
{
	return it->id <= ob->stored_upto || ob->unsafe;
}

void
outbox_done(struct outbox *ob, struct outbox_item *it)
{
	unlink_item(ob, it);
	write_delete(ob, it->id);
	ob->st.delivered++;
	item_free(it);
}

size_t
outbox_purge(struct outbox *ob, struct outbox_queue *q)
{
	struct outbox_item *it = q->head, *next;
	size_t n = 0;

	for (; it; it = next) {
		next = it->qnext;
		if (it->busy)
			continue;
		unlink_item(ob, it);
		write_delete(ob, it->id);
		item_free(it);
		n++;
	}
	return n;
}

void
outbox_get_stats(struct outbox *ob, struct outbox_stats *st)
{
	*st = ob->st;
	st->items = ob->count;
}

/* --- open, load, close -------------------------------------------------- */

int
outbox_meta_get(struct outbox *ob, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *s;
	int rc = -1;

	if (sqlite3_prepare_v2(db_reader(ob->db), "SELECT value FROM notify_meta WHERE key = ?", -1,
	                       &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Ids continue above every id ever used, even after the table emptied. */
static int64_t
high_water(sqlite3 *conn)
{
	sqlite3_stmt *s;
	int64_t hw = 0;

	if (sqlite3_prepare_v2(
	        conn,
	        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE "
	        "name = 'notify_outbox'), 0), coalesce((SELECT max(id) FROM notify_outbox), 0))",
	        -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		hw = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return hw;
}

static int
load(struct outbox *ob, char *err, size_t errlen)
{
	sqlite3 *conn = db_reader(ob->db);
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(
	        conn, "SELECT id, dest, class, created_ms, payload FROM notify_outbox ORDER BY id",
	        -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", db_path(ob->db), sqlite3_errmsg(conn));
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *dest = (const char *)sqlite3_column_text(s, 1);
		const char *payload = (const char *)sqlite3_column_text(s, 4);
		int cls = sqlite3_column_int(s, 2);
		struct outbox_queue *q;
		struct outbox_item *it;

		if (dest == NULL || payload == NULL)
			continue;
		if (cls < 0 || cls >= OUTBOX_NCLASS)
			cls = OUTBOX_TICKET;
		if ((q = outbox_queue(ob, dest)) == NULL ||
		    (it = item_new(q, sqlite3_column_int64(s, 0), cls, sqlite3_column_int64(s, 3),
		                   payload)) == NULL) {
			snprintf(err, errlen, "out of memory loading the outbox");
			sqlite3_finalize(s);
			return -1;
		}
		link_item(ob, it);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", db_path(ob->db), sqlite3_errmsg(conn));
		return -1;
	}
	return 0;
}

struct outbox *
outbox_open(struct event_base *base, struct db *db, uint64_t max, outbox_stored_cb stored_cb,
            void *arg, char *err, size_t errlen)
{
	struct outbox *ob = calloc(1, sizeof(*ob));

	if (ob == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ob->base = base;
	ob->db = db;
	ob->max = max > 0 ? max : 1;
	ob->cb = stored_cb;
	ob->arg = arg;
	ob->qtail = &ob->queues;
	ob->ptail = &ob->pending;
	ob->grace_ms = OUTBOX_WRITE_GRACE_MS;
	if (base != NULL && (ob->ev_grace = evtimer_new(base, on_grace, ob)) == NULL) {
		snprintf(err, errlen, "cannot create a timer");
		goto fail;
	}
	if (load(ob, err, errlen) != 0)
		goto fail;
	ob->next_id = high_water(db_reader(db)) + 1;
	ob->stored_upto = ob->next_id - 1;
	if (ob->count > 0)
		log_info("outbox: %" PRIu64 " notification%s waiting from before the restart",
		         ob->count, ob->count == 1 ? "" : "s");
	outbox_set_max(ob, ob->max);
	return ob;
fail:
	outbox_close(ob);
	return NULL;
}

void
outbox_close(struct outbox *ob)
{
	if (ob == NULL)
		return;
	/* the last writes go to the writer, which outlives us (db_close drains
	 * it); its callbacks must not find us */
	flush(ob);
	if (ob->writing)
		ob->writing->ob = NULL;
	if (ob->pending) {
		struct batch *b = calloc(1, sizeof(*b));
		if (b != NULL) {
			b->ops = ob->pending;
			ob->pending = NULL;
			if (db_submit(ob->db, batch_work, NULL, batch_free, b) != 0)
				batch_free(b);
		}
		ops_free(ob->pending);
	}
	for (int c = 0; c < OUTBOX_NCLASS; c++)
		while (ob->cls[c].head) {
			struct outbox_item *it = ob->cls[c].head;
			unlink_item(ob, it);
			item_free(it);
		}
	while (ob->queues) {
		struct outbox_queue *n = ob->queues->next;
		free(ob->queues->name);
		free(ob->queues);
		ob->queues = n;
	}
	if (ob->ev_grace)
		event_free(ob->ev_grace);
	free(ob);
}

void
outbox_test_grace_ms(struct outbox *ob, int64_t ms)
{
	ob->grace_ms = ms;
}
