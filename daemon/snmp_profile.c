/* snmp_profile.c - SNMP profiles (OID sets) from libconfuse files */
#include <confuse.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "snmp_profile.h"

/* libconfuse reports through a callback without a user pointer; a parse is
 * never reentrant, so the destination of the message is kept here for its
 * duration only. */
struct perr {
	const char *file;
	char *buf;
	size_t len;
	bool set;
};
static struct perr *cur_err;

static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[512];
	int n = 0;

	if (cur_err == NULL || cur_err->set)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cfg)
		n = snprintf(cur_err->buf, cur_err->len, "%s:%d: %s", cur_err->file, cfg->line,
		             msg);
	else
		n = snprintf(cur_err->buf, cur_err->len, "%s", msg);
	(void)n;
	cur_err->set = true;
}

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
snmp_oid_parse(const char *s, oid *out, size_t max, size_t *len)
{
	size_t n = 0;

	if (s == NULL)
		return -1;
	if (*s == '.')
		s++;
	if (*s == '\0')
		return -1;
	while (*s) {
		unsigned long long v = 0;
		const char *start = s;

		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned)(*s - '0');
			if (v > 0xffffffffULL)
				return -1;
			s++;
		}
		if (s == start || n >= max)
			return -1;
		out[n++] = (oid)v;
		if (*s == '.') {
			s++;
			if (*s == '\0')
				return -1;
		} else if (*s != '\0')
			return -1;
	}
	if (n < 2)
		return -1;
	*len = n;
	return 0;
}

const char *
snmp_oid_fmt(const oid *o, size_t len, char *buf, size_t buflen)
{
	size_t off = 0;

	if (buflen == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		int n =
		    snprintf(buf + off, buflen - off, "%s%lu", i ? "." : "", (unsigned long)o[i]);
		if (n < 0 || (size_t)n >= buflen - off) {
			if (buflen > 4)
				strcpy(buf + buflen - 4, "...");
			break;
		}
		off += (size_t)n;
	}
	return buf;
}

const char *
prof_enum_name(const struct prof_object *o, long value)
{
	for (size_t i = 0; i < o->nenums; i++)
		if (o->enums[i].value == value)
			return o->enums[i].name;
	return NULL;
}

bool
prof_flag(const struct prof_object *o, long value)
{
	for (size_t i = 0; i < o->ntrue; i++)
		if (o->truev[i] == value)
			return true;
	return false;
}

static const char *const type_names[] = {
    [PT_STRING] = "string",       [PT_OID] = "oid",
    [PT_GAUGE] = "gauge",         [PT_COUNTER] = "counter",
    [PT_TIMETICKS] = "timeticks", [PT_ENUM] = "enum",
    [PT_FLAG] = "flag",
};

static const char *const role_names[] = {
    [PR_NONE] = "none",
    [PR_UPTIME] = "uptime",
    [PR_ENGINE_BOOTS] = "engine-boots",
    [PR_ENGINE_TIME] = "engine-time",
    [PR_SPEED] = "speed",
    [PR_DISCONTINUITY] = "discontinuity",
    [PR_LAST_CHANGE] = "last-change",
    [PR_STORAGE_TYPE] = "storage-type",
    [PR_STORAGE_UNITS] = "storage-units",
    [PR_STORAGE_SIZE] = "storage-size",
    [PR_STORAGE_USED] = "storage-used",
};

