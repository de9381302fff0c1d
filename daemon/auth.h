/* auth.h - web users, sessions, CSRF tokens, login rate limiting.
 *
 * Users come from `web-user` sections (crypt(3) hashes).  A login creates a
 * session (random 256-bit token in an HttpOnly, SameSite=Strict cookie) with
 * its own CSRF token; every POST must carry the session and the token
 * (form field `csrf` or header `X-CSRF-Token`).  With no user configured,
 * write actions are allowed from loopback only, as user "local".  The local
 * command-line client (loopback plus an X-Linewatch-Client header) may write
 * without a session, as "local", also when users are configured.
 */
#ifndef LW_AUTH_H
#define LW_AUTH_H

#include <event2/http.h>

#include "config.h"
#include "http.h"

struct auth;

struct auth *auth_new(struct event_base *base, struct lw_http *h, const struct lw_config *cfg);
void auth_reload(struct auth *a, const struct lw_config *cfg);
void auth_free(struct auth *a);

/* The logged-in user of this request, or NULL. */
const char *auth_user(struct auth *a, struct evhttp_request *req);
/* The session's CSRF token, or NULL without a session (for forms). */
const char *auth_csrf(struct auth *a, struct evhttp_request *req);

/* May this request read pages and GET API?  If not, a 401 (API) has been sent. */
int auth_may_read(struct auth *a, struct evhttp_request *req);

/* Check a write (POST): session + CSRF token, or loopback when no user is
 * configured.  Returns the acting user, or NULL after sending 401/403.
 * `body_csrf` is the token from a parsed form body, or NULL. */
const char *auth_may_write(struct auth *a, struct evhttp_request *req, const char *body_csrf);

/* Whether any web-user is configured (pages say how to add one if not). */
int auth_has_users(const struct auth *a);

/* Counters for /metrics. */
struct auth_stats {
	unsigned long logins_ok;
	unsigned long logins_failed;
	unsigned long logins_limited;
	unsigned long csrf_refused;
	unsigned long sessions;
};
void auth_stats(const struct auth *a, struct auth_stats *out);

/* Parse an application/x-www-form-urlencoded body into a TAILQ of key/values;
 * returns 0 or -1.  Free with evhttp_clear_headers(). */
struct evkeyvalq;
int auth_parse_form(struct evhttp_request *req, struct evkeyvalq *out);

#endif
