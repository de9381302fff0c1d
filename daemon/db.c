/* db.c - linewatch.db: checks at start-up, migrations, the writer thread */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "db.h"
#include "log.h"

#define DB_BUSY_MS 5000       /* writer: other writers (outbox) hold the lock briefly */
#define DB_READER_BUSY_MS 200 /* reader on the loop: WAL readers rarely wait at all */
#define DB_RETRY_MIN_MS 500
#define DB_RETRY_MAX_MS 30000
#define DB_CLOSE_GRACE_MS 5000 /* at shutdown, how long failing writes are retried */
#define DB_LOG_EVERY_MS 60000

/*
 * Schema migrations, applied in order, each in its own transaction; PRAGMA
 * user_version is the number applied.  Append, never edit: a database
 * written by this version must open with every later one.  Times are unix
 * milliseconds, JSON is stored as text.
 */
static const char *const migrations[] = {
    /* 1: tickets, their timelines, problem periods, latency baselines */
    "CREATE TABLE ticket_meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "CREATE TABLE tickets ("
    "  id INTEGER PRIMARY KEY,"
    "  ref TEXT NOT NULL UNIQUE,"
    "  problem_key TEXT NOT NULL,"
    "  subject TEXT NOT NULL," /* link, device, site */
    "  name TEXT NOT NULL,"    /* the link's, device's or site's name */
    "  kind TEXT NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),"
    "  flapping INTEGER NOT NULL DEFAULT 0,"
    "  title TEXT NOT NULL,"
    "  blame TEXT,"
    "  blame_reasons TEXT,"
    "  link TEXT,"
    "  device TEXT,"
    "  provider TEXT,"
    "  circuit TEXT,"
    "  support TEXT,"
    "  problem_since_ms INTEGER NOT NULL,"
    "  opened_ms INTEGER NOT NULL,"
    "  acknowledged_ms INTEGER,"
    "  acknowledged_by TEXT,"
    "  resolved_ms INTEGER,"
    "  resolved_by TEXT,"
    "  resolution TEXT,"
    "  response_due_ms INTEGER,"
    "  resolution_due_ms INTEGER,"
    "  reopened INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE INDEX tickets_state ON tickets (state, id);"
    "CREATE INDEX tickets_link ON tickets (link, id);"
    "CREATE INDEX tickets_key ON tickets (problem_key, id);"
    "CREATE INDEX tickets_opened ON tickets (opened_ms);"
    "CREATE TABLE ticket_events ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets (id),"
    "  at_ms INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  severity TEXT,"
    "  who TEXT,"
    "  text TEXT NOT NULL,"
    "  metrics TEXT);"
    "CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);"
    "CREATE TABLE problems ("
    "  id INTEGER PRIMARY KEY,"
    "  problem_key TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  link TEXT,"
    "  kind TEXT NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  start_ms INTEGER NOT NULL,"
    "  end_ms INTEGER,"
    "  ticket_id INTEGER,"
    "  held TEXT," /* NULL, maintenance, suppressed */
    "  note TEXT);"
    "CREATE INDEX problems_link ON problems (link, start_ms);"
    "CREATE INDEX problems_open ON problems (end_ms) WHERE end_ms IS NULL;"
    "CREATE TABLE latency_hourly ("
    "  link TEXT NOT NULL,"
    "  probe TEXT NOT NULL,"
    "  hour_ms INTEGER NOT NULL,"
    "  median_ms REAL NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (link, probe, hour_ms)) WITHOUT ROWID;",
    /* 2: the notification outbox (outbox.c): items waiting for delivery,
     * ids never reused; notify_meta keeps the SNMP engine ID and boots */
    "CREATE TABLE notify_meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "CREATE TABLE notify_outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  dest TEXT NOT NULL,"     /* upstream:NAME, webhook:NAME, email:NAME */
    "  class INTEGER NOT NULL," /* 0 heartbeat, 1 state change, 2 ticket event */
    "  created_ms INTEGER NOT NULL,"
    "  payload TEXT NOT NULL);", /* JSON, web/webhook.md */
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

struct db_op {
	db_work_fn work;
	db_done_fn done;
	db_free_fn free_fn;
	void *arg;
	int rc;
	struct db_op *next;
};

struct db {
	char *path;
	sqlite3 *writer; /* writer thread only (and db_open before it starts) */
	sqlite3 *reader; /* the loop */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;
	pthread_cond_t idle_cv;
	struct db_op *head, *tail; /* queue */
	size_t depth;
	bool busy; /* the writer holds the head unit */
	bool stopping;
	int64_t stop_ms;
	struct db_op *done_head, *done_tail; /* finished, for the loop */
	struct event *ev_done;
	struct db_stats stats;
	int64_t retry_min_ms;
	int test_max_pages; /* -1: unchanged */
	int64_t refused_logged_ms;
	size_t queue_max;
	int64_t close_grace_ms;
	char lasterr[256]; /* writer thread */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- start-up checks ----------------------------------------------------- */

static void
corrupt_msg(char *err, size_t errlen, const char *path, const char *what)
{
	snprintf(
	    err, errlen,
	    "database %s is damaged (%s): stop linewatchd, move the file aside (mv %s %s.damaged; "
	    "also its -wal and -shm files) to start with an empty ticket history, or restore it "
	    "from a backup; `sqlite3 %s.damaged .recover | sqlite3 %s` may salvage the tickets",
	    path, what, path, path, path, path);
}

static void
unwritable_msg(char *err, size_t errlen, const char *path, const char *what)
{
	snprintf(err, errlen,
	         "database %s cannot be written (%s): give the file, its -wal and -shm files and "
	         "the state-dir to the daemon's user (e.g. chown linewatch: %s*) or fix the "
	         "permissions, and check the disk is not full or mounted read-only",
	         path, what, path);
}

static bool
is_corruption(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

static bool
is_unwritable(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN || rc == SQLITE_PERM ||
	       rc == SQLITE_FULL || rc == SQLITE_IOERR || rc == SQLITE_AUTH;
}

static void
sql_msg(char *err, size_t errlen, const char *path, sqlite3 *conn, int rc, const char *doing)
{
	const char *what = conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc);

	if (is_corruption(rc))
		corrupt_msg(err, errlen, path, what);
	else if (is_unwritable(rc))
		unwritable_msg(err, errlen, path, what);
	else
		snprintf(err, errlen, "database %s: %s failed: %s", path, doing, what);
}

/* When started as root, the files belong to the state-dir's owner (the user
 * the daemon drops to); SQLite gives its -wal and -shm files the owner of
 * the database file when it runs as root. */
static int
give_to_state_owner(const char *state_dir, const char *path, char *err, size_t errlen)
{
	struct stat sd;
	char side[4096];
	int fd;

	if (geteuid() != 0 || stat(state_dir, &sd) == -1 || sd.st_uid == 0)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1) {
		unwritable_msg(err, errlen, path, strerror(errno));
		return -1;
	}
	if (fchown(fd, sd.st_uid, sd.st_gid) == -1)
		log_warn("database %s: cannot give it to uid %u", path, (unsigned)sd.st_uid);
	close(fd);
	snprintf(side, sizeof(side), "%s-wal", path);
	if (chown(side, sd.st_uid, sd.st_gid) == -1 && errno != ENOENT)
		log_warn("%s: cannot give it to uid %u", side, (unsigned)sd.st_uid);
	snprintf(side, sizeof(side), "%s-shm", path);
	if (chown(side, sd.st_uid, sd.st_gid) == -1 && errno != ENOENT)
		log_warn("%s: cannot give it to uid %u", side, (unsigned)sd.st_uid);
	return 0;
}

static int
exec(sqlite3 *conn, const char *sql)
{
	return sqlite3_exec(conn, sql, NULL, NULL, NULL);
}

static int
quick_check(struct db *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->writer, "PRAGMA quick_check(1)", -1, &st, NULL);
	char what[256];

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sql_msg(err, errlen, db->path, db->writer, rc, "the integrity check");
		sqlite3_finalize(st);
		return -1;
	}
	snprintf(what, sizeof(what), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (strcmp(what, "ok") != 0) {
		corrupt_msg(err, errlen, db->path, what);
		return -1;
	}
	return 0;
}

static int
user_version(sqlite3 *conn, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
migrate(struct db *db, char *err, size_t errlen)
{
	char sql[64];
	int v = 0, rc;

	if ((rc = user_version(db->writer, &v)) != SQLITE_OK) {
		sql_msg(err, errlen, db->path, db->writer, rc, "reading the schema version");
		return -1;
	}
	if (v > NMIGRATIONS) {
		snprintf(
		    err, errlen,
		    "database %s has schema version %d, this linewatchd knows "
		    "only up to %d: it was written by a newer linewatch; run that version, or move "
		    "the file aside to start with an empty ticket history",
		    db->path, v, NMIGRATIONS);
		return -1;
	}
	for (; v < NMIGRATIONS; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((rc = exec(db->writer, "BEGIN IMMEDIATE")) != SQLITE_OK ||
		    (rc = exec(db->writer, migrations[v])) != SQLITE_OK ||
		    (rc = exec(db->writer, sql)) != SQLITE_OK ||
		    (rc = exec(db->writer, "COMMIT")) != SQLITE_OK) {
			char doing[64];

			snprintf(doing, sizeof(doing), "updating the schema to version %d", v + 1);
			sql_msg(err, errlen, db->path, db->writer, rc, doing);
			exec(db->writer, "ROLLBACK");
			return -1;
		}
		log_info("database %s: schema version %d", db->path, v + 1);
	}
	return 0;
}

/* Prove the file is writable now rather than at the first ticket. */
static int
write_test(struct db *db, char *err, size_t errlen)
{
	char sql[160];
	int rc;

	snprintf(sql, sizeof(sql),
	         "INSERT OR REPLACE INTO ticket_meta (key, value) VALUES "
	         "('started_ms', '%lld')",
	         (long long)wall_ms());
	if ((rc = exec(db->writer, "BEGIN IMMEDIATE")) != SQLITE_OK ||
	    (rc = exec(db->writer, sql)) != SQLITE_OK ||
	    (rc = exec(db->writer, "COMMIT")) != SQLITE_OK) {
		sql_msg(err, errlen, db->path, db->writer, rc, "a test write");
		exec(db->writer, "ROLLBACK");
		return -1;
	}
	return 0;
}

static int
open_connections(struct db *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_open_v2(db->path, &db->writer,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		sql_msg(err, errlen, db->path, db->writer, rc, "opening");
		return -1;
	}
	sqlite3_extended_result_codes(db->writer, 1);
	sqlite3_busy_timeout(db->writer, DB_BUSY_MS);
	if (quick_check(db, err, errlen) != 0)
		return -1;
	rc = sqlite3_prepare_v2(db->writer, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
			rc = SQLITE_READONLY;
		else
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		sql_msg(err, errlen, db->path, db->writer, rc, "switching to WAL mode");
		return -1;
	}
	if ((rc = exec(db->writer, "PRAGMA synchronous=FULL")) != SQLITE_OK ||
	    (rc = exec(db->writer, "PRAGMA foreign_keys=ON")) != SQLITE_OK) {
		sql_msg(err, errlen, db->path, db->writer, rc, "setting it up");
		return -1;
	}
	if (migrate(db, err, errlen) != 0 || write_test(db, err, errlen) != 0)
		return -1;
	rc = sqlite3_open_v2(db->path, &db->reader, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		sql_msg(err, errlen, db->path, db->reader, rc, "opening it for reading");
		return -1;
	}
	sqlite3_extended_result_codes(db->reader, 1);
	sqlite3_busy_timeout(db->reader, DB_READER_BUSY_MS);
	return 0;
}

/* ---- writer thread ------------------------------------------------------- */

static bool
retryable(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
	case SQLITE_PROTOCOL:
	case SQLITE_READONLY:
		return true;
	default:
		return false;
	}
}

static int
run_op(struct db *db, struct db_op *op)
{
	int rc;

	if ((rc = exec(db->writer, "BEGIN IMMEDIATE")) == SQLITE_OK &&
	    (rc = op->work(db->writer, op->arg)) == SQLITE_OK &&
	    (rc = exec(db->writer, "COMMIT")) == SQLITE_OK)
		return SQLITE_OK;
	/* the message before ROLLBACK replaces it */
	snprintf(db->lasterr, sizeof(db->lasterr), "%s", sqlite3_errmsg(db->writer));
	exec(db->writer, "ROLLBACK");
	return rc;
}

/* With db->mu held: hand a finished unit to the loop. */
static void
finish(struct db *db, struct db_op *op, int rc)
{
	op->rc = rc;
	op->next = NULL;
	if (op->done == NULL) {
		if (op->free_fn)
			op->free_fn(op->arg);
		free(op);
		return;
	}
	if (db->done_tail)
		db->done_tail->next = op;
	else
		db->done_head = op;
	db->done_tail = op;
	if (db->ev_done)
		event_active(db->ev_done, EV_READ, 0);
}

static void
apply_test_hooks(struct db *db)
{
	char sql[64];

	if (db->test_max_pages < 0)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d",
	         db->test_max_pages > 0 ? db->test_max_pages : 1073741823);
	exec(db->writer, sql);
	db->test_max_pages = -1;
}

