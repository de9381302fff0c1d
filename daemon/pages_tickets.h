/* pages_tickets.h - /tickets pages (list, ticket with timeline and actions)
 * and the ticket hooks of the overview (pages.h). */
#ifndef LW_PAGES_TICKETS_H
#define LW_PAGES_TICKETS_H

#include "auth.h"
#include "config.h"
#include "http.h"
#include "incident.h"
#include "pages.h"

struct pages_tickets_ctx;

struct pages_tickets_ctx *pages_tickets_new(struct lw_http *h, struct pages *pages,
                                            struct incidents *inc, struct auth *auth,
                                            const struct lw_config *const *cfgp);
void pages_tickets_free(struct pages_tickets_ctx *pt);

#endif
