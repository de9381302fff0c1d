/* static_files.c - serve web-dir/static/ files; nothing outside it, ever */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "static_files.h"

#define MAX_STATIC_SIZE (4 * 1024 * 1024)

struct static_files {
	const struct lw_config *const *cfgp;
	unsigned long refused;
};

static const struct {
	const char *ext;
	const char *type;
} mime[] = {
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".md", "text/plain; charset=utf-8"},
    {".json", "application/json"},
    {".woff2", "font/woff2"},
};

static const char *
mime_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(mime) / sizeof(mime[0]); i++)
		if (strcmp(dot, mime[i].ext) == 0)
			return mime[i].type;
	return NULL;
}

int
static_path_ok(const char *rel)
{
	const char *seg = rel;

	if (rel[0] == '\0' || rel[0] == '/')
		return -1;
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return -1;
	while (seg) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return -1;
		seg = end ? end + 1 : NULL;
	}
	return 0;
}

static void
refuse(struct static_files *sf, struct evhttp_request *req, const char *why)
{
	sf->refused++;
	http_reply_error(req, 404, "no such file (%s)", why);
}

static void
static_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct static_files *sf = arg;
	const struct lw_config *cfg = *sf->cfgp;
	char root[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
	const char *type;
	struct evbuffer *b;
	struct stat st;
	size_t dlen;
	char *dec;
	int fd;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		http_reply_error(req, 405, "static files are read-only");
		return;
	}
	/* Decode once, then refuse anything that could climb: "%2e%2e", "..%2f". */
	dec = evhttp_uridecode(rest, 0, &dlen);
	if (dec == NULL || strlen(dec) != dlen || static_path_ok(dec) != 0) {
		free(dec);
		refuse(sf, req, "bad path");
		return;
	}
	snprintf(root, sizeof(root), "%s/static", cfg->web_dir);
	if (snprintf(path, sizeof(path), "%s/%s", root, dec) >= (int)sizeof(path)) {
		free(dec);
		refuse(sf, req, "path too long");
		return;
	}
	free(dec);
	if ((type = mime_type(path)) == NULL) {
		refuse(sf, req, "type not served");
		return;
	}
	/* Symlinks may not lead out of the static tree either. */
	char rroot[PATH_MAX];
	if (realpath(root, rroot) == NULL || realpath(path, real) == NULL ||
	    strncmp(real, rroot, strlen(rroot)) != 0 || real[strlen(rroot)] != '/') {
		refuse(sf, req, "not found");
		return;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MAX_STATIC_SIZE) {
		if (fd != -1)
			close(fd);
		refuse(sf, req, "not found");
		return;
	}
	b = evbuffer_new();
	if (b == NULL || evbuffer_add_file(b, fd, 0, st.st_size) != 0) {
		if (b)
			evbuffer_free(b);
		else
			close(fd);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Cache-Control", "public, max-age=300");
	evhttp_add_header(h, "Content-Security-Policy",
	                  "default-src 'none'; frame-ancestors 'none'");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

struct static_files *
static_files_new(struct lw_http *h, const struct lw_config *const *cfgp)
{
	struct static_files *sf = calloc(1, sizeof(*sf));

	if (sf == NULL)
		return NULL;
	sf->cfgp = cfgp;
	if (http_route(h, "/static/", static_cb, sf) != 0) {
		free(sf);
		return NULL;
	}
	return sf;
}

void
static_files_free(struct static_files *sf)
{
	free(sf);
}
