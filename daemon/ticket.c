/* ticket.c - ticket rows, timeline events, problem periods: storage and JSON */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "ticket.h"

/* ---- names ---------------------------------------------------------------- */

const char *
ticket_state_name(enum ticket_state st)
{
	switch (st) {
	case TICKET_OPEN:
		return "open";
	case TICKET_ACKNOWLEDGED:
		return "acknowledged";
	default:
		return "resolved";
	}
}

int
ticket_state_parse(const char *s, enum ticket_state *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "open") == 0)
		*out = TICKET_OPEN;
	else if (strcmp(s, "acknowledged") == 0)
		*out = TICKET_ACKNOWLEDGED;
	else if (strcmp(s, "resolved") == 0)
		*out = TICKET_RESOLVED;
	else
		return -1;
	return 0;
}

const char *
ticket_severity_name(enum lw_status s)
{
	return s == LW_CRITICAL ? "critical" : "warning";
}

enum lw_status
ticket_severity_parse(const char *s)
{
	return s != NULL && strcmp(s, "critical") == 0 ? LW_CRITICAL : LW_WARNING;
}

void
ticket_ref(int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "LW-%06lld", (long long)id);
}

int64_t
ticket_ref_id(const char *ref)
{
	int64_t id = 0;
	size_t n = 0;

	if (ref == NULL)
		return -1;
	if (strncasecmp(ref, "LW-", 3) == 0)
		ref += 3;
	for (; ref[n] != '\0'; n++) {
		/* 12 digits: "LW-" + 12 + NUL fills a 16-byte ref */
		if (!isdigit((unsigned char)ref[n]) || n >= 12)
			return -1;
		id = id * 10 + (ref[n] - '0');
	}
	return n > 0 && id > 0 ? id : -1;
}

