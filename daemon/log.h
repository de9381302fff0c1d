/* log.h - logging to stderr (foreground) or syslog (daemon) */
#ifndef LW_LOG_H
#define LW_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(int foreground, enum log_level level);
void log_setlevel(enum log_level level);
enum log_level log_getlevel(void);
int log_level_parse(const char *s, enum log_level *out);

/* log_warn appends strerror(errno); log_warnx does not.  Same for fatal/fatalx. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Copy an untrusted (device-supplied) string into dst, replacing control
 * characters and non-ASCII bytes with '?' so it can never forge log lines. */
const char *log_safe(char *dst, size_t dstlen, const char *src);

#endif
