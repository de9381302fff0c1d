/* traffic.c - interval aggregation: exact totals, Space-Saving tops */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topn.h"
#include "traffic.h"

#define HOST_KEYLEN 24             /* family + address, zero padded to 8-byte words */
#define CONV_KEYLEN 40             /* family + low address + high address, padded */
#define SERVICE_KEYLEN 8           /* protocol + port, padded */
#define SERVICE_MAXCAP (3 * 65536) /* every TCP, UDP and other key fits */

struct prefix {
	uint8_t family;
	uint8_t len;
	uint8_t addr[16];
};

struct traffic_agg {
	struct topn *hosts, *convs, *services;
	const struct topn_entry **sorted; /* flush scratch, `top` entries */
	size_t top;
	uint64_t pkts, bytes;
	uint64_t class_bytes[TC_N], class_pkts[TC_N];
	uint64_t ip_pkts, fragments, tunnels, l4_cut;
	uint64_t malformed[DECODE_NRESULTS];
	struct prefix local[TRAFFIC_MAX_LOCAL];
	size_t nlocal;
};

/* Well-known ports name the service when nDPI is not used. */
static const struct service_name {
	uint16_t port;
	uint8_t proto; /* 0 = TCP and UDP */
	const char *name;
} services[] = {
    {20, 6, "ftp-data"},       {21, 6, "ftp"},          {22, 6, "ssh"},
    {23, 6, "telnet"},         {25, 6, "smtp"},         {53, 0, "dns"},
    {67, 17, "dhcp"},          {68, 17, "dhcp"},        {69, 17, "tftp"},
    {80, 6, "http"},           {88, 0, "kerberos"},     {110, 6, "pop3"},
    {111, 0, "rpcbind"},       {119, 6, "nntp"},        {123, 17, "ntp"},
    {135, 6, "msrpc"},         {137, 17, "netbios-ns"}, {138, 17, "netbios-dgm"},
    {139, 6, "netbios-ssn"},   {143, 6, "imap"},        {161, 17, "snmp"},
    {162, 17, "snmptrap"},     {179, 6, "bgp"},         {389, 0, "ldap"},
    {443, 6, "https"},         {443, 17, "quic"},       {445, 6, "smb"},
    {465, 6, "smtps"},         {500, 17, "isakmp"},     {514, 17, "syslog"},
    {515, 6, "printer"},       {520, 17, "rip"},        {546, 17, "dhcpv6"},
    {547, 17, "dhcpv6"},       {554, 0, "rtsp"},        {587, 6, "submission"},
    {631, 6, "ipp"},           {636, 6, "ldaps"},       {853, 0, "dns-tls"},
    {873, 6, "rsync"},         {989, 6, "ftps-data"},   {990, 6, "ftps"},
    {993, 6, "imaps"},         {995, 6, "pop3s"},       {1194, 0, "openvpn"},
    {1433, 6, "mssql"},        {1521, 6, "oracle"},     {1701, 17, "l2tp"},
    {1723, 6, "pptp"},         {1812, 17, "radius"},    {1813, 17, "radius-acct"},
    {1883, 6, "mqtt"},         {1900, 17, "ssdp"},      {2049, 0, "nfs"},
    {3306, 6, "mysql"},        {3389, 0, "rdp"},        {3478, 0, "stun"},
    {4500, 17, "ipsec-nat-t"}, {4789, 17, "vxlan"},     {5060, 0, "sip"},
    {5061, 6, "sips"},         {5201, 0, "iperf3"},     {5222, 6, "xmpp"},
    {5353, 17, "mdns"},        {5432, 6, "postgresql"}, {5900, 6, "vnc"},
    {6379, 6, "redis"},        {6443, 6, "kubernetes"}, {6881, 0, "bittorrent"},
    {8080, 6, "http-alt"},     {8443, 6, "https-alt"},  {9100, 6, "jetdirect"},
    {51820, 17, "wireguard"},
};

const char *
traffic_service_name(uint8_t proto, uint16_t port)
{
	size_t lo = 0, hi = sizeof(services) / sizeof(services[0]);

	/* the table is sorted by port; a port may appear for TCP and UDP */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (services[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < sizeof(services) / sizeof(services[0]) && services[lo].port == port; lo++)
		if (services[lo].proto == 0 || services[lo].proto == proto)
			return services[lo].name;
	return NULL;
}

const char *
traffic_proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 2:
		return "igmp";
	case 4:
		return "ipip";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 33:
		return "dccp";
	case 41:
		return "ipv6-in-ip";
	case 47:
		return "gre";
	case 50:
		return "esp";
	case 51:
		return "ah";
	case 58:
		return "icmpv6";
	case 89:
		return "ospf";
	case 103:
		return "pim";
	case 112:
		return "vrrp";
	case 132:
		return "sctp";
	case 136:
		return "udplite";
	default:
		snprintf(buf, len, "ip-%u", proto);
		return buf;
	}
}

