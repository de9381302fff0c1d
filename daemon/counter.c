/* counter.c - rates from SNMP counters and agent reboot detection (pure) */
#include <stddef.h>

#include "counter.h"

#define WRAP32 4294967296.0 /* 2^32 */

/* How far the agent's clock may disagree with ours over one interval before
 * we call it a restart: response jitter plus retries, at least 5 s. */
#define UPTIME_SLACK_MIN_TICKS 500
#define UPTIME_SLACK_FRACTION 0.10

void
counter_clear(struct counter *c)
{
	c->value = 0;
	c->t_ms = 0;
	c->width = 0;
	c->clock = 0;
}

bool
counter_valid(enum counter_result r)
{
	return r == COUNTER_OK || r == COUNTER_WRAPPED;
}

bool
counter_went_down(const struct counter *c, uint64_t value, int width)
{
	return c->width != 0 && c->width == width && value < c->value;
}

/* A 32-bit counter below its last value: one wrap is plausible when the
 * implied rate fits the ceiling or, with no ceiling, when the implied delta is
 * under half the range (a reset to near zero implies almost a full range). */
static bool
wrap_plausible(double delta, double dt_s, double ceiling)
{
	if (ceiling > 0)
		return delta / dt_s <= ceiling;
	return delta < WRAP32 / 2;
}

enum counter_result
counter_update(struct counter *c, uint64_t value, int width, int64_t t_ms, double ceiling,
               bool disc, double *rate)
{
	return counter_update_clock(c, value, width, 0, t_ms, ceiling, disc, rate);
}

enum counter_result
counter_update_clock(struct counter *c, uint64_t value, int width, int clock, int64_t t_ms,
                     double ceiling, bool disc, double *rate)
{
	struct counter prev = *c;
	double delta, dt_s;

	if (width == 32)
		value &= 0xffffffffULL;
	c->value = value;
	c->t_ms = t_ms;
	c->width = (uint8_t)width;
	c->clock = (uint8_t)clock;

	if (prev.width == 0 || prev.width != width || prev.clock != clock)
		return COUNTER_FIRST;
	if (disc)
		return COUNTER_DISCONTINUITY;
	if (t_ms <= prev.t_ms)
		return COUNTER_NO_TIME;
	dt_s = (double)(t_ms - prev.t_ms) / 1000.0;

	if (value >= prev.value) {
		delta = (double)(value - prev.value);
		if (ceiling > 0 && delta / dt_s > ceiling)
			return COUNTER_TOO_FAST;
		*rate = delta / dt_s;
		return COUNTER_OK;
	}
	if (width != 32)
		return COUNTER_RESET;
	delta = WRAP32 - (double)prev.value + (double)value;
	if (!wrap_plausible(delta, dt_s, ceiling))
		return COUNTER_RESET;
	*rate = delta / dt_s;
	return COUNTER_WRAPPED;
}

const char *
counter_result_name(enum counter_result r)
{
	switch (r) {
	case COUNTER_OK:
		return "ok";
	case COUNTER_WRAPPED:
		return "wrapped";
	case COUNTER_FIRST:
		return "first reading";
	case COUNTER_RESET:
		return "counter reset";
	case COUNTER_TOO_FAST:
		return "rate above interface speed";
	case COUNTER_NO_TIME:
		return "no time elapsed";
	case COUNTER_DISCONTINUITY:
		return "discontinuity";
	}
	return "?";
}

/* Engine clocks settle what sysUpTime alone cannot: a changed boot count is
 * a restart; the same boot count with engine time still running is not. */
static enum uptime_result
engine_verdict(const struct uptime_obs *prev, const struct uptime_obs *cur)
{
	if (!prev->have_engine || !cur->have_engine)
		return UPTIME_AMBIGUOUS;
	if (cur->engine_boots != prev->engine_boots)
		return UPTIME_REBOOT;
	if (cur->engine_time < prev->engine_time)
		return UPTIME_REBOOT;
	return UPTIME_OK;
}

enum uptime_result
uptime_check(const struct uptime_obs *prev, const struct uptime_obs *cur)
{
	double elapsed, slack, d, wrapped;
	bool wrap_ok, reboot_ok;
	enum uptime_result ev;

	if (prev == NULL)
		return UPTIME_FIRST;
	ev = engine_verdict(prev, cur);
	if (ev == UPTIME_REBOOT)
		return UPTIME_REBOOT;

	elapsed = (double)(cur->t_ms - prev->t_ms) / 10.0; /* in ticks */
	if (elapsed < 0)
		elapsed = 0;
	slack = elapsed * UPTIME_SLACK_FRACTION;
	if (slack < UPTIME_SLACK_MIN_TICKS)
		slack = UPTIME_SLACK_MIN_TICKS;

	if (cur->ticks >= prev->ticks) {
		d = (double)(cur->ticks - prev->ticks);
		/* The agent's clock advanced much less than ours: it restarted
		 * and has been up again for longer than it was before. */
		if (d + slack < elapsed && ev != UPTIME_OK)
			return UPTIME_REBOOT;
		return UPTIME_OK;
	}

	wrapped = WRAP32 - (double)prev->ticks + (double)cur->ticks;
	wrap_ok = wrapped <= elapsed + slack && wrapped + slack >= elapsed;
	reboot_ok = (double)cur->ticks <= elapsed + slack;
	if (ev == UPTIME_OK)
		return wrap_ok ? UPTIME_WRAPPED : UPTIME_REBOOT;
	if (wrap_ok && reboot_ok)
		return UPTIME_AMBIGUOUS;
	if (wrap_ok)
		return UPTIME_WRAPPED;
	return UPTIME_REBOOT;
}

double
uptime_seconds(uint32_t ticks, unsigned wraps)
{
	return ((double)ticks + (double)wraps * WRAP32) / 100.0;
}

const char *
uptime_result_name(enum uptime_result r)
{
	switch (r) {
	case UPTIME_FIRST:
		return "first reading";
	case UPTIME_OK:
		return "ok";
	case UPTIME_WRAPPED:
		return "sysUpTime wrapped";
	case UPTIME_REBOOT:
		return "agent restarted";
	case UPTIME_AMBIGUOUS:
		return "sysUpTime wrap or restart";
	}
	return "?";
}
