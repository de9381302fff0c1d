/* sample.c - fan-out of samples from sources to consumers */
#include <stdlib.h>
#include <string.h>

#include "sample.h"

struct sub {
	lw_sample_cb cb;
	void *arg;
};

struct lw_bus {
	struct sub *subs;
	size_t nsubs;
};

struct lw_bus *
sample_bus_new(void)
{
	return calloc(1, sizeof(struct lw_bus));
}

void
sample_bus_free(struct lw_bus *bus)
{
	if (bus == NULL)
		return;
	free(bus->subs);
	free(bus);
}

int
sample_subscribe(struct lw_bus *bus, lw_sample_cb cb, void *arg)
{
	struct sub *n = realloc(bus->subs, (bus->nsubs + 1) * sizeof(*n));

	if (n == NULL)
		return -1;
	bus->subs = n;
	bus->subs[bus->nsubs].cb = cb;
	bus->subs[bus->nsubs].arg = arg;
	bus->nsubs++;
	return 0;
}

void
sample_unsubscribe(struct lw_bus *bus, lw_sample_cb cb, void *arg)
{
	for (size_t i = 0; i < bus->nsubs; i++) {
		if (bus->subs[i].cb == cb && bus->subs[i].arg == arg) {
			memmove(&bus->subs[i], &bus->subs[i + 1],
			        (bus->nsubs - i - 1) * sizeof(bus->subs[0]));
			bus->nsubs--;
			return;
		}
	}
}

void
sample_publish(struct lw_bus *bus, const struct lw_sample *s)
{
	for (size_t i = 0; i < bus->nsubs; i++)
		bus->subs[i].cb(s, bus->subs[i].arg);
}

const struct lw_metric *
sample_metric(const struct lw_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nmetrics; i++)
		if (strcmp(s->metrics[i].name, name) == 0)
			return &s->metrics[i];
	return NULL;
}

const char *
sample_attr(const struct lw_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nattrs; i++)
		if (strcmp(s->attrs[i].name, name) == 0)
			return s->attrs[i].value;
	return NULL;
}

const char *
lw_status_name(enum lw_status st)
{
	switch (st) {
	case LW_OK:
		return "ok";
	case LW_WARNING:
		return "warning";
	case LW_CRITICAL:
		return "critical";
	default:
		return "unknown";
	}
}
