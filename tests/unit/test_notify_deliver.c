/* test_notify_deliver.c - notify end to end on one event loop: a real HTTP
 * server (evhttp) and a small SMTP server on 127.0.0.1 receive what libcurl
 * sends; retries, order, event filters, restarts, refusals, reloads. */
#include <sys/socket.h>
#include <netinet/in.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <jansson.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "plugin_dir.h"

#define MAXREQ 64

struct hook {
	int codes[MAXREQ]; /* status for request i; 0 = 200 */
	int n;
	char *body[MAXREQ];
	char *id[MAXREQ];
	char *auth[MAXREQ];
	int status[MAXREQ];
};

struct sconn;

struct smtp {
	char *msg[MAXREQ];
	char *rcpt[MAXREQ];
	int n;
	struct sconn *conns[MAXREQ]; /* open connections, freed at the end */
};

struct sconn {
	struct smtp *s;
	struct bufferevent *bev;
	struct evbuffer *data;
	char rcpts[512];
	int in_data;
};

struct fx {
	char dir[64];
	char conf[128];
	struct event_base *base;
	struct evhttp *http;
	int http_port;
	struct evconnlistener *smtp_l;
	int smtp_port;
	struct hook hook;
	struct smtp smtp;
	struct db *db;
	struct lw_config *cfg;
	struct notify *n;
};

/* --- the HTTP receiver ---------------------------------------------------- */

static void
on_http(struct evhttp_request *req, void *arg)
{
	struct hook *h = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq *hdr = evhttp_request_get_input_headers(req);
	size_t len = evbuffer_get_length(in);
	int code;
	const char *v;

	if (h->n >= MAXREQ) {
		evhttp_send_reply(req, 500, "full", NULL);
		return;
	}
	h->body[h->n] = calloc(1, len + 1);
	evbuffer_remove(in, h->body[h->n], len);
	v = evhttp_find_header(hdr, "X-Linewatch-Id");
	h->id[h->n] = strdup(v ? v : "");
	v = evhttp_find_header(hdr, "Authorization");
	h->auth[h->n] = strdup(v ? v : "");
	code = h->codes[h->n] ? h->codes[h->n] : 200;
	h->status[h->n] = code;
	h->n++;
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Nope", NULL);
}

static int
bound_port(evutil_socket_t fd)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	return ntohs(sin.sin_port);
}

/* --- a small SMTP server -------------------------------------------------- */

static void
reply(struct sconn *c, const char *s)
{
	bufferevent_write(c->bev, s, strlen(s));
}

static void
conn_free(struct sconn *c)
{
	for (int i = 0; i < MAXREQ; i++)
		if (c->s->conns[i] == c)
			c->s->conns[i] = NULL;
	bufferevent_free(c->bev);
	evbuffer_free(c->data);
	free(c);
}

static void
on_smtp_read(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) != NULL) {
		if (c->in_data) {
			if (strcmp(line, ".") == 0) {
				size_t len = evbuffer_get_length(c->data);
				struct smtp *s = c->s;
				if (s->n < MAXREQ) {
					s->msg[s->n] = calloc(1, len + 1);
					evbuffer_remove(c->data, s->msg[s->n], len);
					s->rcpt[s->n] = strdup(c->rcpts);
					s->n++;
				}
				c->in_data = 0;
				c->rcpts[0] = '\0';
				reply(c, "250 queued\r\n");
			} else {
				/* undo dot-stuffing */
				const char *l = line[0] == '.' ? line + 1 : line;
				evbuffer_add_printf(c->data, "%s\r\n", l);
			}
		} else if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
			reply(c, "250 test.invalid\r\n");
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			reply(c, "250 ok\r\n");
		} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			strncat(c->rcpts, line + 8, sizeof(c->rcpts) - strlen(c->rcpts) - 2);
			strcat(c->rcpts, " ");
			reply(c, "250 ok\r\n");
		} else if (strcasecmp(line, "DATA") == 0) {
			c->in_data = 1;
			reply(c, "354 go ahead\r\n");
		} else if (strcasecmp(line, "QUIT") == 0) {
			reply(c, "221 bye\r\n");
		} else {
			reply(c, "250 ok\r\n");
		}
		free(line);
	}
}

