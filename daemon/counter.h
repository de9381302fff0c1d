/* counter.h - rates from SNMP counters and agent reboot detection.
 *
 * Pure arithmetic: no I/O, no clock; the caller passes the time each value
 * was read (monotonic milliseconds).  A discontinuity (agent reboot, counter
 * reset, implausible jump) makes that interval unknown, never a spike.
 */
#ifndef LW_COUNTER_H
#define LW_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

enum counter_result {
	COUNTER_OK = 0,        /* rate valid */
	COUNTER_WRAPPED,       /* 32-bit wrap corrected once; rate valid */
	COUNTER_FIRST,         /* no previous reading (or width changed): unknown */
	COUNTER_RESET,         /* went down without a plausible wrap: unknown */
	COUNTER_TOO_FAST,      /* above the ceiling (e.g. 110% of speed): unknown */
	COUNTER_NO_TIME,       /* elapsed time not positive: unknown */
	COUNTER_DISCONTINUITY, /* caller said so (reboot, ifCounterDiscontinuityTime) */
};

/* 16 bytes: a poller keeps about ten per interface.  48 bits of
 * milliseconds are 4,000 years of uptime or monotonic clock. */
struct counter {
	uint64_t value;
	int64_t t_ms : 48;
	uint64_t width : 8; /* 32 or 64; 0 = no reading yet */
	uint64_t clock : 8; /* which clock t_ms is on (caller's choice, 0-255) */
};
_Static_assert(sizeof(struct counter) == 16, "struct counter packs into 16 bytes");

/* Feed a new reading of a counter of `width` bits read at t_ms.  ceiling is
 * the largest plausible rate in counter units per second (0 = unknown).
 * disc forces a discontinuity.  On COUNTER_OK/COUNTER_WRAPPED *rate is the
 * per-second rate; otherwise it is left alone.  The reading is always kept
 * as the base for the next interval. */
enum counter_result counter_update(struct counter *c, uint64_t value, int width, int64_t t_ms,
                                   double ceiling, bool disc, double *rate);

/* The same, with t_ms on a caller-chosen clock (e.g. 0 = ours, 1 = the
 * agent's sysUpTime): readings on different clocks are not compared, the
 * result is COUNTER_FIRST. */
enum counter_result counter_update_clock(struct counter *c, uint64_t value, int width, int clock,
                                         int64_t t_ms, double ceiling, bool disc, double *rate);

/* Forget the previous reading (the next update returns COUNTER_FIRST). */
void counter_clear(struct counter *c);

/* True if a result leaves the interval's rate valid. */
bool counter_valid(enum counter_result r);

/* A new value would be lower than the stored one (a 64-bit counter going
 * down means the agent restarted; used to settle ambiguous sysUpTime). */
bool counter_went_down(const struct counter *c, uint64_t value, int width);

const char *counter_result_name(enum counter_result r);

/* --- agent restarts ---------------------------------------------------- */

/* One reading of the agent's clocks. sysUpTime is TimeTicks (1/100 s) and
 * wraps after 2^32 ticks (497 days); snmpEngineBoots/Time (SNMP-FRAMEWORK-MIB)
 * are optional. */
struct uptime_obs {
	uint32_t ticks;
	int64_t t_ms; /* local monotonic time of the reading */
	bool have_engine;
	uint32_t engine_boots;
	uint32_t engine_time; /* seconds since engine_boots last changed */
};

enum uptime_result {
	UPTIME_FIRST = 0, /* no previous reading */
	UPTIME_OK,
	UPTIME_WRAPPED,   /* sysUpTime passed 2^32: not a restart */
	UPTIME_REBOOT,    /* the agent restarted: counters are discontinuous */
	UPTIME_AMBIGUOUS, /* wrap or restart; settle with the counters */
};

/* Compare two readings (prev may be NULL). */
enum uptime_result uptime_check(const struct uptime_obs *prev, const struct uptime_obs *cur);

/* Agent uptime in seconds for the new reading, accounting for wraps seen so
 * far: *wraps is incremented on UPTIME_WRAPPED and reset on UPTIME_REBOOT. */
double uptime_seconds(uint32_t ticks, unsigned wraps);

const char *uptime_result_name(enum uptime_result r);

#endif
