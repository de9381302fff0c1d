/* replay.c - offline analysis of a capture file */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "appclass_load.h"
#include "config.h"
#include "decode.h"
#include "pcap_lib.h"
#include "replay.h"
#include "traffic.h"

#define REPLAY_MEMORY_DEFAULT (16ULL << 20)

struct replay {
	pcap_t *pcap;
	int linktype;
	struct traffic_agg *agg;
	struct appclass *apps; /* NULL: not classifying */
	const struct lw_appclass *ac;
	appclass_add_fn *classify; /* ac->add, taken once */
	struct traffic_report *rep;
	uint32_t sample_n;
	uint32_t skip;
	int64_t interval_us; /* 0 = one report for the whole file */
	int64_t next_us;
	int intervals;
	int table;
	uint64_t total_pkts;
	struct timeval first, last;
};

static void
replay_usage(void)
{
	fprintf(stderr,
	        "usage: linewatchd --replay FILE [-c CONFIG] [--capture NAME] [--top N]\n"
	        "                  [--local CIDR]... [--intervals] [--table | --json]\n"
	        "                  [--applications [--plugin-dir DIR]]\n"
	        "  --replay FILE    pcap or pcapng file to analyse\n"
	        "  -c CONFIG        take memory, sample, interval and applications from a\n"
	        "                   capture section\n"
	        "  --capture NAME   which capture section (default: the first)\n"
	        "  --top N          entries per table (default 20, 0 = all kept)\n"
	        "  --local CIDR     local network (repeatable; default private ranges)\n"
	        "  --intervals      one JSON line per capture interval instead of one report\n"
	        "  --table          readable tables instead of JSON\n"
	        "  --applications   name applications with nDPI (if built with it)\n"
	        "  --plugin-dir DIR where " LW_APPCLASS_FILE " is (default: the config's\n"
	        "                   plugin-dir; without -c, plugins/ beside this linewatchd\n"
	        "                   if it is there, else " LW_PLUGINDIR ")\n");
}

static void
cfg_error(const char *msg, void *arg)
{
	fprintf(stderr, "%s\n", msg);
}

static int64_t
tv_us(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

static void
print_table(const struct traffic_report *r, FILE *f)
{
	char a[64], b[64], pb[16];
	double secs = traffic_report_seconds(r);

	fprintf(f, "packets %" PRIu64 ", bytes %" PRIu64 ", %.3f s", r->pkts, r->bytes, secs);
	if (secs > 0)
		fprintf(f, ", %.0f bit/s, %.0f packets/s", (double)r->bytes * 8 / secs,
		        (double)r->pkts / secs);
	fprintf(f, "%s\n", r->evictions ? " (tops estimated: tables full)" : "");
	for (int c = 0; c < TC_N; c++)
		fprintf(f, "  %-6s %12" PRIu64 " bytes %10" PRIu64 " packets\n",
		        traffic_class_name(c), r->class_bytes[c], r->class_pkts[c]);
	fprintf(f, "  fragments %" PRIu64 ", tunnels %" PRIu64, r->fragments, r->tunnels);
	for (int i = DECODE_OK + 1; i < DECODE_NRESULTS; i++)
		if (r->malformed[i])
			fprintf(f, ", %s %" PRIu64, decode_result_name(i), r->malformed[i]);
	fprintf(f, "\n\nhosts%37s %14s %14s %10s %10s\n", "local", "tx bytes", "rx bytes",
	        "tx pkts", "rx pkts");
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct traffic_host *h = &r->hosts[i];

		fprintf(f, "  %-38s %-3s %14" PRIu64 " %14" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
		        traffic_addr_str(h->family, h->addr, a, sizeof(a)), h->local ? "yes" : "no",
		        h->tx_bytes, h->rx_bytes, h->tx_pkts, h->rx_pkts);
	}
	fprintf(f, "\nconversations%67s %14s %10s\n", "a->b bytes", "b->a bytes", "packets");
	for (size_t i = 0; i < r->nconvs; i++) {
		const struct traffic_conv *c = &r->convs[i];

		fprintf(f, "  %-38s %-38s %14" PRIu64 " %14" PRIu64 " %10" PRIu64 "\n",
		        traffic_addr_str(c->family, c->a, a, sizeof(a)),
		        traffic_addr_str(c->family, c->b, b, sizeof(b)), c->ab_bytes, c->ba_bytes,
		        c->ab_pkts + c->ba_pkts);
	}
	fprintf(f, "\nservices%20s %14s %10s\n", "service", "bytes", "packets");
	for (size_t i = 0; i < r->nservices; i++) {
		const struct traffic_service *s = &r->services[i];
		const char *name = s->port ? traffic_service_name(s->proto, s->port) : NULL;
		char what[48];

		snprintf(what, sizeof(what), "%s/%u", traffic_proto_name(s->proto, pb, sizeof(pb)),
		         s->port);
		fprintf(f, "  %-14s %-12s %14" PRIu64 " %10" PRIu64 "\n", what, name ? name : "-",
		        s->bytes, s->pkts);
	}
	if (!r->apps_valid)
		return;
	fprintf(f, "\napplications%33s %14s %10s %8s\n", "category", "bytes", "packets", "flows");
	for (size_t i = 0; i < r->napps; i++) {
		const struct traffic_app *p = &r->apps[i];

		fprintf(f, "  %-28s %-16s %14" PRIu64 " %10" PRIu64 " %8" PRIu64 "\n", p->name,
		        p->category, p->bytes, p->pkts, p->flows);
	}
	if (r->app_evictions)
		fprintf(f, "  (%" PRIu64 " flows pushed out of the flow table)\n",
		        r->app_evictions);
}