static void
on_smtp_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void
on_smtp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
               void *arg)
{
	struct fx *f = arg;
	struct sconn *c = calloc(1, sizeof(*c));

	c->s = &f->smtp;
	c->data = evbuffer_new();
	c->bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, on_smtp_read, NULL, on_smtp_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	for (int i = 0; i < MAXREQ; i++)
		if (f->smtp.conns[i] == NULL) {
			f->smtp.conns[i] = c;
			break;
		}
	reply(c, "220 test.invalid ESMTP\r\n");
}

/* --- fixture ------------------------------------------------------------- */

static void
perr(const char *msg, void *arg)
{
	fprintf(stderr, "%s\n", msg);
}

/* BUILD/plugins, where notify-curl.so is, from BUILD/tests/this */
static char plugin_dir[PATH_MAX + 16];

static void
write_conf(struct fx *f, const char *body)
{
	FILE *fp = fopen(f->conf, "w");

	assert_non_null(fp);
	fprintf(fp, "site = \"Test Site\"\nstate-dir = \"%s\"\nplugin-dir = \"%s\"\n%s", f->dir,
	        plugin_dir, body);
	fclose(fp);
}

static struct lw_config *
load_conf(struct fx *f)
{
	struct lw_config *c = config_load(f->conf, perr, NULL);

	assert_non_null(c);
	assert_int_equal(notify_check_config(c, perr, NULL), 0);
	return c;
}

static void
start(struct fx *f)
{
	char err[512];

	f->db = db_open(f->dir, err, sizeof(err));
	if (f->db == NULL)
		fail_msg("%s", err);
	assert_int_equal(db_attach(f->db, f->base), 0);
	f->cfg = load_conf(f);
	f->n = notify_new(f->base, f->db, f->cfg);
	assert_non_null(f->n);
}

