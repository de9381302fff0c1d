/* rrd_store.c - history of every sample on the bus, in RRD files.
 *
 * The bus callback runs on the event loop: it works out the file, copies the
 * values into a job and appends it to a bounded queue.  One writer thread
 * takes jobs off the queue and does every piece of file and socket I/O: with
 * librrd directly (rrd_info_r, rrd_updatex_r, all thread-safe; new files
 * through rrd_create.c's rrdtool child) or, when rrdcached is configured,
 * through librrd's client (rrdc_*), whose calls are blocking socket round
 * trips.
 *
 * Layout of a file, fixed when it is created:
 *   - step: the sample's interval, rounded to seconds (at least 1 s);
 *   - data sources, all GAUGE with heartbeat 2 x step (the sources already
 *     turn counters into rates; an invalid metric is written as U so a
 *     discontinuity is a gap, never a spike):
 *       interface: exactly iface_ds[] below;
 *       probe, device: probe_ds[] or device_ds[] below, plus every other
 *                  metric of the first sample written to the file (a
 *                  probe's "status" is the sample's status, 0 ok, 1 warning,
 *                  2 critical, 3 unknown);
 *       capture:   the metrics of the first sample;
 *     at most RRD_STORE_MAX_DS; names through rrd_store_ds_name();
 *   - RRAs AVERAGE, MIN and MAX for each entry of rra_plan[]: the resolution
 *     is the nearest whole number of steps (at least one) and the row count
 *     covers the span; a resolution that equals the next, longer one is left
 *     out (step 300 s: no separate 1-minute archive).
 * A file found with another step, another interface data source set, a
 * probe or device file without one of its base sources, or with a non-GAUGE
 * source belongs to someone else: it is named in a warning and never written
 * (checked again every FOREIGN_RECHECK_S, so moving it away starts a new
 * file).  Metrics a sample has but its file lacks are not recorded (said once
 * per file).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

#include "log.h"
#include "rrd_create.h"
#include "rrd_store.h"

#define DEFAULT_STEP_S 60    /* a source that states no interval */
#define RECONNECT_S 5        /* between attempts to reach rrdcached */
#define FOREIGN_RECHECK_S 60 /* look at a foreign file again after */
#define FILE_BUCKETS 1024
#define JOB_BURST 64  /* samples between two due files, see writer_main() */
#define NAMES_MAX 256 /* shared lists of data source names, see names_get() */
#define LINE_MAX_LEN 2048
/* Rows of one file written by one librrd call at most: each call maps the
 * file and faults in its header and archive rows (~300 us for our layout),
 * so 64 rows cost about what 3 single rows do. */
#define HOLD_MAX_ROWS 64
/* Through rrdcached, rows are held at most this long: each update is a
 * blocking round trip, but rrdcached's readers (rrdtool --daemon) should
 * not wait for our delay on top of rrdcached's own. */
#define HOLD_CACHED_MAX_S 10.0
/* librrd's client builds each command in a buffer of 4096 bytes */
#define CACHED_CMD_MAX 4000

