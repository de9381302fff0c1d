/* suggest.c - `linewatchd --suggest-config`: a starting config, no packets sent */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

struct route_info {
	char ifname[64];
	char gateway[INET_ADDRSTRLEN];
};

static int
default_route(const char *path, struct route_info *ri)
{
	char line[512], ifn[64];
	unsigned long dst, gw, flags, mask;
	FILE *fp = fopen(path, "r");
	int found = 0;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... */
		if (sscanf(line, "%63s %lx %lx %lx %*d %*d %*d %lx", ifn, &dst, &gw, &flags,
		           &mask) != 5)
			continue;
		if (dst != 0 || mask != 0 || gw == 0 || !(flags & 0x2))
			continue;
		struct in_addr a = {.s_addr = (in_addr_t)gw}; /* already network order */
		snprintf(ri->ifname, sizeof(ri->ifname), "%s", ifn);
		inet_ntop(AF_INET, &a, ri->gateway, sizeof(ri->gateway));
		found = 1;
		break;
	}
	fclose(fp);
	return found ? 0 : -1;
}

static int
nameserver(const char *path, char *buf, size_t len)
{
	char line[512], addr[128];
	FILE *fp = fopen(path, "r");
	int found = 0;

	if (fp == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "nameserver %127s", addr) == 1) {
			struct in6_addr a6;
			struct in_addr a4;
			if (inet_pton(AF_INET, addr, &a4) == 1 ||
			    inet_pton(AF_INET6, addr, &a6) == 1) {
				snprintf(buf, len, "%s", addr);
				found = 1;
			}
		}
	}
	fclose(fp);
	return found ? 0 : -1;
}

int
suggest_config_from(FILE *out, const char *route_path, const char *resolv_path)
{
	struct route_info ri = {"", ""};
	char ns[128] = "";
	int have_route = default_route(route_path, &ri) == 0;
	int have_ns = nameserver(resolv_path, ns, sizeof(ns)) == 0;

	fprintf(out, "# linewatch configuration suggested by `linewatchd --suggest-config`.\n"
	             "# Read it, fill in the provider's details, then save it as\n"
	             "# /etc/linewatch/linewatch.conf and check it with `linewatchd -t`.\n\n"
	             "site      = \"My client, main office\"\n"
	             "state-dir = \"/var/lib/linewatch\"\n"
	             "user      = \"linewatch\"\n"
	             "log-level = \"info\"\n\n"
	             "http {\n    listen = { \"127.0.0.1:8080\" }\n}\n\n");
	if (!have_route) {
		fprintf(out, "# No default route found in %s: add a link by hand.\n", route_path);
		return 0;
	}
	fprintf(
	    out,
	    "# The default route leaves through %s via %s: that is the way to the ISP.\n"
	    "# If the gateway is an SNMP-managed router, add a device for it:\n"
	    "# device \"edge-router\" {\n#     address   = \"%s\"\n#     snmp      = \"v2c\"\n"
	    "#     community = \"public\"\n#     interval  = \"30s\"\n# }\n\n"
	    "link \"internet\" {\n"
	    "    provider  = \"\"          # the carrier's name\n"
	    "    circuit   = \"\"          # circuit ID, to quote when calling the carrier\n"
	    "    support   = \"\"          # the carrier's support number\n"
	    "    bandwidth = \"100M\"      # contracted rate\n"
	    "    sla       = \"99.9%%\"\n"
	    "    probe \"gateway\" { type = \"icmp\"  target = \"%s\"  interval = \"5s\"  hop = "
	    "\"gateway\" }\n",
	    ri.ifname, ri.gateway, ri.gateway, ri.gateway);
	if (have_ns)
		fprintf(out,
		        "    # probe \"dns\" { type = \"dns\"  target = \"%s\"  query = "
		        "\"example.com\" "
		        " hop = \"isp\" }\n",
		        ns);
	fprintf(
	    out,
	    "    degraded { loss = \"5%%\"  latency = \"150ms\"  utilization = \"90%%\"  for = 3"
	    "  clear = 3 }\n}\n\n"
	    "# Traffic sampling on the LAN-facing interface (headers only):\n"
	    "# capture \"lan\" { interface = \"%s\"  filter = \"not port 22\"  link = "
	    "\"internet\" }\n",
	    ri.ifname);
	return 0;
}

int
suggest_config(FILE *out)
{
	return suggest_config_from(out, "/proc/net/route", "/etc/resolv.conf");
}
