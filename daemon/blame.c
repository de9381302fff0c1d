/* blame.c - fault location verdict for a degraded link, with its evidence */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "blame.h"
#include "units.h"

static const char *const names[] = {
    [BLAME_UNKNOWN] = "unknown", [BLAME_LAN] = "lan",       [BLAME_CPE] = "cpe",
    [BLAME_ISP] = "isp",         [BLAME_BEYOND] = "beyond",
};

static const char *const phrases[] = {
    [BLAME_UNKNOWN] = "",
    [BLAME_LAN] = "LAN traffic fills the line",
    [BLAME_CPE] = "the edge router",
    [BLAME_ISP] = "the provider's side",
    [BLAME_BEYOND] = "beyond the provider's gateway",
};

const char *
blame_name(enum blame_verdict v)
{
	return (unsigned)v <= BLAME_BEYOND ? names[v] : "unknown";
}

const char *
blame_phrase(enum blame_verdict v)
{
	return (unsigned)v <= BLAME_BEYOND ? phrases[v] : "";
}

enum blame_verdict
blame_parse(const char *s)
{
	for (int v = BLAME_UNKNOWN; s != NULL && v <= BLAME_BEYOND; v++)
		if (strcasecmp(s, names[v]) == 0)
			return (enum blame_verdict)v;
	return BLAME_UNKNOWN;
}

static void __attribute__((format(printf, 2, 3))) reason(struct blame *b, const char *fmt, ...)
{
	va_list ap;

	if (b->nreasons >= BLAME_MAX_REASONS)
		return;
	va_start(ap, fmt);
	vsnprintf(b->reasons[b->nreasons++], BLAME_REASON_LEN, fmt, ap);
	va_end(ap);
}

static const char *
hop_word(enum lw_hop hop)
{
	switch (hop) {
	case LW_HOP_GATEWAY:
		return "gateway";
	case LW_HOP_ISP:
		return "isp";
	case LW_HOP_INTERNET:
		return "internet";
	default:
		return "no hop";
	}
}

/* "gateway (198.18.1.1, hop gateway): 18% loss, 12.3 ms, jitter 2.1 ms" */
static void
probe_reason(struct blame *b, const struct blame_probe *p)
{
	char what[160] = "";
	size_t n = 0;

	if (p->failed)
		snprintf(what, sizeof(what), "no answer");
	else {
		if (p->loss_valid)
			n += (size_t)snprintf(what + n, sizeof(what) - n, "%.0f%% loss",
			                      p->loss_pct);
		if (p->latency_valid && n < sizeof(what))
			n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%.1f ms",
			                      n ? ", " : "", p->latency_ms);
		if (p->jitter_valid && n < sizeof(what))
			snprintf(what + n, sizeof(what) - n, "%sjitter %.1f ms", n ? ", " : "",
			         p->jitter_ms);
	}
	reason(b, "%s (%s, hop %s): %s", p->name ? p->name : "?", p->target ? p->target : "?",
	       hop_word(p->hop), what[0] ? what : "no figures");
}

static bool
near_hop(enum lw_hop h)
{
	return h == LW_HOP_GATEWAY || h == LW_HOP_ISP;
}

static bool
saturated(const struct blame_input *in)
{
	return in->util_valid && in->util_threshold_pct > 0 &&
	       in->util_pct >= in->util_threshold_pct;
}

static bool
dirty(const struct blame_input *in)
{
	return in->errors_valid && in->errors_per_min > in->errors_threshold;
}

static const char *
ifname(const struct blame_input *in)
{
	return in->interface ? in->interface : "the interface";
}

static const char *
devname(const struct blame_input *in)
{
	return in->device ? in->device : "the router";
}

static bool
rule_cpe(const struct blame_input *in, struct blame *b)
{
	if (in->device && in->device_known && !in->device_reachable) {
		reason(b, "edge router %s does not answer SNMP", devname(in));
		return true;
	}
	if (in->reboot_age_s >= 0 && in->reboot_age_s <= BLAME_REBOOT_RECENT_S) {
		reason(b, "%s rebooted %lld min ago (sysUpTime restarted)", devname(in),
		       (long long)(in->reboot_age_s / 60));
		return true;
	}
	if (in->iface_known && in->admin_down) {
		reason(b, "%s on %s is shut down (ifAdminStatus down)", ifname(in), devname(in));
		return true;
	}
	if (dirty(in)) {
		reason(b,
		       "%s counts %.0f input errors and discards per minute (threshold %.0f): "
		       "faulty port or cable, or a dirty line",
		       ifname(in), in->errors_per_min, in->errors_threshold);
		return true;
	}
	return false;
}

