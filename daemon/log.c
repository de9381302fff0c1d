/* log.c - logging in the OpenBSD daemon idiom */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int log_foreground = 1;
static enum log_level log_level = LOG_LVL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int level_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void
log_init(int foreground, enum log_level level)
{
	log_foreground = foreground;
	log_level = level;
	if (!foreground)
		openlog("linewatchd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setlevel(enum log_level level)
{
	log_level = level;
}

enum log_level
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

static void
vlog(enum log_level lvl, const char *fmt, va_list ap, const char *err)
{
	char msg[2048];

	if (lvl > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_foreground) {
		if (err)
			syslog(level_prio[lvl], "%s: %s", msg, err);
		else
			syslog(level_prio[lvl], "%s", msg);
		return;
	}
	char ts[32];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	if (err)
		fprintf(stderr, "%s %s: %s: %s\n", ts, level_names[lvl], msg, err);
	else
		fprintf(stderr, "%s %s: %s\n", ts, level_names[lvl], msg);
	fflush(stderr);
}

#define LOG_BODY(lvl, err)                                                                         \
	va_list ap;                                                                                \
	va_start(ap, fmt);                                                                         \
	vlog(lvl, fmt, ap, err);                                                                   \
	va_end(ap)

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);
	LOG_BODY(LOG_LVL_WARN, e);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, NULL);
}

void
log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);
	LOG_BODY(LOG_LVL_ERROR, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, NULL);
	exit(1);
}

const char *
log_safe(char *dst, size_t dstlen, const char *src)
{
	size_t i = 0;

	if (dstlen == 0)
		return dst;
	for (; src && *src && i + 1 < dstlen; src++) {
		unsigned char c = (unsigned char)*src;
		dst[i++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
	return dst;
}
