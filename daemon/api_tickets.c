/* api_tickets.c - list, show and act on tickets over HTTP */
#include <sys/time.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "api_tickets.h"
#include "log.h"
#include "sla.h"
#include "ticket.h"

#define LIST_DEFAULT 50
#define LIST_MAX 500
#define BODY_MAX 16384

struct api_tickets {
	struct auth *auth;
	struct incidents *inc;
	struct db *db;
	const struct lw_config *const *cfgp;
};

/* One context per process: the daemon registers the API once. */
static struct api_tickets api;

struct pending {
	struct evhttp_request *req;
	int64_t id;
};

static int64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* A whole decimal number within [lo, hi]; -1 otherwise. */
static long
param_num(struct evhttp_request *req, const char *key, long dflt, long lo, long hi, int *bad)
{
	char *v = http_query(req, key), *end;
	long n;

	if (v == NULL)
		return dflt;
	n = strtol(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || n < lo || n > hi) {
		*bad = 1;
		n = dflt;
	}
	free(v);
	return n;
}

static void
list_tickets(struct evhttp_request *req)
{
	char *state = http_query(req, "state"), *link = http_query(req, "link");
	int bad = 0;
	long limit = param_num(req, "limit", LIST_DEFAULT, 1, LIST_MAX, &bad);
	long offset = param_num(req, "offset", 0, 0, 1000000000, &bad);
	json_t *j;

	if (bad)
		http_reply_error(req, 400, "limit must be 1 to %d and offset 0 or more", LIST_MAX);
	else if (state && strcmp(state, "open") != 0 && strcmp(state, "acknowledged") != 0 &&
	         strcmp(state, "resolved") != 0 && strcmp(state, "all") != 0)
		http_reply_error(req, 400, "state must be open, acknowledged, resolved or all");
	else if ((j = ticket_list_json(api.db, state, link, (int)limit, (int)offset, now_ms())) ==
	         NULL)
		http_reply_error(req, 500, "cannot read the ticket database (see the log)");
	else
		http_reply_json(req, 200, j);
	free(state);
	free(link);
}

static void
kpi(struct evhttp_request *req)
{
	char *month = http_query(req, "month"), buf[8];
	int64_t from, to;
	json_t *j;

	if (month == NULL) {
		time_t t = time(NULL);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%Y-%m", &tm);
	} else
		snprintf(buf, sizeof(buf), "%.7s", month);
	if ((month && strlen(month) != 7) || sla_month_range(buf, &from, &to) != 0) {
		http_reply_error(req, 400, "month must be YYYY-MM");
		free(month);
		return;
	}
	free(month);
	if ((j = ticket_kpi_json(api.db, from * 1000, to * 1000, now_ms())) == NULL) {
		http_reply_error(req, 500, "cannot read the ticket database (see the log)");
		return;
	}
	json_object_set_new(j, "month", json_string(buf));
	http_reply_json(req, 200, j);
}

static void
show(struct evhttp_request *req, int64_t id)
{
	json_t *j = ticket_get_json(api.db, id, now_ms());

	if (j == NULL) {
		http_reply_error(req, 404, "no ticket LW-%06lld", (long long)id);
		return;
	}
	http_reply_json(req, 200, j);
}

static void
action_done(int rc, void *arg)
{
	struct pending *p = arg;
	json_t *j;

	if (rc != 0)
		http_reply_error(p->req, 500, "the change could not be saved (see the log)");
	else if ((j = ticket_get_json(api.db, p->id, now_ms())) == NULL)
		http_reply_error(p->req, 500, "cannot read the ticket back");
	else
		http_reply_json(p->req, 200, j);
	free(p);
}

