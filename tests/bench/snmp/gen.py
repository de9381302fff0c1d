#!/usr/bin/env python3
"""Write an snmpsim recording of a 48-port switch (static values: the
benchmark measures the pollers, so the simulator should do as little as
possible per varbind).  Usage: gen.py FILE [NIFS]"""
import sys

path = sys.argv[1]
nifs = int(sys.argv[2]) if len(sys.argv) > 2 else 48
rec = [
    ("1.3.6.1.2.1.1.1.0", 4, "LW-Bench Switch 48x1G"),
    ("1.3.6.1.2.1.1.2.0", 6, "1.3.6.1.4.1.8072.3.2.10"),
    ("1.3.6.1.2.1.1.3.0", 67, "123456"),
    ("1.3.6.1.2.1.1.5.0", 4, "bench-switch"),
    ("1.3.6.1.2.1.1.6.0", 4, "bench"),
    ("1.3.6.1.2.1.2.1.0", 2, str(nifs)),
]
idx = range(1, nifs + 1)
iftable = {  # column: (type, value(i))
    1: (2, lambda i: i), 2: (4, lambda i: f"GigabitEthernet0/{i}"), 3: (2, lambda i: 6),
    4: (2, lambda i: 1500), 5: (66, lambda i: 1000000000), 7: (2, lambda i: 1),
    8: (2, lambda i: 1 if i % 4 else 2), 9: (67, lambda i: 100), 10: (65, lambda i: 1000 * i),
    11: (65, lambda i: 10 * i), 13: (65, lambda i: 0), 14: (65, lambda i: i % 3),
    16: (65, lambda i: 2000 * i), 17: (65, lambda i: 20 * i), 19: (65, lambda i: 0),
    20: (65, lambda i: 0),
}
ifxtable = {
    1: (4, lambda i: f"Gi0/{i}"), 2: (65, lambda i: 0), 3: (65, lambda i: 0),
    4: (65, lambda i: 0), 5: (65, lambda i: 0), 6: (70, lambda i: 10**10 + 1000 * i),
    7: (70, lambda i: 10**8 + 10 * i), 8: (70, lambda i: 0), 9: (70, lambda i: 0),
    10: (70, lambda i: 2 * 10**10 + 2000 * i), 11: (70, lambda i: 2 * 10**8 + 20 * i),
    12: (70, lambda i: 0), 13: (70, lambda i: 0), 15: (66, lambda i: 1000),
    18: (4, lambda i: f"port {i}"), 19: (67, lambda i: 0),
}
for col, (t, f) in iftable.items():
    for i in idx:
        rec.append((f"1.3.6.1.2.1.2.2.1.{col}.{i}", t, str(f(i))))
for col, (t, f) in ifxtable.items():
    for i in idx:
        rec.append((f"1.3.6.1.2.1.31.1.1.1.{col}.{i}", t, str(f(i))))


def key(r):
    return [int(x) for x in r[0].split(".")]


with open(path, "w") as out:
    for oid, t, v in sorted(rec, key=key):
        out.write(f"{oid}|{t}|{v}\n")
