/* config.c - libconfuse schema, validation, immutable snapshot.
 *
 * Typed values (durations, rates, sizes, percentages) are parsed while
 * libconfuse reads the file, so an error names the exact line.  Every error
 * is collected rather than stopping at the first, except syntax errors, after
 * which libconfuse cannot go on.
 */
#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "units.h"

#ifndef LW_STATEDIR
#define LW_STATEDIR "/var/lib/linewatch"
#endif
#ifndef LW_PLUGINDIR
#define LW_PLUGINDIR "/usr/local/lib/linewatch/plugins"
#endif
#ifndef LW_DATADIR
#define LW_DATADIR "/usr/local/share/linewatch"
#endif

struct errctx {
	config_error_cb cb;
	void *arg;
	int nerrors;
	const char *file;
	char **lines; /* the file, for the opening line of each section */
	size_t nlines;
};

/* libconfuse has no user pointer on cfg_t; parsing is single-threaded and
 * not re-entrant, so the current error context lives here for its duration. */
static struct errctx *cur_err;

static void report(struct errctx *ec, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct errctx *ec, int line, const char *fmt, ...)
{
	char msg[1024], full[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%d: %s", ec->file, line, msg);
	ec->nerrors++;
	if (ec->cb)
		ec->cb(full, ec->arg);
}

static void
errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cur_err == NULL)
		return;
	if (cfg != NULL && cfg->line > 0)
		report(cur_err, cfg->line, "%s", msg);
	else {
		char full[1200];
		snprintf(full, sizeof(full), "%s: %s", cur_err->file, msg);
		cur_err->nerrors++;
		if (cur_err->cb)
			cur_err->cb(full, cur_err->arg);
	}
}

/* libconfuse records a section's closing line; users look for its opening
 * line, so find `kind "title"` in the text, at or after `from`. */
static int
open_line(struct errctx *ec, const char *kind, const char *title, int from)
{
	size_t kl = strlen(kind);

	for (size_t i = from > 0 ? (size_t)from - 1 : 0; i < ec->nlines; i++) {
		const char *p = ec->lines[i];
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, kind, kl) != 0)
			continue;
		p += kl;
		if (title == NULL) {
			if (*p == ' ' || *p == '\t' || *p == '{' || *p == '\0' || *p == '\n')
				return (int)i + 1;
			continue;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"' && strncmp(p + 1, title, strlen(title)) == 0 &&
		    p[1 + strlen(title)] == '"')
			return (int)i + 1;
	}
	return from > 0 ? from : 1;
}

static void
load_lines(struct errctx *ec, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (fp == NULL)
		return;
	while (getline(&line, &cap, fp) != -1) {
		char **n = realloc(ec->lines, (ec->nlines + 1) * sizeof(*n));
		if (n == NULL)
			break;
		ec->lines = n;
		ec->lines[ec->nlines++] = line;
		line = NULL;
		cap = 0;
	}
	free(line);
	fclose(fp);
}

static void
free_lines(struct errctx *ec)
{
	for (size_t i = 0; i < ec->nlines; i++)
		free(ec->lines[i]);
	free(ec->lines);
}

/* libconfuse accepts a file that ends inside a section; refuse it and name
 * the line of the '{' that was never closed. */
static void
check_braces(struct errctx *ec)
{
	int stack[64], depth = 0, in_comment = 0;

	for (size_t i = 0; i < ec->nlines; i++) {
		const char *p = ec->lines[i];
		int in_str = 0;
		for (; *p; p++) {
			if (in_comment) {
				if (p[0] == '*' && p[1] == '/') {
					in_comment = 0;
					p++;
				}
				continue;
			}
			if (in_str) {
				if (*p == '\\' && p[1])
					p++;
				else if (*p == in_str)
					in_str = 0;
				continue;
			}
			if (*p == '#' || (p[0] == '/' && p[1] == '/'))
				break;
			if (p[0] == '/' && p[1] == '*') {
				in_comment = 1;
				p++;
			} else if (*p == '"' || *p == '\'')
				in_str = *p;
			else if (*p == '{') {
				if (depth < 64)
					stack[depth] = (int)i + 1;
				depth++;
			} else if (*p == '}' && depth > 0)
				depth--;
		}
	}
	if (depth > 0)
		report(ec, depth <= 64 ? stack[depth - 1] : 1,
		       "this '{' is never closed: add the missing '}'");
}

/* --- typed option callbacks: value stored as a malloc'd number ---------- */

static int
cb_duration(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char err[256];
	int64_t *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return -1;
	if (units_duration_ms(value, v, err, sizeof(err)) != 0) {
		cfg_error(cfg, "%s: %s", cfg_opt_name(opt), err);
		*v = -1; /* already reported: range checks skip it */
	}
	*(void **)result = v;
	return 0;
}

static int
cb_rate(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char err[256];
	uint64_t *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return -1;
	if (units_rate_bps(value, v, err, sizeof(err)) != 0)
		cfg_error(cfg, "%s: %s", cfg_opt_name(opt), err);
	*(void **)result = v;
	return 0;
}

static int
cb_size(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char err[256];
	uint64_t *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return -1;
	if (units_size_bytes(value, v, err, sizeof(err)) != 0)
		cfg_error(cfg, "%s: %s", cfg_opt_name(opt), err);
	*(void **)result = v;
	return 0;
}

static int
cb_percent(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char err[256];
	double *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return -1;
	if (units_percent(value, v, err, sizeof(err)) != 0)
		cfg_error(cfg, "%s: %s", cfg_opt_name(opt), err);
	*(void **)result = v;
	return 0;
}

/* Integer with a range, refused with the range in the message. */
static int
check_range(cfg_t *cfg, cfg_opt_t *opt, long lo, long hi)
{
	long v = cfg_opt_getnint(opt, cfg_opt_size(opt) - 1);

	if (v < lo || v > hi)
		cfg_error(cfg, "%s: %ld is out of range, use %ld to %ld", cfg_opt_name(opt), v, lo,
		          hi);
	return 0;
}

static int
v_port(cfg_t *cfg, cfg_opt_t *opt)
{
	return check_range(cfg, opt, 1, 65535);
}

static int
v_retries(cfg_t *cfg, cfg_opt_t *opt)
{
	return check_range(cfg, opt, 0, 10);
}

static int
v_maxrep(cfg_t *cfg, cfg_opt_t *opt)
{
	return check_range(cfg, opt, 1, 200);
}

static int
v_inflight(cfg_t *cfg, cfg_opt_t *opt)
{
	return check_range(cfg, opt, 1, 16);
}

static int
v_count(cfg_t *cfg, cfg_opt_t *opt)
{
	return check_range(cfg, opt, 1, 100);
}

static int
v_snaplen(cfg_t *cfg, cfg_opt_t *opt)
{
	return check_range(cfg, opt, 64, 65535);
}

static int
v_sample(cfg_t *cfg, cfg_opt_t *opt)
{
	return check_range(cfg, opt, 1, 1000000);
}

#define DUR(n, d) CFG_PTR_CB(n, d, CFGF_NONE, cb_duration, free)
#define RATE(n, d) CFG_PTR_CB(n, d, CFGF_NONE, cb_rate, free)
#define SIZE(n, d) CFG_PTR_CB(n, d, CFGF_NONE, cb_size, free)
#define PCT(n, d) CFG_PTR_CB(n, d, CFGF_NONE, cb_percent, free)

