/* decode.c - link, IP and transport headers to a flow key (pure) */
#include <string.h>

#include "decode.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD1 0x9100
#define ETHERTYPE_QINQ_OLD2 0x9200
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848
#define ETHERTYPE_PPPOE 0x8864

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

struct cursor {
	const uint8_t *p;
	size_t len; /* captured bytes */
	size_t off;
	int depth; /* tunnels entered: MPLS over UDP is decoded one level deep */
};

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline int
have(const struct cursor *c, size_t n)
{
	return c->off <= c->len && c->len - c->off >= n;
}

static int
is_tunnel(uint8_t proto)
{
	/* IP-in-IP, IPv6-in-IP, GRE, EtherIP, L2TPv3: counted as the tunnel */
	return proto == 4 || proto == 41 || proto == 47 || proto == 97 || proto == 115;
}

static void decode_mpls_udp(const struct cursor *c, struct decode_pkt *out);

static void
decode_l4(struct cursor *c, struct decode_pkt *out)
{
	const uint8_t *h = c->p + c->off;

	if (out->flags & DECODE_F_TUNNEL)
		return;
	if (out->flags & DECODE_F_LATERFRAG)
		return;
	switch (out->proto) {
	case 6:   /* TCP */
	case 17:  /* UDP */
	case 33:  /* DCCP */
	case 132: /* SCTP */
	case 136: /* UDP-Lite */
		if (!have(c, 4)) {
			out->flags |= DECODE_F_L4_CUT;
			return;
		}
		out->l4_off = (uint32_t)c->off;
		out->sport = rd16(h);
		out->dport = rd16(h + 2);
		if (out->proto == 6) {
			if (have(c, 14))
				out->tcp_flags = h[13];
			else
				out->flags |= DECODE_F_L4_CUT;
		}
		/* like tshark's UDP port table: either port */
		if (out->proto == 17 && c->depth == 0 &&
		    (out->sport == DECODE_PORT_MPLS_UDP || out->dport == DECODE_PORT_MPLS_UDP))
			decode_mpls_udp(c, out);
		return;
	case 1:  /* ICMP */
	case 58: /* ICMPv6 */
		if (!have(c, 1)) {
			out->flags |= DECODE_F_L4_CUT;
			return;
		}
		out->l4_off = (uint32_t)c->off;
		out->icmp_type = h[0];
		return;
	default:
		return;
	}
}

static enum decode_result
decode_ipv4(struct cursor *c, struct decode_pkt *out)
{
	const uint8_t *h;
	size_t ihl;
	uint16_t tot, frag;

	if (!have(c, 20))
		return DECODE_TRUNCATED;
	h = c->p + c->off;
	if ((h[0] >> 4) != 4)
		return DECODE_BAD_IP;
	ihl = (size_t)(h[0] & 0x0f) * 4;
	if (ihl < 20)
		return DECODE_BAD_IP;
	tot = rd16(h + 2);
	/* 0 is legal with TSO/"big TCP" captures: the length is the frame's */
	if (tot != 0 && tot < ihl)
		return DECODE_BAD_IP;
	if (!have(c, ihl))
		return DECODE_TRUNCATED;
	out->family = 4;
	out->l3_off = (uint32_t)c->off;
	memcpy(out->src, h + 12, 4);
	memcpy(out->dst, h + 16, 4);
	out->proto = h[9];
	frag = rd16(h + 6);
	if (frag & 0x3fff) {
		out->flags |= DECODE_F_FRAGMENT;
		if (frag & 0x1fff)
			out->flags |= DECODE_F_LATERFRAG;
	}
	if (is_tunnel(out->proto))
		out->flags |= DECODE_F_TUNNEL;
	c->off += ihl;
	decode_l4(c, out);
	return DECODE_OK;
}

/* Walk the extension headers to the upper-layer protocol.  A chain cut by
 * the snaplen leaves the packet an IPv6 packet without ports. */
