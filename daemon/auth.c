/* auth.c - web users, sessions, CSRF, login rate limiting.
 *
 * Password hashes are verified on a worker thread: yescrypt is deliberately
 * slow, and the event loop must never wait for it.
 */
#include <sys/random.h>
#include <sys/queue.h>

#include <arpa/inet.h>
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "html.h"
#include "log.h"

#define TOKEN_BYTES 32
#define TOKEN_HEX (TOKEN_BYTES * 2 + 1)
#define MAX_SESSIONS 256
#define MAX_PEERS 1024
#define FAIL_LIMIT 5
#define FAIL_WINDOW_S 300
#define COOKIE "lw_session"

struct session {
	char token[TOKEN_HEX];
	char csrf[TOKEN_HEX];
	char *user;
	time_t created;
	time_t last_seen;
};

struct peer {
	char addr[INET6_ADDRSTRLEN];
	int failures;
	time_t window_start;
};

struct login_job {
	struct auth *a;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct event *done;
	pthread_t thread;
	char *user;
	char *hash;
	char *password;
	char *next;
	char peer[INET6_ADDRSTRLEN];
	int ok;
	bool known; /* the user exists (else the dummy hash is checked) */
	LIST_ENTRY(login_job) entry;
};

struct auth {
	struct event_base *base;
	const struct lw_config *cfg;
	struct session sessions[MAX_SESSIONS];
	struct peer peers[MAX_PEERS];
	LIST_HEAD(, login_job) jobs;
	struct auth_stats stats;
	int tls;
};

/* Checked for unknown users: the same yescrypt cost as a real user's hash
 * ($y$j9T, the default of crypt_gensalt and of linewatchd -p), so the answer
 * time tells nothing about which users exist.  A constant: hashing a random
 * secret at start-up instead cost 80 ms on the loop and a 16 MiB transient
 * mapping (yescrypt's work area) that set the daemon's peak RSS.  Made from
 * a random secret that was thrown away; an unknown user is refused even if
 * this ever matched (see known below). */
static const char dummy_hash[] =
    "$y$j9T$VUHOs6F5Mg5spgzRIvLqK/$7PNLIKzzFkDar.myS8Sm0x5Z4odBPUu8OySx8ZGPlu.";

static void
random_hex(char *out)
{
	unsigned char raw[TOKEN_BYTES];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		fatal("getrandom");
	for (int i = 0; i < TOKEN_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Constant-time comparison of two tokens. */
static int
token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la ^ lb);

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0 && la > 0;
}

static void
peer_addr(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	char *host = NULL;
	ev_uint16_t port;

	buf[0] = '\0';
	if (c == NULL)
		return;
	evhttp_connection_get_peer(c, &host, &port);
	snprintf(buf, len, "%s", host ? host : "");
}

static const char *
cookie_token(struct evhttp_request *req, char *buf, size_t len)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	const char *p;

	if (h == NULL)
		return NULL;
	for (p = h; (p = strstr(p, COOKIE "=")) != NULL; p++) {
		if (p != h && p[-1] != ' ' && p[-1] != ';')
			continue;
		p += strlen(COOKIE "=");
		size_t n = strcspn(p, "; ");
		if (n == 0 || n >= len)
			return NULL;
		memcpy(buf, p, n);
		buf[n] = '\0';
		return buf;
	}
	return NULL;
}

static struct session *
find_session(struct auth *a, struct evhttp_request *req)
{
	char tok[TOKEN_HEX + 8];
	time_t now = time(NULL);
	int64_t idle_s = a->cfg->http.session_idle_ms / 1000;

	if (cookie_token(req, tok, sizeof(tok)) == NULL)
		return NULL;
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &a->sessions[i];
		if (s->user == NULL || !token_eq(s->token, tok))
			continue;
		if (now - s->last_seen > idle_s) {
			free(s->user);
			memset(s, 0, sizeof(*s));
			return NULL;
		}
		s->last_seen = now;
		return s;
	}
	return NULL;
}

static int
user_exists(const struct lw_config *cfg, const char *user)
{
	for (size_t i = 0; i < cfg->nusers; i++)
		if (strcmp(cfg->users[i].name, user) == 0)
			return 1;
	return 0;
}

