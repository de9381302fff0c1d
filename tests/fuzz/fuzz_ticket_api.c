/* fuzz_ticket_api.c - libFuzzer harness for what the tickets and links API
 * parse from a request: ticket references, months, states, verdicts */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blame.h"
#include "sla.h"
#include "ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	enum ticket_state st;
	int64_t from, to, id;
	char ref[16];

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	id = ticket_ref_id(s);
	if (id > 0) {
		/* a reference parsed back from its own text is the same ticket */
		ticket_ref(id, ref, sizeof(ref));
		if (ticket_ref_id(ref) != id)
			abort();
	}
	if (sla_month_range(s, &from, &to) == 0 && to <= from)
		abort();
	(void)ticket_state_parse(s, &st);
	(void)ticket_severity_parse(s);
	(void)blame_parse(s);
	free(s);
	return 0;
}
