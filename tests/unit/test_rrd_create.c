/* test_rrd_create.c - new RRD files through one `rrdtool -` child.
 *
 * rrdtool is run through a wrapper that logs each start, so the tests see
 * how many children made the files. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <rrd.h>

#include "rrd_create.h"

struct fx {
	char dir[64];
	char tool[128]; /* the wrapper */
	char log[128];  /* one line per rrdtool start: its arguments */
	struct rrd_creator *c;
};

static const char *defs[] = {"DS:in_bps:GAUGE:120:U:U", "DS:out_bps:GAUGE:120:U:U",
                             "RRA:AVERAGE:0.5:1:100", "RRA:MAX:0.5:10:100"};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	FILE *fp;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/lw-rrdcreate-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->tool, sizeof(fx->tool), "%s/rrdtool", fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/starts", fx->dir);
	fp = fopen(fx->tool, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\necho \"$*\" >> %s\nexec /usr/bin/rrdtool \"$@\"\n", fx->log);
	fclose(fp);
	assert_int_equal(chmod(fx->tool, 0755), 0);
	fx->c = rrd_creator_new(fx->tool);
	assert_non_null(fx->c);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	rrd_creator_free(fx->c);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* rrdtool starts so far, and whether each was the pipe-mode one */
static int
starts(struct fx *fx, int *piped)
{
	char line[4096];
	int n = 0;
	FILE *fp = fopen(fx->log, "r");

	*piped = 0;
	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		n++;
		if (strcmp(line, "-\n") == 0)
			(*piped)++;
	}
	fclose(fp);
	return n;
}

static int
create(struct fx *fx, const char *name, time_t last)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	rrd_clear_error();
	return rrd_creator_create(fx->c, path, 60, last, 4, defs);
}

/* the file's step, data sources and last update, as librrd reads them */
static void
assert_file(struct fx *fx, const char *name, time_t last)
{
	char path[256];
	rrd_info_t *info, *p;
	int nds = 0;
	unsigned long step = 0;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	info = rrd_info_r(path);
	if (info == NULL)
		fail_msg("%s: %s", path, rrd_get_error());
	for (p = info; p != NULL; p = p->next) {
		if (strcmp(p->key, "step") == 0)
			step = p->value.u_cnt;
		if (strstr(p->key, ".index") != NULL && strncmp(p->key, "ds[", 3) == 0)
			nds++;
	}
	rrd_info_free(info);
	assert_int_equal(step, 60);
	assert_int_equal(nds, 2);
	assert_int_equal(rrd_last_r(path), last);
}

/* One child makes every file of a burst; a rest lets it go. */
static void
test_one_child(void **state)
{
	struct fx *fx = *state;
	time_t t = time(NULL) - 600;
	char name[32];
	int piped;

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "if-%d.rrd", i);
		assert_int_equal(create(fx, name, t + i), 0);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "if-%d.rrd", i);
		assert_file(fx, name, t + i);
	}
	assert_int_equal(starts(fx, &piped), 1);
	assert_int_equal(piped, 1);

	rrd_creator_rest(fx->c);
	assert_int_equal(create(fx, "after-rest.rrd", t), 0);
	assert_file(fx, "after-rest.rrd", t);
	assert_int_equal(starts(fx, &piped), 2);
	assert_int_equal(piped, 2);
}

/* rrdtool's error comes back, the file is left alone, the child goes on. */
static void
test_error_kept(void **state)
{
	struct fx *fx = *state;
	time_t t = time(NULL) - 600;
	struct stat a, b;
	char path[256];
	int piped;

	assert_int_equal(create(fx, "x.rrd", t), 0);
	snprintf(path, sizeof(path), "%s/x.rrd", fx->dir);
	assert_int_equal(stat(path, &a), 0);
	assert_int_equal(create(fx, "x.rrd", t + 100), -1);
	assert_non_null(strstr(rrd_get_error(), "exists"));
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	assert_file(fx, "x.rrd", t);

	assert_int_equal(create(fx, "nodir/y.rrd", t), -1);
	assert_true(strlen(rrd_get_error()) > 0);
	assert_int_equal(create(fx, "z.rrd", t), 0);
	assert_int_equal(starts(fx, &piped), 1);
}

/* Names the line parser would split get a child of their own. */
static void
test_odd_names(void **state)
{
	struct fx *fx = *state;
	time_t t = time(NULL) - 600;
	int piped;

	assert_int_equal(create(fx, "with space.rrd", t), 0);
	assert_int_equal(create(fx, "quo\"te's.rrd", t), 0);
	assert_int_equal(create(fx, "plain.rrd", t), 0);
	assert_file(fx, "with space.rrd", t);
	assert_file(fx, "quo\"te's.rrd", t);
	assert_file(fx, "plain.rrd", t);
	assert_int_equal(starts(fx, &piped), 3);
	assert_int_equal(piped, 1);
}

/* A child that died while idle is replaced at the next file. */
static void
test_child_died(void **state)
{
	struct fx *fx = *state;
	time_t t = time(NULL) - 600;
	char line[64];
	int piped;
	FILE *fp;

	assert_int_equal(create(fx, "a.rrd", t), 0);
	/* the wrapper exec'd rrdtool: the only rrdtool with our tool's parent */
	snprintf(line, sizeof(line), "pkill -KILL -P %d -x rrdtool", (int)getpid());
	fp = popen(line, "r");
	assert_non_null(fp);
	pclose(fp);
	assert_int_equal(create(fx, "b.rrd", t), 0);
	assert_file(fx, "b.rrd", t);
	assert_int_equal(starts(fx, &piped), 2);
	assert_int_equal(piped, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_child, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_odd_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_child_died, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