const char *
ticket_iso(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* ---- struct ticket ------------------------------------------------------ */

void
ticket_set_str(char **dst, const char *src)
{
	char *n = src ? strdup(src) : NULL;

	if (src != NULL && n == NULL) {
		log_warnx("ticket: out of memory");
		return;
	}
	free(*dst);
	*dst = n;
}

struct ticket *
ticket_dup(const struct ticket *t)
{
	struct ticket *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	*n = *t;
	n->key = n->subject = n->name = n->kind = n->title = NULL;
	n->link = n->device = n->provider = n->circuit = n->support = NULL;
	n->blame = n->blame_reasons = n->acked_by = n->resolved_by = n->resolution = NULL;
	ticket_set_str(&n->key, t->key);
	ticket_set_str(&n->subject, t->subject);
	ticket_set_str(&n->name, t->name);
	ticket_set_str(&n->kind, t->kind);
	ticket_set_str(&n->title, t->title);
	ticket_set_str(&n->link, t->link);
	ticket_set_str(&n->device, t->device);
	ticket_set_str(&n->provider, t->provider);
	ticket_set_str(&n->circuit, t->circuit);
	ticket_set_str(&n->support, t->support);
	ticket_set_str(&n->blame, t->blame);
	ticket_set_str(&n->blame_reasons, t->blame_reasons);
	ticket_set_str(&n->acked_by, t->acked_by);
	ticket_set_str(&n->resolved_by, t->resolved_by);
	ticket_set_str(&n->resolution, t->resolution);
	return n;
}

void
ticket_free(struct ticket *t)
{
	if (t == NULL)
		return;
	free(t->key);
	free(t->subject);
	free(t->name);
	free(t->kind);
	free(t->title);
	free(t->link);
	free(t->device);
	free(t->provider);
	free(t->circuit);
	free(t->support);
	free(t->blame);
	free(t->blame_reasons);
	free(t->acked_by);
	free(t->resolved_by);
	free(t->resolution);
	free(t);
}

/* ---- sinks ---------------------------------------------------------------- */

struct ticket_sink {
	int refs;
	ticket_event_cb cb;
	void *arg;
};

struct ticket_sink *
ticket_sink_new(ticket_event_cb cb, void *arg)
{
	struct ticket_sink *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->refs = 1;
	s->cb = cb;
	s->arg = arg;
	return s;
}

static void
sink_unref(struct ticket_sink *s)
{
	if (s != NULL && --s->refs == 0)
		free(s);
}

void
ticket_sink_detach(struct ticket_sink *s)
{
	if (s == NULL)
		return;
	s->cb = NULL;
	s->arg = NULL;
	sink_unref(s);
}

/* ---- batches -------------------------------------------------------------- */

struct tb_event {
	int64_t id;
	int64_t at_ms;
	char *type, *who, *text, *metrics;
	struct ticket *snap;
};

struct tb_problem {
	int64_t id;
	char *key, *subject, *name, *link, *kind, *held, *note;
	enum lw_status severity;
	int64_t start_ms, end_ms, ticket_id;
};

struct tb_kv {
	char *key, *value;
};

struct tb_latency {
	char *link, *probe;
	int64_t hour_ms;
	double median;
	int n;
};

struct ticket_batch {
	struct ticket **tickets;
	size_t ntickets;
	struct tb_event *ev;
	size_t nev;
	struct tb_problem *pr;
	size_t npr;
	struct tb_kv *meta;
	size_t nmeta;
	struct tb_latency *lat;
	size_t nlat;
	bool oom;
	struct ticket_sink *sink;
	void (*committed)(int rc, void *arg);
	void *arg;
};

struct ticket_batch *
ticket_batch_new(void)
{
	return calloc(1, sizeof(struct ticket_batch));
}

static char *
xdup(struct ticket_batch *b, const char *s)
{
	char *n;

	if (s == NULL)
		return NULL;
	if ((n = strdup(s)) == NULL)
		b->oom = true;
	return n;
}

/* Grow an array by one element; NULL (and b->oom) on failure. */
static void *
grow(struct ticket_batch *b, void **arr, size_t *n, size_t size)
{
	char *a = realloc(*arr, (*n + 1) * size);

	if (a == NULL) {
		b->oom = true;
		return NULL;
	}
	*arr = a;
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

void
ticket_batch_ticket(struct ticket_batch *b, const struct ticket *t)
{
	struct ticket **slot;
	struct ticket *snap;

	/* a later snapshot of the same ticket replaces the earlier one */
	for (size_t i = 0; i < b->ntickets; i++) {
		if (b->tickets[i]->id == t->id) {
			if ((snap = ticket_dup(t)) == NULL) {
				b->oom = true;
				return;
			}
			ticket_free(b->tickets[i]);
			b->tickets[i] = snap;
			return;
		}
	}
	if ((snap = ticket_dup(t)) == NULL) {
		b->oom = true;
		return;
	}
	slot = grow(b, (void **)&b->tickets, &b->ntickets, sizeof(*slot));
	if (slot == NULL) {
		ticket_free(snap);
		return;
	}
	*slot = snap;
}

void
ticket_batch_event(struct ticket_batch *b, const struct ticket *t, int64_t event_id, int64_t at_ms,
                   const char *type, const char *who, const char *text, const char *metrics)
{
	struct tb_event *e = grow(b, (void **)&b->ev, &b->nev, sizeof(*e));

	if (e == NULL)
		return;
	e->id = event_id;
	e->at_ms = at_ms;
	e->type = xdup(b, type);
	e->who = xdup(b, who);
	e->text = xdup(b, text ? text : "");
	e->metrics = xdup(b, metrics);
	if ((e->snap = ticket_dup(t)) == NULL)
		b->oom = true;
}

void
ticket_batch_problem(struct ticket_batch *b, int64_t id, const char *key, const char *subject,
                     const char *name, const char *link, const char *kind, enum lw_status severity,
                     int64_t start_ms, int64_t end_ms, int64_t ticket_id, const char *held,
                     const char *note)
{
	struct tb_problem *p = grow(b, (void **)&b->pr, &b->npr, sizeof(*p));

	if (p == NULL)
		return;
	p->id = id;
	p->key = xdup(b, key);
	p->subject = xdup(b, subject);
	p->name = xdup(b, name);
	p->link = xdup(b, link);
	p->kind = xdup(b, kind);
	p->held = xdup(b, held);
	p->note = xdup(b, note);
	p->severity = severity;
	p->start_ms = start_ms;
	p->end_ms = end_ms;
	p->ticket_id = ticket_id;
}

void
ticket_batch_meta(struct ticket_batch *b, const char *key, const char *value)
{
	struct tb_kv *kv = grow(b, (void **)&b->meta, &b->nmeta, sizeof(*kv));

	if (kv == NULL)
		return;
	kv->key = xdup(b, key);
	kv->value = xdup(b, value);
}

void
ticket_batch_latency(struct ticket_batch *b, const char *link, const char *probe, int64_t hour_ms,
                     double median_ms, int n)
{
	struct tb_latency *l = grow(b, (void **)&b->lat, &b->nlat, sizeof(*l));

	if (l == NULL)
		return;
	l->link = xdup(b, link);
	l->probe = xdup(b, probe);
	l->hour_ms = hour_ms;
	l->median = median_ms;
	l->n = n;
}

bool
ticket_batch_empty(const struct ticket_batch *b)
{
	return b->ntickets == 0 && b->nev == 0 && b->npr == 0 && b->nmeta == 0 && b->nlat == 0;
}

void
ticket_batch_free(struct ticket_batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->ntickets; i++)
		ticket_free(b->tickets[i]);
	free(b->tickets);
	for (size_t i = 0; i < b->nev; i++) {
		free(b->ev[i].type);
		free(b->ev[i].who);
		free(b->ev[i].text);
		free(b->ev[i].metrics);
		ticket_free(b->ev[i].snap);
	}
	free(b->ev);
	for (size_t i = 0; i < b->npr; i++) {
		struct tb_problem *p = &b->pr[i];
		free(p->key);
		free(p->subject);
		free(p->name);
		free(p->link);
		free(p->kind);
		free(p->held);
		free(p->note);
	}
	free(b->pr);
	for (size_t i = 0; i < b->nmeta; i++) {
		free(b->meta[i].key);
		free(b->meta[i].value);
	}
	free(b->meta);
	for (size_t i = 0; i < b->nlat; i++) {
		free(b->lat[i].link);
		free(b->lat[i].probe);
	}
	free(b->lat);
	sink_unref(b->sink);
	free(b);
}

/* ---- the writer side (runs on the database thread) ------------------------ */

#define TCOLS                                                                                      \
	"id, ref, problem_key, subject, name, kind, severity, state, flapping, title, blame, "     \
	"blame_reasons, link, device, provider, circuit, support, problem_since_ms, opened_ms, "   \
	"acknowledged_ms, acknowledged_by, resolved_ms, resolved_by, resolution, "                 \
	"response_due_ms, resolution_due_ms, reopened, updated_ms"

static void
bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void
bind_ms(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms <= 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, ms);
}

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
write_ticket(sqlite3_stmt *st, const struct ticket *t)
{
	bind_ms(st, 1, t->id);
	bind_str(st, 2, t->ref);
	bind_str(st, 3, t->key);
	bind_str(st, 4, t->subject);
	bind_str(st, 5, t->name);
	bind_str(st, 6, t->kind);
	bind_str(st, 7, ticket_severity_name(t->severity));
	bind_str(st, 8, ticket_state_name(t->state));
	sqlite3_bind_int(st, 9, t->flapping);
	bind_str(st, 10, t->title);
	bind_str(st, 11, t->blame);
	bind_str(st, 12, t->blame_reasons);
	bind_str(st, 13, t->link);
	bind_str(st, 14, t->device);
	bind_str(st, 15, t->provider);
	bind_str(st, 16, t->circuit);
	bind_str(st, 17, t->support);
	sqlite3_bind_int64(st, 18, t->problem_since_ms);
	sqlite3_bind_int64(st, 19, t->opened_ms);
	bind_ms(st, 20, t->acked_ms);
	bind_str(st, 21, t->acked_by);
	bind_ms(st, 22, t->resolved_ms);
	bind_str(st, 23, t->resolved_by);
	bind_str(st, 24, t->resolution);
	bind_ms(st, 25, t->response_due_ms);
	bind_ms(st, 26, t->resolution_due_ms);
	sqlite3_bind_int(st, 27, t->reopened);
	sqlite3_bind_int64(st, 28, t->updated_ms);
	return step_done(st);
}

