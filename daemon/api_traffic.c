/* api_traffic.c - /api/v1/traffic and /api/v1/evidence */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_traffic.h"
#include "auth.h"
#include "evidence.h"
#include "traffic_db.h"

#define DEFAULT_SPAN_S 3600
#define TOP_MAX 1000

struct api_traffic {
	struct captures *cs;
	struct auth *auth;
};

static struct api_traffic api;

static int
get_only(struct evhttp_request *req)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_reply_error(req, 405, "only GET here");
		return 0;
	}
	return 1;
}

/* A number parameter; 1 = absent (def used), 0 = ok, -1 = bad. */
static int
num_param(struct evhttp_request *req, const char *key, double def, double *out)
{
	char *v = http_query(req, key), *end;

	*out = def;
	if (v == NULL)
		return 1;
	errno = 0;
	*out = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || *out != *out) {
		free(v);
		return -1;
	}
	free(v);
	return 0;
}

static void
traffic_query(struct evhttp_request *req, struct captures *cs, const char *name)
{
	double now = (double)time(NULL), from, to, top;
	const char *err = NULL;
	json_t *j;

	if (captures_find(cs, name) == NULL) {
		http_reply_error(req, 404, "no capture named like that");
		return;
	}
	if (num_param(req, "to", now, &to) < 0 ||
	    num_param(req, "from", to - DEFAULT_SPAN_S, &from) < 0 ||
	    num_param(req, "top", 20, &top) < 0 || top < 1 || top > TOP_MAX || from > to) {
		http_reply_error(req, 400, "from and to are unix seconds (from <= to), top 1..%d",
		                 TOP_MAX);
		return;
	}
	if (captures_db(cs) == NULL) {
		http_reply_error(req, 503, "traffic history is off (see the log)");
		return;
	}
	j = traffic_db_query(captures_db(cs), name, from, to, (int)top, &err);
	if (j == NULL) {
		http_reply_error(req, 500, "traffic database: %s", err ? err : "error");
		return;
	}
	http_reply_json(req, 200, j);
}

static int
may_read(struct api_traffic *at, struct evhttp_request *req)
{
	return at->auth == NULL || auth_may_read(at->auth, req);
}

static void
traffic_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct api_traffic *at = arg;
	struct captures *cs = at->cs;
	struct capture *c;
	char *name;
	json_t *a;

	if (!get_only(req) || !may_read(at, req))
		return;
	if (rest[0] == '/' && rest[1] != '\0') {
		if ((c = captures_find(cs, rest + 1)) == NULL) {
			http_reply_error(req, 404, "no capture named like that");
			return;
		}
		http_reply_json(req, 200, capture_status_json(c, 1));
		return;
	}
	if (rest[0] != '\0' && strcmp(rest, "/") != 0) {
		http_reply_error(req, 404, "no such page");
		return;
	}
	if ((name = http_query(req, "capture")) != NULL) {
		traffic_query(req, cs, name);
		free(name);
		return;
	}
	a = json_array();
	for (size_t i = 0; i < captures_count(cs); i++)
		json_array_append_new(a, capture_status_json(captures_get(cs, i), 1));
	http_reply_json(req, 200, json_pack("{s:o}", "captures", a));
}

static void
evidence_list(struct evhttp_request *req, struct captures *cs)
{
	char *ref = http_query(req, "ticket"), suffix[EVIDENCE_NAME_MAX + 8], url[PATH_MAX];
	const char *dir = captures_evidence_dir(cs);
	json_t *a = json_array();
	struct dirent *de;
	struct stat st;
	DIR *d;

	suffix[0] = '\0';
	/* "<capture>-<ref>.pcap": the ref made safe the way file names are */
	if (ref != NULL && evidence_file_name("x", ref, suffix, sizeof(suffix)) != 0) {
		free(ref);
		http_reply_error(req, 400, "ticket reference too long");
		json_decref(a);
		return;
	}
	free(ref);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t n = strlen(de->d_name), m = strlen(suffix + 1);

			if (!evidence_name_valid(de->d_name))
				continue;
			if (suffix[0] && (n <= m || strcmp(de->d_name + n - m, suffix + 1) != 0))
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
			    !S_ISREG(st.st_mode))
				continue;
			snprintf(url, sizeof(url), "/api/v1/evidence/%s", de->d_name);
			json_array_append_new(a,
			                      json_pack("{s:s, s:I, s:I, s:s}", "file", de->d_name,
			                                "bytes", (json_int_t)st.st_size, "time",
			                                (json_int_t)st.st_mtime, "url", url));
		}
		closedir(d);
	}
	http_reply_json(req, 200, json_pack("{s:o}", "evidence", a));
}

