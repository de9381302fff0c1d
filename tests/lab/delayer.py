#!/usr/bin/python3
"""Userspace link delayer for the linewatch lab (netem is not in this kernel).

lab.sh redirects every frame leaving interface DEV (tc clsact egress, u32
match-all, `mirred egress redirect`) into the TAP device TAP that this
program owns.  Frames transmitted on a TAP are readable from its file
descriptor; we hold each one for DELAY ms (+/- JITTER ms, order preserved)
and then transmit it on DEV through an AF_PACKET socket with
PACKET_QDISC_BYPASS, which skips the qdisc layer and therefore the tc egress
hook that redirected it in the first place (no loop).  Works for any
protocol (ICMP, UDP, TCP, ARP) because it operates on whole L2 frames.

Only the Python standard library is used.  Run as root inside the namespace
that owns DEV.  Stops on SIGTERM/SIGINT; the TAP disappears with it.
"""
import argparse
import fcntl
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SOL_PACKET = 263
PACKET_QDISC_BYPASS = 20
MAX_QUEUE = 20000  # frames held at once; beyond that we drop (like a full queue)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tap', required=True)
    ap.add_argument('--dev', required=True)
    ap.add_argument('--delay', type=float, required=True, help='milliseconds')
    ap.add_argument('--jitter', type=float, default=0.0, help='milliseconds')
    ap.add_argument('--ready-file', help='created once the TAP exists')
    a = ap.parse_args()

    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', a.tap.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(fd, False)
    out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    out.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    out.bind((a.dev, 0))

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    if a.ready_file:
        with open(a.ready_file, 'w') as f:
            f.write('%d\n' % os.getpid())
    sys.stdout.write('delayer: %s -> %s delay %.1f ms jitter %.1f ms\n'
                     % (a.tap, a.dev, a.delay, a.jitter))
    sys.stdout.flush()

    base = a.delay / 1000.0
    jit = a.jitter / 1000.0
    q = []
    seq = 0
    last_due = 0.0
    sent = dropped = 0
    while not stop:
        timeout = 1.0
        if q:
            timeout = max(0.0, min(timeout, q[0][0] - time.monotonic()))
        try:
            r, _, _ = select.select([fd], [], [], timeout)
        except InterruptedError:
            continue
        if r:
            while True:
                try:
                    frame = os.read(fd, 65536)
                except (BlockingIOError, InterruptedError):
                    break
                if len(q) >= MAX_QUEUE:
                    dropped += 1
                    continue
                d = base + (random.uniform(-jit, jit) if jit else 0.0)
                due = max(time.monotonic() + max(d, 0.0), last_due)  # keep FIFO order
                last_due = due
                heapq.heappush(q, (due, seq, frame))
                seq += 1
        now = time.monotonic()
        while q and q[0][0] <= now:
            _, _, frame = heapq.heappop(q)
            try:
                out.send(frame)
                sent += 1
            except OSError:
                dropped += 1  # link down / carrier lost: the frame is lost
    sys.stdout.write('delayer: stop, sent %d dropped %d\n' % (sent, dropped))


if __name__ == '__main__':
    main()