static int
prepare(sqlite3 *c, const char *sql, sqlite3_stmt **st)
{
	*st = NULL;
	return sqlite3_prepare_v2(c, sql, -1, st, NULL);
}

static int
batch_tickets(sqlite3 *c, struct ticket_batch *b)
{
	sqlite3_stmt *st;
	int rc;

	if (b->ntickets == 0)
		return SQLITE_OK;
	rc = prepare(
	    c,
	    "INSERT INTO tickets (" TCOLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	    "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, "
	    "?28) ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, "
	    "state = excluded.state, flapping = excluded.flapping, title = excluded.title, "
	    "blame = excluded.blame, blame_reasons = excluded.blame_reasons, "
	    "provider = excluded.provider, circuit = excluded.circuit, "
	    "support = excluded.support, problem_since_ms = excluded.problem_since_ms, "
	    "acknowledged_ms = excluded.acknowledged_ms, "
	    "acknowledged_by = excluded.acknowledged_by, resolved_ms = excluded.resolved_ms, "
	    "resolved_by = excluded.resolved_by, resolution = excluded.resolution, "
	    "response_due_ms = excluded.response_due_ms, "
	    "resolution_due_ms = excluded.resolution_due_ms, reopened = excluded.reopened, "
	    "updated_ms = excluded.updated_ms",
	    &st);
	for (size_t i = 0; rc == SQLITE_OK && i < b->ntickets; i++)
		rc = write_ticket(st, b->tickets[i]);
	sqlite3_finalize(st);
	return rc;
}