const char *
auth_user(struct auth *a, struct evhttp_request *req)
{
	struct session *s = find_session(a, req);

	/* A user removed from the config on reload loses the session too. */
	if (s == NULL || !user_exists(a->cfg, s->user))
		return NULL;
	return s->user;
}

const char *
auth_csrf(struct auth *a, struct evhttp_request *req)
{
	struct session *s = find_session(a, req);

	return s ? s->csrf : NULL;
}

int
auth_has_users(const struct auth *a)
{
	return a->cfg->nusers > 0;
}

static int
all_listeners_loopback(const struct lw_config *cfg)
{
	for (size_t i = 0; i < cfg->http.nlisten; i++) {
		const char *l = cfg->http.listen[i];
		if (strncmp(l, "127.", 4) != 0 && strncmp(l, "[::1]", 5) != 0)
			return 0;
	}
	return 1;
}

int
auth_may_read(struct auth *a, struct evhttp_request *req)
{
	int pub = a->cfg->http.public_status;

	if (pub == 1 || auth_user(a, req) != NULL)
		return 1;
	if (pub == -1 && all_listeners_loopback(a->cfg))
		return 1;
	if (pub == -1 && a->cfg->nusers == 0 && http_from_loopback(req))
		return 1;
	http_reply_error(req, 401, "log in first: POST /login, or set public-status = yes");
	return 0;
}

/* linewatchctl on this machine: loopback and a custom header.  A browser
 * cannot send a custom header across sites without a CORS preflight, which
 * linewatchd never grants, so this is no CSRF hole. */
static int
local_client(struct evhttp_request *req)
{
	return http_from_loopback(req) && evhttp_find_header(evhttp_request_get_input_headers(req),
	                                                     "X-Linewatch-Client") != NULL;
}

const char *
auth_may_write(struct auth *a, struct evhttp_request *req, const char *body_csrf)
{
	struct session *s;
	const char *hdr;

	if (a->cfg->nusers == 0) {
		if (http_from_loopback(req))
			return "local";
		http_reply_error(req, 403,
		                 "no web-user is configured: write actions are only "
		                 "allowed from this machine (loopback); add a web-user section "
		                 "(linewatchd --hash-password)");
		return NULL;
	}
	s = find_session(a, req);
	if (s == NULL && local_client(req))
		return "local";
	if (s == NULL || !user_exists(a->cfg, s->user)) {
		http_reply_error(req, 401, "log in first");
		return NULL;
	}
	hdr = evhttp_find_header(evhttp_request_get_input_headers(req), "X-CSRF-Token");
	if (hdr == NULL)
		hdr = body_csrf;
	if (hdr == NULL || !token_eq(s->csrf, hdr)) {
		a->stats.csrf_refused++;
		http_reply_error(req, 403, "missing or wrong CSRF token");
		return NULL;
	}
	return s->user;
}

int
auth_parse_form(struct evhttp_request *req, struct evkeyvalq *out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *body;
	int rc;

	TAILQ_INIT(out);
	if (len > 16384)
		return -1;
	body = malloc(len + 1);
	if (body == NULL)
		return -1;
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	rc = evhttp_parse_query_str(body, out);
	free(body);
	return rc;
}

/* --- rate limiting ------------------------------------------------------ */

static struct peer *
peer_slot(struct auth *a, const char *addr, time_t now)
{
	struct peer *oldest = &a->peers[0];

	for (int i = 0; i < MAX_PEERS; i++) {
		struct peer *p = &a->peers[i];
		if (strcmp(p->addr, addr) == 0) {
			if (now - p->window_start > FAIL_WINDOW_S) {
				p->failures = 0;
				p->window_start = now;
			}
			return p;
		}
		if (p->window_start < oldest->window_start)
			oldest = p;
	}
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	oldest->failures = 0;
	oldest->window_start = now;
	return oldest;
}

/* --- login / logout ------------------------------------------------------ */

