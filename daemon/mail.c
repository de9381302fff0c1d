/* mail.c - plain-text mail per notification through libcurl SMTP */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "log.h"
#include "mail.h"

#define MAIL_TIMEOUT_MS 60000
#define MAIL_CONNECT_MS 10000
#define MAIL_LINE_MAX 900 /* RFC 5322 allows 998 */

/* libcurl 7.88 waits for the server's answer to the end of the message
 * inside the transfer (smtp_done), blocking whatever drives it, so each
 * e-mail destination sends from a thread of its own and hands the result
 * to the loop; an abandoned mail is aborted through the progress callback
 * within a second. */
struct mailer {
	struct event_base *base;
	char *name;
	char *smtp;
	char *from;
	char **to;
	size_t nto;
	bool starttls;
	char *username;
	char *password; /* never logged */

	/* the mail under way: prepared on the loop, sent by the thread, which
	 * owns every libcurl handle (even the cleanup waits for the server) */
	bool busy;
	char *env_from;
	struct curl_slist *rcpt;
	char *msg;
	size_t len, off;
	deliver_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool job;      /* under mu: easy is the thread's until done */
	bool done;     /* under mu: the thread finished it */
	bool stopping; /* under mu */
	CURLcode res;
	long code;
	atomic_bool abort; /* the progress callback ends the transfer */
	struct event *ev_done;
};

/* --- rendering -------------------------------------------------------- */

static const char *
jget(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : NULL;
}

/* Header text: no line breaks or control characters can get through. */
static void
put_header_text(FILE *fp, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? ' ' : *p, fp);
}

static bool
is_ascii(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80)
			return false;
	return true;
}

static void
base64(FILE *fp, const unsigned char *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = in[i] << 16;
		if (i + 1 < n)
			v |= in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		fputc(tab[(v >> 18) & 63], fp);
		fputc(tab[(v >> 12) & 63], fp);
		fputc(i + 1 < n ? tab[(v >> 6) & 63] : '=', fp);
		fputc(i + 2 < n ? tab[v & 63] : '=', fp);
	}
}

/* Subject: as is when ASCII, else RFC 2047 encoded words of whole UTF-8
 * characters, folded. */
static void
put_subject(FILE *fp, const char *subject)
{
	char *clean = NULL;
	size_t cl = 0, n;
	FILE *c = open_memstream(&clean, &cl);
	const unsigned char *p;

	if (c == NULL)
		return;
	put_header_text(c, subject);
	fclose(c);
	fputs("Subject: ", fp);
	if (is_ascii(clean)) {
		fputs(clean, fp);
		fputs("\r\n", fp);
		free(clean);
		return;
	}
	p = (const unsigned char *)clean;
	n = strlen(clean);
	while (n > 0) {
		size_t chunk = n < 45 ? n : 45;
		while (chunk < n && (p[chunk] & 0xc0) == 0x80)
			chunk--; /* never split a character */
		fputs("=?UTF-8?B?", fp);
		base64(fp, p, chunk);
		fputs("?=", fp);
		p += chunk;
		n -= chunk;
		fputs(n > 0 ? "\r\n " : "\r\n", fp);
	}
	free(clean);
}

/* Body text: LF or CRLF become CRLF, other control characters a space,
 * very long lines are broken. */
static void
put_body_text(FILE *fp, const char *s)
{
	size_t col = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			fputs("\r\n", fp);
			col = 0;
			continue;
		}
		if (col >= MAIL_LINE_MAX && (*p & 0xc0) != 0x80) {
			fputs("\r\n", fp);
			col = 0;
		}
		fputc(*p < 0x20 || *p == 0x7f ? ' ' : *p, fp);
		col++;
	}
}

static void
put_field(FILE *fp, const char *label, const char *value)
{
	if (value == NULL)
		return;
	fprintf(fp, "  %-10s ", label);
	put_body_text(fp, value);
	fputs("\r\n", fp);
}

