/* rrd_create.c - new RRD files, made by an `rrdtool -` child (see the
 * header for why). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rrd.h>

#include "log.h"
#include "rrd_create.h"

#define RRDTOOL "/usr/bin/rrdtool"
#define LINE_MAX_LEN 8192 /* a create command: path and about 30 definitions */
#define ANSWER_LEN 1024

struct rrd_creator {
	char *rrdtool;
	pid_t pid; /* the pipe-mode child, 0 = none */
	int to;    /* its stdin */
	int from;  /* its stdout */
	char ans[ANSWER_LEN];
	size_t anslen; /* bytes of the next answer read so far */
};

struct rrd_creator *
rrd_creator_new(const char *rrdtool)
{
	struct rrd_creator *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->rrdtool = strdup(rrdtool != NULL ? rrdtool : RRDTOOL)) == NULL) {
		free(c);
		return NULL;
	}
	c->to = c->from = -1;
	return c;
}

/* Run rrdtool with argv; stdin from in, stdout to out, stderr to err (-1:
 * /dev/null).  The writer blocks every signal; rrdtool must not inherit
 * that. */
static int
spawn(struct rrd_creator *c, char *const *argv, int in, int out, int err, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int e;

	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_init(&fa);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&fa, in, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out >= 0)
		posix_spawn_file_actions_adddup2(&fa, out, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (err >= 0)
		posix_spawn_file_actions_adddup2(&fa, err, 2);
	else
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	e = posix_spawn(pid, c->rrdtool, &fa, &attr, argv, (char *[]){NULL});
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return e;
}

static void
reap(pid_t pid, int *status)
{
	int st = 0;

	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (status != NULL)
		*status = st;
}

static void
child_stop(struct rrd_creator *c)
{
	if (c->pid == 0)
		return;
	close(c->to); /* rrdtool ends at the end of its input */
	close(c->from);
	reap(c->pid, NULL);
	c->pid = 0;
	c->to = c->from = -1;
	c->anslen = 0;
}

