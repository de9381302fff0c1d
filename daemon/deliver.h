/* deliver.h - what a notification transport (trap, webhook, mail) tells
 * the outbox about one delivery attempt. */
#ifndef LW_DELIVER_H
#define LW_DELIVER_H

enum deliver_result {
	DELIVER_OK = 0,  /* delivered: remove from the outbox */
	DELIVER_PENDING, /* under way: the callback will tell */
	DELIVER_RETRY,   /* failed for now: try again after a back-off */
	DELIVER_REJECT,  /* can never succeed (the receiver refuses this payload): drop
	                    it */
};

/* Called once per attempt that returned DELIVER_PENDING, from the event
 * loop, never from inside the send call.  why: a short reason for logs,
 * never containing a community, key or password. */
typedef void (*deliver_cb)(void *arg, enum deliver_result r, const char *why);

#endif
