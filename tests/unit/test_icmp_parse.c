/* test_icmp_parse.c - echo building and reply parsing, IPv4 and IPv6 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "icmp_parse.h"

#define TS 0x0102030405060708ULL

static const uint8_t src6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t dst6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

/* An IPv4 datagram as a raw socket returns it: header (with optlen bytes of
 * options), then an echo message.  Returns the total length. */
static size_t
ip4_packet(uint8_t *buf, size_t buflen, size_t optlen, int reply, uint16_t id, uint16_t seq,
           size_t size)
{
	size_t ihl = 20 + optlen, len;

	memset(buf, 0, ihl);
	len = icmp_echo_build(0, reply, buf + ihl, buflen - ihl, id, seq, TS, size);
	assert_true(len > 0);
	len += ihl;
	buf[0] = (uint8_t)(0x40 | ihl / 4);
	icmp_put16(buf + 2, (uint16_t)len);
	buf[8] = 61; /* TTL */
	buf[9] = 1;  /* ICMP */
	for (size_t i = 20; i < ihl; i++)
		buf[i] = 1; /* NOP options */
	icmp_put16(buf + 10, icmp_checksum(buf, ihl));
	return len;
}

static void
test_checksum_rfc1071(void **state)
{
	/* the example of RFC 1071 section 3: sum 0xddf2, checksum 0x220d */
	const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	assert_int_equal(icmp_checksum(b, sizeof(b)), 0x220d);
	/* odd length: the last byte is padded with a zero */
	const uint8_t odd[] = {0x00, 0x01, 0xf2};
	assert_int_equal(icmp_checksum(odd, sizeof(odd)), (uint16_t)~0xf201);
}

static void
test_good_reply_v4_raw(void **state)
{
	uint8_t buf[256];
	struct icmp_echo e;
	size_t len = ip4_packet(buf, sizeof(buf), 0, 1, 0xbeef, 77, 56);

	assert_int_equal(len, 20 + 8 + 56);
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_OK);
	assert_int_equal(e.id, 0xbeef);
	assert_int_equal(e.seq, 77);
	assert_int_equal(e.ttl, 61);
	assert_true(e.has_ts);
	assert_true(e.ts == TS);
	assert_int_equal(e.payload_len, 56);
	assert_ptr_equal(e.payload, buf + 28);
}

static void
test_good_reply_v4_ping_socket(void **state)
{
	uint8_t buf[128];
	struct icmp_echo e;
	size_t len = icmp_echo_build(0, 1, buf, sizeof(buf), 4242, 65535, TS, 56);

	assert_int_equal(icmp_parse_reply4(buf, len, 0, &e), ICMP_PARSE_OK);
	assert_int_equal(e.id, 4242);
	assert_int_equal(e.seq, 65535);
	assert_int_equal(e.ttl, 0);
	assert_true(e.ts == TS);
}

static void
test_good_reply_v6(void **state)
{
	uint8_t buf[128];
	struct icmp_echo e;
	size_t len = icmp_echo_build(1, 1, buf, sizeof(buf), 0x1234, 9, TS, 56);

	/* the kernel verified the checksum: none needed without addresses */
	assert_int_equal(icmp_parse_reply6(buf, len, NULL, NULL, &e), ICMP_PARSE_OK);
	assert_int_equal(e.id, 0x1234);
	assert_int_equal(e.seq, 9);
	assert_true(e.ts == TS);
	assert_int_equal(e.payload_len, 56);
	/* with addresses the pseudo-header checksum is checked */
	assert_int_equal(icmp_parse_reply6(buf, len, src6, dst6, &e), ICMP_PARSE_BAD_CHECKSUM);
	icmp_put16(buf + 2, icmp6_checksum(buf, len, src6, dst6));
	assert_int_equal(icmp_parse_reply6(buf, len, src6, dst6, &e), ICMP_PARSE_OK);
	/* the wrong pseudo-header (addresses swapped is the same sum: change one) */
	uint8_t other[16];
	memcpy(other, dst6, 16);
	other[15] = 3;
	assert_int_equal(icmp_parse_reply6(buf, len, src6, other, &e), ICMP_PARSE_BAD_CHECKSUM);
}

static void
test_wrong_id_reported(void **state)
{
	uint8_t buf[128];
	struct icmp_echo e;
	size_t len = ip4_packet(buf, sizeof(buf), 0, 1, 1111, 5, 56);

	/* a well-formed reply to another ping process: parsed, and the caller
	 * sees the identifier that is not its own */
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_OK);
	assert_int_not_equal(e.id, 2222);
	assert_int_equal(e.id, 1111);
}

