/* outbox.c - persistent ordered bounded queue: memory on the loop, SQLite
 * on a worker thread */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "log.h"
#include "outbox.h"

#define OUTBOX_SCHEMA "1"
#define OUTBOX_BUSY_MS 5000
#define OUTBOX_WRITE_TRIES 3

enum op_kind { OP_INSERT, OP_DELETE, OP_META };

/* A write for the worker; it owns copies of everything it needs, because
 * the item may be gone from memory before the write runs. */
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

struct outbox_queue {
	char *name;
	struct outbox_item *head, *tail;
	size_t len;
	uint64_t dropped;
	struct outbox_queue *next;
};

struct outbox {
	struct event_base *base;
	sqlite3 *db;
	char *path;
	uint64_t max;
	struct outbox_queue *queues, **qtail;
	struct {
		struct outbox_item *head, *tail;
	} cls[OUTBOX_NCLASS];
	uint64_t count;
	int64_t next_id;
	int64_t stored_seen; /* loop's copy of stored_upto */
	outbox_stored_cb cb;
	void *arg;
	struct event *ev_stored;
	struct outbox_stats st;

	/* shared with the worker, under mu */
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	struct op *ops, **opstail;
	uint64_t op_seq, done_seq;
	int64_t stored_upto;
	uint64_t write_errors;
	bool stop;
	bool thread_started;
	pthread_t thr;
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

/* --- worker ------------------------------------------------------------- */

static void
op_free(struct op *o)
{
	free(o->dest);
	free(o->text);
	free(o->key);
	free(o);
}

static int
exec_op(sqlite3 *db, sqlite3_stmt *ins, sqlite3_stmt *del, sqlite3_stmt *meta, const struct op *o)
{
	sqlite3_stmt *s;
	int rc;

	switch (o->kind) {
	case OP_INSERT:
		s = ins;
		sqlite3_bind_int64(s, 1, o->id);
		sqlite3_bind_text(s, 2, o->dest, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, o->cls);
		sqlite3_bind_int64(s, 4, o->created_ms);
		sqlite3_bind_text(s, 5, o->text, -1, SQLITE_STATIC);
		break;
	case OP_DELETE:
		s = del;
		sqlite3_bind_int64(s, 1, o->id);
		break;
	default:
		s = meta;
		sqlite3_bind_text(s, 1, o->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, o->text, -1, SQLITE_STATIC);
		break;
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	(void)db;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One transaction for the whole batch: one fsync however many items. */
static int
run_batch(sqlite3 *db, sqlite3_stmt *ins, sqlite3_stmt *del, sqlite3_stmt *meta,
          const struct op *batch)
{
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	for (const struct op *o = batch; o; o = o->next)
		if (exec_op(db, ins, del, meta, o) != 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static void *
worker(void *arg)
{
	struct outbox *ob = arg;
	sqlite3_stmt *ins = NULL, *del = NULL, *meta = NULL;

	if (sqlite3_prepare_v2(ob->db,
	                       "INSERT INTO notify_outbox (id, dest, class, created, payload) "
	                       "VALUES (?, ?, ?, ?, ?)",
	                       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ob->db, "DELETE FROM notify_outbox WHERE id = ?", -1, &del, NULL) !=
	        SQLITE_OK ||
	    sqlite3_prepare_v2(ob->db,
	                       "INSERT OR REPLACE INTO notify_meta (key, value) VALUES (?, ?)", -1,
	                       &meta, NULL) != SQLITE_OK)
		log_warnx("outbox: cannot prepare statements: %s: notifications are not "
		          "persisted",
		          sqlite3_errmsg(ob->db));

	pthread_mutex_lock(&ob->mu);
	for (;;) {
		struct op *batch;
		uint64_t seq;
		int64_t maxid = 0;
		int rc = -1;

		while (ob->ops == NULL && !ob->stop)
			pthread_cond_wait(&ob->work, &ob->mu);
		if (ob->ops == NULL)
			break;
		batch = ob->ops;
		seq = ob->op_seq;
		ob->ops = NULL;
		ob->opstail = &ob->ops;
		pthread_mutex_unlock(&ob->mu);

		for (struct op *o = batch; o; o = o->next)
			if (o->kind == OP_INSERT && o->id > maxid)
				maxid = o->id;
		for (int i = 0; ins && del && meta && i < OUTBOX_WRITE_TRIES && rc != 0; i++)
			if ((rc = run_batch(ob->db, ins, del, meta, batch)) != 0 &&
			    i + 1 < OUTBOX_WRITE_TRIES)
				usleep(200000);
		if (rc != 0)
			log_warnx("outbox: cannot write %s: %s: notifications are sent but would "
			          "be lost by a restart",
			          ob->path, sqlite3_errmsg(ob->db));
		while (batch) {
			struct op *n = batch->next;
			op_free(batch);
			batch = n;
		}

		pthread_mutex_lock(&ob->mu);
		if (rc != 0)
			ob->write_errors++;
		if (maxid > ob->stored_upto)
			ob->stored_upto = maxid;
		ob->done_seq = seq;
		pthread_cond_broadcast(&ob->idle);
		if (maxid > 0 && ob->ev_stored)
			event_active(ob->ev_stored, EV_TIMEOUT, 0);
	}
	pthread_mutex_unlock(&ob->mu);
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	sqlite3_finalize(meta);
	return NULL;
}

static void
enqueue(struct outbox *ob, struct op *o)
{
	pthread_mutex_lock(&ob->mu);
	o->next = NULL;
	*ob->opstail = o;
	ob->opstail = &o->next;
	ob->op_seq++;
	pthread_cond_signal(&ob->work);
	pthread_mutex_unlock(&ob->mu);
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
	pthread_mutex_lock(&ob->mu);
	while (ob->thread_started && ob->done_seq < ob->op_seq)
		pthread_cond_wait(&ob->idle, &ob->mu);
	if (ob->stored_upto > ob->stored_seen)
		ob->stored_seen = ob->stored_upto;
	pthread_mutex_unlock(&ob->mu);
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
	return it->id <= ob->stored_seen;
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
	pthread_mutex_lock(&ob->mu);
	st->write_errors = ob->write_errors;
	pthread_mutex_unlock(&ob->mu);
}

/* --- open, load, close -------------------------------------------------- */

static void
on_stored(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	int64_t upto;

	pthread_mutex_lock(&ob->mu);
	upto = ob->stored_upto;
	pthread_mutex_unlock(&ob->mu);
	if (upto <= ob->stored_seen)
		return;
	ob->stored_seen = upto;
	if (ob->cb)
		ob->cb(ob->arg);
}

int
outbox_meta_get(struct outbox *ob, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *s;
	int rc = -1;

	if (sqlite3_prepare_v2(ob->db, "SELECT value FROM notify_meta WHERE key = ?", -1, &s,
	                       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

static int
exec_sql(struct outbox *ob, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(ob->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", ob->path, msg ? msg : sqlite3_errmsg(ob->db));
	sqlite3_free(msg);
	return -1;
}

static int
create_schema(struct outbox *ob, char *err, size_t errlen)
{
	char ver[32];

	if (exec_sql(ob, "PRAGMA journal_mode=WAL", err, errlen) != 0 ||
	    exec_sql(ob, "PRAGMA synchronous=FULL", err, errlen) != 0 ||
	    exec_sql(ob,
	             "CREATE TABLE IF NOT EXISTS notify_meta ("
	             " key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	             "CREATE TABLE IF NOT EXISTS notify_outbox ("
	             " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	             " dest TEXT NOT NULL,"
	             " class INTEGER NOT NULL,"
	             " created INTEGER NOT NULL,"
	             " payload TEXT NOT NULL);",
	             err, errlen) != 0)
		return -1;
	if (outbox_meta_get(ob, "schema", ver, sizeof(ver)) != 0)
		return exec_sql(
		    ob,
		    "INSERT INTO notify_meta (key, value) VALUES ('schema', '" OUTBOX_SCHEMA "')",
		    err, errlen);
	if (strcmp(ver, OUTBOX_SCHEMA) != 0) {
		snprintf(err, errlen,
		         "%s: the notification outbox has schema version %s, this "
		         "linewatchd knows %s (downgrade?)",
		         ob->path, ver, OUTBOX_SCHEMA);
		return -1;
	}
	return 0;
}

static int64_t
high_water(struct outbox *ob)
{
	sqlite3_stmt *s;
	int64_t hw = 0;

	if (sqlite3_prepare_v2(
	        ob->db,
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
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(
	        ob->db, "SELECT id, dest, class, created, payload FROM notify_outbox ORDER BY id",
	        -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", ob->path, sqlite3_errmsg(ob->db));
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
		snprintf(err, errlen, "%s: %s", ob->path, sqlite3_errmsg(ob->db));
		return -1;
	}
	return 0;
}

/* The database is created before privileges are dropped: give its files to
 * the owner of the state directory, who runs the daemon afterwards. */
static void
give_files(const char *path)
{
	char *copy = strdup(path), name[4096];
	const char *suffix[] = {"", "-wal", "-shm"};
	struct stat dir;

	if (copy == NULL)
		return;
	if (geteuid() == 0 && stat(dirname(copy), &dir) == 0 && dir.st_uid != 0)
		for (size_t i = 0; i < 3; i++) {
			snprintf(name, sizeof(name), "%s%s", path, suffix[i]);
			if (chown(name, dir.st_uid, dir.st_gid) == -1 && errno != ENOENT)
				log_warn("outbox: chown %s", name);
		}
	free(copy);
}

struct outbox *
outbox_open(struct event_base *base, const char *path, uint64_t max, outbox_stored_cb stored_cb,
            void *arg, char *err, size_t errlen)
{
	struct outbox *ob = calloc(1, sizeof(*ob));
	size_t n = 0;

	if (ob == NULL || (ob->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(ob);
		return NULL;
	}
	ob->base = base;
	ob->max = max > 0 ? max : 1;
	ob->cb = stored_cb;
	ob->arg = arg;
	ob->qtail = &ob->queues;
	ob->opstail = &ob->ops;
	pthread_mutex_init(&ob->mu, NULL);
	pthread_cond_init(&ob->work, NULL);
	pthread_cond_init(&ob->idle, NULL);

	if (sqlite3_open_v2(path, &ob->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		         ob->db ? sqlite3_errmsg(ob->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(ob->db, OUTBOX_BUSY_MS);
	if (create_schema(ob, err, errlen) != 0 || load(ob, err, errlen) != 0)
		goto fail;
	give_files(path);
	ob->next_id = high_water(ob) + 1;
	ob->stored_upto = ob->stored_seen = ob->next_id - 1;
	for (struct outbox_queue *q = ob->queues; q; q = q->next)
		n += q->len;
	if (n > 0)
		log_info("outbox: %zu notification%s waiting from before the restart", n,
		         n == 1 ? "" : "s");
	outbox_set_max(ob, ob->max);

	if (base != NULL && (ob->ev_stored = event_new(base, -1, 0, on_stored, ob)) == NULL) {
		snprintf(err, errlen, "cannot create an event");
		goto fail;
	}
	if (pthread_create(&ob->thr, NULL, worker, ob) != 0) {
		snprintf(err, errlen, "cannot start the outbox writer thread");
		goto fail;
	}
	ob->thread_started = true;
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
	if (ob->thread_started) {
		pthread_mutex_lock(&ob->mu);
		ob->stop = true;
		pthread_cond_signal(&ob->work);
		pthread_mutex_unlock(&ob->mu);
		pthread_join(ob->thr, NULL);
	}
	while (ob->ops) {
		struct op *n = ob->ops->next;
		op_free(ob->ops);
		ob->ops = n;
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
	if (ob->ev_stored)
		event_free(ob->ev_stored);
	if (ob->db)
		sqlite3_close(ob->db);
	pthread_cond_destroy(&ob->work);
	pthread_cond_destroy(&ob->idle);
	pthread_mutex_destroy(&ob->mu);
	free(ob->path);
	free(ob);
}
