/* test_decode.c - decode.c on hand-built frames of every kind it handles */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decode.h"

struct frame {
	uint8_t b[512];
	size_t n;
};

static void
put(struct frame *f, const void *p, size_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void
put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put(f, b, 2);
}

static void
eth(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

	put(f, macs, 12);
	put16(f, type);
}

static void
vlan(struct frame *f, uint16_t id, uint16_t next)
{
	put16(f, id);
	put16(f, next);
}

/* IPv4 header 10.0.0.1 -> 192.0.2.7, optional options (multiple of 4). */
static void
ipv4(struct frame *f, uint8_t proto, uint16_t frag, size_t optlen, uint16_t payload)
{
	uint8_t h[60] = {0};
	size_t ihl = 20 + optlen;

	h[0] = (uint8_t)(0x40 | (ihl / 4));
	h[2] = (uint8_t)((ihl + payload) >> 8);
	h[3] = (uint8_t)(ihl + payload);
	h[6] = (uint8_t)(frag >> 8);
	h[7] = (uint8_t)frag;
	h[8] = 64;
	h[9] = proto;
	h[12] = 10, h[15] = 1;
	h[16] = 192, h[18] = 2, h[19] = 7;
	for (size_t i = 20; i < ihl; i++)
		h[i] = 1; /* NOP options */
	put(f, h, ihl);
}

static void
ipv6(struct frame *f, uint8_t nh, uint16_t payload)
{
	uint8_t h[40] = {0x60};

	h[4] = (uint8_t)(payload >> 8);
	h[5] = (uint8_t)payload;
	h[6] = nh;
	h[7] = 64;
	h[8] = 0x20, h[9] = 0x01, h[10] = 0x0d, h[11] = 0xb8, h[23] = 1;
	h[24] = 0x20, h[25] = 0x01, h[26] = 0x0d, h[27] = 0xb8, h[39] = 2;
	put(f, h, 40);
}

static void
tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags)
{
	uint8_t h[20] = {0};

	h[0] = (uint8_t)(sport >> 8), h[1] = (uint8_t)sport;
	h[2] = (uint8_t)(dport >> 8), h[3] = (uint8_t)dport;
	h[12] = 5 << 4;
	h[13] = flags;
	put(f, h, 20);
}

static void
udp(struct frame *f, uint16_t sport, uint16_t dport)
{
	uint8_t h[8] = {(uint8_t)(sport >> 8),
	                (uint8_t)sport,
	                (uint8_t)(dport >> 8),
	                (uint8_t)dport,
	                0,
	                8,
	                0,
	                0};

	put(f, h, 8);
}

static void
test_ethernet_ipv4_tcp(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;

	eth(&f, 0x0800);
	ipv4(&f, 6, 0, 0, 20);
	tcp(&f, 40000, 443, 0x12);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.proto, 6);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.tcp_flags, 0x12);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l4_off, 34);
	assert_int_equal(p.src[0], 10);
	assert_int_equal(p.src[3], 1);
	assert_int_equal(p.dst[0], 192);
	assert_int_equal(p.dst[3], 7);
	assert_int_equal(p.src[4], 0); /* rest of an IPv4 key is zero */
	assert_int_equal(p.flags, 0);
}

static void
test_ipv4_options(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;

	eth(&f, 0x0800);
	ipv4(&f, 17, 0, 12, 8);
	udp(&f, 5353, 53);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.l4_off, 14 + 32);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 53);
	/* options cut by the capture: the IP header is incomplete */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 14 + 24, &p), DECODE_TRUNCATED);
}

