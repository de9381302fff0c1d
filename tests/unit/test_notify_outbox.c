/* test_notify_outbox.c - the persistent outbox: order, persistence, bounds */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "db.h"
#include "log.h"
#include "outbox.h"

struct fx {
	char dir[64];
	char path[128];
	struct event_base *base;
	struct db *db;
	int stored_calls;
};

static void
db_up(struct fx *f)
{
	char err[512] = "";

	f->db = db_open(f->dir, err, sizeof(err));
	if (f->db == NULL)
		fail_msg("db_open: %s", err);
	assert_int_equal(db_attach(f->db, f->base), 0);
}

static void
db_down(struct fx *f)
{
	db_close(f->db);
	f->db = NULL;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/lw-outbox-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/linewatch.db", f->dir);
	f->base = event_base_new();
	assert_non_null(f->base);
	db_up(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (f->db)
		db_down(f);
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
on_stored(void *arg)
{
	struct fx *f = arg;

	f->stored_calls++;
}

static struct outbox *
open_ob(struct fx *f, uint64_t max)
{
	char err[256] = "";
	struct outbox *ob = outbox_open(f->base, f->db, max, on_stored, f, err, sizeof(err));

	if (ob == NULL)
		fail_msg("outbox_open: %s", err);
	return ob;
}

static int
rows(struct fx *f)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int n = -1;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM notify_outbox", -1, &s, NULL),
	                 SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static void
test_order_and_persistence(void **state)
{
	struct fx *f = *state;
	struct outbox *ob = open_ob(f, 100);
	struct outbox_queue *a = outbox_queue(ob, "upstream:a");
	struct outbox_queue *b = outbox_queue(ob, "webhook:b");
	struct outbox_item *it;
	char payload[32];
	int64_t last;

	for (int i = 0; i < 5; i++) {
		snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
		assert_non_null(outbox_add(ob, a, OUTBOX_TICKET, 1000 + i, payload));
		assert_non_null(outbox_add(ob, b, OUTBOX_TICKET, 1000 + i, payload));
	}
	assert_int_equal(outbox_queue_len(a), 5);
	it = outbox_head(a);
	assert_string_equal(it->payload, "{\"n\":0}");
	/* delivered: the first two of a */
	outbox_done(ob, outbox_head(a));
	outbox_done(ob, outbox_head(a));
	last = outbox_head(b)->id;
	outbox_sync(ob);
	assert_int_equal(rows(f), 8);
	outbox_close(ob);
	db_down(f);
	db_up(f);

	ob = open_ob(f, 100);
	a = outbox_queue(ob, "upstream:a");
	b = outbox_queue(ob, "webhook:b");
	assert_int_equal(outbox_queue_len(a), 3);
	assert_int_equal(outbox_queue_len(b), 5);
	it = outbox_head(a);
	assert_string_equal(it->payload, "{\"n\":2}");
	assert_int_equal(it->created_ms, 1002);
	assert_true(outbox_stored(ob, it));
	assert_int_equal(outbox_head(b)->id, last);
	/* in order, each once */
	for (int i = 2; i < 5; i++) {
		it = outbox_head(a);
		snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
		assert_string_equal(it->payload, payload);
		outbox_done(ob, it);
	}
	assert_null(outbox_head(a));
	while ((it = outbox_head(b)) != NULL)
		outbox_done(ob, it);
	outbox_sync(ob);
	assert_int_equal(rows(f), 0);
	outbox_close(ob);
	db_down(f);
	db_up(f);

	/* ids are never reused, even after the table emptied */
	ob = open_ob(f, 100);
	a = outbox_queue(ob, "upstream:a");
	it = outbox_add(ob, a, OUTBOX_STATE, 1, "{}");
	assert_true(it->id > last + 5);
	outbox_close(ob);
}

static void
test_stored_callback(void **state)
{
	struct fx *f = *state;
	struct outbox *ob = open_ob(f, 100);
	struct outbox_queue *q = outbox_queue(ob, "upstream:a");
	struct outbox_item *it = outbox_add(ob, q, OUTBOX_TICKET, 1, "{}");

	/* not sendable until committed; the callback comes through the loop */
	for (int i = 0; i < 500 && f->stored_calls == 0; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK), usleep(10000);
	assert_true(f->stored_calls > 0);
	assert_true(outbox_stored(ob, it));
	outbox_close(ob);
}

static void
test_bounds_heartbeats_first(void **state)
{
	struct fx *f = *state;
	struct outbox *ob = open_ob(f, 5);
	struct outbox_queue *a = outbox_queue(ob, "upstream:a");
	struct outbox_queue *b = outbox_queue(ob, "email:b");
	struct outbox_item *hb1, *hb2, *t1, *it;
	struct outbox_stats st;

	hb1 = outbox_add(ob, a, OUTBOX_HEARTBEAT, 1, "hb1");
	hb2 = outbox_add(ob, a, OUTBOX_HEARTBEAT, 2, "hb2");
	t1 = outbox_add(ob, b, OUTBOX_TICKET, 3, "t1");
	assert_non_null(outbox_add(ob, a, OUTBOX_STATE, 4, "cold"));
	assert_non_null(outbox_add(ob, b, OUTBOX_TICKET, 5, "t2"));
	assert_non_null(hb1);
	assert_non_null(hb2);
	assert_non_null(t1);
	/* full: the oldest heartbeat goes, not being delivered */
	hb1->busy = true;
	assert_non_null(outbox_add(ob, b, OUTBOX_TICKET, 6, "t3"));
	outbox_get_stats(ob, &st);
	assert_int_equal(st.items, 5);
	assert_int_equal(st.dropped[OUTBOX_HEARTBEAT], 1);
	assert_string_equal(outbox_head(a)->payload, "hb1");
	assert_string_equal(outbox_head(a)->qnext->payload, "cold");
	hb1->busy = false;
	/* then the other heartbeat, then state changes, then tickets */
	assert_non_null(outbox_add(ob, b, OUTBOX_TICKET, 7, "t4"));
	assert_non_null(outbox_add(ob, b, OUTBOX_TICKET, 8, "t5"));
	outbox_get_stats(ob, &st);
	assert_int_equal(st.dropped[OUTBOX_HEARTBEAT], 2);
	assert_int_equal(st.dropped[OUTBOX_STATE], 1);
	assert_int_equal(outbox_queue_len(a), 0);
	/* a heartbeat cannot push out ticket events: it is dropped itself */
	assert_null(outbox_add(ob, a, OUTBOX_HEARTBEAT, 9, "hb3"));
	outbox_get_stats(ob, &st);
	assert_int_equal(st.dropped[OUTBOX_HEARTBEAT], 3);
	assert_int_equal(outbox_queue_dropped(a), 4);
	/* tickets push out the oldest ticket */
	assert_non_null(outbox_add(ob, b, OUTBOX_TICKET, 10, "t6"));
	it = outbox_head(b);
	assert_string_equal(it->payload, "t2");
	outbox_get_stats(ob, &st);
	assert_int_equal(st.dropped[OUTBOX_TICKET], 1);
	assert_int_equal(st.items, 5);
	outbox_sync(ob);
	assert_int_equal(rows(f), 5);
	outbox_close(ob);
	db_down(f);
	db_up(f);

	/* a smaller bound at start-up trims what was loaded, oldest first */
	ob = open_ob(f, 3);
	b = outbox_queue(ob, "email:b");
	assert_int_equal(outbox_queue_len(b), 3);
	assert_string_equal(outbox_head(b)->payload, "t4");
	outbox_close(ob);
}

static void
test_purge_and_meta(void **state)
{
	struct fx *f = *state;
	struct outbox *ob = open_ob(f, 100);
	struct outbox_queue *q = outbox_queue(ob, "webhook:gone");
	struct outbox_item *busy;
	char buf[64];

	busy = outbox_add(ob, q, OUTBOX_TICKET, 1, "a");
	outbox_add(ob, q, OUTBOX_TICKET, 2, "b");
	outbox_add(ob, q, OUTBOX_TICKET, 3, "c");
	busy->busy = true;
	assert_int_equal(outbox_purge(ob, q), 2);
	assert_int_equal(outbox_queue_len(q), 1);
	outbox_done(ob, busy);
	assert_int_equal(outbox_meta_get(ob, "engine-boots", buf, sizeof(buf)), -1);
	outbox_meta_set(ob, "engine-boots", "7");
	outbox_close(ob);
	db_down(f);
	db_up(f);

	ob = open_ob(f, 100);
	assert_int_equal(outbox_meta_get(ob, "engine-boots", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "7");
	assert_int_equal(outbox_queue_len(outbox_queue(ob, "webhook:gone")), 0);
	outbox_close(ob);
}

/* A database that takes no writes (disk full) must not hold notifications
 * back for ever: after the grace they go out from memory. */
static void
test_disk_full_degrades(void **state)
{
	struct fx *f = *state;
	struct outbox *ob = open_ob(f, 100);
	struct outbox_queue *q = outbox_queue(ob, "upstream:a");
	struct outbox_item *it;
	sqlite3_stmt *st;
	char *big = malloc(256 * 1024);
	int pages = 0;

	assert_non_null(big);
	memset(big, 'x', 256 * 1024 - 1);
	big[256 * 1024 - 1] = '\0';
	outbox_test_grace_ms(ob, 200);
	db_test_retry_ms(f->db, 50);
	outbox_sync(ob);
	assert_int_equal(sqlite3_prepare_v2(db_reader(f->db), "PRAGMA page_count", -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	pages = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	db_test_max_pages(f->db, pages);

	it = outbox_add(ob, q, OUTBOX_TICKET, 1, big);
	assert_non_null(it);
	assert_false(outbox_stored(ob, it));
	for (int i = 0; i < 500 && f->stored_calls == 0; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK), usleep(10000);
	assert_true(f->stored_calls > 0);
	assert_true(outbox_stored(ob, it));
	assert_int_equal(rows(f), 0);

	/* space again: the writer catches up and the row is there */
	db_test_max_pages(f->db, 0);
	outbox_sync(ob);
	assert_int_equal(rows(f), 1);
	outbox_done(ob, it);
	outbox_sync(ob);
	assert_int_equal(rows(f), 0);
	outbox_close(ob);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order_and_persistence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stored_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bounds_heartbeats_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_and_meta, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full_degrades, setup, teardown),
	};

	log_init(1, LOG_LVL_WARN);
	if (evthread_use_pthreads() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
