/* traffic_db.c - SQLite store of interval tops: writer thread, queries */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "traffic_db.h"

#define CAPTURE_NAME_MAX 128
#define PRUNE_EVERY_S 600

/* KIND_APP: a = name, b = category, bytes1 = bytes, pkts1 = packets,
 * pkts2 = flows classified */
enum { KIND_HOST = 0, KIND_CONV = 1, KIND_SERVICE = 2, KIND_APP = 3 };

struct slot {
	char capture[CAPTURE_NAME_MAX];
	struct traffic_report *rep;
};

struct traffic_db {
	char path[PATH_MAX];
	sqlite3 *wr; /* writer thread only */
	sqlite3 *rd; /* event loop only */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more, done;
	struct slot q[TRAFFIC_DB_QUEUE];
	size_t head, count;
	int writing, stop;
	time_t pruned;
	struct traffic_db_stats stats;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS intervals("
    " id INTEGER PRIMARY KEY, capture TEXT NOT NULL, t_start REAL NOT NULL, t_end REAL NOT NULL,"
    " packets INTEGER, bytes INTEGER, tcp_bytes INTEGER, udp_bytes INTEGER, icmp_bytes INTEGER,"
    " other_bytes INTEGER, drops INTEGER, interface_drops INTEGER, undecoded INTEGER,"
    " estimated INTEGER);"
    "CREATE INDEX IF NOT EXISTS intervals_capture_end ON intervals(capture, t_end);"
    "CREATE TABLE IF NOT EXISTS tops("
    " interval_id INTEGER NOT NULL, kind INTEGER NOT NULL, a TEXT, b TEXT, proto INTEGER,"
    " port INTEGER, bytes1 INTEGER, bytes2 INTEGER, pkts1 INTEGER, pkts2 INTEGER,"
    " error INTEGER, local INTEGER);"
    "CREATE INDEX IF NOT EXISTS tops_interval ON tops(interval_id, kind);";

static int
db_exec(sqlite3 *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("traffic database: %s", err ? err : "error");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static double
tv_double(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static int
insert_top(sqlite3_stmt *st, sqlite3_int64 id, int kind, const char *a, const char *b, int proto,
           int port, uint64_t b1, uint64_t b2, uint64_t p1, uint64_t p2, uint64_t err, int local)
{
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_text(st, 3, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(st, 4, b, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int(st, 5, proto);
	sqlite3_bind_int(st, 6, port);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)b1);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)b2);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)p1);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)p2);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)err);
	sqlite3_bind_int(st, 12, local);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

