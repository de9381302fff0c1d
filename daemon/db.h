/* db.h - the ticket database: state-dir/linewatch.db (SQLite, WAL).
 *
 * Writes never run on the event loop: db_submit() queues a unit of work for
 * the writer thread, which runs it inside one transaction (BEGIN IMMEDIATE
 * ... COMMIT) on its own connection and then hands the result back to the
 * loop (done callback).  The queue is FIFO: units commit in the order they
 * were submitted.  A unit that fails for a reason that can pass (disk full,
 * I/O error, database busy or read-only) is rolled back, logged and retried
 * with a growing pause, keeping its place at the head of the queue, so
 * nothing is silently dropped; only a unit that can never succeed (an SQL or
 * constraint error: a bug) is logged as an error and given up.  The queue is
 * bounded (DB_QUEUE_MAX): past it db_submit() refuses and logs.
 *
 * Reads for the API use db_reader(), a separate read-only connection for
 * the loop: WAL readers never wait for the writer; keep queries small and
 * indexed.
 *
 * Schema: versioned migrations in db.c (the `migrations` array; PRAGMA
 * user_version counts those applied).  To add tables - e.g. a notification
 * outbox - append one SQL string to the array; never edit an applied one.
 *
 * Other modules may open their own connection to db_path() (WAL allows
 * several); they must use their own table names.
 */
#ifndef LW_DB_H
#define LW_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <sqlite3.h>

#define DB_FILE "linewatch.db"
#define DB_QUEUE_MAX 65536

struct db;

/* Runs on the writer thread inside a transaction; returns SQLITE_OK or the
 * failing SQLite result code (the transaction is then rolled back). */
typedef int (*db_work_fn)(sqlite3 *conn, void *arg);
/* On the loop, after the commit (rc == SQLITE_OK) or after giving up. */
typedef void (*db_done_fn)(int rc, void *arg);
typedef void (*db_free_fn)(void *arg);

struct db_stats {
	uint64_t submitted;
	uint64_t committed;
	uint64_t retries;
	uint64_t failed;  /* given up: permanent errors, or still failing at shutdown */
	uint64_t refused; /* queue full */
	size_t depth;     /* waiting now */
	bool failing;     /* the head unit is being retried */
};

/* Open (creating) state_dir/linewatch.db, check it, apply migrations and
 * start the writer thread.  On failure returns NULL with err saying which
 * file, what is wrong and what to do. */
struct db *db_open(const char *state_dir, char *err, size_t errlen);

/* Done callbacks run on this loop (before that, only in db_sync/db_close). */
int db_attach(struct db *db, struct event_base *base);

/* Queue work; 0, or -1 (logged) when the queue is full.  free_fn(arg) runs
 * after done (or after the work when done is NULL). */
int db_submit(struct db *db, db_work_fn work, db_done_fn done, db_free_fn free_fn, void *arg);

/* Wait up to timeout_ms (< 0: for ever) until every queued unit is done,
 * then run pending done callbacks on the calling thread.  0 when drained. */
int db_sync(struct db *db, int64_t timeout_ms);

/* Drain (giving failing writes a few seconds), stop the thread, close. */
void db_close(struct db *db);

sqlite3 *db_reader(struct db *db);
const char *db_path(const struct db *db);
int db_schema_version(struct db *db);
void db_get_stats(struct db *db, struct db_stats *st);

/* Tests: simulate a full disk (PRAGMA max_page_count; 0 = no limit),
 * shorten the retry pause, the queue bound and the shutdown grace. */
void db_test_max_pages(struct db *db, int pages);
void db_test_retry_ms(struct db *db, int64_t ms);
void db_test_limits(struct db *db, size_t queue_max, int64_t close_grace_ms);

#endif