static enum decode_result
decode_ipv6_ext(struct cursor *c, struct decode_pkt *out, uint8_t nh)
{
	const uint8_t *h;
	size_t hlen;

	for (int n = 0;; n++) {
		switch (nh) {
		case 0:   /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
		case 139: /* HIP */
		case 140: /* shim6 */
		case 51:  /* AH */
		case 44:  /* fragment */
			break;
		default:
			out->proto = nh;
			if (is_tunnel(nh))
				out->flags |= DECODE_F_TUNNEL;
			decode_l4(c, out);
			return DECODE_OK;
		}
		if (n >= DECODE_MAX_EXTHDR)
			return DECODE_BAD_EXTHDR;
		out->proto = nh;
		if (!have(c, 8)) {
			out->flags |= DECODE_F_L4_CUT;
			return DECODE_OK;
		}
		h = c->p + c->off;
		if (nh == 44) {
			uint16_t fo = rd16(h + 2);

			out->flags |= DECODE_F_FRAGMENT;
			if (fo & 0xfff8)
				out->flags |= DECODE_F_LATERFRAG;
			hlen = 8;
		} else if (nh == 51)
			hlen = ((size_t)h[1] + 2) * 4;
		else
			hlen = ((size_t)h[1] + 1) * 8;
		nh = h[0];
		if (!have(c, hlen)) {
			out->flags |= DECODE_F_L4_CUT;
			return DECODE_OK;
		}
		c->off += hlen;
	}
}

static enum decode_result
decode_ipv6(struct cursor *c, struct decode_pkt *out)
{
	const uint8_t *h;

	if (!have(c, 40))
		return DECODE_TRUNCATED;
	h = c->p + c->off;
	if ((h[0] >> 4) != 6)
		return DECODE_BAD_IP;
	out->family = 6;
	out->l3_off = (uint32_t)c->off;
	memcpy(out->src, h + 8, 16);
	memcpy(out->dst, h + 24, 16);
	c->off += 40;
	return decode_ipv6_ext(c, out, h[6]);
}

/* IP of either version, told apart by the version nibble. */
static enum decode_result
decode_ip(struct cursor *c, struct decode_pkt *out)
{
	if (!have(c, 1))
		return DECODE_TRUNCATED;
	switch (c->p[c->off] >> 4) {
	case 4:
		return decode_ipv4(c, out);
	case 6:
		return decode_ipv6(c, out);
	default:
		return DECODE_BAD_IP;
	}
}

/* Walk an MPLS label stack to the bottom label: DECODE_OK with c after it
 * and an IP version nibble next, or why not. */
static enum decode_result
mpls_labels(struct cursor *c)
{
	for (int n = 0; n < DECODE_MAX_LABELS; n++) {
		if (!have(c, 4))
			return DECODE_TRUNCATED;
		int bottom = c->p[c->off + 2] & 0x01;

		c->off += 4;
		if (bottom) {
			/* no payload type in MPLS: IP if the nibble says so */
			if (!have(c, 1))
				return DECODE_TRUNCATED;
			uint8_t v = c->p[c->off] >> 4;
			return v == 4 || v == 6 ? DECODE_OK : DECODE_NOT_IP;
		}
	}
	return DECODE_BAD_VLAN;
}

static enum decode_result
decode_mpls(struct cursor *c, struct decode_pkt *out)
{
	enum decode_result r;

	out->flags |= DECODE_F_MPLS;
	if ((r = mpls_labels(c)) != DECODE_OK)
		return r;
	return decode_ip(c, out);
}

/* MPLS over UDP (RFC 7510): labels, then an IP packet, after the 8-byte UDP
 * header at c->off.  The frame stays the outer UDP packet; the inner
 * addresses are added when the inner IP header is whole, as tshark counts
 * them.  Anything else inside (a pseudowire, a cut header) adds nothing. */
static void
decode_mpls_udp(const struct cursor *outer, struct decode_pkt *out)
{
	struct cursor c = {.p = outer->p, .len = outer->len, .off = outer->off, .depth = 1};
	struct decode_pkt in;

	if (!have(&c, 8))
		return;
	c.off += 8;
	if (mpls_labels(&c) != DECODE_OK)
		return;
	memset(&in, 0, sizeof(in));
	if (decode_ip(&c, &in) != DECODE_OK)
		return;
	out->flags |= DECODE_F_INNER;
	out->inner_family = in.family;
	out->inner_proto = in.proto;
	out->inner_off = in.l3_off;
	memcpy(out->inner_src, in.src, sizeof(out->inner_src));
	memcpy(out->inner_dst, in.dst, sizeof(out->inner_dst));
}

static enum decode_result
decode_pppoe(struct cursor *c, struct decode_pkt *out)
{
	uint16_t proto;

	out->flags |= DECODE_F_PPPOE;
	if (!have(c, 8))
		return DECODE_TRUNCATED;
	proto = rd16(c->p + c->off + 6);
	c->off += 8;
	if (proto == PPP_IPV4)
		return decode_ipv4(c, out);
	if (proto == PPP_IPV6)
		return decode_ipv6(c, out);
	return DECODE_NOT_IP;
}

