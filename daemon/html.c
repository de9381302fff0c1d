/* html.c - escaping and the page frame */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "html.h"

void
html_esc(struct evbuffer *b, const char *s)
{
	const char *start = s;

	if (s == NULL)
		return;
	for (; *s; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			/* Control characters from devices never reach the page. */
			if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
				rep = "\xef\xbf\xbd";
		}
		if (rep == NULL)
			continue;
		evbuffer_add(b, start, (size_t)(s - start));
		evbuffer_add(b, rep, strlen(rep));
		start = s + 1;
	}
	evbuffer_add(b, start, (size_t)(s - start));
}

void
html_raw(struct evbuffer *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
}

void
html_url(struct evbuffer *b, const char *s)
{
	char *e = s ? evhttp_uriencode(s, -1, 0) : NULL;

	if (e == NULL)
		return;
	html_esc(b, e);
	free(e);
}

static void
nav_item(struct evbuffer *b, const struct html_page *p, const char *id, const char *href,
         const char *label)
{
	int on = p->active && strcmp(p->active, id) == 0;

	html_raw(b, "<a href=\"%s\"%s>%s</a>", href,
	         on ? " class=\"on\" aria-current=\"page\"" : "", label);
}

void
html_begin(struct evbuffer *b, const struct html_page *p)
{
	html_raw(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
	if (p->refresh_s > 0)
		html_raw(b, "<noscript><meta http-equiv=\"refresh\" content=\"%d\"></noscript>",
		         p->refresh_s);
	if (p->csrf)
		html_raw(b, "<meta name=\"csrf-token\" content=\"%s\">", p->csrf);
	html_raw(b, "<title>");
	html_esc(b, p->title);
	html_raw(b, " · ");
	html_esc(b, p->site);
	html_raw(b, "</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
	            "<link rel=\"stylesheet\" href=\"/static/print.css\" media=\"print\">"
	            "<script src=\"/static/app.js\" defer></script></head><body>"
	            "<header><div class=\"site\"><a href=\"/\">");
	html_esc(b, p->site);
	html_raw(b, "</a></div><nav>");
	nav_item(b, p, "overview", "/", "Overview");
	nav_item(b, p, "tickets", "/tickets", "Tickets");
	nav_item(b, p, "devices", "/devices", "Devices");
	nav_item(b, p, "sla", "/sla", "SLA");
	html_raw(b, "</nav><div class=\"who\">");
	if (p->user) {
		html_esc(b, p->user);
		html_raw(b,
		         " <form method=\"post\" action=\"/logout\" class=\"inline\">"
		         "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
		         "<button type=\"submit\">Log out</button></form>",
		         p->csrf ? p->csrf : "");
	} else
		html_raw(b, "<a href=\"/login\">Log in</a>");
	html_raw(b, "</div></header><main>\n<h1>");
	html_esc(b, p->title);
	html_raw(b, "</h1>\n");
}

void
html_end(struct evbuffer *b)
{
	html_raw(b, "\n</main><footer>linewatch " LW_VERSION "</footer></body></html>\n");
}

void
html_send(struct evhttp_request *req, int code, struct evbuffer *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(
	    h, "Content-Security-Policy",
	    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
	    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, NULL, b);
}

void
html_badge(struct evbuffer *b, const char *state)
{
	if (state == NULL)
		state = "unknown";
	html_raw(b, "<span class=\"badge ");
	html_esc(b, state);
	html_raw(b, "\">");
	html_esc(b, state);
	html_raw(b, "</span>");
}