static void
login_page(struct auth *a, struct evhttp_request *req, int code, const char *msg)
{
	struct evbuffer *b = evbuffer_new();
	struct html_page p = {.title = "Log in", .site = a->cfg->site, .active = ""};

	p.user = auth_user(a, req);
	p.csrf = p.user ? auth_csrf(a, req) : NULL;
	char *next = http_query(req, "next");

	if (b == NULL) {
		free(next);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	html_begin(b, &p);
	if (a->cfg->nusers == 0)
		html_raw(b, "<p class=\"note\">No web user is configured. Create a password hash "
		            "with <code>linewatchd --hash-password</code> and add <code>web-user "
		            "\"name\" { hash = \"...\" }</code> to the configuration, then reload. "
		            "Until then, changes are only accepted from this machine.</p>");
	if (msg) {
		html_raw(b, "<p class=\"error\" role=\"alert\">");
		html_esc(b, msg);
		html_raw(b, "</p>");
	}
	html_raw(b, "<form method=\"post\" action=\"/login\" class=\"login\">"
	            "<label>User <input name=\"user\" autocomplete=\"username\" required></label>"
	            "<label>Password <input name=\"password\" type=\"password\" "
	            "autocomplete=\"current-password\" required></label>"
	            "<input type=\"hidden\" name=\"next\" value=\"");
	html_esc(b, next ? next : "/");
	html_raw(b, "\"><button type=\"submit\">Log in</button></form>");
	html_end(b);
	html_send(req, code, b);
	evbuffer_free(b);
	free(next);
}

static int
safe_next(const char *next)
{
	return next && next[0] == '/' && next[1] != '/' && next[1] != '\\' &&
	       strpbrk(next, "\r\n") == NULL;
}

static struct session *
new_session(struct auth *a, const char *user)
{
	struct session *slot = NULL, *oldest = &a->sessions[0];

	for (int i = 0; i < MAX_SESSIONS; i++) {
		if (a->sessions[i].user == NULL) {
			slot = &a->sessions[i];
			break;
		}
		if (a->sessions[i].last_seen < oldest->last_seen)
			oldest = &a->sessions[i];
	}
	if (slot == NULL) {
		slot = oldest;
		free(slot->user);
	}
	memset(slot, 0, sizeof(*slot));
	random_hex(slot->token);
	random_hex(slot->csrf);
	if ((slot->user = strdup(user)) == NULL)
		fatal("strdup");
	slot->created = slot->last_seen = time(NULL);
	return slot;
}

static void
finish_login(struct login_job *j)
{
	struct auth *a = j->a;
	struct evhttp_request *req = j->req;
	struct peer *p = peer_slot(a, j->peer, time(NULL));
	char cookie[256];

	if (!j->ok) {
		p->failures++;
		a->stats.logins_failed++;
		log_warnx("web: login failed for user \"%s\" from %s (%d in %d s)", j->user,
		          j->peer, p->failures, FAIL_WINDOW_S);
		login_page(a, req, 401, "Wrong user or password.");
		return;
	}
	p->failures = 0;
	struct session *s = new_session(a, j->user);
	a->stats.logins_ok++;
	log_info("web: user \"%s\" logged in from %s", j->user, j->peer);
	snprintf(cookie, sizeof(cookie), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s",
	         s->token, a->tls ? "; Secure" : "");
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Set-Cookie", cookie);
	evhttp_add_header(h, "Location", safe_next(j->next) ? j->next : "/");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, 303, "See Other", NULL);
}

static void
job_free(struct login_job *j)
{
	LIST_REMOVE(j, entry);
	if (j->done)
		event_free(j->done);
	free(j->user);
	free(j->hash);
	if (j->password) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->next);
	free(j);
}

static void
on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct login_job *j = arg;

	j->req = NULL;
	j->conn = NULL;
}

static void
on_job_done(evutil_socket_t fd, short ev, void *arg)
{
	struct login_job *j = arg;

	pthread_join(j->thread, NULL);
	if (j->conn)
		evhttp_connection_set_closecb(j->conn, NULL, NULL);
	if (j->req)
		finish_login(j);
	job_free(j);
}

static void *
verify_thread(void *arg)
{
	struct login_job *j = arg;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;

	h = cd ? crypt_r(j->password, j->hash, cd) : NULL;
	j->ok =
	    h != NULL && h[0] != '*' && strcmp(h, j->hash) == 0 && j->user[0] != '\0' && j->known;
	free(cd);
	event_active(j->done, EV_READ, 0);
	return NULL;
}

static const char *
form_get(struct evkeyvalq *f, const char *k)
{
	const char *v = evhttp_find_header(f, k);
	return v ? v : "";
}