static int
insert_tops(sqlite3 *s, sqlite3_int64 id, const struct traffic_report *r)
{
	sqlite3_stmt *st;
	char a[64], b[64];
	int rc = 0;

	if (sqlite3_prepare_v2(s, "INSERT INTO tops VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st,
	                       NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < r->nhosts && rc == 0; i++) {
		const struct traffic_host *h = &r->hosts[i];

		rc = insert_top(
		    st, id, KIND_HOST, traffic_addr_str(h->family, h->addr, a, sizeof(a)), NULL, 0,
		    0, h->tx_bytes, h->rx_bytes, h->tx_pkts, h->rx_pkts, h->error, h->local);
	}
	for (size_t i = 0; i < r->nconvs && rc == 0; i++) {
		const struct traffic_conv *c = &r->convs[i];

		rc = insert_top(st, id, KIND_CONV, traffic_addr_str(c->family, c->a, a, sizeof(a)),
		                traffic_addr_str(c->family, c->b, b, sizeof(b)), 0, 0, c->ab_bytes,
		                c->ba_bytes, c->ab_pkts, c->ba_pkts, c->error, 0);
	}
	for (size_t i = 0; i < r->nservices && rc == 0; i++) {
		const struct traffic_service *v = &r->services[i];
		char pb[16];

		rc = insert_top(st, id, KIND_SERVICE, traffic_proto_name(v->proto, pb, sizeof(pb)),
		                NULL, v->proto, v->port, v->bytes, v->to_server_bytes, v->pkts, 0,
		                v->error, 0);
	}
	for (size_t i = 0; r->apps_valid && i < r->napps && i < TRAFFIC_DB_TOP && rc == 0; i++) {
		const struct traffic_app *p = &r->apps[i];

		rc = insert_top(st, id, KIND_APP, p->name, p->category, 0, 0, p->bytes, 0, p->pkts,
		                p->flows, 0, 0);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
insert_report(sqlite3 *s, const char *capture, const struct traffic_report *r)
{
	sqlite3_stmt *st;
	uint64_t bad = 0;
	int rc;

	for (int i = DECODE_OK + 1; i < DECODE_NRESULTS; i++)
		if (i != DECODE_NOT_IP)
			bad += r->malformed[i];
	if (sqlite3_prepare_v2(
	        s,
	        "INSERT INTO intervals(capture, t_start, t_end, packets, bytes,"
	        " tcp_bytes, udp_bytes, icmp_bytes, other_bytes, drops, interface_drops, undecoded,"
	        " estimated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, capture, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, tv_double(&r->start));
	sqlite3_bind_double(st, 3, tv_double(&r->end));
	sqlite3_bind_int64(st, 4, (sqlite3_int64)r->pkts);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->bytes);
	for (int c = 0; c < TC_N; c++)
		sqlite3_bind_int64(st, 6 + c, (sqlite3_int64)r->class_bytes[c]);
	if (r->drops_valid) {
		sqlite3_bind_int64(st, 10, (sqlite3_int64)r->drops);
		sqlite3_bind_int64(st, 11, (sqlite3_int64)r->ifdrops);
	}
	sqlite3_bind_int64(st, 12, (sqlite3_int64)bad);
	sqlite3_bind_int(st, 13, r->evictions > 0);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	if (rc == 0)
		rc = insert_tops(s, sqlite3_last_insert_rowid(s), r);
	return rc;
}

static void
prune(struct traffic_db *db)
{
	time_t now = time(NULL);
	sqlite3_stmt *st;
	const char *sql[] = {
	    "DELETE FROM tops WHERE interval_id IN (SELECT id FROM intervals WHERE t_end < ?)",
	    "DELETE FROM intervals WHERE t_end < ?",
	};

	if (now - db->pruned < PRUNE_EVERY_S)
		return;
	db->pruned = now;
	for (size_t i = 0; i < 2; i++) {
		if (sqlite3_prepare_v2(db->wr, sql[i], -1, &st, NULL) != SQLITE_OK)
			return;
		sqlite3_bind_double(st, 1, (double)(now - TRAFFIC_DB_KEEP_S));
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
}

static void
write_one(struct traffic_db *db, struct slot *s)
{
	int rc = db_exec(db->wr, "BEGIN");

	if (rc == 0)
		rc = insert_report(db->wr, s->capture, s->rep);
	if (rc == 0)
		rc = db_exec(db->wr, "COMMIT");
	else {
		log_warnx("traffic database %s: %s", db->path, sqlite3_errmsg(db->wr));
		db_exec(db->wr, "ROLLBACK");
	}
	pthread_mutex_lock(&db->lock);
	if (rc == 0)
		db->stats.saved++;
	else
		db->stats.errors++;
	pthread_mutex_unlock(&db->lock);
	prune(db);
}

static void *
writer(void *arg)
{
	struct traffic_db *db = arg;

	pthread_mutex_lock(&db->lock);
	for (;;) {
		while (db->count == 0 && !db->stop)
			pthread_cond_wait(&db->more, &db->lock);
		if (db->count == 0 && db->stop)
			break;
		/* the head slot stays ours until count drops */
		struct slot *s = &db->q[db->head];

		db->writing = 1;
		pthread_mutex_unlock(&db->lock);
		write_one(db, s);
		pthread_mutex_lock(&db->lock);
		db->head = (db->head + 1) % TRAFFIC_DB_QUEUE;
		db->count--;
		db->writing = 0;
		pthread_cond_broadcast(&db->done);
	}
	pthread_mutex_unlock(&db->lock);
	return NULL;
}

static sqlite3 *
open_conn(const char *path, int flags)
{
	sqlite3 *s = NULL;

	if (sqlite3_open_v2(path, &s, flags, NULL) != SQLITE_OK) {
		log_warnx("traffic database %s: %s", path, s ? sqlite3_errmsg(s) : "out of memory");
		sqlite3_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s, flags & SQLITE_OPEN_READONLY ? 0 : 5000);
	/* SQLite's default page cache is 2 MB per connection, on top of the
	 * captures' memory; the kernel's page cache holds the file anyway */
	if (sqlite3_exec(s, "PRAGMA cache_size = -256", NULL, NULL, NULL) != SQLITE_OK)
		log_warnx("traffic database %s: cannot limit the page cache", path);
	return s;
}

/* Private files; opened before privileges are dropped, so given to the owner
 * of the state directory (the daemon's user) for the writer to go on. */
static void
give_files(const char *state_dir, const char *path)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char f[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < 3; i++) {
		/* who talked to whom is not for every local user */
		snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
		if (chmod(f, 0640) == -1 && errno != ENOENT)
			log_warn("traffic database: cannot chmod %s", f);
	}
	if (geteuid() != 0 || stat(state_dir, &st) == -1 || st.st_uid == 0)
		return;
	for (size_t i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
		if (chown(f, st.st_uid, st.st_gid) == -1 && errno != ENOENT)
			log_warn("traffic database: cannot give %s to uid %u", f,
			         (unsigned)st.st_uid);
	}
}

struct traffic_db *
traffic_db_open(const char *state_dir)
{
	struct traffic_db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->more, NULL);
	pthread_cond_init(&db->done, NULL);
	snprintf(db->path, sizeof(db->path), "%s/%s", state_dir, TRAFFIC_DB_FILE);
	for (size_t i = 0; i < TRAFFIC_DB_QUEUE; i++)
		if ((db->q[i].rep = traffic_report_new(TRAFFIC_DB_TOP)) == NULL)
			goto fail;
	db->wr =
	    open_conn(db->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
	if (db->wr == NULL || db_exec(db->wr, schema) != 0)
		goto fail;
	db->rd = open_conn(db->path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
	if (db->rd == NULL)
		goto fail;
	give_files(state_dir, db->path);
	if (pthread_create(&db->thread, NULL, writer, db) != 0) {
		log_warnx("traffic database: cannot start the writer thread");
		goto fail;
	}
	return db;
fail:
	log_warnx("traffic history is off: cannot use %s", db->path);
	sqlite3_close(db->wr);
	sqlite3_close(db->rd);
	for (size_t i = 0; i < TRAFFIC_DB_QUEUE; i++)
		traffic_report_free(db->q[i].rep);
	pthread_mutex_destroy(&db->lock);
	pthread_cond_destroy(&db->more);
	pthread_cond_destroy(&db->done);
	free(db);
	return NULL;
}

void
traffic_db_close(struct traffic_db *db)
{
	if (db == NULL)
		return;
	pthread_mutex_lock(&db->lock);
	db->stop = 1;
	pthread_cond_signal(&db->more);
	pthread_mutex_unlock(&db->lock);
	pthread_join(db->thread, NULL);
	sqlite3_close(db->wr);
	sqlite3_close(db->rd);
	for (size_t i = 0; i < TRAFFIC_DB_QUEUE; i++)
		traffic_report_free(db->q[i].rep);
	pthread_mutex_destroy(&db->lock);
	pthread_cond_destroy(&db->more);
	pthread_cond_destroy(&db->done);
	free(db);
}

int
traffic_db_save(struct traffic_db *db, const char *capture, const struct traffic_report *r)
{
	struct slot *s;

	pthread_mutex_lock(&db->lock);
	if (db->count == TRAFFIC_DB_QUEUE) {
		db->stats.dropped++;
		pthread_mutex_unlock(&db->lock);
		return -1;
	}
	s = &db->q[(db->head + db->count) % TRAFFIC_DB_QUEUE];
	snprintf(s->capture, sizeof(s->capture), "%s", capture);
	traffic_report_copy(s->rep, r);
	db->count++;
	pthread_cond_signal(&db->more);
	pthread_mutex_unlock(&db->lock);
	return 0;
}

void
traffic_db_flush(struct traffic_db *db)
{
	pthread_mutex_lock(&db->lock);
	while (db->count > 0)
		pthread_cond_wait(&db->done, &db->lock);
	pthread_mutex_unlock(&db->lock);
}

void
traffic_db_stats(struct traffic_db *db, struct traffic_db_stats *out)
{
	pthread_mutex_lock(&db->lock);
	*out = db->stats;
	pthread_mutex_unlock(&db->lock);
}

/* --- queries (event loop) ---------------------------------------------- */

static sqlite3_stmt *
prepare_range(struct traffic_db *db, const char *sql, const char *capture, double from, double to)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db->rd, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, capture, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, from);
	sqlite3_bind_double(st, 3, to);
	return st;
}

#define RANGE " i.capture = ?1 AND i.t_end > ?2 AND i.t_start < ?3 "

static json_t *
query_series(struct traffic_db *db, const char *capture, double from, double to, json_t *totals,
             int *err)
{
	sqlite3_stmt *st = prepare_range(
	    db,
	    "SELECT t_start, t_end, packets, bytes, tcp_bytes,"
	    " udp_bytes, icmp_bytes, other_bytes, drops, interface_drops, undecoded, estimated"
	    " FROM intervals i WHERE" RANGE "ORDER BY t_start",
	    capture, from, to);
	json_t *a = json_array();
	uint64_t sum[10] = {0};
	double secs = 0;
	int n = 0, rc, estimated = 0;

	if (st == NULL) {
		*err = 1;
		return a;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		double t0 = sqlite3_column_double(st, 0), t1 = sqlite3_column_double(st, 1);
		double d = t1 > t0 ? t1 - t0 : 0;
		json_t *o;

		for (int c = 0; c < 10; c++)
			sum[c] += (uint64_t)sqlite3_column_int64(st, 2 + c);
		estimated |= sqlite3_column_int(st, 11);
		secs += d;
		n++;
		o = json_pack("{s:f, s:f, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "start", t0,
		              "end", t1, "packets", (json_int_t)sqlite3_column_int64(st, 2),
		              "bytes", (json_int_t)sqlite3_column_int64(st, 3), "bps",
		              d > 0 ? (double)sqlite3_column_int64(st, 3) * 8 / d : 0.0, "tcp_bps",
		              d > 0 ? (double)sqlite3_column_int64(st, 4) * 8 / d : 0.0, "udp_bps",
		              d > 0 ? (double)sqlite3_column_int64(st, 5) * 8 / d : 0.0, "icmp_bps",
		              d > 0 ? (double)sqlite3_column_int64(st, 6) * 8 / d : 0.0,
		              "other_bps",
		              d > 0 ? (double)sqlite3_column_int64(st, 7) * 8 / d : 0.0, "pps",
		              d > 0 ? (double)sqlite3_column_int64(st, 2) / d : 0.0);
		json_object_set_new(o, "drops",
		                    sqlite3_column_type(st, 8) == SQLITE_NULL
		                        ? json_null()
		                        : json_integer(sqlite3_column_int64(st, 8)));
		json_array_append_new(a, o);
	}
	if (rc != SQLITE_DONE)
		*err = 1;
	sqlite3_finalize(st);
	json_object_set_new(totals, "intervals", json_integer(n));
	json_object_set_new(totals, "seconds", json_real(secs));
	json_object_set_new(totals, "packets", json_integer((json_int_t)sum[0]));
	json_object_set_new(totals, "bytes", json_integer((json_int_t)sum[1]));
	json_object_set_new(totals, "bps", json_real(secs > 0 ? (double)sum[1] * 8 / secs : 0));
	json_object_set_new(totals, "tcp_bytes", json_integer((json_int_t)sum[2]));
	json_object_set_new(totals, "udp_bytes", json_integer((json_int_t)sum[3]));
	json_object_set_new(totals, "icmp_bytes", json_integer((json_int_t)sum[4]));
	json_object_set_new(totals, "other_bytes", json_integer((json_int_t)sum[5]));
	json_object_set_new(totals, "drops", json_integer((json_int_t)sum[6]));
	json_object_set_new(totals, "interface_drops", json_integer((json_int_t)sum[7]));
	json_object_set_new(totals, "undecoded", json_integer((json_int_t)sum[8]));
	json_object_set_new(totals, "estimated", json_boolean(estimated));
	return a;
}

static json_t *
query_tops(struct traffic_db *db, int kind, const char *capture, double from, double to, int top,
           int *err)
{
	static const char *const sql[] = {
	    [KIND_HOST] = "SELECT a, SUM(bytes1), SUM(bytes2), SUM(pkts1), SUM(pkts2),"
	                  " MAX(local), SUM(error) FROM tops t JOIN intervals i ON"
	                  " i.id = t.interval_id WHERE" RANGE "AND t.kind = 0 GROUP BY a"
	                  " ORDER BY SUM(bytes1 + bytes2) DESC, a LIMIT ?4",
	    [KIND_CONV] = "SELECT a, b, SUM(bytes1), SUM(bytes2), SUM(pkts1), SUM(pkts2),"
	                  " SUM(error) FROM tops t JOIN intervals i ON i.id = t.interval_id"
	                  " WHERE" RANGE "AND t.kind = 1 GROUP BY a, b"
	                  " ORDER BY SUM(bytes1 + bytes2) DESC, a, b LIMIT ?4",
	    [KIND_SERVICE] = "SELECT a, proto, port, SUM(bytes1), SUM(bytes2), SUM(pkts1),"
	                     " SUM(error) FROM tops t JOIN intervals i ON"
	                     " i.id = t.interval_id WHERE" RANGE "AND t.kind = 2"
	                     " GROUP BY proto, port ORDER BY SUM(bytes1) DESC, proto, port"
	                     " LIMIT ?4",
	    [KIND_APP] = "SELECT a, MAX(b), SUM(bytes1), SUM(pkts1), SUM(pkts2) FROM tops t"
	                 " JOIN intervals i ON i.id = t.interval_id WHERE" RANGE "AND t.kind = 3"
	                 " GROUP BY a ORDER BY SUM(bytes1) DESC, a LIMIT ?4",
	};
	sqlite3_stmt *st = prepare_range(db, sql[kind], capture, from, to);
	json_t *a = json_array(), *o;
	int rc;

	if (st == NULL) {
		*err = 1;
		return a;
	}
	sqlite3_bind_int(st, 4, top);
#define COL_I(n) ((json_int_t)sqlite3_column_int64(st, n))
#define COL_S(n) ((const char *)sqlite3_column_text(st, n))
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (kind == KIND_HOST)
			o = json_pack("{s:s?, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "address",
			              COL_S(0), "local", sqlite3_column_int(st, 5), "bytes",
			              COL_I(1) + COL_I(2), "tx_bytes", COL_I(1), "rx_bytes",
			              COL_I(2), "tx_packets", COL_I(3), "rx_packets", COL_I(4),
			              "error", COL_I(6));
		else if (kind == KIND_APP)
			o = json_pack("{s:s?, s:s?, s:I, s:I, s:I}", "name", COL_S(0), "category",
			              COL_S(1), "bytes", COL_I(2), "packets", COL_I(3), "flows",
			              COL_I(4));
		else if (kind == KIND_CONV)
			o = json_pack("{s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "a",
			              COL_S(0), "b", COL_S(1), "bytes", COL_I(2) + COL_I(3),
			              "packets", COL_I(4) + COL_I(5), "a_to_b_bytes", COL_I(2),
			              "b_to_a_bytes", COL_I(3), "a_to_b_packets", COL_I(4),
			              "b_to_a_packets", COL_I(5), "error", COL_I(6));
		else {
			const char *name =
			    traffic_service_name((uint8_t)sqlite3_column_int(st, 1),
			                         (uint16_t)sqlite3_column_int(st, 2));

			o = json_pack("{s:s?, s:i, s:s?, s:I, s:I, s:I, s:I}", "protocol", COL_S(0),
			              "port", sqlite3_column_int(st, 2), "service",
			              sqlite3_column_int(st, 2) ? name : NULL, "bytes", COL_I(3),
			              "to_server_bytes", COL_I(4), "packets", COL_I(5), "error",
			              COL_I(6));
		}
		if (o)
			json_array_append_new(a, o);
	}
#undef COL_I
#undef COL_S
	if (rc != SQLITE_DONE)
		*err = 1;
	sqlite3_finalize(st);
	return a;
}

json_t *
traffic_db_query(struct traffic_db *db, const char *capture, double from, double to, int top,
                 const char **errmsg)
{
	json_t *j = json_object(), *totals = json_object();
	int err = 0;

	json_object_set_new(j, "capture", json_string(capture));
	json_object_set_new(j, "from", json_real(from));
	json_object_set_new(j, "to", json_real(to));
	json_object_set_new(j, "series", query_series(db, capture, from, to, totals, &err));
	json_object_set_new(j, "totals", totals);
	json_object_set_new(j, "hosts", query_tops(db, KIND_HOST, capture, from, to, top, &err));
	json_object_set_new(j, "conversations",
	                    query_tops(db, KIND_CONV, capture, from, to, top, &err));
	json_object_set_new(j, "services",
	                    query_tops(db, KIND_SERVICE, capture, from, to, top, &err));
	/* empty unless the capture classifies applications (nDPI) */
	json_object_set_new(j, "applications",
	                    query_tops(db, KIND_APP, capture, from, to, top, &err));
	json_object_set_new(j, "note",
	                    json_string("tops are sums of each interval's heaviest "
	                                "entries; totals are exact"));
	if (err) {
		*errmsg = sqlite3_errmsg(db->rd);
		json_decref(j);
		return NULL;
	}
	return j;
}