static void
evidence_get(struct evhttp_request *req, struct captures *cs, const char *name)
{
	char path[PATH_MAX], disp[EVIDENCE_NAME_MAX + 64];
	struct evbuffer *buf;
	struct stat st;
	int fd;

	if (!evidence_name_valid(name)) {
		http_reply_error(req, 404, "no such evidence file");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", captures_evidence_dir(cs), name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		snprintf(disp, sizeof(disp), "%s/%s.part", captures_evidence_dir(cs), name);
		if (access(disp, F_OK) == 0)
			http_reply_error(req, 409, "evidence is still being recorded");
		else
			http_reply_error(req, 404, "no such evidence file");
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || (buf = evbuffer_new()) == NULL) {
		close(fd);
		http_reply_error(req, 500, "cannot read the evidence file");
		return;
	}
	/* evbuffer_add_file takes the descriptor (sendfile or mmap, no read loop) */
	if (evbuffer_add_file(buf, fd, 0, st.st_size) != 0) {
		evbuffer_free(buf);
		http_reply_error(req, 500, "cannot read the evidence file");
		return;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/vnd.tcpdump.pcap");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Disposition", disp);
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Content-Type-Options",
	                  "nosniff");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

static const char *
form_value(struct evkeyvalq *form, int parsed, struct evhttp_request *req, const char *key,
           char **owned)
{
	const char *v = parsed ? evhttp_find_header(form, key) : NULL;

	if (v != NULL)
		return v;
	*owned = http_query(req, key);
	return *owned;
}

static void
evidence_post(struct evhttp_request *req, struct api_traffic *at)
{
	struct evkeyvalq form;
	char *q1 = NULL, *q2 = NULL, *q3 = NULL, name[EVIDENCE_NAME_MAX + 8], url[PATH_MAX];
	const char *cap, *ref, *csrf;
	struct capture *c;
	int parsed = auth_parse_form(req, &form) == 0; /* always initialises form */

	cap = form_value(&form, parsed, req, "capture", &q1);
	ref = form_value(&form, parsed, req, "ticket", &q2);
	csrf = form_value(&form, parsed, req, "csrf", &q3);
	if (at->auth != NULL ? auth_may_write(at->auth, req, csrf) == NULL
	                     : !http_from_loopback(req)) {
		if (at->auth == NULL)
			http_reply_error(req, 403, "evidence can be requested from loopback only");
		goto out;
	}
	if (cap == NULL || ref == NULL || (c = captures_find(at->cs, cap)) == NULL) {
		http_reply_error(req, 400, "capture (an existing one) and ticket are required");
		goto out;
	}
	if (evidence_file_name(cap, ref, name, sizeof(name)) != 0 ||
	    evidence_trigger(c, ref, time(NULL)) != 0) {
		http_reply_error(req, 503, "capture %s cannot record evidence now",
		                 "(see the log)");
		goto out;
	}
	snprintf(url, sizeof(url), "/api/v1/evidence/%s", name);
	http_reply_json(req, 202, json_pack("{s:s, s:s}", "file", name, "url", url));
out:
	evhttp_clear_headers(&form);
	free(q1);
	free(q2);
	free(q3);
}

static void
evidence_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct api_traffic *at = arg;
	struct captures *cs = at->cs;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && rest[0] == '\0') {
		evidence_post(req, at);
		return;
	}
	if (!get_only(req) || !may_read(at, req))
		return;
	if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
		evidence_list(req, cs);
		return;
	}
	evidence_get(req, cs, rest + 1);
}

int
api_traffic_register(struct lw_http *h, struct captures *cs, struct auth *auth)
{
	api.cs = cs;
	api.auth = auth;
	if (http_route(h, "/api/v1/traffic", traffic_cb, &api) != 0 ||
	    http_route(h, "/api/v1/evidence", evidence_cb, &api) != 0)
		return -1;
	return 0;
}