static void
test_vlan_and_qinq(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;

	eth(&f, 0x88a8);
	vlan(&f, 100, 0x8100);
	vlan(&f, 200, 0x0800);
	ipv4(&f, 17, 0, 0, 8);
	udp(&f, 1000, 161);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.nvlan, 2);
	assert_int_equal(p.vlan, 100);
	assert_true(p.flags & DECODE_F_VLAN);
	assert_int_equal(p.l3_off, 22);
	assert_int_equal(p.dport, 161);

	/* five stacked tags: more than we walk */
	f.n = 0;
	eth(&f, 0x8100);
	for (int i = 0; i < 5; i++)
		vlan(&f, (uint16_t)i, 0x8100);
	vlan(&f, 9, 0x0800);
	ipv4(&f, 17, 0, 0, 8);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_BAD_VLAN);
	/* a tag cut in half */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 16, &p), DECODE_TRUNCATED);
}

static void
test_sll_and_sll2(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;
	uint8_t sll[14] = {0, 0, 0, 1, 0, 6};
	uint8_t sll2rest[18] = {0};

	put(&f, sll, 14);
	put16(&f, 0x86dd);
	ipv6(&f, 6, 20);
	tcp(&f, 22, 50000, 0x10);
	assert_int_equal(decode_packet(DECODE_LINK_SLL, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.l3_off, 16);
	assert_int_equal(p.sport, 22);

	f.n = 0;
	put16(&f, 0x0800);
	put(&f, sll2rest, 18);
	ipv4(&f, 1, 0, 0, 8);
	put(&f, "\x08\0\0\0\0\0\0\0", 8);
	assert_int_equal(decode_packet(DECODE_LINK_SLL2, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.l3_off, 20);
	assert_int_equal(p.proto, 1);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(decode_packet(DECODE_LINK_SLL2, f.b, 19, &p), DECODE_TRUNCATED);
}

static void
test_raw_and_null(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;

	ipv6(&f, 58, 8);
	put(&f, "\x80\0\0\0\0\0\0\0", 8);
	assert_int_equal(decode_packet(DECODE_LINK_RAW, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.proto, 58);
	assert_int_equal(p.icmp_type, 128);
	assert_int_equal(decode_packet(DECODE_LINK_RAW_OLD, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(decode_packet(DECODE_LINK_IPV6, f.b, f.n, &p), DECODE_OK);
	/* the IPv4 link type refuses an IPv6 header */
	assert_int_equal(decode_packet(DECODE_LINK_IPV4, f.b, f.n, &p), DECODE_BAD_IP);

	f.n = 0;
	put(&f, "\x02\0\0\0", 4); /* AF_INET, little-endian host */
	ipv4(&f, 6, 0, 0, 20);
	tcp(&f, 1, 2, 0);
	assert_int_equal(decode_packet(DECODE_LINK_NULL, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.l3_off, 4);
	assert_int_equal(decode_packet(DECODE_LINK_LOOP, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(decode_packet(12345, f.b, f.n, &p), DECODE_BAD_LINK);
	assert_false(decode_link_supported(12345));
	assert_true(decode_link_supported(DECODE_LINK_SLL2));
}

static void
test_ipv6_extension_headers(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;
	uint8_t hbh[8] = {43, 0, 1, 4, 0, 0, 0, 0};       /* -> routing */
	uint8_t rh[24] = {44, 2, 0, 1};                   /* 24 bytes -> fragment */
	uint8_t fh[8] = {17, 0, 0x00, 0x01, 0, 0, 0, 42}; /* offset 0, more -> UDP */

	eth(&f, 0x86dd);
	ipv6(&f, 0, 8 + 24 + 8 + 8);
	put(&f, hbh, 8);
	put(&f, rh, 24);
	put(&f, fh, 8);
	udp(&f, 33000, 53);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.proto, 17);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.l4_off, 14 + 40 + 40);
	assert_true(p.flags & DECODE_F_FRAGMENT);
	assert_false(p.flags & DECODE_F_LATERFRAG);

	/* a later fragment: no ports */
	f.b[14 + 40 + 32 + 2] = 0x01;
	f.b[14 + 40 + 32 + 3] = 0x01;
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_LATERFRAG);
	assert_int_equal(p.dport, 0);
	assert_int_equal(p.l4_off, 0);

	/* chain cut by the snaplen: still IPv6 between the two hosts */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 14 + 40 + 8 + 10, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_L4_CUT);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.dst[15], 2);
}

static void
test_ipv6_chain_too_long(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;
	uint8_t dst[8] = {60, 0};

	ipv6(&f, 60, 0);
	for (int i = 0; i < DECODE_MAX_EXTHDR + 2; i++)
		put(&f, dst, 8);
	assert_int_equal(decode_packet(DECODE_LINK_RAW, f.b, f.n, &p), DECODE_BAD_EXTHDR);
}

static void
test_ipv4_fragments(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;

	eth(&f, 0x0800);
	ipv4(&f, 17, 0x2000, 0, 8); /* MF, offset 0: first fragment has ports */
	udp(&f, 4000, 4001);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_FRAGMENT);
	assert_false(p.flags & DECODE_F_LATERFRAG);
	assert_int_equal(p.sport, 4000);

	f.n = 0;
	eth(&f, 0x0800);
	ipv4(&f, 17, 185, 0, 8); /* offset 185*8: payload bytes, not a UDP header */
	udp(&f, 4000, 4001);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_LATERFRAG);
	assert_int_equal(p.sport, 0);
}

static void
test_tunnels_counted_as_such(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;

	eth(&f, 0x0800);
	ipv4(&f, 47, 0, 0, 4 + 20);
	put(&f, "\0\0\x08\0", 4);
	ipv4(&f, 6, 0, 0, 0);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.proto, 47);
	assert_true(p.flags & DECODE_F_TUNNEL);
	assert_int_equal(p.l4_off, 0);

	f.n = 0;
	ipv6(&f, 4, 20);
	ipv4(&f, 6, 0, 0, 0);
	assert_int_equal(decode_packet(DECODE_LINK_RAW, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.proto, 4);
	assert_true(p.flags & DECODE_F_TUNNEL);
}

static void
test_mpls_and_pppoe(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;

	eth(&f, 0x8847);
	put(&f, "\x00\x01\x00\x40", 4);
	put(&f, "\x00\x02\x01\x40", 4); /* bottom of stack */
	ipv4(&f, 6, 0, 0, 20);
	tcp(&f, 179, 30000, 0x18);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_MPLS);
	assert_int_equal(p.l3_off, 22);
	assert_int_equal(p.sport, 179);

	f.n = 0;
	eth(&f, 0x8864);
	put(&f, "\x11\x00\x00\x01\x00\x30", 6);
	put16(&f, 0x0057);
	ipv6(&f, 17, 8);
	udp(&f, 546, 547);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_PPPOE);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.dport, 547);

	/* PPP LCP: not IP */
	f.b[14 + 6] = 0xc0;
	f.b[14 + 7] = 0x21;
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_NOT_IP);
}