static void
wait_ms(struct db *db, int64_t ms)
{
	struct timespec until;
	int64_t end = mono_ms() + ms;

	/* The condition variable uses CLOCK_MONOTONIC (see db_open). */
	until.tv_sec = end / 1000;
	until.tv_nsec = (end % 1000) * 1000000;
	while (!db->stopping && mono_ms() < end)
		if (pthread_cond_timedwait(&db->work_cv, &db->mu, &until) == ETIMEDOUT)
			break;
}

static void *
writer_main(void *arg)
{
	struct db *db = arg;
	int64_t fail_since = 0, last_log = 0, pause = 0;
	uint64_t fails = 0;

	pthread_mutex_lock(&db->mu);
	for (;;) {
		struct db_op *op;
		int rc;

		while (db->head == NULL && !db->stopping)
			pthread_cond_wait(&db->work_cv, &db->mu);
		if (db->head == NULL)
			break;
		op = db->head;
		db->busy = true;
		apply_test_hooks(db);
		pthread_mutex_unlock(&db->mu);

		rc = run_op(db, op);

		pthread_mutex_lock(&db->mu);
		if (rc != SQLITE_OK && retryable(rc) &&
		    !(db->stopping && mono_ms() - db->stop_ms > db->close_grace_ms)) {
			int64_t now = mono_ms();

			fails++;
			db->stats.retries++;
			db->stats.failing = true;
			if (fail_since == 0) {
				fail_since = now;
				pause = db->retry_min_ms;
			} else if ((pause *= 2) > DB_RETRY_MAX_MS)
				pause = DB_RETRY_MAX_MS;
			if (last_log == 0 || now - last_log >= DB_LOG_EVERY_MS) {
				log_error("database %s: cannot write (%s): retrying every %llds or "
				          "less, %zu write%s waiting; no ticket is lost while "
				          "linewatchd runs - "
				          "free disk space or fix the file's permissions",
				          db->path, db->lasterr,
				          (long long)(DB_RETRY_MAX_MS / 1000), db->depth,
				          db->depth == 1 ? "" : "s");
				last_log = now;
			}
			wait_ms(db, db->stopping ? 100 : pause);
			continue;
		}
		db->head = op->next;
		if (db->head == NULL)
			db->tail = NULL;
		db->depth--;
		if (rc == SQLITE_OK) {
			db->stats.committed++;
			if (fail_since) {
				log_info("database %s: writing again after %llu failed attempt%s",
				         db->path, (unsigned long long)fails,
				         fails == 1 ? "" : "s");
				fail_since = last_log = 0;
				fails = 0;
			}
			db->stats.failing = false;
		} else {
			db->stats.failed++;
			log_error("database %s: a write was given up: %s", db->path, db->lasterr);
			fail_since = 0;
			db->stats.failing = false;
		}
		finish(db, op, rc);
		db->busy = false;
		if (db->head == NULL)
			pthread_cond_broadcast(&db->idle_cv);
	}
	db->busy = false;
	pthread_cond_broadcast(&db->idle_cv);
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

/* Run done callbacks on the calling thread (the loop). */
static void
run_done(struct db *db)
{
	struct db_op *list, *next;

	pthread_mutex_lock(&db->mu);
	list = db->done_head;
	db->done_head = db->done_tail = NULL;
	pthread_mutex_unlock(&db->mu);
	for (; list; list = next) {
		next = list->next;
		list->done(list->rc, list->arg);
		if (list->free_fn)
			list->free_fn(list->arg);
		free(list);
	}
}

static void
on_done(evutil_socket_t fd, short ev, void *arg)
{
	run_done(arg);
}

/* ---- public ------------------------------------------------------------- */

static void
db_destroy(struct db *db)
{
	if (db->reader)
		sqlite3_close(db->reader);
	if (db->writer)
		sqlite3_close(db->writer);
	if (db->ev_done)
		event_free(db->ev_done);
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->work_cv);
	pthread_cond_destroy(&db->idle_cv);
	free(db->path);
	free(db);
}