const char *
traffic_class_name(enum traffic_class c)
{
	static const char *const names[TC_N] = {"tcp", "udp", "icmp", "other"};

	return (unsigned)c < TC_N ? names[c] : "other";
}

const char *
traffic_addr_str(int family, const uint8_t *addr, char *buf, size_t len)
{
	if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

void
traffic_budget_split(uint64_t memory, uint64_t buffer, bool apps, struct traffic_budget *b)
{
	uint64_t rest;

	if (buffer == 0)
		buffer = memory / 4 > TRAFFIC_BUFFER_MIN ? memory / 4 : TRAFFIC_BUFFER_MIN;
	/* never more than leaves a minimum for the tables, whatever was asked */
	if (memory < buffer + TRAFFIC_BUFFER_MIN)
		buffer = memory > 2 * TRAFFIC_BUFFER_MIN ? memory - TRAFFIC_BUFFER_MIN
		                                         : TRAFFIC_BUFFER_MIN;
	b->kernel = buffer;
	rest = memory > buffer ? memory - buffer : TRAFFIC_BUFFER_MIN;
	/* what the capture holds besides: its thread's stack and malloc arena,
	 * the reports handed to the loop (measured: 0.7 MB at 16M) */
	b->overhead = rest >= 4 * TRAFFIC_BUFFER_MIN ? TRAFFIC_BUFFER_MIN : 0;
	rest -= b->overhead;
	b->apps_fixed = apps ? TRAFFIC_APPS_FIXED : 0;
	rest =
	    rest > b->apps_fixed + TRAFFIC_BUFFER_MIN ? rest - b->apps_fixed : TRAFFIC_BUFFER_MIN;
	b->apps = apps ? rest / 4 : 0;
	b->evidence = (rest - b->apps) / 4;
	b->tables = rest - b->apps - b->evidence;
}

struct traffic_agg *
traffic_agg_new(uint64_t budget, size_t top, uint64_t seed)
{
	struct traffic_agg *a;
	size_t hcap, ccap, scap;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	scap = topn_capacity_for(budget * 15 / 100);
	if (scap > SERVICE_MAXCAP)
		scap = SERVICE_MAXCAP;
	budget -= topn_footprint(scap);
	hcap = topn_capacity_for(budget * 45 / 100);
	ccap = topn_capacity_for(budget - topn_footprint(hcap));
	if (top == 0)
		top = hcap > ccap ? hcap : ccap;
	a->top = top;
	a->hosts = topn_new(hcap, HOST_KEYLEN, seed);
	a->convs = topn_new(ccap, CONV_KEYLEN, seed * 31 + 1);
	a->services = topn_new(scap, SERVICE_KEYLEN, seed * 17 + 2);
	a->sorted = calloc(top, sizeof(*a->sorted));
	if (!a->hosts || !a->convs || !a->services || !a->sorted) {
		traffic_agg_free(a);
		return NULL;
	}
	return a;
}

size_t
traffic_agg_top(const struct traffic_agg *a)
{
	return a->top;
}

void
traffic_agg_free(struct traffic_agg *a)
{
	if (a == NULL)
		return;
	topn_free(a->hosts);
	topn_free(a->convs);
	topn_free(a->services);
	free(a->sorted);
	free(a);
}

int
traffic_agg_add_local(struct traffic_agg *a, int family, const void *addr, int prefixlen)
{
	struct prefix *p;

	if (a->nlocal >= TRAFFIC_MAX_LOCAL)
		return -1;
	if ((family != 4 && family != 6) || prefixlen < 0 || prefixlen > (family == 4 ? 32 : 128))
		return -1;
	p = &a->local[a->nlocal++];
	memset(p, 0, sizeof(*p));
	p->family = (uint8_t)family;
	p->len = (uint8_t)prefixlen;
	memcpy(p->addr, addr, family == 4 ? 4 : 16);
	return 0;
}

int
traffic_agg_parse_local(struct traffic_agg *a, const char *cidr)
{
	char buf[64], *slash, *end;
	uint8_t addr[16];
	long len;
	int family;

	if (strlen(cidr) >= sizeof(buf))
		return -1;
	strcpy(buf, cidr);
	family = strchr(buf, ':') ? 6 : 4;
	len = family == 4 ? 32 : 128;
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash = '\0';
		len = strtol(slash + 1, &end, 10);
		if (*end != '\0' || end == slash + 1)
			return -1;
	}
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, buf, addr) != 1)
		return -1;
	return traffic_agg_add_local(a, family, addr, (int)len);
}

