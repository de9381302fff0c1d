/* webhook.h - JSON POST of notifications to an HTTP(S) endpoint.
 *
 * The body is the notification document of web/webhook.md; headers are
 * Content-Type: application/json, User-Agent: linewatch/VERSION,
 * X-Linewatch-Event: EVENT, X-Linewatch-Id: ID and the configured ones.
 * 2xx is delivered.  3xx (redirects are not followed), 401, 403, 404, 408,
 * 425, 429, 5xx, timeouts and connection failures are retried; any other
 * 4xx refuses the payload itself and is not retried.
 */
#ifndef LW_WEBHOOK_H
#define LW_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "curlev.h"
#include "deliver.h"

struct webhook;

struct webhook *webhook_new(struct curlev *ce, const struct lw_webhook *cfg);
/* Abandons a POST under way (its callback is not called). */
void webhook_free(struct webhook *w);

/* One POST at a time.  Returns DELIVER_PENDING (cb follows) or
 * DELIVER_RETRY/DELIVER_REJECT with why filled. */
enum deliver_result webhook_send(struct webhook *w, const char *payload, int64_t id, deliver_cb cb,
                                 void *arg, char *why, size_t whylen);

/* The body for a payload: payload with "id" added; caller frees. */
char *webhook_body(const char *payload, int64_t id);
/* How an HTTP status is treated. */
enum deliver_result webhook_status_result(long status);

#endif
