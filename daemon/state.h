/* state.h - latest sample per subject, for the API, pages and detection.
 *
 * Subscribes to the sample bus and keeps a deep copy of the newest sample of
 * every subject.  Readers (http api_*.c, detect) look samples up or iterate;
 * the returned pointers stay valid until the next sample for that subject.
 */
#ifndef LW_STATE_H
#define LW_STATE_H

#include "sample.h"

struct lw_state;

struct lw_state *state_new(struct lw_bus *bus);
void state_free(struct lw_state *st);

/* device may be NULL for probes (then link is used), name NULL for DEVICE. */
const struct lw_sample *state_get(struct lw_state *st, enum lw_subject kind, const char *owner,
                                  const char *name);

typedef void (*state_iter_cb)(const struct lw_sample *s, void *arg);
/* Visit every sample of a kind whose owner (device or link) matches; owner
 * NULL = all.  Order is insertion order. */
void state_foreach(struct lw_state *st, enum lw_subject kind, const char *owner, state_iter_cb cb,
                   void *arg);

/* Forget subjects of an owner that no longer exists after a reload. */
void state_forget(struct lw_state *st, enum lw_subject kind, const char *owner);

#endif
