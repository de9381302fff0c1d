/* test_rrd_store.c - RRD history: file names, layouts, values read back,
 * foreign files left alone, and the same through a real rrdcached (unix
 * socket and TCP on loopback). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <rrd.h>

#include "config.h"
#include "log.h"
#include "rrd_store.h"
#include "sample.h"

extern char **environ;

#define STEP 30
#define NSAMPLES 40

struct fx {
	char dir[64];   /* scratch root */
	char state[96]; /* state-dir */
	struct event_base *base;
	struct lw_bus *bus;
	struct lw_config cfg;
	struct rrd_store *rs;
	pid_t cached; /* rrdcached, 0 = none */
	char sock[100];
	char addr[160];
	int port;
	int mute; /* listening socket that never answers, -1 = none */
};

/* ---- helpers ---- */

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/lw-rrd-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	assert_int_equal(mkdir(fx->state, 0750), 0);
	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->bus = sample_bus_new();
	assert_non_null(fx->bus);
	fx->cfg.state_dir = fx->state;
	fx->mute = -1;
	*state = fx;
	return 0;
}

static void
cached_stop(struct fx *fx)
{
	int st;

	if (fx->cached <= 0)
		return;
	kill(fx->cached, SIGTERM);
	waitpid(fx->cached, &st, 0);
	fx->cached = 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->mute >= 0)
		close(fx->mute); /* else a failed test_queue_full hangs the writer */
	rrd_store_free(fx->rs);
	cached_stop(fx);
	sample_bus_free(fx->bus);
	event_base_free(fx->base);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static time_t
aligned_start(void)
{
	/* an hour ago, on a 5-minute boundary so archive rows line up */
	return (time(NULL) - 3600) / 300 * 300;
}

static void
publish_iface(struct fx *fx, const char *dev, const char *ifname, time_t t, int64_t interval_ms)
{
	struct lw_metric m[] = {
	    {"in_bps", "bps", 8000, true},
	    {"out_bps", "bps", 16000, true},
	    {"in_pps", "pps", 10, true},
	    {"out_pps", "pps", 20, true},
	    {"in_errors_ps", "pps", 99, false}, /* a discontinuity */
	    {"out_errors_ps", "pps", 0, true},
	    {"in_discards_ps", "pps", 0.5, true},
	    {"out_discards_ps", "pps", 0, true},
	    {"oper_up", "", 1, true},
	    {"utilization_in_pct", "%", 12.5, true},
	    {"utilization_out_pct", "%", NAN, true}, /* not finite: unknown too */
	};
	struct lw_sample s = {
	    .kind = LW_SUBJ_INTERFACE,
	    .device = dev,
	    .name = ifname,
	    .ts = {t, 0},
	    .interval_ms = interval_ms,
	    .metrics = m,
	    .nmetrics = sizeof(m) / sizeof(m[0]),
	};

	sample_publish(fx->bus, &s);
}

static void
publish_probe(struct fx *fx, const char *link, const char *probe, time_t t)
{
	struct lw_metric m[] = {
	    {"loss", "%", 2.5, true},
	    {"rtt_min", "ms", 10, true},
	    {"rtt_avg", "ms", 12.25, true},
	    {"rtt_max", "ms", 15, true},
	    {"mos", "", 4.4, false},
	    {"ttfb-ms", "ms", 7, true}, /* not in the base set: derived */
	};
	struct lw_sample s = {
	    .kind = LW_SUBJ_PROBE,
	    .link = link,
	    .name = probe,
	    .ts = {t, 250000},
	    .interval_ms = STEP * 1000,
	    .status = LW_WARNING,
	    .metrics = m,
	    .nmetrics = sizeof(m) / sizeof(m[0]),
	};

	sample_publish(fx->bus, &s);
}

static void
publish_device(struct fx *fx, const char *dev, time_t t, int64_t interval_ms)
{
	struct lw_metric m[] = {
	    {"uptime_s", "s", 1234, true},
	    {"reachable", "", 1, true},
	    {"ups_on_battery", "", 0, true}, /* from a profile: not a base source */
	};
	struct lw_sample s = {
	    .kind = LW_SUBJ_DEVICE,
	    .device = dev,
	    .ts = {t, 0},
	    .interval_ms = interval_ms,
	    .metrics = m,
	    .nmetrics = 3,
	};

	sample_publish(fx->bus, &s);
}

static void
path_of(struct fx *fx, enum lw_subject kind, const char *owner, const char *name, char *buf)
{
	assert_int_equal(rrd_store_file(fx->state, kind, owner, name, buf, PATH_MAX), 0);
}

/* Every row of ds between from and to (inclusive), from the AVERAGE
 * archive of the finest resolution; asserts each equals want (NAN: unknown). */
static void
assert_rows(const char *file, const char *ds, time_t from, time_t to, double want)
{
	time_t start = from, end = to;
	unsigned long step = 1, nds = 0, di, checked = 0;
	char **names = NULL;
	rrd_value_t *data = NULL;

	rrd_clear_error();
	if (rrd_fetch_r(file, "AVERAGE", &start, &end, &step, &nds, &names, &data) != 0)
		fail_msg("fetch %s: %s", file, rrd_get_error());
	for (di = 0; di < nds && strcmp(names[di], ds) != 0; di++)
		;
	if (di == nds)
		fail_msg("%s has no data source %s", file, ds);
	for (time_t t = start + (time_t)step; t <= end; t += (time_t)step) {
		double v = data[(size_t)((t - start) / (time_t)step - 1) * nds + di];

		if (t < from || t > to)
			continue;
		checked++;
		if (isnan(want)) {
			if (!isnan(v))
				fail_msg("%s %s at %lld: %g, want unknown", file, ds, (long long)t,
				         v);
		} else if (isnan(v) || fabs(v - want) > 1e-9 * fabs(want) + 1e-9) {
			fail_msg("%s %s at %lld: %g, want %g", file, ds, (long long)t, v, want);
		}
	}
	assert_true(checked >= 3);
	for (unsigned long i = 0; i < nds; i++)
		free(names[i]);
	free(names);
	free(data);
}

