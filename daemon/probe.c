/* probe.c - probe plugins: loading, scheduling, timeouts, results on the bus */
#include <sys/time.h>

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "linewatch_plugin.h"
#include "log.h"
#include "probe.h"
#include "sample.h"

#define PROBE_MAX_METRICS 32
#define PROBE_MSG_MAX 512
#define PROBE_NAME_MAX 64
#define PROBE_UNIT_MAX 16
/* First runs are spread over this much (or the interval, if shorter). */
#define PROBE_SPREAD_MS 5000

struct plugin {
	char *type;
	char *path;
	void *dl;
	const struct lw_plugin *p;
	bool inited;
	char error[512]; /* set: the plugin is unusable, why */
};

struct probe {
	struct probe_engine *pe;
	struct plugin *pl;
	void *inst;
	/* our own copy of the configuration; spec points into it */
	char *link;
	char *name;
	char *type;
	char *target;
	enum lw_hop hop;
	struct lw_probe_option *opts;
	struct lw_probe_spec spec;
	struct event *tick;
	struct event *timeout;
	bool running;
	char error[512]; /* set: no instance, every run reports this */
};

struct probe_engine {
	struct event_base *base;
	struct lw_bus *bus;
	char *plugin_dir;
	struct plugin **plugins;
	size_t nplugins;
	struct probe **probes;
	size_t nprobes;
};

/* Length of the valid UTF-8 sequence at s, 0 if invalid. */
static size_t
utf8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Plugin text can be program output: make it valid UTF-8 without control
 * characters (JSON, logs and pages take it as is), bounded to dstlen. */
static const char *
clean_text(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t o = 0;

	while (*s != '\0' && o + 1 < dstlen) {
		size_t n = utf8_len(s);

		if (n == 0) {
			dst[o++] = '?';
			s++;
		} else if (n == 1) {
			dst[o++] = (*s < 0x20 || *s == 0x7f) ? ' ' : (char)*s;
			s++;
		} else {
			if (o + n >= dstlen)
				break;
			memcpy(dst + o, s, n);
			o += n;
			s += n;
		}
	}
	dst[o] = '\0';
	return dst;
}

const char *
probe_shown_target(const char *target, char *dst, size_t dstlen)
{
	const char *scheme = target ? strstr(target, "://") : NULL, *host, *at;

	if (target == NULL)
		target = "";
	if (scheme != NULL) {
		host = scheme + 3;
		at = host + strcspn(host, "/?#@");
		if (*at == '@') {
			snprintf(dst, dstlen, "%.*s***%s", (int)(host - target), target, at);
			return dst;
		}
	}
	snprintf(dst, dstlen, "%s", target);
	return dst;
}

/* ---- plugins ---- */

static void
plugin_unload(struct plugin *pl)
{
	if (pl == NULL)
		return;
	if (pl->inited && pl->p->fini != NULL)
		pl->p->fini();
	if (pl->dl != NULL)
		dlclose(pl->dl);
	free(pl->type);
	free(pl->path);
	free(pl);
}

/* Open TYPE.so from dir.  On failure the plugin is returned with error set,
 * so every probe of that type can say why. */
static struct plugin *
plugin_open(const char *dir, const char *type)
{
	struct plugin *pl = calloc(1, sizeof(*pl));
	const char *e;

	if (pl == NULL || (pl->type = strdup(type)) == NULL ||
	    asprintf(&pl->path, "%s/%s.so", dir ? dir : ".", type) == -1) {
		if (pl != NULL)
			free(pl->type);
		free(pl);
		return NULL;
	}
	pl->dl = dlopen(pl->path, RTLD_NOW | RTLD_LOCAL);
	if (pl->dl == NULL) {
		e = dlerror();
		if (access(pl->path, F_OK) == -1)
			snprintf(
			    pl->error, sizeof(pl->error),
			    "plugin %s does not exist (type \"%s\" unknown, or plugin-dir wrong)",
			    pl->path, type);
		else
			snprintf(pl->error, sizeof(pl->error), "plugin %s cannot be loaded: %s",
			         pl->path, e ? e : "dlopen failed");
		return pl;
	}
	(void)dlerror();
	pl->p = dlsym(pl->dl, "linewatch_plugin");
	if (pl->p == NULL) {
		snprintf(pl->error, sizeof(pl->error),
		         "plugin %s has no linewatch_plugin symbol: not a linewatch plugin",
		         pl->path);
		return pl;
	}
	if (pl->p->abi != LW_PLUGIN_ABI) {
		snprintf(pl->error, sizeof(pl->error),
		         "plugin %s has ABI version %" PRIu32 ", linewatchd needs %d: rebuild it "
		         "against this linewatch_plugin.h",
		         pl->path, pl->p->abi, LW_PLUGIN_ABI);
		pl->p = NULL;
		return pl;
	}
	if (pl->p->name == NULL || strcmp(pl->p->name, type) != 0) {
		snprintf(pl->error, sizeof(pl->error),
		         "plugin %s implements type \"%s\", not \"%s\"", pl->path,
		         pl->p->name ? pl->p->name : "(none)", type);
		pl->p = NULL;
		return pl;
	}
	if (pl->p->create == NULL || pl->p->run == NULL || pl->p->cancel == NULL ||
	    pl->p->destroy == NULL) {
		snprintf(pl->error, sizeof(pl->error),
		         "plugin %s lacks create, run, cancel or destroy", pl->path);
		pl->p = NULL;
		return pl;
	}
	return pl;
}

