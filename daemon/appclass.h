/* appclass.h - application classification of captured flows with nDPI.
 *
 * Optional: built when libndpi is found (LW_NDPI); without it every
 * function is a stub, appclass_new() returns NULL and services keep being
 * named by their well-known ports.  Per capture, in the capture thread.
 *
 * Memory is fixed at appclass_new(): a set-associative flow table (a new
 * flow takes the place of the least recently seen one of its set) and a
 * pool of nDPI flow states, handed out in turn: a flow still being
 * classified when its state is needed again is given up on (nDPI's guess
 * by port).  A flow holds a state only until it is classified or has been
 * seen APPCLASS_MAX_PKTS times.  Nothing is allocated per packet; nDPI
 * itself allocates small per-flow strings (host names, certificate names)
 * while a flow is being classified, freed when its state is reused.
 * Bytes of a flow count for its application once it is known (the packets
 * before that included).
 */
#ifndef LW_APPCLASS_H
#define LW_APPCLASS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "decode.h"
#include "traffic.h"

#define APPCLASS_MAX_PKTS 32  /* packets of a flow nDPI sees before we give up */
#define APPCLASS_SNAPLEN 1024 /* bytes of each frame a classifying capture keeps */
#define APPCLASS_NAMES 512    /* distinct applications counted per interval */

struct appclass;

struct appclass_stats {
	uint64_t flows;            /* flows classified (including given up) */
	uint64_t flow_evictions;   /* flows pushed out of the flow table */
	uint64_t detect_evictions; /* flows given up on for want of an nDPI state */
};

/* Whether this linewatchd was built with nDPI, and which. */
bool appclass_available(void);
const char *appclass_version(void);

/* budget: bytes for the flow table and the nDPI states together (nDPI's
 * protocol tables, about 6 MB per capture, come on top).  NULL without
 * nDPI or if memory is short. */
struct appclass *appclass_new(uint64_t budget);
void appclass_free(struct appclass *a);
/* Flow table entries and nDPI states (tests, logs). */
void appclass_size(const struct appclass *a, size_t *flows, size_t *states);

/* One frame (after decoding): frame bytes as captured, the wire length,
 * the sampling scale.  Frames that are not IP, or later fragments, count as
 * "Unknown". */
void appclass_add(struct appclass *a, enum decode_result r, const struct decode_pkt *p,
                  const uint8_t *frame, uint32_t caplen, uint32_t wirelen, uint32_t scale,
                  const struct timeval *ts);

/* The interval's applications, heaviest first, into r (up to
 * TRAFFIC_APPS_MAX), with the evictions counted since the last flush;
 * starts a new interval.  Flows still being classified carry their bytes
 * over to the interval that knows their application, unless `last` (end
 * of a file): then nDPI guesses now. */
void appclass_flush(struct appclass *a, struct traffic_report *r, bool last);

void appclass_stats(const struct appclass *a, struct appclass_stats *out);

#endif
