/* fuzz_decode.c - libFuzzer harness for the packet decoder and the aggregator
 *
 * First byte: link type (index into the handled ones), the rest: the frame.
 * With nDPI, appclass.c (appclass-ndpi.so's code) is linked in and driven
 * through its table, as the capture thread drives the plugin. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "appclass.h"
#include "decode.h"
#include "traffic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {
    DECODE_LINK_ETHERNET, DECODE_LINK_SLL,  DECODE_LINK_SLL2, DECODE_LINK_RAW,  DECODE_LINK_RAW_OLD,
    DECODE_LINK_NULL,     DECODE_LINK_LOOP, DECODE_LINK_IPV4, DECODE_LINK_IPV6, 9999,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct traffic_agg *agg;
	static struct traffic_report *rep;
	static struct appclass *apps; /* NULL without nDPI */
#ifdef LW_NDPI
	static const struct lw_appclass *ac = &lw_appclass;
#else
	static const struct lw_appclass *ac = NULL;
#endif
	static unsigned n;
	struct decode_pkt p;
	enum decode_result r;
	uint8_t *copy;
	int link;

	if (size < 1)
		return 0;
	if (agg == NULL) {
		agg = traffic_agg_new(1 << 20, 8, 1);
		rep = traffic_report_new(8);
		if (agg == NULL || rep == NULL)
			abort();
		/* small: the flow table and the state pool wrap around quickly */
		if (ac != NULL && (apps = ac->create(256 * 1024)) == NULL)
			abort();
	}
	link = links[data[0] % (sizeof(links) / sizeof(links[0]))];
	/* an exact-size heap copy: ASan catches any read past the capture */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (copy == NULL)
		return 0;
	for (size_t i = 1; i < size; i++)
		copy[i - 1] = data[i];
	r = decode_packet(link, copy, size - 1, &p);
	if (r == DECODE_OK && (p.l3_off >= size - 1 || (p.l4_off && p.l4_off >= size - 1)))
		abort();
	if ((p.flags & DECODE_F_INNER) && (p.inner_off <= p.l4_off || p.inner_off >= size - 1 ||
	                                   (p.inner_family != 4 && p.inner_family != 6)))
		abort();
	traffic_agg_frame(agg, (uint32_t)size);
	traffic_agg_add(agg, r, &p, (uint32_t)size, 1 + (data[0] >> 7));
	if (apps) {
		struct timeval ts = {.tv_sec = n / 64};

		ac->add(apps, r, &p, copy, (uint32_t)(size - 1), (uint32_t)size, 1 + (data[0] >> 7),
		        &ts);
	}
	if (++n % 1024 == 0) {
		traffic_agg_flush(agg, rep);
		if (apps)
			ac->flush(apps, rep, n % 4096 == 0);
		json_decref(traffic_report_json(rep));
	}
	free(copy);
	return 0;
}
