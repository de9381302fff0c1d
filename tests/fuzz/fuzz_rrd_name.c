/* fuzz_rrd_name.c - libFuzzer harness for RRD file naming.
 *
 * Interface names come from devices, so any bytes may reach the file name
 * encoder.  Input: first byte picks the subject kind, the rest is split at
 * the first NUL into owner and name.  Checked: every encoded name decodes
 * back to the input, a path never leaves <state-dir>/rrd ("..", "." or empty
 * components, control bytes), and decoding arbitrary input never crashes. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rrd_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STATE "/var/lib/linewatch"

static void
check_path(const char *path)
{
	const char *p = path + strlen(STATE "/rrd/");

	if (strncmp(path, STATE "/rrd/", strlen(STATE "/rrd/")) != 0)
		abort();
	for (const char *c = path; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			abort();
	/* every component below rrd/ is a real, visible name */
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || p[0] == '.' || n > NAME_MAX)
			abort();
		p += n;
		if (*p == '/')
			p++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *owner, *name, *back;
	char enc[NAME_MAX + 1], path[PATH_MAX];
	size_t olen;

	if (size < 1 || size > 1024)
		return 0;
	/* a NUL-terminated heap copy: ASan sees any overread */
	in = malloc(size);
	back = malloc(size > 1 ? size : 1);
	if (in == NULL || back == NULL)
		abort();
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	owner = in;
	olen = strlen(owner);
	name = olen + 1 < size - 1 ? in + olen + 1 : in + olen;

	if (rrd_store_name_encode(owner, enc, sizeof(enc)) == 0) {
		if (strchr(enc, '/') != NULL || enc[0] == '.' ||
		    rrd_store_name_decode(enc, back, size) != 0 || strcmp(back, owner) != 0)
			abort();
	} else if (*owner != '\0' && errno != ENAMETOOLONG) {
		abort();
	}
	if (rrd_store_file(STATE, (enum lw_subject)(data[0] % 5), owner, name, path,
	                   sizeof(path)) == 0)
		check_path(path);
	/* arbitrary input to the decoder */
	(void)rrd_store_name_decode(owner, back, size);
	free(back);
	free(in);
	return 0;
}
