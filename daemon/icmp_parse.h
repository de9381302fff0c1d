/* icmp_parse.h - ICMP and ICMPv6 echo wire format: build echo requests, parse
 * what an ICMP socket returned into identifier, sequence and payload
 * timestamp, or say why it is not an echo reply we can use.
 *
 * Pure functions on byte buffers (no sockets, no allocation), so that the
 * icmp plugin, the unit tests and the fuzzer share them.  Header-only (static
 * inline) for the same reason as probe_stats.h: a plugin is built from one .c
 * file, and the daemon only contains the libcore.a objects it uses itself.
 *
 * What the sockets return (Linux):
 *   IPv4 raw socket (SOCK_RAW, IPPROTO_ICMP): IPv4 header + ICMP message,
 *     header fields in network order, checksum NOT verified by the kernel.
 *   IPv4 ping socket (SOCK_DGRAM, IPPROTO_ICMP): the ICMP message only,
 *     checksum verified by the kernel.
 *   IPv6 raw or ping socket: the ICMPv6 message only; the kernel verifies the
 *     ICMPv6 checksum, which needs the pseudo-header (both addresses), so
 *     icmp_parse_reply6() only checks it when given the addresses.
 *
 * Echo payload written by icmp_echo_build(): if it is at least 8 bytes long,
 * the first 8 are a sender timestamp (big-endian, opaque to this module: the
 * plugin uses it as a cookie to tell its own replies from stale or foreign
 * ones), the rest a fixed pattern.
 */
#ifndef LW_ICMP_PARSE_H
#define LW_ICMP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ICMP_HDR_LEN 8 /* type, code, checksum, identifier, sequence */
#define ICMP_TS_LEN 8  /* timestamp at the start of the payload */
#define ICMP_IP4_MIN_HDR 20
#define ICMP_V4_ECHO_REPLY 0
#define ICMP_V4_ECHO_REQUEST 8
#define ICMP_V6_ECHO_REQUEST 128
#define ICMP_V6_ECHO_REPLY 129

enum icmp_parse_err {
	ICMP_PARSE_OK = 0,
	ICMP_PARSE_SHORT,        /* shorter than the headers it must contain */
	ICMP_PARSE_BAD_IP,       /* not IPv4, bad header length, not ICMP, a fragment */
	ICMP_PARSE_BAD_LENGTH,   /* IPv4 total length disagrees with the bytes read */
	ICMP_PARSE_BAD_CHECKSUM, /* ICMP checksum wrong */
	ICMP_PARSE_NOT_REPLY,    /* another ICMP message: echo request, unreachable... */
	ICMP_PARSE_NERR
};

struct icmp_echo {
	uint16_t id;
	uint16_t seq;
	uint8_t ttl;            /* IPv4 TTL when the IP header was given, else 0 */
	int has_ts;             /* payload >= ICMP_TS_LEN bytes */
	uint64_t ts;            /* the timestamp from the payload, when has_ts */
	const uint8_t *payload; /* points into the parsed buffer */
	size_t payload_len;
};

static inline const char *
icmp_parse_strerror(int err)
{
	switch (err) {
	case ICMP_PARSE_OK:
		return "ok";
	case ICMP_PARSE_SHORT:
		return "packet too short";
	case ICMP_PARSE_BAD_IP:
		return "bad IPv4 header";
	case ICMP_PARSE_BAD_LENGTH:
		return "IPv4 length does not match packet";
	case ICMP_PARSE_BAD_CHECKSUM:
		return "bad ICMP checksum";
	case ICMP_PARSE_NOT_REPLY:
		return "not an echo reply";
	}
	return "unknown error";
}

static inline uint16_t
icmp_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
icmp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* RFC 1071 ones' complement sum of len bytes, added to sum (unfolded). */
static inline uint32_t
icmp_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += icmp_get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static inline uint16_t
icmp_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The ICMP checksum of msg; 0 when msg already carries a correct one. */
static inline uint16_t
icmp_checksum(const uint8_t *msg, size_t len)
{
	return icmp_fold(icmp_sum(msg, len, 0));
}

/* The ICMPv6 checksum of msg with the pseudo-header of RFC 8200 8.1; src and
 * dst are the 16-byte addresses.  0 when msg already carries a correct one. */
static inline uint16_t
icmp6_checksum(const uint8_t *msg, size_t len, const uint8_t *src, const uint8_t *dst)
{
	uint32_t sum = 0;

	sum = icmp_sum(src, 16, sum);
	sum = icmp_sum(dst, 16, sum);
	sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
	sum += 58; /* next header: ICMPv6 */
	return icmp_fold(icmp_sum(msg, len, sum));
}

/* Write an ICMP (v6 = 0) or ICMPv6 (v6 = 1) echo request (reply = 0) or reply
 * (reply = 1) with `size` payload bytes into buf.  The IPv4 checksum is
 * filled in; the ICMPv6 one is left 0 (the kernel computes it on send; use
 * icmp6_checksum() to build a reply by hand).  Returns the message length, or
 * 0 if buflen is too small. */