struct db *
db_open(const char *state_dir, char *err, size_t errlen)
{
	struct db *db = calloc(1, sizeof(*db));
	pthread_condattr_t ca;
	struct stat st;

	if (db == NULL || asprintf(&db->path, "%s/%s", state_dir, DB_FILE) == -1) {
		snprintf(err, errlen, "out of memory");
		free(db);
		return NULL;
	}
	pthread_mutex_init(&db->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->work_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&db->idle_cv, NULL);
	db->retry_min_ms = DB_RETRY_MIN_MS;
	db->queue_max = DB_QUEUE_MAX;
	db->close_grace_ms = DB_CLOSE_GRACE_MS;
	db->test_max_pages = -1;

	if (lstat(db->path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
		         "database %s is not a regular file: remove or rename it so "
		         "linewatchd can create the ticket database there",
		         db->path);
		goto fail;
	}
	if (give_to_state_owner(state_dir, db->path, err, errlen) != 0 ||
	    open_connections(db, err, errlen) != 0)
		goto fail;
	if (pthread_create(&db->thread, NULL, writer_main, db) != 0) {
		snprintf(err, errlen, "database %s: cannot start the writer thread", db->path);
		goto fail;
	}
	db->thread_started = true;
	return db;
fail:
	db_destroy(db);
	return NULL;
}