static bool
rule_lan(const struct blame_input *in, struct blame *b)
{
	char rate[32];

	if (!saturated(in))
		return false;
	if (in->bandwidth_bps > 0)
		reason(b, "%s %s at %.0f%% of %s (threshold %.0f%%): the line is full", ifname(in),
		       in->util_outbound ? "outbound" : "inbound", in->util_pct,
		       units_fmt_rate(in->bandwidth_bps, rate, sizeof(rate)),
		       in->util_threshold_pct);
	else
		reason(b, "%s %s at %.0f%% of its speed (threshold %.0f%%): the line is full",
		       ifname(in), in->util_outbound ? "outbound" : "inbound", in->util_pct,
		       in->util_threshold_pct);
	if (in->top_talkers && in->top_talkers[0])
		reason(b, "top talkers: %s", in->top_talkers);
	return true;
}

static void
local_clean_reasons(const struct blame_input *in, struct blame *b)
{
	if (in->device && in->device_known && in->device_reachable)
		reason(b, "router %s answers SNMP", devname(in));
	if (in->errors_valid || in->util_valid) {
		char u[48] = "";

		if (in->util_valid)
			snprintf(u, sizeof(u), ", %.0f%% utilization", in->util_pct);
		reason(b, "%s is clean: %.0f errors/min%s", ifname(in),
		       in->errors_valid ? in->errors_per_min : 0.0, u);
	}
}

static bool
rule_carrier(const struct blame_input *in, struct blame *b)
{
	if (!in->iface_known || !in->oper_down || in->admin_down)
		return false;
	if (in->device_known && !in->device_reachable)
		return false;
	reason(b,
	       "%s has no carrier (ifOperStatus down, ifAdminStatus up) while %s answers "
	       "SNMP: the line or the provider's equipment",
	       ifname(in), devname(in));
	return true;
}

static enum blame_verdict
rule_hops(const struct blame_input *in, struct blame *b)
{
	bool near_bad = false, near_clean = false, far_bad = false, unplaced_bad = false;

	for (size_t i = 0; i < in->nprobes; i++) {
		const struct blame_probe *p = &in->probes[i];

		if (!p->fresh)
			continue;
		if (near_hop(p->hop)) {
			if (p->bad)
				near_bad = true;
			else
				near_clean = true;
		} else if (p->hop == LW_HOP_INTERNET && p->bad)
			far_bad = true;
		else if (p->hop == LW_HOP_NONE && p->bad)
			unplaced_bad = true;
	}
	if (near_bad) {
		for (size_t i = 0; i < in->nprobes; i++)
			if (in->probes[i].fresh && near_hop(in->probes[i].hop) && in->probes[i].bad)
				probe_reason(b, &in->probes[i]);
		local_clean_reasons(in, b);
		return BLAME_ISP;
	}
	if (far_bad && near_clean) {
		for (size_t i = 0; i < in->nprobes; i++)
			if (in->probes[i].fresh && near_hop(in->probes[i].hop))
				probe_reason(b, &in->probes[i]);
		for (size_t i = 0; i < in->nprobes; i++)
			if (in->probes[i].fresh && in->probes[i].hop == LW_HOP_INTERNET &&
			    in->probes[i].bad)
				probe_reason(b, &in->probes[i]);
		return BLAME_BEYOND;
	}
	if (far_bad)
		reason(b, "only far targets are probed: add a probe with hop = \"gateway\" to tell "
		          "the provider's side from beyond it");
	else if (unplaced_bad)
		reason(b, "the failing probes have no hop: set hop = \"gateway\", \"isp\" or "
		          "\"internet\" to locate the fault");
	return BLAME_UNKNOWN;
}

void
blame_evaluate(const struct blame_input *in, struct blame *out)
{
	memset(out, 0, sizeof(*out));
	if (rule_cpe(in, out)) {
		out->verdict = BLAME_CPE;
		return;
	}
	if (rule_lan(in, out)) {
		out->verdict = BLAME_LAN;
		return;
	}
	if (rule_carrier(in, out)) {
		out->verdict = BLAME_ISP;
		return;
	}
	out->verdict = rule_hops(in, out);
	if (out->verdict == BLAME_UNKNOWN && out->nreasons == 0)
		reason(out, "no evidence points to a side yet");
}
