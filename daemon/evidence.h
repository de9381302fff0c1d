/* evidence.h - the last seconds of packet headers, and pcap files for tickets.
 *
 * Each capture keeps a ring of its most recent frames (headers up to the
 * snaplen) in memory allocated once: fixed-size slots, so recording a frame
 * is a copy and never an allocation.  When a ticket opens, the ring is
 * written to <state-dir>/evidence/<capture>-<ticket>.pcap and the capture
 * keeps appending for a while; the file appears under its final name only
 * when complete (it is written as .part first).
 */
#ifndef LW_EVIDENCE_H
#define LW_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#define EVIDENCE_DIR "evidence"
#define EVIDENCE_NAME_MAX 200

struct evring;

/* A ring of `bytes` holding frames cut at snaplen (smaller if the ring
 * would otherwise hold fewer than 64 frames). */
struct evring *evring_new(size_t bytes, uint32_t snaplen);
void evring_free(struct evring *r);
uint32_t evring_snaplen(const struct evring *r);
size_t evring_slots(const struct evring *r);

void evring_push(struct evring *r, const struct timeval *ts, uint32_t caplen, uint32_t wirelen,
                 const uint8_t *data);

typedef void (*evring_cb)(const struct timeval *ts, uint32_t caplen, uint32_t wirelen,
                          const uint8_t *data, void *arg);
/* Visit frames not older than `since`, oldest first; returns how many. */
size_t evring_walk(const struct evring *r, const struct timeval *since, evring_cb cb, void *arg);

/* File name for a capture's evidence of a ticket: both names made safe
 * ([A-Za-z0-9._-], others '_'), ".pcap" appended.  -1 if it does not fit. */
int evidence_file_name(const char *capture, const char *ticket_ref, char *buf, size_t len);
/* Whether a request path names an evidence file we could have written. */
int evidence_name_valid(const char *name);

struct evidence_file;

/* Opens <dir>/<name>.part for writing with pcap headers. */
struct evidence_file *evidence_open(const char *dir, const char *name, int linktype,
                                    uint32_t snaplen);
void evidence_write(struct evidence_file *f, const struct timeval *ts, uint32_t caplen,
                    uint32_t wirelen, const uint8_t *data);
uint64_t evidence_packets(const struct evidence_file *f);
/* Flushes, closes and renames to the final name; -1 if the data was not
 * written completely (the .part file is removed). */
int evidence_close(struct evidence_file *f);
/* Closes and removes without publishing (shutdown in the middle). */
void evidence_abort(struct evidence_file *f);

/* Remove evidence files older than max_age_ms, then the oldest until the
 * total is at most max_bytes.  Returns how many files were removed. */
int evidence_rotate(const char *dir, uint64_t max_bytes, int64_t max_age_ms, time_t now);

#endif
