/* traffic_db.h - 7 days of per-interval traffic tops in SQLite.
 *
 * <state-dir>/traffic.db, separate from the tickets database.  Reports are
 * copied into a bounded queue and written by a thread of this module; the
 * event loop never waits for the disk to save.  Queries use their own
 * read-only connection (WAL: readers never wait for the writer).
 */
#ifndef LW_TRAFFIC_DB_H
#define LW_TRAFFIC_DB_H

#include <stdint.h>

#include <jansson.h>

#include "traffic.h"

#define TRAFFIC_DB_FILE "traffic.db"
#define TRAFFIC_DB_KEEP_S (7 * 86400)
#define TRAFFIC_DB_TOP 20   /* entries of each table stored per interval */
#define TRAFFIC_DB_QUEUE 16 /* reports waiting for the writer; more are dropped */

struct traffic_db;

struct traffic_db_stats {
	uint64_t saved, dropped, errors;
};

/* Opens or creates the database and starts the writer; NULL (logged) on error. */
struct traffic_db *traffic_db_open(const char *state_dir);
/* Writes what is queued, stops the writer, closes. */
void traffic_db_close(struct traffic_db *db);

/* Queue a report of a capture (copied); -1 if the queue is full. */
int traffic_db_save(struct traffic_db *db, const char *capture, const struct traffic_report *r);
/* Wait until everything queued is written (tests, shutdown). */
void traffic_db_flush(struct traffic_db *db);
void traffic_db_stats(struct traffic_db *db, struct traffic_db_stats *out);

/* Intervals of a capture overlapping [from, to) (unix seconds): totals,
 * series and the heaviest `top` hosts, conversations and services summed
 * over the stored tops.  NULL with *err set on a database error. */
json_t *traffic_db_query(struct traffic_db *db, const char *capture, double from, double to,
                         int top, const char **err);

#endif
