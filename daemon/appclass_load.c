/* appclass_load.c - dlopen() of appclass-ndpi.so and the checks of its table */
#include <dlfcn.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "appclass_load.h"
#include "plugin_table.h"

#define GCRYPT "libgcrypt.so.20"

bool
appclass_built(void)
{
#ifdef LW_NDPI
	return true;
#else
	return false;
#endif
}

void *
appclass_open(const char *dir, const struct lw_appclass **tp, char *err, size_t errlen)
{
	const struct lw_appclass *t;
	char path[PATH_MAX];
	const void *tab;
	void *dl;

	if (!appclass_built()) {
		snprintf(err, errlen, "this linewatchd is built without nDPI (NDPI=0)");
		return NULL;
	}
	dl = plugin_table_open(
	    dir, LW_APPCLASS_FILE, LW_APPCLASS_SYMBOL, "application classification needs it",
	    "linewatch's application plugin", &tab, path, sizeof(path), err, errlen);
	if (dl == NULL)
		return NULL;
	/* libgcrypt, under libndpi, keeps what its initialisation allocates in
	 * its own statics and cannot be unloaded cleanly: once here, it stays
	 * (the plugin and libndpi still go with appclass_close()) */
	(void)dlopen(GCRYPT, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
	t = tab;
	/* the table and the structures must be the ones this linewatchd has */
	if (t->abi != LW_APPCLASS_ABI) {
		snprintf(err, errlen,
		         "plugin %s has ABI version %" PRIu32
		         ", linewatchd needs %d: install the " LW_APPCLASS_FILE
		         " built with this linewatchd",
		         path, t->abi, LW_APPCLASS_ABI);
		dlclose(dl);
		return NULL;
	}
	if (t->pkt_size != sizeof(struct decode_pkt) ||
	    t->report_size != sizeof(struct traffic_report)) {
		snprintf(err, errlen,
		         "plugin %s was built from another version of decode.h or traffic.h: "
		         "install the " LW_APPCLASS_FILE " built with this linewatchd",
		         path);
		dlclose(dl);
		return NULL;
	}
	if (t->version == NULL || t->create == NULL || t->destroy == NULL || t->size == NULL ||
	    t->add == NULL || t->flush == NULL || t->stats == NULL) {
		snprintf(err, errlen, "plugin %s lacks a function of its table", path);
		dlclose(dl);
		return NULL;
	}
	*tp = t;
	return dl;
}

void
appclass_close(void *dl)
{
	if (dl != NULL)
		dlclose(dl);
}
