/* exec.c - run a check command that follows the Monitoring Plugins interface.
 *
 * probe "disk" {
 *     type = "exec"
 *     target = "/usr/lib/nagios/plugins/check_disk"
 *     arguments = { "-w", "20%", "-c", "10%", "-p", "/" }
 * }
 *
 * Exit code 0/1/2/3 is ok/warning/critical/unknown, anything else unknown.
 * The first output line is the message, performance data ("| label=value...")
 * becomes metrics (durations in ms, sizes in B).  The command is started with
 * posix_spawn (no shell unless shell = "yes": then `/bin/sh -c TARGET` with
 * the arguments as $1...), in its own process group, with stdin from
 * /dev/null, stdout and stderr on one non-blocking pipe, a minimal
 * environment (PATH, LC_ALL=C).  Output beyond EXEC_OUTPUT_MAX is read and
 * dropped so the command never blocks on a full pipe.  The child is reaped
 * through a pidfd (or waitpid(WNOHANG) on a timer where pidfds are missing),
 * never with SIGCHLD.  When the core times the run out, the whole process
 * group is killed and reaped in the background.
 */
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linewatch_plugin.h"
#include "plugin_util.h"

/* The parser lives in the core (unit-tested and fuzzed there); plugins are
 * built from one file and the daemon's archive would not export it. */
#include "perfdata.c"

#define EXEC_OUTPUT_MAX 8192
#define EXEC_MAX_METRICS 31 /* + execution_time */
#define EXEC_POLL_MS 100    /* reaping without pidfd */

static const char *const exec_keys[] = {"arguments", "shell", NULL};

static char *const exec_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL=C",
    NULL,
};

struct exec_run;

struct exec_inst {
	struct event_base *base;
	char **argv;
	struct exec_run *run; /* in flight */
};

struct exec_run {
	struct exec_inst *inst; /* NULL once cancelled: only reaping is left */
	lw_probe_done_cb done;
	void *arg;
	struct timespec start;
	pid_t pid;
	int pidfd;
	int outfd;
	struct event *out_ev;
	struct event *pid_ev;
	int spawn_error; /* posix_spawn failed: reported from pid_ev */
	char out[EXEC_OUTPUT_MAX + 1];
	size_t len;
	struct exec_run *next; /* on the orphan list */
};

/* Cancelled runs whose process is not reaped yet. */
static struct exec_run *orphans;

static int
exec_parse(const struct lw_probe_spec *spec, bool *shell, char *err, size_t errlen)
{
	if (pu_check_keys(spec, "exec", exec_keys, err, errlen) != 0 ||
	    pu_opt_bool(spec, "shell", false, shell, err, errlen) != 0)
		return -1;
	if (spec->target == NULL || spec->target[0] == '\0') {
		snprintf(err, errlen, "target (the command) is missing");
		return -1;
	}
	if (!*shell && spec->target[0] != '/') {
		snprintf(err, errlen,
		         "target \"%s\" must be an absolute path (like /usr/lib/nagios/plugins/"
		         "check_dummy), or set shell = \"yes\"",
		         spec->target);
		return -1;
	}
	return 0;
}

static int
exec_check(const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	bool shell;

	return exec_parse(spec, &shell, err, errlen);
}

