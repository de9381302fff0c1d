/* webhook.c - JSON POST through libcurl multi on the event loop */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "curlev.h"
#include "log.h"
#include "webhook.h"

#ifndef LW_VERSION
#define LW_VERSION "0"
#endif

#define WEBHOOK_CONNECT_MS 10000
#define WEBHOOK_REPLY_MAX 65536

struct webhook {
	struct curlev *ce;
	char *name;
	char *url;
	struct curl_slist *headers; /* configured ones; may hold secrets: never logged */
	long timeout_ms;

	/* the POST under way */
	CURL *easy;
	struct curl_slist *req_headers;
	char *body;
	deliver_cb cb;
	void *arg;
	size_t reply_len;
	char errbuf[CURL_ERROR_SIZE];
};

enum deliver_result
webhook_status_result(long status)
{
	if (status >= 200 && status < 300)
		return DELIVER_OK;
	if (status >= 400 && status < 500 && status != 401 && status != 403 && status != 404 &&
	    status != 408 && status != 425 && status != 429)
		return DELIVER_REJECT;
	return DELIVER_RETRY;
}

char *
webhook_body(const char *payload, int64_t id)
{
	json_error_t jerr;
	json_t *j = json_loads(payload, 0, &jerr), *out;
	char *s;

	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	/* "id" second, after "schema", so people reading it see it first */
	out = json_object();
	json_object_set(out, "schema", json_object_get(j, "schema"));
	json_object_set_new(out, "id", json_integer(id));
	json_object_update_missing(out, j);
	json_decref(j);
	s = json_dumps(out, JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_decref(out);
	return s;
}

struct webhook *
webhook_new(struct curlev *ce, const struct lw_webhook *cfg)
{
	struct webhook *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->ce = ce;
	w->name = strdup(cfg->name);
	w->url = strdup(cfg->url);
	w->timeout_ms = cfg->timeout_ms > 0 ? (long)cfg->timeout_ms : 10000;
	if (w->name == NULL || w->url == NULL)
		goto fail;
	for (size_t i = 0; i < cfg->nheaders; i++) {
		char *h;
		struct curl_slist *n;
		if (cfg->headers[i].key == NULL)
			continue;
		if (asprintf(&h, "%s: %s", cfg->headers[i].key,
		             cfg->headers[i].value ? cfg->headers[i].value : "") == -1)
			goto fail;
		n = curl_slist_append(w->headers, h);
		explicit_bzero(h, strlen(h));
		free(h);
		if (n == NULL)
			goto fail;
		w->headers = n;
	}
	return w;
fail:
	webhook_free(w);
	return NULL;
}

static void
end_request(struct webhook *w)
{
	if (w->easy) {
		curlev_cancel(w->ce, w->easy);
		curl_easy_cleanup(w->easy);
		w->easy = NULL;
	}
	curl_slist_free_all(w->req_headers);
	w->req_headers = NULL;
	free(w->body);
	w->body = NULL;
}

void
webhook_free(struct webhook *w)
{
	if (w == NULL)
		return;
	end_request(w);
	curl_slist_free_all(w->headers);
	free(w->name);
	free(w->url);
	free(w);
}

/* The reply is not used; count it so a huge one ends the transfer. */
static size_t
on_reply(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct webhook *w = arg;

	w->reply_len += size * nmemb;
	return w->reply_len > WEBHOOK_REPLY_MAX ? 0 : size * nmemb;
}

static void
on_done(CURL *easy, CURLcode res, void *arg)
{
	struct webhook *w = arg;
	deliver_cb cb = w->cb;
	void *cbarg = w->arg;
	enum deliver_result r;
	char why[CURL_ERROR_SIZE + 64];
	long status = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (res == CURLE_WRITE_ERROR && w->reply_len > WEBHOOK_REPLY_MAX && status > 0) {
		res = CURLE_OK; /* the status is all we need */
	}
	if (res != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
		         w->errbuf[0] ? w->errbuf : curl_easy_strerror(res));
		r = DELIVER_RETRY;
	} else {
		r = webhook_status_result(status);
		if (status >= 300 && status < 400)
			snprintf(why, sizeof(why),
			         "HTTP %ld (redirects are not followed: fix the "
			         "url)",
			         status);
		else
			snprintf(why, sizeof(why), "HTTP %ld", status);
	}
	/* the transfer is over: the handle is ours again */
	curl_easy_cleanup(w->easy);
	w->easy = NULL;
	end_request(w);
	cb(cbarg, r, why);
}

static struct curl_slist *
request_headers(struct webhook *w, const char *event, int64_t id)
{
	struct curl_slist *l = NULL, *n;
	char buf[128];
	const char *fixed[] = {"Content-Type: application/json",
	                       "User-Agent: linewatch/" LW_VERSION, "Expect:"};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if ((n = curl_slist_append(l, fixed[i])) != NULL)
			l = n;
	snprintf(buf, sizeof(buf), "X-Linewatch-Event: %s", event);
	if ((n = curl_slist_append(l, buf)) != NULL)
		l = n;
	snprintf(buf, sizeof(buf), "X-Linewatch-Id: %" PRId64, id);
	if ((n = curl_slist_append(l, buf)) != NULL)
		l = n;
	for (struct curl_slist *h = w->headers; h; h = h->next)
		if ((n = curl_slist_append(l, h->data)) != NULL)
			l = n;
	return l;
}

static const char *
payload_event(const char *body, char *buf, size_t len)
{
	json_t *j = json_loads(body, 0, NULL);
	const char *e = j ? json_string_value(json_object_get(j, "event")) : NULL;

	snprintf(buf, len, "%s",
	         e && strspn(e, "abcdefghijklmnopqrstuvwxyz-") == strlen(e) ? e : "unknown");
	json_decref(j);
	return buf;
}

enum deliver_result
webhook_send(struct webhook *w, const char *payload, int64_t id, deliver_cb cb, void *arg,
             char *why, size_t whylen)
{
	char event[32];

	if (w->easy != NULL) {
		snprintf(why, whylen, "a POST is already under way");
		return DELIVER_RETRY;
	}
	if ((w->body = webhook_body(payload, id)) == NULL) {
		snprintf(why, whylen, "the notification is not a JSON object");
		return DELIVER_REJECT;
	}
	payload_event(w->body, event, sizeof(event));
	w->req_headers = request_headers(w, event, id);
	if ((w->easy = curl_easy_init()) == NULL) {
		snprintf(why, whylen, "out of memory");
		end_request(w);
		return DELIVER_RETRY;
	}
	w->cb = cb;
	w->arg = arg;
	w->reply_len = 0;
	w->errbuf[0] = '\0';
	curl_easy_setopt(w->easy, CURLOPT_URL, w->url);
	curl_easy_setopt(w->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(w->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(w->body));
	curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, w->req_headers);
	curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, w->timeout_ms);
	curl_easy_setopt(w->easy, CURLOPT_CONNECTTIMEOUT_MS,
	                 w->timeout_ms < WEBHOOK_CONNECT_MS ? w->timeout_ms
	                                                    : (long)WEBHOOK_CONNECT_MS);
	curl_easy_setopt(w->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->easy, CURLOPT_ERRORBUFFER, w->errbuf);
	if (curlev_add(w->ce, w->easy, on_done, w) != 0) {
		snprintf(why, whylen, "cannot start the transfer");
		curl_easy_cleanup(w->easy);
		w->easy = NULL;
		end_request(w);
		return DELIVER_RETRY;
	}
	return DELIVER_PENDING;
}