static void
emit(struct replay *rp, const struct timeval *start, const struct timeval *end, bool last)
{
	json_t *j;

	traffic_agg_flush(rp->agg, rp->rep);
	if (rp->apps)
		rp->ac->flush(rp->apps, rp->rep, last);
	rp->rep->start = *start;
	rp->rep->end = *end;
	rp->rep->sample_n = rp->sample_n;
	if (rp->table) {
		print_table(rp->rep, stdout);
		return;
	}
	j = traffic_report_json(rp->rep);
	if (j == NULL)
		return;
	json_dumpf(j, stdout, rp->intervals ? JSON_COMPACT : JSON_INDENT(1));
	fputc('\n', stdout);
	json_decref(j);
}

static void
on_packet(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct replay *rp = (struct replay *)arg;
	struct decode_pkt pkt;
	enum decode_result r;

	if (rp->total_pkts == 0)
		rp->first = h->ts;
	if (rp->interval_us > 0) {
		int64_t t = tv_us(&h->ts);

		if (rp->total_pkts == 0)
			rp->next_us = t - t % rp->interval_us + rp->interval_us;
		if (t >= rp->next_us) {
			struct timeval s = rp->first, e = {.tv_sec = rp->next_us / 1000000,
			                                   .tv_usec = rp->next_us % 1000000};

			emit(rp, &s, &e, false);
			rp->first = e;
			while (rp->next_us <= t)
				rp->next_us += rp->interval_us;
		}
	}
	rp->last = h->ts;
	rp->total_pkts++;
	traffic_agg_frame(rp->agg, h->len);
	if (rp->sample_n > 1 && ++rp->skip < rp->sample_n)
		return;
	rp->skip = 0;
	r = decode_packet(rp->linktype, bytes, h->caplen, &pkt);
	traffic_agg_add(rp->agg, r, &pkt, h->len, rp->sample_n);
	if (rp->apps)
		rp->classify(rp->apps, r, &pkt, bytes, h->caplen, h->len, rp->sample_n, &h->ts);
}

static const struct lw_capture *
pick_capture(const struct lw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ncaptures; i++)
		if (name == NULL || strcmp(cfg->captures[i].name, name) == 0)
			return &cfg->captures[i];
	return NULL;
}

/* Without a configuration: the build tree's plugins (BUILD/plugins beside
 * BUILD/linewatchd) when there, else where make install puts them. */
static void
default_plugin_dir(char *dir, size_t len)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	snprintf(dir, len, "%s", LW_PLUGINDIR);
	if (n <= 0)
		return;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/plugins/%s", exe, LW_APPCLASS_FILE);
	if (access(path, F_OK) == 0 && snprintf(dir, len, "%s/plugins", exe) >= (int)len)
		snprintf(dir, len, "%s", LW_PLUGINDIR);
}

static int
replay_run(struct replay *rp, const char *file)
{
	char err[PCAP_ERRBUF_SIZE];
	const struct pcap_lib *pl;
	struct timespec c0, c1;
	double cpu;
	int rc;

	if ((pl = pcap_lib(err)) == NULL || (rp->pcap = pl->open_offline(file, err)) == NULL) {
		fprintf(stderr, "linewatchd: %s\n", err);
		return 1;
	}
	rp->linktype = pl->datalink(rp->pcap);
	if (!decode_link_supported(rp->linktype))
		fprintf(stderr,
		        "linewatchd: %s: link type %s is not decoded: frames are counted "
		        "only\n",
		        file,
		        pl->datalink_val_to_name(rp->linktype)
		            ? pl->datalink_val_to_name(rp->linktype)
		            : "?");
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	rc = pl->loop(rp->pcap, -1, on_packet, (u_char *)rp);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	if (rc == PCAP_ERROR)
		/* a file cut in the middle of a record: report what was read */
		fprintf(stderr, "linewatchd: %s: %s (after %" PRIu64 " packets)\n", file,
		        pl->geterr(rp->pcap), rp->total_pkts);
	emit(rp, &rp->first, &rp->last, true);
	cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	fprintf(stderr,
	        "linewatchd: replayed %" PRIu64 " packets in %.3f s of CPU (%.0f packets/s)\n",
	        rp->total_pkts, cpu, cpu > 0 ? (double)rp->total_pkts / cpu : 0.0);
	pl->close(rp->pcap);
	return rc == PCAP_ERROR ? 3 : 0;
}

