/* static_files.h - /static/... from web-dir/static, traversal refused */
#ifndef LW_STATIC_FILES_H
#define LW_STATIC_FILES_H

#include "config.h"
#include "http.h"

struct static_files;

struct static_files *static_files_new(struct lw_http *h, const struct lw_config *const *cfgp);
void static_files_free(struct static_files *sf);

/* 0 if rel (already URL-decoded) is a safe relative path: no "..", no
 * backslash, no NUL or control characters, no leading '/'. */
int static_path_ok(const char *rel);

#endif
