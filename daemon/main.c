/* main.c - linewatchd: arguments, lifecycle, signals, privilege drop */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "pidfile.h"
#include "sample.h"
#include "state.h"
#include "replay.h"
#include "suggest.h"
#include "auth.h"
#include "static_files.h"
#include "graph.h"
#include "metrics.h"
#include "pages.h"
#include "pages_tickets.h"
#include "rrd_store.h"
/* MODULES: includes */
#include "api_devices.h"
#include "snmp_poll.h"
#include "api_probes.h"
#include "probe.h"
#include "capture.h"
#include "api_traffic.h"
#include "db.h"
#include "notify.h"
#include "api_notify.h"
#include "incident.h"
#include "api_tickets.h"
#include "api_links.h"

#ifndef LW_SYSCONFDIR
#define LW_SYSCONFDIR "/etc/linewatch"
#endif

struct lwd {
	struct event_base *base;
	struct lw_config *cfg;
	const char *cfgpath;
	struct lw_bus *bus;
	struct lw_state *state;
	struct lw_http *http;
	struct pidfile *pidfile;
	struct event *ev_term, *ev_int, *ev_hup;
	struct event *ev_trim;
	time_t started;
	time_t loaded;
	unsigned reloads;
	int reload_failed;
	struct auth *auth;
	struct static_files *static_files;
	struct graph *graph;
	struct pages *pages;
	struct pages_tickets_ctx *pages_tickets;
	struct metrics *metrics;
	struct rrd_store *rrd;
	json_t *link_states; /* link name -> last state told upstream */
	/* MODULES: fields */
	struct snmp_poller *snmp;
	struct probe_engine *probes;
	struct captures *captures;
	struct db *db; /* linewatch.db: tickets, notification outbox */
	struct notify *notify;
	struct incidents *incidents;
};

static void
usage(void)
{
	fprintf(stderr,
	        "usage: linewatchd [-fdtV] [-c FILE]\n"
	        "       linewatchd --suggest-config\n"
	        "       linewatchd --hash-password\n"
	        "       linewatchd --replay FILE.pcap [-c FILE] [--capture NAME] [--top N]\n"
	        "                  [--local CIDR]... [--intervals] [--table | --json]\n"
	        "                  [--applications [--plugin-dir DIR]]\n"
	        "  -f  stay in the foreground, log to stderr\n"
	        "  -d  debug log level\n"
	        "  -c  configuration file (default " LW_SYSCONFDIR "/linewatch.conf)\n"
	        "  -t  check the configuration and exit\n"
	        "  -V  print the version and exit\n");
	exit(2);
}

static void
print_error(const char *msg, void *arg)
{
	int *n = arg;

	if (n)
		(*n)++;
	fprintf(stderr, "%s\n", msg);
}

static void
log_error_cb(const char *msg, void *arg)
{
	int *n = arg;

	if (n)
		(*n)++;
	log_error("%s", msg);
}

/* Plugin-level checks need the plugins, so they run after the core parse. */
static int
check_modules(const struct lw_config *cfg, config_error_cb cb, int *nerr)
{
	/* MODULES: config checks (each adds its error count to *nerr) */
	*nerr += snmp_poller_check(cfg, cb, NULL);
	*nerr += probe_check_config(cfg, cb, NULL);
	*nerr += notify_check_config(cfg, cb, NULL);
	*nerr += capture_check_config(cfg, cb, NULL);
	(void)cfg;
	(void)cb;
	return *nerr;
}