struct info {
	unsigned long step;
	size_t nds;
	char ds[RRD_STORE_MAX_DS][RRD_STORE_DS_LEN];
	unsigned long heartbeat;
	size_t nrra;
	char cf[64][8];
	unsigned long pdp[64], rows[64];
};

static void
read_info(const char *file, struct info *in)
{
	rrd_info_t *info, *p;

	memset(in, 0, sizeof(*in));
	rrd_clear_error();
	info = rrd_info_r(file);
	if (info == NULL)
		fail_msg("info %s: %s", file, rrd_get_error());
	for (p = info; p != NULL; p = p->next) {
		char name[64];
		int idx;

		if (strcmp(p->key, "step") == 0)
			in->step = p->value.u_cnt;
		else if (sscanf(p->key, "ds[%63[^]]].index", name) == 1 &&
		         strstr(p->key, ".index") != NULL) {
			assert_true(p->value.u_cnt < RRD_STORE_MAX_DS);
			snprintf(in->ds[p->value.u_cnt], RRD_STORE_DS_LEN, "%.19s", name);
			in->nds++;
		} else if (strstr(p->key, ".minimal_heartbeat") != NULL)
			in->heartbeat = p->value.u_cnt;
		else if (sscanf(p->key, "rra[%d].cf", &idx) == 1 && strstr(p->key, ".cf")) {
			snprintf(in->cf[idx], sizeof(in->cf[0]), "%s", p->value.u_str);
			if ((size_t)idx + 1 > in->nrra)
				in->nrra = (size_t)idx + 1;
		} else if (sscanf(p->key, "rra[%d].rows", &idx) == 1 && strstr(p->key, ".rows"))
			in->rows[idx] = p->value.u_cnt;
		else if (sscanf(p->key, "rra[%d].pdp_per_row", &idx) == 1 &&
		         strstr(p->key, ".pdp_per_row"))
			in->pdp[idx] = p->value.u_cnt;
	}
	rrd_info_free(info);
}

static bool
info_has_ds(const struct info *in, const char *ds)
{
	for (size_t i = 0; i < in->nds; i++)
		if (strcmp(in->ds[i], ds) == 0)
			return true;
	return false;
}

/* archives in order: per resolution AVERAGE, MIN, MAX */
static void
assert_rras(const struct info *in, const unsigned long *pdp, const unsigned long *rows, size_t n)
{
	static const char *const cf[] = {"AVERAGE", "MIN", "MAX"};

	assert_int_equal(in->nrra, n * 3);
	for (size_t i = 0; i < n * 3; i++) {
		assert_string_equal(in->cf[i], cf[i % 3]);
		assert_int_equal(in->pdp[i], pdp[i / 3]);
		assert_int_equal(in->rows[i], rows[i / 3]);
	}
}

static void
read_file(const char *path, char **buf, size_t *len)
{
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	*len = (size_t)ftell(fp);
	rewind(fp);
	*buf = malloc(*len + 1);
	assert_non_null(*buf);
	assert_int_equal(fread(*buf, 1, *len, fp), *len);
	fclose(fp);
}

static bool
exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* ---- names ---- */