static const char *
verb(const char *event)
{
	static const struct {
		const char *event, *text;
	} v[] = {
	    {"opened", "was opened"},
	    {"updated", "was updated"},
	    {"acknowledged", "was acknowledged"},
	    {"commented", "has a new comment"},
	    {"resolved", "was resolved"},
	    {"reopened", "was reopened"},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (event && strcmp(event, v[i].event) == 0)
			return v[i].text;
	return "changed";
}

static void
subject_text(FILE *fp, const char *event, json_t *j)
{
	json_t *t = json_object_get(j, "ticket"), *l = json_object_get(j, "link");
	const char *site = jget(j, "site"), *ref = jget(t, "ref"), *link = jget(l, "name");
	const char *title = jget(t, "title"), *sev = jget(t, "severity"), *kind = jget(t, "kind");

	if (strcmp(event, "link-state") == 0) {
		fprintf(fp, "Link %s is %s", link ? link : "?",
		        jget(l, "state") ? jget(l, "state") : "unknown");
	} else if (ref != NULL) {
		fprintf(fp, "%s %s", ref, event);
		if (jget(j, "by") &&
		    (strcmp(event, "acknowledged") == 0 || strcmp(event, "resolved") == 0 ||
		     strcmp(event, "commented") == 0))
			fprintf(fp, " by %s", jget(j, "by"));
		fputs(": ", fp);
		if (title)
			fputs(title, fp);
		else
			fprintf(fp, "%s%s%s on %s", sev ? sev : "", sev ? " " : "",
			        kind ? kind : "problem", link ? link : "?");
	} else {
		fprintf(fp, "linewatch %s", event);
	}
	if (site)
		fprintf(fp, " (%s)", site);
}

static void
put_metrics(FILE *fp, json_t *metrics)
{
	if (!json_is_object(metrics) || json_object_size(metrics) == 0)
		return;
	fputs("\r\nEvidence:\r\n", fp);
	for (void *it = json_object_iter(metrics); it; it = json_object_iter_next(metrics, it)) {
		json_t *m = json_object_iter_value(it), *v = json_object_get(m, "value");
		const char *unit = jget(m, "unit");
		char line[256];

		if (json_is_number(v))
			snprintf(line, sizeof(line), "  %-14s %g%s%s", json_object_iter_key(it),
			         json_number_value(v), unit ? " " : "", unit ? unit : "");
		else
			snprintf(line, sizeof(line), "  %-14s unknown", json_object_iter_key(it));
		put_body_text(fp, line);
		fputs("\r\n", fp);
	}
}

static void
put_num(FILE *fp, json_t *p, const char *key, const char *unit)
{
	json_t *v = json_object_get(p, key);

	if (json_is_number(v))
		fprintf(fp, "  %s %g%s", key, json_number_value(v), unit);
}

/* One line per probe: name (hop): status, figures, message. */
static void
put_probes(FILE *fp, json_t *probes)
{
	if (!json_is_array(probes) || json_array_size(probes) == 0)
		return;
	fputs("\r\nProbes:\r\n", fp);
	for (size_t i = 0; i < json_array_size(probes); i++) {
		json_t *p = json_array_get(probes, i);

		fputs("  ", fp);
		put_body_text(fp, jget(p, "name") ? jget(p, "name") : "?");
		if (jget(p, "hop")) {
			fputs(" (", fp);
			put_body_text(fp, jget(p, "hop"));
			fputs(")", fp);
		}
		fputs(": ", fp);
		put_body_text(fp, jget(p, "status") ? jget(p, "status") : "unknown");
		put_num(fp, p, "loss", "%");
		put_num(fp, p, "latency", " ms");
		put_num(fp, p, "jitter", " ms");
		if (jget(p, "message")) {
			fputs(" - ", fp);
			put_body_text(fp, jget(p, "message"));
		}
		fputs("\r\n", fp);
	}
}

/* "2025-01-15T10:32:05Z" -> "2025-01-15 10:32:05 UTC" */
static void
put_when(FILE *fp, const char *iso)
{
	char buf[64];

	if (iso == NULL)
		return;
	snprintf(buf, sizeof(buf), "%.10s %.8s UTC", iso, strlen(iso) > 11 ? iso + 11 : "");
	put_field(fp, "When:", buf);
}

static void
put_body(FILE *fp, const char *event, json_t *j, int64_t id)
{
	json_t *t = json_object_get(j, "ticket"), *l = json_object_get(j, "link");

	if (jget(t, "ref")) {
		fprintf(fp, "Ticket ");
		put_body_text(fp, jget(t, "ref"));
		fprintf(fp, " %s", verb(event));
		if (jget(j, "by")) {
			fputs(" by ", fp);
			put_body_text(fp, jget(j, "by"));
		}
		fputs(".\r\n\r\n", fp);
	} else if (strcmp(event, "link-state") == 0) {
		fputs("A link changed state.\r\n\r\n", fp);
	}
	put_field(fp, "Title:", jget(t, "title"));
	put_field(fp, "Site:", jget(j, "site"));
	put_field(fp, "Link:", jget(l, "name"));
	put_field(fp, "Provider:", jget(l, "provider"));
	put_field(fp, "Circuit:", jget(l, "circuit"));
	put_field(fp, "Link state:", jget(l, "state"));
	put_field(fp, "Device:", jget(json_object_get(j, "device"), "name"));
	put_field(fp, "Kind:", jget(t, "kind"));
	put_field(fp, "Severity:", jget(t, "severity"));
	put_field(fp, "State:", jget(t, "state"));
	put_field(fp, "Blame:", jget(t, "blame"));
	put_when(fp, jget(j, "time"));
	put_metrics(fp, json_object_get(j, "metrics"));
	put_probes(fp, json_object_get(j, "probes"));
	if (jget(j, "text")) {
		/* a technician's words, or the appliance's note on the event */
		if (jget(j, "by")) {
			fputs("\r\nComment by ", fp);
			put_body_text(fp, jget(j, "by"));
			fputs(":\r\n", fp);
		} else {
			fputs("\r\nNote:\r\n", fp);
		}
		put_body_text(fp, jget(j, "text"));
		fputs("\r\n", fp);
	}
	fprintf(fp, "\r\n-- \r\nlinewatch notification %" PRId64 "\r\n", id);
}

char *
mail_render(const char *payload, int64_t id, const char *from, char *const *to, size_t nto)
{
	json_t *j = json_loads(payload, 0, NULL);
	const char *event = j ? jget(j, "event") : NULL;
	char *out = NULL, *subj = NULL, host[256], date[64];
	size_t outlen = 0, sl = 0;
	FILE *fp, *sp;
	time_t now = time(NULL);
	struct tm tm;

	if (j == NULL || event == NULL) {
		json_decref(j);
		return NULL;
	}
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0' || strchr(host, '\n'))
		snprintf(host, sizeof(host), "linewatch");
	host[sizeof(host) - 1] = '\0';
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if ((fp = open_memstream(&out, &outlen)) == NULL ||
	    (sp = open_memstream(&subj, &sl)) == NULL) {
		if (fp)
			fclose(fp);
		free(out);
		json_decref(j);
		return NULL;
	}
	subject_text(sp, event, j);
	fclose(sp);

	fprintf(fp, "Date: %s\r\n", date);
	fputs("From: ", fp);
	put_header_text(fp, from);
	fputs("\r\nTo: ", fp);
	for (size_t i = 0; i < nto; i++) {
		if (i > 0)
			fputs(",\r\n ", fp);
		put_header_text(fp, to[i]);
	}
	fputs("\r\n", fp);
	put_subject(fp, subj);
	fprintf(fp, "Message-ID: <linewatch.%" PRId64 ".%lld@", id, (long long)now);
	put_header_text(fp, host);
	fputs(">\r\n", fp);
	fputs("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	      "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n",
	      fp);
	fprintf(fp, "X-Linewatch-Event: %s\r\n\r\n",
	        strspn(event, "abcdefghijklmnopqrstuvwxyz-") == strlen(event) ? event : "unknown");
	put_body(fp, event, j, id);
	fclose(fp);
	free(subj);
	json_decref(j);
	return out;
}

/* --- sending ---------------------------------------------------------- */

static char **
copy_list(char *const *v, size_t n)
{
	char **c = calloc(n + 1, sizeof(*c));

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((c[i] = strdup(v[i])) == NULL) {
			for (size_t k = 0; k < i; k++)
				free(c[k]);
			free(c);
			return NULL;
		}
	return c;
}

static char *
dup_or_null(const char *s, bool *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*ok = false;
	return d;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg);
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow);

