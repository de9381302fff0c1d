/* plugin_dir.h - unit tests: the build's plugins/ directory, beside tests/ */
#ifndef LW_TEST_PLUGIN_DIR_H
#define LW_TEST_PLUGIN_DIR_H

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* BUILD/plugins for a test binary at BUILD/tests/NAME: the plugins the same
 * make built.  Returns -1 when /proc/self/exe cannot be read. */
static inline int
plugin_dir_of_build(char *dir, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	snprintf(dir, len, "%s/../plugins", exe);
	return 0;
}

#endif