static int
hash_password(void)
{
	char pw[256], pw2[256];
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO);
	char *salt, *h;

	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else
		tty = 0;
	if (tty)
		fprintf(stderr, "password: ");
	if (fgets(pw, sizeof(pw), stdin) == NULL)
		pw[0] = '\0';
	if (tty) {
		fprintf(stderr, "\nagain: ");
		if (fgets(pw2, sizeof(pw2), stdin) == NULL)
			pw2[0] = '\0';
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	if (tty) {
		pw2[strcspn(pw2, "\r\n")] = '\0';
		if (strcmp(pw, pw2) != 0) {
			fprintf(stderr, "linewatchd: the passwords differ\n");
			return 1;
		}
	}
	if (strlen(pw) < 8) {
		fprintf(stderr, "linewatchd: use a password of at least 8 characters\n");
		return 1;
	}
	salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
	if (salt == NULL) {
		fprintf(stderr, "linewatchd: cannot make a salt: %s\n", strerror(errno));
		return 1;
	}
	h = crypt(pw, salt);
	free(salt);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(pw2, sizeof(pw2));
	if (h == NULL || h[0] == '*') {
		fprintf(stderr, "linewatchd: crypt failed\n");
		return 1;
	}
	printf("%s\n", h);
	return 0;
}

static int
prepare_state_dir(const struct lw_config *cfg, const struct passwd *pw)
{
	char probe[4096];
	int fd;

	if (mkdir(cfg->state_dir, 0750) == -1 && errno != EEXIST) {
		log_warn("state-dir %s cannot be created", cfg->state_dir);
		return -1;
	}
	if (pw != NULL && chown(cfg->state_dir, pw->pw_uid, pw->pw_gid) == -1) {
		log_warn("state-dir %s cannot be given to user %s", cfg->state_dir, pw->pw_name);
		return -1;
	}
	snprintf(probe, sizeof(probe), "%s/.write-test", cfg->state_dir);
	fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1) {
		log_warn("state-dir %s is not writable (fix its owner or permissions, or set "
		         "state-dir)",
		         cfg->state_dir);
		return -1;
	}
	close(fd);
	unlink(probe);
	return 0;
}

static void
drop_privileges(const struct passwd *pw)
{
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges to user %s", pw->pw_name);
	/* Verify: getting root back must be impossible. */
	if (pw->pw_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		fatalx("privileges were not dropped: still able to become root");
	log_info("running as user %s", pw->pw_name);
}

static void
health_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	struct lwd *d = arg;
	json_t *j;

	if (rest[0] != '\0') {
		http_reply_error(req, 404, "no such page");
		return;
	}
	j = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:I, s:i, s:b, s:i, s:i}}", "status", "ok",
	              "version", LW_VERSION, "site", d->cfg->site, "uptime_s",
	              (json_int_t)(time(NULL) - d->started), "config", "file", d->cfg->file,
	              "loaded", (json_int_t)d->loaded, "reloads", (int)d->reloads,
	              "last_reload_failed", d->reload_failed, "devices", (int)d->cfg->ndevices,
	              "links", (int)d->cfg->nlinks);
	http_reply_json(req, 200, j);
}

static void
rrd_metrics(struct evbuffer *b, void *arg)
{
	struct rrd_store_stats st;

	rrd_store_stats(arg, &st);
	metrics_family(b, "linewatch_rrd_queue_length", "gauge",
	               "Samples waiting for the RRD writer.");
	metrics_value(b, "linewatch_rrd_queue_length", (double)st.queued, (const char *)NULL);
	metrics_family(b, "linewatch_rrd_updates_total", "counter", "RRD updates written.");
	metrics_value(b, "linewatch_rrd_updates_total", (double)st.written, (const char *)NULL);
	metrics_family(b, "linewatch_rrd_dropped_total", "counter",
	               "Samples dropped because the RRD queue was full.");
	metrics_value(b, "linewatch_rrd_dropped_total", (double)st.dropped, (const char *)NULL);
	metrics_family(b, "linewatch_rrd_held_rows", "gauge",
	               "RRD rows held for a batched write (rrd-write-delay).");
	metrics_value(b, "linewatch_rrd_held_rows", (double)st.held, (const char *)NULL);
	metrics_family(b, "linewatch_rrd_errors_total", "counter",
	               "Failed RRD creates or updates.");
	metrics_value(b, "linewatch_rrd_errors_total", (double)st.errors, (const char *)NULL);
}

/* On the graph thread: a graph shows the rows held for its file too. */
static void
graph_sync_rrd(const char *file, void *arg)
{
	rrd_store_sync_file(arg, file, 3000);
}

