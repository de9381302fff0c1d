/* suggest.h - print a starting configuration from what this box already knows */
#ifndef LW_SUGGEST_H
#define LW_SUGGEST_H

#include <stdio.h>

/* Reads /proc/net/route and /etc/resolv.conf; sends no packet. */
int suggest_config(FILE *out);
int suggest_config_from(FILE *out, const char *route_path, const char *resolv_path);

#endif
