/* detect.h - the degradation state machine of one problem key (pure).
 *
 * A problem key is a link or a device plus a kind ("link:isp-fibre:loss").
 * Its machine is stepped once per evaluation with the verdict of one source
 * (a probe, the interface, the device, or the link as a whole) and the time.
 * It does no I/O, reads no clock and keeps no pointers: it is unit-tested in
 * isolation and seeded from the ticket database after a restart.
 *
 * States and transitions (for = for_n, clear = clear_n):
 *
 *   OK       --bad-->                                     PENDING
 *   PENDING  --a source bad `for` times in a row-->       PROBLEM  (OPEN, or
 *            REOPEN when the previous recovery is less than hold-down ago)
 *   PENDING  --every source good again-->                 OK       (CANCEL)
 *   OK       --bad, for = 1-->                            PROBLEM
 *   PROBLEM  --every fresh source good `clear` times in a row, and not
 *            flapping any more-->                         OK       (RECOVERED)
 *
 * Sources: each source keeps its own run of bad and good evaluations, so two
 * probes of a link never count one measurement twice, and a lossy far target
 * is not reset by a clean gateway.  A source is fresh while its last
 * evaluation is no older than the stale_ms passed with it; stale sources
 * neither hold a problem open nor block its recovery.
 *
 * Severity rises at once (SEVERITY) and falls only after `clear` bad
 * evaluations in a row at the lower level, so it does not see-saw.
 *
 * Flapping (flap_count > 0): evaluations marked `edge` (the subject changed
 * state, e.g. ifOperStatus up <-> down) are counted over flap_window_ms; at
 * flap_count edges the key is a problem at once, marked flapping (FLAPPING),
 * whatever `for` says, and it recovers only once the window holds fewer
 * edges again and `clear` good evaluations came in.
 *
 * Restart: detect_seed() puts a key whose ticket was open when the daemon
 * stopped back into PROBLEM, marked restored.  The first bad evaluation
 * confirms it (CONFIRMED: the same ticket continues).  If instead it
 * recovers before any bad evaluation was seen, RECOVERED comes with
 * after_restart set: the problem cleared while the daemon was not running.
 */
#ifndef LW_DETECT_H
#define LW_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

#define DETECT_MAX_SOURCES 32
#define DETECT_MAX_FLAPS 100

enum detect_state { DETECT_OK = 0, DETECT_PENDING, DETECT_PROBLEM };

/* Result bits of detect_step(). */
#define DETECT_EV_PENDING 0x01   /* OK -> PENDING */
#define DETECT_EV_CANCEL 0x02    /* PENDING -> OK: a blip */
#define DETECT_EV_OPEN 0x04      /* -> PROBLEM, new problem */
#define DETECT_EV_REOPEN 0x08    /* -> PROBLEM within hold-down of the last recovery */
#define DETECT_EV_SEVERITY 0x10  /* severity changed while PROBLEM */
#define DETECT_EV_FLAPPING 0x20  /* became flapping */
#define DETECT_EV_CONFIRMED 0x40 /* restored problem seen bad after the restart */
#define DETECT_EV_RECOVERED 0x80 /* PROBLEM -> OK */

struct detect_params {
	int for_n;      /* bad evaluations in a row before a problem (>= 1) */
	int clear_n;    /* good evaluations in a row before recovery (>= 1) */
	int flap_count; /* 0 = no flap detection */
	int64_t flap_window_ms;
	int64_t holddown_ms;
};

struct detect_input {
	int source; /* 0 .. DETECT_MAX_SOURCES-1 */
	bool bad;
	enum lw_status severity; /* of a bad evaluation: LW_WARNING or LW_CRITICAL */
	bool edge;               /* the subject changed state (flap counting) */
	int64_t stale_ms;        /* this source is stale once silent this long */
};

struct detect_source {
	int64_t last_ms;
	int64_t stale_ms;
	int bad_run;
	int good_run;
	enum lw_status severity;
	bool used;
	bool bad;
};

struct detect {
	enum detect_state state;
	enum lw_status severity; /* while PROBLEM */
	bool flapping;
	bool restored;                 /* seeded after a restart, not seen bad since */
	int64_t pending_ms;            /* first bad evaluation of the current run */
	int64_t since_ms;              /* start of the current problem */
	int64_t last_recovered_ms;     /* 0 = never */
	enum lw_status lower_severity; /* candidate while falling */
	int lower_run;
	int nflaps;
	int flap_head;
	int64_t flaps[DETECT_MAX_FLAPS];
	struct detect_source src[DETECT_MAX_SOURCES];
};

struct detect_result {
	unsigned events; /* DETECT_EV_* */
	enum lw_status severity;
	enum lw_status prev_severity;
	int64_t since_ms;    /* problem start (OPEN/REOPEN/RECOVERED) */
	int64_t duration_ms; /* RECOVERED */
	int flaps;           /* edges in the window (FLAPPING) */
	bool after_restart;  /* RECOVERED of a restored problem never seen bad */
};

void detect_init(struct detect *d);

/* Continue a problem that had an open ticket when the daemon stopped. */
void detect_seed(struct detect *d, enum lw_status severity, int64_t since_ms, bool flapping);

/* The last recovery time known from the database (for hold-down). */
void detect_seed_recovered(struct detect *d, int64_t recovered_ms);

/* One evaluation at now_ms; returns r->events. */
unsigned detect_step(struct detect *d, const struct detect_params *p, const struct detect_input *in,
                     int64_t now_ms, struct detect_result *r);

/* A flap edge seen without a verdict (the interface came back up while the
 * probes decide whether the link works): counted like an edge of
 * detect_step(), may open a flapping problem.  Returns r->events. */
unsigned detect_edge(struct detect *d, const struct detect_params *p, int64_t now_ms,
                     struct detect_result *r);

/* Forget every source's runs (probes reordered by a reload); state kept. */
void detect_reset_sources(struct detect *d);

/* Edges within the flap window ending at now_ms. */
int detect_flaps(const struct detect *d, const struct detect_params *p, int64_t now_ms);

/* Median of v[0..n-1] (v is sorted in place); 0 when n == 0. */
double detect_median(double *v, size_t n);

/* Latency baseline for one hour of the day: the median of the hourly
 * medians of the same hour on the previous days (NaN = no data).  A baseline
 * exists once at least min_days of them are known; otherwise NaN. */
double detect_baseline(const double *same_hour, size_t ndays, size_t min_days);

/* Latency verdict against the fixed threshold and the learned baseline:
 * 0 good, 1 above threshold, 2 above factor x baseline (and at least
 * floor_ms above it). */
int detect_latency_bad(double latency_ms, double threshold_ms, double baseline_ms, double factor,
                       double floor_ms);

#endif
