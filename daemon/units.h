/* units.h - the one parser for durations, rates, sizes and percentages.
 * Each returns 0, or -1 with a message in err saying what is accepted. */
#ifndef LW_UNITS_H
#define LW_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "150ms", "30s", "5m", "1h", "7d" (a bare number is refused: say the unit) */
int units_duration_ms(const char *s, int64_t *out, char *err, size_t errlen);
/* bits per second: "100M", "1.5G", "512k", "100Mbit", "100Mbps", "2000000" (SI, 1000) */
int units_rate_bps(const char *s, uint64_t *out, char *err, size_t errlen);
/* bytes: "16MB", "16M", "16MiB", "512k", "4096" (binary, 1024) */
int units_size_bytes(const char *s, uint64_t *out, char *err, size_t errlen);
/* "5%", "99.9%", "5" -> 0..100 */
int units_percent(const char *s, double *out, char *err, size_t errlen);
/* formatting for messages: "1.5 s", "100 Mbit/s" */
const char *units_fmt_duration(int64_t ms, char *buf, size_t len);
const char *units_fmt_rate(double bps, char *buf, size_t len);

#endif
