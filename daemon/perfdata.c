/* perfdata.c - parser for Monitoring Plugins performance data */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "perfdata.h"

#define NUM_MAX 64

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A plain decimal number: [+-]digits[.digits][e[+-]digits].  strtod alone
 * would also take "inf", "nan" and hex floats. */
static int
parse_number(const char *s, size_t len, double *out)
{
	char buf[NUM_MAX];
	size_t i = 0, digits = 0;
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	if (s[i] == '+' || s[i] == '-')
		i++;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		i++;
		digits++;
	}
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return -1;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			i++;
			exp++;
		}
		if (exp == 0)
			return -1;
	}
	if (i != len)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtod(buf, &end);
	if (*end != '\0' || !isfinite(*out))
		return -1;
	return 0;
}

int
perfdata_range_parse(const char *s, size_t len, struct perf_range *r)
{
	const char *colon;

	memset(r, 0, sizeof(*r));
	if (len == 0)
		return 0;
	r->set = true;
	r->start = 0;
	r->end = INFINITY;
	if (s[0] == '@') {
		r->inside = true;
		s++;
		len--;
	}
	colon = memchr(s, ':', len);
	if (colon == NULL) {
		/* "10" means outside 0..10 */
		if (parse_number(s, len, &r->end) == -1)
			return -1;
	} else {
		size_t slen = colon - s, elen = len - slen - 1;

		if (slen == 1 && s[0] == '~')
			r->start = -INFINITY;
		else if (parse_number(s, slen, &r->start) == -1)
			return -1;
		if (elen > 0 && parse_number(colon + 1, elen, &r->end) == -1)
			return -1;
	}
	if (r->start > r->end)
		return -1;
	return 0;
}

/* Copy a label, unquoting '' inside a quoted one; sets *pos past the '='. */
static int
parse_label(const char *s, size_t len, size_t *pos, struct perf_item *it)
{
	size_t i = *pos, n = 0;

	if (s[i] == '\'') {
		i++;
		for (;;) {
			if (i >= len)
				return -1;
			if (s[i] == '\'') {
				if (i + 1 < len && s[i + 1] == '\'') {
					i++;
				} else {
					i++;
					break;
				}
			}
			if (n + 1 < sizeof(it->label))
				it->label[n++] = s[i];
			i++;
		}
		if (i >= len || s[i] != '=')
			return -1;
	} else {
		while (i < len && s[i] != '=' && !is_space(s[i])) {
			if (n + 1 < sizeof(it->label))
				it->label[n++] = s[i];
			i++;
		}
		if (i >= len || s[i] != '=')
			return -1;
	}
	it->label[n] = '\0';
	if (n == 0)
		return -1;
	*pos = i + 1;
	return 0;
}

/* Length of the number at the start of s: [+-]digits.digits[e[+-]digits] */
static size_t
number_prefix(const char *s, size_t len)
{
	size_t n = 0, e;

	if (n < len && (s[n] == '+' || s[n] == '-'))
		n++;
	while (n < len && ((s[n] >= '0' && s[n] <= '9') || s[n] == '.'))
		n++;
	if (n < len && (s[n] == 'e' || s[n] == 'E')) {
		e = n + 1;
		if (e < len && (s[e] == '+' || s[e] == '-'))
			e++;
		if (e < len && s[e] >= '0' && s[e] <= '9') {
			while (e < len && s[e] >= '0' && s[e] <= '9')
				e++;
			n = e;
		}
	}
	return n;
}

/* "12.5ms", "U", "80%" */
static int
parse_value(const char *s, size_t len, struct perf_item *it)
{
	size_t n;

	if (len == 1 && s[0] == 'U') {
		it->value = NAN;
		return 0;
	}
	n = number_prefix(s, len);
	if (parse_number(s, n, &it->value) == -1)
		return -1;
	if (len - n >= sizeof(it->uom))
		return -1;
	for (size_t i = n; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '%' || c == '/'))
			return -1;
	}
	memcpy(it->uom, s + n, len - n);
	it->uom[len - n] = '\0';
	return 0;
}

