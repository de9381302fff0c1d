/* plugin_table.c - dlopen() of a table plugin, with errors that say the fix */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

#include "plugin_table.h"

void *
plugin_table_open(const char *dir, const char *file, const char *symbol, const char *needs,
                  const char *what, const void **table, char *path, size_t pathlen, char *err,
                  size_t errlen)
{
	const char *e;
	void *dl;

	*table = NULL;
	if (snprintf(path, pathlen, "%s/%s", dir, file) >= (int)pathlen) {
		snprintf(err, errlen, "plugin-dir \"%s\" is too long", dir);
		return NULL;
	}
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		if (access(path, F_OK) == -1)
			snprintf(err, errlen,
			         "plugin %s does not exist: %s "
			         "(make install puts it with the probe plugins; is plugin-dir "
			         "right?)",
			         path, needs);
		else
			snprintf(err, errlen, "plugin %s cannot be loaded: %s", path,
			         e ? e : "dlopen failed");
		return NULL;
	}
	(void)dlerror();
	if ((*table = dlsym(dl, symbol)) == NULL) {
		snprintf(err, errlen, "plugin %s has no %s symbol: not %s", path, symbol, what);
		dlclose(dl);
		return NULL;
	}
	return dl;
}
