/* graph.c - PNG graphs from the RRD files, rendered by librrd on a thread.
 *
 *   /graph/interface/<device>/<interface>/<traffic|errors|utilization>.png
 *   /graph/probe/<link>/<probe>/<loss|latency>.png
 *   /graph/device/<device>/<reachability|uptime>.png
 *     ?range=3h|1d|1w|1m|1y   or   ?start=EPOCH&end=EPOCH
 *     &w=200..1600 &h=80..600
 *
 * Names are URL-encoded path segments (an interface "Gi1/0/1" is
 * "Gi1%2F0%2F1").  Every parameter is checked against a whitelist and every
 * rrdtool argument is built here from fixed templates: nothing from the URL
 * reaches librrd except through the file path, which rrd_store_file() has
 * made one safe component per name.  Rendered images are cached briefly.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rrd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "graph.h"
#include "log.h"
#include "rrd_store.h"

#define CACHE_SLOTS 64
#define CACHE_TTL_S 30
#define MAX_ARGS 40
#define ARG_LEN (PATH_MAX + 128)
#define MAX_QUEUE 32

struct cached {
	char *key;
	unsigned char *png;
	size_t len;
	time_t made;
};

struct gjob {
	struct graph *g;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	char *key;
	char *file; /* the RRD file drawn */
	int argc;
	char args[MAX_ARGS][ARG_LEN];
	unsigned char *png;
	size_t len;
	char err[256];
	TAILQ_ENTRY(gjob) entry;
};
TAILQ_HEAD(gjobq, gjob);

struct graph {
	const struct lw_config *const *cfgp;
	struct event_base *base;
	struct event *done_ev;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gjobq todo; /* loop -> thread */
	struct gjobq done; /* thread -> loop */
	int stopping;
	void (*sync)(const char *file, void *arg);
	void *sync_arg;
	size_t queued;
	struct cached cache[CACHE_SLOTS];
	unsigned long rendered, refused, cache_hits;
};

struct template
{
	const char *kind;
	const char *name;
	const char *title;
	const char *vlabel;
	const char *lines[6]; /* "ds|color|legend|AREA or LINE2|scale" */
};

static const struct template templates[] = {
    {"interface",
     "traffic",
     "traffic",
     "bits per second",
     {"in_bps|4caf50|In|AREA|1", "out_bps|1e66c8|Out|LINE2|1"}},
    {"interface",
     "errors",
     "errors and discards",
     "per minute",
     {"in_errors_ps|c53030|In errors|LINE2|60", "out_errors_ps|dd6b20|Out errors|LINE2|60",
      "in_discards_ps|805ad5|In discards|LINE1|60",
      "out_discards_ps|d53f8c|Out discards|LINE1|60"}},
    {"interface",
     "utilization",
     "utilization",
     "percent",
     {"utilization_in_pct|4caf50|In|LINE2|1", "utilization_out_pct|1e66c8|Out|LINE2|1"}},
    {"probe", "loss", "packet loss", "percent", {"loss|c53030|Loss|AREA|1"}},
    {"probe",
     "latency",
     "latency and jitter",
     "milliseconds",
     {"rtt_avg|1e66c8|Average|LINE2|1", "rtt_max|90cdf4|Max|LINE1|1",
      "jitter|dd6b20|Jitter|LINE1|1"}},
    {"device",
     "reachability",
     "SNMP reachability",
     "reachable",
     {"reachable|4caf50|Reachable|AREA|1"}},
    {"device", "uptime", "uptime", "days", {"uptime_s|1e66c8|Uptime|LINE2|0.0000115741"}},
};

static const struct {
	const char *name;
	long seconds;
} ranges[] = {
    {"3h", 3 * 3600}, {"1d", 86400}, {"1w", 7 * 86400}, {"1m", 31 * 86400}, {"1y", 366 * 86400},
};

static void
job_free(struct gjob *j)
{
	free(j->key);
	free(j->file);
	free(j->png);
	free(j);
}

/* --- the render thread --------------------------------------------------- */

static void
render(struct gjob *j)
{
	char *argv[MAX_ARGS + 1];
	rrd_info_t *info, *p;

	for (int i = 0; i < j->argc; i++)
		argv[i] = j->args[i];
	argv[j->argc] = NULL;
	rrd_clear_error();
	info = rrd_graph_v(j->argc, argv);
	if (info == NULL) {
		snprintf(j->err, sizeof(j->err), "%s", rrd_get_error());
		return;
	}
	for (p = info; p; p = p->next) {
		if (strcmp(p->key, "image") != 0 || p->type != RD_I_BLO)
			continue;
		j->png = malloc(p->value.u_blo.size);
		if (j->png != NULL) {
			memcpy(j->png, p->value.u_blo.ptr, p->value.u_blo.size);
			j->len = p->value.u_blo.size;
		}
	}
	rrd_info_free(info);
	if (j->png == NULL)
		snprintf(j->err, sizeof(j->err), "no image produced");
}

