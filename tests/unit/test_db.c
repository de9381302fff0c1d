/* test_db.c - linewatch.db: migrations, writer thread, retries, start-up refusals (db.c) */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "db.h"
#include "log.h"

static char dir[256];

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lw-test-db-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
dbfile(void)
{
	static char p[300];

	snprintf(p, sizeof(p), "%s/%s", dir, DB_FILE);
	return p;
}

static struct db *
open_ok(void)
{
	char err[1024] = "";
	struct db *db = db_open(dir, err, sizeof(err));

	if (db == NULL)
		fail_msg("db_open: %s", err);
	return db;
}

static int64_t
count(struct db *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(db_reader(db), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* --- units of work ---- */

struct ins {
	int n;
	int size;
	int *done_order;
	int *ndone;
	int rc;
	bool freed_flag;
	bool *freed;
};

static int
ins_work(sqlite3 *c, void *arg)
{
	struct ins *w = arg;
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(c, "INSERT INTO ticket_meta (key, value) VALUES (?, ?)", -1, &st,
	                        NULL);
	if (rc != SQLITE_OK)
		return rc;
	char key[32];
	char *val = calloc(1, (size_t)w->size + 1);
	snprintf(key, sizeof(key), "k%d", w->n);
	memset(val, 'x', (size_t)w->size);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	free(val);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void
ins_done(int rc, void *arg)
{
	struct ins *w = arg;

	w->rc = rc;
	if (w->done_order)
		w->done_order[(*w->ndone)++] = w->n;
}

static void
ins_free(void *arg)
{
	struct ins *w = arg;

	if (w->freed)
		*w->freed = true;
	free(w);
}

static struct ins *
ins_new(int n, int size, int *order, int *ndone)
{
	struct ins *w = calloc(1, sizeof(*w));

	w->n = n;
	w->size = size;
	w->done_order = order;
	w->ndone = ndone;
	w->rc = -1;
	return w;
}

static int
noop_work(sqlite3 *c, void *arg)
{
	return SQLITE_OK;
}

static int
bad_sql_work(sqlite3 *c, void *arg)
{
	return sqlite3_exec(c, "INSERT INTO no_such_table VALUES (1)", NULL, NULL, NULL);
}

static void
rc_done(int rc, void *arg)
{
	*(int *)arg = rc;
}

/* --- tests ---- */

static void
test_fresh_database(void **state)
{
	struct db *db = open_ok();
	sqlite3_stmt *st;

	assert_int_equal(db_schema_version(db), 2);
	assert_int_equal(
	    count(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
	              "('tickets', 'ticket_events', 'problems', 'latency_hourly', 'ticket_meta')"),
	    5);
	assert_int_equal(count(db, "SELECT count(*) FROM ticket_meta WHERE key = 'started_ms'"), 1);
	assert_int_equal(sqlite3_prepare_v2(db_reader(db), "PRAGMA journal_mode", -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_string_equal(db_path(db), dbfile());
	db_close(db);
	/* reopening applies nothing twice */
	db = open_ok();
	assert_int_equal(db_schema_version(db), 2);
	db_close(db);
}

static void
test_writes_in_order_and_done_after_commit(void **state)
{
	struct db *db = open_ok();
	int order[100], ndone = 0;
	struct db_stats st;

	for (int i = 0; i < 100; i++)
		assert_int_equal(
		    db_submit(db, ins_work, ins_done, ins_free, ins_new(i, 10, order, &ndone)), 0);
	assert_int_equal(db_sync(db, -1), 0);
	assert_int_equal(ndone, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(order[i], i);
	assert_int_equal(count(db, "SELECT count(*) FROM ticket_meta WHERE key LIKE 'k%'"), 100);
	db_get_stats(db, &st);
	assert_int_equal(st.committed, 100);
	assert_int_equal(st.depth, 0);
	assert_false(st.failing);
	db_close(db);
	/* durable: another connection sees them */
	db = open_ok();
	assert_int_equal(count(db, "SELECT count(*) FROM ticket_meta WHERE key LIKE 'k%'"), 100);
	db_close(db);
}

static void
stop_loop(evutil_socket_t fd, short ev, void *arg)
{
	event_base_loopbreak(arg);
}

static void
test_done_callbacks_on_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct db *db = open_ok();
	struct timeval tv = {0, 10000};
	int order[3], ndone = 0;
	struct event *tick;

	assert_non_null(base);
	assert_int_equal(db_attach(db, base), 0);
	for (int i = 0; i < 3; i++)
		db_submit(db, ins_work, ins_done, ins_free, ins_new(i, 1, order, &ndone));
	tick = event_new(base, -1, EV_PERSIST, stop_loop, base);
	event_add(tick, &tv);
	for (int i = 0; i < 500 && ndone < 3; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(ndone, 3);
	event_free(tick);
	db_close(db);
	event_base_free(base);
}

static void
test_bad_sql_is_given_up_others_continue(void **state)
{
	struct db *db = open_ok();
	int rc_bad = -1, order[2], ndone = 0;
	struct db_stats st;

	db_submit(db, ins_work, ins_done, ins_free, ins_new(1, 1, order, &ndone));
	db_submit(db, bad_sql_work, rc_done, NULL, &rc_bad);
	db_submit(db, ins_work, ins_done, ins_free, ins_new(2, 1, order, &ndone));
	assert_int_equal(db_sync(db, -1), 0);
	assert_int_equal(rc_bad, SQLITE_ERROR);
	assert_int_equal(ndone, 2);
	db_get_stats(db, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.committed, 2);
	db_close(db);
}

static int64_t
page_count(struct db *db)
{
	return count(db, "PRAGMA page_count");
}

static void
test_disk_full_is_retried_not_lost(void **state)
{
	struct db *db = open_ok();
	int order[4], ndone = 0;
	struct db_stats st;
	bool freed = false;
	struct ins *big;

	db_test_retry_ms(db, 5);
	db_test_max_pages(db, (int)page_count(db));
	big = ins_new(1, 200000, order, &ndone);
	big->freed = &freed;
	db_submit(db, ins_work, ins_done, ins_free, big);
	db_submit(db, ins_work, ins_done, ins_free, ins_new(2, 1, order, &ndone));
	/* it fails, again and again, and keeps its place */
	for (int i = 0; i < 400; i++) {
		db_get_stats(db, &st);
		if (st.retries >= 3)
			break;
		usleep(5000);
	}
	assert_true(st.retries >= 3);
	assert_true(st.failing);
	assert_int_equal(st.depth, 2);
	assert_int_equal(db_sync(db, 50), -1);
	assert_int_equal(ndone, 0);
	assert_false(freed);
	/* space again: both written, in order */
	db_test_max_pages(db, 0);
	assert_int_equal(db_sync(db, 10000), 0);
	assert_int_equal(ndone, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_true(freed);
	assert_int_equal(count(db, "SELECT count(*) FROM ticket_meta WHERE key IN ('k1', 'k2')"),
	                 2);
	db_get_stats(db, &st);
	assert_false(st.failing);
	assert_int_equal(st.failed, 0);
	db_close(db);
}

static void
test_queue_is_bounded(void **state)
{
	struct db *db = open_ok();
	int order[1], ndone = 0;
	struct db_stats st;

	db_test_retry_ms(db, 5);
	db_test_limits(db, 1000, 5000);
	db_test_max_pages(db, (int)page_count(db));
	db_submit(db, ins_work, ins_done, ins_free, ins_new(1, 200000, order, &ndone));
	for (int i = 1; i < 1000; i++)
		assert_int_equal(db_submit(db, noop_work, NULL, NULL, NULL), 0);
	assert_int_equal(db_submit(db, noop_work, NULL, NULL, NULL), -1);
	db_get_stats(db, &st);
	assert_int_equal(st.refused, 1);
	db_test_max_pages(db, 0);
	assert_int_equal(db_sync(db, 60000), 0);
	assert_int_equal(ndone, 1);
	db_close(db);
}

static void
test_close_gives_up_failing_writes_after_grace(void **state)
{
	struct db *db = open_ok();
	int rc = -1;
	int order[1], ndone = 0;
	struct ins *big = ins_new(1, 200000, order, &ndone);

	db_test_retry_ms(db, 5);
	db_test_limits(db, DB_QUEUE_MAX, 300);
	db_test_max_pages(db, (int)page_count(db));
	big->done_order = NULL;
	db_submit(db, ins_work, ins_done, ins_free, big);
	db_submit(db, noop_work, rc_done, NULL, &rc);
	usleep(50000);
	db_close(db); /* logs, returns after the grace */
	/* the unit behind the failing one still ran */
	assert_int_equal(rc, SQLITE_OK);
}

static void
expect_refusal(const char *words1, const char *words2)
{
	char err[1024] = "";
	struct db *db = db_open(dir, err, sizeof(err));

	if (db != NULL) {
		db_close(db);
		fail_msg("db_open accepted a bad database");
	}
	if (strstr(err, dbfile()) == NULL || strstr(err, words1) == NULL ||
	    (words2 && strstr(err, words2) == NULL))
		fail_msg("unexpected message: %s", err);
}

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
test_garbage_file_refused(void **state)
{
	char junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(dbfile(), junk, sizeof(junk));
	expect_refusal("is damaged", "mv ");
}

static void
test_damaged_pages_refused(void **state)
{
	struct db *db = open_ok();
	int order[50], ndone = 0;
	char junk[4096];
	int fd;

	for (int i = 0; i < 50; i++)
		db_submit(db, ins_work, ins_done, ins_free, ins_new(i, 3000, order, &ndone));
	db_sync(db, -1);
	db_close(db);
	/* fold the WAL in, then scribble over b-tree pages */
	{
		sqlite3 *c;
		assert_int_equal(sqlite3_open(dbfile(), &c), SQLITE_OK);
		sqlite3_exec(c, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
		sqlite3_close(c);
	}
	memset(junk, 0x5a, sizeof(junk));
	fd = open(dbfile(), O_WRONLY);
	assert_true(fd >= 0);
	for (int p = 2; p < 12; p++)
		assert_int_equal(pwrite(fd, junk, sizeof(junk), (off_t)p * 4096), 4096);
	close(fd);
	expect_refusal("is damaged", "backup");
}

static void
test_newer_schema_refused(void **state)
{
	struct db *db = open_ok();
	sqlite3 *c;

	db_close(db);
	assert_int_equal(sqlite3_open(dbfile(), &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
	expect_refusal("schema version 99", "newer");
}

static void
test_directory_in_the_way_refused(void **state)
{
	assert_int_equal(mkdir(dbfile(), 0755), 0);
	expect_refusal("not a regular file", NULL);
	rmdir(dbfile());
}

static void
test_unwritable_refused(void **state)
{
	struct db *db = open_ok();
	struct passwd *pw = getpwnam("nobody");
	pid_t pid;
	int status;

	db_close(db);
	if (geteuid() != 0 || pw == NULL) {
		chmod(dbfile(), 0444);
		chmod(dir, 0555);
		expect_refusal("cannot be written", "chown");
		chmod(dir, 0755);
		return;
	}
	/* as root: a child that became nobody meets root's 0644 file and dir */
	chmod(dir, 0755);
	chmod(dbfile(), 0644);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[1024] = "";
		struct db *d;

		if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
			_exit(3);
		d = db_open(dir, err, sizeof(err));
		if (d != NULL)
			_exit(1);
		fprintf(stderr, "refusal: %s\n", err);
		_exit(strstr(err, "cannot be written") && strstr(err, "chown") &&
		              strstr(err, dbfile())
		          ? 0
		          : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_root_gives_the_file_to_the_state_dir_owner(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	struct stat st;
	struct db *db;

	if (geteuid() != 0 || pw == NULL)
		skip();
	assert_int_equal(chown(dir, pw->pw_uid, pw->pw_gid), 0);
	db = open_ok();
	db_close(db);
	assert_int_equal(stat(dbfile(), &st), 0);
	assert_int_equal(st.st_uid, pw->pw_uid);
	assert_int_equal(chown(dir, 0, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fresh_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writes_in_order_and_done_after_commit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_done_callbacks_on_the_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_sql_is_given_up_others_continue, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full_is_retried_not_lost, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_is_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_gives_up_failing_writes_after_grace, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_file_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_pages_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directory_in_the_way_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_gives_the_file_to_the_state_dir_owner, setup,
	                                    teardown),
	};

	log_init(1, LOG_LVL_WARN);
	evthread_use_pthreads();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