const char *
prof_type_name(enum prof_type t)
{
	if ((size_t)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "?";
}

static int
lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

static void
object_free(struct prof_object *o)
{
	free(o->name);
	free(o->unit);
	free(o->sum_into);
	for (size_t i = 0; i < o->nenums; i++)
		free(o->enums[i].name);
	free(o->enums);
	free(o->truev);
}

static void
profile_free(struct snmp_profile *p)
{
	for (size_t i = 0; i < p->nscalars; i++)
		object_free(&p->scalars[i]);
	free(p->scalars);
	for (size_t t = 0; t < p->ntables; t++) {
		struct prof_table *tb = &p->tables[t];
		for (size_t i = 0; i < tb->ncols; i++)
			object_free(&tb->cols[i]);
		free(tb->cols);
		free(tb->name);
	}
	free(p->tables);
	free(p->name);
	free(p->description);
}

void
snmp_profiles_free(struct snmp_profiles *ps)
{
	if (ps == NULL)
		return;
	for (size_t i = 0; i < ps->n; i++)
		profile_free(&ps->v[i]);
	free(ps->v);
	free(ps);
}

const struct snmp_profile *
snmp_profiles_find(const struct snmp_profiles *ps, const char *name)
{
	for (size_t i = 0; ps && i < ps->n; i++)
		if (strcmp(ps->v[i].name, name) == 0)
			return &ps->v[i];
	return NULL;
}

#define OBJECT_OPTS                                                                                \
	CFG_STR("oid", NULL, CFGF_NODEFAULT), CFG_STR("type", NULL, CFGF_NODEFAULT),               \
	    CFG_STR("unit", NULL, CFGF_NODEFAULT), CFG_FLOAT("scale", 1.0, CFGF_NONE),             \
	    CFG_STR("fallback", NULL, CFGF_NODEFAULT),                                             \
	    CFG_FLOAT("fallback-scale", 0, CFGF_NODEFAULT),                                        \
	    CFG_BOOL("prefer-nonzero", cfg_false, CFGF_NONE),                                      \
	    CFG_STR_LIST("enum", NULL, CFGF_NODEFAULT),                                            \
	    CFG_INT_LIST("true-values", NULL, CFGF_NODEFAULT),                                     \
	    CFG_BOOL("publish", cfg_true, CFGF_NONE), CFG_STR("sum-into", NULL, CFGF_NODEFAULT),   \
	    CFG_STR("role", NULL, CFGF_NODEFAULT), CFG_END()

static cfg_opt_t scalar_opts[] = {OBJECT_OPTS};
static cfg_opt_t column_opts[] = {OBJECT_OPTS};

static cfg_opt_t table_opts[] = {
    CFG_STR("kind", NULL, CFGF_NODEFAULT),
    CFG_STR_LIST("key", NULL, CFGF_NODEFAULT),
    CFG_SEC("column", column_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END(),
};

static cfg_opt_t profile_opts[] = {
    CFG_STR("description", NULL, CFGF_NODEFAULT),
    CFG_SEC("scalar", scalar_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("table", table_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END(),
};

static cfg_opt_t top_opts[] = {
    CFG_SEC("profile", profile_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END(),
};

/* Where a section starts, for messages. */
static int
secline(cfg_t *sec)
{
	return sec ? sec->line : 0;
}

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int
parse_enum(struct prof_object *o, cfg_t *sec, const char *file, char *err, size_t errlen)
{
	size_t n = cfg_size(sec, "enum");

	if (n == 0)
		return 0;
	o->enums = calloc(n, sizeof(*o->enums));
	if (o->enums == NULL) {
		seterr(err, errlen, "%s: out of memory", file);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, "enum", i);
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || *end != '=' || end[1] == '\0') {
			seterr(err, errlen, "%s:%d: %s: enum entry \"%s\" is not NUMBER=name", file,
			       secline(sec), o->name, s);
			return -1;
		}
		o->enums[i].value = v;
		o->enums[i].name = strdup(end + 1);
		o->nenums++;
		if (o->enums[i].name == NULL) {
			seterr(err, errlen, "%s: out of memory", file);
			return -1;
		}
	}
	return 0;
}

static int
parse_object(struct prof_object *o, cfg_t *sec, bool column, const char *file, char *err,
             size_t errlen)
{
	const char *s;
	int i;

	o->name = xstrdup(cfg_title(sec));
	o->publish = cfg_getbool(sec, "publish") == cfg_true;
	o->prefer_nonzero = cfg_getbool(sec, "prefer-nonzero") == cfg_true;
	o->scale = cfg_getfloat(sec, "scale");
	o->fallback_scale =
	    cfg_size(sec, "fallback-scale") ? cfg_getfloat(sec, "fallback-scale") : o->scale;
	o->unit = xstrdup(cfg_getstr(sec, "unit"));
	o->sum_into = xstrdup(cfg_getstr(sec, "sum-into"));
	if (o->name == NULL || o->name[0] == '\0') {
		seterr(err, errlen, "%s:%d: a %s needs a name", file, secline(sec),
		       column ? "column" : "scalar");
		return -1;
	}
	s = cfg_getstr(sec, "oid");
	if (s == NULL || snmp_oid_parse(s, o->oid, PROF_OID_MAX, &o->oidlen) != 0) {
		seterr(err, errlen,
		       "%s:%d: %s: oid must be numeric and dotted (\"1.3.6.1.2.1.1.3.0\")", file,
		       secline(sec), o->name);
		return -1;
	}
	s = cfg_getstr(sec, "fallback");
	if (s && snmp_oid_parse(s, o->fallback, PROF_OID_MAX, &o->fallbacklen) != 0) {
		seterr(err, errlen, "%s:%d: %s: fallback must be a numeric OID", file, secline(sec),
		       o->name);
		return -1;
	}
	s = cfg_getstr(sec, "type");
	i = s ? lookup(type_names, sizeof(type_names) / sizeof(type_names[0]), s) : -1;
	if (i < 0) {
		seterr(
		    err, errlen,
		    "%s:%d: %s: type must be one of string, oid, gauge, counter, timeticks, enum, "
		    "flag",
		    file, secline(sec), o->name);
		return -1;
	}
	o->type = (enum prof_type)i;
	s = cfg_getstr(sec, "role");
	i = s ? lookup(role_names, sizeof(role_names) / sizeof(role_names[0]), s) : 0;
	if (i < 0) {
		seterr(err, errlen, "%s:%d: %s: unknown role \"%s\"", file, secline(sec), o->name,
		       s);
		return -1;
	}
	o->role = (enum prof_role)i;
	if (o->scale == 0 || o->fallback_scale == 0) {
		seterr(err, errlen, "%s:%d: %s: scale must not be 0", file, secline(sec), o->name);
		return -1;
	}
	if (o->sum_into && o->type != PT_COUNTER) {
		seterr(err, errlen, "%s:%d: %s: sum-into needs type = \"counter\"", file,
		       secline(sec), o->name);
		return -1;
	}
	if (parse_enum(o, sec, file, err, errlen) != 0)
		return -1;
	if (o->type == PT_FLAG) {
		o->ntrue = cfg_size(sec, "true-values");
		if (o->ntrue == 0) {
			seterr(err, errlen, "%s:%d: %s: a flag needs true-values", file,
			       secline(sec), o->name);
			return -1;
		}
		o->truev = calloc(o->ntrue, sizeof(long));
		if (o->truev == NULL) {
			seterr(err, errlen, "%s: out of memory", file);
			return -1;
		}
		for (size_t k = 0; k < o->ntrue; k++)
			o->truev[k] = cfg_getnint(sec, "true-values", k);
	}
	return 0;
}

static bool
role_fits(enum prof_role r, bool column, enum prof_table_kind kind)
{
	switch (r) {
	case PR_NONE:
		return true;
	case PR_UPTIME:
	case PR_ENGINE_BOOTS:
	case PR_ENGINE_TIME:
		return !column;
	case PR_SPEED:
	case PR_DISCONTINUITY:
	case PR_LAST_CHANGE:
		return column && kind == PK_INTERFACE;
	case PR_STORAGE_TYPE:
	case PR_STORAGE_UNITS:
	case PR_STORAGE_SIZE:
	case PR_STORAGE_USED:
		return column && kind == PK_STORAGE;
	}
	return false;
}

static int
parse_table(struct prof_table *tb, cfg_t *sec, const char *file, char *err, size_t errlen)
{
	const char *kind = cfg_getstr(sec, "kind");
	size_t nk;

	tb->name = xstrdup(cfg_title(sec));
	if (kind == NULL || (strcmp(kind, "interface") != 0 && strcmp(kind, "storage") != 0)) {
		seterr(err, errlen, "%s:%d: table %s: kind must be \"interface\" or \"storage\"",
		       file, secline(sec), tb->name);
		return -1;
	}
	tb->kind = strcmp(kind, "interface") == 0 ? PK_INTERFACE : PK_STORAGE;
	tb->ncols = cfg_size(sec, "column");
	if (tb->ncols == 0) {
		seterr(err, errlen, "%s:%d: table %s has no column", file, secline(sec), tb->name);
		return -1;
	}
	tb->cols = calloc(tb->ncols, sizeof(*tb->cols));
	if (tb->cols == NULL) {
		seterr(err, errlen, "%s: out of memory", file);
		tb->ncols = 0;
		return -1;
	}
	for (size_t i = 0; i < tb->ncols; i++) {
		cfg_t *c = cfg_getnsec(sec, "column", i);
		if (parse_object(&tb->cols[i], c, true, file, err, errlen) != 0)
			return -1;
		if (!role_fits(tb->cols[i].role, true, tb->kind)) {
			seterr(err, errlen, "%s:%d: column %s: role %s does not fit a %s table",
			       file, secline(c), tb->cols[i].name, role_names[tb->cols[i].role],
			       kind);
			return -1;
		}
	}
	nk = cfg_size(sec, "key");
	if (nk == 0 || nk > sizeof(tb->key) / sizeof(tb->key[0])) {
		seterr(err, errlen, "%s:%d: table %s: key must name 1 to 4 columns", file,
		       secline(sec), tb->name);
		return -1;
	}
	for (size_t k = 0; k < nk; k++) {
		const char *kn = cfg_getnstr(sec, "key", k);
		size_t i;
		for (i = 0; i < tb->ncols; i++)
			if (strcmp(tb->cols[i].name, kn) == 0)
				break;
		if (i == tb->ncols || tb->cols[i].type != PT_STRING) {
			seterr(err, errlen, "%s:%d: table %s: key \"%s\" is not a string column",
			       file, secline(sec), tb->name, kn);
			return -1;
		}
		tb->key[tb->nkey++] = i;
	}
	return 0;
}

static int
parse_profile(struct snmp_profile *p, cfg_t *sec, const char *file, char *err, size_t errlen)
{
	p->name = xstrdup(cfg_title(sec));
	p->description = xstrdup(cfg_getstr(sec, "description"));
	if (p->name == NULL || p->name[0] == '\0') {
		seterr(err, errlen, "%s:%d: a profile needs a name", file, secline(sec));
		return -1;
	}
	p->nscalars = cfg_size(sec, "scalar");
	p->ntables = cfg_size(sec, "table");
	if (p->nscalars + p->ntables == 0) {
		seterr(err, errlen, "%s:%d: profile %s asks for nothing", file, secline(sec),
		       p->name);
		p->nscalars = p->ntables = 0;
		return -1;
	}
	p->scalars = calloc(p->nscalars ? p->nscalars : 1, sizeof(*p->scalars));
	p->tables = calloc(p->ntables ? p->ntables : 1, sizeof(*p->tables));
	if (p->scalars == NULL || p->tables == NULL) {
		seterr(err, errlen, "%s: out of memory", file);
		p->nscalars = p->ntables = 0;
		return -1;
	}
	for (size_t i = 0; i < p->nscalars; i++) {
		cfg_t *s = cfg_getnsec(sec, "scalar", i);
		if (parse_object(&p->scalars[i], s, false, file, err, errlen) != 0)
			return -1;
		if (!role_fits(p->scalars[i].role, false, PK_INTERFACE)) {
			seterr(err, errlen, "%s:%d: scalar %s: role %s is for table columns", file,
			       secline(s), p->scalars[i].name, role_names[p->scalars[i].role]);
			return -1;
		}
	}
	for (size_t i = 0; i < p->ntables; i++)
		if (parse_table(&p->tables[i], cfg_getnsec(sec, "table", i), file, err, errlen) !=
		    0)
			return -1;
	return 0;
}

static int
parse_cfg(struct snmp_profiles *ps, cfg_t *cfg, const char *file, char *err, size_t errlen)
{
	size_t n = cfg_size(cfg, "profile");
	struct snmp_profile *nv;

	if (n == 0) {
		seterr(err, errlen, "%s: no profile in file", file);
		return -1;
	}
	nv = realloc(ps->v, (ps->n + n) * sizeof(*nv));
	if (nv == NULL) {
		seterr(err, errlen, "%s: out of memory", file);
		return -1;
	}
	ps->v = nv;
	for (size_t i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "profile", i);
		struct snmp_profile *p = &ps->v[ps->n];

		memset(p, 0, sizeof(*p));
		ps->n++; /* owned from here on, freed with ps on error */
		if (parse_profile(p, sec, file, err, errlen) != 0)
			return -1;
		for (size_t k = 0; k + 1 < ps->n; k++) {
			if (strcmp(ps->v[k].name, p->name) == 0) {
				seterr(err, errlen, "%s:%d: profile %s is defined twice", file,
				       secline(sec), p->name);
				return -1;
			}
		}
	}
	return 0;
}

static int
parse_common(struct snmp_profiles *ps, const char *path, const char *buf, const char *name,
             char *err, size_t errlen)
{
	struct perr pe = {name, err, errlen, false};
	cfg_t *cfg;
	int rc;

	cfg = cfg_init(top_opts, CFGF_NONE);
	if (cfg == NULL) {
		seterr(err, errlen, "%s: out of memory", name);
		return -1;
	}
	cfg_set_error_function(cfg, conf_errfunc);
	cur_err = &pe;
	if (path) {
		rc = cfg_parse(cfg, path);
	} else {
		rc = cfg_parse_buf(cfg, buf);
	}
	cur_err = NULL;
	if (rc == CFG_FILE_ERROR) {
		seterr(err, errlen, "%s: %s", name, strerror(errno));
		cfg_free(cfg);
		return -1;
	}
	if (rc != CFG_SUCCESS) {
		if (!pe.set)
			seterr(err, errlen, "%s: syntax error", name);
		cfg_free(cfg);
		return -1;
	}
	rc = parse_cfg(ps, cfg, name, err, errlen);
	cfg_free(cfg);
	return rc;
}

int
snmp_profiles_parse_file(struct snmp_profiles *ps, const char *path, char *err, size_t errlen)
{
	return parse_common(ps, path, NULL, path, err, errlen);
}

int
snmp_profiles_parse_buf(struct snmp_profiles *ps, const char *buf, const char *name, char *err,
                        size_t errlen)
{
	return parse_common(ps, NULL, buf, name, err, errlen);
}

static int
conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

struct snmp_profiles *
snmp_profiles_load(const char *dir, char *err, size_t errlen)
{
	struct snmp_profiles *ps;
	struct dirent **names = NULL;
	int n, rc = 0;

	ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	n = scandir(dir, &names, conf_filter, alphasort);
	if (n < 0) {
		seterr(err, errlen, "profile directory %s: %s", dir, strerror(errno));
		free(ps);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];

		if (rc == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			rc = snmp_profiles_parse_file(ps, path, err, errlen);
		}
		free(names[i]);
	}
	free(names);
	if (rc != 0) {
		snmp_profiles_free(ps);
		return NULL;
	}
	return ps;
}
