/* pidfile.h - exclusive pidfile: refuses to start a second instance */
#ifndef LW_PIDFILE_H
#define LW_PIDFILE_H

struct pidfile;

/* Locks and writes the pidfile; NULL (logged) if another instance holds it. */
struct pidfile *pidfile_create(const char *path);
/* Unlinks and frees; NULL is fine. */
void pidfile_remove(struct pidfile *pf);

#endif