/* One item from s[*pos..end); end is the next whitespace outside quotes. */
static int
parse_item(const char *s, size_t end, size_t *pos, struct perf_item *it)
{
	size_t i, field = 0, start;

	memset(it, 0, sizeof(*it));
	if (parse_label(s, end, pos, it) == -1)
		return -1;
	i = *pos;
	for (start = i;; i++) {
		if (i < end && s[i] != ';')
			continue;
		switch (field) {
		case 0:
			if (parse_value(s + start, i - start, it) == -1)
				return -1;
			break;
		case 1:
			if (perfdata_range_parse(s + start, i - start, &it->warn) == -1)
				return -1;
			break;
		case 2:
			if (perfdata_range_parse(s + start, i - start, &it->crit) == -1)
				return -1;
			break;
		case 3:
			if (i > start && parse_number(s + start, i - start, &it->min) == -1)
				return -1;
			it->has_min = i > start;
			break;
		case 4:
			if (i > start && parse_number(s + start, i - start, &it->max) == -1)
				return -1;
			it->has_max = i > start;
			break;
		default:
			break; /* extra fields: ignored */
		}
		field++;
		if (i >= end)
			break;
		start = i + 1;
	}
	*pos = end;
	return 0;
}

/* End of the item starting at i: the first whitespace not inside quotes. */
static size_t
item_end(const char *s, size_t len, size_t i)
{
	bool quoted = false;

	for (; i < len; i++) {
		if (s[i] == '\'')
			quoted = !quoted;
		else if (!quoted && is_space(s[i]))
			break;
	}
	return i;
}

size_t
perfdata_parse(const char *s, size_t len, struct perf_item *items, size_t max, size_t *bad)
{
	size_t i = 0, n = 0, nbad = 0;

	while (i < len) {
		size_t end, pos;

		while (i < len && is_space(s[i]))
			i++;
		if (i >= len)
			break;
		end = item_end(s, len, i);
		pos = i;
		if (n >= max) {
			nbad++;
		} else if (parse_item(s, end, &pos, &items[n]) == 0) {
			n++;
		} else {
			nbad++;
		}
		i = end;
	}
	if (bad != NULL)
		*bad = nbad;
	return n;
}

static void
copy_trimmed(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t n;

	if (dstlen == 0)
		return;
	while (len > 0 && is_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	n = len < dstlen - 1 ? len : dstlen - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i] == '\0' ? ' ' : s[i];
	dst[n] = '\0';
}

size_t
perfdata_parse_output(const char *out, size_t len, char *msg, size_t msglen,
                      struct perf_item *items, size_t max, size_t *bad)
{
	const char *nl = memchr(out, '\n', len);
	size_t line = nl != NULL ? (size_t)(nl - out) : len;
	const char *bar = memchr(out, '|', line);
	size_t n = 0, nbad = 0, more;

	copy_trimmed(msg, msglen, out, bar != NULL ? (size_t)(bar - out) : line);
	if (bar != NULL)
		n = perfdata_parse(bar + 1, line - (bar + 1 - out), items, max, &nbad);
	if (nl != NULL) {
		/* long text; performance data follows its first '|' */
		const char *rest = nl + 1;
		size_t rlen = len - line - 1;

		bar = memchr(rest, '|', rlen);
		if (bar != NULL) {
			n += perfdata_parse(bar + 1, rlen - (bar + 1 - rest), items + n, max - n,
			                    &more);
			nbad += more;
		}
	}
	if (bad != NULL)
		*bad = nbad;
	return n;
}

const char *
perfdata_normalize(const struct perf_item *it, double *value)
{
	static const struct {
		const char *uom;
		const char *unit;
		double factor;
	} conv[] = {
	    {"s", "ms", 1e3},
	    {"ms", "ms", 1},
	    {"us", "ms", 1e-3},
	    {"B", "B", 1},
	    {"KB", "B", 1024.0},
	    {"MB", "B", 1024.0 * 1024},
	    {"GB", "B", 1024.0 * 1024 * 1024},
	    {"TB", "B", 1024.0 * 1024 * 1024 * 1024},
	};

	*value = it->value;
	for (size_t i = 0; i < sizeof(conv) / sizeof(conv[0]); i++) {
		if (strcmp(it->uom, conv[i].uom) == 0) {
			*value = it->value * conv[i].factor;
			return conv[i].unit;
		}
	}
	return it->uom;
}