static struct plugin *
plugin_find(struct plugin **v, size_t n, const char *type)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i]->type, type) == 0)
			return v[i];
	return NULL;
}

/* The engine's plugin for type: loaded and initialised on first use. */
static struct plugin *
engine_plugin(struct probe_engine *pe, const char *type)
{
	struct plugin *pl = plugin_find(pe->plugins, pe->nplugins, type), **n;
	char err[256] = "";

	if (pl != NULL)
		return pl;
	n = realloc(pe->plugins, (pe->nplugins + 1) * sizeof(*n));
	if (n == NULL)
		return NULL;
	pe->plugins = n;
	if ((pl = plugin_open(pe->plugin_dir, type)) == NULL)
		return NULL;
	pe->plugins[pe->nplugins++] = pl;
	if (pl->error[0] != '\0')
		return pl;
	if (pl->p->init != NULL && pl->p->init(pe->base, err, sizeof(err)) != 0) {
		snprintf(pl->error, sizeof(pl->error), "plugin %s failed to initialise: %s",
		         pl->path, err[0] ? err : "no reason given");
		return pl;
	}
	pl->inited = true;
	log_debug("probe plugin %s loaded from %s", type, pl->path);
	return pl;
}

/* ---- configuration ---- */

static void
spec_from_config(const struct lw_probe *cp, struct lw_probe_spec *spec,
                 struct lw_probe_option *opts)
{
	for (size_t i = 0; opts != NULL && i < cp->nopts; i++) {
		opts[i].key = cp->opts[i].key;
		opts[i].value = cp->opts[i].value;
	}
	spec->name = cp->name;
	spec->link = cp->link;
	spec->target = cp->target;
	/* the config refuses less than 100ms; a timer must never spin */
	spec->interval_ms = cp->interval_ms >= 100 ? cp->interval_ms : 100;
	spec->timeout_ms = cp->timeout_ms > 0 ? cp->timeout_ms : spec->interval_ms;
	spec->opts = opts;
	spec->nopts = cp->nopts;
}

struct check_ctx {
	const struct lw_config *cfg;
	void (*report)(const char *msg, void *arg);
	void *arg;
	int nerr;
};

static void
check_report(struct check_ctx *cc, const struct lw_probe *cp, const char *msg)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s:%d: probe \"%s\" of link \"%s\": %s",
	         cc->cfg->file ? cc->cfg->file : "?", cp->line, cp->name, cp->link, msg);
	cc->report(buf, cc->arg);
	cc->nerr++;
}

static void
check_probe(struct check_ctx *cc, struct plugin *pl, const struct lw_probe *cp)
{
	struct lw_probe_option *opts;
	struct lw_probe_spec spec;
	char err[512] = "";

	if (pl->error[0] != '\0') {
		check_report(cc, cp, pl->error);
		return;
	}
	if (pl->p->check == NULL)
		return;
	opts = calloc(cp->nopts + 1, sizeof(*opts));
	if (opts == NULL) {
		check_report(cc, cp, "out of memory");
		return;
	}
	spec_from_config(cp, &spec, opts);
	if (pl->p->check(&spec, err, sizeof(err)) != 0)
		check_report(cc, cp, err[0] ? err : "rejected by the plugin (no reason given)");
	free(opts);
}

