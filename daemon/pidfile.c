/* pidfile.c - a locked pidfile; the lock, not the file's existence, decides */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pidfile.h"

struct pidfile {
	char *path;
	int fd;
};

struct pidfile *
pidfile_create(const char *path)
{
	struct pidfile *pf;
	char buf[32];
	int fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_warn("pidfile %s", path);
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_warnx("another linewatchd (pid %s) holds %s", buf[0] ? buf : "?", path);
		close(fd);
		return NULL;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, buf, (size_t)n) != n) {
		log_warn("pidfile %s", path);
		close(fd);
		return NULL;
	}
	pf = calloc(1, sizeof(*pf));
	if (pf == NULL || (pf->path = strdup(path)) == NULL) {
		free(pf);
		close(fd);
		return NULL;
	}
	pf->fd = fd;
	return pf;
}

void
pidfile_remove(struct pidfile *pf)
{
	if (pf == NULL)
		return;
	if (unlink(pf->path) == -1 && errno != ENOENT)
		log_warn("pidfile %s", pf->path);
	close(pf->fd);
	free(pf->path);
	free(pf);
}