static void
graph_metrics(struct evbuffer *b, void *arg)
{
	struct graph_stats st;

	graph_stats(arg, &st);
	metrics_family(b, "linewatch_graphs_rendered_total", "counter", "Graphs drawn.");
	metrics_value(b, "linewatch_graphs_rendered_total", (double)st.rendered,
	              (const char *)NULL);
	metrics_family(b, "linewatch_graphs_refused_total", "counter",
	               "Graph requests refused (bad parameters, no history, busy).");
	metrics_value(b, "linewatch_graphs_refused_total", (double)st.refused, (const char *)NULL);
	metrics_family(b, "linewatch_graph_queue_length", "gauge", "Graphs waiting to be drawn.");
	metrics_value(b, "linewatch_graph_queue_length", (double)st.queued, (const char *)NULL);
}

/* MODULES: ticket events (incident.h) to notifications and capture evidence */
/* Link state changes only with a ticket event: tell upstream each change
 * once (lwLinkStateChanged). */
static void
link_state_check(struct lwd *d, const char *link, int64_t time_ms)
{
	const struct lw_link *l = config_link(d->cfg, link);
	struct incident_link_status st;
	json_t *old;
	char text[160];

	if (l == NULL || d->notify == NULL || incidents_link_status(d->incidents, link, &st) != 0)
		return;
	if (d->link_states == NULL && (d->link_states = json_object()) == NULL)
		return;
	old = json_object_get(d->link_states, link);
	if (old != NULL && strcmp(json_string_value(old), st.state) == 0)
		return;
	snprintf(text, sizeof(text), "link %s is %s (was %s)", link, st.state,
	         old ? json_string_value(old) : "ok");
	struct notify_event ne = {
	    .type = NOTIFY_LINK_STATE,
	    .time_ms = time_ms,
	    .link = link,
	    .provider = l->provider,
	    .circuit = l->circuit,
	    .link_state = strcmp(st.state, "ok") == 0 ? "up" : st.state,
	    .blame = st.blame,
	    .text = text,
	};
	if (st.ticket != NULL) {
		ne.ref = st.ticket->ref;
		ne.title = st.ticket->title;
	}
	notify_post(d->notify, &ne);
	json_object_set_new(d->link_states, link, json_string(st.state));
}

static void
on_ticket_event(const struct ticket_event *ev, void *arg)
{
	struct lwd *d = arg;
	struct notify_event ne = {
	    .time_ms = ev->time_ms,
	    .ref = ev->ref,
	    .kind = ev->kind,
	    .severity = ev->severity,
	    .state = ev->state,
	    .title = ev->title,
	    .link = ev->link,
	    .provider = ev->provider,
	    .circuit = ev->circuit,
	    .metrics_json = ev->metrics,
	    .text = ev->text,
	    .by = ev->who,
	    .device = ev->device,
	    .blame = ev->blame,
	};

	if (!strcmp(ev->type, "opened"))
		ne.type = NOTIFY_OPENED;
	else if (!strcmp(ev->type, "reopened"))
		ne.type = NOTIFY_REOPENED;
	else if (!strcmp(ev->type, "acknowledged"))
		ne.type = NOTIFY_ACKNOWLEDGED;
	else if (!strcmp(ev->type, "comment"))
		ne.type = NOTIFY_COMMENTED;
	else if (!strcmp(ev->type, "resolved"))
		ne.type = NOTIFY_RESOLVED;
	else if (!strcmp(ev->type, "severity") || !strcmp(ev->type, "flapping") ||
	         !strcmp(ev->type, "blame") || !strcmp(ev->type, "suppressed"))
		ne.type = NOTIFY_UPDATED;
	if (ne.type != 0 && d->notify != NULL)
		notify_post(d->notify, &ne);
	if (ev->link != NULL)
		link_state_check(d, ev->link, ev->time_ms);
	if ((ne.type == NOTIFY_OPENED || ne.type == NOTIFY_REOPENED) && ev->link &&
	    d->captures != NULL)
		captures_ticket_opened(d->captures, ev->link, ev->ref,
		                       (time_t)(ev->time_ms / 1000));
}

