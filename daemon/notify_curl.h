/* notify_curl.h - the notify-curl.so plugin: webhooks and e-mail.
 *
 * libcurl and its dependency closure (TLS, Kerberos, LDAP, SSH, IDN, ...)
 * cost every daemon about 4 MB of resident shared-library pages, even one
 * with no webhook or e-mail configured.  So curlev.c, webhook.c and mail.c
 * live in PLUGINDIR/notify-curl.so, which notify.c dlopen()s only when the
 * configuration has a webhook or an email destination.  The plugin exports
 * one symbol, `lw_notify_curl`; notify.c refuses it unless abi is
 * LW_NOTIFY_CURL_ABI and the configuration structures have the sizes the
 * daemon was built with.  Like the probe plugins, it takes log_* from the
 * executable (linked with -rdynamic).
 */
#ifndef LW_NOTIFY_CURL_H
#define LW_NOTIFY_CURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "deliver.h"

/* Bump on any change to the table below, deliver.h or the function
 * signatures; struct lw_webhook / lw_email changes are caught by size. */
#define LW_NOTIFY_CURL_ABI 1
#define LW_NOTIFY_CURL_FILE "notify-curl.so"
#define LW_NOTIFY_CURL_SYMBOL "lw_notify_curl"

struct curlev;
struct webhook;
struct mailer;

struct lw_notify_curl {
	uint32_t abi;
	size_t webhook_cfg_size; /* sizeof(struct lw_webhook) */
	size_t email_cfg_size;   /* sizeof(struct lw_email) */

	/* syntax check of a webhook url or smtp url (linewatchd -t, reload) */
	bool (*url_ok)(const char *url);

	struct curlev *(*curlev_new)(struct event_base *base);
	void (*curlev_free)(struct curlev *ce);

	struct webhook *(*webhook_new)(struct curlev *ce, const struct lw_webhook *cfg);
	void (*webhook_free)(struct webhook *w);
	enum deliver_result (*webhook_send)(struct webhook *w, const char *payload, int64_t id,
	                                    deliver_cb cb, void *arg, char *why, size_t whylen);

	struct mailer *(*mail_new)(struct event_base *base, const struct lw_email *cfg);
	void (*mail_free)(struct mailer *m);
	enum deliver_result (*mail_send)(struct mailer *m, const char *payload, int64_t id,
	                                 deliver_cb cb, void *arg, char *why, size_t whylen);
};

extern const struct lw_notify_curl lw_notify_curl;

#endif