static void
enc(const char *in, const char *want)
{
	char buf[NAME_MAX + 1], back[NAME_MAX + 1];

	assert_int_equal(rrd_store_name_encode(in, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	assert_int_equal(rrd_store_name_decode(buf, back, sizeof(back)), 0);
	assert_string_equal(back, in);
}

static void
test_names(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	enc("Gi1/0/1", "Gi1_0_1");
	enc("ge-0/0/0.100", "ge-0_0_0.100");
	enc("port_1", "port%5F1");
	enc("..", "%2E.");
	enc(".", "%2E");
	enc(".hidden", "%2Ehidden");
	enc("../../etc/passwd", "%2E._.._etc_passwd");
	enc("a\nb\x01\x7f", "a%0Ab%01%7F");
	enc("Serial0/0:1 (WAN)", "Serial0_0%3A1%20%28WAN%29");
	enc("100%", "100%25");
	enc("caf\xc3\xa9", "caf%C3%A9");

	assert_int_equal(rrd_store_name_encode("", buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rrd_store_name_encode(NULL, buf, sizeof(buf)), -1);
	assert_int_equal(rrd_store_name_encode("abcdef", buf, 4), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(rrd_store_name_decode("%zz", buf, sizeof(buf)), -1);
	assert_int_equal(rrd_store_name_decode("%00", buf, sizeof(buf)), -1);
	assert_int_equal(rrd_store_name_decode("%4", buf, sizeof(buf)), -1);
	assert_int_equal(rrd_store_name_decode("a b", buf, sizeof(buf)), -1);
	assert_int_equal(rrd_store_name_decode("..", buf, sizeof(buf)), -1);
	assert_int_equal(rrd_store_name_decode("", buf, sizeof(buf)), -1);

	/* random bytes: always one safe component, always reversible */
	srand(7);
	for (int n = 0; n < 2000; n++) {
		char in[41], out[NAME_MAX + 1], back[64];
		size_t len = 1 + (size_t)(rand() % 40);

		for (size_t i = 0; i < len; i++)
			in[i] = (char)(1 + rand() % 255);
		in[len] = '\0';
		assert_int_equal(rrd_store_name_encode(in, out, sizeof(out)), 0);
		assert_null(strchr(out, '/'));
		assert_true(out[0] != '.');
		for (const char *p = out; *p; p++)
			assert_true(*p > 0x20 && *p < 0x7f);
		assert_int_equal(rrd_store_name_decode(out, back, sizeof(back)), 0);
		assert_string_equal(back, in);
	}
}

static void
file_is(enum lw_subject kind, const char *owner, const char *name, const char *want)
{
	char buf[PATH_MAX];

	assert_int_equal(rrd_store_file("/var/lib/linewatch", kind, owner, name, buf, sizeof(buf)),
	                 0);
	assert_string_equal(buf, want);
}

static void
test_files(void **state)
{
	char buf[PATH_MAX], longname[300];

	(void)state;
	file_is(LW_SUBJ_INTERFACE, "core-sw1", "Gi1/0/1",
	        "/var/lib/linewatch/rrd/core-sw1/Gi1_0_1.rrd");
	file_is(LW_SUBJ_DEVICE, "core-sw1", NULL, "/var/lib/linewatch/rrd/core-sw1/device.rrd");
	file_is(LW_SUBJ_PROBE, "isp_a", "ping gw",
	        "/var/lib/linewatch/rrd/links/isp%5Fa/ping%20gw.rrd");
	file_is(LW_SUBJ_CAPTURE, NULL, "wan", "/var/lib/linewatch/rrd/captures/wan.rrd");
	/* fixed names cannot be taken by a subject */
	file_is(LW_SUBJ_INTERFACE, "sw", "device", "/var/lib/linewatch/rrd/sw/%64evice.rrd");
	file_is(LW_SUBJ_DEVICE, "links", NULL, "/var/lib/linewatch/rrd/%6Cinks/device.rrd");
	file_is(LW_SUBJ_INTERFACE, "captures", "x", "/var/lib/linewatch/rrd/%63aptures/x.rrd");
	file_is(LW_SUBJ_PROBE, "links", "device", "/var/lib/linewatch/rrd/links/links/device.rrd");
	/* hostile names stay inside their directory */
	file_is(LW_SUBJ_INTERFACE, "..", "../../../etc/shadow",
	        "/var/lib/linewatch/rrd/%2E./%2E._.._.._etc_shadow.rrd");
	file_is(LW_SUBJ_INTERFACE, "sw", "eth0\r\n\033[2J",
	        "/var/lib/linewatch/rrd/sw/eth0%0D%0A%1B%5B2J.rrd");

	assert_int_equal(rrd_store_file("/s//", LW_SUBJ_CAPTURE, NULL, "wan", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/s/rrd/captures/wan.rrd");
	assert_int_equal(rrd_store_file("/s", LW_SUBJ_INTERFACE, "sw", NULL, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rrd_store_file("/s", LW_SUBJ_INTERFACE, NULL, "x", buf, sizeof(buf)), -1);
	assert_int_equal(rrd_store_file("/s", LW_SUBJ_PROBE, "", "x", buf, sizeof(buf)), -1);
	assert_int_equal(rrd_store_file("/s", (enum lw_subject)42, "a", "b", buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(rrd_store_file("/s", LW_SUBJ_CAPTURE, NULL, longname, buf, sizeof(buf)),
	                 -1);
	assert_int_equal(errno, ENAMETOOLONG);
	longname[251] = '\0'; /* 251 + ".rrd" = NAME_MAX */
	assert_int_equal(rrd_store_file("/s", LW_SUBJ_CAPTURE, NULL, longname, buf, sizeof(buf)),
	                 0);
	assert_int_equal(rrd_store_file("/s", LW_SUBJ_CAPTURE, NULL, "wan", buf, 10), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void
test_ds_names(void **state)
{
	char ds[RRD_STORE_DS_LEN];
	size_t n;
	const char *const *base;

	(void)state;
	assert_string_equal(rrd_store_ds_name("rtt_avg", ds), "rtt_avg");
	assert_string_equal(rrd_store_ds_name("time-to-first byte", ds), "time_to_first_byte");
	assert_string_equal(rrd_store_ds_name("utilization_out_pct_extra", ds),
	                    "utilization_out_pct");
	assert_string_equal(rrd_store_ds_name("", ds), "");
	base = rrd_store_base_ds(LW_SUBJ_INTERFACE, &n);
	assert_int_equal(n, 13);
	assert_string_equal(base[0], "in_bps");
	base = rrd_store_base_ds(LW_SUBJ_PROBE, &n);
	assert_int_equal(n, 10);
	assert_string_equal(base[0], "status");
	base = rrd_store_base_ds(LW_SUBJ_DEVICE, &n);
	assert_int_equal(n, 3);
	assert_string_equal(base[0], "reachable");
	assert_null(rrd_store_base_ds(LW_SUBJ_CAPTURE, &n));
	assert_int_equal(n, 0);
}

/* ---- writing ---- */

static void
start_store(struct fx *fx)
{
	fx->rs = rrd_store_new(fx->base, fx->bus, &fx->cfg);
	assert_non_null(fx->rs);
}

static void
stats(struct fx *fx, struct rrd_store_stats *st)
{
	rrd_store_stats(fx->rs, st);
}

/* publish an interface and a probe for NSAMPLES steps, then check both files */
static void
write_and_check(struct fx *fx, time_t t0)
{
	char ifile[PATH_MAX], pfile[PATH_MAX];
	struct info in;
	time_t last = t0 + (NSAMPLES - 1) * STEP;
	static const unsigned long pdp[] = {2, 10, 120, 2880};
	static const unsigned long rows[] = {2880, 4032, 9504, 1827};

	for (int i = 0; i < NSAMPLES; i++) {
		publish_iface(fx, "core-sw1", "Gi1/0/1", t0 + i * STEP, STEP * 1000);
		publish_probe(fx, "isp-a", "ping", t0 + i * STEP);
	}
	rrd_store_flush(fx->rs);

	path_of(fx, LW_SUBJ_INTERFACE, "core-sw1", "Gi1/0/1", ifile);
	path_of(fx, LW_SUBJ_PROBE, "isp-a", "ping", pfile);
	assert_true(exists(ifile));
	assert_true(exists(pfile));

	/* the first minute is partial (the file starts at t0 - 1) */
	assert_rows(ifile, "in_bps", t0 + 120, last, 8000);
	assert_rows(ifile, "out_bps", t0 + 120, last, 16000);
	assert_rows(ifile, "in_discards_ps", t0 + 120, last, 0.5);
	assert_rows(ifile, "oper_up", t0 + 120, last, 1);
	assert_rows(ifile, "utilization_in_pct", t0 + 120, last, 12.5);
	assert_rows(ifile, "in_errors_ps", t0 + 120, last, NAN);
	assert_rows(ifile, "utilization_out_pct", t0 + 120, last, NAN);
	assert_rows(ifile, "speed_bps", t0 + 120, last, NAN); /* not in the sample */
	assert_rows(pfile, "loss", t0 + 120, last, 2.5);
	assert_rows(pfile, "rtt_avg", t0 + 120, last, 12.25);
	assert_rows(pfile, "status", t0 + 120, last, 1);
	assert_rows(pfile, "ttfb_ms", t0 + 120, last, 7);
	assert_rows(pfile, "mos", t0 + 120, last, NAN);
	assert_rows(pfile, "jitter", t0 + 120, last, NAN); /* in the set, never reported */

	read_info(ifile, &in);
	assert_int_equal(in.step, STEP);
	assert_int_equal(in.heartbeat, 2 * STEP);
	assert_int_equal(in.nds, 13);
	assert_string_equal(in.ds[0], "in_bps");
	assert_string_equal(in.ds[12], "last_change_s");
	assert_rras(&in, pdp, rows, 4);

	read_info(pfile, &in);
	assert_int_equal(in.step, STEP);
	assert_int_equal(in.nds, 11); /* 10 probe sources + ttfb_ms */
	assert_true(info_has_ds(&in, "status"));
	assert_true(info_has_ds(&in, "rtt_median"));
	assert_true(info_has_ds(&in, "connect_time"));
	assert_true(info_has_ds(&in, "ttfb_ms"));
	assert_false(info_has_ds(&in, "ttfb-ms"));
	assert_rras(&in, pdp, rows, 4);
}

static void
test_direct(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;

	start_store(fx);
	write_and_check(fx, aligned_start());
	stats(fx, &st);
	assert_int_equal(st.written, 2 * NSAMPLES);
	assert_int_equal(st.created, 2);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.queued, 0);
}

/* A plugin that names its metrics afresh in every run: each sample has a
 * list of names of its own, past the store's shared lists; every row still
 * carries its values, and the metrics the file lacks are left out. */
static void
test_changing_metric_names(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;
	char f[PATH_MAX], extra[16];
	time_t t0 = (time(NULL) - 4 * 3600) / 300 * 300;
	int n = 300;

	start_store(fx);
	for (int i = 0; i < n; i++) {
		struct lw_metric m[] = {{"loss", "%", 2.5, true}, {extra, "", i, true}};
		struct lw_sample s = {
		    .kind = LW_SUBJ_PROBE,
		    .link = "isp-a",
		    .name = "check",
		    .ts = {t0 + i * STEP, 0},
		    .interval_ms = STEP * 1000,
		    .metrics = m,
		    .nmetrics = 2,
		};

		snprintf(extra, sizeof(extra), "x%d", i);
		sample_publish(fx->bus, &s);
	}
	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.written, n);
	assert_int_equal(st.errors, 0);
	path_of(fx, LW_SUBJ_PROBE, "isp-a", "check", f);
	assert_rows(f, "loss", t0 + 120, t0 + (n - 1) * STEP, 2.5);
	assert_rows(f, "status", t0 + 120, t0 + (n - 1) * STEP, 0);
	assert_rows(f, "x0", t0 + 120, t0 + (n - 1) * STEP, NAN); /* x0 came once */
}

/* Wait until the writer has taken every queued sample. */
static void
wait_taken(struct fx *fx, struct rrd_store_stats *st)
{
	for (int i = 0; i < 1000; i++) {
		stats(fx, st);
		if (st->queued == 0)
			return;
		usleep(10000);
	}
	fail_msg("the writer did not take the queue within 10 s");
}

/* A store with this rrd-write-delay, given samples t0 + [0, n) steps of
 * interface sw/eth0, whose file is f. */
static void
start_held(struct fx *fx, int64_t delay_ms, time_t t0, int n, char f[PATH_MAX])
{
	fx->cfg.rrd_write_delay_ms = delay_ms;
	start_store(fx);
	path_of(fx, LW_SUBJ_INTERFACE, "sw", "eth0", f);
	for (int i = 0; i < n; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
}

/* rrd-write-delay: rows are held per file and written together: when a
 * reader asks for the file, when HOLD_MAX_ROWS (64) are held, on a flush. */
static void
test_held_rows(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;
	char f[PATH_MAX];
	time_t t0 = aligned_start();

	start_held(fx, 3600 * 1000, t0, 10, f);
	wait_taken(fx, &st);
	assert_int_equal(st.held, 10);
	assert_int_equal(st.written, 0);
	assert_int_equal(st.created, 1);
	assert_int_equal(rrd_last_r(f), t0 - 1); /* created, nothing written yet */

	rrd_store_sync_file(fx->rs, f, 5000);
	assert_int_equal(rrd_last_r(f), t0 + 9 * STEP);
	stats(fx, &st);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.written, 10);
	rrd_store_sync_file(fx->rs, "/nonexistent.rrd", 5000); /* nothing held: at once */

	for (int i = 10; i < 80; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	wait_taken(fx, &st);
	assert_int_equal(st.written, 10 + 64); /* the 65th row wrote the first 64 */
	assert_int_equal(st.held, 6);
	assert_int_equal(rrd_last_r(f), t0 + 73 * STEP);

	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.written, 80);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(rrd_last_r(f), t0 + 79 * STEP);
	assert_rows(f, "in_bps", t0 + 120, t0 + 79 * STEP, 8000);
}

/* A stop writes the held rows. */
static void
test_held_rows_stop(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;
	char f[PATH_MAX];
	time_t t0 = aligned_start();

	start_held(fx, 3600 * 1000, t0, 20, f);
	wait_taken(fx, &st);
	assert_int_equal(st.held, 20);
	rrd_store_free(fx->rs);
	fx->rs = NULL;
	assert_int_equal(rrd_last_r(f), t0 + 19 * STEP);
}

/* A short delay writes them on its own. */
static void
test_held_rows_due(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;
	char f[PATH_MAX];
	time_t t0 = aligned_start();

	start_held(fx, 200, t0, 5, f);
	for (int i = 0; i < 500; i++) {
		stats(fx, &st);
		if (st.written == 5)
			break;
		usleep(10000);
	}
	assert_int_equal(st.written, 5);
	assert_int_equal(st.held, 0);
	assert_int_equal(rrd_last_r(f), t0 + 4 * STEP);
}

static void
test_rra_plan(void **state)
{
	struct fx *fx = *state;
	char f[PATH_MAX];
	struct info in;
	time_t t0 = aligned_start();
	static const unsigned long pdp1[] = {60, 300, 3600, 86400};
	static const unsigned long pdp300[] = {1, 12, 288};
	static const unsigned long rows[] = {2880, 4032, 9504, 1827};

	start_store(fx);
	publish_device(fx, "fast", t0, 1000);
	publish_device(fx, "slow", t0, 300000);
	publish_device(fx, "odd", t0, 1499); /* rounds to 1 s */
	rrd_store_flush(fx->rs);

	path_of(fx, LW_SUBJ_DEVICE, "fast", NULL, f);
	read_info(f, &in);
	assert_int_equal(in.step, 1);
	assert_int_equal(in.heartbeat, 2);
	assert_rras(&in, pdp1, rows, 4);
	/* device sources come from the sample */
	assert_int_equal(in.nds, 4);
	assert_string_equal(in.ds[0], "reachable");
	assert_string_equal(in.ds[1], "poll_duration_ms");
	assert_string_equal(in.ds[2], "uptime_s");
	assert_string_equal(in.ds[3], "ups_on_battery");

	path_of(fx, LW_SUBJ_DEVICE, "slow", NULL, f);
	read_info(f, &in);
	assert_int_equal(in.step, 300);
	assert_int_equal(in.heartbeat, 600);
	assert_rras(&in, pdp300, rows + 1, 3); /* no separate 1-minute archive */

	path_of(fx, LW_SUBJ_DEVICE, "odd", NULL, f);
	read_info(f, &in);
	assert_int_equal(in.step, 1);
}

static void
foreign(struct fx *fx, const char *ifname, unsigned long step, const char **defs, int n)
{
	char f[PATH_MAX], dir[PATH_MAX];

	path_of(fx, LW_SUBJ_INTERFACE, "sw", ifname, f);
	snprintf(dir, sizeof(dir), "%s/rrd", fx->state);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/rrd/sw", fx->state);
	mkdir(dir, 0755);
	rrd_clear_error();
	if (rrd_create_r(f, step, aligned_start() - 7200, n, defs) != 0)
		fail_msg("create %s: %s", f, rrd_get_error());
}

static void
test_foreign_layout(void **state)
{
	struct fx *fx = *state;
	static const char *other_ds[] = {"DS:foo:GAUGE:60:U:U", "RRA:AVERAGE:0.5:1:10"};
	static const char *other_step[] = {
	    "DS:in_bps:GAUGE:120:U:U",
	    "DS:out_bps:GAUGE:120:U:U",
	    "DS:in_pps:GAUGE:120:U:U",
	    "DS:out_pps:GAUGE:120:U:U",
	    "DS:in_errors_ps:GAUGE:120:U:U",
	    "DS:out_errors_ps:GAUGE:120:U:U",
	    "DS:in_discards_ps:GAUGE:120:U:U",
	    "DS:out_discards_ps:GAUGE:120:U:U",
	    "DS:oper_up:GAUGE:120:U:U",
	    "DS:speed_bps:GAUGE:120:U:U",
	    "DS:utilization_in_pct:GAUGE:120:U:U",
	    "DS:utilization_out_pct:GAUGE:120:U:U",
	    "DS:last_change_s:GAUGE:120:U:U",
	    "RRA:AVERAGE:0.5:1:10",
	};
	static const char *counter_probe[] = {"DS:loss:COUNTER:60:U:U", "RRA:AVERAGE:0.5:1:10"};
	char f1[PATH_MAX], f2[PATH_MAX], f3[PATH_MAX], dir[PATH_MAX];
	char *b1, *b2, *b3, *a1, *a2, *a3;
	size_t l1, l2, l3, m1, m2, m3;
	struct rrd_store_stats st;
	time_t t0 = aligned_start();

	foreign(fx, "Gi0/1", STEP, other_ds, 2);
	foreign(fx, "Gi0/2", 60, other_step, 14);
	path_of(fx, LW_SUBJ_PROBE, "isp-a", "ping", f3);
	snprintf(dir, sizeof(dir), "%s/rrd/links", fx->state);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/rrd/links/isp-a", fx->state);
	mkdir(dir, 0755);
	rrd_clear_error();
	if (rrd_create_r(f3, STEP, t0 - 7200, 2, counter_probe) != 0)
		fail_msg("create %s: %s", f3, rrd_get_error());
	path_of(fx, LW_SUBJ_INTERFACE, "sw", "Gi0/1", f1);
	path_of(fx, LW_SUBJ_INTERFACE, "sw", "Gi0/2", f2);
	read_file(f1, &b1, &l1);
	read_file(f2, &b2, &l2);
	read_file(f3, &b3, &l3);

	start_store(fx);
	for (int i = 0; i < 5; i++) {
		publish_iface(fx, "sw", "Gi0/1", t0 + i * STEP, STEP * 1000);
		publish_iface(fx, "sw", "Gi0/2", t0 + i * STEP, STEP * 1000);
		publish_probe(fx, "isp-a", "ping", t0 + i * STEP);
		publish_iface(fx, "sw", "Gi0/3", t0 + i * STEP, STEP * 1000); /* ours */
	}
	rrd_store_flush(fx->rs);

	read_file(f1, &a1, &m1);
	read_file(f2, &a2, &m2);
	read_file(f3, &a3, &m3);
	assert_memory_equal(a1, b1, l1);
	assert_int_equal(m1, l1);
	assert_memory_equal(a2, b2, l2);
	assert_int_equal(m2, l2);
	assert_memory_equal(a3, b3, l3);
	assert_int_equal(m3, l3);
	stats(fx, &st);
	assert_int_equal(st.skipped, 15);
	assert_int_equal(st.written, 5);
	assert_int_equal(st.errors, 0);
	free(b1), free(b2), free(b3), free(a1), free(a2), free(a3);
}

static void
test_existing_file_reused(void **state)
{
	struct fx *fx = *state;
	char f[PATH_MAX];
	struct rrd_store_stats st;
	time_t t0 = aligned_start();

	/* a first run writes 20 samples, a second run (new store) goes on */
	start_store(fx);
	for (int i = 0; i < 20; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	rrd_store_free(fx->rs);
	fx->rs = NULL;

	start_store(fx);
	for (int i = 10; i < 40; i++) /* 10 of them are old */
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	publish_iface(fx, "sw", "eth0", t0 + 39 * STEP, STEP * 1000); /* same time again */
	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.created, 0);
	assert_int_equal(st.written, 20);
	assert_int_equal(st.skipped, 11);
	assert_int_equal(st.errors, 0);
	path_of(fx, LW_SUBJ_INTERFACE, "sw", "eth0", f);
	assert_rows(f, "in_bps", t0 + 120, t0 + 39 * STEP, 8000);
}

static void
test_unwritable_recovers(void **state)
{
	struct fx *fx = *state;
	char blocker[PATH_MAX], f[PATH_MAX];
	struct rrd_store_stats st;
	time_t t0 = aligned_start();
	int fd;

	/* a plain file where the device directory belongs: no file can be made */
	snprintf(blocker, sizeof(blocker), "%s/rrd", fx->state);
	mkdir(blocker, 0755);
	snprintf(blocker, sizeof(blocker), "%s/rrd/sw", fx->state);
	fd = open(blocker, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);

	start_store(fx);
	for (int i = 0; i < 3; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	publish_iface(fx, "other", "eth0", t0, STEP * 1000); /* the daemon keeps going */
	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.errors, 3);
	assert_int_equal(st.written, 1);

	assert_int_equal(unlink(blocker), 0);
	for (int i = 3; i < 10; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.errors, 3);
	assert_int_equal(st.written, 8);
	path_of(fx, LW_SUBJ_INTERFACE, "sw", "eth0", f);
	assert_true(exists(f));
}

static void
test_bad_samples(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;
	struct lw_sample s = {.kind = LW_SUBJ_INTERFACE,
	                      .device = "sw",
	                      .name = NULL,
	                      .ts = {aligned_start(), 0},
	                      .interval_ms = 30000};
	struct lw_sample empty = {.kind = LW_SUBJ_CAPTURE,
	                          .name = "wan",
	                          .ts = {aligned_start(), 0},
	                          .interval_ms = 30000};
	char f[PATH_MAX];

	start_store(fx);
	sample_publish(fx->bus, &s);  /* no interface name */
	s.kind = (enum lw_subject)99; /* unknown kind */
	sample_publish(fx->bus, &s);
	sample_publish(fx->bus, &empty); /* no metrics: nothing to make a file of */
	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.written, 0);
	path_of(fx, LW_SUBJ_CAPTURE, NULL, "wan", f);
	assert_false(exists(f));
}

static void
test_new_fails(void **state)
{
	struct fx *fx = *state;
	char blocker[PATH_MAX];
	int fd;
	struct lw_config cfg = {0};

	snprintf(blocker, sizeof(blocker), "%s/rrd", fx->state);
	fd = open(blocker, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_null(rrd_store_new(fx->base, fx->bus, &fx->cfg));
	assert_null(rrd_store_new(fx->base, fx->bus, &cfg));
}

/* A socket that takes connections but never answers: the writer hangs in its
 * first request.  Publishing must not block: the queue fills, the rest is
 * dropped and counted; when the socket goes away the writer carries on. */
static void
test_queue_full(void **state)
{
	struct fx *fx = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct rrd_store_stats st;
	time_t t0 = aligned_start() - 7 * 24 * 3600;
	const uint64_t n = RRD_STORE_QUEUE_MAX + 11;
	int lfd = fx->mute = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(lfd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/mute.sock", fx->dir);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	snprintf(fx->addr, sizeof(fx->addr), "unix:%s", sun.sun_path);
	fx->cfg.rrdcached = fx->addr;
	start_store(fx);

	for (uint64_t i = 0; i < n; i++)
		publish_iface(fx, "sw", "eth0", t0 + (time_t)i * STEP, STEP * 1000);
	stats(fx, &st);
	/* the writer holds at most one job while it hangs */
	assert_true(st.dropped == 10 || st.dropped == 11);
	assert_true(st.queued + st.dropped == n || st.queued + st.dropped == n - 1);
	assert_int_equal(st.written, 0);

	close(lfd); /* resets the pending connection */
	fx->mute = -1;
	unlink(sun.sun_path);
	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.errors + st.dropped, (uint64_t)n);
}

/* linewatchd starts modules as root and drops privileges later: the rrd
 * directory must belong to the state-dir's owner by then. */
static void
test_rrd_dir_owner(void **state)
{
	struct fx *fx = *state;
	char dir[PATH_MAX];
	struct stat sb;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chown(fx->state, 65534, 65534), 0);
	start_store(fx);
	snprintf(dir, sizeof(dir), "%s/rrd", fx->state);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	assert_int_equal(sb.st_gid, 65534);
}

/* ---- rrdcached ---- */

static int
free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static int
cached_connect(struct fx *fx)
{
	int fd;

	if (fx->port) {
		struct sockaddr_in sin = {.sin_family = AF_INET,
		                          .sin_port = htons((uint16_t)fx->port),
		                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			return fd;
	} else {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx->sock);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
	}
	close(fd);
	return -1;
}

/* Start the real rrdcached: base directory <state>/rrd, writes held back for
 * an hour (-w) so only a flush puts updates on disk. */
static void
cached_start(struct fx *fx, bool tcp)
{
	char listen[160], base[PATH_MAX], journal[PATH_MAX], log[PATH_MAX];
	char *argv[] = {"rrdcached", "-g", "-l",   listen, "-b",   base, "-B", "-F", "-j",
	                journal,     "-w", "3600", "-f",   "7200", "-o", log,  NULL};
	posix_spawn_file_actions_t fa;
	struct timespec deadline, now;
	int fd;

	snprintf(base, sizeof(base), "%s/rrd", fx->state);
	mkdir(base, 0755);
	snprintf(journal, sizeof(journal), "%s/journal", fx->dir);
	mkdir(journal, 0755);
	snprintf(log, sizeof(log), "%s/rrdcached.log", fx->dir);
	if (tcp) {
		fx->port = free_port();
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", fx->port);
	} else {
		snprintf(fx->sock, sizeof(fx->sock), "%s/rrdcached.sock", fx->dir);
		snprintf(listen, sizeof(listen), "unix:%s", fx->sock);
	}
	snprintf(fx->addr, sizeof(fx->addr), "%s", listen);

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (posix_spawnp(&fx->cached, "rrdcached", &fa, NULL, argv, environ) != 0)
		fail_msg("cannot run rrdcached (Debian package rrdcached): %s", strerror(errno));
	posix_spawn_file_actions_destroy(&fa);

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 15;
	while ((fd = cached_connect(fx)) == -1) {
		int st;

		if (waitpid(fx->cached, &st, WNOHANG) == fx->cached) {
			fx->cached = 0;
			fail_msg("rrdcached exited; see %s", log);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline.tv_sec)
			fail_msg("rrdcached does not answer on %s", listen);
		usleep(20000);
	}
	close(fd);
}

/* rrdcached's own count of received updates (STATS command). */
static long
cached_updates(struct fx *fx)
{
	char line[256];
	long n = -1;
	int fd = cached_connect(fx);
	FILE *fp;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "STATS\n", 6), 6);
	fp = fdopen(fd, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "UpdatesReceived: %ld", &n) == 1)
			break;
	}
	fclose(fp);
	return n;
}

/* Through rrdcached, held rows go in as few update commands as fit. */
static void
test_held_rows_cached(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;
	char f[PATH_MAX];
	time_t t0 = aligned_start();
	long commands;

	cached_start(fx, false);
	fx->cfg.rrdcached = fx->addr;
	start_held(fx, 3600 * 1000, t0, NSAMPLES, f); /* held 10 s at most: not reached */
	wait_taken(fx, &st);
	assert_int_equal(st.held, NSAMPLES);
	assert_int_equal(cached_updates(fx), 0);

	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.written, NSAMPLES);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.errors, 0);
	commands = cached_updates(fx);
	assert_true(commands >= 1 && commands <= NSAMPLES / 10);
	assert_rows(f, "in_bps", t0 + 120, t0 + (NSAMPLES - 1) * STEP, 8000);
}

static void
test_rrdcached_unix(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;

	cached_start(fx, false);
	fx->cfg.rrdcached = fx->addr;
	start_store(fx);
	write_and_check(fx, aligned_start());
	stats(fx, &st);
	assert_int_equal(st.written, 2 * NSAMPLES);
	assert_int_equal(st.created, 2);
	assert_int_equal(st.errors, 0);
	assert_int_equal(cached_updates(fx), 2 * NSAMPLES);
}

static void
test_rrdcached_tcp(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;

	cached_start(fx, true);
	fx->cfg.rrdcached = fx->addr;
	start_store(fx);
	write_and_check(fx, aligned_start());
	stats(fx, &st);
	assert_int_equal(st.written, 2 * NSAMPLES);
	assert_int_equal(st.errors, 0);
	assert_int_equal(cached_updates(fx), 2 * NSAMPLES);
}

static void
test_rrdcached_foreign(void **state)
{
	struct fx *fx = *state;
	static const char *other_ds[] = {"DS:foo:GAUGE:60:U:U", "RRA:AVERAGE:0.5:1:10"};
	struct rrd_store_stats st;
	char f[PATH_MAX], *b, *a;
	size_t lb, la;
	time_t t0 = aligned_start();

	cached_start(fx, false);
	foreign(fx, "Gi0/1", STEP, other_ds, 2);
	path_of(fx, LW_SUBJ_INTERFACE, "sw", "Gi0/1", f);
	read_file(f, &b, &lb);
	fx->cfg.rrdcached = fx->addr;
	start_store(fx);
	for (int i = 0; i < 5; i++)
		publish_iface(fx, "sw", "Gi0/1", t0 + i * STEP, STEP * 1000);
	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.skipped, 5);
	assert_int_equal(cached_updates(fx), 0);
	read_file(f, &a, &la);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, lb);
	free(a), free(b);
}

