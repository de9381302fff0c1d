/* appclass_load.h - finding and opening appclass-ndpi.so (appclass.h).
 *
 * The core's only contact with nDPI: linewatchd does not link libndpi.  A
 * linewatchd built with NDPI=0 has no plugin to load: captures with
 * `applications = yes` then name services by their ports only, as before.
 */
#ifndef LW_APPCLASS_LOAD_H
#define LW_APPCLASS_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "appclass.h"

/* Whether this linewatchd was built with nDPI, i.e. with appclass-ndpi.so
 * beside it: without, appclass_open always fails. */
bool appclass_built(void);

/* Open DIR/appclass-ndpi.so and check its table.  Returns the handle (*tp
 * set) or NULL with err saying what to do. */
void *appclass_open(const char *dir, const struct lw_appclass **tp, char *err, size_t errlen);
/* Unloads it (nDPI with it): every instance must be destroyed first. */
void appclass_close(void *dl);

#endif
