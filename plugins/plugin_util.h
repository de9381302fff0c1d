/* plugin_util.h - small helpers shared by the built-in probe plugins.
 *
 * Header-only: a plugin is built from its one .c file, and these must not
 * become part of the plugin ABI.  Third-party plugins may copy them.
 */
#ifndef LW_PLUGIN_UTIL_H
#define LW_PLUGIN_UTIL_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "linewatch_plugin.h"

/* Every option of spec must be one of keys (NULL terminated). */
static inline int
pu_check_keys(const struct lw_probe_spec *spec, const char *type, const char *const *keys,
              char *err, size_t errlen)
{
	for (size_t i = 0; i < spec->nopts; i++) {
		const char *const *k;
		char known[256] = "";
		size_t used = 0;

		for (k = keys; *k != NULL; k++)
			if (strcmp(*k, spec->opts[i].key) == 0)
				break;
		if (*k != NULL)
			continue;
		for (k = keys; *k != NULL && used < sizeof(known); k++)
			used += snprintf(known + used, sizeof(known) - used, "%s%s",
			                 k == keys ? "" : ", ", *k);
		snprintf(err, errlen, "option \"%s\" is not used by %s probes (%s: %s)",
		         spec->opts[i].key, type, keys[0] ? "known" : "none are",
		         keys[0] ? known : "");
		return -1;
	}
	return 0;
}

/* "150ms", "2s", "1.5s", "5m", "1h", "14d" -> milliseconds. */
static inline int
pu_duration_ms(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		double ms;
	} units[] = {{"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}};
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -1;
	v = strtod(s, &end);
	if (end == s || v < 0 || v > 1e12)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			*out = (int64_t)(v * units[i].ms + 0.5);
			return 0;
		}
	}
	return -1;
}

/* Option key as a duration; absent: def.  -1 with a message if malformed. */
static inline int
pu_opt_duration(const struct lw_probe_spec *spec, const char *key, int64_t def, int64_t *out,
                char *err, size_t errlen)
{
	const char *v = lw_probe_opt(spec, key);

	*out = def;
	if (v == NULL)
		return 0;
	if (pu_duration_ms(v, out) == -1) {
		snprintf(err, errlen, "%s \"%s\" is not a duration (like 500ms, 2s, 14d)", key, v);
		return -1;
	}
	return 0;
}

/* Option key as yes/no; absent: def. */
static inline int
pu_opt_bool(const struct lw_probe_spec *spec, const char *key, bool def, bool *out, char *err,
            size_t errlen)
{
	const char *v = lw_probe_opt(spec, key);

	*out = def;
	if (v == NULL)
		return 0;
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0)
		*out = true;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	         strcasecmp(v, "off") == 0)
		*out = false;
	else {
		snprintf(err, errlen, "%s \"%s\" is not yes or no", key, v);
		return -1;
	}
	return 0;
}

/* Split "host:port", "[v6]:port", "v6" or "host" (port left empty). */
static inline int
pu_split_hostport(const char *s, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	size_t n;

	port[0] = '\0';
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return -1;
		n = close - s - 1;
		if (close[1] == ':')
			snprintf(port, portlen, "%s", close + 2);
		else if (close[1] != '\0')
			return -1;
		s++;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			n = colon - s;
			snprintf(port, portlen, "%s", colon + 1);
		} else {
			n = strlen(s); /* no port, or a bare IPv6 address */
		}
	}
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

/* 1..65535 */
static inline int
pu_port(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

static inline bool
pu_numeric_host(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

static inline double
pu_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1e3 + (now.tv_nsec - start->tv_nsec) / 1e6;
}

/* ok below warning, warning below critical, critical above; 0 = unset */
static inline enum lw_probe_status
pu_time_status(double ms, int64_t warning_ms, int64_t critical_ms)
{
	if (critical_ms > 0 && ms >= critical_ms)
		return LW_PROBE_CRITICAL;
	if (warning_ms > 0 && ms >= warning_ms)
		return LW_PROBE_WARNING;
	return LW_PROBE_OK;
}

#endif