static int
child_start(struct rrd_creator *c)
{
	char *argv[] = {"rrdtool", "-", NULL};
	int in[2], out[2], e;

	if (pipe2(in, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(out, O_CLOEXEC) == -1) {
		close(in[0]), close(in[1]);
		return -1;
	}
	e = spawn(c, argv, in[0], out[1], -1, &c->pid);
	close(in[0]);
	close(out[1]);
	if (e != 0) {
		close(in[1]), close(out[0]);
		c->pid = 0;
		errno = e;
		return -1;
	}
	c->to = in[1];
	c->from = out[0];
	return 0;
}

static bool
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* The child's next answer line, without its newline; NULL if it went away. */
static const char *
read_answer(struct rrd_creator *c)
{
	for (;;) {
		char *nl = memchr(c->ans, '\n', c->anslen);
		ssize_t r;

		if (nl != NULL) {
			*nl = '\0';
			return c->ans; /* consumed by the caller before the next read */
		}
		if (c->anslen == sizeof(c->ans) - 1)
			c->anslen = 0; /* an overlong line: keep its end */
		r = read(c->from, c->ans + c->anslen, sizeof(c->ans) - 1 - c->anslen);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		c->anslen += (size_t)r;
	}
}

static void
answer_done(struct rrd_creator *c)
{
	size_t n = strlen(c->ans) + 1;

	memmove(c->ans, c->ans + n, c->anslen - n);
	c->anslen -= n;
}

/* Words rrdtool's pipe-mode line parser keeps whole. */
static bool
plain_word(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == '\'' || *s == '\\' ||
		    (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static int
line_of(char *line, size_t len, const char *path, unsigned step, time_t last_up, int argc,
        const char **argv)
{
	size_t o;
	int n;

	if (!plain_word(path))
		return -1;
	n = snprintf(line, len, "create %s --step %u --start %lld --no-overwrite", path, step,
	             (long long)last_up);
	if (n < 0 || (size_t)n >= len)
		return -1;
	o = (size_t)n;
	for (int i = 0; i < argc; i++) {
		if (!plain_word(argv[i]))
			return -1;
		n = snprintf(line + o, len - o, " %s", argv[i]);
		if (n < 0 || (size_t)n >= len - o)
			return -1;
		o += (size_t)n;
	}
	if (o + 2 > len)
		return -1;
	line[o++] = '\n';
	line[o] = '\0';
	return 0;
}

/* Through the pipe-mode child: 0, -1 with the error set, 1 when the child
 * cannot be had (then another way). */
static int
create_piped(struct rrd_creator *c, const char *line)
{
	const char *ans = NULL;

	/* a child that went away while idle gets one successor */
	for (int tries = 0; tries < 2 && ans == NULL; tries++) {
		if (c->pid == 0 && child_start(c) == -1)
			return 1;
		if (write_all(c->to, line, strlen(line)))
			ans = read_answer(c);
		if (ans == NULL)
			child_stop(c);
	}
	if (ans == NULL) {
		rrd_set_error("rrdtool (pipe mode) went away");
		return -1;
	}
	if (strncmp(ans, "OK", 2) == 0) {
		answer_done(c);
		return 0;
	}
	rrd_set_error("%s", strncmp(ans, "ERROR: ", 7) == 0 ? ans + 7 : ans);
	answer_done(c);
	return -1;
}

/* A child of its own, with a real argument vector: for any path. */
static int
create_once(struct rrd_creator *c, const char *path, unsigned step, time_t last_up, int argc,
            const char **argv)
{
	char stepbuf[32], startbuf[32], err[512];
	const char **av;
	size_t n = 0, got = 0;
	ssize_t r;
	pid_t pid;
	int pfd[2], st, e;

	if ((av = calloc((size_t)argc + 9, sizeof(*av))) == NULL)
		return 1;
	snprintf(stepbuf, sizeof(stepbuf), "%u", step);
	snprintf(startbuf, sizeof(startbuf), "%lld", (long long)last_up);
	av[n++] = "rrdtool";
	av[n++] = "create";
	av[n++] = path;
	av[n++] = "--step";
	av[n++] = stepbuf;
	av[n++] = "--start";
	av[n++] = startbuf;
	av[n++] = "--no-overwrite";
	for (int i = 0; i < argc; i++)
		av[n++] = argv[i];
	av[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		free(av);
		return 1;
	}
	e = spawn(c, (char *const *)av, -1, -1, pfd[1], &pid);
	free(av);
	close(pfd[1]);
	if (e != 0) {
		close(pfd[0]);
		return 1;
	}
	while ((r = read(pfd[0], err + got, sizeof(err) - 1 - got)) > 0 ||
	       (r == -1 && errno == EINTR))
		if (r > 0 && (got += (size_t)r) == sizeof(err) - 1)
			break;
	close(pfd[0]);
	err[got] = '\0';
	reap(pid, &st);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	err[strcspn(err, "\r\n")] = '\0';
	rrd_set_error("%s", strncmp(err, "ERROR: ", 7) == 0 ? err + 7
	                    : *err != '\0'                  ? err
	                                                    : "rrdtool create failed");
	return -1;
}

int
rrd_creator_create(struct rrd_creator *c, const char *path, unsigned step, time_t last_up, int argc,
                   const char **argv)
{
	char line[LINE_MAX_LEN];
	int r = 1;

	if (access(c->rrdtool, X_OK) == 0) {
		if (line_of(line, sizeof(line), path, step, last_up, argc, argv) == 0)
			r = create_piped(c, line);
		if (r == 1)
			r = create_once(c, path, step, last_up, argc, argv);
	}
	if (r == 1) /* no rrdtool to run: librrd here, buffer and all */
		r = rrd_create_r2(path, step, last_up, 1, NULL, NULL, argc, argv);
	return r;
}

void
rrd_creator_rest(struct rrd_creator *c)
{
	if (c != NULL)
		child_stop(c);
}

void
rrd_creator_free(struct rrd_creator *c)
{
	if (c == NULL)
		return;
	child_stop(c);
	free(c->rrdtool);
	free(c);
}