/* --- schema --------------------------------------------------------------- */

static cfg_opt_t http_opts[] = {
    CFG_STR_LIST("listen", "{\"127.0.0.1:8080\"}", CFGF_NONE),
    CFG_STR("tls-cert", NULL, CFGF_NONE),
    CFG_STR("tls-key", NULL, CFGF_NONE),
    CFG_STR("public-status", "auto", CFGF_NONE),
    DUR("session-idle", "30m"),
    CFG_END(),
};

static cfg_opt_t tickets_opts[] = {
    DUR("warning-response", "4h"),
    DUR("warning-resolution", "24h"),
    DUR("critical-response", "30m"),
    DUR("critical-resolution", "4h"),
    DUR("hold-down", "15m"),
    CFG_INT("outbox-max", 10000, CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t user_opts[] = {
    CFG_STR("hash", NULL, CFGF_NODEFAULT),
    CFG_END(),
};

#define SNMP_AUTH_OPTS(defver)                                                                     \
	CFG_STR("snmp", defver, CFGF_NONE), CFG_STR("community", NULL, CFGF_NONE),                 \
	    CFG_STR("username", NULL, CFGF_NONE), CFG_STR("auth-protocol", NULL, CFGF_NONE),       \
	    CFG_STR("auth-key", NULL, CFGF_NONE), CFG_STR("priv-protocol", NULL, CFGF_NONE),       \
	    CFG_STR("priv-key", NULL, CFGF_NONE), CFG_STR("context", NULL, CFGF_NONE)

static cfg_opt_t oid_opts[] = {
    CFG_STR("oid", NULL, CFGF_NODEFAULT),
    CFG_STR("type", "gauge", CFGF_NONE),
    CFG_STR("unit", "", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t device_opts[] = {
    CFG_STR("address", NULL, CFGF_NODEFAULT),
    CFG_INT_CB("port", 161, CFGF_NONE, NULL),
    SNMP_AUTH_OPTS("v2c"),
    DUR("interval", "30s"),
    DUR("timeout", "2s"),
    CFG_INT("retries", 2, CFGF_NONE),
    CFG_INT("max-repetitions", 25, CFGF_NONE),
    CFG_INT("max-inflight", 1, CFGF_NONE),
    CFG_STR_LIST("interfaces", "{}", CFGF_NONE),
    CFG_STR_LIST("profiles", "{\"system\", \"if\"}", CFGF_NONE),
    CFG_STR("parent", NULL, CFGF_NONE),
    CFG_SEC("oid", oid_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END(),
};

/* Probe keys the core understands, then every plugin option it knows;
 * third-party plugins take theirs through `options = {"key=value"}`. */
static const char *const probe_plugin_keys[] = {
    "count",         "spacing", "size",    "family",   "port",         "expect",
    "expect-status", "query",   "record",  "server",   "cert-warning", "insecure",
    "method",        "shell",   "warning", "critical", "wait",         NULL,
};

static cfg_opt_t probe_opts[] = {
    CFG_STR("type", NULL, CFGF_NODEFAULT),
    CFG_STR("target", NULL, CFGF_NODEFAULT),
    CFG_STR("hop", NULL, CFGF_NONE),
    DUR("interval", "10s"),
    CFG_PTR_CB("timeout", NULL, CFGF_NONE, cb_duration, free),
    CFG_STR("count", NULL, CFGF_NONE),
    CFG_STR("spacing", NULL, CFGF_NONE),
    CFG_STR("size", NULL, CFGF_NONE),
    CFG_STR("family", NULL, CFGF_NONE),
    CFG_STR("port", NULL, CFGF_NONE),
    CFG_STR("expect", NULL, CFGF_NONE),
    CFG_STR("expect-status", NULL, CFGF_NONE),
    CFG_STR("query", NULL, CFGF_NONE),
    CFG_STR("record", NULL, CFGF_NONE),
    CFG_STR("server", NULL, CFGF_NONE),
    CFG_STR("cert-warning", NULL, CFGF_NONE),
    CFG_STR("insecure", NULL, CFGF_NONE),
    CFG_STR("method", NULL, CFGF_NONE),
    CFG_STR("shell", NULL, CFGF_NONE),
    CFG_STR("warning", NULL, CFGF_NONE),
    CFG_STR("critical", NULL, CFGF_NONE),
    CFG_STR("wait", NULL, CFGF_NONE),
    CFG_STR_LIST("arguments", "{}", CFGF_NONE),
    CFG_STR_LIST("options", "{}", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t degraded_opts[] = {
    PCT("loss", "5%"),
    PCT("loss-critical", "25%"),
    DUR("latency", "150ms"),
    DUR("jitter", "30ms"),
    PCT("utilization", "90%"),
    CFG_FLOAT("errors", 10.0, CFGF_NONE),
    CFG_FLOAT("baseline", 3.0, CFGF_NONE),
    CFG_INT_CB("for", 3, CFGF_NONE, NULL),
    CFG_INT_CB("clear", 3, CFGF_NONE, NULL),
    CFG_INT("flap-count", 4, CFGF_NONE),
    DUR("flap-window", "10m"),
    DUR("hold-down", "15m"),
    CFG_END(),
};

static cfg_opt_t link_opts[] = {
    CFG_STR("provider", "", CFGF_NONE),
    CFG_STR("circuit", "", CFGF_NONE),
    CFG_STR("support", "", CFGF_NONE),
    CFG_STR("device", NULL, CFGF_NONE),
    CFG_STR("interface", NULL, CFGF_NONE),
    CFG_PTR_CB("bandwidth", NULL, CFGF_NONE, cb_rate, free),
    PCT("sla", "99.5%"),
    CFG_STR("parent", NULL, CFGF_NONE),
    CFG_SEC("probe", probe_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("degraded", degraded_opts, CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t capture_opts[] = {
    CFG_STR("interface", NULL, CFGF_NODEFAULT),
    CFG_STR("filter", "", CFGF_NONE),
    CFG_STR("link", NULL, CFGF_NONE),
    CFG_INT("snaplen", 128, CFGF_NONE),
    CFG_INT("sample", 1, CFGF_NONE),
    DUR("interval", "1m"),
    SIZE("memory", "16M"),
    SIZE("buffer", "0"), /* 0: a quarter of memory */
    DUR("ring", "30s"),
    DUR("evidence-after", "30s"),
    SIZE("evidence-max-size", "512M"),
    DUR("evidence-max-age", "30d"),
    CFG_BOOL("applications", cfg_false, CFGF_NONE),
    CFG_BOOL("ndpi", cfg_false, CFGF_NONE),
    CFG_BOOL("payload", cfg_false, CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t upstream_opts[] = {
    CFG_STR("target", NULL, CFGF_NODEFAULT),
    SNMP_AUTH_OPTS("v2c"),
    CFG_BOOL("inform", cfg_false, CFGF_NONE),
    DUR("timeout", "5s"),
    CFG_INT("retries", 3, CFGF_NONE),
    DUR("heartbeat", "5m"),
    CFG_END(),
};

static cfg_opt_t webhook_opts[] = {
    CFG_STR("url", NULL, CFGF_NODEFAULT),
    CFG_STR_LIST("headers", "{}", CFGF_NONE),
    CFG_STR_LIST("events", "{}", CFGF_NONE),
    DUR("timeout", "10s"),
    CFG_END(),
};

static cfg_opt_t email_opts[] = {
    CFG_STR("smtp", NULL, CFGF_NODEFAULT),    CFG_STR("from", NULL, CFGF_NODEFAULT),
    CFG_STR_LIST("to", NULL, CFGF_NODEFAULT), CFG_BOOL("starttls", cfg_true, CFGF_NONE),
    CFG_STR("username", NULL, CFGF_NONE),     CFG_STR("password", NULL, CFGF_NONE),
    CFG_STR_LIST("events", "{}", CFGF_NONE),  CFG_END(),
};

static cfg_opt_t maintenance_opts[] = {
    CFG_STR_LIST("links", "{}", CFGF_NONE),
    CFG_STR("from", NULL, CFGF_NONE),
    CFG_STR("to", NULL, CFGF_NONE),
    CFG_STR_LIST("days", "{}", CFGF_NONE),
    CFG_STR("start", NULL, CFGF_NONE),
    CFG_PTR_CB("duration", NULL, CFGF_NONE, cb_duration, free),
    CFG_END(),
};

static cfg_opt_t root_opts[] = {
    CFG_STR("site", "linewatch", CFGF_NONE),
    CFG_STR("state-dir", LW_STATEDIR, CFGF_NONE),
    CFG_STR("user", NULL, CFGF_NONE),
    CFG_STR("pidfile", "/run/linewatch.pid", CFGF_NONE),
    CFG_STR("log-level", "info", CFGF_NONE),
    CFG_STR("plugin-dir", LW_PLUGINDIR, CFGF_NONE),
    CFG_STR("web-dir", LW_DATADIR "/web", CFGF_NONE),
    CFG_STR("profile-dir", LW_DATADIR "/profiles", CFGF_NONE),
    CFG_STR("rrdcached", NULL, CFGF_NONE),
    CFG_PTR_CB("rrd-write-delay", "5m", CFGF_NONE, cb_duration, free),
    /* net-snmp's netSnmpPlaypen until a Private Enterprise Number is registered */
    CFG_STR("enterprise-oid", "1.3.6.1.4.1.8072.9999.9999", CFGF_NONE),
    CFG_SEC("http", http_opts, CFGF_NONE),
    CFG_SEC("tickets", tickets_opts, CFGF_NONE),
    CFG_SEC("web-user", user_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("device", device_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("link", link_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("capture", capture_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("upstream", upstream_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("webhook", webhook_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("email", email_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("maintenance", maintenance_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END(),
};

/* --- conversion helpers --------------------------------------------------- */

static char *
dupstr(const char *s)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		fatal("strdup");
	return d;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (p == NULL)
		fatal("calloc");
	return p;
}

static char **
get_list(cfg_t *sec, const char *name, size_t *n)
{
	size_t cnt = cfg_size(sec, name);
	char **v = xcalloc(cnt + 1, sizeof(char *));

	for (size_t i = 0; i < cnt; i++)
		v[i] = dupstr(cfg_getnstr(sec, name, i));
	*n = cnt;
	return v;
}

static void
free_list(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int64_t
get_ms(cfg_t *sec, const char *name)
{
	int64_t *v = cfg_getptr(sec, name);
	return v ? *v : 0;
}

static double
get_pct(cfg_t *sec, const char *name)
{
	double *v = cfg_getptr(sec, name);
	return v ? *v : 0;
}

static uint64_t
get_u64(cfg_t *sec, const char *name)
{
	uint64_t *v = cfg_getptr(sec, name);
	return v ? *v : 0;
}

static int
parse_version(const char *s, enum lw_snmp_version *v)
{
	if (strcasecmp(s, "v1") == 0 || strcmp(s, "1") == 0)
		*v = LW_SNMP_V1;
	else if (strcasecmp(s, "v2c") == 0 || strcasecmp(s, "2c") == 0)
		*v = LW_SNMP_V2C;
	else if (strcasecmp(s, "v3") == 0 || strcmp(s, "3") == 0)
		*v = LW_SNMP_V3;
	else
		return -1;
	return 0;
}

static int
known_word(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcasecmp(s, *words) == 0)
			return 1;
	return 0;
}

static void
read_auth(struct errctx *ec, cfg_t *sec, const char *what, struct lw_snmp_auth *a)
{
	static const char *const auths[] = {"MD5",     "SHA",     "SHA-1",   "SHA-224",
	                                    "SHA-256", "SHA-384", "SHA-512", NULL};
	static const char *const privs[] = {"DES", "AES", "AES-128", "AES-192", "AES-256", NULL};
	const char *ver = cfg_getstr(sec, "snmp");

	if (parse_version(ver, &a->version) != 0) {
		report(ec, sec->line, "%s: snmp = \"%s\" is not a version: use v1, v2c or v3", what,
		       ver);
		a->version = 0;
	}
	a->community = dupstr(cfg_getstr(sec, "community"));
	a->username = dupstr(cfg_getstr(sec, "username"));
	a->auth_protocol = dupstr(cfg_getstr(sec, "auth-protocol"));
	a->auth_key = dupstr(cfg_getstr(sec, "auth-key"));
	a->priv_protocol = dupstr(cfg_getstr(sec, "priv-protocol"));
	a->priv_key = dupstr(cfg_getstr(sec, "priv-key"));
	a->context = dupstr(cfg_getstr(sec, "context"));

	if (a->version == 0)
		return;
	if (a->version != LW_SNMP_V3) {
		if (a->community == NULL || *a->community == '\0')
			report(ec, sec->line, "%s: SNMP %s needs a community (community = \"...\")",
			       what, ver);
		return;
	}
	if (a->username == NULL)
		report(ec, sec->line, "%s: SNMP v3 needs a username (username = \"...\")", what);
	if (a->auth_protocol && !known_word(a->auth_protocol, auths))
		report(ec, sec->line,
		       "%s: auth-protocol \"%s\" is unknown: use SHA, SHA-256, SHA-512 or MD5",
		       what, a->auth_protocol);
	if (a->priv_protocol && !known_word(a->priv_protocol, privs))
		report(ec, sec->line,
		       "%s: priv-protocol \"%s\" is unknown: use AES, AES-256 or DES", what,
		       a->priv_protocol);
	if (a->auth_protocol && (a->auth_key == NULL || strlen(a->auth_key) < 8))
		report(
		    ec, sec->line,
		    "%s: auth-protocol is set but auth-key is missing or shorter than 8 characters",
		    what);
	if (a->priv_protocol && a->auth_protocol == NULL)
		report(ec, sec->line, "%s: priv-protocol needs auth-protocol too (authPriv)", what);
	if (a->priv_protocol && (a->priv_key == NULL || strlen(a->priv_key) < 8))
		report(
		    ec, sec->line,
		    "%s: priv-protocol is set but priv-key is missing or shorter than 8 characters",
		    what);
}

static void
free_auth(struct lw_snmp_auth *a)
{
	free(a->community);
	free(a->username);
	free(a->auth_protocol);
	free(a->auth_key);
	free(a->priv_protocol);
	free(a->priv_key);
	free(a->context);
}

static int
valid_oid(const char *s)
{
	int dots = 0;

	if (s == NULL || *s == '\0')
		return 0;
	if (*s == '.')
		s++;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (p[1] == '.' || p[1] == '\0')
				return 0;
			dots++;
		} else if (*p < '0' || *p > '9')
			return 0;
	}
	return dots >= 1;
}

static int
valid_name(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			return 0;
	return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static void
check_name(struct errctx *ec, cfg_t *sec, const char *kind)
{
	const char *t = cfg_title(sec);

	if (!valid_name(t))
		report(ec, sec->line,
		       "%s name \"%s\" is not usable: 1 to 64 printable characters, no '/' or '\\'",
		       kind, t ? t : "");
}

/* --- sections ------------------------------------------------------------- */

static void
read_device(struct errctx *ec, cfg_t *sec, struct lw_device *d)
{
	char what[128];

	sec->line = open_line(ec, "device", cfg_title(sec), 1);
	check_name(ec, sec, "device");
	d->name = dupstr(cfg_title(sec));
	d->line = sec->line;
	snprintf(what, sizeof(what), "device \"%s\"", d->name);
	d->address = dupstr(cfg_getstr(sec, "address"));
	if (d->address == NULL || *d->address == '\0')
		report(ec, sec->line, "%s: address is missing (address = \"198.18.0.2\")", what);
	d->port = (int)cfg_getint(sec, "port");
	read_auth(ec, sec, what, &d->auth);
	d->interval_ms = get_ms(sec, "interval");
	d->timeout_ms = get_ms(sec, "timeout");
	if (d->interval_ms >= 0 && d->interval_ms < 1000)
		report(ec, sec->line, "%s: interval must be at least 1s", what);
	if (d->timeout_ms >= 0 && (d->timeout_ms < 100 || d->timeout_ms > 60000))
		report(ec, sec->line, "%s: timeout must be between 100ms and 60s", what);
	d->retries = (int)cfg_getint(sec, "retries");
	d->max_repetitions = (int)cfg_getint(sec, "max-repetitions");
	d->max_inflight = (int)cfg_getint(sec, "max-inflight");
	d->interfaces = get_list(sec, "interfaces", &d->ninterfaces);
	for (size_t i = 0; i < d->ninterfaces; i++)
		if (d->interfaces[i][0] == '\0')
			report(ec, sec->line, "%s: an empty interface name in interfaces", what);
	d->profiles = get_list(sec, "profiles", &d->nprofiles);
	d->parent = dupstr(cfg_getstr(sec, "parent"));
	d->noids = cfg_size(sec, "oid");
	d->oids = xcalloc(d->noids, sizeof(*d->oids));
	for (size_t i = 0; i < d->noids; i++) {
		cfg_t *o = cfg_getnsec(sec, "oid", i);
		struct lw_custom_oid *co = &d->oids[i];
		const char *type = cfg_getstr(o, "type");

		o->line = open_line(ec, "oid", cfg_title(o), sec->line);

		co->name = dupstr(cfg_title(o));
		co->oid = dupstr(cfg_getstr(o, "oid"));
		co->unit = dupstr(cfg_getstr(o, "unit"));
		if (!valid_oid(co->oid))
			report(ec, o->line,
			       "%s: oid \"%s\": \"%s\" is not a numeric OID like "
			       "1.3.6.1.4.1.2021.10.1.3.1",
			       what, co->name, co->oid ? co->oid : "");
		if (strcasecmp(type, "counter") == 0)
			co->counter = true;
		else if (strcasecmp(type, "gauge") != 0)
			report(ec, o->line,
			       "%s: oid \"%s\": type \"%s\" is unknown: use gauge or "
			       "counter",
			       what, co->name, type);
	}
}

static void
free_device(struct lw_device *d)
{
	free(d->name);
	free(d->address);
	free_auth(&d->auth);
	free_list(d->interfaces, d->ninterfaces);
	free_list(d->profiles, d->nprofiles);
	free(d->parent);
	for (size_t i = 0; i < d->noids; i++) {
		free(d->oids[i].name);
		free(d->oids[i].oid);
		free(d->oids[i].unit);
	}
	free(d->oids);
}

static void
add_opt(struct lw_probe *p, const char *k, const char *v)
{
	struct lw_kv *n = realloc(p->opts, (p->nopts + 1) * sizeof(*n));

	if (n == NULL)
		fatal("realloc");
	p->opts = n;
	p->opts[p->nopts].key = dupstr(k);
	p->opts[p->nopts].value = dupstr(v);
	p->nopts++;
}

static void
read_probe(struct errctx *ec, cfg_t *sec, const char *link, int from, struct lw_probe *p)
{
	static const char *const hops[] = {"gateway", "isp", "internet", NULL};
	char what[160];
	const char *hop;

	sec->line = open_line(ec, "probe", cfg_title(sec), from);
	check_name(ec, sec, "probe");
	p->name = dupstr(cfg_title(sec));
	p->line = sec->line;
	p->link = dupstr(link);
	snprintf(what, sizeof(what), "probe \"%s\" of link \"%s\"", p->name, link);
	p->type = dupstr(cfg_getstr(sec, "type"));
	p->target = dupstr(cfg_getstr(sec, "target"));
	if (p->type == NULL || *p->type == '\0')
		report(ec, sec->line, "%s: type is missing (icmp, tcp, dns, http or exec)", what);
	else if (!valid_name(p->type) || strchr(p->type, '.'))
		report(ec, sec->line, "%s: type \"%s\" is not a plugin name", what, p->type);
	if (p->target == NULL || *p->target == '\0')
		report(ec, sec->line, "%s: target is missing", what);
	hop = cfg_getstr(sec, "hop");
	p->hop = LW_HOP_NONE;
	if (hop != NULL) {
		if (!known_word(hop, hops))
			report(ec, sec->line,
			       "%s: hop \"%s\" is unknown: use gateway, isp or "
			       "internet",
			       what, hop);
		else if (strcasecmp(hop, "gateway") == 0)
			p->hop = LW_HOP_GATEWAY;
		else if (strcasecmp(hop, "isp") == 0)
			p->hop = LW_HOP_ISP;
		else
			p->hop = LW_HOP_INTERNET;
	}
	p->interval_ms = get_ms(sec, "interval");
	if (p->interval_ms >= 0 && p->interval_ms < 100)
		report(ec, sec->line, "%s: interval must be at least 100ms", what);
	p->timeout_ms = get_ms(sec, "timeout");
	if (p->timeout_ms == 0)
		p->timeout_ms = p->interval_ms < 10000 ? p->interval_ms : 10000;
	for (const char *const *k = probe_plugin_keys; *k; k++) {
		const char *v = cfg_getstr(sec, *k);
		if (v != NULL)
			add_opt(p, *k, v);
	}
	for (size_t i = 0; i < cfg_size(sec, "arguments"); i++)
		add_opt(p, "arguments", cfg_getnstr(sec, "arguments", i));
	for (size_t i = 0; i < cfg_size(sec, "options"); i++) {
		char *kv = dupstr(cfg_getnstr(sec, "options", i));
		char *eq = strchr(kv, '=');
		if (eq == NULL || eq == kv)
			report(ec, sec->line, "%s: options entry \"%s\" is not key=value", what,
			       kv);
		else {
			*eq = '\0';
			add_opt(p, kv, eq + 1);
		}
		free(kv);
	}
}

static void
free_probe(struct lw_probe *p)
{
	free(p->name);
	free(p->link);
	free(p->type);
	free(p->target);
	for (size_t i = 0; i < p->nopts; i++) {
		free(p->opts[i].key);
		free(p->opts[i].value);
	}
	free(p->opts);
}

static void
read_degraded(struct errctx *ec, cfg_t *sec, const char *what, struct lw_degraded *dg)
{
	dg->loss_pct = get_pct(sec, "loss");
	dg->loss_critical_pct = get_pct(sec, "loss-critical");
	dg->latency_ms = (double)get_ms(sec, "latency");
	dg->jitter_ms = (double)get_ms(sec, "jitter");
	dg->utilization_pct = get_pct(sec, "utilization");
	dg->errors_per_min = cfg_getfloat(sec, "errors");
	dg->baseline_factor = cfg_getfloat(sec, "baseline");
	dg->for_n = (int)cfg_getint(sec, "for");
	dg->clear_n = (int)cfg_getint(sec, "clear");
	dg->flap_count = (int)cfg_getint(sec, "flap-count");
	dg->flap_window_ms = get_ms(sec, "flap-window");
	dg->holddown_ms = get_ms(sec, "hold-down");
	if (dg->flap_count < 2 || dg->flap_count > 100)
		report(ec, sec->line, "%s: degraded flap-count = %d is out of range, use 2 to 100",
		       what, dg->flap_count);
	if (dg->errors_per_min < 0)
		report(ec, sec->line, "%s: degraded errors must not be negative", what);
	if (dg->baseline_factor != 0 && dg->baseline_factor < 1.5)
		report(ec, sec->line,
		       "%s: degraded baseline = %g: use 0 (off) or a factor of at least 1.5", what,
		       dg->baseline_factor);
	if (dg->loss_critical_pct < dg->loss_pct)
		report(ec, sec->line, "%s: degraded loss-critical must not be below loss", what);
}

static void
read_link(struct errctx *ec, cfg_t *sec, struct lw_link *l)
{
	char what[128];
	cfg_t *dg;

	sec->line = open_line(ec, "link", cfg_title(sec), 1);
	check_name(ec, sec, "link");
	l->name = dupstr(cfg_title(sec));
	l->line = sec->line;
	snprintf(what, sizeof(what), "link \"%s\"", l->name);
	l->provider = dupstr(cfg_getstr(sec, "provider"));
	l->circuit = dupstr(cfg_getstr(sec, "circuit"));
	l->support = dupstr(cfg_getstr(sec, "support"));
	l->device = dupstr(cfg_getstr(sec, "device"));
	l->interface = dupstr(cfg_getstr(sec, "interface"));
	l->bandwidth_bps = get_u64(sec, "bandwidth");
	l->sla_pct = get_pct(sec, "sla");
	l->parent = dupstr(cfg_getstr(sec, "parent"));
	if (l->device != NULL && (l->interface == NULL || *l->interface == '\0'))
		report(ec, sec->line,
		       "%s: device is set but interface is missing or empty "
		       "(interface = \"Gi1/0/1\")",
		       what);
	if (l->interface != NULL && l->device == NULL)
		report(ec, sec->line, "%s: interface is set but device is missing", what);
	l->nprobes = cfg_size(sec, "probe");
	l->probes = xcalloc(l->nprobes, sizeof(*l->probes));
	for (size_t i = 0; i < l->nprobes; i++)
		read_probe(ec, cfg_getnsec(sec, "probe", i), l->name, sec->line, &l->probes[i]);
	dg = cfg_getsec(sec, "degraded");
	if (dg != NULL)
		dg->line = open_line(ec, "degraded", NULL, sec->line);
	read_degraded(ec, dg ? dg : sec, what, &l->degraded);
}

static void
free_link(struct lw_link *l)
{
	free(l->name);
	free(l->provider);
	free(l->circuit);
	free(l->support);
	free(l->device);
	free(l->interface);
	free(l->parent);
	for (size_t i = 0; i < l->nprobes; i++)
		free_probe(&l->probes[i]);
	free(l->probes);
}

static void
read_capture(struct errctx *ec, cfg_t *sec, struct lw_capture *c)
{
	char what[128];

	sec->line = open_line(ec, "capture", cfg_title(sec), 1);
	check_name(ec, sec, "capture");
	c->name = dupstr(cfg_title(sec));
	c->line = sec->line;
	snprintf(what, sizeof(what), "capture \"%s\"", c->name);
	c->interface = dupstr(cfg_getstr(sec, "interface"));
	if (c->interface == NULL || *c->interface == '\0')
		report(ec, sec->line, "%s: interface is missing (interface = \"eth1\")", what);
	c->filter = dupstr(cfg_getstr(sec, "filter"));
	c->link = dupstr(cfg_getstr(sec, "link"));
	c->snaplen = (int)cfg_getint(sec, "snaplen");
	c->sample_n = (int)cfg_getint(sec, "sample");
	c->interval_ms = get_ms(sec, "interval");
	if (c->interval_ms >= 0 && c->interval_ms < 1000)
		report(ec, sec->line, "%s: interval must be at least 1s", what);
	c->memory_bytes = get_u64(sec, "memory");
	if (c->memory_bytes < 2 * 1048576)
		report(ec, sec->line, "%s: memory must be at least 2M", what);
	/* the kernel ring is mmapped and resident: part of memory, not on top */
	c->buffer_bytes = get_u64(sec, "buffer");
	if (c->buffer_bytes != 0 && c->buffer_bytes < 1048576)
		report(ec, sec->line, "%s: buffer must be at least 1M", what);
	else if (c->buffer_bytes != 0 && c->memory_bytes >= 2 * 1048576 &&
	         c->buffer_bytes > c->memory_bytes - 1048576)
		report(ec, sec->line,
		       "%s: buffer (the kernel's packet ring) is part of memory and must leave "
		       "at least 1M of it for the tables: raise memory or lower buffer",
		       what);
	c->ring_ms = get_ms(sec, "ring");
	c->evidence_after_ms = get_ms(sec, "evidence-after");
	c->evidence_max_bytes = get_u64(sec, "evidence-max-size");
	c->evidence_max_age_ms = get_ms(sec, "evidence-max-age");
	c->applications = cfg_getbool(sec, "applications") || cfg_getbool(sec, "ndpi");
	/* nDPI's protocol tables are resident too: counted in memory (about 6M,
	 * TRAFFIC_APPS_FIXED), with the kernel ring (a quarter by default) and
	 * the capture thread's own 1M (traffic_budget_split) */
	if (c->applications && c->memory_bytes >= 2 * 1048576) {
		uint64_t ring =
		    c->buffer_bytes
		        ? c->buffer_bytes
		        : (c->memory_bytes / 4 > 1048576 ? c->memory_bytes / 4 : 1048576);

		if (c->memory_bytes < ring + 8 * 1048576)
			report(
			    ec, sec->line,
			    "%s: applications = yes needs 6M of memory for nDPI's tables besides "
			    "the kernel buffer, 1M for the capture thread and 1M for the tables: "
			    "memory at least buffer + 8M (11M with the default buffer)",
			    what);
	}
	c->payload = cfg_getbool(sec, "payload");
}

static void
free_capture(struct lw_capture *c)
{
	free(c->name);
	free(c->interface);
	free(c->filter);
	free(c->link);
}

static void
read_upstream(struct errctx *ec, cfg_t *sec, struct lw_upstream *u)
{
	char what[128];

	sec->line = open_line(ec, "upstream", cfg_title(sec), 1);
	check_name(ec, sec, "upstream");
	u->name = dupstr(cfg_title(sec));
	u->line = sec->line;
	snprintf(what, sizeof(what), "upstream \"%s\"", u->name);
	u->target = dupstr(cfg_getstr(sec, "target"));
	if (u->target == NULL || *u->target == '\0')
		report(ec, sec->line, "%s: target is missing (target = \"udp:192.0.2.10:162\")",
		       what);
	read_auth(ec, sec, what, &u->auth);
	u->inform = cfg_getbool(sec, "inform");
	u->timeout_ms = get_ms(sec, "timeout");
	u->retries = (int)cfg_getint(sec, "retries");
	u->heartbeat_ms = get_ms(sec, "heartbeat");
	if (u->auth.version == LW_SNMP_V1 && u->inform)
		report(ec, sec->line, "%s: SNMP v1 has no informs: use v2c or v3", what);
}

static void
free_upstream(struct lw_upstream *u)
{
	free(u->name);
	free(u->target);
	free_auth(&u->auth);
}

static const char *const event_names[] = {"opened",   "updated",  "acknowledged", "commented",
                                          "resolved", "reopened", "link-state",   NULL};

static void
check_events(struct errctx *ec, int line, const char *what, char **ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!known_word(ev[i], event_names))
			report(ec, line,
			       "%s: event \"%s\" is unknown: use opened, updated, "
			       "acknowledged, commented, resolved, reopened or link-state",
			       what, ev[i]);
}

static void
read_webhook(struct errctx *ec, cfg_t *sec, struct lw_webhook *w)
{
	char what[128];

	sec->line = open_line(ec, "webhook", cfg_title(sec), 1);
	check_name(ec, sec, "webhook");
	w->name = dupstr(cfg_title(sec));
	w->line = sec->line;
	snprintf(what, sizeof(what), "webhook \"%s\"", w->name);
	w->url = dupstr(cfg_getstr(sec, "url"));
	if (w->url == NULL ||
	    (strncmp(w->url, "http://", 7) != 0 && strncmp(w->url, "https://", 8) != 0))
		report(ec, sec->line, "%s: url must start with http:// or https://", what);
	w->nheaders = cfg_size(sec, "headers");
	w->headers = xcalloc(w->nheaders, sizeof(*w->headers));
	for (size_t i = 0; i < w->nheaders; i++) {
		const char *h = cfg_getnstr(sec, "headers", i);
		const char *colon = strchr(h, ':');
		if (colon == NULL || colon == h || strpbrk(h, "\r\n")) {
			report(ec, sec->line, "%s: header \"%s\" is not \"Name: value\"", what, h);
			continue;
		}
		w->headers[i].key = strndup(h, (size_t)(colon - h));
		colon++;
		while (*colon == ' ')
			colon++;
		w->headers[i].value = dupstr(colon);
	}
	w->events = get_list(sec, "events", &w->nevents);
	check_events(ec, sec->line, what, w->events, w->nevents);
	w->timeout_ms = get_ms(sec, "timeout");
}

static void
free_webhook(struct lw_webhook *w)
{
	free(w->name);
	free(w->url);
	for (size_t i = 0; i < w->nheaders; i++) {
		free(w->headers[i].key);
		free(w->headers[i].value);
	}
	free(w->headers);
	free_list(w->events, w->nevents);
}

static void
read_email(struct errctx *ec, cfg_t *sec, struct lw_email *m)
{
	char what[128];

	sec->line = open_line(ec, "email", cfg_title(sec), 1);
	check_name(ec, sec, "email");
	m->name = dupstr(cfg_title(sec));
	m->line = sec->line;
	snprintf(what, sizeof(what), "email \"%s\"", m->name);
	m->smtp = dupstr(cfg_getstr(sec, "smtp"));
	if (m->smtp == NULL ||
	    (strncmp(m->smtp, "smtp://", 7) != 0 && strncmp(m->smtp, "smtps://", 8) != 0))
		report(ec, sec->line, "%s: smtp must be smtp://host[:port] or smtps://host[:port]",
		       what);
	m->from = dupstr(cfg_getstr(sec, "from"));
	if (m->from == NULL || strchr(m->from, '@') == NULL)
		report(ec, sec->line, "%s: from must be an e-mail address", what);
	m->to = get_list(sec, "to", &m->nto);
	if (m->nto == 0)
		report(ec, sec->line, "%s: to needs at least one address", what);
	m->starttls = cfg_getbool(sec, "starttls");
	m->username = dupstr(cfg_getstr(sec, "username"));
	m->password = dupstr(cfg_getstr(sec, "password"));
	m->events = get_list(sec, "events", &m->nevents);
	check_events(ec, sec->line, what, m->events, m->nevents);
}

static void
free_email(struct lw_email *m)
{
	free(m->name);
	free(m->smtp);
	free(m->from);
	free_list(m->to, m->nto);
	free(m->username);
	free(m->password);
	free_list(m->events, m->nevents);
}

static int
parse_datetime(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d %H:%M", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	tm.tm_isdst = -1;
	*out = (int64_t)mktime(&tm);
	return 0;
}

static void
read_maintenance(struct errctx *ec, cfg_t *sec, struct lw_maintenance *m)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	char what[128];
	const char *from = cfg_getstr(sec, "from"), *to = cfg_getstr(sec, "to");
	const char *start = cfg_getstr(sec, "start");
	size_t ndays = cfg_size(sec, "days");

	sec->line = open_line(ec, "maintenance", cfg_title(sec), 1);
	check_name(ec, sec, "maintenance");
	m->name = dupstr(cfg_title(sec));
	m->line = sec->line;
	snprintf(what, sizeof(what), "maintenance \"%s\"", m->name);
	m->links = get_list(sec, "links", &m->nlinks);
	m->duration_ms = get_ms(sec, "duration");
	if (from || to) {
		if (!from || !to || parse_datetime(from, &m->from) != 0 ||
		    parse_datetime(to, &m->to) != 0 || m->to <= m->from)
			report(ec, sec->line,
			       "%s: from and to must both be \"YYYY-MM-DD HH:MM\" "
			       "local time, from before to",
			       what);
		return;
	}
	for (size_t i = 0; i < ndays; i++) {
		const char *d = cfg_getnstr(sec, "days", i);
		size_t k;
		for (k = 0; k < 7; k++)
			if (strncasecmp(d, days[k], 3) == 0)
				break;
		if (k == 7)
			report(ec, sec->line, "%s: day \"%s\" is unknown: use mon, tue, ... sun",
			       what, d);
		else
			m->weekdays |= 1u << k;
	}
	int hh, mm;
	char tail;
	if (m->weekdays == 0 || start == NULL || m->duration_ms <= 0 ||
	    sscanf(start, "%d:%d%c", &hh, &mm, &tail) != 2 || hh < 0 || hh > 23 || mm < 0 ||
	    mm > 59) {
		report(ec, sec->line,
		       "%s: give either from/to, or days = {\"sat\"} with start = "
		       "\"HH:MM\" and duration = \"2h\"",
		       what);
		return;
	}
	m->start_min = hh * 60 + mm;
}

static void
free_maintenance(struct lw_maintenance *m)
{
	free(m->name);
	free_list(m->links, m->nlinks);
}

/* --- whole-file checks -------------------------------------------------- */

static int
valid_listen(const char *s)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;
	struct in6_addr a6;
	struct in_addr a4;
	size_t hl;

	if (colon == NULL)
		return 0;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return 0;
	hl = (size_t)(colon - s);
	if (hl == 0 || hl >= sizeof(host))
		return 0;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, &a6) == 1;
	}
	return inet_pton(AF_INET, host, &a4) == 1;
}

static void
check_refs(struct errctx *ec, struct lw_config *c)
{
	for (size_t i = 0; i < c->nlinks; i++) {
		struct lw_link *l = &c->links[i];
		if (l->device && config_device(c, l->device) == NULL)
			report(ec, l->line,
			       "link \"%s\": device \"%s\" is not defined (add a "
			       "device \"%s\" { ... } section or fix the name)",
			       l->name, l->device, l->device);
		if (l->parent && config_device(c, l->parent) == NULL &&
		    config_link(c, l->parent) == NULL)
			report(ec, l->line,
			       "link \"%s\": parent \"%s\" is neither a device nor a "
			       "link",
			       l->name, l->parent);
		if (l->parent && strcmp(l->parent, l->name) == 0)
			report(ec, l->line, "link \"%s\": a link cannot be its own parent",
			       l->name);
	}
	for (size_t i = 0; i < c->ndevices; i++) {
		struct lw_device *d = &c->devices[i];
		if (d->parent && config_device(c, d->parent) == NULL &&
		    config_link(c, d->parent) == NULL)
			report(ec, d->line,
			       "device \"%s\": parent \"%s\" is neither a device nor a "
			       "link",
			       d->name, d->parent);
		if (d->parent && strcmp(d->parent, d->name) == 0)
			report(ec, d->line, "device \"%s\": a device cannot be its own parent",
			       d->name);
	}
	for (size_t i = 0; i < c->ncaptures; i++) {
		struct lw_capture *cp = &c->captures[i];
		if (cp->link && config_link(c, cp->link) == NULL)
			report(ec, cp->line, "capture \"%s\": link \"%s\" is not defined", cp->name,
			       cp->link);
	}
	for (size_t i = 0; i < c->nmaintenances; i++) {
		struct lw_maintenance *m = &c->maintenances[i];
		for (size_t k = 0; k < m->nlinks; k++)
			if (config_link(c, m->links[k]) == NULL &&
			    config_device(c, m->links[k]) == NULL)
				report(ec, m->line,
				       "maintenance \"%s\": \"%s\" is neither a link "
				       "nor a device",
				       m->name, m->links[k]);
	}
}

static void
read_root(struct errctx *ec, cfg_t *cfg, struct lw_config *c)
{
	cfg_t *http = cfg_getsec(cfg, "http");
	cfg_t *tk = cfg_getsec(cfg, "tickets");
	const char *lvl = cfg_getstr(cfg, "log-level");
	const char *ps;

	c->site = dupstr(cfg_getstr(cfg, "site"));
	c->state_dir = dupstr(cfg_getstr(cfg, "state-dir"));
	c->user = dupstr(cfg_getstr(cfg, "user"));
	c->pidfile = dupstr(cfg_getstr(cfg, "pidfile"));
	c->plugin_dir = dupstr(cfg_getstr(cfg, "plugin-dir"));
	c->web_dir = dupstr(cfg_getstr(cfg, "web-dir"));
	c->profile_dir = dupstr(cfg_getstr(cfg, "profile-dir"));
	c->rrdcached = dupstr(cfg_getstr(cfg, "rrdcached"));
	c->rrd_write_delay_ms = get_ms(cfg, "rrd-write-delay");
	if (c->rrd_write_delay_ms > 3600 * 1000)
		report(ec, open_line(ec, "rrd-write-delay", NULL, 1),
		       "rrd-write-delay is too long: a crash loses that much history; use "
		       "at most 1h");
	c->enterprise_oid = dupstr(cfg_getstr(cfg, "enterprise-oid"));
	if (!valid_oid(c->enterprise_oid))
		report(ec, 1, "enterprise-oid \"%s\" is not a numeric OID like 1.3.6.1.4.1.99999",
		       c->enterprise_oid);
	if (log_level_parse(lvl, &c->log_level) != 0)
		report(ec, 1, "log-level \"%s\" is unknown: use error, warn, info or debug", lvl);
	if (c->state_dir[0] != '/')
		report(ec, 1, "state-dir \"%s\" must be an absolute path", c->state_dir);

	http->line = open_line(ec, "http", NULL, 1);
	tk->line = open_line(ec, "tickets", NULL, 1);
	c->http.listen = get_list(http, "listen", &c->http.nlisten);
	for (size_t i = 0; i < c->http.nlisten; i++)
		if (!valid_listen(c->http.listen[i]))
			report(ec, http->line ? http->line : 1,
			       "http listen \"%s\" is not "
			       "ADDRESS:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)",
			       c->http.listen[i]);
	c->http.tls_cert = dupstr(cfg_getstr(http, "tls-cert"));
	c->http.tls_key = dupstr(cfg_getstr(http, "tls-key"));
	if ((c->http.tls_cert == NULL) != (c->http.tls_key == NULL))
		report(ec, http->line ? http->line : 1, "http: tls-cert and tls-key go together");
	ps = cfg_getstr(http, "public-status");
	if (strcasecmp(ps, "auto") == 0)
		c->http.public_status = -1;
	else if (cfg_parse_boolean(ps) >= 0)
		c->http.public_status = cfg_parse_boolean(ps);
	else
		report(ec, http->line ? http->line : 1,
		       "http: public-status \"%s\" must be yes, no or auto", ps);
	c->http.session_idle_ms = get_ms(http, "session-idle");

	c->tickets.warning.response_ms = get_ms(tk, "warning-response");
	c->tickets.warning.resolution_ms = get_ms(tk, "warning-resolution");
	c->tickets.critical.response_ms = get_ms(tk, "critical-response");
	c->tickets.critical.resolution_ms = get_ms(tk, "critical-resolution");
	c->tickets.holddown_ms = get_ms(tk, "hold-down");
	if (cfg_getint(tk, "outbox-max") < 100)
		report(ec, tk->line ? tk->line : 1, "tickets: outbox-max must be at least 100");
	c->tickets.outbox_max = (uint64_t)cfg_getint(tk, "outbox-max");
}

static void
read_sections(struct errctx *ec, cfg_t *cfg, struct lw_config *c)
{
	c->nusers = cfg_size(cfg, "web-user");
	c->users = xcalloc(c->nusers, sizeof(*c->users));
	for (size_t i = 0; i < c->nusers; i++) {
		cfg_t *s = cfg_getnsec(cfg, "web-user", i);
		s->line = open_line(ec, "web-user", cfg_title(s), 1);
		c->users[i].name = dupstr(cfg_title(s));
		c->users[i].line = s->line;
		c->users[i].hash = dupstr(cfg_getstr(s, "hash"));
		if (c->users[i].hash == NULL || c->users[i].hash[0] != '$')
			report(ec, s->line,
			       "web-user \"%s\": hash must be a crypt(3) hash: create one "
			       "with linewatchd --hash-password",
			       c->users[i].name);
	}
	c->ndevices = cfg_size(cfg, "device");
	c->devices = xcalloc(c->ndevices, sizeof(*c->devices));
	for (size_t i = 0; i < c->ndevices; i++)
		read_device(ec, cfg_getnsec(cfg, "device", i), &c->devices[i]);
	c->nlinks = cfg_size(cfg, "link");
	c->links = xcalloc(c->nlinks, sizeof(*c->links));
	for (size_t i = 0; i < c->nlinks; i++)
		read_link(ec, cfg_getnsec(cfg, "link", i), &c->links[i]);
	c->ncaptures = cfg_size(cfg, "capture");
	c->captures = xcalloc(c->ncaptures, sizeof(*c->captures));
	for (size_t i = 0; i < c->ncaptures; i++)
		read_capture(ec, cfg_getnsec(cfg, "capture", i), &c->captures[i]);
	c->nupstreams = cfg_size(cfg, "upstream");
	c->upstreams = xcalloc(c->nupstreams, sizeof(*c->upstreams));
	for (size_t i = 0; i < c->nupstreams; i++)
		read_upstream(ec, cfg_getnsec(cfg, "upstream", i), &c->upstreams[i]);
	c->nwebhooks = cfg_size(cfg, "webhook");
	c->webhooks = xcalloc(c->nwebhooks, sizeof(*c->webhooks));
	for (size_t i = 0; i < c->nwebhooks; i++)
		read_webhook(ec, cfg_getnsec(cfg, "webhook", i), &c->webhooks[i]);
	c->nemails = cfg_size(cfg, "email");
	c->emails = xcalloc(c->nemails, sizeof(*c->emails));
	for (size_t i = 0; i < c->nemails; i++)
		read_email(ec, cfg_getnsec(cfg, "email", i), &c->emails[i]);
	c->nmaintenances = cfg_size(cfg, "maintenance");
	c->maintenances = xcalloc(c->nmaintenances, sizeof(*c->maintenances));
	for (size_t i = 0; i < c->nmaintenances; i++)
		read_maintenance(ec, cfg_getnsec(cfg, "maintenance", i), &c->maintenances[i]);
}

static void
set_validators(cfg_t *cfg)
{
	cfg_set_validate_func(cfg, "device|port", v_port);
	cfg_set_validate_func(cfg, "device|retries", v_retries);
	cfg_set_validate_func(cfg, "device|max-repetitions", v_maxrep);
	cfg_set_validate_func(cfg, "device|max-inflight", v_inflight);
	cfg_set_validate_func(cfg, "link|degraded|for", v_count);
	cfg_set_validate_func(cfg, "link|degraded|clear", v_count);
	cfg_set_validate_func(cfg, "capture|snaplen", v_snaplen);
	cfg_set_validate_func(cfg, "capture|sample", v_sample);
	cfg_set_validate_func(cfg, "upstream|retries", v_retries);
}

struct lw_config *
config_load(const char *path, config_error_cb errcb, void *arg)
{
	struct errctx ec = {.cb = errcb, .arg = arg, .file = path};
	struct lw_config *c;
	cfg_t *cfg;
	FILE *fp;
	int rc;

	fp = fopen(path, "r");
	if (fp == NULL) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "%s: cannot read the configuration: %s", path,
		         strerror(errno));
		if (errcb)
			errcb(msg, arg);
		return NULL;
	}
	fclose(fp);

	load_lines(&ec, path);
	cfg = cfg_init(root_opts, CFGF_NONE);
	if (cfg == NULL)
		fatalx("cfg_init failed");
	cfg_set_error_function(cfg, errfunc);
	set_validators(cfg);
	cur_err = &ec;
	rc = cfg_parse(cfg, path);
	if (rc == CFG_FILE_ERROR && ec.nerrors == 0)
		report(&ec, 0, "cannot read the configuration: %s", strerror(errno));
	else if (rc == CFG_PARSE_ERROR && ec.nerrors == 0)
		report(&ec, 0, "syntax error");
	if (rc != CFG_SUCCESS) {
		cur_err = NULL;
		cfg_free(cfg);
		free_lines(&ec);
		return NULL;
	}

	check_braces(&ec);
	c = xcalloc(1, sizeof(*c));
	c->file = dupstr(path);
	read_root(&ec, cfg, c);
	read_sections(&ec, cfg, c);
	check_refs(&ec, c);
	cur_err = NULL;
	cfg_free(cfg);
	free_lines(&ec);
	if (ec.nerrors > 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

void
config_free(struct lw_config *c)
{
	if (c == NULL)
		return;
	free(c->file);
	free(c->site);
	free(c->state_dir);
	free(c->user);
	free(c->pidfile);
	free(c->plugin_dir);
	free(c->web_dir);
	free(c->profile_dir);
	free(c->rrdcached);
	free(c->enterprise_oid);
	free_list(c->http.listen, c->http.nlisten);
	free(c->http.tls_cert);
	free(c->http.tls_key);
	for (size_t i = 0; i < c->nusers; i++) {
		free(c->users[i].name);
		free(c->users[i].hash);
	}
	free(c->users);
	for (size_t i = 0; i < c->ndevices; i++)
		free_device(&c->devices[i]);
	free(c->devices);
	for (size_t i = 0; i < c->nlinks; i++)
		free_link(&c->links[i]);
	free(c->links);
	for (size_t i = 0; i < c->ncaptures; i++)
		free_capture(&c->captures[i]);
	free(c->captures);
	for (size_t i = 0; i < c->nupstreams; i++)
		free_upstream(&c->upstreams[i]);
	free(c->upstreams);
	for (size_t i = 0; i < c->nwebhooks; i++)
		free_webhook(&c->webhooks[i]);
	free(c->webhooks);
	for (size_t i = 0; i < c->nemails; i++)
		free_email(&c->emails[i]);
	free(c->emails);
	for (size_t i = 0; i < c->nmaintenances; i++)
		free_maintenance(&c->maintenances[i]);
	free(c->maintenances);
	free(c);
}

const struct lw_device *
config_device(const struct lw_config *c, const char *name)
{
	for (size_t i = 0; i < c->ndevices; i++)
		if (strcmp(c->devices[i].name, name) == 0)
			return &c->devices[i];
	return NULL;
}

const struct lw_link *
config_link(const struct lw_config *c, const char *name)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (strcmp(c->links[i].name, name) == 0)
			return &c->links[i];
	return NULL;
}

const char *
config_probe_opt(const struct lw_probe *p, const char *key)
{
	for (size_t i = 0; i < p->nopts; i++)
		if (strcmp(p->opts[i].key, key) == 0)
			return p->opts[i].value;
	return NULL;
}

const char *
config_hop_name(enum lw_hop hop)
{
	switch (hop) {
	case LW_HOP_GATEWAY:
		return "gateway";
	case LW_HOP_ISP:
		return "isp";
	case LW_HOP_INTERNET:
		return "internet";
	default:
		return NULL;
	}
}