int
replay_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"replay", required_argument, NULL, 'r'},
	    {"capture", required_argument, NULL, 'n'},
	    {"top", required_argument, NULL, 'T'},
	    {"local", required_argument, NULL, 'L'},
	    {"intervals", no_argument, NULL, 'i'},
	    {"table", no_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"applications", no_argument, NULL, 'a'},
	    {"plugin-dir", required_argument, NULL, 'P'},
	    {NULL, 0, NULL, 0},
	};
	struct replay rp = {.sample_n = 1};
	const char *file = NULL, *cfgpath = NULL, *capname = NULL, *pdir = NULL;
	char plugin_dir[PATH_MAX], err[PATH_MAX + 256];
	void *appdl = NULL;
	const char *locals[TRAFFIC_MAX_LOCAL];
	size_t nlocal = 0, top = TRAFFIC_TOP_DEFAULT;
	uint64_t memory = REPLAY_MEMORY_DEFAULT, buffer = 0;
	struct traffic_budget budget;
	int64_t interval_ms = 60000;
	struct lw_config *cfg = NULL;
	char *end;
	int ch, rc, apps = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:fd", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			file = optarg;
			break;
		case 'c':
			cfgpath = optarg;
			break;
		case 'n':
			capname = optarg;
			break;
		case 'T':
			top = strtoul(optarg, &end, 10);
			if (*end != '\0' || top > 1000000) {
				fprintf(stderr, "linewatchd: --top takes a number up to 1000000\n");
				return 2;
			}
			break;
		case 'L':
			if (nlocal >= TRAFFIC_MAX_LOCAL) {
				fprintf(stderr, "linewatchd: at most %d --local networks\n",
				        TRAFFIC_MAX_LOCAL);
				return 2;
			}
			locals[nlocal++] = optarg;
			break;
		case 'i':
			rp.intervals = 1;
			break;
		case 't':
			rp.table = 1;
			break;
		case 'j':
			rp.table = 0;
			break;
		case 'a':
			apps = 1;
			break;
		case 'P':
			pdir = optarg;
			break;
		case 'f':
		case 'd':
			break;
		default:
			replay_usage();
			return 2;
		}
	}
	if (file == NULL || optind != argc) {
		replay_usage();
		return 2;
	}
	if (pdir != NULL)
		snprintf(plugin_dir, sizeof(plugin_dir), "%s", pdir);
	else
		default_plugin_dir(plugin_dir, sizeof(plugin_dir));
	if (cfgpath != NULL) {
		const struct lw_capture *c;

		if ((cfg = config_load(cfgpath, cfg_error, NULL)) == NULL)
			return 1;
		c = pick_capture(cfg, capname);
		if (c == NULL && capname != NULL) {
			fprintf(stderr, "linewatchd: %s has no capture \"%s\"\n", cfgpath, capname);
			config_free(cfg);
			return 1;
		}
		if (c != NULL) {
			memory = c->memory_bytes;
			buffer = c->buffer_bytes;
			apps |= c->applications;
			rp.sample_n = c->sample_n > 1 ? (uint32_t)c->sample_n : 1;
			interval_ms = c->interval_ms;
		}
		if (pdir == NULL && cfg->plugin_dir != NULL)
			snprintf(plugin_dir, sizeof(plugin_dir), "%s", cfg->plugin_dir);
		config_free(cfg);
	}
	if (rp.intervals)
		rp.interval_us = interval_ms * 1000;
	/* offline there is neither a kernel buffer nor an evidence ring, but
	 * the tables get what they get live: same sizes, same estimates */
	if (apps && !appclass_built()) {
		fprintf(stderr, "linewatchd: built without nDPI: no applications, services are "
		                "named by their well-known ports\n");
		apps = 0;
	}
	/* nDPI is mapped only when classifying */
	if (apps) {
		if ((appdl = appclass_open(plugin_dir, &rp.ac, err, sizeof(err))) == NULL) {
			fprintf(stderr, "linewatchd: applications: %s\n", err);
			return 1;
		}
		rp.classify = rp.ac->add;
	}
	traffic_budget_split(memory, buffer, apps, &budget);
	rp.agg = traffic_agg_new(budget.tables, top, 0x6c696e6577617463ULL);
	if (rp.agg == NULL || (apps && (rp.apps = rp.ac->create(budget.apps)) == NULL)) {
		fprintf(stderr, "linewatchd: out of memory\n");
		rc = 1;
		goto done;
	}
	for (size_t i = 0; i < nlocal; i++)
		if (traffic_agg_parse_local(rp.agg, locals[i]) != 0) {
			fprintf(stderr, "linewatchd: --local %s: not an address or CIDR prefix\n",
			        locals[i]);
			rc = 2;
			goto done;
		}
	rp.rep = traffic_report_new(traffic_agg_top(rp.agg));
	if (rp.rep == NULL) {
		fprintf(stderr, "linewatchd: out of memory\n");
		rc = 1;
		goto done;
	}
	rc = replay_run(&rp, file);
done:
	traffic_report_free(rp.rep);
	traffic_agg_free(rp.agg);
	if (rp.apps)
		rp.ac->destroy(rp.apps);
	appclass_close(appdl);
	return rc;
}
