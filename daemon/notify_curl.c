/* notify_curl.c - the table notify-curl.so exports (see notify_curl.h). */
#include <stdbool.h>

#include <curl/curl.h>

#include "curlev.h"
#include "mail.h"
#include "notify_curl.h"
#include "webhook.h"

/* libcurl's own parser, so that -t refuses exactly what a send would. */
static bool
url_ok(const char *url)
{
	CURLU *u = curl_url();
	bool ok;

	if (u == NULL)
		return true; /* out of memory: the send will say */
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK;
	curl_url_cleanup(u);
	return ok;
}

const struct lw_notify_curl lw_notify_curl = {
    .abi = LW_NOTIFY_CURL_ABI,
    .webhook_cfg_size = sizeof(struct lw_webhook),
    .email_cfg_size = sizeof(struct lw_email),
    .url_ok = url_ok,
    .curlev_new = curlev_new,
    .curlev_free = curlev_free,
    .webhook_new = webhook_new,
    .webhook_free = webhook_free,
    .webhook_send = webhook_send,
    .mail_new = mail_new,
    .mail_free = mail_free,
    .mail_send = mail_send,
};
