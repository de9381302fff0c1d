/* detect.c - per problem key state machine: pending, problem, hysteresis, flapping */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

void
detect_init(struct detect *d)
{
	memset(d, 0, sizeof(*d));
	d->state = DETECT_OK;
	d->severity = LW_OK;
}

void
detect_seed(struct detect *d, enum lw_status severity, int64_t since_ms, bool flapping)
{
	detect_reset_sources(d);
	d->state = DETECT_PROBLEM;
	d->severity = severity == LW_CRITICAL ? LW_CRITICAL : LW_WARNING;
	d->since_ms = since_ms;
	d->pending_ms = 0;
	d->flapping = flapping;
	d->restored = true;
	d->lower_run = 0;
}

void
detect_seed_recovered(struct detect *d, int64_t recovered_ms)
{
	if (recovered_ms > d->last_recovered_ms)
		d->last_recovered_ms = recovered_ms;
}

void
detect_reset_sources(struct detect *d)
{
	memset(d->src, 0, sizeof(d->src));
}

static enum lw_status
bad_severity(enum lw_status s)
{
	/* A bad evaluation is at least a warning; UNKNOWN is not "worse". */
	return s == LW_CRITICAL ? LW_CRITICAL : LW_WARNING;
}

static bool
fresh(const struct detect_source *s, int64_t now_ms)
{
	return s->used && (s->stale_ms <= 0 || now_ms - s->last_ms <= s->stale_ms);
}

static void
add_flap(struct detect *d, int64_t now_ms)
{
	d->flaps[d->flap_head] = now_ms;
	d->flap_head = (d->flap_head + 1) % DETECT_MAX_FLAPS;
	if (d->nflaps < DETECT_MAX_FLAPS)
		d->nflaps++;
}

int
detect_flaps(const struct detect *d, const struct detect_params *p, int64_t now_ms)
{
	int n = 0;

	for (int i = 0; i < d->nflaps; i++) {
		int k = (d->flap_head - 1 - i + DETECT_MAX_FLAPS) % DETECT_MAX_FLAPS;

		if (now_ms - d->flaps[k] > p->flap_window_ms)
			break; /* newest first: the rest are older */
		n++;
	}
	return n;
}

/* Worst severity among fresh bad sources; LW_OK when none is bad. */
static enum lw_status
worst_bad(const struct detect *d, int64_t now_ms)
{
	enum lw_status w = LW_OK;

	for (int i = 0; i < DETECT_MAX_SOURCES; i++) {
		const struct detect_source *s = &d->src[i];

		if (fresh(s, now_ms) && s->bad && s->severity > w)
			w = s->severity;
	}
	return w;
}

static bool
recovered(const struct detect *d, const struct detect_params *p, int64_t now_ms)
{
	int nfresh = 0;

	if (d->flapping && detect_flaps(d, p, now_ms) >= p->flap_count)
		return false;
	for (int i = 0; i < DETECT_MAX_SOURCES; i++) {
		const struct detect_source *s = &d->src[i];

		if (!fresh(s, now_ms))
			continue;
		nfresh++;
		if (s->bad || s->good_run < p->clear_n)
			return false;
	}
	return nfresh > 0;
}

static void
to_problem(struct detect *d, const struct detect_params *p, int64_t now_ms, struct detect_result *r)
{
	enum lw_status w = worst_bad(d, now_ms);

	d->state = DETECT_PROBLEM;
	d->since_ms = d->pending_ms ? d->pending_ms : now_ms;
	d->pending_ms = 0;
	d->severity = w == LW_OK ? LW_WARNING : w;
	d->lower_run = 0;
	d->restored = false;
	if (d->last_recovered_ms > 0 && now_ms - d->last_recovered_ms <= p->holddown_ms)
		r->events |= DETECT_EV_REOPEN;
	else
		r->events |= DETECT_EV_OPEN;
	r->since_ms = d->since_ms;
}

/* Severity of a problem after a bad evaluation: up at once, down slowly. */
static void
update_severity(struct detect *d, const struct detect_params *p, int64_t now_ms,
                struct detect_result *r)
{
	enum lw_status target = worst_bad(d, now_ms);

	if (target == LW_OK || target == d->severity) {
		d->lower_run = 0;
		return;
	}
	if (target > d->severity) {
		d->severity = target;
		d->lower_run = 0;
		r->events |= DETECT_EV_SEVERITY;
		return;
	}
	if (d->lower_run > 0 && d->lower_severity == target)
		d->lower_run++;
	else {
		d->lower_severity = target;
		d->lower_run = 1;
	}
	if (d->lower_run >= p->clear_n) {
		d->severity = target;
		d->lower_run = 0;
		r->events |= DETECT_EV_SEVERITY;
	}
}