int
probe_check_config(const struct lw_config *cfg, void (*report)(const char *msg, void *arg),
                   void *arg)
{
	struct check_ctx cc = {cfg, report, arg, 0};
	struct plugin **pls = NULL, *pl;
	size_t npls = 0;

	for (size_t l = 0; l < cfg->nlinks; l++) {
		const struct lw_link *link = &cfg->links[l];

		for (size_t i = 0; i < link->nprobes; i++) {
			const struct lw_probe *cp = &link->probes[i];

			if (cp->type == NULL)
				continue;
			pl = plugin_find(pls, npls, cp->type);
			if (pl == NULL) {
				struct plugin **n = realloc(pls, (npls + 1) * sizeof(*n));

				if (n == NULL ||
				    (pl = plugin_open(cfg->plugin_dir, cp->type)) == NULL) {
					pls = n ? n : pls;
					check_report(&cc, cp, "out of memory");
					continue;
				}
				pls = n;
				pls[npls++] = pl;
			}
			check_probe(&cc, pl, cp);
		}
	}
	for (size_t i = 0; i < npls; i++)
		plugin_unload(pls[i]);
	free(pls);
	return cc.nerr;
}

/* ---- results ---- */

static void
publish(struct probe *pr, enum lw_status status, const char *message,
        const struct lw_probe_metric *pm, size_t npm)
{
	struct lw_metric metrics[PROBE_MAX_METRICS];
	char names[PROBE_MAX_METRICS][PROBE_NAME_MAX];
	char units[PROBE_MAX_METRICS][PROBE_UNIT_MAX];
	char msg[PROBE_MSG_MAX], target[1024];
	struct lw_attr attrs[3];
	struct lw_sample s = {0};
	size_t n = 0;

	if (npm > PROBE_MAX_METRICS)
		npm = PROBE_MAX_METRICS;
	for (size_t i = 0; i < npm; i++) {
		if (pm[i].name == NULL || pm[i].name[0] == '\0')
			continue;
		metrics[n].name = clean_text(names[n], sizeof(names[n]), pm[i].name);
		metrics[n].unit = clean_text(units[n], sizeof(units[n]), pm[i].unit);
		metrics[n].value = pm[i].value;
		metrics[n].valid = pm[i].value == pm[i].value; /* NaN: unknown */
		n++;
	}
	attrs[0] = (struct lw_attr){"type", pr->type};
	attrs[1] =
	    (struct lw_attr){"target", probe_shown_target(pr->target, target, sizeof(target))};
	attrs[2] = (struct lw_attr){"hop", config_hop_name(pr->hop)};
	s.kind = LW_SUBJ_PROBE;
	s.link = pr->link;
	s.name = pr->name;
	gettimeofday(&s.ts, NULL);
	s.interval_ms = pr->spec.interval_ms;
	s.status = status;
	s.message = clean_text(msg, sizeof(msg), message);
	s.metrics = metrics;
	s.nmetrics = n;
	s.attrs = attrs;
	s.nattrs = attrs[2].value != NULL ? 3 : 2;
	if (status != LW_OK)
		log_debug("probe %s/%s: %s: %s", pr->link, pr->name, lw_status_name(status), msg);
	sample_publish(pr->pe->bus, &s);
}

static void
run_done(const struct lw_probe_result *res, void *arg)
{
	struct probe *pr = arg;
	enum lw_status st;

	if (!pr->running) {
		/* A plugin bug; ignoring it keeps one result per run. */
		log_warnx("probe %s/%s: plugin %s reported a result for no run (after a "
		          "timeout, or twice)",
		          pr->link, pr->name, pr->type);
		return;
	}
	pr->running = false;
	evtimer_del(pr->timeout);
	if (res == NULL) {
		publish(pr, LW_UNKNOWN, "the plugin reported no result", NULL, 0);
		return;
	}
	st = (unsigned)res->status <= LW_PROBE_UNKNOWN ? (enum lw_status)res->status : LW_UNKNOWN;
	publish(pr, st, res->message, res->metrics, res->nmetrics);
}

static void
timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct probe *pr = arg;
	char msg[64];

	if (!pr->running)
		return;
	pr->running = false;
	pr->pl->p->cancel(pr->inst);
	snprintf(msg, sizeof(msg), "timed out after %" PRId64 " ms", pr->spec.timeout_ms);
	publish(pr, LW_UNKNOWN, msg, NULL, 0);
}

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct probe *pr = arg;
	struct timeval tv;

	tv.tv_sec = pr->spec.interval_ms / 1000;
	tv.tv_usec = (pr->spec.interval_ms % 1000) * 1000;
	evtimer_add(pr->tick, &tv);
	if (pr->running) {
		/* timeout longer than the interval: never two runs at once */
		log_debug("probe %s/%s: still running, interval skipped", pr->link, pr->name);
		return;
	}
	if (pr->inst == NULL) {
		publish(pr, LW_UNKNOWN, pr->error, NULL, 0);
		return;
	}
	tv.tv_sec = pr->spec.timeout_ms / 1000;
	tv.tv_usec = (pr->spec.timeout_ms % 1000) * 1000;
	evtimer_add(pr->timeout, &tv);
	pr->running = true;
	pr->pl->p->run(pr->inst, run_done, pr);
}

