/* pcap_lib.h - libpcap, loaded when a capture, a replay or an evidence file
 * first needs it.
 *
 * Debian's libpcap brings dbus, systemd, gcrypt and three compressors with
 * it: about 0.9 MB of resident memory in every daemon, most of which capture
 * nothing.  So linewatchd is not linked with it; the functions it uses come
 * from dlopen("libpcap.so.0.8") through this table.  Thread-safe.
 */
#ifndef LW_PCAP_LIB_H
#define LW_PCAP_LIB_H

#include <pcap/pcap.h>

struct pcap_lib {
	pcap_t *(*create)(const char *, char *);
	pcap_t *(*open_dead)(int, int);
	pcap_t *(*open_offline)(const char *, char *);
	int (*set_snaplen)(pcap_t *, int);
	int (*set_promisc)(pcap_t *, int);
	int (*set_timeout)(pcap_t *, int);
	int (*set_immediate_mode)(pcap_t *, int);
	int (*set_buffer_size)(pcap_t *, int);
	int (*activate)(pcap_t *);
	int (*compile)(pcap_t *, struct bpf_program *, const char *, int, bpf_u_int32);
	void (*freecode)(struct bpf_program *);
	int (*setfilter)(pcap_t *, struct bpf_program *);
	int (*setnonblock)(pcap_t *, int, char *);
	int (*get_selectable_fd)(pcap_t *);
	int (*dispatch)(pcap_t *, int, pcap_handler, u_char *);
	int (*loop)(pcap_t *, int, pcap_handler, u_char *);
	void (*breakloop)(pcap_t *);
	int (*stats)(pcap_t *, struct pcap_stat *);
	char *(*geterr)(pcap_t *);
	int (*datalink)(pcap_t *);
	const char *(*datalink_val_to_name)(int);
	int (*findalldevs)(pcap_if_t **, char *);
	void (*freealldevs)(pcap_if_t *);
	void (*close)(pcap_t *);
	pcap_dumper_t *(*dump_fopen)(pcap_t *, FILE *);
	void (*dump)(u_char *, const struct pcap_pkthdr *, const u_char *);
	int (*dump_flush)(pcap_dumper_t *);
	FILE *(*dump_file)(pcap_dumper_t *);
	void (*dump_close)(pcap_dumper_t *);
};

/* The functions, loaded at the first call; NULL with the reason in err
 * (PCAP_ERRBUF_SIZE bytes) when libpcap cannot be had. */
const struct pcap_lib *pcap_lib(char *err);

#endif
