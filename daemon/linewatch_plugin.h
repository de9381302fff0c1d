/* linewatch_plugin.h - the whole probe plugin ABI.
 *
 * A plugin is a shared object exporting one symbol, `linewatch_plugin`, of
 * type `const struct lw_plugin`.  linewatchd dlopen()s the plugins its
 * configuration uses, refuses any whose `abi` differs from LW_PLUGIN_ABI, and
 * calls:
 *
 *   init()    once per process, before privileges are dropped (open raw
 *             sockets here); may be NULL.
 *   check()   for every probe of this type when the config is validated
 *             (linewatchd -t, reload): reject bad options with a message; the
 *             core prefixes it with FILE:LINE.
 *   create()  one instance per configured probe.
 *   run()     start one measurement; report exactly one result through
 *             done(result, arg), asynchronously, from the event loop.  The
 *             core never calls run() while a run of the instance is in flight.
 *   cancel()  the core timed the run out: stop it; done must not be called
 *             for that run any more.
 *   destroy() free the instance (a run in flight is cancelled first).
 *   fini()    once at shutdown; may be NULL.
 *
 * Everything runs on the daemon's libevent loop: plugins must never block.
 */
#ifndef LINEWATCH_PLUGIN_H
#define LINEWATCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define LW_PLUGIN_ABI 1

enum lw_probe_status {
	LW_PROBE_OK = 0,
	LW_PROBE_WARNING = 1,
	LW_PROBE_CRITICAL = 2,
	LW_PROBE_UNKNOWN = 3,
};

struct lw_probe_metric {
	const char *name; /* "loss", "rtt_avg", "connect_time", ... */
	const char *unit; /* "%", "ms", "s", "B", "" */
	double value;
};

struct lw_probe_result {
	enum lw_probe_status status;
	const char *message; /* short, human: "3/20 lost, rtt 12.1 ms" */
	const struct lw_probe_metric *metrics;
	size_t nmetrics;
};

struct lw_probe_option {
	const char *key;
	const char *value;
};

struct lw_probe_spec {
	const char *name;   /* probe name, for messages */
	const char *link;   /* link name, for messages */
	const char *target; /* host, host:port, URL or command, as configured */
	int64_t interval_ms;
	int64_t timeout_ms; /* the core cancels a run after this */
	const struct lw_probe_option *opts;
	size_t nopts;
};

typedef void (*lw_probe_done_cb)(const struct lw_probe_result *res, void *arg);

struct lw_plugin {
	uint32_t abi;     /* LW_PLUGIN_ABI */
	const char *name; /* the probe `type` it implements */
	int (*init)(struct event_base *base, char *err, size_t errlen);
	void (*fini)(void);
	int (*check)(const struct lw_probe_spec *spec, char *err, size_t errlen);
	void *(*create)(struct event_base *base, const struct lw_probe_spec *spec, char *err,
	                size_t errlen);
	void (*run)(void *inst, lw_probe_done_cb done, void *arg);
	void (*cancel)(void *inst);
	void (*destroy)(void *inst);
};

/* Convenience for plugins: the value of an option, or NULL. */
static inline const char *
lw_probe_opt(const struct lw_probe_spec *spec, const char *key)
{
	for (size_t i = 0; i < spec->nopts; i++) {
		const char *a = spec->opts[i].key, *b = key;
		while (*a && *a == *b) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return spec->opts[i].value;
	}
	return NULL;
}

#endif