/* ---- probes ---- */

static void
probe_free(struct probe *pr)
{
	if (pr == NULL)
		return;
	if (pr->inst != NULL) {
		if (pr->running)
			pr->pl->p->cancel(pr->inst);
		pr->running = false;
		pr->pl->p->destroy(pr->inst);
	}
	if (pr->tick)
		event_free(pr->tick);
	if (pr->timeout)
		event_free(pr->timeout);
	for (size_t i = 0; i < pr->spec.nopts; i++) {
		free((char *)pr->opts[i].key);
		free((char *)pr->opts[i].value);
	}
	free(pr->opts);
	free(pr->link);
	free(pr->name);
	free(pr->type);
	free(pr->target);
	free(pr);
}

static uint32_t
name_hash(const char *a, const char *b)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 16777619u;
	return h;
}

static struct probe *
probe_new(struct probe_engine *pe, const struct lw_probe *cp)
{
	struct probe *pr = calloc(1, sizeof(*pr));
	int64_t spread, first;
	struct timeval tv;
	char err[256] = "";

	if (pr == NULL)
		return NULL;
	pr->pe = pe;
	pr->link = strdup(cp->link);
	pr->name = strdup(cp->name);
	pr->type = strdup(cp->type);
	pr->target = strdup(cp->target ? cp->target : "");
	pr->hop = cp->hop;
	pr->opts = calloc(cp->nopts + 1, sizeof(*pr->opts));
	pr->tick = evtimer_new(pe->base, tick_cb, pr);
	pr->timeout = evtimer_new(pe->base, timeout_cb, pr);
	if (!pr->link || !pr->name || !pr->type || !pr->target || !pr->opts || !pr->tick ||
	    !pr->timeout) {
		probe_free(pr);
		return NULL;
	}
	spec_from_config(cp, &pr->spec, pr->opts);
	pr->spec.nopts = 0;
	for (size_t i = 0; i < cp->nopts; i++) {
		pr->opts[i].key = strdup(cp->opts[i].key);
		pr->opts[i].value = strdup(cp->opts[i].value);
		pr->spec.nopts++;
		if (pr->opts[i].key == NULL || pr->opts[i].value == NULL) {
			probe_free(pr);
			return NULL;
		}
	}
	pr->spec.name = pr->name;
	pr->spec.link = pr->link;
	pr->spec.target = pr->target;

	pr->pl = engine_plugin(pe, pr->type);
	if (pr->pl == NULL) {
		probe_free(pr);
		return NULL;
	}
	if (pr->pl->error[0] != '\0') {
		snprintf(pr->error, sizeof(pr->error), "%s", pr->pl->error);
	} else {
		pr->inst = pr->pl->p->create(pe->base, &pr->spec, err, sizeof(err));
		if (pr->inst == NULL)
			snprintf(pr->error, sizeof(pr->error),
			         "plugin %s cannot create the probe: %s", pr->type,
			         err[0] ? err : "no reason given");
	}
	if (pr->error[0] != '\0')
		log_warnx("probe %s/%s: %s", pr->link, pr->name, pr->error);

	/* Spread first runs so probes of one interval do not fire together. */
	spread = pr->spec.interval_ms < PROBE_SPREAD_MS ? pr->spec.interval_ms : PROBE_SPREAD_MS;
	first = spread > 0 ? name_hash(pr->link, pr->name) % spread : 0;
	tv.tv_sec = first / 1000;
	tv.tv_usec = (first % 1000) * 1000;
	evtimer_add(pr->tick, &tv);
	return pr;
}

/* Same probe, same settings: keeps running across a reload. */
static bool
probe_same(const struct probe *pr, const struct lw_probe *cp)
{
	struct lw_probe_spec spec;

	spec_from_config(cp, &spec, NULL);
	if (strcmp(pr->type, cp->type) != 0 || strcmp(pr->target, cp->target ? cp->target : "") ||
	    pr->hop != cp->hop || pr->spec.interval_ms != spec.interval_ms ||
	    pr->spec.timeout_ms != spec.timeout_ms || pr->spec.nopts != cp->nopts)
		return false;
	for (size_t i = 0; i < cp->nopts; i++)
		if (strcmp(pr->opts[i].key, cp->opts[i].key) != 0 ||
		    strcmp(pr->opts[i].value, cp->opts[i].value) != 0)
			return false;
	return true;
}

