/* appclass.h - application classification of captured flows with nDPI:
 * the appclass-ndpi.so plugin.
 *
 * libndpi costs every daemon about 1 MB of resident shared-library pages,
 * even one where no capture classifies.  So appclass.c lives in
 * PLUGINDIR/appclass-ndpi.so (built only when libndpi is found, LW_NDPI),
 * which appclass_load.c dlopen()s only when a capture has
 * `applications = yes` or --replay is given --applications.  The plugin
 * exports one symbol, `lw_appclass`; the loader refuses it unless abi is
 * LW_APPCLASS_ABI and the structures it reads and fills have the sizes the
 * daemon was built with.  It calls nothing of the daemon's.  The capture
 * thread takes the table's functions once and calls add() per frame.
 *
 * Per capture, in the capture thread.  Memory is fixed at create(): a
 * set-associative flow table (a new flow takes the place of the least
 * recently seen one of its set) and a pool of nDPI flow states, handed out
 * in turn: a flow still being classified when its state is needed again is
 * given up on (nDPI's guess by port).  A flow holds a state only until it
 * is classified or has been seen APPCLASS_MAX_PKTS times.  Nothing is
 * allocated per packet; nDPI itself allocates small per-flow strings (host
 * names, certificate names) while a flow is being classified, freed when
 * its state is reused.  Bytes of a flow count for its application once it
 * is known (the packets before that included).
 */
#ifndef LW_APPCLASS_H
#define LW_APPCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "decode.h"
#include "traffic.h"

/* Bump on any change to the table below or the function signatures;
 * struct decode_pkt / traffic_report changes are caught by size. */
#define LW_APPCLASS_ABI 1
#define LW_APPCLASS_FILE "appclass-ndpi.so"
#define LW_APPCLASS_SYMBOL "lw_appclass"

#define APPCLASS_MAX_PKTS 32  /* packets of a flow nDPI sees before we give up */
#define APPCLASS_SNAPLEN 1024 /* bytes of each frame a classifying capture keeps */
#define APPCLASS_NAMES 512    /* distinct applications counted per interval */

struct appclass;

struct appclass_stats {
	uint64_t flows;            /* flows classified (including given up) */
	uint64_t flow_evictions;   /* flows pushed out of the flow table */
	uint64_t detect_evictions; /* flows given up on for want of an nDPI state */
};

/* One frame (after decoding): frame bytes as captured, the wire length,
 * the sampling scale.  Frames that are not IP, or later fragments, count
 * as "Unknown".  The per-packet call. */
typedef void appclass_add_fn(struct appclass *a, enum decode_result r, const struct decode_pkt *p,
                             const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                             uint32_t scale, const struct timeval *ts);

struct lw_appclass {
	uint32_t abi;
	size_t pkt_size;    /* sizeof(struct decode_pkt) */
	size_t report_size; /* sizeof(struct traffic_report), applications inside */

	/* "nDPI 4.2.0" */
	const char *(*version)(void);

	/* budget: bytes for the flow table and the nDPI states together
	 * (nDPI's protocol tables, about 6 MB per instance, come on top).
	 * NULL if memory is short. */
	struct appclass *(*create)(uint64_t budget);
	void (*destroy)(struct appclass *a);
	/* Flow table entries and nDPI states (tests, logs). */
	void (*size)(const struct appclass *a, size_t *flows, size_t *states);

	appclass_add_fn *add;

	/* The interval's applications, heaviest first, into r (up to
	 * TRAFFIC_APPS_MAX), with the evictions counted since the last flush;
	 * starts a new interval.  Flows still being classified carry their
	 * bytes over to the interval that knows their application, unless
	 * `last` (end of a file): then nDPI guesses now. */
	void (*flush)(struct appclass *a, struct traffic_report *r, bool last);

	void (*stats)(const struct appclass *a, struct appclass_stats *out);
};

extern const struct lw_appclass lw_appclass;

#endif
