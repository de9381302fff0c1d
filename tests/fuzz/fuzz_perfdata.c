/* fuzz_perfdata.c - libFuzzer harness for the Monitoring Plugins output parser */
#include <stddef.h>
#include <stdint.h>

#include "perfdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perf_item items[16];
	char msg[128];
	size_t bad, n;
	double v;

	n = perfdata_parse_output((const char *)data, size, msg, sizeof(msg), items, 16, &bad);
	for (size_t i = 0; i < n; i++)
		(void)perfdata_normalize(&items[i], &v);
	(void)perfdata_parse((const char *)data, size, items, 16, NULL);
	return 0;
}