/* The request body as a JSON object; an empty body is {}. */
static json_t *
body_json(struct evhttp_request *req, char *err, size_t errlen)
{
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	size_t n = b ? evbuffer_get_length(b) : 0;
	json_error_t je;
	json_t *j;
	char *s;

	if (n == 0)
		return json_object();
	if (n > BODY_MAX) {
		snprintf(err, errlen, "the body is larger than %d bytes", BODY_MAX);
		return NULL;
	}
	if ((s = malloc(n + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	j = json_loadb(s, n, 0, &je);
	free(s);
	if (j == NULL || !json_is_object(j)) {
		snprintf(err, errlen, "the body must be a JSON object%s%s", j ? "" : ": ",
		         j ? "" : je.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

static void
act(struct evhttp_request *req, int64_t id, const char *what)
{
	enum incident_action a;
	const char *who, *text = NULL;
	char err[256] = "";
	struct pending *p;
	json_t *body, *v;
	int rc;

	if (strcmp(what, "ack") == 0 || strcmp(what, "acknowledge") == 0)
		a = INCIDENT_ACK;
	else if (strcmp(what, "comment") == 0)
		a = INCIDENT_COMMENT;
	else if (strcmp(what, "resolve") == 0)
		a = INCIDENT_RESOLVE;
	else if (strcmp(what, "reopen") == 0)
		a = INCIDENT_REOPEN;
	else {
		http_reply_error(req, 404, "no such action: use ack, comment, resolve or reopen");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		http_reply_error(req, 405, "use POST to %s a ticket", what);
		return;
	}
	/* A session with its CSRF token, or this machine's linewatchctl (auth.h). */
	if ((who = auth_may_write(api.auth, req, NULL)) == NULL)
		return;
	if ((body = body_json(req, err, sizeof(err))) == NULL) {
		http_reply_error(req, 400, "%s", err);
		return;
	}
	/* "by" names the person only for the local client; a session is its user. */
	if (strcmp(who, "local") == 0 && (v = json_object_get(body, "by")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_string(v)) {
			json_decref(body);
			http_reply_error(req, 400, "\"by\" must be a string");
			return;
		}
		who = json_string_value(v);
	}
	if ((v = json_object_get(body, "text")) != NULL && !json_is_null(v)) {
		if (!json_is_string(v)) {
			json_decref(body);
			http_reply_error(req, 400, "\"text\" must be a string");
			return;
		}
		text = json_string_value(v);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(body);
		http_reply_error(req, 500, "out of memory");
		return;
	}
	p->req = req;
	p->id = id;
	rc = incidents_action(api.inc, id, a, who, text, action_done, p, err, sizeof(err));
	json_decref(body);
	if (rc != 0) {
		free(p);
		http_reply_error(req, rc, "%s", err);
	}
	/* else: answered by action_done once the change is on disk */
}

static void
tickets_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char ref[32], what[32] = "";
	const char *slash;
	size_t n;
	int64_t id;

	if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
			http_reply_error(req, 405, "only GET is allowed here");
			return;
		}
		list_tickets(req);
		return;
	}
	slash = strchr(rest + 1, '/');
	n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
	if (n == 0 || n >= sizeof(ref) || (slash && strlen(slash + 1) >= sizeof(what))) {
		http_reply_error(req, 404, "no such ticket");
		return;
	}
	memcpy(ref, rest + 1, n);
	ref[n] = '\0';
	if (slash)
		snprintf(what, sizeof(what), "%s", slash + 1);
	if (strcmp(ref, "kpi") == 0 && what[0] == '\0') {
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
			http_reply_error(req, 405, "only GET is allowed here");
		else
			kpi(req);
		return;
	}
	if ((id = ticket_ref_id(ref)) <= 0) {
		http_reply_error(req, 404, "\"%s\" is not a ticket reference (LW-000123)", ref);
		return;
	}
	if (what[0] == '\0') {
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
			http_reply_error(req, 405, "only GET is allowed here");
		else
			show(req, id);
		return;
	}
	act(req, id, what);
}

void
api_tickets_register(struct lw_http *h, struct incidents *inc, struct db *db, struct auth *auth,
                     const struct lw_config *const *cfgp)
{
	api.auth = auth;
	api.inc = inc;
	api.db = db;
	api.cfgp = cfgp;
	if (http_route(h, "/api/v1/tickets", tickets_cb, &api) != 0)
		log_warnx("cannot register /api/v1/tickets");
}
