/* pcap_lib.c - libpcap through dlopen() (see the header for why) */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#include "pcap_lib.h"

#define LIBPCAP "libpcap.so.0.8" /* Debian's soname of libpcap 1.x */

static const struct {
	const char *name;
	size_t off;
} syms[] = {
    {"pcap_create", offsetof(struct pcap_lib, create)},
    {"pcap_open_dead", offsetof(struct pcap_lib, open_dead)},
    {"pcap_open_offline", offsetof(struct pcap_lib, open_offline)},
    {"pcap_set_snaplen", offsetof(struct pcap_lib, set_snaplen)},
    {"pcap_set_promisc", offsetof(struct pcap_lib, set_promisc)},
    {"pcap_set_timeout", offsetof(struct pcap_lib, set_timeout)},
    {"pcap_set_immediate_mode", offsetof(struct pcap_lib, set_immediate_mode)},
    {"pcap_set_buffer_size", offsetof(struct pcap_lib, set_buffer_size)},
    {"pcap_activate", offsetof(struct pcap_lib, activate)},
    {"pcap_compile", offsetof(struct pcap_lib, compile)},
    {"pcap_freecode", offsetof(struct pcap_lib, freecode)},
    {"pcap_setfilter", offsetof(struct pcap_lib, setfilter)},
    {"pcap_setnonblock", offsetof(struct pcap_lib, setnonblock)},
    {"pcap_get_selectable_fd", offsetof(struct pcap_lib, get_selectable_fd)},
    {"pcap_dispatch", offsetof(struct pcap_lib, dispatch)},
    {"pcap_loop", offsetof(struct pcap_lib, loop)},
    {"pcap_breakloop", offsetof(struct pcap_lib, breakloop)},
    {"pcap_stats", offsetof(struct pcap_lib, stats)},
    {"pcap_geterr", offsetof(struct pcap_lib, geterr)},
    {"pcap_datalink", offsetof(struct pcap_lib, datalink)},
    {"pcap_datalink_val_to_name", offsetof(struct pcap_lib, datalink_val_to_name)},
    {"pcap_findalldevs", offsetof(struct pcap_lib, findalldevs)},
    {"pcap_freealldevs", offsetof(struct pcap_lib, freealldevs)},
    {"pcap_close", offsetof(struct pcap_lib, close)},
    {"pcap_dump_fopen", offsetof(struct pcap_lib, dump_fopen)},
    {"pcap_dump", offsetof(struct pcap_lib, dump)},
    {"pcap_dump_flush", offsetof(struct pcap_lib, dump_flush)},
    {"pcap_dump_file", offsetof(struct pcap_lib, dump_file)},
    {"pcap_dump_close", offsetof(struct pcap_lib, dump_close)},
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct pcap_lib lib;
static const struct pcap_lib *loaded;
static char why[PCAP_ERRBUF_SIZE];

/* Loaded once for the life of the process: never dlclose()d, as pcap_t
 * handles and their threads may outlive any one user. */
static void
load(void)
{
	const char *e;
	void *dl;

	if ((dl = dlopen(LIBPCAP, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(why, sizeof(why), "cannot load %s (Debian package libpcap0.8): %s",
		         LIBPCAP, e ? e : "dlopen failed");
		return;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(dl, syms[i].name);

		if (f == NULL) {
			snprintf(why, sizeof(why), "%s has no %s: libpcap too old", LIBPCAP,
			         syms[i].name);
			dlclose(dl);
			return;
		}
		/* POSIX: a dlsym() result converts to a function pointer */
		*(void **)(void *)((char *)&lib + syms[i].off) = f;
	}
	loaded = &lib;
}

const struct pcap_lib *
pcap_lib(char *err)
{
	pthread_once(&once, load);
	if (loaded == NULL && err != NULL)
		snprintf(err, PCAP_ERRBUF_SIZE, "%s", why);
	return loaded;
}
