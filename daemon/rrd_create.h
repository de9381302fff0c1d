/* rrd_create.h - new RRD files, made outside the daemon's memory.
 *
 * librrd builds a new file's archives in one buffer the size of the file
 * (about 5 MB for an interface) before writing it, and the first cycle of a
 * large site creates thousands of files.  So files are made by one
 * `rrdtool -` child (rrdtool's pipe mode: one command a line, one answer a
 * line), started at the first create and kept for the ones that follow
 * until rrd_creator_rest(); spawning rrdtool for each file cost four times
 * as long.  A path rrdtool's line parser could split (blanks, quotes,
 * backslashes) gets a child of its own with a proper argument vector;
 * without rrdtool at all, librrd in-process.  One thread uses a creator.
 */
#ifndef LW_RRD_CREATE_H
#define LW_RRD_CREATE_H

#include <time.h>

struct rrd_creator;

/* rrdtool: the program to run (NULL = /usr/bin/rrdtool); nothing is
 * started yet. */
struct rrd_creator *rrd_creator_new(const char *rrdtool);

/* Create path (never overwriting it) with this step and last update time
 * and these DS:/RRA: definitions.  0, or -1 with the reason in librrd's
 * error (rrd_get_error()). */
int rrd_creator_create(struct rrd_creator *c, const char *path, unsigned step, time_t last_up,
                       int argc, const char **argv);

/* Nothing more to create for now: let the child go. */
void rrd_creator_rest(struct rrd_creator *c);

void rrd_creator_free(struct rrd_creator *c);

#endif
