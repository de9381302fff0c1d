/* http.c - evhttp listeners, prefix routing, limits, JSON replies */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http.h"
#include "log.h"

#define HTTP_MAX_HEADERS (16 * 1024)
#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_TIMEOUT_S 30

struct route {
	char *prefix;
	size_t len;
	http_handler cb;
	void *arg;
};

struct lw_http {
	struct evhttp *http;
	const struct lw_config *cfg;
	struct route *routes;
	size_t nroutes;
	SSL_CTX *tls;     /* NULL: plain HTTP */
	http_guard guard; /* may this request read /api/? (login, public-status) */
	void *guard_arg;
	unsigned long requests;
	unsigned long not_found;
};

/* Every connection gets its own TLS session over the listener's socket. */
static struct bufferevent *
tls_bevcb(struct event_base *base, void *arg)
{
	SSL_CTX *ctx = arg;
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                      BEV_OPT_CLOSE_ON_FREE);
}

static SSL_CTX *
tls_setup(const struct lw_config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned long e;

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->http.tls_cert) != 1) {
		e = ERR_get_error();
		log_warnx("http: cannot load tls-cert %s: %s", cfg->http.tls_cert,
		          ERR_reason_error_string(e));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->http.tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_get_error();
		log_warnx("http: cannot load tls-key %s (or it does not match tls-cert): %s",
		          cfg->http.tls_key, ERR_reason_error_string(e));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Split "ADDR:PORT" / "[ADDR6]:PORT" (config.c has validated it). */
static int
split_listen(const char *s, char *host, size_t hostlen, unsigned short *port)
{
	const char *colon = strrchr(s, ':');
	size_t hl;

	if (colon == NULL)
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (unsigned short)atoi(colon + 1);
	return 0;
}

static void
add_security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(
	    h, "Content-Security-Policy",
	    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
	    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

void
http_reply_json(struct evhttp_request *req, int code, json_t *json)
{
	struct evbuffer *buf = evbuffer_new();
	char *s = json ? json_dumps(json, JSON_COMPACT) : NULL;

	if (buf == NULL) {
		free(s);
		json_decref(json);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (s != NULL) {
		evbuffer_add(buf, s, strlen(s));
		evbuffer_add(buf, "\n", 1);
	}
	add_security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
	free(s);
	json_decref(json);
}

void
http_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_reply_json(req, code, json_pack("{s:s, s:i}", "error", msg, "status", code));
}

char *
http_query(struct evhttp_request *req, const char *key)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params;
	const char *v;
	char *out = NULL;

	if (q == NULL)
		return NULL;
	TAILQ_INIT(&params);
	if (evhttp_parse_query_str(q, &params) != 0)
		return NULL;
	v = evhttp_find_header(&params, key);
	if (v != NULL)
		out = strdup(v);
	evhttp_clear_headers(&params);
	return out;
}

int
http_from_loopback(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct sockaddr *sa = conn ? evhttp_connection_get_addr(conn) : NULL;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return s6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

/* Longest registered prefix that matches path; *rest = the part after it. */
int
http_route_lookup(const struct lw_http *h, const char *path, const char **rest)
{
	const struct route *best = NULL;

	if (path == NULL || path[0] != '/')
		return -1;
	for (size_t i = 0; i < h->nroutes; i++) {
		const struct route *r = &h->routes[i];
		if (strncmp(path, r->prefix, r->len) != 0)
			continue;
		/* "/api/v1/devices" must not match "/api/v1/devicesX". */
		if (r->prefix[r->len - 1] != '/' && path[r->len] != '\0' && path[r->len] != '/')
			continue;
		if (best == NULL || r->len > best->len)
			best = r;
	}
	if (best == NULL)
		return -1;
	*rest = path + best->len;
	return (int)(best - h->routes);
}

static void
dispatch(struct evhttp_request *req, void *arg)
{
	struct lw_http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *rest;
	int i;

	h->requests++;
	if (path == NULL || path[0] != '/') {
		http_reply_error(req, 400, "bad request path");
		return;
	}
	/* Reads of the JSON API follow the same rule as the pages; health stays
	 * open so that liveness checks need no credentials. */
	if (h->guard && evhttp_request_get_command(req) != EVHTTP_REQ_POST &&
	    strncmp(path, "/api/", 5) == 0 && strcmp(path, "/api/v1/health") != 0 &&
	    !h->guard(req, h->guard_arg))
		return;
	if ((i = http_route_lookup(h, path, &rest)) < 0) {
		h->not_found++;
		http_reply_error(req, 404, "no such page: %s", "see /api/v1/health");
		return;
	}
	h->routes[i].cb(req, rest, h->routes[i].arg);
}

void
http_set_guard(struct lw_http *h, http_guard guard, void *arg)
{
	h->guard = guard;
	h->guard_arg = arg;
}

void
http_reply_json_text(struct evhttp_request *req, int code, const char *text, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(buf, text, len);
	add_security_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
}

int
http_route(struct lw_http *h, const char *prefix, http_handler cb, void *arg)
{
	struct route *n = realloc(h->routes, (h->nroutes + 1) * sizeof(*n));

	if (n == NULL)
		return -1;
	h->routes = n;
	n[h->nroutes].prefix = strdup(prefix);
	if (n[h->nroutes].prefix == NULL)
		return -1;
	n[h->nroutes].len = strlen(prefix);
	n[h->nroutes].cb = cb;
	n[h->nroutes].arg = arg;
	h->nroutes++;
	return 0;
}

struct lw_http *
http_new(struct event_base *base, const struct lw_config *cfg)
{
	struct lw_http *h = calloc(1, sizeof(*h));
	char host[128];
	unsigned short port;

	if (h == NULL)
		return NULL;
	h->cfg = cfg;
	h->http = evhttp_new(base);
	if (h->http == NULL) {
		free(h);
		return NULL;
	}
	evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, HTTP_MAX_BODY);
	evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(h->http, dispatch, h);
	if (cfg->http.tls_cert != NULL) {
		if ((h->tls = tls_setup(cfg)) == NULL) {
			http_free(h);
			return NULL;
		}
		evhttp_set_bevcb(h->http, tls_bevcb, h->tls);
	}
	for (size_t i = 0; i < cfg->http.nlisten; i++) {
		const char *l = cfg->http.listen[i];
		if (split_listen(l, host, sizeof(host), &port) != 0 ||
		    evhttp_bind_socket(h->http, host, port) != 0) {
			log_warn("http: cannot listen on %s (is another process using the port?)",
			         l);
			http_free(h);
			return NULL;
		}
		log_info("http: listening on %s%s", h->tls ? "https://" : "http://", l);
	}
	return h;
}

void
http_set_config(struct lw_http *h, const struct lw_config *cfg)
{
	h->cfg = cfg;
}

void
http_free(struct lw_http *h)
{
	if (h == NULL)
		return;
	if (h->http)
		evhttp_free(h->http);
	if (h->tls)
		SSL_CTX_free(h->tls);
	for (size_t i = 0; i < h->nroutes; i++)
		free(h->routes[i].prefix);
	free(h->routes);
	free(h);
}