static json_t *
ticket_talkers_cb(const char *link, time_t from, time_t to, void *arg)
{
	struct lwd *d = arg;

	return d->captures ? traffic_top_talkers(d->captures, link, from, to) : NULL;
}

static int
api_read_guard(struct evhttp_request *req, void *arg)
{
	return auth_may_read(arg, req);
}

static int
modules_start(struct lwd *d)
{
	const struct lw_config *const *cfgp = (const struct lw_config *const *)&d->cfg;
	char err[1024];

	/* MODULES: start (before privileges are dropped; return -1 on failure).
	 * Consumers first, so they see the sources' first samples. */
	if ((d->rrd = rrd_store_new(d->base, d->bus, d->cfg)) == NULL)
		return -1;
	if ((d->db = db_open(d->cfg->state_dir, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return -1;
	}
	if (db_attach(d->db, d->base) != 0 ||
	    (d->notify = notify_new(d->base, d->db, d->cfg)) == NULL)
		return -1;
	if ((d->incidents = incidents_new(d->base, d->bus, d->db, d->cfg)) == NULL ||
	    ticket_subscribe(d->incidents, on_ticket_event, d) != 0)
		return -1;
	incidents_set_talkers(d->incidents, ticket_talkers_cb, d);
	d->auth = auth_new(d->base, d->http, d->cfg);
	if (d->auth == NULL)
		return -1;
	http_set_guard(d->http, api_read_guard, d->auth);
	api_tickets_register(d->http, d->incidents, d->db, d->auth, cfgp);
	api_links_register(d->http, d->state, d->incidents, cfgp);
	d->static_files = static_files_new(d->http, cfgp);
	d->graph = graph_new(d->base, d->http, cfgp);
	if (d->auth == NULL || d->static_files == NULL || d->graph == NULL)
		return -1;
	graph_set_sync(d->graph, graph_sync_rrd, d->rrd);
	if ((d->pages = pages_new(d->http, d->state, d->auth, cfgp)) == NULL ||
	    (d->pages_tickets =
	         pages_tickets_new(d->http, d->pages, d->incidents, d->auth, cfgp)) == NULL)
		return -1;
	if ((d->metrics = metrics_new(d->http, d->state, d->auth, cfgp)) == NULL ||
	    metrics_add_source(d->metrics, rrd_metrics, d->rrd) != 0 ||
	    metrics_add_source(d->metrics, graph_metrics, d->graph) != 0)
		return -1;
	if (api_notify_register(d->http, d->notify, d->auth) != 0 ||
	    metrics_add_source(d->metrics, api_notify_metrics, d->notify) != 0)
		return -1;
	if ((d->probes = probe_engine_new(d->base, d->bus, d->cfg)) == NULL)
		return -1;
	api_probes_register(d->http, d->state, cfgp);
	if ((d->snmp = snmp_poller_new(d->base, d->bus, d->cfg)) == NULL)
		return -1;
	api_devices_register(d->http, d->state, cfgp);
	/* interfaces are opened here, while still privileged */
	if ((d->captures = captures_start(d->base, d->cfg, d->bus)) == NULL ||
	    api_traffic_register(d->http, d->captures, d->auth) != 0)
		return -1;
	return 0;
}

static void
modules_reload(struct lwd *d, struct lw_config *ncfg)
{
	/* MODULES: reload (each module switches to ncfg) */
	rrd_store_reload(d->rrd, ncfg);
	auth_reload(d->auth, ncfg);
	probe_engine_reload(d->probes, ncfg);
	snmp_poller_reload(d->snmp, ncfg);
	captures_reload(d->captures, ncfg);
	notify_reload(d->notify, ncfg);
	incidents_reload(d->incidents, ncfg);
}

static void
modules_stop(struct lwd *d)
{
	/* MODULES: stop (sources first, then consumers, then the web) */
	captures_stop(d->captures);
	d->captures = NULL;
	snmp_poller_free(d->snmp);
	d->snmp = NULL;
	probe_engine_free(d->probes);
	d->probes = NULL;
	incidents_free(d->incidents); /* before notify: no ticket event reaches it after */
	d->incidents = NULL;
	notify_free(d->notify);
	d->notify = NULL;
	db_close(d->db); /* after every user: drains the last writes */
	d->db = NULL;
	graph_free(d->graph); /* its thread asks rrd_store for held rows */
	d->graph = NULL;
	rrd_store_free(d->rrd);
	d->rrd = NULL;
	api_links_free();
	metrics_free(d->metrics);
	pages_tickets_free(d->pages_tickets);
	pages_free(d->pages);
	static_files_free(d->static_files);
	auth_free(d->auth);
}

static void
reload(struct lwd *d)
{
	struct lw_config *ncfg;
	int nerr = 0;

	log_info("reloading %s", d->cfgpath);
	ncfg = config_load(d->cfgpath, log_error_cb, &nerr);
	if (ncfg != NULL && check_modules(ncfg, log_error_cb, &nerr) > 0) {
		config_free(ncfg);
		ncfg = NULL;
	}
	if (ncfg == NULL) {
		log_error("configuration %s has errors: keeping the running configuration",
		          d->cfgpath);
		d->reload_failed = 1;
		return;
	}
	if (ncfg->http.nlisten != d->cfg->http.nlisten)
		log_warnx("http listen changes take effect at the next restart");
	if (ncfg->user && (!d->cfg->user || strcmp(ncfg->user, d->cfg->user) != 0))
		log_warnx("user changes take effect at the next restart");
	log_setlevel(ncfg->log_level);
	modules_reload(d, ncfg);
	http_set_config(d->http, ncfg);
	config_free(d->cfg);
	d->cfg = ncfg;
	d->loaded = time(NULL);
	d->reloads++;
	d->reload_failed = 0;
	log_info("configuration reloaded: %zu devices, %zu links", ncfg->ndevices, ncfg->nlinks);
}

static void
on_signal(evutil_socket_t sig, short ev, void *arg)
{
	struct lwd *d = arg;

	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	log_info("received signal %d, shutting down", (int)sig);
	event_base_loopexit(d->base, NULL);
}

static void
detach(void)
{
	pid_t pid = fork();
	int fd;

	if (pid == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		fatal("setsid");
	pid = fork();
	if (pid == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		fatal("chdir /");
	fd = open("/dev/null", O_RDWR);
	if (fd != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

/* libevent's own messages ("Nameserver ... has failed") go to our log. */
static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

static void
setup_signals(struct lwd *d)
{
	signal(SIGPIPE, SIG_IGN);
	d->ev_term = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->ev_int = evsignal_new(d->base, SIGINT, on_signal, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_signal, d);
	if (!d->ev_term || !d->ev_int || !d->ev_hup || evsignal_add(d->ev_term, NULL) ||
	    evsignal_add(d->ev_int, NULL) || evsignal_add(d->ev_hup, NULL))
		fatalx("cannot set up signal handling");
}

/* glibc gives back to the kernel only the free memory at the top of the
 * heap.  A poll cycle's short-lived allocations (responses, rows on their
 * way to the RRD writer) free pages below long-lived ones, and those pages
 * stayed resident: 3.5 of 17.7 MB anonymous in the SNMP benchmark (4,800
 * interfaces).  malloc_trim hands them back; it walks the free lists only
 * (well under a millisecond here), so every 10 s costs nothing. */
static void
on_trim(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	malloc_trim(0);
}

static void
setup_trim(struct lwd *d)
{
	struct timeval tv = {10, 0};

	d->ev_trim = event_new(d->base, -1, EV_PERSIST, on_trim, d);
	if (d->ev_trim == NULL || event_add(d->ev_trim, &tv) != 0)
		fatalx("cannot set up the memory trim timer");
}

static void
teardown(struct lwd *d)
{
	modules_stop(d);
	http_free(d->http);
	state_free(d->state);
	sample_bus_free(d->bus);
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->ev_hup)
		event_free(d->ev_hup);
	if (d->ev_trim)
		event_free(d->ev_trim);
	event_base_free(d->base);
	pidfile_remove(d->pidfile);
	json_decref(d->link_states);
	config_free(d->cfg);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"suggest-config", no_argument, NULL, 'S'},
	    {"hash-password", no_argument, NULL, 'H'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct lwd d = {.cfgpath = LW_SYSCONFDIR "/linewatch.conf"};
	int foreground = 0, debug = 0, checkonly = 0, ch, nerr = 0;
	struct passwd *pw = NULL;

	/* glibc gives every thread that allocates an arena of its own (the
	 * writers, graphs, captures): memory freed in one cannot serve another.
	 * With two, the SNMP benchmark's anonymous memory (4,800 interfaces)
	 * went from 21.7 to 17.9 MB, about 0.6 MB of that from dropping libcurl
	 * at the same time; the threads rarely allocate at once. */
	mallopt(M_ARENA_MAX, 2);

	/* Offline analysis of a capture file has its own options (replay.h). */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--replay") == 0 || strncmp(argv[i], "--replay=", 9) == 0)
			return replay_main(argc, argv);
	while ((ch = getopt_long(argc, argv, "fdc:tV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			foreground = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'c':
			d.cfgpath = optarg;
			break;
		case 't':
			checkonly = 1;
			break;
		case 'V':
			printf("linewatchd %s\n", LW_VERSION);
			return 0;
		case 'S':
			return suggest_config(stdout);
		case 'H':
			return hash_password();
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init(1, debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	d.cfg = config_load(d.cfgpath, print_error, &nerr);
	if (d.cfg != NULL)
		check_modules(d.cfg, print_error, &nerr);
	if (nerr > 0 || d.cfg == NULL) {
		fprintf(stderr, "linewatchd: %d error%s in %s\n", nerr ? nerr : 1,
		        nerr == 1 ? "" : "s", d.cfgpath);
		config_free(d.cfg);
		return 1;
	}
	if (checkonly) {
		printf("configuration OK\n");
		config_free(d.cfg);
		return 0;
	}
	if (!debug)
		log_setlevel(d.cfg->log_level);
	if (d.cfg->user != NULL && (pw = getpwnam(d.cfg->user)) == NULL)
		fatalx("user \"%s\" (from %s) does not exist: create it (adduser --system %s) or "
		       "change user =",
		       d.cfg->user, d.cfgpath, d.cfg->user);
	if (prepare_state_dir(d.cfg, pw) != 0)
		fatalx("cannot use state-dir %s", d.cfg->state_dir);

	if (!foreground) {
		detach();
		log_init(0, debug ? LOG_LVL_DEBUG : d.cfg->log_level);
	}
	d.pidfile = pidfile_create(d.cfg->pidfile);
	if (d.pidfile == NULL)
		fatalx("not starting (pidfile %s)", d.cfg->pidfile);

	d.started = d.loaded = time(NULL);
	/* Worker threads (RRD writer, database, capture) wake the loop. */
	if (evthread_use_pthreads() != 0)
		fatalx("libevent has no pthreads support");
	event_set_log_callback(libevent_log);
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((d.bus = sample_bus_new()) == NULL || (d.state = state_new(d.bus)) == NULL)
		fatalx("out of memory");
	d.http = http_new(d.base, d.cfg);
	if (d.http == NULL) {
		pidfile_remove(d.pidfile);
		fatalx("cannot start the HTTP server");
	}
	http_route(d.http, "/api/v1/health", health_cb, &d);
	if (modules_start(&d) != 0) {
		teardown(&d);
		fatalx("start-up failed");
	}
	if (pw != NULL)
		drop_privileges(pw);
	setup_signals(&d);
	setup_trim(&d);
	log_info("linewatchd %s started: site \"%s\", %zu devices, %zu links", LW_VERSION,
	         d.cfg->site, d.cfg->ndevices, d.cfg->nlinks);

	event_base_dispatch(d.base);

	teardown(&d);
	log_info("linewatchd stopped");
	return 0;
}