static void
stop(struct fx *f)
{
	notify_free(f->n);
	f->n = NULL;
	db_close(f->db);
	f->db = NULL;
	config_free(f->cfg);
	f->cfg = NULL;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct evhttp_bound_socket *bs;

	snprintf(f->dir, sizeof(f->dir), "/tmp/lw-deliver-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->conf, sizeof(f->conf), "%s/linewatch.conf", f->dir);
	f->base = event_base_new();
	f->http = evhttp_new(f->base);
	evhttp_set_gencb(f->http, on_http, &f->hook);
	bs = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
	assert_non_null(bs);
	f->http_port = bound_port(evhttp_bound_socket_get_fd(bs));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->smtp_l = evconnlistener_new_bind(f->base, on_smtp_accept, f,
	                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	                                    (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(f->smtp_l);
	f->smtp_port = bound_port(evconnlistener_get_fd(f->smtp_l));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (f->n)
		stop(f);
	for (int i = 0; i < MAXREQ; i++)
		if (f->smtp.conns[i])
			conn_free(f->smtp.conns[i]);
	evconnlistener_free(f->smtp_l);
	evhttp_free(f->http);
	event_base_free(f->base);
	for (int i = 0; i < f->hook.n; i++) {
		free(f->hook.body[i]);
		free(f->hook.id[i]);
		free(f->hook.auth[i]);
	}
	for (int i = 0; i < f->smtp.n; i++) {
		free(f->smtp.msg[i]);
		free(f->smtp.rcpt[i]);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Run the loop until cond() or the deadline; a test can fail, never hang. */
static int
run_until(struct fx *f, int (*cond)(struct fx *), int seconds)
{
	time_t end = time(NULL) + seconds;

	while (!cond(f) && time(NULL) < end)
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(2000);
	return cond(f);
}

static const char *
jget(const char *text, const char *a, const char *b)
{
	static char buf[256];
	json_t *j = json_loads(text, 0, NULL), *o;
	const char *s;

	o = j ? json_object_get(j, a) : NULL;
	if (b)
		o = json_object_get(o, b);
	s = json_string_value(o);
	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	json_decref(j);
	return buf;
}

static void
post(struct fx *f, enum notify_type t, const char *ref)
{
	struct notify_event ev = {
	    .type = t,
	    .ref = ref,
	    .kind = "loss",
	    .severity = "critical",
	    .state = t == NOTIFY_RESOLVED ? "resolved" : "open",
	    .title = "isp-fibre: loss 12.5%",
	    .link = "isp-fibre",
	    .provider = "Example Telecom",
	    .circuit = "ABC-12345",
	    .metrics_json = "{\"loss\": 12.5}",
	};

	notify_post(f->n, &ev);
}

/* --- tests ------------------------------------------------------------------ */

static int
two_ok_and_three_mails(struct fx *f)
{
	int ok = 0;

	for (int i = 0; i < f->hook.n; i++)
		ok += f->hook.status[i] == 200;
	return ok == 2 && f->smtp.n == 3;
}

static void
test_webhook_retries_and_mail(void **state)
{
	struct fx *f = *state;
	char body[1024];

	snprintf(
	    body, sizeof(body),
	    "webhook \"psa\" { url = \"http://127.0.0.1:%d/hook\"  headers = { \"Authorization: "
	    "Bearer s3cret\" }  events = { \"opened\", \"resolved\" } }\n"
	    "email \"oncall\" { smtp = \"smtp://127.0.0.1:%d\"  from = \"lw@example.org\"  to = { "
	    "\"noc@example.org\", \"Ops <ops@example.org>\" }  starttls = false }\n",
	    f->http_port, f->smtp_port);
	write_conf(f, body);
	f->hook.codes[0] = 500;
	f->hook.codes[1] = 500;
	start(f);
	post(f, NOTIFY_OPENED, "LW-000001");
	post(f, NOTIFY_ACKNOWLEDGED, "LW-000001");
	post(f, NOTIFY_RESOLVED, "LW-000001");
	assert_true(run_until(f, two_ok_and_three_mails, 20));

	/* 500, 500, then 200 for the same notification, then the next */
	assert_int_equal(f->hook.n, 4);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(jget(f->hook.body[i], "event", NULL), "opened");
		assert_string_equal(f->hook.id[i], f->hook.id[0]);
		assert_string_equal(f->hook.auth[i], "Bearer s3cret");
	}
	assert_string_equal(jget(f->hook.body[3], "event", NULL),
	                    "resolved"); /* not acknowledged */
	assert_string_equal(jget(f->hook.body[3], "ticket", "ref"), "LW-000001");
	assert_string_equal(jget(f->hook.body[3], "link", "provider"), "Example Telecom");
	assert_string_equal(jget(f->hook.body[3], "site", NULL), "Test Site");

	/* mail: all three events, in order, to both recipients */
	assert_non_null(strstr(f->smtp.msg[0], "Subject: LW-000001 opened: isp-fibre: loss"));
	assert_non_null(strstr(f->smtp.msg[1], "Subject: LW-000001 acknowledged"));
	assert_non_null(strstr(f->smtp.msg[2], "Subject: LW-000001 resolved"));
	assert_non_null(strstr(f->smtp.msg[0], "  Circuit:   ABC-12345\r\n"));
	assert_non_null(strstr(f->smtp.msg[0], "  loss           12.5 %\r\n"));
	assert_non_null(strstr(f->smtp.rcpt[0], "<noc@example.org>"));
	assert_non_null(strstr(f->smtp.rcpt[0], "<ops@example.org>"));
}

static int
webhook_has_two_ok(struct fx *f)
{
	int ok = 0;

	for (int i = 0; i < f->hook.n; i++)
		ok += f->hook.status[i] == 200;
	return ok >= 2;
}

static int
some_failures(struct fx *f)
{
	return f->hook.n >= 2;
}

/* Down, restarted, up again: delivered after the restart, same ids, in order. */
static void
test_restart_keeps_the_queue(void **state)
{
	struct fx *f = *state;
	char body[512], first_id[32];

	snprintf(body, sizeof(body), "webhook \"psa\" { url = \"http://127.0.0.1:%d/hook\" }\n",
	         f->http_port);
	write_conf(f, body);
	for (int i = 0; i < MAXREQ; i++)
		f->hook.codes[i] = 503;
	start(f);
	post(f, NOTIFY_OPENED, "LW-000010");
	post(f, NOTIFY_OPENED, "LW-000011");
	assert_true(run_until(f, some_failures, 20));
	snprintf(first_id, sizeof(first_id), "%s", f->hook.id[0]);
	stop(f);

	for (int i = f->hook.n; i < MAXREQ; i++)
		f->hook.codes[i] = 200;
	start(f);
	assert_true(run_until(f, webhook_has_two_ok, 20));
	for (int i = 0; i < f->hook.n; i++)
		if (f->hook.status[i] == 200) {
			assert_string_equal(jget(f->hook.body[i], "ticket", "ref"), "LW-000010");
			assert_string_equal(f->hook.id[i], first_id);
			assert_string_equal(jget(f->hook.body[i + 1], "ticket", "ref"),
			                    "LW-000011");
			break;
		}
}

static int
three_requests(struct fx *f)
{
	return f->hook.n >= 3;
}

/* A 4xx that is not about us refuses the payload: dropped, not retried. */
static void
test_refused_payload_is_dropped(void **state)
{
	struct fx *f = *state;
	char body[512];

	snprintf(body, sizeof(body), "webhook \"psa\" { url = \"http://127.0.0.1:%d/hook\" }\n",
	         f->http_port);
	write_conf(f, body);
	f->hook.codes[0] = 422;
	start(f);
	post(f, NOTIFY_OPENED, "LW-000020");
	post(f, NOTIFY_OPENED, "LW-000021");
	post(f, NOTIFY_OPENED, "LW-000022");
	assert_true(run_until(f, three_requests, 10));
	assert_string_equal(jget(f->hook.body[0], "ticket", "ref"), "LW-000020");
	assert_string_equal(jget(f->hook.body[1], "ticket", "ref"), "LW-000021");
	assert_string_equal(jget(f->hook.body[2], "ticket", "ref"), "LW-000022");
}

struct count {
	uint64_t queued;
	int n;
};

static void
count_cb(const struct notify_dest_stats *s, void *arg)
{
	struct count *c = arg;

	c->queued += s->queued;
	c->n++;
}

static int
one_failure(struct fx *f)
{
	return f->hook.n >= 1;
}

static int
one_mail(struct fx *f)
{
	return f->smtp.n >= 1;
}

/* Removing a destination drops its queue; adding one starts it. */
static void
test_reload(void **state)
{
	struct fx *f = *state;
	char body[1024];
	struct lw_config *ncfg;
	struct count c = {0};

	snprintf(body, sizeof(body), "webhook \"psa\" { url = \"http://127.0.0.1:%d/hook\" }\n",
	         f->http_port);
	write_conf(f, body);
	for (int i = 0; i < MAXREQ; i++)
		f->hook.codes[i] = 503;
	start(f);
	post(f, NOTIFY_OPENED, "LW-000030");
	post(f, NOTIFY_OPENED, "LW-000031");
	assert_true(run_until(f, one_failure, 10));
	notify_foreach(f->n, count_cb, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.queued, 2);

	snprintf(
	    body, sizeof(body),
	    "email \"oncall\" { smtp = \"smtp://127.0.0.1:%d\"  from = \"lw@example.org\"  to = { "
	    "\"noc@example.org\" }  starttls = false }\n",
	    f->smtp_port);
	write_conf(f, body);
	ncfg = load_conf(f);
	assert_int_equal(notify_reload(f->n, ncfg), 0);
	config_free(f->cfg);
	f->cfg = ncfg;
	memset(&c, 0, sizeof(c));
	notify_foreach(f->n, count_cb, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.queued, 0);
	post(f, NOTIFY_RESOLVED, "LW-000030");
	assert_true(run_until(f, one_mail, 10));
	assert_non_null(strstr(f->smtp.msg[0], "Subject: LW-000030 resolved"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_webhook_retries_and_mail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_keeps_the_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_payload_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	};

	if (plugin_dir_of_build(plugin_dir, sizeof(plugin_dir)) != 0)
		return 1;
	log_init(1, LOG_LVL_WARN);
	if (evthread_use_pthreads() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