static void *
render_thread(void *arg)
{
	struct graph *g = arg;
	struct gjob *j;

	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (!g->stopping && TAILQ_EMPTY(&g->todo))
			pthread_cond_wait(&g->cv, &g->mu);
		if (g->stopping)
			break;
		void (*sync)(const char *, void *) = g->sync;
		void *sync_arg = g->sync_arg;

		j = TAILQ_FIRST(&g->todo);
		TAILQ_REMOVE(&g->todo, j, entry);
		pthread_mutex_unlock(&g->mu);
		if (sync != NULL)
			sync(j->file, sync_arg);
		render(j);
		pthread_mutex_lock(&g->mu);
		TAILQ_INSERT_TAIL(&g->done, j, entry);
		event_active(g->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* --- the loop side ------------------------------------------------------- */

static void
send_png(struct evhttp_request *req, const unsigned char *png, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(b, png, len);
	evhttp_add_header(h, "Content-Type", "image/png");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Cache-Control", "private, max-age=30");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
cache_put(struct graph *g, struct gjob *j)
{
	struct cached *slot = &g->cache[0];

	for (int i = 0; i < CACHE_SLOTS; i++) {
		if (g->cache[i].key == NULL) {
			slot = &g->cache[i];
			break;
		}
		if (g->cache[i].made < slot->made)
			slot = &g->cache[i];
	}
	free(slot->key);
	free(slot->png);
	slot->key = j->key;
	slot->png = j->png;
	slot->len = j->len;
	slot->made = time(NULL);
	j->key = NULL;
	j->png = NULL;
}

static const struct cached *
cache_get(struct graph *g, const char *key)
{
	time_t now = time(NULL);

	for (int i = 0; i < CACHE_SLOTS; i++)
		if (g->cache[i].key && strcmp(g->cache[i].key, key) == 0 &&
		    now - g->cache[i].made < CACHE_TTL_S)
			return &g->cache[i];
	return NULL;
}

static void
on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct gjob *j = arg;

	j->req = NULL;
	j->conn = NULL;
}

static void
on_done(evutil_socket_t fd, short ev, void *arg)
{
	struct graph *g = arg;
	struct gjobq batch;
	struct gjob *j;

	TAILQ_INIT(&batch);
	pthread_mutex_lock(&g->mu);
	TAILQ_CONCAT(&batch, &g->done, entry);
	pthread_mutex_unlock(&g->mu);
	while ((j = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, j, entry);
		g->queued--;
		if (j->conn)
			evhttp_connection_set_closecb(j->conn, NULL, NULL);
		if (j->png == NULL) {
			log_warnx("graph: rendering failed: %s", j->err);
			if (j->req)
				http_reply_error(j->req, 500, "graph could not be drawn");
		} else {
			g->rendered++;
			if (j->req)
				send_png(j->req, j->png, j->len);
			cache_put(g, j);
		}
		job_free(j);
	}
}

static int add_arg(struct gjob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
add_arg(struct gjob *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->argc >= MAX_ARGS)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(j->args[j->argc], ARG_LEN, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= ARG_LEN)
		return -1;
	j->argc++;
	return 0;
}

/* rrdtool separates DEF fields with ':'; a path must escape its own. */
static void
escape_colons(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in && o + 2 < len; in++) {
		if (*in == ':')
			out[o++] = '\\';
		out[o++] = *in;
	}
	out[o] = '\0';
}

static int
build_args(struct gjob *j, const struct template *t, const char *file, const char *title,
           long start, long end, int w, int h, const char *daemon, double hrule)
{
	char esc[PATH_MAX * 2];
	int ok = 0;

	escape_colons(file, esc, sizeof(esc));
	ok |= add_arg(j, "graph");
	ok |= add_arg(j, "-");
	ok |= add_arg(j, "--imgformat=PNG");
	ok |= add_arg(j, "--start=%ld", start);
	ok |= add_arg(j, "--end=%ld", end);
	ok |= add_arg(j, "--width=%d", w);
	ok |= add_arg(j, "--height=%d", h);
	ok |= add_arg(j, "--vertical-label=%s", t->vlabel);
	ok |= add_arg(j, "--title=%s", title);
	ok |= add_arg(j, "--lower-limit=0");
	ok |= add_arg(j, "--slope-mode");
	if (daemon)
		ok |= add_arg(j, "--daemon=%s", daemon);
	for (int i = 0; i < 6 && t->lines[i]; i++) {
		char ds[32], color[8], legend[32], type[8], scale[24];
		if (sscanf(t->lines[i], "%31[^|]|%7[^|]|%31[^|]|%7[^|]|%23s", ds, color, legend,
		           type, scale) != 5)
			return -1;
		ok |= add_arg(j, "DEF:r%d=%s:%s:AVERAGE", i, esc, ds);
		ok |= add_arg(j, "CDEF:v%d=r%d,%s,*", i, i, scale);
		ok |= add_arg(j, "%s:v%d#%s:%s", type, i, color, legend);
		ok |= add_arg(j, "GPRINT:v%d:LAST:now %%6.2lf%%s", i);
		ok |= add_arg(j, "GPRINT:v%d:MAX:max %%6.2lf%%s\\l", i);
	}
	if (hrule > 0)
		ok |= add_arg(j, "HRULE:%.0f#c53030:Contracted bandwidth:dashes", hrule);
	return ok ? -1 : 0;
}

static int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Split the encoded rest into at most 4 decoded segments. */
static int
split_segments(const char *rest, char seg[4][256], int *nseg)
{
	char *copy = strdup(rest), *save = NULL, *tok;
	int n = 0;

	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		size_t dlen;
		char *dec = evhttp_uridecode(tok, 0, &dlen);
		if (n == 4 || dec == NULL || dlen == 0 || dlen >= 256 || strlen(dec) != dlen) {
			free(dec);
			free(copy);
			return -1;
		}
		memcpy(seg[n++], dec, dlen + 1);
		free(dec);
	}
	free(copy);
	*nseg = n;
	return 0;
}

