/* http.h - evhttp server: listeners, routing, JSON replies, limits.
 *
 * Modules register a handler for a path prefix; the longest matching prefix
 * wins.  Handlers get the request and the rest of the path after the prefix.
 */
#ifndef LW_HTTP_H
#define LW_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "config.h"

struct lw_http;

typedef void (*http_handler)(struct evhttp_request *req, const char *rest, void *arg);

/* Binds every listen address; on failure logs which one and why and returns NULL. */
struct lw_http *http_new(struct event_base *base, const struct lw_config *cfg);
void http_free(struct lw_http *h);
void http_set_config(struct lw_http *h, const struct lw_config *cfg);

int http_route(struct lw_http *h, const char *prefix, http_handler cb, void *arg);
/* Index of the route serving path (longest prefix), *rest after it; -1 none. */
int http_route_lookup(const struct lw_http *h, const char *path, const char **rest);

/* A check run before every GET of /api/ except /api/v1/health: returns 1 to
 * go on, or 0 after answering (401). */
typedef int (*http_guard)(struct evhttp_request *req, void *arg);
void http_set_guard(struct lw_http *h, http_guard guard, void *arg);

/* Reply helpers: json is stolen (json_decref'd). */
void http_reply_json_text(struct evhttp_request *req, int code, const char *text, size_t len);
void http_reply_json(struct evhttp_request *req, int code, json_t *json);
void http_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Query parameter from the request URI (decoded), or NULL. Caller frees. */
char *http_query(struct evhttp_request *req, const char *key);
/* Request came from a loopback address. */
int http_from_loopback(struct evhttp_request *req);

#endif