static inline size_t
icmp_echo_build(int v6, int reply, uint8_t *buf, size_t buflen, uint16_t id, uint16_t seq,
                uint64_t ts, size_t size)
{
	size_t len = ICMP_HDR_LEN + size;

	if (buflen < len || len < size)
		return 0;
	if (v6)
		buf[0] = reply ? ICMP_V6_ECHO_REPLY : ICMP_V6_ECHO_REQUEST;
	else
		buf[0] = reply ? ICMP_V4_ECHO_REPLY : ICMP_V4_ECHO_REQUEST;
	buf[1] = 0;
	icmp_put16(buf + 2, 0);
	icmp_put16(buf + 4, id);
	icmp_put16(buf + 6, seq);
	for (size_t i = 0; i < size; i++)
		buf[ICMP_HDR_LEN + i] = (uint8_t)(0x10 + i);
	if (size >= ICMP_TS_LEN)
		for (int i = 0; i < ICMP_TS_LEN; i++)
			buf[ICMP_HDR_LEN + i] = (uint8_t)(ts >> (56 - 8 * i));
	if (!v6)
		icmp_put16(buf + 2, icmp_checksum(buf, len));
	return len;
}

/* Fill out from an ICMP(v6) echo message msg[0..len-1] whose type is known
 * to be a reply. */
static inline void
icmp_echo_fields(const uint8_t *msg, size_t len, struct icmp_echo *out)
{
	out->id = icmp_get16(msg + 4);
	out->seq = icmp_get16(msg + 6);
	out->payload = msg + ICMP_HDR_LEN;
	out->payload_len = len - ICMP_HDR_LEN;
	out->has_ts = out->payload_len >= ICMP_TS_LEN;
	out->ts = 0;
	if (out->has_ts)
		for (int i = 0; i < ICMP_TS_LEN; i++)
			out->ts = out->ts << 8 | out->payload[i];
}

/* Parse what an IPv4 ICMP socket returned: with the IPv4 header (raw socket,
 * iphdr = 1) or without (ping socket, iphdr = 0).  Returns ICMP_PARSE_OK and
 * fills out, or an enum icmp_parse_err (out then undefined). */
static inline int
icmp_parse_reply4(const void *buf, size_t len, int iphdr, struct icmp_echo *out)
{
	const uint8_t *p = buf, *msg = p;
	size_t ihl, mlen = len;
	uint8_t ttl = 0;

	if (iphdr) {
		if (len < ICMP_IP4_MIN_HDR)
			return ICMP_PARSE_SHORT;
		if ((p[0] >> 4) != 4)
			return ICMP_PARSE_BAD_IP;
		ihl = (size_t)(p[0] & 0x0f) * 4;
		if (ihl < ICMP_IP4_MIN_HDR)
			return ICMP_PARSE_BAD_IP;
		if (len < ihl)
			return ICMP_PARSE_SHORT;
		if (p[9] != 1 || (icmp_get16(p + 6) & 0x3fff) != 0)
			return ICMP_PARSE_BAD_IP; /* not ICMP, or a fragment */
		if (icmp_get16(p + 2) != len)
			return ICMP_PARSE_BAD_LENGTH;
		ttl = p[8];
		msg = p + ihl;
		mlen = len - ihl;
	}
	if (mlen < ICMP_HDR_LEN)
		return ICMP_PARSE_SHORT;
	if (icmp_checksum(msg, mlen) != 0)
		return ICMP_PARSE_BAD_CHECKSUM;
	if (msg[0] != ICMP_V4_ECHO_REPLY || msg[1] != 0)
		return ICMP_PARSE_NOT_REPLY;
	icmp_echo_fields(msg, mlen, out);
	out->ttl = ttl;
	return ICMP_PARSE_OK;
}

/* Parse what an ICMPv6 socket returned (never an IPv6 header).  The checksum
 * is checked only when both 16-byte addresses src (the replier) and dst (us)
 * are given; the kernel has checked it already on Linux. */
static inline int
icmp_parse_reply6(const void *buf, size_t len, const uint8_t *src, const uint8_t *dst,
                  struct icmp_echo *out)
{
	const uint8_t *msg = buf;

	if (len < ICMP_HDR_LEN)
		return ICMP_PARSE_SHORT;
	if (src && dst && icmp6_checksum(msg, len, src, dst) != 0)
		return ICMP_PARSE_BAD_CHECKSUM;
	if (msg[0] != ICMP_V6_ECHO_REPLY || msg[1] != 0)
		return ICMP_PARSE_NOT_REPLY;
	icmp_echo_fields(msg, len, out);
	out->ttl = 0;
	return ICMP_PARSE_OK;
}

#endif