static void
test_short_packets(void **state)
{
	uint8_t buf[128], cut[128];
	struct icmp_echo e;
	size_t len = ip4_packet(buf, sizeof(buf), 0, 1, 1, 1, 0);

	assert_int_equal(len, 28);
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_OK);
	for (size_t n = 0; n < len; n++) {
		memcpy(cut, buf, n);
		if (n >= 4)
			icmp_put16(cut + 2, (uint16_t)n); /* even if the IP length agrees */
		assert_int_not_equal(icmp_parse_reply4(cut, n, 1, &e), ICMP_PARSE_OK);
	}
	assert_int_equal(icmp_parse_reply4(buf, 19, 1, &e), ICMP_PARSE_SHORT);
	icmp_put16(cut + 2, 24);
	assert_int_equal(icmp_parse_reply4(cut, 24, 1, &e), ICMP_PARSE_SHORT);
	/* without IP header and for IPv6: fewer than 8 bytes */
	assert_int_equal(icmp_parse_reply4(buf + 20, 7, 0, &e), ICMP_PARSE_SHORT);
	assert_int_equal(icmp_parse_reply6(buf + 20, 7, NULL, NULL, &e), ICMP_PARSE_SHORT);
	assert_int_equal(icmp_parse_reply6(buf, 0, NULL, NULL, &e), ICMP_PARSE_SHORT);
}

static void
test_ip_options(void **state)
{
	uint8_t buf[256];
	struct icmp_echo e;
	size_t len;

	/* 4 and 40 bytes of options (IHL 6 and 15) */
	len = ip4_packet(buf, sizeof(buf), 4, 1, 7, 8, 56);
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_OK);
	assert_ptr_equal(e.payload, buf + 24 + 8);
	assert_true(e.ts == TS);
	len = ip4_packet(buf, sizeof(buf), 40, 1, 7, 8, 56);
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_OK);
	assert_int_equal(e.seq, 8);
	assert_int_equal(e.payload_len, 56);
	/* options longer than the packet */
	len = ip4_packet(buf, sizeof(buf), 40, 1, 7, 8, 0);
	icmp_put16(buf + 2, 50);
	assert_int_equal(icmp_parse_reply4(buf, 50, 1, &e), ICMP_PARSE_SHORT);
}

static void
test_bad_checksum(void **state)
{
	uint8_t buf[256];
	struct icmp_echo e;
	size_t len = ip4_packet(buf, sizeof(buf), 0, 1, 7, 8, 56);

	buf[len - 1] ^= 0x40; /* a flipped payload bit */
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_BAD_CHECKSUM);
	buf[len - 1] ^= 0x40;
	buf[22] ^= 1; /* checksum field itself */
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_BAD_CHECKSUM);
	buf[22] ^= 1;
	buf[25] = 0x99; /* identifier */
	assert_int_equal(icmp_parse_reply4(buf + 20, len - 20, 0, &e), ICMP_PARSE_BAD_CHECKSUM);
}

static void
test_echo_request_ignored(void **state)
{
	uint8_t buf[256];
	struct icmp_echo e;
	size_t len;

	/* our own request, looped back to the raw socket: valid, not a reply */
	len = ip4_packet(buf, sizeof(buf), 0, 0, 7, 8, 56);
	assert_int_equal(buf[20], ICMP_V4_ECHO_REQUEST);
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_NOT_REPLY);
	len = icmp_echo_build(1, 0, buf, sizeof(buf), 7, 8, TS, 56);
	assert_int_equal(buf[0], ICMP_V6_ECHO_REQUEST);
	assert_int_equal(icmp_parse_reply6(buf, len, NULL, NULL, &e), ICMP_PARSE_NOT_REPLY);
}

static void
test_other_icmp_ignored(void **state)
{
	uint8_t buf[256];
	struct icmp_echo e;
	size_t len = ip4_packet(buf, sizeof(buf), 0, 1, 7, 8, 0);

	/* destination unreachable, with a valid checksum */
	buf[20] = 3;
	buf[21] = 1;
	icmp_put16(buf + 22, 0);
	icmp_put16(buf + 22, icmp_checksum(buf + 20, len - 20));
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_NOT_REPLY);
	/* echo reply type with a non-zero code */
	buf[20] = 0;
	icmp_put16(buf + 22, 0);
	icmp_put16(buf + 22, icmp_checksum(buf + 20, len - 20));
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_NOT_REPLY);
	/* IPv6 neighbour solicitation */
	len = icmp_echo_build(1, 1, buf, sizeof(buf), 7, 8, TS, 16);
	buf[0] = 135;
	assert_int_equal(icmp_parse_reply6(buf, len, NULL, NULL, &e), ICMP_PARSE_NOT_REPLY);
}