int
db_attach(struct db *db, struct event_base *base)
{
	if (db->ev_done != NULL)
		return 0;
	db->ev_done = event_new(base, -1, 0, on_done, db);
	if (db->ev_done == NULL)
		return -1;
	/* Units finished before the loop was attached. */
	pthread_mutex_lock(&db->mu);
	if (db->done_head)
		event_active(db->ev_done, EV_READ, 0);
	pthread_mutex_unlock(&db->mu);
	return 0;
}

int
db_submit(struct db *db, db_work_fn work, db_done_fn done, db_free_fn free_fn, void *arg)
{
	struct db_op *op;

	pthread_mutex_lock(&db->mu);
	if (db->depth >= db->queue_max || db->stopping) {
		int64_t now = mono_ms();

		db->stats.refused++;
		if (db->refused_logged_ms == 0 || now - db->refused_logged_ms > DB_LOG_EVERY_MS) {
			log_error(
			    "database %s: %zu writes are waiting for the disk: new writes are "
			    "refused (%llu so far)",
			    db->path, db->depth, (unsigned long long)db->stats.refused);
			db->refused_logged_ms = now;
		}
		pthread_mutex_unlock(&db->mu);
		return -1;
	}
	pthread_mutex_unlock(&db->mu);
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		log_warn("database %s: cannot queue a write", db->path);
		return -1;
	}
	op->work = work;
	op->done = done;
	op->free_fn = free_fn;
	op->arg = arg;
	pthread_mutex_lock(&db->mu);
	if (db->tail)
		db->tail->next = op;
	else
		db->head = op;
	db->tail = op;
	db->depth++;
	db->stats.submitted++;
	pthread_cond_signal(&db->work_cv);
	pthread_mutex_unlock(&db->mu);
	return 0;
}

