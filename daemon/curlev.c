/* curlev.c - libcurl multi on libevent (the socket/timer callback API) */
#include <stdbool.h>
#include <stdlib.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "curlev.h"
#include "log.h"

struct xfer {
	CURL *easy;
	curlev_done_cb cb;
	void *arg;
	struct xfer *next;
};

struct sock {
	struct event *ev;
	struct curlev *ce;
};

struct curlev {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct xfer *xfers;
	bool in_check; /* reaping finished transfers: no recursion */
};

static void
unlink_xfer(struct curlev *ce, struct xfer *x)
{
	for (struct xfer **p = &ce->xfers; *p; p = &(*p)->next)
		if (*p == x) {
			*p = x->next;
			return;
		}
}

/* Hand every finished transfer to its owner. */
static void
check_done(struct curlev *ce)
{
	CURLMsg *msg;
	int left;

	if (ce->in_check)
		return;
	ce->in_check = true;
	while ((msg = curl_multi_info_read(ce->multi, &left)) != NULL) {
		struct xfer *x = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode res = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(ce->multi, easy);
		if (x == NULL)
			continue;
		unlink_xfer(ce, x);
		x->cb(easy, res, x->arg);
		free(x);
	}
	ce->in_check = false;
}

static void
on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct curlev *ce = arg;
	int action = 0, running = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ce->multi, fd, action, &running);
	check_done(ce);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct curlev *ce = arg;
	int running = 0;

	curl_multi_socket_action(ce->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(ce);
}

static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curlev *ce = userp;
	struct sock *sk = socketp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			event_free(sk->ev);
			free(sk);
			curl_multi_assign(ce->multi, s, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (sk == NULL) {
		if ((sk = calloc(1, sizeof(*sk))) == NULL)
			return -1;
		sk->ce = ce;
		curl_multi_assign(ce->multi, s, sk);
	} else {
		event_free(sk->ev);
	}
	sk->ev = event_new(ce->base, s, kind, on_sock, ce);
	if (sk->ev == NULL || event_add(sk->ev, NULL) != 0) {
		log_warnx("curl: cannot watch a socket");
		return -1;
	}
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlev *ce = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(ce->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(ce->timer, &tv) == 0 ? 0 : -1;
}

struct curlev *
curlev_new(struct event_base *base)
{
	struct curlev *ce = calloc(1, sizeof(*ce));

	if (ce == NULL)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(ce);
		return NULL;
	}
	ce->base = base;
	ce->multi = curl_multi_init();
	ce->timer = evtimer_new(base, on_timer, ce);
	if (ce->multi == NULL || ce->timer == NULL) {
		curlev_free(ce);
		return NULL;
	}
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce);
	return ce;
}

int
curlev_add(struct curlev *ce, CURL *easy, curlev_done_cb cb, void *arg)
{
	struct xfer *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return -1;
	x->easy = easy;
	x->cb = cb;
	x->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(ce->multi, easy) != CURLM_OK) {
		free(x);
		return -1;
	}
	x->next = ce->xfers;
	ce->xfers = x;
	return 0;
}

void
curlev_cancel(struct curlev *ce, CURL *easy)
{
	for (struct xfer *x = ce->xfers; x; x = x->next)
		if (x->easy == easy) {
			curl_multi_remove_handle(ce->multi, easy);
			unlink_xfer(ce, x);
			free(x);
			return;
		}
}

void
curlev_free(struct curlev *ce)
{
	if (ce == NULL)
		return;
	while (ce->xfers) {
		struct xfer *x = ce->xfers;
		curl_multi_remove_handle(ce->multi, x->easy);
		ce->xfers = x->next;
		free(x);
	}
	if (ce->multi)
		curl_multi_cleanup(ce->multi);
	if (ce->timer)
		event_free(ce->timer);
	free(ce);
	curl_global_cleanup();
}