static void
login_post(struct auth *a, struct evhttp_request *req)
{
	struct evkeyvalq form;
	struct login_job *j;
	const char *hash = dummy_hash, *user;
	struct peer *p;

	j = calloc(1, sizeof(*j));
	if (j == NULL || auth_parse_form(req, &form) != 0) {
		free(j);
		login_page(a, req, 400, "The form could not be read.");
		return;
	}
	peer_addr(req, j->peer, sizeof(j->peer));
	p = peer_slot(a, j->peer, time(NULL));
	if (p->failures >= FAIL_LIMIT) {
		a->stats.logins_limited++;
		log_warnx("web: login from %s refused: %d failures in %d s", j->peer, p->failures,
		          FAIL_WINDOW_S);
		evhttp_clear_headers(&form);
		free(j);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "300");
		login_page(a, req, 429, "Too many failed logins: wait five minutes.");
		return;
	}
	user = form_get(&form, "user");
	for (size_t i = 0; i < a->cfg->nusers; i++)
		if (strcmp(a->cfg->users[i].name, user) == 0) {
			hash = a->cfg->users[i].hash;
			j->known = true;
		}
	j->a = a;
	j->req = req;
	j->conn = evhttp_request_get_connection(req);
	j->user = strdup(user);
	j->hash = strdup(hash);
	j->password = strdup(form_get(&form, "password"));
	j->next = strdup(form_get(&form, "next"));
	evhttp_clear_headers(&form);
	j->done = event_new(a->base, -1, 0, on_job_done, j);
	LIST_INSERT_HEAD(&a->jobs, j, entry);
	if (!j->user || !j->hash || !j->password || !j->next || !j->done ||
	    pthread_create(&j->thread, NULL, verify_thread, j) != 0) {
		job_free(j);
		login_page(a, req, 500, "The login could not be processed.");
		return;
	}
	if (j->conn)
		evhttp_connection_set_closecb(j->conn, on_conn_close, j);
}

static void
login_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct auth *a = arg;

	if (rest[0] != '\0') {
		http_reply_error(req, 404, "no such page");
		return;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST)
		login_post(a, req);
	else
		login_page(a, req, 200, NULL);
}

static void
logout_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct auth *a = arg;
	struct evkeyvalq form;
	struct session *s;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		http_reply_error(req, 405, "log out with POST");
		return;
	}
	if (auth_parse_form(req, &form) != 0) {
		http_reply_error(req, 400, "bad form");
		return;
	}
	s = find_session(a, req);
	const char *tok = evhttp_find_header(&form, "csrf");
	if (s != NULL && tok != NULL && token_eq(s->csrf, tok)) {
		log_info("web: user \"%s\" logged out", s->user);
		free(s->user);
		memset(s, 0, sizeof(*s));
	}
	evhttp_clear_headers(&form);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Set-Cookie",
	                  COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
	evhttp_add_header(h, "Location", "/");
	evhttp_send_reply(req, 303, "See Other", NULL);
}

struct auth *
auth_new(struct event_base *base, struct lw_http *h, const struct lw_config *cfg)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->base = base;
	a->cfg = cfg;
	a->tls = cfg->http.tls_cert != NULL;
	LIST_INIT(&a->jobs);
	if (http_route(h, "/login", login_cb, a) != 0 || http_route(h, "/logout", logout_cb, a)) {
		free(a);
		return NULL;
	}
	return a;
}

void
auth_reload(struct auth *a, const struct lw_config *cfg)
{
	a->cfg = cfg;
}

void
auth_stats(const struct auth *a, struct auth_stats *out)
{
	*out = a->stats;
	out->sessions = 0;
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (a->sessions[i].user)
			out->sessions++;
}

void
auth_free(struct auth *a)
{
	struct login_job *j;

	if (a == NULL)
		return;
	while ((j = LIST_FIRST(&a->jobs)) != NULL) {
		pthread_join(j->thread, NULL);
		if (j->conn)
			evhttp_connection_set_closecb(j->conn, NULL, NULL);
		job_free(j);
	}
	for (int i = 0; i < MAX_SESSIONS; i++)
		free(a->sessions[i].user);
	free(a);
}