int
db_sync(struct db *db, int64_t timeout_ms)
{
	int64_t end = timeout_ms >= 0 ? mono_ms() + timeout_ms : 0;
	int drained;

	pthread_mutex_lock(&db->mu);
	while ((db->head != NULL || db->busy) && (timeout_ms < 0 || mono_ms() < end)) {
		struct timespec ts;

		/* idle_cv uses CLOCK_REALTIME: poll in short steps instead. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&db->idle_cv, &db->mu, &ts);
	}
	drained = db->head == NULL && !db->busy;
	pthread_mutex_unlock(&db->mu);
	run_done(db);
	return drained ? 0 : -1;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->thread_started) {
		pthread_mutex_lock(&db->mu);
		db->stopping = true;
		db->stop_ms = mono_ms();
		pthread_cond_broadcast(&db->work_cv);
		pthread_mutex_unlock(&db->mu);
		pthread_join(db->thread, NULL);
	}
	/* The writer only leaves with an empty queue; say what it gave up. */
	if (db->stats.failed > 0)
		log_error("database %s: %llu write%s could not be saved", db->path,
		          (unsigned long long)db->stats.failed, db->stats.failed == 1 ? "" : "s");
	run_done(db);
	db_destroy(db);
}

sqlite3 *
db_reader(struct db *db)
{
	return db->reader;
}

const char *
db_path(const struct db *db)
{
	return db->path;
}

int
db_schema_version(struct db *db)
{
	int v = -1;

	if (user_version(db->reader, &v) != SQLITE_OK)
		return -1;
	return v;
}

void
db_get_stats(struct db *db, struct db_stats *st)
{
	pthread_mutex_lock(&db->mu);
	*st = db->stats;
	st->depth = db->depth;
	pthread_mutex_unlock(&db->mu);
}

void
db_test_max_pages(struct db *db, int pages)
{
	pthread_mutex_lock(&db->mu);
	db->test_max_pages = pages;
	pthread_mutex_unlock(&db->mu);
}

void
db_test_retry_ms(struct db *db, int64_t ms)
{
	pthread_mutex_lock(&db->mu);
	db->retry_min_ms = ms;
	pthread_mutex_unlock(&db->mu);
}

void
db_test_limits(struct db *db, size_t queue_max, int64_t close_grace_ms)
{
	pthread_mutex_lock(&db->mu);
	db->queue_max = queue_max;
	db->close_grace_ms = close_grace_ms;
	pthread_mutex_unlock(&db->mu);
}