/* snmp_poll.h lists what the poller publishes. */
static const char *const iface_ds[] = {
    "in_bps",
    "out_bps",
    "in_pps",
    "out_pps",
    "in_errors_ps",
    "out_errors_ps",
    "in_discards_ps",
    "out_discards_ps",
    "oper_up",
    "speed_bps",
    "utilization_in_pct",
    "utilization_out_pct",
    "last_change_s",
};
static const char *const device_ds[] = {"reachable", "poll_duration_ms", "uptime_s"};
static const char *const probe_ds[] = {
    "status",     "loss",   "rtt_min", "rtt_avg", "rtt_max",
    "rtt_median", "jitter", "mos",     "time",    "connect_time",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define DAY (24 * 3600L)

static const struct {
	long res_s;  /* nominal resolution */
	long span_s; /* history kept at that resolution */
} rra_plan[] = {
    {60, 2 * DAY},       /* 1 minute for 2 days */
    {300, 14 * DAY},     /* 5 minutes for 2 weeks */
    {3600, 396 * DAY},   /* 1 hour for 13 months */
    {86400, 1827 * DAY}, /* 1 day for 5 years */
};
static const char *const rra_cf[] = {"AVERAGE", "MIN", "MAX"};

/* A list of data source names, shared by every file and every queued job
 * that has it (thousands of interfaces have one). */
struct layout {
	struct layout *next;
	size_t nds;
	char ds[][RRD_STORE_DS_LEN];
};

/* One sample on its way to the writer; one allocation sized to its metrics
 * (a cycle of thousands of interfaces sits in the queue at once, so a job
 * carries only its values: the names are a shared list, see names_get()). */
struct job {
	enum lw_subject kind;
	unsigned step;
	struct timeval ts;
	struct layout *names; /* data source of each value, in order */
	char *path;           /* after the values */
	double v[];           /* names->nds of them; NaN = unknown */
};

enum rf_state { RF_UNKNOWN = 0, RF_OK, RF_FOREIGN };

/* What the writer knows about one file; writer thread only. */
struct rfile {
	struct rfile *next;
	size_t held_cap;
	enum rf_state state;
	size_t nds;
	char (*ds)[RRD_STORE_DS_LEN]; /* nds, in file order; a shared layout */
	double last_ts;
	/* Direct writes: rows held for one rrd_updatex_r call (see rrd_store.h). */
	char *held;      /* NUL-terminated update lines, one after the other */
	size_t held_len; /* bytes used in held */
	unsigned nheld;  /* lines in held */
	double held_due; /* monotonic time to write them */
	time_t recheck_at;
	bool failing;        /* a failure was logged, success not yet */
	bool foreign_logged; /* the layout warning was logged */
	bool extra_logged;   /* "metric not in file" was logged */
	char path[];
};

/* Writer thread state. */
struct writer {
	/* makes new files (direct writes) */
	struct rrd_creator *creator;
	struct rfile *files[FILE_BUCKETS];
	struct layout *layouts;
	double delay_s;   /* hold direct writes this long; 0 = write each row */
	double next_due;  /* earliest held_due of any file, 0 = none */
	uint64_t written; /* rows written since the counters were last taken */
	uint64_t errors;  /* rows lost to failed writes, likewise */
	uint64_t skipped; /* held rows refused as not newer, likewise */
	uint64_t nheld;   /* rows held in all files */
	unsigned burst;   /* samples taken since due rows were last written */
	char *addr;       /* rrdcached, NULL = direct */
	bool tcp;         /* paths relative to the rrd directory */
	uint64_t gen;
	bool connected;
	bool down_logged;
	time_t next_connect;
};

enum outcome { OUT_WRITTEN, OUT_SKIPPED, OUT_ERROR, OUT_OPENED, OUT_HELD };

struct rrd_store {
	struct lw_bus *bus;
	char *state_dir; /* absolute */
	size_t rrd_dir_len;

	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t work;
	pthread_cond_t done;
	/* under mtx: */
	struct job *queue[RRD_STORE_QUEUE_MAX];
	size_t qhead, qlen;
	char *addr;
	uint64_t addr_gen;
	int64_t delay_ms;
	uint64_t flush_req, flush_done;
	char sync_path[PATH_MAX]; /* a reader wants this file's held rows written */
	uint64_t sync_req, sync_done;
	bool stop;
	bool full_logged;
	uint64_t dropped_at_full;
	struct rrd_store_stats st;
	/* loop only: */
	bool bad_logged;
	struct layout *names; /* what queued jobs point to; freed last */
	size_t nnames;

	struct writer w;
};

/* ---- names ---- */

static bool
safe_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

int
rrd_store_name_encode(const char *name, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (name == NULL || *name == '\0') {
		errno = EINVAL;
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		bool lead_dot = p == (const unsigned char *)name && *p == '.';
		size_t need = (safe_byte(*p) && !lead_dot) || *p == '/' ? 1 : 3;

		if (o + need >= len) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (need == 3) {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 0xf];
		} else
			buf[o++] = *p == '/' ? '_' : (char)*p;
	}
	buf[o] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
rrd_store_name_decode(const char *comp, char *buf, size_t len)
{
	size_t o = 0;

	if (comp == NULL || *comp == '\0' || *comp == '.') {
		errno = EINVAL;
		return -1;
	}
	for (const char *p = comp; *p != '\0'; p++) {
		int c;

		if (*p == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				errno = EINVAL;
				return -1;
			}
			c = hi << 4 | lo;
			p += 2;
		} else if (*p == '_')
			c = '/';
		else if (safe_byte((unsigned char)*p))
			c = *p;
		else {
			errno = EINVAL;
			return -1;
		}
		if (o + 1 >= len) {
			errno = ENAMETOOLONG;
			return -1;
		}
		buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return 0;
}

/* Encode one component of at most size-1 bytes; a result equal to one of the
 * reserved words gets its first letter escaped so it cannot collide. */
static int
encode_comp(const char *name, char *buf, size_t size, const char *const *reserved)
{
	if (rrd_store_name_encode(name, buf, size) == -1)
		return -1;
	for (; reserved != NULL && *reserved != NULL; reserved++) {
		char tmp[NAME_MAX + 1];

		if (strcmp(buf, *reserved) != 0)
			continue;
		/* all reserved words are ASCII letters: "links" -> "%6Cinks" */
		if ((size_t)snprintf(tmp, sizeof(tmp), "%%%02X%s", (unsigned char)buf[0],
		                     buf + 1) >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(buf, tmp, strlen(tmp) + 1);
		break;
	}
	return 0;
}

int
rrd_store_file(const char *state_dir, enum lw_subject kind, const char *owner, const char *name,
               char *buf, size_t len)
{
	static const char *const dir_words[] = {"links", "captures", NULL};
	static const char *const file_words[] = {"device", NULL};
	char a[NAME_MAX + 1], b[NAME_MAX + 1 - 4]; /* b gets ".rrd" */
	int n, sl;

	if (state_dir == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* "/var/lib/linewatch/" and "/var/lib/linewatch" name the same files */
	for (sl = (int)strnlen(state_dir, PATH_MAX); sl > 0 && state_dir[sl - 1] == '/'; sl--)
		;
	switch (kind) {
	case LW_SUBJ_INTERFACE:
		if (encode_comp(owner, a, sizeof(a), dir_words) == -1 ||
		    encode_comp(name, b, sizeof(b), file_words) == -1)
			return -1;
		n = snprintf(buf, len, "%.*s/rrd/%s/%s.rrd", sl, state_dir, a, b);
		break;
	case LW_SUBJ_DEVICE:
		if (encode_comp(owner, a, sizeof(a), dir_words) == -1)
			return -1;
		n = snprintf(buf, len, "%.*s/rrd/%s/device.rrd", sl, state_dir, a);
		break;
	case LW_SUBJ_PROBE:
		if (encode_comp(owner, a, sizeof(a), NULL) == -1 ||
		    encode_comp(name, b, sizeof(b), NULL) == -1)
			return -1;
		n = snprintf(buf, len, "%.*s/rrd/links/%s/%s.rrd", sl, state_dir, a, b);
		break;
	case LW_SUBJ_CAPTURE:
		if (encode_comp(name, b, sizeof(b), NULL) == -1)
			return -1;
		n = snprintf(buf, len, "%.*s/rrd/captures/%s.rrd", sl, state_dir, b);
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
rrd_store_sample_file(const char *state_dir, const struct lw_sample *s, char *buf, size_t len)
{
	const char *owner = s->kind == LW_SUBJ_PROBE ? s->link : s->device;

	return rrd_store_file(state_dir, s->kind, owner, s->name, buf, len);
}

const char *
rrd_store_ds_name(const char *metric, char out[RRD_STORE_DS_LEN])
{
	size_t i;

	for (i = 0; metric != NULL && metric[i] != '\0' && i < RRD_STORE_DS_LEN - 1; i++) {
		unsigned char c = (unsigned char)metric[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_';

		out[i] = ok ? (char)c : '_';
	}
	out[i] = '\0';
	return out;
}

const char *const *
rrd_store_base_ds(enum lw_subject kind, size_t *n)
{
	switch (kind) {
	case LW_SUBJ_INTERFACE:
		*n = NELEM(iface_ds);
		return iface_ds;
	case LW_SUBJ_PROBE:
		*n = NELEM(probe_ds);
		return probe_ds;
	case LW_SUBJ_DEVICE:
		*n = NELEM(device_ds);
		return device_ds;
	default:
		*n = 0;
		return NULL;
	}
}

/* ---- loop side: sample -> job -> queue ---- */

static unsigned
step_of(const struct lw_sample *s)
{
	if (s->interval_ms <= 0)
		return DEFAULT_STEP_S;
	if (s->interval_ms < 1500)
		return 1;
	return (unsigned)((s->interval_ms + 500) / 1000);
}

static void
ds_set(char *dst, const char *src)
{
	size_t n = strnlen(src, RRD_STORE_DS_LEN - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool
has_ds(char (*ds)[RRD_STORE_DS_LEN], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ds[i], name) == 0)
			return true;
	return false;
}

static bool
same_layout(const struct layout *l, char (*ds)[RRD_STORE_DS_LEN], size_t n)
{
	if (l->nds != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->ds[i], ds[i]) != 0)
			return false;
	return true;
}

/* Append a value unless its data source is already there (first one wins). */
static void
name_add(char (*ds)[RRD_STORE_DS_LEN], double *v, size_t *n, const char *name, double value,
         bool valid)
{
	if (name[0] == '\0' || *n == RRD_STORE_MAX_DS || has_ds(ds, *n, name))
		return;
	ds_set(ds[*n], name);
	v[*n] = valid && isfinite(value) ? value : NAN;
	(*n)++;
}

/* The shared copy of a list of names; a loop-side list the writer only reads
 * (the queue's mutex orders the two).  Samples of one kind have a handful of
 * lists between them; past NAMES_MAX, a list that keeps changing (a plugin
 * naming its metrics afresh each run) is not kept: NULL. */
static struct layout *
names_get(struct rrd_store *rs, char (*ds)[RRD_STORE_DS_LEN], size_t n)
{
	struct layout *l;

	for (l = rs->names; l != NULL; l = l->next)
		if (same_layout(l, ds, n))
			return l;
	if (rs->nnames == NAMES_MAX || (l = malloc(sizeof(*l) + n * RRD_STORE_DS_LEN)) == NULL)
		return NULL;
	l->nds = n;
	memcpy(l->ds, ds, n * RRD_STORE_DS_LEN);
	l->next = rs->names;
	rs->names = l;
	rs->nnames++;
	return l;
}

static struct job *
job_new(struct rrd_store *rs, const struct lw_sample *s, const char *path)
{
	char ds[RRD_STORE_MAX_DS][RRD_STORE_DS_LEN], name[RRD_STORE_DS_LEN];
	double v[RRD_STORE_MAX_DS];
	size_t n = 0, plen = strlen(path) + 1, own = 0;
	struct layout *names, *l;
	struct job *j;

	/* first, so a metric that happens to be called "status" cannot mask it */
	if (s->kind == LW_SUBJ_PROBE)
		name_add(ds, v, &n, "status", (double)s->status, true);
	for (size_t i = 0; i < s->nmetrics; i++)
		name_add(ds, v, &n, rrd_store_ds_name(s->metrics[i].name, name),
		         s->metrics[i].value, s->metrics[i].valid);
	if ((names = names_get(rs, ds, n)) == NULL)
		own = sizeof(*l) + n * RRD_STORE_DS_LEN; /* a private copy, after v[] */
	if ((j = malloc(sizeof(*j) + n * sizeof(double) + own + plen)) == NULL)
		return NULL;
	j->kind = s->kind;
	j->step = step_of(s);
	j->ts = s->ts;
	if (j->ts.tv_sec <= 0)
		gettimeofday(&j->ts, NULL); /* a source that gave no time */
	memcpy(j->v, v, n * sizeof(double));
	if (names == NULL) {
		l = (struct layout *)(j->v + n);
		l->next = NULL;
		l->nds = n;
		memcpy(l->ds, ds, n * RRD_STORE_DS_LEN);
		names = l;
	}
	j->names = names;
	j->path = (char *)(j->v + n) + own;
	memcpy(j->path, path, plen);
	return j;
}

static void
on_sample(const struct lw_sample *s, void *arg)
{
	struct rrd_store *rs = arg;
	char path[PATH_MAX];
	struct job *j;
	bool full;

	if (rrd_store_sample_file(rs->state_dir, s, path, sizeof(path)) == -1) {
		if (!rs->bad_logged)
			log_warn("rrd: no file name for a sample of kind %d (missing or too long "
			         "a name): not recorded; said once",
			         (int)s->kind);
		rs->bad_logged = true;
		pthread_mutex_lock(&rs->mtx);
		rs->st.errors++;
		pthread_mutex_unlock(&rs->mtx);
		return;
	}
	pthread_mutex_lock(&rs->mtx);
	full = rs->qlen == RRD_STORE_QUEUE_MAX;
	if (full) {
		rs->st.dropped++;
		if (!rs->full_logged)
			log_warnx("rrd: writer is %d samples behind: dropping samples until it "
			          "catches up",
			          RRD_STORE_QUEUE_MAX);
		rs->full_logged = true;
	}
	pthread_mutex_unlock(&rs->mtx);
	if (full)
		return;

	/* Only this thread adds to the queue, so it cannot fill up meanwhile. */
	if ((j = job_new(rs, s, path)) == NULL) {
		pthread_mutex_lock(&rs->mtx);
		rs->st.dropped++;
		pthread_mutex_unlock(&rs->mtx);
		return;
	}
	pthread_mutex_lock(&rs->mtx);
	rs->queue[(rs->qhead + rs->qlen) % RRD_STORE_QUEUE_MAX] = j;
	rs->qlen++;
	pthread_cond_signal(&rs->work);
	pthread_mutex_unlock(&rs->mtx);
}

/* ---- writer: files ---- */

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static double
mono_dnow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
path_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % FILE_BUCKETS;
}

static struct rfile *
file_find(struct writer *w, const char *path)
{
	for (struct rfile *f = w->files[path_hash(path)]; f != NULL; f = f->next)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

static struct rfile *
file_get(struct writer *w, const char *path)
{
	unsigned h = path_hash(path);
	struct rfile *f;
	size_t plen;

	if ((f = file_find(w, path)) != NULL)
		return f;
	plen = strlen(path) + 1;
	if ((f = calloc(1, sizeof(*f) + plen)) == NULL)
		return NULL;
	memcpy(f->path, path, plen);
	f->next = w->files[h];
	w->files[h] = f;
	return f;
}

static void
files_free(struct writer *w)
{
	for (size_t i = 0; i < FILE_BUCKETS; i++) {
		while (w->files[i] != NULL) {
			struct rfile *f = w->files[i];

			w->files[i] = f->next;
			free(f->held);
			free(f);
		}
	}
	while (w->layouts != NULL) {
		struct layout *l = w->layouts;

		w->layouts = l->next;
		free(l);
	}
}

/* The name rrdcached gets: relative to its base directory over TCP (librrd
 * refuses absolute names there), absolute over a unix socket. */
static const char *
send_path(const struct rrd_store *rs, const struct rfile *f)
{
	return rs->w.tcp ? f->path + rs->rrd_dir_len + 1 : f->path;
}

static const char *
rrd_err(void)
{
	const char *e = rrd_get_error();

	return e != NULL && *e != '\0' ? e : "unknown librrd error";
}

static void
file_fail(struct rfile *f, const char *what, const char *err)
{
	if (!f->failing)
		log_warnx("rrd: cannot %s %s: %s (retried with every sample)", what, f->path, err);
	f->failing = true;
	f->state = RF_UNKNOWN;
}

static void
file_good(struct rfile *f)
{
	if (f->failing)
		log_info("rrd: %s is written again", f->path);
	f->failing = false;
}

/* rrdcached went away: say so once per outage and reconnect later. */
static bool
writer_lost(struct rrd_store *rs)
{
	struct writer *w = &rs->w;

	if (w->addr == NULL || rrdc_is_connected(w->addr))
		return false;
	if (!w->down_logged)
		log_warnx("rrd: lost rrdcached at %s: %s; reconnecting", w->addr, rrd_err());
	w->down_logged = true;
	w->connected = false;
	w->next_connect = 0;
	return true;
}

static bool
writer_connect(struct rrd_store *rs)
{
	struct writer *w = &rs->w;
	time_t now;

	if (w->connected && rrdc_is_connected(w->addr))
		return true;
	now = mono_now();
	if (now < w->next_connect)
		return false;
	rrd_clear_error();
	if (rrdc_connect(w->addr) != 0 || !rrdc_is_connected(w->addr)) {
		if (!w->down_logged)
			log_warnx("rrd: cannot reach rrdcached at %s: %s; samples are lost until "
			          "it answers",
			          w->addr, rrd_err());
		w->down_logged = true;
		w->next_connect = now + RECONNECT_S;
		return false;
	}
	if (w->down_logged)
		log_info("rrd: connected to rrdcached at %s", w->addr);
	w->down_logged = false;
	w->connected = true;
	return true;
}

static int
mkdir_p(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];
	struct stat sb;
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, dir, n + 1);
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return -1;
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(dir, &sb) == -1)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int
parent_dir(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 0 : (size_t)(slash - path);

	if (n == 0 || n >= len)
		return -1;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return 0;
}

static bool
kind_fixed(enum lw_subject kind)
{
	return kind == LW_SUBJ_INTERFACE;
}

static size_t
join_ds(char (*ds)[RRD_STORE_DS_LEN], size_t n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", ds[i]);
	return o;
}

/* Which data sources a new file for this job gets. */
static size_t
new_layout(const struct job *j, char (*ds)[RRD_STORE_DS_LEN])
{
	size_t nbase, n = 0;
	const char *const *base = rrd_store_base_ds(j->kind, &nbase);

	for (size_t i = 0; i < nbase; i++)
		ds_set(ds[n++], base[i]);
	if (kind_fixed(j->kind))
		return n;
	for (size_t i = 0; i < j->names->nds && n < RRD_STORE_MAX_DS; i++)
		if (!has_ds(ds, n, j->names->ds[i]))
			ds_set(ds[n++], j->names->ds[i]);
	return n;
}

/* The file's data sources, in file order. */
static int
file_set_ds(struct writer *w, struct rfile *f, char (*ds)[RRD_STORE_DS_LEN], size_t n)
{
	struct layout *l;

	for (l = w->layouts; l != NULL; l = l->next)
		if (same_layout(l, ds, n))
			break;
	if (l == NULL) {
		if ((l = malloc(sizeof(*l) + n * RRD_STORE_DS_LEN)) == NULL)
			return -1;
		l->nds = n;
		memcpy(l->ds, ds, n * RRD_STORE_DS_LEN);
		l->next = w->layouts;
		w->layouts = l;
	}
	f->ds = l->ds;
	f->nds = n;
	return 0;
}

static enum outcome
file_create(struct rrd_store *rs, struct rfile *f, const struct job *j, bool *created)
{
	struct writer *w = &rs->w;
	char ds[RRD_STORE_MAX_DS][RRD_STORE_DS_LEN];
	char defs[RRD_STORE_MAX_DS + NELEM(rra_plan) * NELEM(rra_cf)][64];
	const char *argv[NELEM(defs)];
	char dir[PATH_MAX];
	struct stat sb;
	size_t nds = new_layout(j, ds), argc = 0;
	time_t last_up = j->ts.tv_sec - 1;
	int r;

	if (nds == 0)
		return OUT_SKIPPED; /* nothing to record yet: wait for metrics */
	if (parent_dir(f->path, dir, sizeof(dir)) == -1 || (mkdir_p(dir, 0755) == -1 && !w->tcp)) {
		file_fail(f, "create the directory of", strerror(errno));
		return OUT_ERROR;
	}
	for (size_t i = 0; i < nds; i++)
		snprintf(defs[argc++], sizeof(defs[0]), "DS:%.19s:GAUGE:%u:U:U", ds[i],
		         2 * j->step);
	for (size_t i = 0; i < NELEM(rra_plan); i++) {
		long pdp = (rra_plan[i].res_s + j->step / 2) / j->step;
		long next = 0;

		pdp = pdp < 1 ? 1 : pdp;
		if (i + 1 < NELEM(rra_plan)) {
			next = (rra_plan[i + 1].res_s + j->step / 2) / j->step;
			next = next < 1 ? 1 : next;
		}
		if (pdp == next)
			continue; /* the next archive keeps the same rows, longer */
		long res = pdp * (long)j->step;
		long rows = (rra_plan[i].span_s + res - 1) / res;

		for (size_t c = 0; c < NELEM(rra_cf); c++)
			snprintf(defs[argc++], sizeof(defs[0]), "RRA:%s:0.5:%ld:%ld", rra_cf[c],
			         pdp, rows);
	}
	for (size_t i = 0; i < argc; i++)
		argv[i] = defs[i];

	rrd_clear_error();
	if (w->addr != NULL)
		r = rrdc_create(send_path(rs, f), j->step, last_up, 1, (int)argc, argv);
	else
		r = rrd_creator_create(w->creator, f->path, j->step, last_up, (int)argc, argv);
	if (r != 0) {
		if (!writer_lost(rs))
			file_fail(f, "create", rrd_err());
		return OUT_ERROR;
	}
	/* librrd 1.7 can report success when rrdcached hung up mid-answer */
	if (!w->tcp && stat(f->path, &sb) == -1) {
		if (!writer_lost(rs))
			file_fail(f, "create", "rrdcached did not create it");
		return OUT_ERROR;
	}
	*created = true;
	log_info("rrd: created %s (step %us, %zu data sources)", f->path, j->step, nds);
	if (file_set_ds(w, f, ds, nds) == -1) {
		file_fail(f, "remember the layout of", strerror(errno));
		return OUT_ERROR;
	}
	f->last_ts = (double)last_up;
	f->state = RF_OK;
	file_good(f);
	return OUT_OPENED;
}

/* Name the file and say what differs from what linewatch writes. */
static void
foreign_warn(const struct rfile *f, const struct job *j, double step, char (*ds)[RRD_STORE_DS_LEN],
             size_t n)
{
	char have[512], want[512], why[1200];
	size_t nbase;
	const char *const *base = rrd_store_base_ds(j->kind, &nbase);

	if (step != (double)j->step) {
		snprintf(why, sizeof(why), "step %.0fs where linewatch writes %us", step, j->step);
	} else {
		char wds[RRD_STORE_MAX_DS][RRD_STORE_DS_LEN];

		for (size_t i = 0; i < nbase; i++)
			ds_set(wds[i], base[i]);
		join_ds(ds, n, have, sizeof(have));
		join_ds(wds, nbase, want, sizeof(want));
		snprintf(why, sizeof(why), "data sources %s where linewatch writes %s%s, all GAUGE",
		         n ? have : "(none)", nbase ? want : "the metrics of the first sample",
		         kind_fixed(j->kind) || nbase == 0 ? ""
		                                           : " and the other metrics it reports");
	}
	log_warnx("rrd: %s has another layout (%s): left alone and not updated; move it away "
	          "to start a new history",
	          f->path, why);
}

static const char *
info_ds_name(const char *key, char *buf, const char **suffix)
{
	const char *end;

	if (strncmp(key, "ds[", 3) != 0 || (end = strchr(key + 3, ']')) == NULL)
		return NULL;
	if ((size_t)(end - key - 3) >= RRD_STORE_DS_LEN)
		return "";
	memcpy(buf, key + 3, (size_t)(end - key - 3));
	buf[end - key - 3] = '\0';
	*suffix = end + 1;
	return buf;
}

static double
info_num(const rrd_info_t *p)
{
	return p->type == RD_I_CNT   ? (double)p->value.u_cnt
	       : p->type == RD_I_VAL ? p->value.u_val
	                             : -1;
}

/* Compare an existing file's layout with ours; adopt it or leave it alone. */
static enum outcome
file_check(struct writer *w, struct rfile *f, const struct job *j, const rrd_info_t *info)
{
	char ds[RRD_STORE_MAX_DS][RRD_STORE_DS_LEN];
	long idx[RRD_STORE_MAX_DS];
	double step = -1, last = 0;
	size_t n = 0, nbase;
	bool ok = true;
	const char *const *base = rrd_store_base_ds(j->kind, &nbase);

	for (const rrd_info_t *p = info; p != NULL; p = p->next) {
		char name[RRD_STORE_DS_LEN];
		const char *nm, *suffix = NULL;
		size_t k;

		if (strcmp(p->key, "step") == 0)
			step = info_num(p);
		else if (strcmp(p->key, "last_update") == 0)
			last = info_num(p);
		if ((nm = info_ds_name(p->key, name, &suffix)) == NULL)
			continue;
		if (*nm == '\0') {
			ok = false; /* not a name we would make */
			continue;
		}
		for (k = 0; k < n && strcmp(ds[k], nm) != 0; k++)
			;
		if (k == n) {
			if (n == RRD_STORE_MAX_DS) {
				ok = false;
				continue;
			}
			ds_set(ds[n], nm);
			idx[n++] = -1;
		}
		if (strcmp(suffix, ".index") == 0)
			idx[k] = (long)info_num(p);
		else if (strcmp(suffix, ".type") == 0 &&
		         (p->type != RD_I_STR || strcmp(p->value.u_str, "GAUGE") != 0))
			ok = false;
	}
	if (step != (double)j->step || n == 0)
		ok = false;
	for (size_t i = 0; i < nbase; i++)
		if (!has_ds(ds, n, base[i]))
			ok = false;
	if (kind_fixed(j->kind) && n != nbase)
		ok = false;
	/* file order: index i at position i */
	for (size_t i = 0; ok && i < n; i++) {
		if (idx[i] < 0 || (size_t)idx[i] >= n)
			ok = false;
		for (size_t k = i + 1; ok && k < n; k++)
			if (idx[k] == idx[i])
				ok = false;
	}

	if (!ok) {
		f->state = RF_FOREIGN;
		f->recheck_at = mono_now() + FOREIGN_RECHECK_S;
		if (!f->foreign_logged)
			foreign_warn(f, j, step, ds, n);
		f->foreign_logged = true;
		return OUT_SKIPPED;
	}
	char ordered[RRD_STORE_MAX_DS][RRD_STORE_DS_LEN];

	for (size_t i = 0; i < n; i++)
		ds_set(ordered[idx[i]], ds[i]);
	if (file_set_ds(w, f, ordered, n) == -1) {
		file_fail(f, "remember the layout of", strerror(errno));
		return OUT_ERROR;
	}
	f->last_ts = last;
	f->state = RF_OK;
	if (f->foreign_logged)
		log_info("rrd: %s now has a layout linewatch writes", f->path);
	f->foreign_logged = false;
	return OUT_OPENED;
}

static enum outcome
file_open(struct rrd_store *rs, struct rfile *f, const struct job *j, bool *created)
{
	struct writer *w = &rs->w;
	rrd_info_t *info;
	struct stat sb;

	rrd_clear_error();
	info = w->addr != NULL ? rrdc_info(send_path(rs, f)) : rrd_info_r(f->path);
	if (info != NULL) {
		enum outcome o = file_check(w, f, j, info);

		rrd_info_free(info);
		return o;
	}
	if (writer_lost(rs))
		return OUT_ERROR;
	/* Locally the file system says whether the file is missing or unreadable;
	 * over TCP the create attempt (never overwriting) has to tell. */
	if (!w->tcp && (stat(f->path, &sb) == 0 || errno != ENOENT)) {
		file_fail(f, "read", rrd_err());
		return OUT_ERROR;
	}
	return file_create(rs, f, j, created);
}

/* The job's value for a data source; NaN when it has none. */
static double
job_val(const struct job *j, const char *ds)
{
	for (size_t i = 0; i < j->names->nds; i++)
		if (strcmp(j->names->ds[i], ds) == 0)
			return j->v[i];
	return NAN;
}

static int
format_update(const struct rfile *f, const struct job *j, char *line, size_t len)
{
	size_t o;
	int n;

	n = snprintf(line, len, "%lld.%06ld", (long long)j->ts.tv_sec, (long)j->ts.tv_usec);
	if (n < 0 || (size_t)n >= len)
		return -1;
	o = (size_t)n;
	for (size_t i = 0; i < f->nds; i++) {
		double v = job_val(j, f->ds[i]);

		if (!isnan(v))
			n = snprintf(line + o, len - o, ":%.12g", v);
		else
			n = snprintf(line + o, len - o, ":U");
		if (n < 0 || (size_t)n >= len - o)
			return -1;
		o += (size_t)n;
	}
	return 0;
}

static void
note_extra(struct rfile *f, const struct job *j)
{
	if (f->extra_logged)
		return;
	for (size_t i = 0; i < j->names->nds; i++) {
		if (has_ds(f->ds, f->nds, j->names->ds[i]))
			continue;
		if (kind_fixed(j->kind))
			log_debug("rrd: %s has no data source %s: not recorded", f->path,
			          j->names->ds[i]);
		else
			log_info("rrd: %s has no data source %s (the file is older than the "
			         "metric): not recorded",
			         f->path, j->names->ds[i]);
		f->extra_logged = true;
		return;
	}
}

static void
direct_write(struct rrd_store *rs, struct rfile *f, const char **argv, unsigned n)
{
	struct writer *w = &rs->w;

	rrd_clear_error();
	if (rrd_updatex_r(f->path, NULL, 0, (int)n, argv) == 0) {
		w->written += n;
		file_good(f);
	} else if (strstr(rrd_err(), "illegal attempt to update") != NULL) {
		w->skipped += n; /* someone else wrote newer rows meanwhile */
	} else {
		w->errors += n;
		file_fail(f, "write", rrd_err());
	}
}

/* As many rows per command as librrd's client buffer takes. */
static void
cached_send(struct rrd_store *rs, struct rfile *f, const char **argv, unsigned n)
{
	struct writer *w = &rs->w;
	const char *path = send_path(rs, f);
	unsigned i = 0;

	while (i < n) {
		size_t len = strlen("update ") + strlen(path) + 1;
		unsigned k = 0;

		while (i + k < n && (k == 0 || len + strlen(argv[i + k]) + 1 < CACHED_CMD_MAX))
			len += strlen(argv[i + k++]) + 1;
		rrd_clear_error();
		if (!writer_connect(rs)) {
			w->errors += n - i;
			f->state = RF_UNKNOWN;
			return;
		}
		if (rrdc_update(path, (int)k, argv + i) == 0) {
			w->written += k;
			file_good(f);
		} else if (strstr(rrd_err(), "illegal attempt to update") != NULL) {
			w->skipped += k;
		} else if (writer_lost(rs)) {
			w->errors += n - i;
			f->state = RF_UNKNOWN; /* look at it again once reconnected */
			return;
		} else {
			w->errors += k;
			file_fail(f, "write", rrd_err());
		}
		i += k;
	}
}

/* Write a file's held rows in one librrd call.  A failure loses them (and
 * is logged once per file, like a failed single row): holding them longer
 * would let a full disk grow our memory. */
static void
file_write_held(struct rrd_store *rs, struct rfile *f)
{
	struct writer *w = &rs->w;
	const char *argv[HOLD_MAX_ROWS];
	const char *p = f->held;
	unsigned n;

	if (f->nheld == 0)
		return;
	for (n = 0; n < f->nheld; n++) {
		argv[n] = p;
		p += strlen(p) + 1;
	}
	if (w->addr != NULL)
		cached_send(rs, f, argv, n);
	else
		direct_write(rs, f, argv, n);
	w->nheld -= f->nheld;
	free(f->held);
	f->held = NULL;
	f->held_len = f->held_cap = 0;
	f->nheld = 0;
}

/* Keep a row for the file's next write.  Files are spread over a fifth of
 * the delay so that a cycle of thousands of interfaces polled together is
 * not written in one burst every delay. */
/* Room for the rows a file will hold until its write is due, in one
 * allocation: growing by doubling left a quarter to a half of thousands of
 * buffers unused and the freed smaller ones scattered through the heap. */
static size_t
hold_cap(const struct writer *w, const struct rfile *f, size_t n, unsigned step)
{
	size_t rows = step ? (size_t)(w->delay_s / step) + 1 : 4;

	if (f->held_cap)
		return f->held_len + n + (f->held_len + n) / 4; /* a longer line than before */
	if (rows > HOLD_MAX_ROWS)
		rows = HOLD_MAX_ROWS;
	return rows * (n + 8); /* numbers vary in length a little */
}

static enum outcome
file_hold(struct rrd_store *rs, struct rfile *f, const char *line, double ts, unsigned step)
{
	struct writer *w = &rs->w;
	size_t n = strlen(line) + 1;

	if (f->nheld == HOLD_MAX_ROWS)
		file_write_held(rs, f);
	if (f->held_len + n > f->held_cap) {
		size_t cap = hold_cap(w, f, n, step);
		char *h;

		if ((h = realloc(f->held, cap)) == NULL) {
			log_warn("rrd: %s", f->path);
			return OUT_ERROR;
		}
		f->held = h;
		f->held_cap = cap;
	}
	memcpy(f->held + f->held_len, line, n);
	f->held_len += n;
	if (f->nheld++ == 0) {
		double spread = w->delay_s / 5 * (double)(path_hash(f->path) % 64) / 64;

		f->held_due = mono_dnow() + w->delay_s - spread;
		if (w->next_due == 0 || f->held_due < w->next_due)
			w->next_due = f->held_due;
	}
	w->nheld++;
	f->last_ts = ts;
	return OUT_HELD;
}

static bool
queue_waiting(struct rrd_store *rs)
{
	bool waiting;

	pthread_mutex_lock(&rs->mtx);
	waiting = rs->qlen > 0;
	pthread_mutex_unlock(&rs->mtx);
	return waiting;
}

/* Write the held rows that are due (all of them when asked) and work out
 * when the next ones are.  Writing thousands of files takes seconds; a
 * cycle of samples queued meanwhile would wait in memory, so after each
 * file a pass that need not finish gives way to them (next_due stays now:
 * the next pass starts over and skips what is written). */
static void
writer_write_held(struct rrd_store *rs, bool all)
{
	struct writer *w = &rs->w;
	double now = mono_dnow(), next = 0;

	for (size_t i = 0; i < FILE_BUCKETS; i++) {
		for (struct rfile *f = w->files[i]; f != NULL; f = f->next) {
			if (f->nheld == 0)
				continue;
			if (all || f->held_due <= now) {
				file_write_held(rs, f);
				if (!all && queue_waiting(rs)) {
					w->next_due = now;
					return;
				}
			} else if (next == 0 || f->held_due < next)
				next = f->held_due;
		}
	}
	w->next_due = next;
}

static enum outcome
writer_job(struct rrd_store *rs, const struct job *j, bool *created)
{
	struct writer *w = &rs->w;
	struct rfile *f = file_get(w, j->path);
	char line[LINE_MAX_LEN];
	const char *argv[1] = {line};
	double ts = (double)j->ts.tv_sec + (double)j->ts.tv_usec / 1e6;
	int r;

	if (f == NULL) {
		log_warn("rrd: %s", j->path);
		return OUT_ERROR;
	}
	if (w->addr != NULL && !writer_connect(rs))
		return OUT_ERROR;
	if (f->state == RF_FOREIGN) {
		if (mono_now() < f->recheck_at)
			return OUT_SKIPPED;
		f->state = RF_UNKNOWN;
	}
	if (f->state == RF_UNKNOWN) {
		enum outcome o = file_open(rs, f, j, created);

		if (o != OUT_OPENED)
			return o;
	}
	if (ts <= f->last_ts)
		return OUT_SKIPPED;
	note_extra(f, j);
	if (format_update(f, j, line, sizeof(line)) == -1) {
		file_fail(f, "write", "update line too long");
		return OUT_ERROR;
	}
	if (w->delay_s > 0)
		return file_hold(rs, f, line, ts, j->step);
	file_write_held(rs, f); /* held before a reload to no delay: older rows first */

	rrd_clear_error();
	if (w->addr != NULL)
		r = rrdc_update(send_path(rs, f), 1, argv);
	else
		r = rrd_updatex_r(f->path, NULL, 0, 1, argv);
	if (r == 0) {
		f->last_ts = ts;
		file_good(f);
		return OUT_WRITTEN;
	}
	if (strstr(rrd_err(), "illegal attempt to update") != NULL)
		return OUT_SKIPPED; /* the file (or rrdcached) already has newer rows */
	if (writer_lost(rs))
		f->state = RF_UNKNOWN; /* look at it again once reconnected */
	else
		file_fail(f, "write", rrd_err());
	return OUT_ERROR;
}

/* rrdcached: ask it to write our files' pending updates now. */
static void
writer_flush(struct rrd_store *rs)
{
	struct writer *w = &rs->w;

	writer_write_held(rs, true);
	if (w->addr == NULL || !w->connected)
		return;
	for (size_t i = 0; i < FILE_BUCKETS; i++) {
		for (struct rfile *f = w->files[i]; f != NULL; f = f->next) {
			if (f->state != RF_OK)
				continue;
			rrd_clear_error();
			if (rrdc_flush(send_path(rs, f)) != 0) {
				if (writer_lost(rs))
					return;
				log_debug("rrd: flush %s: %s", f->path, rrd_err());
			}
		}
	}
}

static bool
addr_is_tcp(const char *addr)
{
	return addr != NULL && strncmp(addr, "unix:", 5) != 0 && addr[0] != '/';
}

/* Switch between direct writes and rrdcached (or another rrdcached).  Every
 * file is looked at again through the new path. */
static void
writer_set_addr(struct rrd_store *rs, char *addr)
{
	struct writer *w = &rs->w;

	writer_write_held(rs, true);
	if (w->addr != NULL)
		rrdc_disconnect();
	free(w->addr);
	w->addr = addr;
	w->tcp = addr_is_tcp(addr);
	w->connected = false;
	w->down_logged = false;
	w->next_connect = 0;
	for (size_t i = 0; i < FILE_BUCKETS; i++)
		for (struct rfile *f = w->files[i]; f != NULL; f = f->next)
			f->state = RF_UNKNOWN;
	if (addr != NULL)
		log_info("rrd: writing %s/rrd through rrdcached at %s", rs->state_dir, addr);
	else
		log_info("rrd: writing %s/rrd directly", rs->state_dir);
}

static void
count(struct rrd_store *rs, enum outcome o, bool created)
{
	switch (o) {
	case OUT_WRITTEN:
		rs->st.written++;
		break;
	case OUT_SKIPPED:
		rs->st.skipped++;
		break;
	case OUT_HELD:
		break;
	default:
		rs->st.errors++;
		break;
	}
	if (created)
		rs->st.created++;
}

/* Under the mutex: what the writer did with held rows, into the stats. */
static void
count_held(struct rrd_store *rs)
{
	struct writer *w = &rs->w;

	rs->st.written += w->written;
	rs->st.errors += w->errors;
	rs->st.skipped += w->skipped;
	rs->st.held = w->nheld;
	w->written = w->errors = w->skipped = 0;
}

/* Under the mutex: a reader asked for one file's held rows; write them once
 * the queue is empty, so they include the newest sample. */
static void
writer_sync(struct rrd_store *rs)
{
	char path[PATH_MAX];
	uint64_t req = rs->sync_req;
	struct rfile *f;

	memcpy(path, rs->sync_path, sizeof(path));
	pthread_mutex_unlock(&rs->mtx);
	if ((f = file_find(&rs->w, path)) != NULL)
		file_write_held(rs, f);
	pthread_mutex_lock(&rs->mtx);
	count_held(rs);
	rs->sync_done = req;
	pthread_cond_broadcast(&rs->done);
}

/* Under the mutex: sleep until there is work or held rows are due. */
static void
writer_wait(struct rrd_store *rs)
{
	struct timespec ts;
	double due = rs->w.next_due;

	if (due == 0) {
		pthread_cond_wait(&rs->work, &rs->mtx);
		return;
	}
	ts.tv_sec = (time_t)due;
	ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
	pthread_cond_timedwait(&rs->work, &rs->mtx, &ts);
}

static void *
writer_main(void *arg)
{
	struct rrd_store *rs = arg;
	struct writer *w = &rs->w;

	pthread_mutex_lock(&rs->mtx);
	for (;;) {
		w->delay_s = (double)rs->delay_ms / 1000;
		if (rs->addr != NULL && w->delay_s > HOLD_CACHED_MAX_S)
			w->delay_s = HOLD_CACHED_MAX_S;
		if (rs->addr_gen != w->gen) {
			char *addr = rs->addr != NULL ? strdup(rs->addr) : NULL;

			if (rs->addr != NULL && addr == NULL)
				log_warn("rrd: rrdcached %s; writing directly", rs->addr);
			w->gen = rs->addr_gen;
			pthread_mutex_unlock(&rs->mtx);
			writer_set_addr(rs, addr);
			pthread_mutex_lock(&rs->mtx);
			count_held(rs);
			continue;
		}
		/* queued samples first, but a steady stream of them cannot hold
		 * back the due writes for ever */
		if (w->next_due != 0 && (rs->qlen == 0 || w->burst >= JOB_BURST) &&
		    mono_dnow() >= w->next_due) {
			w->burst = 0;
			pthread_mutex_unlock(&rs->mtx);
			writer_write_held(rs, false);
			pthread_mutex_lock(&rs->mtx);
			count_held(rs);
			continue;
		}
		if (rs->qlen > 0) {
			struct job *j = rs->queue[rs->qhead];
			bool created = false;
			enum outcome o;

			rs->qhead = (rs->qhead + 1) % RRD_STORE_QUEUE_MAX;
			rs->qlen--;
			if (rs->full_logged && rs->qlen < RRD_STORE_QUEUE_MAX / 2) {
				log_info(
				    "rrd: writer caught up; %llu samples were dropped",
				    (unsigned long long)(rs->st.dropped - rs->dropped_at_full));
				rs->dropped_at_full = rs->st.dropped;
				rs->full_logged = false;
			}
			pthread_mutex_unlock(&rs->mtx);
			o = writer_job(rs, j, &created);
			free(j);
			w->burst++;
			pthread_mutex_lock(&rs->mtx);
			count(rs, o, created);
			count_held(rs);
			continue;
		}
		if (rs->sync_done < rs->sync_req) {
			writer_sync(rs);
			continue;
		}
		if (rs->flush_done < rs->flush_req) {
			uint64_t req = rs->flush_req;

			pthread_mutex_unlock(&rs->mtx);
			writer_flush(rs);
			pthread_mutex_lock(&rs->mtx);
			count_held(rs);
			rs->flush_done = req;
			pthread_cond_broadcast(&rs->done);
			continue;
		}
		if (rs->stop)
			break;
		rrd_creator_rest(w->creator); /* no rrdtool child while idle */
		writer_wait(rs);
	}
	pthread_mutex_unlock(&rs->mtx);

	writer_write_held(rs, true); /* a stop loses no history */
	if (w->addr != NULL)
		rrdc_disconnect();
	free(w->addr);
	w->addr = NULL;
	files_free(w);
	rrd_creator_free(w->creator);
	w->creator = NULL;
	return NULL;
}

/* ---- module interface ---- */

/* The writer takes no signals: they belong to the event loop. */
static int
start_writer(struct rrd_store *rs)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&rs->thread, NULL, writer_main, rs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* The state-dir as the writer names it: as configured (the graph code builds
 * the same names from the configuration, and rrdcached must see one spelling
 * of each file), without trailing slashes; absolute, since rrdcached needs
 * absolute names and a later chdir must not matter. */
static int
state_dir_abs(const char *state_dir, char abs[PATH_MAX])
{
	size_t n;

	if (state_dir[0] != '/') {
		if (realpath(state_dir, abs) == NULL)
			return -1;
	} else if (snprintf(abs, PATH_MAX, "%s", state_dir) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (n = strlen(abs); n > 0 && abs[n - 1] == '/'; n--)
		abs[n - 1] = '\0';
	return 0;
}

/* This runs before privileges are dropped, the writer after: a root-owned
 * rrd directory in a state-dir that belongs to the daemon's user goes to
 * that user, or no file could be created.  Other owners are left alone. */
static int
rrd_dir_prepare(const char *state_dir, const char *dir)
{
	struct stat sd, sr;

	if (mkdir_p(dir, 0755) == -1) {
		log_warn("rrd: cannot create %s", dir);
		return -1;
	}
	if (stat(state_dir, &sd) == -1 || stat(dir, &sr) == -1) {
		log_warn("rrd: %s", dir);
		return -1;
	}
	if (geteuid() == 0 && sr.st_uid == 0 && sd.st_uid != 0 &&
	    chown(dir, sd.st_uid, sd.st_gid) == -1) {
		log_warn("rrd: cannot give %s to the owner of %s", dir, state_dir);
		return -1;
	}
	return 0;
}

/* Timed waits on the monotonic clock: a clock step must not stall writes. */
static int
cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int r;

	if ((r = pthread_condattr_init(&a)) != 0)
		return r;
	if ((r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC)) == 0)
		r = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return r;
}

struct rrd_store *
rrd_store_new(struct event_base *base, struct lw_bus *bus, const struct lw_config *cfg)
{
	struct rrd_store *rs;
	char dir[PATH_MAX], abs[PATH_MAX];
	int r;

	if (cfg->state_dir == NULL || *cfg->state_dir == '\0') {
		log_warnx("rrd: no state-dir configured");
		return NULL;
	}
	if (snprintf(dir, sizeof(dir), "%s/rrd", cfg->state_dir) >= (int)sizeof(dir)) {
		log_warnx("rrd: state-dir %s is too long", cfg->state_dir);
		return NULL;
	}
	if (rrd_dir_prepare(cfg->state_dir, dir) == -1)
		return NULL;
	if (state_dir_abs(cfg->state_dir, abs) == -1) {
		log_warn("rrd: %s", cfg->state_dir);
		return NULL;
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL || (rs->state_dir = strdup(abs)) == NULL ||
	    (cfg->rrdcached != NULL && (rs->addr = strdup(cfg->rrdcached)) == NULL)) {
		log_warn("rrd");
		if (rs != NULL)
			free(rs->state_dir);
		free(rs);
		return NULL;
	}
	rs->bus = bus;
	rs->rrd_dir_len = strlen(abs) + strlen("/rrd");
	rs->addr_gen = 1;
	rs->delay_ms = cfg->rrd_write_delay_ms;
	if ((rs->w.creator = rrd_creator_new(NULL)) == NULL) {
		log_warn("rrd");
		free(rs->addr);
		free(rs->state_dir);
		free(rs);
		return NULL;
	}
	pthread_mutex_init(&rs->mtx, NULL);
	if (cond_init_mono(&rs->work) != 0 || cond_init_mono(&rs->done) != 0)
		fatalx("rrd: cannot set up the writer's condition variables");
	if ((r = start_writer(rs)) != 0) {
		errno = r;
		log_warn("rrd: cannot start the writer thread");
		goto fail;
	}
	if (sample_subscribe(bus, on_sample, rs) == -1) {
		log_warn("rrd: cannot subscribe to samples");
		pthread_mutex_lock(&rs->mtx);
		rs->stop = true;
		pthread_cond_signal(&rs->work);
		pthread_mutex_unlock(&rs->mtx);
		pthread_join(rs->thread, NULL);
		goto fail;
	}
	return rs;
fail:
	rrd_creator_free(rs->w.creator); /* NULL once a started writer ended */
	pthread_cond_destroy(&rs->done);
	pthread_cond_destroy(&rs->work);
	pthread_mutex_destroy(&rs->mtx);
	free(rs->addr);
	free(rs->state_dir);
	free(rs);
	return NULL;
}

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

void
rrd_store_reload(struct rrd_store *rs, const struct lw_config *cfg)
{
	char abs[PATH_MAX];
	char *addr = NULL;

	if (rs == NULL)
		return;
	if (cfg->state_dir == NULL || state_dir_abs(cfg->state_dir, abs) == -1 ||
	    strcmp(abs, rs->state_dir) != 0)
		log_warnx("rrd: a new state-dir takes effect at the next restart");
	if (cfg->rrdcached != NULL && (addr = strdup(cfg->rrdcached)) == NULL) {
		log_warn("rrd: keeping the old rrdcached setting");
		return;
	}
	pthread_mutex_lock(&rs->mtx);
	if (rs->delay_ms != cfg->rrd_write_delay_ms) {
		rs->delay_ms = cfg->rrd_write_delay_ms;
		pthread_cond_signal(&rs->work);
	}
	if (same_str(addr, rs->addr)) {
		pthread_mutex_unlock(&rs->mtx);
		free(addr);
		return;
	}
	free(rs->addr);
	rs->addr = addr;
	rs->addr_gen++;
	pthread_cond_signal(&rs->work);
	pthread_mutex_unlock(&rs->mtx);
}

void
rrd_store_flush(struct rrd_store *rs)
{
	uint64_t req;

	if (rs == NULL)
		return;
	pthread_mutex_lock(&rs->mtx);
	req = ++rs->flush_req;
	pthread_cond_signal(&rs->work);
	while (rs->flush_done < req)
		pthread_cond_wait(&rs->done, &rs->mtx);
	pthread_mutex_unlock(&rs->mtx);
}

void
rrd_store_sync_file(struct rrd_store *rs, const char *path, int timeout_ms)
{
	struct timespec dl;
	uint64_t req;
	int r = 0;

	if (rs == NULL || strlen(path) >= sizeof(rs->sync_path))
		return;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&rs->mtx);
	if (rs->delay_ms <= 0) {
		pthread_mutex_unlock(&rs->mtx);
		return; /* nothing is held */
	}
	while (rs->sync_done < rs->sync_req && r == 0) /* another reader's turn */
		r = pthread_cond_timedwait(&rs->done, &rs->mtx, &dl);
	if (r == 0) {
		snprintf(rs->sync_path, sizeof(rs->sync_path), "%s", path);
		req = ++rs->sync_req;
		pthread_cond_signal(&rs->work);
		while (rs->sync_done < req && r == 0)
			r = pthread_cond_timedwait(&rs->done, &rs->mtx, &dl);
	}
	pthread_mutex_unlock(&rs->mtx);
}

void
rrd_store_free(struct rrd_store *rs)
{
	if (rs == NULL)
		return;
	sample_unsubscribe(rs->bus, on_sample, rs);
	pthread_mutex_lock(&rs->mtx);
	rs->stop = true;
	pthread_cond_signal(&rs->work);
	pthread_mutex_unlock(&rs->mtx);
	pthread_join(rs->thread, NULL);

	for (; rs->qlen > 0; rs->qlen--) {
		free(rs->queue[rs->qhead]);
		rs->qhead = (rs->qhead + 1) % RRD_STORE_QUEUE_MAX;
	}
	while (rs->names != NULL) {
		struct layout *l = rs->names;

		rs->names = l->next;
		free(l);
	}
	pthread_cond_destroy(&rs->done);
	pthread_cond_destroy(&rs->work);
	pthread_mutex_destroy(&rs->mtx);
	free(rs->addr);
	free(rs->state_dir);
	free(rs);
}

void
rrd_store_stats(const struct rrd_store *rs, struct rrd_store_stats *out)
{
	struct rrd_store *m = (struct rrd_store *)rs; /* the mutex is not state */

	pthread_mutex_lock(&m->mtx);
	*out = rs->st;
	out->queued = rs->qlen;
	pthread_mutex_unlock(&m->mtx);
}