static bool
prefix_match(const struct prefix *p, int family, const uint8_t *addr)
{
	int full = p->len / 8, rest = p->len % 8;

	if (p->family != family)
		return false;
	if (memcmp(p->addr, addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((p->addr[full] ^ addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static bool
default_local(int family, const uint8_t *a)
{
	if (family == 4)
		return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		       (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
		       (a[0] == 169 && a[1] == 254);
	return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

static bool
is_local(const struct traffic_agg *a, int family, const uint8_t *addr)
{
	if (a->nlocal == 0)
		return default_local(family, addr);
	for (size_t i = 0; i < a->nlocal; i++)
		if (prefix_match(&a->local[i], family, addr))
			return true;
	return false;
}

static int
well_known(uint8_t proto, uint16_t port)
{
	return port < 1024 || traffic_service_name(proto, port) != NULL;
}

/* The server side of a flow: the well-known port, else the lower one
 * (clients mostly use high ephemeral ports). */
static uint16_t
service_port(uint8_t proto, uint16_t sport, uint16_t dport)
{
	int ws = well_known(proto, sport), wd = well_known(proto, dport);

	if (wd && !ws)
		return dport;
	if (ws && !wd)
		return sport;
	return sport < dport ? sport : dport;
}

void
traffic_agg_frame(struct traffic_agg *a, uint32_t wirelen)
{
	a->pkts++;
	a->bytes += wirelen;
}

static enum traffic_class
class_of(uint8_t proto)
{
	switch (proto) {
	case 6:
		return TC_TCP;
	case 17:
		return TC_UDP;
	case 1:
	case 58:
		return TC_ICMP;
	default:
		return TC_OTHER;
	}
}

/* The addresses inside a tunnel tshark looks into (MPLS over UDP): the
 * frame counts for them too, as for its outer addresses. */
static void
add_inner(struct traffic_agg *a, const struct decode_pkt *p, uint64_t b, uint32_t scale)
{
	uint8_t src[HOST_KEYLEN], dst[HOST_KEYLEN], conv[CONV_KEYLEN];
	size_t alen = p->inner_family == 4 ? 4 : 16;
	struct topn_entry *e;
	int fwd;

	memset(src, 0, sizeof(src));
	memset(dst, 0, sizeof(dst));
	memset(conv, 0, sizeof(conv));
	src[0] = dst[0] = conv[0] = p->inner_family;
	memcpy(src + 1, p->inner_src, alen);
	memcpy(dst + 1, p->inner_dst, alen);
	fwd = memcmp(p->inner_src, p->inner_dst, alen) <= 0;
	memcpy(conv + 1, fwd ? p->inner_src : p->inner_dst, alen);
	memcpy(conv + 17, fwd ? p->inner_dst : p->inner_src, alen);
	e = topn_add(a->hosts, src, b);
	e->val[0] += b;
	e->val[2] += scale;
	e = topn_add(a->hosts, dst, b);
	e->val[1] += b;
	e->val[3] += scale;
	e = topn_add(a->convs, conv, b);
	e->val[fwd ? 0 : 1] += b;
	e->val[fwd ? 2 : 3] += scale;
}

void
traffic_agg_add(struct traffic_agg *a, enum decode_result r, const struct decode_pkt *p,
                uint32_t wirelen, uint32_t scale)
{
	uint64_t b = (uint64_t)wirelen * scale;
	uint8_t src[HOST_KEYLEN], dst[HOST_KEYLEN], conv[CONV_KEYLEN], svc[SERVICE_KEYLEN];
	uint32_t hs, hd, hc, hv;
	struct topn_entry *e;
	uint16_t port = 0;
	int fwd, to_server = 1;
	size_t alen;

	if (r != DECODE_OK) {
		a->malformed[r < DECODE_NRESULTS ? r : DECODE_BAD_LINK] += scale;
		a->class_bytes[TC_OTHER] += b;
		a->class_pkts[TC_OTHER] += scale;
		return;
	}
	enum traffic_class c = class_of(p->proto);

	a->class_bytes[c] += b;
	a->class_pkts[c] += scale;
	a->ip_pkts += scale;
	if (p->flags & DECODE_F_FRAGMENT)
		a->fragments += scale;
	if (p->flags & (DECODE_F_TUNNEL | DECODE_F_INNER))
		a->tunnels += scale;
	if (p->flags & DECODE_F_L4_CUT)
		a->l4_cut += scale;
	alen = p->family == 4 ? 4 : 16;

	/* hosts (the source sends, the destination receives), the address pair
	 * either way, and the protocol with the server port */
	memset(src, 0, sizeof(src));
	memset(dst, 0, sizeof(dst));
	memset(conv, 0, sizeof(conv));
	memset(svc, 0, sizeof(svc));
	src[0] = dst[0] = conv[0] = p->family;
	memcpy(src + 1, p->src, alen);
	memcpy(dst + 1, p->dst, alen);
	fwd = memcmp(p->src, p->dst, alen) <= 0;
	memcpy(conv + 1, fwd ? p->src : p->dst, alen);
	memcpy(conv + 17, fwd ? p->dst : p->src, alen);
	if (p->l4_off != 0 && (p->sport | p->dport) != 0) {
		port = service_port(p->proto, p->sport, p->dport);
		to_server = port == p->dport;
	}
	svc[0] = p->proto;
	svc[1] = (uint8_t)(port >> 8);
	svc[2] = (uint8_t)port;

	/* the four lookups miss the cache independently: overlap the misses */
	hs = topn_hash(a->hosts, src);
	hd = topn_hash(a->hosts, dst);
	hc = topn_hash(a->convs, conv);
	hv = topn_hash(a->services, svc);
	topn_prefetch_slot(a->hosts, hs);
	topn_prefetch_slot(a->hosts, hd);
	topn_prefetch_slot(a->convs, hc);
	topn_prefetch_slot(a->services, hv);
	topn_prefetch_entry(a->hosts, hs);
	topn_prefetch_entry(a->hosts, hd);
	topn_prefetch_entry(a->convs, hc);
	topn_prefetch_entry(a->services, hv);

	e = topn_add_hashed(a->hosts, src, hs, b);
	e->val[0] += b;
	e->val[2] += scale;
	e = topn_add_hashed(a->hosts, dst, hd, b);
	e->val[1] += b;
	e->val[3] += scale;
	e = topn_add_hashed(a->convs, conv, hc, b);
	e->val[fwd ? 0 : 1] += b;
	e->val[fwd ? 2 : 3] += scale;
	e = topn_add_hashed(a->services, svc, hv, b);
	e->val[0] += b;
	e->val[1] += scale;
	if (to_server)
		e->val[2] += b;
	if (p->flags & DECODE_F_INNER)
		add_inner(a, p, b, scale);
}

static void
fill_hosts(struct traffic_agg *a, struct traffic_report *r)
{
	size_t n = topn_sorted(a->hosts, a->sorted, a->top < r->max ? a->top : r->max);

	for (size_t i = 0; i < n; i++) {
		const struct topn_entry *e = a->sorted[i];
		struct traffic_host *h = &r->hosts[i];

		h->family = e->key[0];
		memcpy(h->addr, e->key + 1, 16);
		h->local = is_local(a, h->family, h->addr);
		h->tx_bytes = e->val[0];
		h->rx_bytes = e->val[1];
		h->tx_pkts = e->val[2];
		h->rx_pkts = e->val[3];
		h->error = e->error;
	}
	r->nhosts = n;
}

static void
fill_convs(struct traffic_agg *a, struct traffic_report *r)
{
	size_t n = topn_sorted(a->convs, a->sorted, a->top < r->max ? a->top : r->max);

	for (size_t i = 0; i < n; i++) {
		const struct topn_entry *e = a->sorted[i];
		struct traffic_conv *c = &r->convs[i];

		c->family = e->key[0];
		memcpy(c->a, e->key + 1, 16);
		memcpy(c->b, e->key + 17, 16);
		c->ab_bytes = e->val[0];
		c->ba_bytes = e->val[1];
		c->ab_pkts = e->val[2];
		c->ba_pkts = e->val[3];
		c->error = e->error;
	}
	r->nconvs = n;
}

static void
fill_services(struct traffic_agg *a, struct traffic_report *r)
{
	size_t n = topn_sorted(a->services, a->sorted, a->top < r->max ? a->top : r->max);

	for (size_t i = 0; i < n; i++) {
		const struct topn_entry *e = a->sorted[i];
		struct traffic_service *s = &r->services[i];

		s->proto = e->key[0];
		s->port = (uint16_t)((e->key[1] << 8) | e->key[2]);
		s->bytes = e->val[0];
		s->pkts = e->val[1];
		s->to_server_bytes = e->val[2];
		s->error = e->error;
	}
	r->nservices = n;
}

void
traffic_agg_flush(struct traffic_agg *a, struct traffic_report *r)
{
	r->pkts = a->pkts;
	r->bytes = a->bytes;
	memcpy(r->class_bytes, a->class_bytes, sizeof(r->class_bytes));
	memcpy(r->class_pkts, a->class_pkts, sizeof(r->class_pkts));
	r->ip_pkts = a->ip_pkts;
	r->fragments = a->fragments;
	r->tunnels = a->tunnels;
	r->l4_cut = a->l4_cut;
	memcpy(r->malformed, a->malformed, sizeof(r->malformed));
	r->evictions =
	    topn_evictions(a->hosts) + topn_evictions(a->convs) + topn_evictions(a->services);
	fill_hosts(a, r);
	fill_convs(a, r);
	fill_services(a, r);

	a->pkts = a->bytes = 0;
	memset(a->class_bytes, 0, sizeof(a->class_bytes));
	memset(a->class_pkts, 0, sizeof(a->class_pkts));
	a->ip_pkts = a->fragments = a->tunnels = a->l4_cut = 0;
	memset(a->malformed, 0, sizeof(a->malformed));
	topn_reset(a->hosts);
	topn_reset(a->convs);
	topn_reset(a->services);
}

struct traffic_report *
traffic_report_new(size_t max)
{
	struct traffic_report *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->max = max;
	r->hosts = calloc(max ? max : 1, sizeof(*r->hosts));
	r->convs = calloc(max ? max : 1, sizeof(*r->convs));
	r->services = calloc(max ? max : 1, sizeof(*r->services));
	if (!r->hosts || !r->convs || !r->services) {
		traffic_report_free(r);
		return NULL;
	}
	return r;
}

void
traffic_report_free(struct traffic_report *r)
{
	if (r == NULL)
		return;
	free(r->hosts);
	free(r->convs);
	free(r->services);
	free(r);
}

void
traffic_report_copy(struct traffic_report *dst, const struct traffic_report *src)
{
	struct traffic_host *h = dst->hosts;
	struct traffic_conv *c = dst->convs;
	struct traffic_service *s = dst->services;
	size_t max = dst->max;

	*dst = *src;
	dst->hosts = h;
	dst->convs = c;
	dst->services = s;
	dst->max = max;
	dst->nhosts = src->nhosts < max ? src->nhosts : max;
	dst->nconvs = src->nconvs < max ? src->nconvs : max;
	dst->nservices = src->nservices < max ? src->nservices : max;
	memcpy(h, src->hosts, dst->nhosts * sizeof(*h));
	memcpy(c, src->convs, dst->nconvs * sizeof(*c));
	memcpy(s, src->services, dst->nservices * sizeof(*s));
}

double
traffic_report_seconds(const struct traffic_report *r)
{
	double s = (double)(r->end.tv_sec - r->start.tv_sec) +
	           (double)(r->end.tv_usec - r->start.tv_usec) / 1e6;

	return s > 0 ? s : 0;
}

static double
per_second(uint64_t v, double secs)
{
	return secs > 0 ? (double)v / secs : 0;
}

static json_t *
hosts_json(const struct traffic_report *r)
{
	json_t *a = json_array();
	char buf[64];

	for (size_t i = 0; i < r->nhosts; i++) {
		const struct traffic_host *h = &r->hosts[i];

		json_array_append_new(
		    a,
		    json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "address",
		              traffic_addr_str(h->family, h->addr, buf, sizeof(buf)), "local",
		              h->local, "bytes", (json_int_t)(h->tx_bytes + h->rx_bytes),
		              "tx_bytes", (json_int_t)h->tx_bytes, "rx_bytes",
		              (json_int_t)h->rx_bytes, "tx_packets", (json_int_t)h->tx_pkts,
		              "rx_packets", (json_int_t)h->rx_pkts, "error", (json_int_t)h->error));
	}
	return a;
}

static json_t *
convs_json(const struct traffic_report *r)
{
	json_t *a = json_array();
	char ba[64], bb[64];

	for (size_t i = 0; i < r->nconvs; i++) {
		const struct traffic_conv *c = &r->convs[i];

		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "a",
		                 traffic_addr_str(c->family, c->a, ba, sizeof(ba)), "b",
		                 traffic_addr_str(c->family, c->b, bb, sizeof(bb)), "bytes",
		                 (json_int_t)(c->ab_bytes + c->ba_bytes), "packets",
		                 (json_int_t)(c->ab_pkts + c->ba_pkts), "a_to_b_bytes",
		                 (json_int_t)c->ab_bytes, "b_to_a_bytes", (json_int_t)c->ba_bytes,
		                 "a_to_b_packets", (json_int_t)c->ab_pkts, "b_to_a_packets",
		                 (json_int_t)c->ba_pkts, "error", (json_int_t)c->error));
	}
	return a;
}

static json_t *
services_json(const struct traffic_report *r)
{
	json_t *a = json_array();
	char pb[16];

	for (size_t i = 0; i < r->nservices; i++) {
		const struct traffic_service *s = &r->services[i];
		const char *name = s->port ? traffic_service_name(s->proto, s->port) : NULL;
		json_t *o = json_pack(
		    "{s:s, s:i, s:I, s:I, s:I, s:I}", "protocol",
		    traffic_proto_name(s->proto, pb, sizeof(pb)), "port", (int)s->port, "bytes",
		    (json_int_t)s->bytes, "packets", (json_int_t)s->pkts, "to_server_bytes",
		    (json_int_t)s->to_server_bytes, "error", (json_int_t)s->error);

		json_object_set_new(o, "service", name ? json_string(name) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *
apps_json(const struct traffic_report *r)
{
	json_t *a = json_array();

	for (size_t i = 0; r->apps_valid && i < r->napps; i++) {
		const struct traffic_app *p = &r->apps[i];

		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:I, s:I, s:I}", "name", p->name, "category",
		                 p->category, "bytes", (json_int_t)p->bytes, "packets",
		                 (json_int_t)p->pkts, "flows", (json_int_t)p->flows));
	}
	return a;
}

static double
tv_double(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

json_t *
traffic_report_json(const struct traffic_report *r)
{
	double secs = traffic_report_seconds(r);
	json_t *j, *classes = json_object(), *bad = json_object();

	for (int c = 0; c < TC_N; c++)
		json_object_set_new(classes, traffic_class_name(c),
		                    json_pack("{s:I, s:I, s:f}", "bytes",
		                              (json_int_t)r->class_bytes[c], "packets",
		                              (json_int_t)r->class_pkts[c], "bps",
		                              per_second(r->class_bytes[c] * 8, secs)));
	for (int i = DECODE_OK + 1; i < DECODE_NRESULTS; i++)
		json_object_set_new(bad, decode_result_name(i),
		                    json_integer((json_int_t)r->malformed[i]));
	j = json_pack("{s:f, s:f, s:f, s:i, s:{s:I, s:I, s:f, s:f}, s:o, s:I, s:I, s:I, s:I, "
	              "s:o, s:b, s:I}",
	              "start", tv_double(&r->start), "end", tv_double(&r->end), "seconds", secs,
	              "sample", (int)r->sample_n, "totals", "packets", (json_int_t)r->pkts, "bytes",
	              (json_int_t)r->bytes, "bps", per_second(r->bytes * 8, secs), "pps",
	              per_second(r->pkts, secs), "classes", classes, "ip_packets",
	              (json_int_t)r->ip_pkts, "fragments", (json_int_t)r->fragments, "tunnels",
	              (json_int_t)r->tunnels, "ports_cut", (json_int_t)r->l4_cut, "undecoded", bad,
	              "estimated", r->evictions > 0, "evictions", (json_int_t)r->evictions);
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "drops",
	                    r->drops_valid ? json_integer((json_int_t)r->drops) : json_null());
	json_object_set_new(j, "interface_drops",
	                    r->drops_valid ? json_integer((json_int_t)r->ifdrops) : json_null());
	json_object_set_new(j, "hosts", hosts_json(r));
	json_object_set_new(j, "conversations", convs_json(r));
	json_object_set_new(j, "services", services_json(r));
	/* without nDPI the services above, named by port, are what there is */
	json_object_set_new(j, "applications", apps_json(r));
	json_object_set_new(j, "application_evictions",
	                    r->apps_valid ? json_integer((json_int_t)r->app_evictions)
	                                  : json_null());
	return j;
}