static int
batch_events(sqlite3 *c, struct ticket_batch *b)
{
	sqlite3_stmt *st;
	int rc;

	if (b->nev == 0)
		return SQLITE_OK;
	rc = prepare(
	    c,
	    "INSERT INTO ticket_events (id, ticket_id, at_ms, type, severity, who, text, metrics) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	    &st);
	for (size_t i = 0; rc == SQLITE_OK && i < b->nev; i++) {
		struct tb_event *e = &b->ev[i];

		sqlite3_bind_int64(st, 1, e->id);
		sqlite3_bind_int64(st, 2, e->snap->id);
		sqlite3_bind_int64(st, 3, e->at_ms);
		bind_str(st, 4, e->type);
		bind_str(st, 5, ticket_severity_name(e->snap->severity));
		bind_str(st, 6, e->who);
		bind_str(st, 7, e->text);
		bind_str(st, 8, e->metrics);
		rc = step_done(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
batch_problems(sqlite3 *c, struct ticket_batch *b)
{
	sqlite3_stmt *st;
	int rc;

	if (b->npr == 0)
		return SQLITE_OK;
	rc = prepare(
	    c,
	    "INSERT INTO problems (id, problem_key, subject, name, link, kind, severity, start_ms, "
	    "end_ms, ticket_id, held, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, "
	    "end_ms = excluded.end_ms, ticket_id = excluded.ticket_id, held = excluded.held, "
	    "note = excluded.note",
	    &st);
	for (size_t i = 0; rc == SQLITE_OK && i < b->npr; i++) {
		struct tb_problem *p = &b->pr[i];

		sqlite3_bind_int64(st, 1, p->id);
		bind_str(st, 2, p->key);
		bind_str(st, 3, p->subject);
		bind_str(st, 4, p->name);
		bind_str(st, 5, p->link);
		bind_str(st, 6, p->kind);
		bind_str(st, 7, ticket_severity_name(p->severity));
		sqlite3_bind_int64(st, 8, p->start_ms);
		bind_ms(st, 9, p->end_ms);
		bind_ms(st, 10, p->ticket_id);
		bind_str(st, 11, p->held);
		bind_str(st, 12, p->note);
		rc = step_done(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
batch_meta(sqlite3 *c, struct ticket_batch *b)
{
	sqlite3_stmt *st;
	int rc;

	if (b->nmeta == 0)
		return SQLITE_OK;
	rc = prepare(c, "INSERT OR REPLACE INTO ticket_meta (key, value) VALUES (?, ?)", &st);
	for (size_t i = 0; rc == SQLITE_OK && i < b->nmeta; i++) {
		bind_str(st, 1, b->meta[i].key);
		bind_str(st, 2, b->meta[i].value);
		rc = step_done(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
batch_latency(sqlite3 *c, struct ticket_batch *b)
{
	sqlite3_stmt *st;
	int rc;

	if (b->nlat == 0)
		return SQLITE_OK;
	rc = prepare(c,
	             "INSERT OR REPLACE INTO latency_hourly (link, probe, hour_ms, median_ms, n) "
	             "VALUES (?, ?, ?, ?, ?)",
	             &st);
	for (size_t i = 0; rc == SQLITE_OK && i < b->nlat; i++) {
		bind_str(st, 1, b->lat[i].link);
		bind_str(st, 2, b->lat[i].probe);
		sqlite3_bind_int64(st, 3, b->lat[i].hour_ms);
		sqlite3_bind_double(st, 4, b->lat[i].median);
		sqlite3_bind_int(st, 5, b->lat[i].n);
		rc = step_done(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
batch_work(sqlite3 *c, void *arg)
{
	struct ticket_batch *b = arg;
	int rc;

	/* tickets before their events and problems (foreign key) */
	if ((rc = batch_tickets(c, b)) != SQLITE_OK || (rc = batch_events(c, b)) != SQLITE_OK ||
	    (rc = batch_problems(c, b)) != SQLITE_OK || (rc = batch_meta(c, b)) != SQLITE_OK)
		return rc;
	return batch_latency(c, b);
}

/* ---- after the commit (on the loop) --------------------------------------- */

static void
notify(struct ticket_sink *s, const struct tb_event *e)
{
	const struct ticket *t = e->snap;
	struct ticket_event ev = {
	    .id = e->id,
	    .ticket_id = t->id,
	    .ref = t->ref,
	    .type = e->type,
	    .kind = t->kind,
	    .severity = ticket_severity_name(t->severity),
	    .state = ticket_state_name(t->state),
	    .key = t->key,
	    .link = t->link,
	    .device = t->device,
	    .provider = t->provider,
	    .circuit = t->circuit,
	    .title = t->title,
	    .blame = t->blame,
	    .text = e->text,
	    .who = e->who,
	    .metrics = e->metrics,
	    .time_ms = e->at_ms,
	};

	s->cb(&ev, s->arg);
}

static void
batch_done(int rc, void *arg)
{
	struct ticket_batch *b = arg;

	if (rc == SQLITE_OK && b->sink != NULL)
		for (size_t i = 0; i < b->nev && b->sink->cb != NULL; i++)
			if (b->ev[i].snap != NULL)
				notify(b->sink, &b->ev[i]);
	if (b->committed)
		b->committed(rc, b->arg);
}

static void
batch_free_cb(void *arg)
{
	ticket_batch_free(arg);
}

int
ticket_batch_submit(struct db *db, struct ticket_batch *b, struct ticket_sink *sink,
                    void (*committed)(int rc, void *arg), void *arg)
{
	if (b->oom) {
		log_warnx("ticket: out of memory building a database write: %zu ticket events lost",
		          b->nev);
		ticket_batch_free(b);
		return -1;
	}
	b->sink = sink;
	if (sink)
		sink->refs++;
	b->committed = committed;
	b->arg = arg;
	if (db_submit(db, batch_work, batch_done, batch_free_cb, b) != 0) {
		log_warnx("ticket: the database refused a write of %zu ticket events", b->nev);
		ticket_batch_free(b);
		return -1;
	}
	return 0;
}

/* ---- reading -------------------------------------------------------------- */

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? strdup((const char *)s) : NULL;
}

static struct ticket *
row_ticket(sqlite3_stmt *st)
{
	struct ticket *t = calloc(1, sizeof(*t));
	const char *s;

	if (t == NULL)
		return NULL;
	t->id = sqlite3_column_int64(st, 0);
	s = (const char *)sqlite3_column_text(st, 1);
	snprintf(t->ref, sizeof(t->ref), "%s", s ? s : "");
	t->key = col_dup(st, 2);
	t->subject = col_dup(st, 3);
	t->name = col_dup(st, 4);
	t->kind = col_dup(st, 5);
	t->severity = ticket_severity_parse((const char *)sqlite3_column_text(st, 6));
	if (ticket_state_parse((const char *)sqlite3_column_text(st, 7), &t->state) != 0)
		t->state = TICKET_OPEN;
	t->flapping = sqlite3_column_int(st, 8) != 0;
	t->title = col_dup(st, 9);
	t->blame = col_dup(st, 10);
	t->blame_reasons = col_dup(st, 11);
	t->link = col_dup(st, 12);
	t->device = col_dup(st, 13);
	t->provider = col_dup(st, 14);
	t->circuit = col_dup(st, 15);
	t->support = col_dup(st, 16);
	t->problem_since_ms = sqlite3_column_int64(st, 17);
	t->opened_ms = sqlite3_column_int64(st, 18);
	t->acked_ms = sqlite3_column_int64(st, 19);
	t->acked_by = col_dup(st, 20);
	t->resolved_ms = sqlite3_column_int64(st, 21);
	t->resolved_by = col_dup(st, 22);
	t->resolution = col_dup(st, 23);
	t->response_due_ms = sqlite3_column_int64(st, 24);
	t->resolution_due_ms = sqlite3_column_int64(st, 25);
	t->reopened = sqlite3_column_int(st, 26);
	t->updated_ms = sqlite3_column_int64(st, 27);
	if (t->key == NULL)
		t->key = strdup("");
	if (t->kind == NULL)
		t->kind = strdup("");
	if (t->title == NULL)
		t->title = strdup("");
	return t;
}

static int
read_error(struct db *db, const char *what)
{
	log_warnx("database %s: %s: %s", db_path(db), what, sqlite3_errmsg(db_reader(db)));
	return -1;
}

int
ticket_max_ids(struct db *db, struct ticket_ids *ids)
{
	sqlite3_stmt *st;
	int rc = prepare(db_reader(db),
	                 "SELECT (SELECT coalesce(max(id), 0) FROM tickets), "
	                 "(SELECT coalesce(max(id), 0) FROM ticket_events), "
	                 "(SELECT coalesce(max(id), 0) FROM problems)",
	                 &st);

	if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return read_error(db, "reading the highest ticket number");
	}
	ids->ticket = sqlite3_column_int64(st, 0);
	ids->event = sqlite3_column_int64(st, 1);
	ids->problem = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	return 0;
}

int
ticket_load_open(struct db *db, void (*cb)(struct ticket *t, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int rc = prepare(db_reader(db),
	                 "SELECT " TCOLS
	                 " FROM tickets WHERE state IN ('open', 'acknowledged') ORDER BY id",
	                 &st);

	if (rc != SQLITE_OK)
		return read_error(db, "loading open tickets");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ticket *t = row_ticket(st);

		if (t != NULL)
			cb(t, arg);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : read_error(db, "loading open tickets");
}

static struct ticket *
load_one(struct db *db, const char *sql, const char *text, int64_t num)
{
	sqlite3_stmt *st;
	struct ticket *t = NULL;

	if (prepare(db_reader(db), sql, &st) != SQLITE_OK) {
		read_error(db, "loading a ticket");
		return NULL;
	}
	if (text)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, num);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = row_ticket(st);
	sqlite3_finalize(st);
	return t;
}

struct ticket *
ticket_load_last(struct db *db, const char *key)
{
	return load_one(
	    db, "SELECT " TCOLS " FROM tickets WHERE problem_key = ? ORDER BY id DESC LIMIT 1", key,
	    0);
}

struct ticket *
ticket_load(struct db *db, int64_t id)
{
	return load_one(db, "SELECT " TCOLS " FROM tickets WHERE id = ?", NULL, id);
}

static int
problems_query(struct db *db, sqlite3_stmt *st,
               void (*cb)(const struct ticket_problem *p, void *arg), void *arg)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ticket_problem p = {
		    .id = sqlite3_column_int64(st, 0),
		    .key = (const char *)sqlite3_column_text(st, 1),
		    .kind = (const char *)sqlite3_column_text(st, 2),
		    .start_ms = sqlite3_column_int64(st, 3),
		    .end_ms = sqlite3_column_int64(st, 4),
		    .ticket_id = sqlite3_column_int64(st, 5),
		    .held = (const char *)sqlite3_column_text(st, 6),
		};
		if (p.key && p.kind)
			cb(&p, arg);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : read_error(db, "reading problem periods");
}

int
ticket_open_problems(struct db *db, void (*cb)(const struct ticket_problem *p, void *arg),
                     void *arg)
{
	sqlite3_stmt *st;

	if (prepare(db_reader(db),
	            "SELECT id, problem_key, kind, start_ms, end_ms, ticket_id, held FROM problems "
	            "WHERE end_ms IS NULL ORDER BY id",
	            &st) != SQLITE_OK)
		return read_error(db, "reading problem periods");
	return problems_query(db, st, cb, arg);
}

int
ticket_link_problems(struct db *db, const char *link, int64_t from_ms, int64_t to_ms,
                     void (*cb)(const struct ticket_problem *p, void *arg), void *arg)
{
	sqlite3_stmt *st;

	if (prepare(db_reader(db),
	            "SELECT id, problem_key, kind, start_ms, end_ms, ticket_id, held FROM problems "
	            "WHERE link = ? AND start_ms < ? AND (end_ms IS NULL OR end_ms > ?) "
	            "ORDER BY start_ms",
	            &st) != SQLITE_OK)
		return read_error(db, "reading problem periods");
	sqlite3_bind_text(st, 1, link, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, to_ms);
	sqlite3_bind_int64(st, 3, from_ms);
	return problems_query(db, st, cb, arg);
}

int64_t
ticket_meta_int(struct db *db, const char *key, int64_t dflt)
{
	sqlite3_stmt *st;
	int64_t v = dflt;

	if (prepare(db_reader(db), "SELECT value FROM ticket_meta WHERE key = ?", &st) != SQLITE_OK)
		return dflt;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
ticket_latency_load(struct db *db, int64_t since_ms,
                    void (*cb)(const char *link, const char *probe, int64_t hour_ms, double median,
                               void *arg),
                    void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(db_reader(db),
	            "SELECT link, probe, hour_ms, median_ms FROM latency_hourly WHERE hour_ms >= ?",
	            &st) != SQLITE_OK)
		return read_error(db, "reading latency baselines");
	sqlite3_bind_int64(st, 1, since_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *l = (const char *)sqlite3_column_text(st, 0);
		const char *p = (const char *)sqlite3_column_text(st, 1);

		if (l && p)
			cb(l, p, sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3), arg);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : read_error(db, "reading latency baselines");
}

/* ---- JSON ----------------------------------------------------------------- */

static json_t *
jstr(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	return j ? j : json_string("?");
}

static json_t *
jtime(int64_t ms)
{
	char buf[32];

	return ms > 0 ? json_string(ticket_iso(ms, buf, sizeof(buf))) : json_null();
}

static json_t *
jtext_json(const char *text)
{
	json_t *j;

	if (text == NULL || text[0] == '\0')
		return json_null();
	j = json_loads(text, JSON_DECODE_ANY, NULL);
	return j ? j : json_null();
}

/* met / missed / pending of one SLA target */
static const char *
target_state(int64_t done_ms, int64_t due_ms, int64_t now_ms)
{
	if (due_ms <= 0)
		return NULL;
	if (done_ms > 0)
		return done_ms <= due_ms ? "met" : "missed";
	return now_ms > due_ms ? "missed" : "pending";
}

static int64_t
response_ms(const struct ticket *t)
{
	/* acknowledged, or resolved before anyone had to */
	if (t->acked_ms > 0 && (t->resolved_ms <= 0 || t->acked_ms < t->resolved_ms))
		return t->acked_ms;
	return t->resolved_ms;
}

json_t *
ticket_json(const struct ticket *t, int64_t now_ms)
{
	json_t *o, *blame = json_null();
	int64_t end = t->resolved_ms > 0 ? t->resolved_ms : now_ms;

	if (t->blame != NULL) {
		json_t *reasons = jtext_json(t->blame_reasons);

		if (!json_is_array(reasons)) {
			json_decref(reasons);
			reasons = json_array();
		}
		blame = json_pack("{s:o, s:o}", "verdict", jstr(t->blame), "reasons", reasons);
	}
	o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:b, s:o}", "ref", t->ref, "key",
	              jstr(t->key), "subject", jstr(t->subject), "name", jstr(t->name), "kind",
	              jstr(t->kind), "title", jstr(t->title), "severity",
	              ticket_severity_name(t->severity), "state", ticket_state_name(t->state),
	              "flapping", t->flapping, "blame", blame ? blame : json_null());
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "link", jstr(t->link));
	json_object_set_new(o, "device", jstr(t->device));
	json_object_set_new(o, "provider", jstr(t->provider));
	json_object_set_new(o, "circuit", jstr(t->circuit));
	json_object_set_new(o, "support", jstr(t->support));
	json_object_set_new(o, "problem_since", jtime(t->problem_since_ms));
	json_object_set_new(o, "opened", jtime(t->opened_ms));
	json_object_set_new(o, "opened_ts", json_integer(t->opened_ms / 1000));
	json_object_set_new(o, "acknowledged", jtime(t->acked_ms));
	json_object_set_new(o, "acknowledged_by", jstr(t->acked_by));
	json_object_set_new(o, "resolved", jtime(t->resolved_ms));
	json_object_set_new(o, "resolved_by", jstr(t->resolved_by));
	json_object_set_new(o, "resolution", jstr(t->resolution));
	json_object_set_new(
	    o, "duration_s",
	    json_integer(end > t->problem_since_ms ? (end - t->problem_since_ms) / 1000 : 0));
	json_object_set_new(o, "reopened", json_integer(t->reopened));
	json_object_set_new(
	    o, "sla",
	    json_pack("{s:o, s:o, s:o, s:o}", "response_due", jtime(t->response_due_ms),
	              "resolution_due", jtime(t->resolution_due_ms), "response",
	              jstr(target_state(response_ms(t), t->response_due_ms, now_ms)), "resolution",
	              jstr(target_state(t->resolved_ms, t->resolution_due_ms, now_ms))));
	return o;
}

static int
bind_filters(sqlite3_stmt *st, const char *link)
{
	if (link != NULL)
		sqlite3_bind_text(st, 1, link, -1, SQLITE_STATIC);
	return 0;
}

json_t *
ticket_list_json(struct db *db, const char *state, const char *link, int limit, int offset,
                 int64_t now_ms)
{
	const char *where;
	char sql[512];
	sqlite3_stmt *st;
	json_t *list;
	int64_t total = 0;
	int rc;

	if (state == NULL || strcmp(state, "open") == 0)
		where = "state IN ('open', 'acknowledged')";
	else if (strcmp(state, "acknowledged") == 0)
		where = "state = 'acknowledged'";
	else if (strcmp(state, "resolved") == 0)
		where = "state = 'resolved'";
	else
		where = "1";
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tickets WHERE %s%s", where,
	         link ? " AND link = ?1" : "");
	if (prepare(db_reader(db), sql, &st) != SQLITE_OK) {
		read_error(db, "listing tickets");
		return NULL;
	}
	bind_filters(st, link);
	if (sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);

	snprintf(sql, sizeof(sql),
	         "SELECT " TCOLS " FROM tickets WHERE %s%s ORDER BY id DESC LIMIT %d OFFSET %d",
	         where, link ? " AND link = ?1" : "", limit, offset);
	if (prepare(db_reader(db), sql, &st) != SQLITE_OK) {
		read_error(db, "listing tickets");
		return NULL;
	}
	bind_filters(st, link);
	list = json_array();
	while (list != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ticket *t = row_ticket(st);

		if (t != NULL)
			json_array_append_new(list, ticket_json(t, now_ms));
		ticket_free(t);
	}
	sqlite3_finalize(st);
	if (list == NULL)
		return NULL;
	return json_pack("{s:o, s:I, s:i, s:i}", "tickets", list, "total", (json_int_t)total,
	                 "limit", limit, "offset", offset);
}

static json_t *
events_json(struct db *db, int64_t ticket_id)
{
	sqlite3_stmt *st;
	json_t *list = json_array();

	if (prepare(db_reader(db),
	            "SELECT id, at_ms, type, severity, who, text, metrics FROM ticket_events "
	            "WHERE ticket_id = ? ORDER BY id",
	            &st) != SQLITE_OK) {
		read_error(db, "reading a ticket's timeline");
		return list;
	}
	sqlite3_bind_int64(st, 1, ticket_id);
	while (list != NULL && sqlite3_step(st) == SQLITE_ROW) {
		int64_t at = sqlite3_column_int64(st, 1);
		json_t *e =
		    json_pack("{s:I, s:o, s:f, s:o, s:o, s:o, s:o, s:o}", "id",
		              (json_int_t)sqlite3_column_int64(st, 0), "time", jtime(at), "ts",
		              at / 1000.0, "type", jstr((const char *)sqlite3_column_text(st, 2)),
		              "severity", jstr((const char *)sqlite3_column_text(st, 3)), "who",
		              jstr((const char *)sqlite3_column_text(st, 4)), "text",
		              jstr((const char *)sqlite3_column_text(st, 5)), "metrics",
		              jtext_json((const char *)sqlite3_column_text(st, 6)));

		if (e != NULL)
			json_array_append_new(list, e);
	}
	sqlite3_finalize(st);
	return list;
}

json_t *
ticket_get_json(struct db *db, int64_t id, int64_t now_ms)
{
	struct ticket *t = ticket_load(db, id);
	json_t *o;

	if (t == NULL)
		return NULL;
	o = ticket_json(t, now_ms);
	ticket_free(t);
	if (o != NULL)
		json_object_set_new(o, "events", events_json(db, id));
	return o;
}

struct kpi {
	int64_t opened, acked, resolved;
	double ack_sum, res_sum;
	int64_t resp_met, resp_missed, resl_met, resl_missed;
};

static json_t *
kpi_obj(const struct kpi *k)
{
	json_t *o = json_pack("{s:I, s:I, s:I}", "opened", (json_int_t)k->opened, "acknowledged",
	                      (json_int_t)k->acked, "resolved", (json_int_t)k->resolved);

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "mtta_s", k->acked ? json_real(k->ack_sum / k->acked) : json_null());
	json_object_set_new(o, "mttr_s",
	                    k->resolved ? json_real(k->res_sum / k->resolved) : json_null());
	json_object_set_new(o, "response_met_pct",
	                    k->resp_met + k->resp_missed
	                        ? json_real(100.0 * k->resp_met / (k->resp_met + k->resp_missed))
	                        : json_null());
	json_object_set_new(o, "resolution_met_pct",
	                    k->resl_met + k->resl_missed
	                        ? json_real(100.0 * k->resl_met / (k->resl_met + k->resl_missed))
	                        : json_null());
	return o;
}

static void
kpi_add(struct kpi *k, const struct ticket *t, int64_t now_ms)
{
	const char *s;

	k->opened++;
	if (t->acked_ms > 0) {
		k->acked++;
		k->ack_sum += (double)(t->acked_ms - t->opened_ms) / 1000.0;
	}
	if (t->resolved_ms > 0) {
		k->resolved++;
		k->res_sum += (double)(t->resolved_ms - t->opened_ms) / 1000.0;
	}
	s = target_state(response_ms(t), t->response_due_ms, now_ms);
	if (s && strcmp(s, "met") == 0)
		k->resp_met++;
	else if (s && strcmp(s, "missed") == 0)
		k->resp_missed++;
	s = target_state(t->resolved_ms, t->resolution_due_ms, now_ms);
	if (s && strcmp(s, "met") == 0)
		k->resl_met++;
	else if (s && strcmp(s, "missed") == 0)
		k->resl_missed++;
}

json_t *
ticket_kpi_json(struct db *db, int64_t from_ms, int64_t to_ms, int64_t now_ms)
{
	struct kpi all = {0}, bysev[2] = {{0}, {0}};
	sqlite3_stmt *st;
	json_t *o;

	if (prepare(db_reader(db),
	            "SELECT " TCOLS
	            " FROM tickets WHERE opened_ms >= ? AND opened_ms < ? ORDER BY id",
	            &st) != SQLITE_OK) {
		read_error(db, "computing ticket figures");
		return NULL;
	}
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct ticket *t = row_ticket(st);

		if (t == NULL)
			continue;
		kpi_add(&all, t, now_ms);
		kpi_add(&bysev[t->severity == LW_CRITICAL], t, now_ms);
		ticket_free(t);
	}
	sqlite3_finalize(st);
	o = kpi_obj(&all);
	if (o != NULL)
		json_object_set_new(o, "by_severity",
		                    json_pack("{s:o, s:o}", "warning", kpi_obj(&bysev[0]),
		                              "critical", kpi_obj(&bysev[1])));
	return o;
}
