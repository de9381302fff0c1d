/* html.h - building HTML pages safely: every outside string goes through
 * html_esc(); the page frame carries the CSP-compatible assets. */
#ifndef LW_HTML_H
#define LW_HTML_H

#include <event2/buffer.h>
#include <event2/http.h>

/* Append s with & < > " ' escaped (NULL appends nothing). */
void html_esc(struct evbuffer *b, const char *s);
/* Append a printf-formatted string verbatim: only for trusted literals and
 * numbers, never for outside strings. */
void html_raw(struct evbuffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Escape into a buffer for attribute/URL use: percent-encodes for URLs. */
void html_url(struct evbuffer *b, const char *s);

/* <span class="badge STATE">STATE</span>; NULL shows "unknown". */
void html_badge(struct evbuffer *b, const char *state);

struct html_page {
	const char *title;  /* escaped */
	const char *site;   /* escaped */
	const char *user;   /* logged-in user or NULL */
	const char *csrf;   /* session CSRF token or NULL */
	const char *active; /* nav item: "overview", "tickets", "devices", "sla" */
	int refresh_s;      /* >0: <meta refresh> fallback for JS-off browsers */
};

void html_begin(struct evbuffer *b, const struct html_page *p);
void html_end(struct evbuffer *b);
/* Send b as text/html with security headers; frees nothing. */
void html_send(struct evhttp_request *req, int code, struct evbuffer *b);

#endif