/* On the thread: one whole SMTP session, blocking. */
static CURLcode
perform(struct mailer *m, long *code)
{
	CURL *easy = curl_easy_init();
	CURLcode res;

	if (easy == NULL)
		return CURLE_OUT_OF_MEMORY;
	curl_easy_setopt(easy, CURLOPT_URL, m->smtp);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(easy, CURLOPT_MAIL_FROM, m->env_from);
	curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, m->rcpt);
	curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(easy, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(easy, CURLOPT_READDATA, m);
	curl_easy_setopt(easy, CURLOPT_INFILESIZE, (long)m->len);
	if (strncmp(m->smtp, "smtp://", 7) == 0)
		curl_easy_setopt(easy, CURLOPT_USE_SSL,
		                 m->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	if (m->username)
		curl_easy_setopt(easy, CURLOPT_USERNAME, m->username);
	if (m->password)
		curl_easy_setopt(easy, CURLOPT_PASSWORD, m->password);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)MAIL_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)MAIL_CONNECT_MS);
	curl_easy_setopt(easy, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)(MAIL_CONNECT_MS / 1000));
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, m->errbuf);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, m);
	res = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, code);
	curl_easy_cleanup(easy); /* QUIT, and waits for its answer */
	return res;
}

static void *
sender(void *arg)
{
	struct mailer *m = arg;

	pthread_mutex_lock(&m->mu);
	for (;;) {
		CURLcode res;
		long code = 0;

		while (!m->job && !m->stopping)
			pthread_cond_wait(&m->cv, &m->mu);
		if (m->stopping)
			break;
		pthread_mutex_unlock(&m->mu);

		res = perform(m, &code);

		pthread_mutex_lock(&m->mu);
		m->res = res;
		m->code = code;
		m->job = false;
		m->done = true;
		event_active(m->ev_done, EV_READ, 0);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void
end_mail(struct mailer *m)
{
	m->busy = false;
	free(m->env_from);
	m->env_from = NULL;
	curl_slist_free_all(m->rcpt);
	m->rcpt = NULL;
	free(m->msg);
	m->msg = NULL;
}

/* On the loop: the thread finished a mail. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct mailer *m = arg;
	deliver_cb cb = m->cb;
	void *cbarg = m->arg;
	char why[CURL_ERROR_SIZE + 64];
	CURLcode res;
	long code;

	pthread_mutex_lock(&m->mu);
	if (!m->done) {
		pthread_mutex_unlock(&m->mu);
		return;
	}
	m->done = false;
	res = m->res;
	code = m->code;
	pthread_mutex_unlock(&m->mu);

	if (res == CURLE_OK)
		snprintf(why, sizeof(why), "accepted (%ld)", code);
	else if (code > 0)
		snprintf(why, sizeof(why), "%s (SMTP %ld)",
		         m->errbuf[0] ? m->errbuf : curl_easy_strerror(res), code);
	else
		snprintf(why, sizeof(why), "%s",
		         m->errbuf[0] ? m->errbuf : curl_easy_strerror(res));
	end_mail(m);
	cb(cbarg, res == CURLE_OK ? DELIVER_OK : DELIVER_RETRY, why);
}

struct mailer *
mail_new(struct event_base *base, const struct lw_email *cfg)
{
	struct mailer *m = calloc(1, sizeof(*m));
	bool ok = true;

	if (m == NULL)
		return NULL;
	m->base = base;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	atomic_init(&m->abort, false);
	m->name = dup_or_null(cfg->name, &ok);
	m->smtp = dup_or_null(cfg->smtp, &ok);
	m->from = dup_or_null(cfg->from, &ok);
	m->username = dup_or_null(cfg->username, &ok);
	m->password = dup_or_null(cfg->password, &ok);
	m->starttls = cfg->starttls;
	m->nto = cfg->nto;
	if ((m->to = copy_list(cfg->to, cfg->nto)) == NULL || !ok || m->smtp == NULL ||
	    m->from == NULL || (m->ev_done = event_new(base, -1, 0, on_done, m)) == NULL ||
	    pthread_create(&m->thread, NULL, sender, m) != 0) {
		mail_free(m);
		return NULL;
	}
	m->thread_started = true;
	return m;
}

void
mail_free(struct mailer *m)
{
	if (m == NULL)
		return;
	if (m->thread_started) {
		atomic_store(&m->abort, true);
		pthread_mutex_lock(&m->mu);
		m->stopping = true;
		pthread_cond_signal(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
	}
	end_mail(m);
	if (m->ev_done)
		event_free(m->ev_done);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m->name);
	free(m->smtp);
	free(m->from);
	for (size_t i = 0; m->to && i < m->nto; i++)
		free(m->to[i]);
	free(m->to);
	free(m->username);
	if (m->password)
		explicit_bzero(m->password, strlen(m->password));
	free(m->password);
	free(m);
}

static size_t
on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct mailer *m = arg;
	size_t n = size * nmemb, left = m->len - m->off;

	if (n > left)
		n = left;
	memcpy(buf, m->msg + m->off, n);
	m->off += n;
	return n;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct mailer *m = arg;

	return atomic_load(&m->abort) ? 1 : 0;
}

/* The envelope address: what is inside <...>, or the whole thing. */
static char *
envelope(const char *addr)
{
	const char *lt = strrchr(addr, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	char *s;

	if (lt && gt)
		return asprintf(&s, "%.*s", (int)(gt - lt + 1), lt) == -1 ? NULL : s;
	return asprintf(&s, "<%s>", addr) == -1 ? NULL : s;
}

enum deliver_result
mail_send(struct mailer *m, const char *payload, int64_t id, deliver_cb cb, void *arg, char *why,
          size_t whylen)
{
	if (m->busy) {
		snprintf(why, whylen, "a mail is already under way");
		return DELIVER_RETRY;
	}
	if ((m->msg = mail_render(payload, id, m->from, m->to, m->nto)) == NULL) {
		snprintf(why, whylen, "the notification is not a JSON object with an event");
		return DELIVER_REJECT;
	}
	m->busy = true;
	m->len = strlen(m->msg);
	m->off = 0;
	for (size_t i = 0; i < m->nto; i++) {
		struct curl_slist *n;
		char *env = envelope(m->to[i]);
		if (env == NULL)
			continue;
		n = curl_slist_append(m->rcpt, env);
		free(env);
		if (n)
			m->rcpt = n;
	}
	if (m->rcpt == NULL || (m->env_from = envelope(m->from)) == NULL) {
		snprintf(why, whylen, "out of memory");
		end_mail(m);
		return DELIVER_RETRY;
	}
	m->cb = cb;
	m->arg = arg;
	m->errbuf[0] = '\0';
	pthread_mutex_lock(&m->mu);
	m->job = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return DELIVER_PENDING;
}