static double
link_bandwidth(const struct lw_config *cfg, const char *device, const char *iface)
{
	for (size_t i = 0; i < cfg->nlinks; i++) {
		const struct lw_link *l = &cfg->links[i];
		if (l->device && l->interface && strcmp(l->device, device) == 0 &&
		    strcmp(l->interface, iface) == 0)
			return (double)l->bandwidth_bps;
	}
	return 0;
}

static void
refuse(struct graph *g, struct evhttp_request *req, int code, const char *why)
{
	g->refused++;
	http_reply_error(req, code, "%s", why);
}

static void
graph_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct graph *g = arg;
	const struct lw_config *cfg = *g->cfgp;
	char seg[4][256], file[PATH_MAX], title[600], *q;
	const struct template *t = NULL;
	const char *uri = evhttp_request_get_uri(req);
	long start, end, w = 600, h = 160;
	int nseg, kind;
	enum lw_subject subj;
	double hrule = 0;
	struct stat st;

	if (split_segments(rest, seg, &nseg) != 0 || nseg < 3) {
		refuse(g, req, 404, "no such graph");
		return;
	}
	/* The last segment is "<graph>.png". */
	char *last = seg[nseg - 1];
	size_t ll = strlen(last);
	if (ll < 5 || strcmp(last + ll - 4, ".png") != 0) {
		refuse(g, req, 404, "graphs are .png");
		return;
	}
	last[ll - 4] = '\0';
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		if (strcmp(templates[i].kind, seg[0]) == 0 && strcmp(templates[i].name, last) == 0)
			t = &templates[i];
	if (t == NULL) {
		refuse(g, req, 404, "no such graph");
		return;
	}
	kind = strcmp(seg[0], "interface") == 0 ? 0 : strcmp(seg[0], "probe") == 0 ? 1 : 2;
	if ((kind < 2 && nseg != 4) || (kind == 2 && nseg != 3)) {
		refuse(g, req, 404, "no such graph");
		return;
	}
	if (kind == 1 ? config_link(cfg, seg[1]) == NULL : config_device(cfg, seg[1]) == NULL) {
		refuse(g, req, 404, "no such device or link");
		return;
	}
	subj = kind == 0 ? LW_SUBJ_INTERFACE : kind == 1 ? LW_SUBJ_PROBE : LW_SUBJ_DEVICE;
	if (rrd_store_file(cfg->state_dir, subj, seg[1], kind == 2 ? NULL : seg[2], file,
	                   sizeof(file)) != 0 ||
	    stat(file, &st) != 0) {
		refuse(g, req, 404, "no history recorded yet");
		return;
	}

	end = time(NULL);
	start = end - 86400;
	if ((q = http_query(req, "range")) != NULL) {
		int found = 0;
		for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
			if (strcmp(q, ranges[i].name) == 0) {
				start = end - ranges[i].seconds;
				found = 1;
			}
		free(q);
		if (!found) {
			refuse(g, req, 400, "range must be 3h, 1d, 1w, 1m or 1y");
			return;
		}
	}
	char *qs = http_query(req, "start"), *qe = http_query(req, "end");
	char *qw = http_query(req, "w"), *qh = http_query(req, "h");
	int bad = (qs && parse_long(qs, 946684800, 4102444800, &start)) ||
	          (qe && parse_long(qe, 946684800, 4102444800, &end)) ||
	          (qw && parse_long(qw, 200, 1600, &w)) || (qh && parse_long(qh, 80, 600, &h));
	free(qs);
	free(qe);
	free(qw);
	free(qh);
	if (bad || end <= start || end - start > 5 * 366 * 86400L) {
		refuse(g, req, 400,
		       "start/end must be epoch seconds (end after start, at most 5 "
		       "years), w 200-1600, h 80-600");
		return;
	}
	if (kind == 0 && strcmp(t->name, "traffic") == 0)
		hrule = link_bandwidth(cfg, seg[1], seg[2]);

	const struct cached *c = cache_get(g, uri);
	if (c != NULL) {
		g->cache_hits++;
		send_png(req, c->png, c->len);
		return;
	}
	if (g->queued >= MAX_QUEUE) {
		refuse(g, req, 503, "too many graphs being drawn, try again");
		return;
	}
	struct gjob *j = calloc(1, sizeof(*j));
	if (j == NULL || (j->key = strdup(uri)) == NULL || (j->file = strdup(file)) == NULL) {
		if (j != NULL)
			free(j->key);
		free(j);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	/* Titles come from config names and device data: librrd prints them as
	 * text, never parses them, but keep control characters out anyway. */
	char safe1[256], safe2[256];
	log_safe(safe1, sizeof(safe1), seg[1]);
	log_safe(safe2, sizeof(safe2), kind == 2 ? "" : seg[2]);
	snprintf(title, sizeof(title), "%s%s%s: %s", safe1, kind == 2 ? "" : " ", safe2, t->title);
	if (build_args(j, t, file, title, start, end, (int)w, (int)h, cfg->rrdcached, hrule) != 0) {
		job_free(j);
		refuse(g, req, 400, "graph arguments too long");
		return;
	}
	j->g = g;
	j->req = req;
	j->conn = evhttp_request_get_connection(req);
	if (j->conn)
		evhttp_connection_set_closecb(j->conn, on_conn_close, j);
	g->queued++;
	pthread_mutex_lock(&g->mu);
	TAILQ_INSERT_TAIL(&g->todo, j, entry);
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

struct graph *
graph_new(struct event_base *base, struct lw_http *h, const struct lw_config *const *cfgp)
{
	struct graph *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->cfgp = cfgp;
	g->base = base;
	TAILQ_INIT(&g->todo);
	TAILQ_INIT(&g->done);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->done_ev = event_new(base, -1, 0, on_done, g);
	if (g->done_ev == NULL || pthread_create(&g->thread, NULL, render_thread, g) != 0) {
		if (g->done_ev)
			event_free(g->done_ev);
		free(g);
		return NULL;
	}
	if (http_route(h, "/graph/", graph_cb, g) != 0) {
		graph_free(g);
		return NULL;
	}
	return g;
}

void
graph_set_sync(struct graph *g, void (*sync)(const char *file, void *arg), void *arg)
{
	pthread_mutex_lock(&g->mu);
	g->sync = sync;
	g->sync_arg = arg;
	pthread_mutex_unlock(&g->mu);
}

void
graph_stats(const struct graph *g, struct graph_stats *out)
{
	out->rendered = g->rendered;
	out->refused = g->refused;
	out->cache_hits = g->cache_hits;
	out->queued = g->queued;
}

void
graph_free(struct graph *g)
{
	struct gjob *j;

	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stopping = 1;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	TAILQ_CONCAT(&g->todo, &g->done, entry);
	while ((j = TAILQ_FIRST(&g->todo)) != NULL) {
		TAILQ_REMOVE(&g->todo, j, entry);
		if (j->conn)
			evhttp_connection_set_closecb(j->conn, NULL, NULL);
		job_free(j);
	}
	for (int i = 0; i < CACHE_SLOTS; i++) {
		free(g->cache[i].key);
		free(g->cache[i].png);
	}
	event_free(g->done_ev);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}
