/* pages.h - the status pages: overview, links, devices (server-rendered HTML
 * that works with JavaScript off; app.js only refreshes fragments). */
#ifndef LW_PAGES_H
#define LW_PAGES_H

#include <event2/buffer.h>

#include "auth.h"
#include "config.h"
#include "http.h"
#include "state.h"

struct pages;

struct pages *pages_new(struct lw_http *h, struct lw_state *st, struct auth *auth,
                        const struct lw_config *const *cfgp);
void pages_free(struct pages *p);

/* What the ticket module tells the pages; all optional. */
struct pages_tickets {
	/* "ok", "degraded", "down" or "unknown" for a link. */
	const char *(*link_state)(const char *link, void *arg);
	/* Append the HTML rows (<tr>...</tr>) of open tickets (link NULL: all). */
	void (*open_rows)(struct evbuffer *b, const char *link, void *arg);
	void *arg;
};
void pages_set_tickets(struct pages *p, const struct pages_tickets *t);

#endif
