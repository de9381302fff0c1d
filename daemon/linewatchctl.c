/* linewatchctl.c - small command-line client for the daemon's JSON API */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

struct buf {
	char *data;
	size_t len;
};

static size_t
on_data(char *ptr, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = size * n;
	char *nd;

	if (b->len + add > 16 * 1024 * 1024)
		return 0;
	if ((nd = realloc(b->data, b->len + add + 1)) == NULL)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, ptr, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static void
usage(void)
{
	fprintf(stderr, "usage: linewatchctl [-u URL] COMMAND\n"
	                "  health                 daemon status\n"
	                "  devices | probes | links\n"
	                "  tickets [all]          open (or all) tickets\n"
	                "  show REF               one ticket with its timeline\n"
	                "  ack REF                acknowledge a ticket\n"
	                "  comment REF TEXT       add a comment\n"
	                "  resolve REF            resolve by hand\n"
	                "  reopen REF             reopen a resolved ticket\n"
	                "URL defaults to $LINEWATCH_URL or http://127.0.0.1:8080\n");
	exit(2);
}

static int
request(const char *base, const char *path, const char *post, struct buf *out, long *code)
{
	CURL *c = curl_easy_init();
	char url[2048];
	struct curl_slist *hdr = NULL;
	CURLcode rc;

	if (c == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	hdr = curl_slist_append(hdr, "X-Linewatch-Client: linewatchctl");
	if (post != NULL) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		fprintf(stderr, "linewatchctl: %s: %s\n", url, curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

static char *
escape_ref(const char *ref)
{
	CURL *c = curl_easy_init();
	char *e = c ? curl_easy_escape(c, ref, 0) : NULL;
	char *r = e ? strdup(e) : NULL;

	curl_free(e);
	if (c)
		curl_easy_cleanup(c);
	return r;
}

int
main(int argc, char *argv[])
{
	const char *base = getenv("LINEWATCH_URL");
	char path[1024];
	char *post = NULL, *ref = NULL;
	struct buf out = {NULL, 0};
	long code = 0;
	int i = 1, rc;

	if (base == NULL)
		base = "http://127.0.0.1:8080";
	if (argc > 2 && strcmp(argv[1], "-u") == 0) {
		base = argv[2];
		i = 3;
	}
	if (i >= argc)
		usage();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *cmd = argv[i];
	if (i + 1 < argc)
		ref = escape_ref(argv[i + 1]);
	if (!strcmp(cmd, "health") || !strcmp(cmd, "devices") || !strcmp(cmd, "probes") ||
	    !strcmp(cmd, "links"))
		snprintf(path, sizeof(path), "/api/v1/%s", cmd);
	else if (!strcmp(cmd, "tickets"))
		snprintf(path, sizeof(path), "/api/v1/tickets?state=%s",
		         (ref && !strcmp(argv[i + 1], "all")) ? "all" : "open");
	else if (!strcmp(cmd, "show") && ref)
		snprintf(path, sizeof(path), "/api/v1/tickets/%s", ref);
	else if ((!strcmp(cmd, "ack") || !strcmp(cmd, "resolve") || !strcmp(cmd, "reopen")) &&
	         ref) {
		snprintf(path, sizeof(path), "/api/v1/tickets/%s/%s", ref, cmd);
		post = strdup("{}");
	} else if (!strcmp(cmd, "comment") && ref && i + 2 < argc) {
		json_t *j = json_pack("{s:s}", "text", argv[i + 2]);
		snprintf(path, sizeof(path), "/api/v1/tickets/%s/comment", ref);
		post = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	} else {
		free(ref);
		usage();
	}
	rc = request(base, path, post, &out, &code);
	if (rc == 0 && out.data) {
		json_error_t err;
		json_t *j = json_loads(out.data, 0, &err);
		if (j) {
			json_dumpf(j, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(j);
		} else
			fputs(out.data, stdout);
	}
	free(out.data);
	free(post);
	free(ref);
	curl_global_cleanup();
	if (rc != 0)
		return 1;
	return code >= 200 && code < 300 ? 0 : 1;
}
