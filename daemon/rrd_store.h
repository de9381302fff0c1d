/* rrd_store.h - history of every sample on the bus, in RRD files.
 *
 * One RRD file per subject under <state-dir>/rrd:
 *
 *   <device>/<interface>.rrd    LW_SUBJ_INTERFACE
 *   <device>/device.rrd         LW_SUBJ_DEVICE
 *   links/<link>/<probe>.rrd    LW_SUBJ_PROBE
 *   captures/<capture>.rrd      LW_SUBJ_CAPTURE
 *
 * Every name is one path component made safe by rrd_store_name_encode().
 * Files are written by a writer thread, directly with librrd or through
 * rrdcached when the configuration names one; the event loop only copies the
 * sample into a bounded queue.
 *
 * Rows are held per file for rrd-write-delay (or HOLD_MAX_ROWS rows) and
 * written with one librrd call, as rrdcached does: each call maps the file
 * and faults in its archive rows, which costs far more than the rows
 * themselves.  Through rrdcached they are held at most 10 s and sent in as
 * few commands as fit (each update is a blocking round trip).  A stop, a
 * reload, rrd_store_flush() and a reader's rrd_store_sync_file() write
 * them early; a crash loses at most the delay.
 */
#ifndef LW_RRD_STORE_H
#define LW_RRD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sample.h"

struct event_base;
struct rrd_store;

/* RRD data source names: at most 19 characters of [A-Za-z0-9_]. */
#define RRD_STORE_DS_LEN 20
/* Data sources per file; metrics beyond this are not recorded. */
#define RRD_STORE_MAX_DS 32
/* Samples waiting for the writer; more are dropped (and counted). */
#define RRD_STORE_QUEUE_MAX 16384

struct rrd_store_stats {
	uint64_t queued;  /* samples waiting for the writer now */
	uint64_t written; /* updates accepted by librrd or rrdcached */
	uint64_t dropped; /* samples lost because the queue was full */
	uint64_t errors;  /* failed creates/updates: disk full, unwritable, rrdcached down */
	uint64_t skipped; /* not written on purpose: file of another layout, not newer */
	uint64_t created; /* files created */
	uint64_t held;    /* rows held for a later write (direct writes) */
};

/* Subscribes to bus.  Creates <state-dir>/rrd; NULL (logged) if it cannot. */
struct rrd_store *rrd_store_new(struct event_base *base, struct lw_bus *bus,
                                const struct lw_config *cfg);
/* Picks up a changed rrdcached address (or the switch to/from direct writes). */
void rrd_store_reload(struct rrd_store *rs, const struct lw_config *cfg);
/* Blocks until every queued sample is written and, with rrdcached, our files
 * are flushed to disk.  For tests, shutdown and readers that need the newest
 * rows; never on a hot path. */
void rrd_store_flush(struct rrd_store *rs);
/* For a reader of one file (graphs, on their own thread): blocks until the
 * rows held for it are written (or sent to rrdcached, which the reader asks
 * to flush with --daemon), at most timeout_ms.  At once with no delay. */
void rrd_store_sync_file(struct rrd_store *rs, const char *path, int timeout_ms);
/* Unsubscribes, writes what is queued, stops the writer and frees. */
void rrd_store_free(struct rrd_store *rs);
void rrd_store_stats(const struct rrd_store *rs, struct rrd_store_stats *out);

/* The file of a subject: owner is the device (DEVICE, INTERFACE) or the link
 * (PROBE), unused for CAPTURE; name is the interface, probe or capture, unused
 * for DEVICE.  Names are encoded with rrd_store_name_encode(); so that no
 * subject can land on a fixed name, a device called "links" or "captures" and
 * an interface called "device" get their first letter escaped too
 * ("%6Cinks", "%63aptures", "%64evice.rrd").  0, or -1 with errno EINVAL
 * (missing name, unknown kind) or ENAMETOOLONG (a component over NAME_MAX, or
 * buf too small). */
int rrd_store_file(const char *state_dir, enum lw_subject kind, const char *owner, const char *name,
                   char *buf, size_t len);
/* The same for the subject of a sample. */
int rrd_store_sample_file(const char *state_dir, const struct lw_sample *s, char *buf, size_t len);

/* Reversible mapping of any non-empty string to one safe path component:
 * [A-Za-z0-9.-] stay, '/' becomes '_', every other byte (including '_', '%',
 * control characters and non-ASCII) becomes %XX (upper-case hex), and a
 * leading '.' becomes %2E, so the result is never "", ".", ".." nor hidden.
 * 0, or -1 with errno EINVAL (empty) or ENAMETOOLONG (does not fit). */
int rrd_store_name_encode(const char *name, char *buf, size_t len);
/* The inverse; -1 with errno EINVAL for anything encode cannot produce. */
int rrd_store_name_decode(const char *comp, char *buf, size_t len);

/* The data source that records a metric: characters outside [A-Za-z0-9_]
 * become '_', cut at 19.  Returns out, "" when nothing is left. */
const char *rrd_store_ds_name(const char *metric, char out[RRD_STORE_DS_LEN]);
/* The data sources every file of a kind has (the whole set for interfaces). */
const char *const *rrd_store_base_ds(enum lw_subject kind, size_t *n);

#endif