static size_t
config_nprobes(const struct lw_config *cfg)
{
	size_t n = 0;

	for (size_t l = 0; l < cfg->nlinks; l++)
		n += cfg->links[l].nprobes;
	return n;
}

/* Build the probe list for cfg, reusing unchanged probes from the current
 * list; returns the number of probes that could not be made. */
static int
engine_apply(struct probe_engine *pe, const struct lw_config *cfg)
{
	size_t n = config_nprobes(cfg), k = 0;
	struct probe **nv = calloc(n + 1, sizeof(*nv));
	int bad = 0;

	if (nv == NULL)
		return -1;
	for (size_t l = 0; l < cfg->nlinks; l++) {
		const struct lw_link *link = &cfg->links[l];

		for (size_t i = 0; i < link->nprobes; i++) {
			const struct lw_probe *cp = &link->probes[i];
			struct probe *pr = NULL;

			if (cp->type == NULL || cp->name == NULL || cp->link == NULL)
				continue;
			for (size_t j = 0; j < pe->nprobes; j++) {
				struct probe *old = pe->probes[j];

				if (old != NULL && old->error[0] == '\0' &&
				    strcmp(old->link, cp->link) == 0 &&
				    strcmp(old->name, cp->name) == 0 && probe_same(old, cp)) {
					pr = old;
					pe->probes[j] = NULL;
					break;
				}
			}
			if (pr == NULL)
				pr = probe_new(pe, cp);
			if (pr == NULL || pr->error[0] != '\0')
				bad++;
			if (pr != NULL)
				nv[k++] = pr;
		}
	}
	for (size_t j = 0; j < pe->nprobes; j++)
		probe_free(pe->probes[j]);
	free(pe->probes);
	pe->probes = nv;
	pe->nprobes = k;
	return bad;
}

/* A plugin that failed to load or initialise gets another chance at a
 * reload (fixed file, new plugin-dir).  Probes never dereference a broken
 * plugin, and engine_apply replaces every probe that has an error. */
static void
engine_drop_broken_plugins(struct probe_engine *pe)
{
	size_t k = 0;

	for (size_t i = 0; i < pe->nplugins; i++) {
		if (pe->plugins[i]->error[0] != '\0')
			plugin_unload(pe->plugins[i]);
		else
			pe->plugins[k++] = pe->plugins[i];
	}
	pe->nplugins = k;
}

struct probe_engine *
probe_engine_new(struct event_base *base, struct lw_bus *bus, const struct lw_config *cfg)
{
	struct probe_engine *pe = calloc(1, sizeof(*pe));

	if (pe == NULL)
		return NULL;
	pe->base = base;
	pe->bus = bus;
	pe->plugin_dir = strdup(cfg->plugin_dir ? cfg->plugin_dir : ".");
	if (pe->plugin_dir == NULL || engine_apply(pe, cfg) != 0) {
		log_warnx("probes cannot start (see above)");
		probe_engine_free(pe);
		return NULL;
	}
	log_info("%zu probes started, %zu plugins loaded from %s", pe->nprobes, pe->nplugins,
	         pe->plugin_dir);
	return pe;
}

int
probe_engine_reload(struct probe_engine *pe, const struct lw_config *cfg)
{
	char *dir;
	int bad;

	if (cfg->plugin_dir != NULL && strcmp(cfg->plugin_dir, pe->plugin_dir) != 0) {
		/* Loaded plugins stay; only types new to this run come from the new dir. */
		if ((dir = strdup(cfg->plugin_dir)) != NULL) {
			free(pe->plugin_dir);
			pe->plugin_dir = dir;
		}
	}
	engine_drop_broken_plugins(pe);
	bad = engine_apply(pe, cfg);
	if (bad != 0)
		log_warnx("%d probe%s cannot run after the reload (see above)", bad,
		          bad == 1 ? "" : "s");
	return bad == 0 ? 0 : -1;
}

void
probe_engine_free(struct probe_engine *pe)
{
	if (pe == NULL)
		return;
	for (size_t i = 0; i < pe->nprobes; i++)
		probe_free(pe->probes[i]);
	free(pe->probes);
	for (size_t i = 0; i < pe->nplugins; i++)
		plugin_unload(pe->plugins[i]);
	free(pe->plugins);
	free(pe->plugin_dir);
	free(pe);
}
