#!/usr/bin/env python3
"""Write a large Ethernet pcap for the capture benchmark (generated into /tmp, never committed).

    gen.py OUT.pcap PACKETS [SHARED_PCAPS_DIR]

A base of 50 000 frames -- the real Ethernet frames of the shared tcpdump
regression captures (QinQ, DNS, HTTP, ICMPv6, IPv6 routing header, ESP in UDP,
MPLS over UDP, big TCP, GSO) mixed with synthetic traffic between 1 000 local
and 20 000 remote hosts with a heavy-tailed (Zipf) choice of conversations,
TCP/UDP/ICMP, IPv4 and IPv6, VLAN-tagged or not -- is repeated, one copy
after the other in time, until PACKETS frames are written.  Frames are kept
to 128 bytes (the capture's default snaplen: headers only) with their wire
length in the record, like a live capture would store them.
"""
import os
import random
import struct
import sys

SNAP = 128


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        return []
    if struct.unpack("<I", data[20:24])[0] != 1:  # Ethernet only
        return []
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, cap, orig = struct.unpack("<IIII", data[off:off + 16])
        out.append((data[off + 16:off + 16 + cap], orig))
        off += 16 + cap
    return out


def synth(rnd, n):
    local = [bytes([10, 20, i >> 8, i & 0xff]) for i in range(1000)]
    remote = [rnd.getrandbits(32).to_bytes(4, "big") for _ in range(20000)]
    v6l = [bytes.fromhex("20010db8000100000000000000000000")[:14] + i.to_bytes(2, "big")
           for i in range(200)]
    v6r = [bytes.fromhex("20010db8ffff00000000000000000000")[:14] + i.to_bytes(2, "big")
           for i in range(2000)]
    frames = []
    ports = [443, 80, 53, 22, 25, 123, 5201, 3389, 8080, 993]
    for _ in range(n):
        z = min(int(rnd.paretovariate(1.2)) - 1, len(remote) - 1)
        size = rnd.choice((64, 64, 64, 128, 576, 1500, 1500, 1500))
        kind = rnd.random()
        sport, dport = rnd.randrange(1024, 65536), rnd.choice(ports)
        if rnd.random() < 0.5:
            sport, dport = dport, sport
        if kind < 0.12:  # IPv6 TCP
            a, b = rnd.choice(v6l), v6r[z % len(v6r)]
            l4 = struct.pack(">HHIIBBHHH", sport, dport, 1, 1, 0x50, 0x10, 65535, 0, 0)
            ip = struct.pack(">IHBB", 0x60000000, size - 54, 6, 64) + a + b
            frame = bytes(12) + b"\x86\xdd" + ip + l4
        else:
            proto = 6 if kind < 0.75 else (17 if kind < 0.97 else 1)
            a, b = rnd.choice(local), remote[z]
            if rnd.random() < 0.5:
                a, b = b, a
            if proto == 6:
                l4 = struct.pack(">HHIIBBHHH", sport, dport, 1, 1, 0x50, 0x18, 65535, 0, 0)
            elif proto == 17:
                l4 = struct.pack(">HHHH", sport, dport, size - 34, 0)
            else:
                l4 = b"\x08\x00\x00\x00\x00\x01\x00\x01"
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, size - 14, 1, 0, 64, proto, 0, a, b)
            if rnd.random() < 0.3:
                frame = bytes(12) + b"\x81\x00" + struct.pack(">H", 100) + b"\x08\x00" + ip + l4
                size += 4
            else:
                frame = bytes(12) + b"\x08\x00" + ip + l4
        frames.append((frame[:SNAP], max(size, len(frame))))
    return frames


def main():
    out, total = sys.argv[1], int(sys.argv[2])
    shared = sys.argv[3] if len(sys.argv) > 3 else None
    rnd = random.Random(2024)
    real = []
    if shared and os.path.isdir(shared):
        for name in sorted(os.listdir(shared)):
            if name.endswith(".pcap"):
                real += read_pcap(os.path.join(shared, name))
    base = synth(rnd, 50000 - 20 * len(real))
    for _ in range(20):
        for data, orig in real:
            base.insert(rnd.randrange(len(base)), (data[:SNAP], orig))
    recs = [(struct.pack("<II", len(d), o), d) for d, o in base]
    step_us = 10  # 100 000 frames per second of capture time
    t = 1700000000 * 1000000
    with open(out, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, SNAP, 1))
        written = 0
        while written < total:
            for lens, d in recs:
                if written == total:
                    break
                f.write(struct.pack("<II", t // 1000000, t % 1000000))
                f.write(lens)
                f.write(d)
                t += step_us
                written += 1
    print(f"{out}: {total} frames ({len(real)} real frames x 20 per 50 000)", file=sys.stderr)


if __name__ == "__main__":
    main()
