/* libFuzzer harness: the request router and everything that parses the
 * request line's path and query: prefix routing, percent-decoding, the
 * static-file path check and query-string parsing.  Input: a request target
 * ("/path?query"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http.h"
#include "static_files.h"

static struct lw_http *h;

static void
nop(struct evhttp_request *req, const char *rest, void *arg)
{
}

static void
setup(void)
{
	static struct lw_config cfg; /* no listeners: nothing is bound */
	static const char *const routes[] = {"/",
	                                     "/api/v1/health",
	                                     "/api/v1/devices",
	                                     "/api/v1/probes",
	                                     "/api/v1/links",
	                                     "/api/v1/tickets",
	                                     "/api/v1/traffic",
	                                     "/login",
	                                     "/logout",
	                                     "/static/",
	                                     "/graph/",
	                                     "/metrics",
	                                     "/devices",
	                                     "/links",
	                                     "/tickets"};
	struct event_base *base = event_base_new();

	h = http_new(base, &cfg);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		http_route(h, routes[i], nop, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *target, *q, *dec;
	const char *rest;
	struct evkeyvalq params;
	struct evhttp_uri *uri;
	size_t dlen;

	if (h == NULL)
		setup();
	if (size > 8192)
		return 0;
	target = malloc(size + 1);
	memcpy(target, data, size);
	target[size] = '\0';
	uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
	if (uri != NULL) {
		const char *path = evhttp_uri_get_path(uri);
		if (path && http_route_lookup(h, path, &rest) >= 0) {
			dec = evhttp_uridecode(rest, 0, &dlen);
			if (dec != NULL && strlen(dec) == dlen && static_path_ok(dec) == 0)
				/* What static_path_ok lets through can never climb. */
				if (strstr(dec, "..") &&
				    (strstr(dec, "/../") || !strncmp(dec, "../", 3)))
					abort();
			free(dec);
		}
		if ((q = (char *)evhttp_uri_get_query(uri)) != NULL) {
			TAILQ_INIT(&params);
			if (evhttp_parse_query_str(q, &params) == 0)
				evhttp_clear_headers(&params);
		}
		evhttp_uri_free(uri);
	}
	free(target);
	return 0;
}
