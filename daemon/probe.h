/* probe.h - the probe engine: plugins, schedules, timeouts, results.
 *
 * Loads the probe plugins the configuration uses (plugin-dir/TYPE.so), runs
 * every probe of every link at its interval and publishes each result as a
 * LW_SUBJ_PROBE sample (link, probe name, status, message, metrics; attrs
 * "type", "target" and "hop").
 */
#ifndef LW_PROBE_H
#define LW_PROBE_H

#include <event2/event.h>

#include "config.h"
#include "sample.h"

struct probe_engine;

/* Load the plugins cfg uses and run their check hook on every probe.
 * Messages are "FILE:LINE: probe \"name\" of link \"link\": ...".  Returns
 * the number of errors reported. */
int probe_check_config(const struct lw_config *cfg, void (*report)(const char *msg, void *arg),
                       void *arg);

/* Before privileges are dropped: plugins are loaded and initialised here.
 * NULL (after logging why) if a plugin cannot be loaded or a probe created. */
struct probe_engine *probe_engine_new(struct event_base *base, struct lw_bus *bus,
                                      const struct lw_config *cfg);

/* Switch to cfg: probes removed, added or changed; unchanged probes keep
 * their schedule.  Problems are logged and the probe reports "unknown". */
int probe_engine_reload(struct probe_engine *pe, const struct lw_config *cfg);

/* Cancel every run, destroy every instance, fini and unload the plugins.
 * Call it after the loop has stopped. */
void probe_engine_free(struct probe_engine *pe);

/* A target as shown to users: credentials in a URL ("http://user:pw@host/")
 * become "***".  Returns dst. */
const char *probe_shown_target(const char *target, char *dst, size_t dstlen);

#endif
