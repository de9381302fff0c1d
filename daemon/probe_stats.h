/* probe_stats.h - round-trip statistics of a probe run: median, jitter, MOS.
 *
 * Header-only (static inline): probe plugins are built alone from one .c file
 * and linewatchd links libcore.a as an archive, so a core function that the
 * daemon itself never calls would not be in the executable for a plugin to
 * resolve.  Unit tests include this header too.
 *
 * Jitter: the mean absolute difference of consecutive round-trip times, in
 * send order, over the replies received (RFC 3550 section 6.4.1 takes the
 * same |D(i-1,i)| but smooths it with gain 1/16; a probe run is a handful of
 * echoes, so the plain mean is used).  Fewer than two replies: 0.
 *
 * MOS: ITU-T G.107 E-model, simplified as follows.
 *   - Every G.107 parameter at its default (Table 2), so R = 93.2 - Idd - Ie,eff
 *     (A = 0).  Talker and listener echo (Idte, Idle) stay at their default
 *     zero-delay values, i.e. echo is assumed cancelled: only the pure delay
 *     impairment Idd grows with latency.
 *   - One-way delay Ta = rtt_avg / 2 + 2 * jitter (a de-jitter buffer twice the
 *     jitter); no codec or packetisation delay is added.
 *   - Idd = 0 for Ta <= 100 ms, else with X = log2(Ta / 100):
 *     Idd = 25 * ((1 + X^6)^(1/6) - 3 * (1 + (X / 3)^6)^(1/6) + 2).
 *   - Codec G.711 with packet loss concealment: Ie = 0, Bpl = 25.1 (G.113
 *     Appendix I), random loss (BurstR = 1):
 *     Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl + Bpl), Ppl = loss in percent.
 *   - MOS = 1 for R < 0, 4.5 for R > 100, else
 *     1 + 0.035 R + R (R - 60) (100 - R) * 7e-6 (G.107 Annex B).
 *   - All echoes lost: MOS = 1 (there is no call), whatever the formula says.
 * A perfect path (no loss, Ta <= 100 ms) therefore scores 4.41.
 */
#ifndef LW_PROBE_STATS_H
#define LW_PROBE_STATS_H

#include <math.h>
#include <stddef.h>

struct probe_stats {
	unsigned sent;
	unsigned received;
	double loss_pct;
	/* in ms; meaningful only when received > 0 */
	double rtt_min;
	double rtt_avg;
	double rtt_max;
	double rtt_median;
	double jitter;
	double mos;
};

/* Median of v[0..n-1]; sorts v in place (insertion sort: n is at most a few
 * hundred).  Even n: mean of the two middle values.  n == 0: 0. */
static inline double
probe_stats_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++) {
		double x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Mean absolute difference of consecutive values; 0 for n < 2. */
static inline double
probe_stats_jitter(const double *rtt, size_t n)
{
	double sum = 0;

	if (n < 2)
		return 0;
	for (size_t i = 1; i < n; i++)
		sum += fabs(rtt[i] - rtt[i - 1]);
	return sum / (double)(n - 1);
}

/* G.107 delay impairment Idd for a one-way delay in ms. */
static inline double
probe_stats_idd(double ta_ms)
{
	double x, a, b;

	if (ta_ms <= 100)
		return 0;
	x = log2(ta_ms / 100);
	a = pow(1 + pow(x, 6), 1.0 / 6);
	b = pow(1 + pow(x / 3, 6), 1.0 / 6);
	return 25 * (a - 3 * b + 2);
}

/* R factor to MOS, G.107 Annex B. */
static inline double
probe_stats_r_to_mos(double r)
{
	if (r < 0)
		return 1;
	if (r > 100)
		return 4.5;
	return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

/* Simplified E-model MOS (see the top of this file). */
static inline double
probe_stats_mos(double rtt_avg_ms, double jitter_ms, double loss_pct)
{
	const double bpl = 25.1; /* G.711 with PLC */
	double ta, ie_eff, r;

	if (loss_pct >= 100)
		return 1;
	if (loss_pct < 0)
		loss_pct = 0;
	ta = rtt_avg_ms / 2 + 2 * jitter_ms;
	ie_eff = 95 * loss_pct / (loss_pct + bpl);
	r = 93.2 - probe_stats_idd(ta) - ie_eff;
	return probe_stats_r_to_mos(r);
}

/* Statistics of one run: rtt[0..nrecv-1] are the round-trip times (ms) of the
 * replies received, in send order, out of `sent` echoes.  scratch must hold
 * nrecv doubles (the median sorts a copy there). */
static inline void
probe_stats_compute(const double *rtt, size_t nrecv, unsigned sent, double *scratch,
                    struct probe_stats *st)
{
	double sum = 0;

	*st = (struct probe_stats){.sent = sent, .received = (unsigned)nrecv};
	if (sent == 0 || nrecv > sent)
		nrecv = 0;
	st->received = (unsigned)nrecv;
	st->loss_pct = sent ? 100.0 * (sent - nrecv) / sent : 100;
	st->mos = 1;
	if (nrecv == 0)
		return;
	st->rtt_min = st->rtt_max = rtt[0];
	for (size_t i = 0; i < nrecv; i++) {
		sum += rtt[i];
		if (rtt[i] < st->rtt_min)
			st->rtt_min = rtt[i];
		if (rtt[i] > st->rtt_max)
			st->rtt_max = rtt[i];
		scratch[i] = rtt[i];
	}
	st->rtt_avg = sum / (double)nrecv;
	st->rtt_median = probe_stats_median(scratch, nrecv);
	st->jitter = probe_stats_jitter(rtt, nrecv);
	st->mos = probe_stats_mos(st->rtt_avg, st->jitter, st->loss_pct);
}

#endif
