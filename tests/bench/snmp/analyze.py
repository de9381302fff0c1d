#!/usr/bin/env python3
"""Poll cycles and varbinds from a pcap of SNMP traffic on one UDP port.

    analyze.py FILE.pcap PORT GAP_S   ->  JSON {"cycles": [wall_s, ...],
        "varbinds_per_cycle": [N, ...], "requests_per_cycle": [N, ...]}

Packets to PORT are requests, from PORT responses.  A cycle is a burst of
traffic separated from the next by at least GAP_S seconds of silence; its
wall time runs from its first request to its last response.  Varbinds are
counted in responses by walking the BER of each SNMP message."""
import json
import struct
import sys


def ber(buf, i):
    """(tag, content start, content end) of the TLV at i."""
    tag = buf[i]
    n = buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    return tag, i, i + n


def count_varbinds(msg):
    try:
        _, s, e = ber(msg, 0)          # Message SEQUENCE
        _, s1, e1 = ber(msg, s)        # version
        _, s2, e2 = ber(msg, e1)       # community
        tag, s3, e3 = ber(msg, e2)     # PDU
        if tag != 0xa2:                # GetResponse
            return 0
        i = s3
        for _ in range(3):             # request-id, error-status, error-index
            _, _, i = ber(msg, i)
        _, vs, ve = ber(msg, i)        # VarBindList
        n = 0
        while vs < ve:
            _, _, vs = ber(msg, vs)
            n += 1
        return n
    except (IndexError, ValueError):
        return 0


def packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
        nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
        linktype = struct.unpack(endian + "I", hdr[20:24])[0]
        while True:
            ph = f.read(16)
            if len(ph) < 16:
                return
            sec, frac, incl, _ = struct.unpack(endian + "IIII", ph)
            data = f.read(incl)
            ts = sec + frac / (1e9 if nano else 1e6)
            if linktype == 1:      # Ethernet (lo)
                off = 14
            elif linktype == 113:  # Linux cooked
                off = 16
            elif linktype == 276:  # Linux cooked v2
                off = 20
            else:
                off = 0
            ip = data[off:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 15) * 4
            sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
            yield ts, sport, dport, ip[ihl + 8:]


def main():
    path, port, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    cycles = []  # [first ts, last ts, varbinds, requests]
    cur = last = None
    for ts, sport, dport, payload in packets(path):
        if dport == port:
            if cur is None or ts - last > gap:
                cur = [ts, ts, 0, 0]
                cycles.append(cur)
            cur[3] += 1
        elif sport == port and cur is not None:
            cur[2] += count_varbinds(payload)
            cur[1] = ts
        else:
            continue
        last = ts
    print(json.dumps({"cycles": [round(c[1] - c[0], 3) for c in cycles],
                      "varbinds_per_cycle": [c[2] for c in cycles],
                      "requests_per_cycle": [c[3] for c in cycles]}))


if __name__ == "__main__":
    main()
