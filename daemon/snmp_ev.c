/* snmp_ev.c - a net-snmp single session on the libevent loop */
#include <sys/time.h>

#include "snmp_ev.h"

void
snmp_ev_rearm(struct snmp_ev *e)
{
	struct timeval tv = {0, 0};
	int numfds = 0, block = 1;

	if (e->sess == NULL || e->ev_tmo == NULL)
		return;
	/* NOALARMS: net-snmp's own SIGALRM timers are not ours to run */
	snmp_sess_select_info2_flags(e->sess, &numfds, &e->fds, &tv, &block,
	                             NETSNMP_SELECT_NOALARMS);
	if (block)
		evtimer_del(e->ev_tmo);
	else
		evtimer_add(e->ev_tmo, &tv);
}

bool
snmp_ev_pending(struct snmp_ev *e)
{
	struct timeval tv = {0, 0};
	int numfds = 0, block = 1;

	if (e->sess == NULL)
		return false;
	/* a deadline means a request awaits its answer or a retry */
	snmp_sess_select_info2_flags(e->sess, &numfds, &e->fds, &tv, &block,
	                             NETSNMP_SELECT_NOALARMS);
	return !block;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct snmp_ev *e = arg;

	NETSNMP_LARGE_FD_ZERO(&e->fds);
	NETSNMP_LARGE_FD_SET(fd, &e->fds);
	snmp_sess_read2(e->sess, &e->fds);
	snmp_ev_rearm(e);
}

static void
on_tmo(evutil_socket_t fd, short what, void *arg)
{
	struct snmp_ev *e = arg;

	snmp_sess_timeout(e->sess);
	snmp_ev_rearm(e);
}

int
snmp_ev_open(struct snmp_ev *e, struct event_base *base, void *sess)
{
	netsnmp_transport *tr = snmp_sess_transport(sess);

	e->sess = sess;
	if (tr == NULL || tr->sock < 0)
		return -1;
	netsnmp_large_fd_set_init(&e->fds, tr->sock + 1);
	e->fds_init = true;
	e->ev_read = event_new(base, tr->sock, EV_READ | EV_PERSIST, on_read, e);
	e->ev_tmo = evtimer_new(base, on_tmo, e);
	if (e->ev_read == NULL || e->ev_tmo == NULL || event_add(e->ev_read, NULL) != 0)
		return -1;
	return 0;
}

void
snmp_ev_close(struct snmp_ev *e)
{
	if (e->ev_read)
		event_free(e->ev_read);
	if (e->ev_tmo)
		event_free(e->ev_tmo);
	if (e->fds_init)
		netsnmp_large_fd_set_cleanup(&e->fds);
	e->ev_read = e->ev_tmo = NULL;
	e->fds_init = false;
	e->sess = NULL;
}