/* direct -> rrdcached -> direct, on the same files */
static void
test_reload(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;
	struct lw_config cfg2;
	char f[PATH_MAX];
	time_t t0 = aligned_start();

	cached_start(fx, false);
	start_store(fx);
	for (int i = 0; i < 10; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	rrd_store_flush(fx->rs);
	assert_int_equal(cached_updates(fx), 0);

	cfg2 = fx->cfg;
	cfg2.rrdcached = fx->addr;
	rrd_store_reload(fx->rs, &cfg2);
	for (int i = 10; i < 25; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	rrd_store_flush(fx->rs);
	assert_int_equal(cached_updates(fx), 15);

	rrd_store_reload(fx->rs, &fx->cfg); /* back to direct writes */
	for (int i = 25; i < 40; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	rrd_store_flush(fx->rs);
	assert_int_equal(cached_updates(fx), 15);

	stats(fx, &st);
	assert_int_equal(st.written, 40);
	assert_int_equal(st.created, 1);
	assert_int_equal(st.errors, 0);
	path_of(fx, LW_SUBJ_INTERFACE, "sw", "eth0", f);
	assert_rows(f, "in_bps", t0 + 120, t0 + 39 * STEP, 8000);
}

/* rrdcached not there yet: errors, no crash; once it listens, writes go on */
static void
test_rrdcached_late(void **state)
{
	struct fx *fx = *state;
	struct rrd_store_stats st;
	struct timespec deadline, now;
	char f[PATH_MAX];
	time_t t0 = aligned_start();
	int i;

	snprintf(fx->addr, sizeof(fx->addr), "unix:%s/rrdcached.sock", fx->dir);
	fx->cfg.rrdcached = fx->addr;
	start_store(fx);
	for (i = 0; i < 3; i++)
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
	rrd_store_flush(fx->rs);
	stats(fx, &st);
	assert_int_equal(st.errors, 3);
	assert_int_equal(st.written, 0);

	cached_start(fx, false);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 30;
	for (;; i++) {
		publish_iface(fx, "sw", "eth0", t0 + i * STEP, STEP * 1000);
		rrd_store_flush(fx->rs);
		stats(fx, &st);
		if (st.written > 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline.tv_sec)
			fail_msg("nothing written through rrdcached after it started");
		usleep(200000);
	}
	path_of(fx, LW_SUBJ_INTERFACE, "sw", "eth0", f);
	assert_true(exists(f));
	assert_int_equal(cached_updates(fx), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_held_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_rows_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_rows_cached, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_rows_due, setup, teardown),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_ds_names),
	    cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changing_metric_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rra_plan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_existing_file_reused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable_recovers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_samples, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rrd_dir_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rrdcached_unix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rrdcached_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rrdcached_foreign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rrdcached_late, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
	};

	log_init(1, getenv("LW_TEST_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
