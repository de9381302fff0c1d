/* api_devices.c - the devices API: configuration joined with the last samples */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "api_devices.h"
#include "log.h"
#include "sample.h"
#include "state.h"

struct api_devices {
	struct lw_state *st;
	const struct lw_config *const *cfgp;
};

/* One static context per process: the daemon registers the API once. */
static struct api_devices api;

static const char *const iface_metrics[] = {
    "speed_bps",
    "in_bps",
    "out_bps",
    "in_pps",
    "out_pps",
    "in_errors_ps",
    "out_errors_ps",
    "in_discards_ps",
    "out_discards_ps",
    "utilization_in_pct",
    "utilization_out_pct",
    "last_change_s",
};

static const char *const iface_attrs[] = {
    "alias", "descr", "ifindex", "oper_status", "admin_status",
};

/* Device text is cleaned by the poller; json_string still refuses invalid
 * UTF-8, so never let that turn into a missing field. */
static json_t *
jstr(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	return j != NULL ? j : json_string("?");
}

static json_t *
jmetric(const struct lw_sample *s, const char *name)
{
	const struct lw_metric *m = s ? sample_metric(s, name) : NULL;

	return m && m->valid ? json_real(m->value) : json_null();
}

static const char *
version_name(enum lw_snmp_version v)
{
	switch (v) {
	case LW_SNMP_V1:
		return "v1";
	case LW_SNMP_V2C:
		return "v2c";
	case LW_SNMP_V3:
		return "v3";
	}
	return "?";
}

static void
iface_cb(const struct lw_sample *s, void *arg)
{
	json_t *list = arg;
	json_t *o = json_object();

	if (o == NULL)
		return;
	json_object_set_new(o, "name", jstr(s->name));
	for (size_t i = 0; i < sizeof(iface_attrs) / sizeof(iface_attrs[0]); i++)
		json_object_set_new(o, iface_attrs[i], jstr(sample_attr(s, iface_attrs[i])));
	for (size_t i = 0; i < sizeof(iface_metrics) / sizeof(iface_metrics[0]); i++)
		json_object_set_new(o, iface_metrics[i], jmetric(s, iface_metrics[i]));
	json_array_append_new(list, o);
}

static json_t *
metrics_json(const struct lw_sample *s)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && s != NULL && i < s->nmetrics; i++) {
		const struct lw_metric *m = &s->metrics[i];
		json_object_set_new(o, m->name,
		                    json_pack("{s:o, s:o}", "value",
		                              m->valid ? json_real(m->value) : json_null(), "unit",
		                              jstr(m->unit ? m->unit : "")));
	}
	return o;
}

static json_t *
device_json(const struct lw_device *d)
{
	const struct lw_sample *s = state_get(api.st, LW_SUBJ_DEVICE, d->name, NULL);
	json_t *o, *profiles, *ifs;
	const char *state = s ? sample_attr(s, "state") : NULL;
	const char *reason = s ? sample_attr(s, "reason") : NULL;

	profiles = json_array();
	for (size_t i = 0; profiles && i < d->nprofiles; i++)
		json_array_append_new(profiles, jstr(d->profiles[i]));
	o = json_pack("{s:o, s:o, s:i, s:s, s:o}", "name", jstr(d->name), "address",
	              jstr(d->address), "port", d->port, "snmp", version_name(d->auth.version),
	              "profiles", profiles ? profiles : json_array());
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "state", jstr(state ? state : "unknown"));
	json_object_set_new(o, "reason", jstr(reason && *reason ? reason : NULL));
	if (s != NULL) {
		char when[32];
		struct tm tm;
		time_t t = s->ts.tv_sec;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(o, "last_poll", json_string(when));
		json_object_set_new(o, "ts", json_real(s->ts.tv_sec + s->ts.tv_usec / 1e6));
	} else {
		json_object_set_new(o, "last_poll", json_null());
		json_object_set_new(o, "ts", json_null());
	}
	json_object_set_new(o, "poll_duration_ms", jmetric(s, "poll_duration_ms"));
	json_object_set_new(o, "sysName", jstr(s ? sample_attr(s, "sysName") : NULL));
	json_object_set_new(o, "sysDescr", jstr(s ? sample_attr(s, "sysDescr") : NULL));
	json_object_set_new(o, "sysObjectID", jstr(s ? sample_attr(s, "sysObjectID") : NULL));
	json_object_set_new(o, "sysLocation", jstr(s ? sample_attr(s, "sysLocation") : NULL));
	json_object_set_new(o, "uptime_s", jmetric(s, "uptime_s"));
	json_object_set_new(o, "metrics", metrics_json(s));
	ifs = json_array();
	if (ifs)
		state_foreach(api.st, LW_SUBJ_INTERFACE, d->name, iface_cb, ifs);
	json_object_set_new(o, "interfaces", ifs ? ifs : json_array());
	return o;
}

static void
devices_cb(struct evhttp_request *req, const char *rest, void *arg)
{
	const struct lw_config *cfg = *api.cfgp;
	json_t *list;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_reply_error(req, 405, "only GET is allowed here");
		return;
	}
	if (rest[0] == '/' && rest[1] != '\0') {
		char *name = evhttp_uridecode(rest + 1, 0, NULL);
		const struct lw_device *d = name ? config_device(cfg, name) : NULL;

		free(name);
		if (d == NULL) {
			http_reply_error(req, 404, "no such device in the configuration");
			return;
		}
		http_reply_json(req, 200, device_json(d));
		return;
	}
	if (rest[0] != '\0' && strcmp(rest, "/") != 0) {
		http_reply_error(req, 404, "no such page");
		return;
	}
	list = json_array();
	for (size_t i = 0; list != NULL && i < cfg->ndevices; i++)
		json_array_append_new(list, device_json(&cfg->devices[i]));
	http_reply_json(req, 200, json_pack("{s:o}", "devices", list ? list : json_array()));
}

void
api_devices_register(struct lw_http *h, struct lw_state *st, const struct lw_config *const *cfgp)
{
	api.st = st;
	api.cfgp = cfgp;
	if (http_route(h, "/api/v1/devices", devices_cb, &api) != 0)
		log_warnx("api: cannot register /api/v1/devices");
}
