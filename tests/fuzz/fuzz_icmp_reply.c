/* fuzz_icmp_reply.c - libFuzzer harness for the ICMP / ICMPv6 echo reply parser.
 *
 * The first input byte picks how the rest is read, as the icmp plugin's
 * sockets return it: 0 IPv4 raw (IP header first), 1 IPv4 ping socket,
 * 2 ICMPv6, 3 ICMPv6 with checksum check (the next 32 bytes are the source
 * and destination addresses).  Seeds: tests/fuzz/corpus/icmp_reply/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "icmp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(const uint8_t *pkt, size_t len, const struct icmp_echo *e)
{
	/* the payload lies inside the packet, after an 8-byte ICMP header */
	if (e->payload < pkt + ICMP_HDR_LEN || e->payload + e->payload_len != pkt + len)
		abort();
	if (e->has_ts != (e->payload_len >= ICMP_TS_LEN))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct icmp_echo e;
	const uint8_t *pkt;
	size_t len;
	uint8_t *copy;
	int rc = -1;

	if (size < 1)
		return 0;
	/* an exact-size heap copy so that ASan sees any read past the end */
	len = size - 1;
	copy = malloc(len ? len : 1);
	if (copy == NULL)
		return 0;
	for (size_t i = 0; i < len; i++)
		copy[i] = data[1 + i];
	pkt = copy;
	switch (data[0] & 3) {
	case 0:
		rc = icmp_parse_reply4(pkt, len, 1, &e);
		break;
	case 1:
		rc = icmp_parse_reply4(pkt, len, 0, &e);
		break;
	case 2:
		rc = icmp_parse_reply6(pkt, len, NULL, NULL, &e);
		break;
	case 3:
		if (len < 32)
			break;
		rc = icmp_parse_reply6(pkt + 32, len - 32, pkt, pkt + 16, &e);
		pkt += 32;
		len -= 32;
		break;
	}
	if (rc == ICMP_PARSE_OK)
		check_reply(pkt, len, &e);
	else if (rc >= ICMP_PARSE_NERR)
		abort();
	(void)icmp_parse_strerror(rc);
	free(copy);
	return 0;
}
