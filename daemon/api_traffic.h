/* api_traffic.h - traffic and evidence over HTTP.
 *
 *   GET /api/v1/traffic                    every capture: status and latest interval
 *   GET /api/v1/traffic?capture=NAME[&from=T][&to=T][&top=N]
 *        stored intervals of a capture overlapping [from, to) (unix seconds;
 *        default: the last hour): totals, series, top hosts, conversations
 *        and services (top default 20, at most 1000)
 *   GET /api/v1/traffic/NAME               one capture's status and latest interval
 *   GET /api/v1/evidence[?ticket=REF]      evidence files (name, size, time, url)
 *   GET /api/v1/evidence/FILE.pcap         download (application/vnd.tcpdump.pcap)
 *   POST /api/v1/evidence  capture=NAME&ticket=REF
 *        record evidence now (the ring and the next evidence-after), as a
 *        ticket opening does; 202 {"file", "url"}.  A write: session and
 *        CSRF token, or loopback when no web-user is configured.
 *
 * Every route needs read access (auth_may_read) when auth is given.
 */
#ifndef LW_API_TRAFFIC_H
#define LW_API_TRAFFIC_H

#include "capture.h"
#include "http.h"

struct auth;

int api_traffic_register(struct lw_http *h, struct captures *cs, struct auth *auth);

#endif
