/* mail.h - one plain-text e-mail per notification, through libcurl SMTP.
 *
 * Subject: "LW-000123 opened: critical loss on isp-fibre (SITE)"; the body
 * has the ticket, the link (provider, circuit), when, the evidence and any
 * comment.  smtp:// with starttls = true requires STARTTLS; smtps:// is TLS
 * from the start.  Accepted by the server is delivered; anything else is
 * retried.  The transfer runs on a thread of the destination's own (libcurl
 * blocks while the server acknowledges the message); results come back on
 * the loop.
 */
#ifndef LW_MAIL_H
#define LW_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include <event2/event.h>
#include "deliver.h"

struct mailer;

struct mailer *mail_new(struct event_base *base, const struct lw_email *cfg);
/* Abandons a mail under way (its callback is not called; the transfer is
 * aborted within a second). */
void mail_free(struct mailer *m);

/* One mail at a time.  Returns DELIVER_PENDING (cb follows) or
 * DELIVER_RETRY/DELIVER_REJECT with why filled. */
enum deliver_result mail_send(struct mailer *m, const char *payload, int64_t id, deliver_cb cb,
                              void *arg, char *why, size_t whylen);

/* The whole message (headers, blank line, body; CRLF line ends) for a
 * payload; caller frees.  NULL if the payload is not a notification. */
char *mail_render(const char *payload, int64_t id, const char *from, char *const *to, size_t nto);

#endif