/* Dispatch on an ethertype whose 2 bytes end at c->off; VLAN tags follow. */
static enum decode_result
decode_ethertype(struct cursor *c, struct decode_pkt *out, uint16_t type)
{
	for (;;) {
		switch (type) {
		case ETHERTYPE_IPV4:
			return decode_ipv4(c, out);
		case ETHERTYPE_IPV6:
			return decode_ipv6(c, out);
		case ETHERTYPE_MPLS:
		case ETHERTYPE_MPLS_MC:
			return decode_mpls(c, out);
		case ETHERTYPE_PPPOE:
			return decode_pppoe(c, out);
		case ETHERTYPE_VLAN:
		case ETHERTYPE_QINQ:
		case ETHERTYPE_QINQ_OLD1:
		case ETHERTYPE_QINQ_OLD2:
			if (out->nvlan >= DECODE_MAX_VLANS)
				return DECODE_BAD_VLAN;
			if (!have(c, 4))
				return DECODE_TRUNCATED;
			if (out->nvlan == 0)
				out->vlan = rd16(c->p + c->off) & 0x0fff;
			out->nvlan++;
			out->flags |= DECODE_F_VLAN;
			type = rd16(c->p + c->off + 2);
			c->off += 4;
			break;
		default:
			return DECODE_NOT_IP;
		}
	}
}

int
decode_link_supported(int linktype)
{
	switch (linktype) {
	case DECODE_LINK_NULL:
	case DECODE_LINK_ETHERNET:
	case DECODE_LINK_RAW_OLD:
	case DECODE_LINK_RAW:
	case DECODE_LINK_LOOP:
	case DECODE_LINK_SLL:
	case DECODE_LINK_IPV4:
	case DECODE_LINK_IPV6:
	case DECODE_LINK_SLL2:
		return 1;
	default:
		return 0;
	}
}

enum decode_result
decode_packet(int linktype, const uint8_t *p, size_t caplen, struct decode_pkt *out)
{
	struct cursor c = {.p = p, .len = caplen, .off = 0};

	memset(out, 0, sizeof(*out));
	switch (linktype) {
	case DECODE_LINK_ETHERNET:
		if (!have(&c, 14))
			return DECODE_TRUNCATED;
		c.off = 14;
		return decode_ethertype(&c, out, rd16(p + 12));
	case DECODE_LINK_SLL:
		if (!have(&c, 16))
			return DECODE_TRUNCATED;
		c.off = 16;
		return decode_ethertype(&c, out, rd16(p + 14));
	case DECODE_LINK_SLL2:
		if (!have(&c, 20))
			return DECODE_TRUNCATED;
		c.off = 20;
		return decode_ethertype(&c, out, rd16(p));
	case DECODE_LINK_NULL:
	case DECODE_LINK_LOOP:
		/* the 4-byte family's byte order depends on the capturing host;
		 * the IP version nibble does not */
		if (!have(&c, 4))
			return DECODE_TRUNCATED;
		c.off = 4;
		if (!have(&c, 1))
			return DECODE_TRUNCATED;
		if ((p[4] >> 4) != 4 && (p[4] >> 4) != 6)
			return DECODE_NOT_IP;
		return decode_ip(&c, out);
	case DECODE_LINK_RAW_OLD:
	case DECODE_LINK_RAW:
		return decode_ip(&c, out);
	case DECODE_LINK_IPV4:
		return decode_ipv4(&c, out);
	case DECODE_LINK_IPV6:
		return decode_ipv6(&c, out);
	default:
		return DECODE_BAD_LINK;
	}
}

const char *
decode_result_name(enum decode_result r)
{
	static const char *const names[DECODE_NRESULTS] = {
	    [DECODE_OK] = "ok",
	    [DECODE_NOT_IP] = "not_ip",
	    [DECODE_TRUNCATED] = "truncated",
	    [DECODE_BAD_LINK] = "bad_link",
	    [DECODE_BAD_VLAN] = "bad_vlan",
	    [DECODE_BAD_IP] = "bad_ip",
	    [DECODE_BAD_EXTHDR] = "bad_exthdr",
	};

	if ((unsigned)r >= DECODE_NRESULTS)
		return "unknown";
	return names[r];
}