static void
free_argv(char **argv)
{
	if (argv == NULL)
		return;
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static char **
make_argv(const struct lw_probe_spec *spec, bool shell)
{
	size_t n = 0, k = 0;
	char **argv;

	for (size_t i = 0; i < spec->nopts; i++)
		if (strcmp(spec->opts[i].key, "arguments") == 0)
			n++;
	argv = calloc(n + 5, sizeof(*argv));
	if (argv == NULL)
		return NULL;
	if (shell) {
		argv[k++] = strdup("/bin/sh");
		argv[k++] = strdup("-c");
		argv[k++] = strdup(spec->target);
		argv[k++] = strdup(spec->name ? spec->name : "linewatch"); /* $0 */
	} else {
		argv[k++] = strdup(spec->target);
	}
	for (size_t i = 0; i < spec->nopts; i++)
		if (strcmp(spec->opts[i].key, "arguments") == 0)
			argv[k++] = strdup(spec->opts[i].value);
	for (size_t i = 0; i < k; i++) {
		if (argv[i] == NULL) {
			for (size_t j = 0; j < k; j++)
				free(argv[j]);
			free(argv);
			return NULL;
		}
	}
	return argv;
}

static void *
exec_create(struct event_base *base, const struct lw_probe_spec *spec, char *err, size_t errlen)
{
	struct exec_inst *ei;
	bool shell;

	if (exec_parse(spec, &shell, err, errlen) != 0)
		return NULL;
	if ((ei = calloc(1, sizeof(*ei))) == NULL || (ei->argv = make_argv(spec, shell)) == NULL) {
		free(ei);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ei->base = base;
	return ei;
}

static void
run_free(struct exec_run *r)
{
	if (r->out_ev != NULL)
		event_free(r->out_ev);
	if (r->pid_ev != NULL)
		event_free(r->pid_ev);
	if (r->outfd != -1)
		close(r->outfd);
	if (r->pidfd != -1)
		close(r->pidfd);
	free(r);
}

static void
orphan_remove(struct exec_run *r)
{
	for (struct exec_run **p = &orphans; *p != NULL; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			return;
		}
	}
}

/* Read what is there; beyond the cap, read and drop.  Returns true at EOF
 * or on an error (the pipe is then closed). */
static bool
read_output(struct exec_run *r)
{
	char drop[1024];

	for (;;) {
		char *dst = r->len < EXEC_OUTPUT_MAX ? r->out + r->len : drop;
		size_t room = r->len < EXEC_OUTPUT_MAX ? EXEC_OUTPUT_MAX - r->len : sizeof(drop);
		ssize_t n = read(r->outfd, dst, room);

		if (n > 0) {
			if (dst != drop)
				r->len += n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		break;
	}
	event_free(r->out_ev);
	r->out_ev = NULL;
	close(r->outfd);
	r->outfd = -1;
	return true;
}

static void
out_cb(evutil_socket_t fd, short events, void *arg)
{
	read_output(arg);
}

static const char *
status_text(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exit code %d", WEXITSTATUS(status));
	return buf;
}

static void
finish(struct exec_run *r, int status, bool lost)
{
	struct perf_item items[EXEC_MAX_METRICS];
	struct lw_probe_metric m[EXEC_MAX_METRICS + 1];
	struct lw_probe_result res = {LW_PROBE_UNKNOWN, NULL, m, 0};
	lw_probe_done_cb done = r->done;
	void *arg = r->arg;
	char msg[512], text[600], how[64];
	size_t n, bad;

	if (r->outfd != -1)
		read_output(r); /* the child is gone: take what is left */
	n = perfdata_parse_output(r->out, r->len, msg, sizeof(msg), items, EXEC_MAX_METRICS, &bad);
	for (size_t i = 0; i < n; i++) {
		m[i].name = items[i].label;
		m[i].unit = perfdata_normalize(&items[i], &m[i].value);
	}
	m[n].name = "execution_time";
	m[n].unit = "ms";
	m[n].value = pu_elapsed_ms(&r->start);
	res.nmetrics = n + 1;

	if (lost) {
		snprintf(text, sizeof(text), "exit status lost (SIGCHLD ignored?): %s", msg);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) <= 3) {
		res.status = (enum lw_probe_status)WEXITSTATUS(status);
		snprintf(text, sizeof(text), "%s", msg[0] ? msg : "(no output)");
	} else {
		snprintf(text, sizeof(text), "%s%s%s", status_text(status, how, sizeof(how)),
		         msg[0] ? ": " : "", msg);
	}
	res.message = text;
	r->inst->run = NULL;
	run_free(r);
	done(&res, arg);
}

/* The child exited (or we poll): reap it without blocking. */
static void
reap_cb(evutil_socket_t fd, short events, void *arg)
{
	struct exec_run *r = arg;
	int status = 0;
	pid_t got = waitpid(r->pid, &status, WNOHANG);

	if (got == 0)
		return; /* still running (poll) or spurious */
	if (got == -1 && errno == EINTR)
		return;
	if (r->inst == NULL) {
		orphan_remove(r);
		run_free(r);
		return;
	}
	finish(r, status, got == -1);
}

static void
spawn_failed_cb(evutil_socket_t fd, short events, void *arg)
{
	struct exec_run *r = arg;
	struct lw_probe_result res = {LW_PROBE_UNKNOWN, NULL, NULL, 0};
	lw_probe_done_cb done = r->done;
	void *darg = r->arg;
	char msg[600];

	snprintf(msg, sizeof(msg), "cannot execute %s: %s", r->inst->argv[0],
	         strerror(r->spawn_error));
	res.message = msg;
	r->inst->run = NULL;
	run_free(r);
	done(&res, darg);
}

static int
spawn(struct exec_inst *ei, struct exec_run *r, int outw)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int rc;

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE); /* the daemon ignores it; commands must not */
	sigaddset(&defaults, SIGCHLD);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, outw, 1)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, outw, 2)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                              POSIX_SPAWN_SETSIGDEF)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&attr, &defaults)) == 0)
		rc = posix_spawn(&r->pid, ei->argv[0], &fa, &attr, ei->argv, exec_env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

static void
exec_run(void *inst, lw_probe_done_cb done, void *arg)
{
	struct exec_inst *ei = inst;
	struct exec_run *r = calloc(1, sizeof(*r));
	struct lw_probe_result res = {LW_PROBE_UNKNOWN, "out of resources (memory, pipe)", NULL, 0};
	struct timeval now = {0, 0}, poll = {0, EXEC_POLL_MS * 1000};
	int fds[2] = {-1, -1};

	if (r == NULL) {
		done(&res, arg); /* nothing can be scheduled */
		return;
	}
	r->inst = ei;
	r->done = done;
	r->arg = arg;
	r->outfd = r->pidfd = -1;
	ei->run = r;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	if (pipe2(fds, O_CLOEXEC) == -1)
		goto fail;
	r->outfd = fds[0];
	r->spawn_error = spawn(ei, r, fds[1]);
	close(fds[1]);
	if (r->spawn_error != 0) {
		/* results are delivered from the loop, never from inside run() */
		if ((r->pid_ev = evtimer_new(ei->base, spawn_failed_cb, r)) == NULL)
			goto fail;
		evtimer_add(r->pid_ev, &now);
		return;
	}
	if (fcntl(r->outfd, F_SETFL, O_NONBLOCK) == -1 ||
	    (r->out_ev = event_new(ei->base, r->outfd, EV_READ | EV_PERSIST, out_cb, r)) == NULL ||
	    event_add(r->out_ev, NULL) == -1)
		goto kill;
	r->pidfd = pidfd_open(r->pid, 0);
	if (r->pidfd != -1)
		r->pid_ev = event_new(ei->base, r->pidfd, EV_READ | EV_PERSIST, reap_cb, r);
	else
		r->pid_ev = event_new(ei->base, -1, EV_PERSIST, reap_cb, r);
	if (r->pid_ev == NULL || event_add(r->pid_ev, r->pidfd != -1 ? NULL : &poll) == -1)
		goto kill;
	return;
kill:
	kill(-r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0); /* just spawned and killed: immediate */
fail:
	ei->run = NULL;
	run_free(r);
	res.message = "out of resources (pipe, events)";
	/* no event to deliver it from: the core accepts a late synchronous result */
	done(&res, arg);
}

static void
exec_cancel(void *inst)
{
	struct exec_inst *ei = inst;
	struct exec_run *r = ei->run;

	if (r == NULL)
		return;
	ei->run = NULL;
	r->inst = NULL;
	if (r->pid <= 0 || r->spawn_error != 0) {
		run_free(r);
		return;
	}
	kill(-r->pid, SIGKILL); /* the whole process group */
	kill(r->pid, SIGKILL);
	if (r->out_ev != NULL) {
		event_free(r->out_ev);
		r->out_ev = NULL;
		close(r->outfd);
		r->outfd = -1;
	}
	r->next = orphans;
	orphans = r;
}

static void
exec_destroy(void *inst)
{
	struct exec_inst *ei = inst;

	exec_cancel(ei);
	free_argv(ei->argv);
	free(ei);
}

static void
exec_fini(void)
{
	/* Shutdown: processes killed at a cancel are gone or going; wait. */
	while (orphans != NULL) {
		struct exec_run *r = orphans;

		orphans = r->next;
		kill(-r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		run_free(r);
	}
}

const struct lw_plugin linewatch_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "exec",
    .fini = exec_fini,
    .check = exec_check,
    .create = exec_create,
    .run = exec_run,
    .cancel = exec_cancel,
    .destroy = exec_destroy,
};
