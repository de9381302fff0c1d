/* curlev.h - libcurl multi transfers driven by the libevent loop.
 *
 * One multi handle per curlev; libcurl tells which sockets to watch and
 * when to wake up, libevent does the waiting.  Nothing blocks: name
 * resolution runs in libcurl's resolver thread.
 */
#ifndef LW_CURLEV_H
#define LW_CURLEV_H

#include <curl/curl.h>
#include <event2/event.h>

struct curlev;

/* Called on the loop when the transfer finished (res: CURLE_OK or why
 * not).  The easy handle is no longer in the multi; the caller owns it. */
typedef void (*curlev_done_cb)(CURL *easy, CURLcode res, void *arg);

struct curlev *curlev_new(struct event_base *base);
/* Transfers still running are abandoned without their callbacks. */
void curlev_free(struct curlev *ce);

/* Start a configured transfer.  CURLOPT_PRIVATE is used by curlev. */
int curlev_add(struct curlev *ce, CURL *easy, curlev_done_cb cb, void *arg);
/* Abandon a running transfer without its callback; the caller frees easy. */
void curlev_cancel(struct curlev *ce, CURL *easy);

#endif
