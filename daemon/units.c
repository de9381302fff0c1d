/* units.c - durations, rates, sizes and percentages as users write them */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"

struct suffix {
	const char *name;
	double mult;
};

static const struct suffix duration_suffixes[] = {
    {"ms", 1},      {"s", 1000},     {"sec", 1000},    {"m", 60000}, {"min", 60000},
    {"h", 3600000}, {"d", 86400000}, {"w", 604800000}, {NULL, 0},
};

static const struct suffix rate_suffixes[] = {
    {"", 1}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {NULL, 0},
};

static const struct suffix size_suffixes[] = {
    {"", 1},
    {"B", 1},
    {"k", 1024.0},
    {"K", 1024.0},
    {"kB", 1024.0},
    {"KB", 1024.0},
    {"KiB", 1024.0},
    {"M", 1048576.0},
    {"MB", 1048576.0},
    {"MiB", 1048576.0},
    {"G", 1073741824.0},
    {"GB", 1073741824.0},
    {"GiB", 1073741824.0},
    {NULL, 0},
};

/* Split "12.5ms" into 12.5 and "ms"; refuses empty, negative, NaN, junk. */
static int
split_number(const char *s, double *num, const char **rest)
{
	char *end;

	if (s == NULL)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1;
	errno = 0;
	*num = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(*num) || *num < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	*rest = end;
	return 0;
}

static const struct suffix *
find_suffix(const struct suffix *tab, const char *rest, size_t len)
{
	for (; tab->name; tab++)
		if (strlen(tab->name) == len && strncmp(tab->name, rest, len) == 0)
			return tab;
	return NULL;
}

static size_t
trimmed_len(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return n;
}

int
units_duration_ms(const char *s, int64_t *out, char *err, size_t errlen)
{
	double num, ms;
	const char *rest;
	const struct suffix *sf;

	if (split_number(s, &num, &rest) == 0) {
		sf = find_suffix(duration_suffixes, rest, trimmed_len(rest));
		if (sf != NULL) {
			ms = num * sf->mult;
			if (ms <= 9.2e15) {
				*out = (int64_t)llround(ms);
				return 0;
			}
		}
	}
	snprintf(err, errlen,
	         "\"%s\" is not a duration: use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 1d",
	         s ? s : "");
	return -1;
}

int
units_rate_bps(const char *s, uint64_t *out, char *err, size_t errlen)
{
	double num;
	const char *rest;
	char unit[16];
	size_t n;
	const struct suffix *sf;

	if (split_number(s, &num, &rest) == 0) {
		n = trimmed_len(rest);
		if (n < sizeof(unit)) {
			memcpy(unit, rest, n);
			unit[n] = '\0';
			/* "100Mbit", "100Mbps", "100 Mbit/s" all mean bits per second. */
			char *p = strstr(unit, "bit/s");
			if (p == NULL)
				p = strstr(unit, "bps");
			if (p == NULL)
				p = strstr(unit, "bit");
			if (p != NULL)
				*p = '\0';
			sf = find_suffix(rate_suffixes, unit, strlen(unit));
			if (sf != NULL && num * sf->mult < 1.8e19) {
				*out = (uint64_t)llround(num * sf->mult);
				return 0;
			}
		}
	}
	snprintf(err, errlen,
	         "\"%s\" is not a rate: use bits per second with an optional k, M or G, e.g. 512k, "
	         "100M, 1.5G, 100Mbit",
	         s ? s : "");
	return -1;
}

int
units_size_bytes(const char *s, uint64_t *out, char *err, size_t errlen)
{
	double num;
	const char *rest;
	const struct suffix *sf;

	if (split_number(s, &num, &rest) == 0) {
		sf = find_suffix(size_suffixes, rest, trimmed_len(rest));
		if (sf != NULL && num * sf->mult < 1.8e19) {
			*out = (uint64_t)llround(num * sf->mult);
			return 0;
		}
	}
	snprintf(
	    err, errlen,
	    "\"%s\" is not a size: use bytes with an optional k, M or G (powers of 1024), e.g. "
	    "4096, 512k, 16M, 1G",
	    s ? s : "");
	return -1;
}

int
units_percent(const char *s, double *out, char *err, size_t errlen)
{
	double num;
	const char *rest;
	size_t n;

	if (split_number(s, &num, &rest) == 0) {
		n = trimmed_len(rest);
		if ((n == 0 || (n == 1 && rest[0] == '%')) && num <= 100.0) {
			*out = num;
			return 0;
		}
	}
	snprintf(err, errlen, "\"%s\" is not a percentage: use 0 to 100, e.g. 5%%, 99.9%%",
	         s ? s : "");
	return -1;
}

const char *
units_fmt_duration(int64_t ms, char *buf, size_t len)
{
	if (ms < 1000)
		snprintf(buf, len, "%lld ms", (long long)ms);
	else if (ms < 120000)
		snprintf(buf, len, "%.3g s", ms / 1000.0);
	else if (ms < 7200000)
		snprintf(buf, len, "%.3g min", ms / 60000.0);
	else if (ms < 172800000)
		snprintf(buf, len, "%.3g h", ms / 3600000.0);
	else
		snprintf(buf, len, "%.3g d", ms / 86400000.0);
	return buf;
}

const char *
units_fmt_rate(double bps, char *buf, size_t len)
{
	if (bps >= 1e9)
		snprintf(buf, len, "%.3g Gbit/s", bps / 1e9);
	else if (bps >= 1e6)
		snprintf(buf, len, "%.3g Mbit/s", bps / 1e6);
	else if (bps >= 1e3)
		snprintf(buf, len, "%.3g kbit/s", bps / 1e3);
	else
		snprintf(buf, len, "%.0f bit/s", bps);
	return buf;
}