unsigned
detect_step(struct detect *d, const struct detect_params *p, const struct detect_input *in,
            int64_t now_ms, struct detect_result *r)
{
	struct detect_source *s;
	bool flapping_now = false;

	memset(r, 0, sizeof(*r));
	r->prev_severity = d->severity;
	if (in->source < 0 || in->source >= DETECT_MAX_SOURCES)
		return 0;
	s = &d->src[in->source];
	s->used = true;
	s->last_ms = now_ms;
	s->stale_ms = in->stale_ms;
	if (in->bad) {
		s->bad = true;
		s->bad_run++;
		s->good_run = 0;
		s->severity = bad_severity(in->severity);
	} else {
		s->bad = false;
		s->good_run++;
		s->bad_run = 0;
	}
	if (p->flap_count > 0) {
		if (in->edge)
			add_flap(d, now_ms);
		r->flaps = detect_flaps(d, p, now_ms);
		flapping_now = r->flaps >= p->flap_count;
	}

	switch (d->state) {
	case DETECT_OK:
		if (!in->bad && !flapping_now)
			break;
		d->pending_ms = now_ms;
		if (flapping_now || s->bad_run >= p->for_n)
			to_problem(d, p, now_ms, r);
		else {
			d->state = DETECT_PENDING;
			r->events |= DETECT_EV_PENDING;
		}
		break;
	case DETECT_PENDING:
		if (flapping_now || (in->bad && s->bad_run >= p->for_n))
			to_problem(d, p, now_ms, r);
		else if (worst_bad(d, now_ms) == LW_OK) {
			d->state = DETECT_OK;
			d->pending_ms = 0;
			r->events |= DETECT_EV_CANCEL;
		}
		break;
	case DETECT_PROBLEM:
		if (in->bad) {
			if (d->restored) {
				d->restored = false;
				r->events |= DETECT_EV_CONFIRMED;
			}
			update_severity(d, p, now_ms, r);
		} else if (!flapping_now && recovered(d, p, now_ms)) {
			d->state = DETECT_OK;
			r->events |= DETECT_EV_RECOVERED;
			r->since_ms = d->since_ms;
			r->duration_ms = now_ms - d->since_ms;
			r->after_restart = d->restored;
			d->restored = false;
			d->flapping = false;
			d->last_recovered_ms = now_ms;
			d->lower_run = 0;
		}
		break;
	}
	if (flapping_now && d->state == DETECT_PROBLEM && !d->flapping) {
		d->flapping = true;
		r->events |= DETECT_EV_FLAPPING;
	}
	r->severity = d->severity;
	return r->events;
}

unsigned
detect_edge(struct detect *d, const struct detect_params *p, int64_t now_ms,
            struct detect_result *r)
{
	memset(r, 0, sizeof(*r));
	r->prev_severity = d->severity;
	r->severity = d->severity;
	if (p->flap_count <= 0)
		return 0;
	add_flap(d, now_ms);
	r->flaps = detect_flaps(d, p, now_ms);
	if (r->flaps < p->flap_count)
		return 0;
	if (d->state != DETECT_PROBLEM) {
		if (d->pending_ms == 0)
			d->pending_ms = now_ms;
		to_problem(d, p, now_ms, r);
	}
	if (!d->flapping) {
		d->flapping = true;
		r->events |= DETECT_EV_FLAPPING;
	}
	r->severity = d->severity;
	return r->events;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
detect_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2 == 1)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

double
detect_baseline(const double *same_hour, size_t ndays, size_t min_days)
{
	double v[64];
	size_t n = 0;

	for (size_t i = 0; i < ndays && n < 64; i++)
		if (!isnan(same_hour[i]) && same_hour[i] >= 0)
			v[n++] = same_hour[i];
	if (n == 0 || n < min_days)
		return NAN;
	return detect_median(v, n);
}

int
detect_latency_bad(double latency_ms, double threshold_ms, double baseline_ms, double factor,
                   double floor_ms)
{
	if (isnan(latency_ms))
		return 0;
	if (threshold_ms > 0 && latency_ms > threshold_ms)
		return 1;
	if (factor > 0 && !isnan(baseline_ms) && baseline_ms > 0 &&
	    latency_ms > factor * baseline_ms && latency_ms - baseline_ms >= floor_ms)
		return 2;
	return 0;
}
