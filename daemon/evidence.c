/* evidence.c - ring of recent frames, evidence pcap files and their rotation */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evidence.h"
#include "log.h"
#include "pcap_lib.h"

#define RING_MIN_SLOTS 64

struct slot {
	struct timeval ts;
	uint32_t caplen;
	uint32_t wirelen;
	/* followed by snaplen bytes */
};

struct evring {
	uint8_t *mem;
	size_t slotsize;
	size_t nslots;
	size_t next; /* slot written next */
	size_t used; /* slots holding a frame */
	uint32_t snaplen;
};

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

struct evring *
evring_new(size_t bytes, uint32_t snaplen)
{
	struct evring *r;
	size_t hdr = sizeof(struct slot);

	if (snaplen == 0 || bytes < RING_MIN_SLOTS * (hdr + 64))
		return NULL;
	/* headers matter more than a long tail of payload: keep at least
	 * RING_MIN_SLOTS frames even when the snaplen is large */
	if ((size_t)snaplen > bytes / RING_MIN_SLOTS - hdr)
		snaplen = (uint32_t)(bytes / RING_MIN_SLOTS - hdr);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->snaplen = snaplen;
	r->slotsize = align8(hdr + snaplen);
	r->nslots = bytes / r->slotsize;
	if ((r->mem = malloc(r->nslots * r->slotsize)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
evring_free(struct evring *r)
{
	if (r == NULL)
		return;
	free(r->mem);
	free(r);
}

uint32_t
evring_snaplen(const struct evring *r)
{
	return r->snaplen;
}

size_t
evring_slots(const struct evring *r)
{
	return r->nslots;
}

void
evring_push(struct evring *r, const struct timeval *ts, uint32_t caplen, uint32_t wirelen,
            const uint8_t *data)
{
	struct slot *s = (struct slot *)(r->mem + r->next * r->slotsize);

	if (caplen > r->snaplen)
		caplen = r->snaplen;
	s->ts = *ts;
	s->caplen = caplen;
	s->wirelen = wirelen;
	memcpy(s + 1, data, caplen);
	if (++r->next == r->nslots)
		r->next = 0;
	if (r->used < r->nslots)
		r->used++;
}

static int
tv_before(const struct timeval *a, const struct timeval *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_usec < b->tv_usec);
}

size_t
evring_walk(const struct evring *r, const struct timeval *since, evring_cb cb, void *arg)
{
	size_t i = (r->next + r->nslots - r->used) % r->nslots, n = 0;

	for (size_t k = 0; k < r->used; k++, i = (i + 1) % r->nslots) {
		const struct slot *s = (const struct slot *)(r->mem + i * r->slotsize);

		if (since != NULL && tv_before(&s->ts, since))
			continue;
		cb(&s->ts, s->caplen, s->wirelen, (const uint8_t *)(s + 1), arg);
		n++;
	}
	return n;
}

static void
safe_copy(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = src[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			c = '_';
		dst[i] = c;
	}
	if (n > 0 && dst[0] == '.')
		dst[0] = '_';
}

int
evidence_file_name(const char *capture, const char *ticket_ref, char *buf, size_t len)
{
	size_t a = strlen(capture), b = strlen(ticket_ref);

	if (a == 0 || b == 0 || a + b + 7 > len || a + b + 7 > EVIDENCE_NAME_MAX)
		return -1;
	safe_copy(buf, capture, a);
	buf[a] = '-';
	safe_copy(buf + a + 1, ticket_ref, b);
	memcpy(buf + a + 1 + b, ".pcap", 6);
	return 0;
}

int
evidence_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 6 || n > EVIDENCE_NAME_MAX || strcmp(name + n - 5, ".pcap") != 0 || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return 0;
	}
	return 1;
}

struct evidence_file {
	const struct pcap_lib *pl;
	pcap_t *dead;
	pcap_dumper_t *dumper;
	char part[PATH_MAX];
	char path[PATH_MAX];
	uint64_t packets;
};

struct evidence_file *
evidence_open(const char *dir, const char *name, int linktype, uint32_t snaplen)
{
	struct evidence_file *f;
	FILE *fp;
	int fd;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((f->pl = pcap_lib(NULL)) == NULL) {
		free(f);
		errno = ELIBACC;
		return NULL;
	}
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s/%s", dir, name) >= sizeof(f->path) ||
	    (size_t)snprintf(f->part, sizeof(f->part), "%s.part", f->path) >= sizeof(f->part)) {
		free(f);
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		free(f);
		return NULL;
	}
	/* packet headers are private: not world-readable */
	fd = open(f->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1) {
		free(f);
		return NULL;
	}
	if ((fp = fdopen(fd, "wb")) == NULL) {
		close(fd);
		unlink(f->part);
		free(f);
		return NULL;
	}
	f->dead = f->pl->open_dead(linktype, (int)snaplen);
	if (f->dead == NULL || (f->dumper = f->pl->dump_fopen(f->dead, fp)) == NULL) {
		if (f->dead)
			f->pl->close(f->dead);
		fclose(fp);
		unlink(f->part);
		free(f);
		errno = EIO;
		return NULL;
	}
	return f;
}

void
evidence_write(struct evidence_file *f, const struct timeval *ts, uint32_t caplen, uint32_t wirelen,
               const uint8_t *data)
{
	struct pcap_pkthdr h = {.ts = *ts, .caplen = caplen, .len = wirelen};

	f->pl->dump((u_char *)f->dumper, &h, data);
	f->packets++;
}

uint64_t
evidence_packets(const struct evidence_file *f)
{
	return f->packets;
}

int
evidence_close(struct evidence_file *f)
{
	int bad;

	bad = f->pl->dump_flush(f->dumper) != 0 || ferror(f->pl->dump_file(f->dumper));
	f->pl->dump_close(f->dumper);
	f->pl->close(f->dead);
	if (!bad && rename(f->part, f->path) == -1)
		bad = 1;
	if (bad) {
		log_warn("evidence %s could not be written", f->path);
		unlink(f->part);
	}
	free(f);
	return bad ? -1 : 0;
}

void
evidence_abort(struct evidence_file *f)
{
	f->pl->dump_close(f->dumper);
	f->pl->close(f->dead);
	unlink(f->part);
	free(f);
}

struct efile {
	char name[NAME_MAX + 1];
	time_t mtime;
	uint64_t size;
};

static int
efile_cmp(const void *a, const void *b)
{
	const struct efile *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
is_evidence(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && ((n > 5 && strcmp(name + n - 5, ".pcap") == 0) ||
	                          (n > 10 && strcmp(name + n - 10, ".pcap.part") == 0));
}

int
evidence_rotate(const char *dir, uint64_t max_bytes, int64_t max_age_ms, time_t now)
{
	struct efile *v = NULL, *nv;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	struct stat st;
	char path[PATH_MAX];
	int removed = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!is_evidence(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n].mtime = st.st_mtime;
		v[n].size = (uint64_t)st.st_size;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), efile_cmp);
	for (size_t i = 0; i < n; i++)
		total += v[i].size;
	for (size_t i = 0; i < n; i++) {
		int old = max_age_ms > 0 && (int64_t)(now - v[i].mtime) * 1000 > max_age_ms;
		int big = max_bytes > 0 && total > max_bytes;

		if (!old && !big)
			continue;
		/* a .part file is still being written unless it is old */
		if (!old && strstr(v[i].name, ".part") != NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
		if (unlink(path) == 0) {
			total -= v[i].size;
			removed++;
			log_info("evidence %s removed (%s)", v[i].name, old ? "age" : "total size");
		}
	}
	free(v);
	return removed;
}