static void
test_bad_ip_header(void **state)
{
	uint8_t buf[256], b[256];
	struct icmp_echo e;
	size_t len = ip4_packet(buf, sizeof(buf), 0, 1, 7, 8, 56);

	memcpy(b, buf, len);
	b[0] = 0x65; /* version 6 */
	assert_int_equal(icmp_parse_reply4(b, len, 1, &e), ICMP_PARSE_BAD_IP);
	memcpy(b, buf, len);
	b[0] = 0x44; /* IHL 16 bytes */
	assert_int_equal(icmp_parse_reply4(b, len, 1, &e), ICMP_PARSE_BAD_IP);
	memcpy(b, buf, len);
	b[9] = 17; /* UDP */
	assert_int_equal(icmp_parse_reply4(b, len, 1, &e), ICMP_PARSE_BAD_IP);
	memcpy(b, buf, len);
	b[6] = 0x20; /* more fragments */
	assert_int_equal(icmp_parse_reply4(b, len, 1, &e), ICMP_PARSE_BAD_IP);
	memcpy(b, buf, len);
	b[7] = 0x01; /* fragment offset */
	assert_int_equal(icmp_parse_reply4(b, len, 1, &e), ICMP_PARSE_BAD_IP);
	memcpy(b, buf, len);
	b[6] = 0x40; /* don't fragment is fine */
	assert_int_equal(icmp_parse_reply4(b, len, 1, &e), ICMP_PARSE_OK);
}

static void
test_length_mismatch(void **state)
{
	uint8_t buf[256];
	struct icmp_echo e;
	size_t len = ip4_packet(buf, sizeof(buf), 0, 1, 7, 8, 56);

	/* the IP header claims more than was read (truncated) or less */
	icmp_put16(buf + 2, (uint16_t)(len + 1));
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_BAD_LENGTH);
	icmp_put16(buf + 2, (uint16_t)(len - 1));
	assert_int_equal(icmp_parse_reply4(buf, len, 1, &e), ICMP_PARSE_BAD_LENGTH);
}

static void
test_payload_sizes(void **state)
{
	uint8_t buf[ICMP_HDR_LEN + 1472];
	struct icmp_echo e;
	size_t len;

	len = icmp_echo_build(0, 1, buf, sizeof(buf), 1, 2, TS, 0);
	assert_int_equal(icmp_parse_reply4(buf, len, 0, &e), ICMP_PARSE_OK);
	assert_false(e.has_ts);
	assert_int_equal(e.payload_len, 0);
	len = icmp_echo_build(0, 1, buf, sizeof(buf), 1, 2, TS, 7);
	assert_int_equal(icmp_parse_reply4(buf, len, 0, &e), ICMP_PARSE_OK);
	assert_false(e.has_ts);
	len = icmp_echo_build(0, 1, buf, sizeof(buf), 1, 2, TS, 8);
	assert_int_equal(icmp_parse_reply4(buf, len, 0, &e), ICMP_PARSE_OK);
	assert_true(e.has_ts && e.ts == TS);
	len = icmp_echo_build(0, 1, buf, sizeof(buf), 1, 2, TS, 1471); /* odd */
	assert_int_equal(icmp_parse_reply4(buf, len, 0, &e), ICMP_PARSE_OK);
	assert_int_equal(e.payload_len, 1471);
	len = icmp_echo_build(0, 1, buf, sizeof(buf), 1, 2, TS, 1472);
	assert_int_equal(len, sizeof(buf));
	/* buffer too small */
	assert_int_equal(icmp_echo_build(0, 1, buf, 15, 1, 2, TS, 8), 0);
}

static void
test_strerror(void **state)
{
	for (int i = 0; i < ICMP_PARSE_NERR; i++)
		assert_string_not_equal(icmp_parse_strerror(i), "unknown error");
	assert_string_equal(icmp_parse_strerror(ICMP_PARSE_NERR), "unknown error");
	assert_string_equal(icmp_parse_strerror(-1), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checksum_rfc1071),
	    cmocka_unit_test(test_good_reply_v4_raw),
	    cmocka_unit_test(test_good_reply_v4_ping_socket),
	    cmocka_unit_test(test_good_reply_v6),
	    cmocka_unit_test(test_wrong_id_reported),
	    cmocka_unit_test(test_short_packets),
	    cmocka_unit_test(test_ip_options),
	    cmocka_unit_test(test_bad_checksum),
	    cmocka_unit_test(test_echo_request_ignored),
	    cmocka_unit_test(test_other_icmp_ignored),
	    cmocka_unit_test(test_bad_ip_header),
	    cmocka_unit_test(test_length_mismatch),
	    cmocka_unit_test(test_payload_sizes),
	    cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
