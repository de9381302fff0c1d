/* graph.h - /graph/...png: RRD graphs drawn by librrd off the event loop */
#ifndef LW_GRAPH_H
#define LW_GRAPH_H

#include "config.h"
#include "http.h"

struct graph;

struct graph *graph_new(struct event_base *base, struct lw_http *h,
                        const struct lw_config *const *cfgp);
void graph_free(struct graph *g);
/* Called on the graph thread with an RRD file's path before it is read, so
 * its owner can write rows it holds (see rrd_store_sync_file()). */
void graph_set_sync(struct graph *g, void (*sync)(const char *file, void *arg), void *arg);

struct graph_stats {
	unsigned long rendered, refused, cache_hits, queued;
};
void graph_stats(const struct graph *g, struct graph_stats *out);

#endif
