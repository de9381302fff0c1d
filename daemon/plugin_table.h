/* plugin_table.h - open a plugin that carries a library out of linewatchd
 *
 * notify-curl.so (libcurl) and appclass-ndpi.so (nDPI) each export one table
 * of functions; linewatchd opens them only when the configuration needs them.
 */
#ifndef LW_PLUGIN_TABLE_H
#define LW_PLUGIN_TABLE_H

#include <stddef.h>

/* Open DIR/FILE (its name left in path) and look up SYMBOL.  Returns the
 * dlopen handle with *table set, or NULL with err saying what to do.  NEEDS
 * says what needs the plugin ("webhook and email destinations need it"),
 * WHAT what the plugin is ("linewatch's notify plugin"); both go into the
 * messages.  The caller checks the table's ABI and dlclose()s the handle. */
void *plugin_table_open(const char *dir, const char *file, const char *symbol, const char *needs,
                        const char *what, const void **table, char *path, size_t pathlen, char *err,
                        size_t errlen);

#endif
