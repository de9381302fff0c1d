/* config.h - the configuration snapshot.
 *
 * config_load() parses and validates a file into an immutable snapshot; a
 * reload builds a new snapshot and the modules diff it against the old one.
 * Durations are milliseconds, rates bits per second, percentages 0..100.
 */
#ifndef LW_CONFIG_H
#define LW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

enum lw_snmp_version { LW_SNMP_V1 = 1, LW_SNMP_V2C = 2, LW_SNMP_V3 = 3 };

/* SNMP credentials, shared by devices and upstream notification targets. */
struct lw_snmp_auth {
	enum lw_snmp_version version;
	char *community;     /* v1/v2c; never logged or shown */
	char *username;      /* v3 */
	char *auth_protocol; /* "SHA", "SHA-256", "MD5" or NULL */
	char *auth_key;      /* never logged or shown */
	char *priv_protocol; /* "AES", "AES-256", "DES" or NULL */
	char *priv_key;      /* never logged or shown */
	char *context;
};

struct lw_kv {
	char *key;
	char *value;
};

struct lw_custom_oid {
	char *name;
	char *oid;    /* numeric, dotted */
	bool counter; /* counter -> rate per second; else gauge */
	char *unit;
};

struct lw_device {
	char *name;
	int line;
	char *address;
	int port;
	struct lw_snmp_auth auth;
	int64_t interval_ms;
	int64_t timeout_ms;
	int retries;
	int max_repetitions;
	int max_inflight; /* outstanding requests per agent */
	char **interfaces;
	size_t ninterfaces;
	char **profiles; /* "system", "if", "ups", "host", ... */
	size_t nprofiles;
	struct lw_custom_oid *oids;
	size_t noids;
	char *parent;
};

enum lw_hop { LW_HOP_NONE = 0, LW_HOP_GATEWAY, LW_HOP_ISP, LW_HOP_INTERNET };

struct lw_probe {
	char *name;
	int line;
	char *link; /* owning link's name */
	char *type; /* plugin name: icmp, tcp, dns, http, exec, ... */
	char *target;
	enum lw_hop hop;
	int64_t interval_ms;
	int64_t timeout_ms;
	struct lw_kv *opts; /* plugin options as written, in file order */
	size_t nopts;
};

struct lw_degraded {
	double loss_pct;
	double loss_critical_pct;
	double latency_ms;
	double jitter_ms;
	double utilization_pct;
	double errors_per_min;
	double baseline_factor; /* 0 = learned baseline off */
	int for_n;
	int clear_n;
	int flap_count;
	int64_t flap_window_ms;
	int64_t holddown_ms;
};

struct lw_link {
	char *name;
	int line;
	char *provider;
	char *circuit;
	char *support;
	char *device;
	char *interface;
	uint64_t bandwidth_bps;
	double sla_pct;
	char *parent;
	struct lw_probe *probes;
	size_t nprobes;
	struct lw_degraded degraded;
};

struct lw_capture {
	char *name;
	int line;
	char *interface;
	char *filter;
	char *link;
	int snaplen;
	int sample_n;
	int64_t interval_ms;
	uint64_t memory_bytes;
	uint64_t buffer_bytes;
	int64_t ring_ms;
	int64_t evidence_after_ms;
	uint64_t evidence_max_bytes;
	int64_t evidence_max_age_ms;
	bool applications; /* nDPI classification (`ndpi` is the old spelling) */
	bool payload;
};

struct lw_upstream {
	char *name;
	int line;
	char *target; /* net-snmp transport string, e.g. udp:127.0.0.1:162 */
	struct lw_snmp_auth auth;
	bool inform;
	int64_t timeout_ms;
	int retries;
	int64_t heartbeat_ms;
};

struct lw_webhook {
	char *name;
	int line;
	char *url;
	struct lw_kv *headers;
	size_t nheaders;
	char **events;
	size_t nevents;
	int64_t timeout_ms;
};

struct lw_email {
	char *name;
	int line;
	char *smtp;
	char *from;
	char **to;
	size_t nto;
	bool starttls;
	char *username;
	char *password;
	char **events;
	size_t nevents;
};

struct lw_maintenance {
	char *name;
	int line;
	char **links;
	size_t nlinks;
	int64_t from; /* unix seconds, 0 = unset */
	int64_t to;
	unsigned weekdays; /* bit 0 = Sunday; 0 = not weekly */
	int start_min;     /* minute of day, weekly windows */
	int64_t duration_ms;
};

struct lw_user {
	char *name;
	int line;
	char *hash; /* crypt(3) */
};

struct lw_sla_target {
	int64_t response_ms;
	int64_t resolution_ms;
};

struct lw_config {
	char *file;
	char *site;
	char *state_dir;
	char *user;
	char *pidfile;
	char *plugin_dir;
	char *web_dir;
	char *profile_dir;
	char *rrdcached;            /* NULL = writer thread */
	int64_t rrd_write_delay_ms; /* writer thread: rows held per file before writing */
	char *enterprise_oid;       /* root of LINEWATCH-MIB, numeric */
	enum log_level log_level;

	struct {
		char **listen;
		size_t nlisten;
		char *tls_cert;
		char *tls_key;
		int public_status; /* -1 = default (open on loopback only) */
		int64_t session_idle_ms;
	} http;

	struct {
		struct lw_sla_target warning;
		struct lw_sla_target critical;
		int64_t holddown_ms;
		uint64_t outbox_max;
	} tickets;

	struct lw_user *users;
	size_t nusers;
	struct lw_device *devices;
	size_t ndevices;
	struct lw_link *links;
	size_t nlinks;
	struct lw_capture *captures;
	size_t ncaptures;
	struct lw_upstream *upstreams;
	size_t nupstreams;
	struct lw_webhook *webhooks;
	size_t nwebhooks;
	struct lw_email *emails;
	size_t nemails;
	struct lw_maintenance *maintenances;
	size_t nmaintenances;
};

/* Called once per error found, already formatted as "FILE:LINE: message". */
typedef void (*config_error_cb)(const char *msg, void *arg);

/* Parse and validate; returns NULL after reporting every error found. */
struct lw_config *config_load(const char *path, config_error_cb errcb, void *arg);
void config_free(struct lw_config *cfg);

const struct lw_device *config_device(const struct lw_config *cfg, const char *name);
const struct lw_link *config_link(const struct lw_config *cfg, const char *name);
/* "gateway", "isp", "internet"; NULL for no hop. */
const char *config_hop_name(enum lw_hop hop);
const char *config_probe_opt(const struct lw_probe *p, const char *key);

#endif