/* RFC 7510: the frame is the outer UDP packet; the IP packet under the
 * labels adds its addresses (tshark counts them as endpoints too). */
static void
test_mpls_over_udp(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;
	size_t inner;

	eth(&f, 0x0800);
	ipv4(&f, 17, 0, 0, 8 + 8 + 40);
	udp(&f, 58699, 6635);
	put(&f, "\x00\x01\x00\x40", 4);
	put(&f, "\x00\x15\x01\x3f", 4); /* label 21, bottom of stack */
	inner = f.n;
	ipv6(&f, 6, 20);
	tcp(&f, 40000, 443, 0x02);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.proto, 17);
	assert_int_equal(p.dport, 6635);
	assert_int_equal(p.src[0], 10);
	assert_true(p.flags & DECODE_F_INNER);
	assert_false(p.flags & DECODE_F_TUNNEL);
	assert_int_equal(p.inner_family, 6);
	assert_int_equal(p.inner_proto, 6);
	assert_int_equal(p.inner_off, inner);
	assert_int_equal(p.inner_src[0], 0x20);
	assert_int_equal(p.inner_src[15], 1);
	assert_int_equal(p.inner_dst[15], 2);

	/* the inner header cut short: the outer packet alone */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, inner + 20, &p), DECODE_OK);
	assert_false(p.flags & DECODE_F_INNER);
	assert_int_equal(p.dport, 6635);

	/* a pseudowire control word (nibble 0) is not IP: nothing inside */
	f.b[inner] = 0x00;
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_false(p.flags & DECODE_F_INNER);

	/* the source port may be 6635 too; other ports are plain UDP */
	f.b[inner] = 0x60;
	f.b[14 + 20] = 6635 >> 8, f.b[14 + 21] = 6635 & 0xff;
	f.b[14 + 22] = 0x30, f.b[14 + 23] = 0x39;
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_INNER);
	f.b[14 + 20] = 0x30;
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_false(p.flags & DECODE_F_INNER);

	/* one level deep: MPLS over UDP inside MPLS over UDP stops at the first */
	f.n = 0;
	eth(&f, 0x0800);
	ipv4(&f, 17, 0, 0, 8 + 4 + 20 + 8 + 4 + 20);
	udp(&f, 50000, 6635);
	put(&f, "\x00\x15\x01\x3f", 4);
	ipv4(&f, 17, 0, 0, 8 + 4 + 20);
	udp(&f, 50001, 6635);
	put(&f, "\x00\x16\x01\x3f", 4);
	ipv4(&f, 1, 0, 0, 0);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_INNER);
	assert_int_equal(p.inner_proto, 17);
	assert_int_equal(p.inner_off, 14 + 20 + 8 + 4);
}

