/* decode.h - captured frame bytes to a flow key.
 *
 * Pure: no I/O, no allocation, no clock.  Every length is checked against
 * the captured length; a frame that cannot be decoded gets a reason and the
 * caller counts it.  Frames cut short by the snaplen still count at the
 * level they reached (an IP header without its ports is an IP packet).
 */
#ifndef LW_DECODE_H
#define LW_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* pcap link types handled (LINKTYPE_* values as found in files) */
#define DECODE_LINK_NULL 0
#define DECODE_LINK_ETHERNET 1
#define DECODE_LINK_RAW_OLD 12 /* DLT_RAW on most systems */
#define DECODE_LINK_RAW 101
#define DECODE_LINK_LOOP 108
#define DECODE_LINK_SLL 113
#define DECODE_LINK_IPV4 228
#define DECODE_LINK_IPV6 229
#define DECODE_LINK_SLL2 276

#define DECODE_MAX_VLANS 4  /* tags walked before giving up */
#define DECODE_MAX_LABELS 8 /* MPLS labels walked */
#define DECODE_MAX_EXTHDR 8 /* IPv6 extension headers walked */

enum decode_result {
	DECODE_OK = 0,
	DECODE_NOT_IP,     /* ARP, LLDP, ...: counted, no addresses */
	DECODE_TRUNCATED,  /* link or IP header cut before its end */
	DECODE_BAD_LINK,   /* link type not handled */
	DECODE_BAD_VLAN,   /* more stacked tags/labels than we walk */
	DECODE_BAD_IP,     /* version, header length or total length inconsistent */
	DECODE_BAD_EXTHDR, /* IPv6 extension header chain too long or cut */
	DECODE_NRESULTS
};

/* Flags on a decoded packet. */
#define DECODE_F_FRAGMENT 0x01  /* part of a fragmented datagram */
#define DECODE_F_LATERFRAG 0x02 /* not the first fragment: no ports */
#define DECODE_F_TUNNEL 0x04    /* GRE, IP-in-IP, IPv6-in-IP: inner not decoded */
#define DECODE_F_L4_CUT 0x08    /* ports not captured (snaplen) or header short */
#define DECODE_F_VLAN 0x10
#define DECODE_F_MPLS 0x20
#define DECODE_F_PPPOE 0x40
#define DECODE_F_INNER 0x80 /* MPLS over UDP: inner IP addresses in inner_* */

/* UDP port of MPLS over UDP (RFC 7510).  tshark decodes the labels and the
 * IP packet they carry and counts its addresses as endpoints too; so do we,
 * one level deep. */
#define DECODE_PORT_MPLS_UDP 6635

struct decode_pkt {
	uint8_t family; /* 4 or 6; 0 if not IP */
	uint8_t proto;  /* IP protocol (final, after IPv6 extension headers) */
	uint8_t flags;  /* DECODE_F_* */
	uint8_t nvlan;
	uint16_t vlan;  /* outermost VLAN id */
	uint16_t sport; /* 0 unless TCP/UDP/SCTP/UDP-Lite with ports captured */
	uint16_t dport;
	uint8_t icmp_type;
	uint8_t tcp_flags;
	uint8_t src[16]; /* IPv4 in the first 4 bytes, rest zero */
	uint8_t dst[16];
	uint32_t l3_off; /* offset of the IP header in the frame */
	uint32_t l4_off; /* offset of the transport header (0 if none) */
	/* with DECODE_F_INNER: the IP header inside the tunnel */
	uint8_t inner_family;
	uint8_t inner_proto;
	uint32_t inner_off;
	uint8_t inner_src[16];
	uint8_t inner_dst[16];
};

/* Decode one frame.  caplen is how many bytes p holds.  Fills *out (zeroed
 * first) and returns DECODE_OK or the reason it stopped. */
enum decode_result decode_packet(int linktype, const uint8_t *p, size_t caplen,
                                 struct decode_pkt *out);

/* Whether decode_packet() understands a link type. */
int decode_link_supported(int linktype);

/* "truncated", "bad_ip", ... (API and report field names). */
const char *decode_result_name(enum decode_result r);

#endif
