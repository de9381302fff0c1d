/* metrics.h - GET /metrics: Prometheus text exposition.
 *
 * Link, probe, device and interface gauges come from the state; modules add
 * their own counters (queues, drops, tickets) through metrics_add_source(). */
#ifndef LW_METRICS_H
#define LW_METRICS_H

#include <event2/buffer.h>

#include "auth.h"
#include "config.h"
#include "http.h"
#include "state.h"

struct metrics;

typedef void (*metrics_source_cb)(struct evbuffer *b, void *arg);

struct metrics *metrics_new(struct lw_http *h, struct lw_state *st, struct auth *auth,
                            const struct lw_config *const *cfgp);
void metrics_free(struct metrics *m);
int metrics_add_source(struct metrics *m, metrics_source_cb cb, void *arg);

/* Helpers for sources: a family header, and one sample line with labels
 * given as NULL-terminated name/value pairs (values escaped here). */
void metrics_family(struct evbuffer *b, const char *name, const char *type, const char *help);
void metrics_value(struct evbuffer *b, const char *name, double v, ...);

#endif