static void
test_malformed(void **state)
{
	struct frame f = {.n = 0};
	struct decode_pkt p;

	eth(&f, 0x0806); /* ARP */
	put(&f, "\0\1\x08\0\6\4\0\1", 8);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_NOT_IP);
	assert_int_equal(p.family, 0);

	f.n = 0;
	eth(&f, 0x0800);
	ipv4(&f, 6, 0, 0, 20);
	tcp(&f, 1, 2, 0);
	f.b[14] = 0x44; /* IHL 16 bytes */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_BAD_IP);
	f.b[14] = 0x65; /* version 6 behind an IPv4 ethertype */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_BAD_IP);
	f.b[14] = 0x45;
	f.b[16] = 0, f.b[17] = 10; /* total length shorter than the header */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_BAD_IP);
	f.b[17] = 0; /* 0 = TSO capture: accepted */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 10, &p), DECODE_TRUNCATED);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 14 + 19, &p), DECODE_TRUNCATED);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 0, &p), DECODE_TRUNCATED);

	/* TCP with only its ports captured */
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 14 + 20 + 4, &p), DECODE_OK);
	assert_true(p.flags & DECODE_F_L4_CUT);
	assert_int_equal(p.dport, 2);
	assert_int_equal(decode_packet(DECODE_LINK_ETHERNET, f.b, 14 + 20 + 2, &p), DECODE_OK);
	assert_int_equal(p.l4_off, 0);
	assert_true(p.flags & DECODE_F_L4_CUT);
	assert_string_equal(decode_result_name(DECODE_BAD_EXTHDR), "bad_exthdr");
	assert_string_equal(decode_result_name((enum decode_result)99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ethernet_ipv4_tcp),
	    cmocka_unit_test(test_ipv4_options),
	    cmocka_unit_test(test_vlan_and_qinq),
	    cmocka_unit_test(test_sll_and_sll2),
	    cmocka_unit_test(test_raw_and_null),
	    cmocka_unit_test(test_ipv6_extension_headers),
	    cmocka_unit_test(test_ipv6_chain_too_long),
	    cmocka_unit_test(test_ipv4_fragments),
	    cmocka_unit_test(test_tunnels_counted_as_such),
	    cmocka_unit_test(test_mpls_and_pppoe),
	    cmocka_unit_test(test_mpls_over_udp),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
