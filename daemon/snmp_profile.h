/* snmp_profile.h - what an SNMP poll asks for, loaded from etc/profiles/NAME.conf
 *
 * A profile is a named set of numeric OIDs and how each value becomes a
 * metric or an attribute of a sample; no MIB file is read at run time.
 *
 *   profile "ups" {
 *       description = "UPS-MIB (RFC 1628)"
 *       scalar "battery_minutes" { oid = "1.3.6.1.2.1.33.1.2.3.0" type = "gauge" unit = "min" }
 *       table "interfaces" {
 *           kind = "interface"            # rows become interface samples
 *           key  = { "name", "descr" }    # row name: first non-empty of these columns
 *           column "in_bps" { oid = "1.3.6.1.2.1.31.1.1.1.6" type = "counter" scale = 8
 *                             unit = "bps" fallback = "1.3.6.1.2.1.2.2.1.10" }
 *       }
 *   }
 *
 * Object options (scalar and column):
 *   oid            numeric OID (scalars with their instance, columns without)
 *   type           string | oid | gauge | counter | timeticks | enum | flag
 *   unit, scale    published value = raw * scale (timeticks: seconds * scale)
 *   fallback       OID used where `oid` is absent (HC counters -> 32-bit ones)
 *   fallback-scale scale for the fallback (default: scale)
 *   prefer-nonzero use the fallback also when `oid` reads 0 (ifHighSpeed)
 *   enum           { "1=up", "2=down" } names for an enum attribute
 *   true-values    { 5 } flag is 1 when the value is one of these, else 0
 *   publish        false = read for the poller's own use only
 *   sum-into       add this counter's rate into the named metric (in_pps)
 *   role           what the poller itself needs the value for: uptime,
 *                  engine-boots, engine-time (scalars); speed, discontinuity,
 *                  last-change (interface tables); storage-type, storage-units,
 *                  storage-size, storage-used (storage tables)
 * Table kinds: "interface" (one sample per row) and "storage"
 * (hrStorageTable, summarised into device metrics).
 */
#ifndef LW_SNMP_PROFILE_H
#define LW_SNMP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/types.h>

#define PROF_OID_MAX 64

enum prof_type {
	PT_STRING = 0,
	PT_OID,
	PT_GAUGE,
	PT_COUNTER,
	PT_TIMETICKS,
	PT_ENUM,
	PT_FLAG,
};

enum prof_role {
	PR_NONE = 0,
	PR_UPTIME,
	PR_ENGINE_BOOTS,
	PR_ENGINE_TIME,
	PR_SPEED,
	PR_DISCONTINUITY,
	PR_LAST_CHANGE,
	PR_STORAGE_TYPE,
	PR_STORAGE_UNITS,
	PR_STORAGE_SIZE,
	PR_STORAGE_USED,
};

enum prof_table_kind { PK_INTERFACE = 0, PK_STORAGE };

struct prof_enum {
	long value;
	char *name;
};

struct prof_object {
	char *name; /* published metric or attribute name */
	oid oid[PROF_OID_MAX];
	size_t oidlen;
	oid fallback[PROF_OID_MAX];
	size_t fallbacklen; /* 0 = none */
	enum prof_type type;
	enum prof_role role;
	char *unit;
	double scale;
	double fallback_scale;
	bool prefer_nonzero;
	bool publish;
	char *sum_into;
	struct prof_enum *enums;
	size_t nenums;
	long *truev;
	size_t ntrue;
};

struct prof_table {
	char *name;
	enum prof_table_kind kind;
	size_t key[4]; /* column indexes giving the row name, in order */
	size_t nkey;
	struct prof_object *cols;
	size_t ncols;
};

struct snmp_profile {
	char *name;
	char *description;
	struct prof_object *scalars;
	size_t nscalars;
	struct prof_table *tables;
	size_t ntables;
};

struct snmp_profiles {
	struct snmp_profile *v;
	size_t n;
};

/* Load every *.conf in dir.  On error returns NULL with a FILE:LINE message
 * in err. */
struct snmp_profiles *snmp_profiles_load(const char *dir, char *err, size_t errlen);
/* Parse one file into ps (appending).  Returns 0 or -1 with err set. */
int snmp_profiles_parse_file(struct snmp_profiles *ps, const char *path, char *err, size_t errlen);
/* Same, from a string (tests, fuzzing); `name` is used in messages. */
int snmp_profiles_parse_buf(struct snmp_profiles *ps, const char *buf, const char *name, char *err,
                            size_t errlen);
const struct snmp_profile *snmp_profiles_find(const struct snmp_profiles *ps, const char *name);
void snmp_profiles_free(struct snmp_profiles *ps);

/* Numeric dotted OID ("1.3.6.1", leading dot allowed) -> sub-identifiers.
 * Returns 0, or -1 if malformed, a sub-id exceeds 2^32-1 or it is longer
 * than max. */
int snmp_oid_parse(const char *s, oid *out, size_t max, size_t *len);
/* Dotted text of an OID into buf (truncated with "..." if too long). */
const char *snmp_oid_fmt(const oid *o, size_t len, char *buf, size_t buflen);

/* Name for an enum value, NULL if none. */
const char *prof_enum_name(const struct prof_object *o, long value);
/* Flag value: 1 if value is one of true-values. */
bool prof_flag(const struct prof_object *o, long value);

const char *prof_type_name(enum prof_type t);

#endif
