"""Application classification with nDPI (capture { applications = yes }).

Offline through `linewatchd --replay FILE --applications` on shared and
generated captures, live on the loopback of a private network namespace.  A
linewatchd built without nDPI says so, reports no applications and keeps
naming services by their well-known ports: the same tests check that instead.

nDPI lives in the plugin appclass-ndpi.so, not in linewatchd: only a daemon
with a classifying capture (or --replay --applications) maps it and libndpi;
a missing plugin is a FILE:LINE configuration error.
"""
import json
import os
import random
import re
import signal
import struct
import subprocess
import time

import pytest

from lwd import BUILD, LINEWATCHD, Daemon, EmptyPluginDirDaemon, free_port, run
from test_capture import (PCAPS, eth, ip4, need_pcaps, ns_curl, private_ns,  # noqa: F401
                          replay, replay_bin, tcp, udp, write_pcap)


def has_ndpi(binary, tmp_path):
    path = str(tmp_path / "probe.pcap")
    write_pcap(path, 1, [eth(ip4("10.0.0.1", "10.0.0.2", 17, udp(1000, 53, bytes(20))))])
    p, rep = replay(binary, path, "--applications")
    if "built without nDPI" in p.stderr:
        assert rep["applications"] == [] and rep["application_evictions"] is None
        return False
    return True


def needed(path):
    r = run(["readelf", "-d", path])
    assert r.returncode == 0, r.stderr
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)


def mapped(pid, prefix):
    """Whether a shared object whose file name starts with prefix is mapped."""
    with open(f"/proc/{pid}/maps") as f:
        return any(os.path.basename(line.split()[-1]).startswith(prefix)
                   for line in f if ".so" in line)


PLUGIN = "appclass-ndpi.so"


def apps(rep):
    return {a["name"]: a for a in rep["applications"]}


def dns_query(name, ident):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", 1, 1)


def http_flow(cli, srv, sport, host):
    """Handshake, a GET with its Host, the answer, the close: 7 frames."""
    req = (f"GET /index.html HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/7.88.1\r\n"
           "Accept: */*\r\n\r\n").encode()
    res = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 300\r\n\r\n" + bytes(300)
    return [eth(ip4(cli, srv, 6, tcp(sport, 80, 0x02))),
            eth(ip4(srv, cli, 6, tcp(80, sport, 0x12))),
            eth(ip4(cli, srv, 6, tcp(sport, 80, 0x10))),
            eth(ip4(cli, srv, 6, tcp(sport, 80, 0x18, req))),
            eth(ip4(srv, cli, 6, tcp(80, sport, 0x18, res))),
            eth(ip4(cli, srv, 6, tcp(sport, 80, 0x11))),
            eth(ip4(srv, cli, 6, tcp(80, sport, 0x11)))]


def test_shared_captures_dns_and_http(replay_bin, tmp_path):
    need_pcaps()
    ndpi = has_ndpi(replay_bin, tmp_path)
    for name, app, service in (("dns_udp.pcap", "DNS", "dns"), ("dns_tcp.pcap", "DNS", "dns"),
                               ("ipv4_tcp_http_xml.pcap", "HTTP", "http")):
        p, rep = replay(replay_bin, os.path.join(PCAPS, name), "--applications")
        # services keep their port names either way
        assert service in {s["service"] for s in rep["services"]}, name
        if not ndpi:
            assert rep["applications"] == []
            continue
        # every frame of the file is IP and belongs to one flow of that application
        assert list(apps(rep)) == [app], (name, rep["applications"])
        assert apps(rep)[app]["bytes"] == rep["totals"]["bytes"]
        assert apps(rep)[app]["packets"] == rep["totals"]["packets"]
        assert apps(rep)[app]["flows"] == 1
        assert rep["application_evictions"] == 0


def test_generated_flows_counted_whole(replay_bin, tmp_path):
    """HTTP flows (the handshake before the request counts for HTTP too), DNS
    queries and answers, and an unknown UDP flow: the applications add up to
    every byte."""
    if not has_ndpi(replay_bin, tmp_path):
        pytest.skip("linewatchd is built without nDPI")
    frames = []
    for i in range(5):
        frames += http_flow("10.0.0.1", "192.0.2.80", 40000 + i, "www.example.com")
    for i in range(10):
        q = dns_query(f"host{i}.example.org", i)
        frames.append(eth(ip4("10.0.0.1", "192.0.2.53", 17, udp(50000 + i, 53, q))))
        frames.append(eth(ip4("192.0.2.53", "10.0.0.1", 17,
                              udp(53, 50000 + i, q[:2] + b"\x81\x80" + q[4:]))))
    rnd = random.Random(3)
    frames += [eth(ip4("10.0.0.1", "192.0.2.99", 17, udp(47000, 47001, rnd.randbytes(200))))
               for _ in range(40)]
    path = str(tmp_path / "apps.pcap")
    write_pcap(path, 1, frames)
    _, rep = replay(replay_bin, path, "--applications")
    a = apps(rep)
    assert a["HTTP"]["flows"] == 5 and a["HTTP"]["packets"] == 35
    assert a["DNS"]["flows"] == 10 and a["DNS"]["packets"] == 20
    assert a["HTTP"]["category"] == "Web"
    assert sum(x["bytes"] for x in rep["applications"]) == rep["totals"]["bytes"]
    assert sum(x["packets"] for x in rep["applications"]) == rep["totals"]["packets"]
    p = subprocess.run([replay_bin, "--replay", path, "--applications", "--table"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "applications" in p.stdout and "HTTP" in p.stdout


def test_flow_table_fixed_size_evicts_oldest(replay_bin, tmp_path):
    """30 000 flows through the smallest memory: the flow table keeps its size
    (evictions counted, memory flat), every byte still counts for some
    application, the steady HTTP talker is still named."""
    if not has_ndpi(replay_bin, tmp_path):
        pytest.skip("linewatchd is built without nDPI")
    rnd = random.Random(5)
    small, many = str(tmp_path / "small.pcap"), str(tmp_path / "many.pcap")
    write_pcap(small, 1, http_flow("10.0.0.1", "192.0.2.80", 40000, "a.example"))
    frames = []
    for i in range(30000):
        if i % 1000 == 0:
            frames += http_flow("10.0.0.1", "192.0.2.80", 30000 + i // 1000, "a.example")
        src = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        frames.append(eth(ip4(src, "192.0.2.7", 17, udp(rnd.randrange(1024, 65536), 9999,
                                                       rnd.randbytes(40)))))
    write_pcap(many, 1, frames)
    # about the smallest memory a classifying capture may have: 3M kernel
    # ring (not used offline), 1M for the thread, 6M for nDPI's tables, 2M
    # for flows, evidence and tables
    conf = Daemon(tmp_path, body='capture "c" {\n interface = "lo"\n memory = 12M\n'
                                 ' applications = yes\n}\n').conf

    def run(path):
        p = subprocess.run(["/usr/bin/time", "-f", "%M", replay_bin, "--replay", path, "-c",
                            conf, "--top", "5"], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return int(p.stderr.strip().splitlines()[-1]), json.loads(p.stdout)

    if not os.path.exists("/usr/bin/time"):
        pytest.skip("/usr/bin/time is not installed")
    base, _ = run(small)
    peak, rep = run(many)
    assert rep["application_evictions"] > 0
    a = apps(rep)
    assert a["HTTP"]["flows"] == 30
    assert sum(x["flows"] for x in rep["applications"]) >= 30000
    assert sum(x["bytes"] for x in rep["applications"]) <= rep["totals"]["bytes"]
    growth_mb = (peak - base) / 1024
    assert growth_mb < 2 + 4, f"memory grew by {growth_mb:.1f} MB for 2 MB of tables"


def test_live_applications_in_the_api(private_ns, tmp_path):
    """DNS queries on the loopback of a private namespace: the interval report
    and /api/v1/traffic name the application (or, without nDPI, have an empty
    list and the dns service)."""
    body = ('capture "loop" {\n interface = "lo"\n interval = 1s\n applications = yes\n}\n')
    with Daemon(tmp_path, body=body, netns=private_ns) as d:
        ndpi = d.get("/api/v1/traffic/loop")["applications"] is not None
        if not ndpi:
            assert "built without nDPI" in d.read_log()
        # nDPI comes with the plugin, loaded because this capture classifies
        assert mapped(d.pid(), PLUGIN) == ndpi
        assert mapped(d.pid(), "libndpi") == ndpi
        t0 = time.time()
        # a listening socket: no ICMP port unreachable in between
        send = ("import socket, struct\n"
                "srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "srv.bind(('127.0.0.53', 53))\n"
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "for i in range(20):\n"
                "    q = struct.pack('>HHHHHH', i, 0x100, 1, 0, 0, 0)"
                " + b'\\x07example\\x03org\\x00' + struct.pack('>HH', 1, 1)\n"
                "    s.sendto(q, ('127.0.0.53', 53))\n"
                "    srv.recvfrom(512)\n")
        subprocess.run(["ip", "netns", "exec", private_ns, "python3", "-c", send], check=True)

        def stored():
            # all 20: they may fall in two intervals, stored one after the other
            q = d.get(f"/api/v1/traffic?capture=loop&from={t0 - 2}&to={time.time() + 2}")
            dns = sum(s["packets"] for s in q["services"] if s["service"] == "dns")
            return q if dns >= 20 else None
        q = d.wait_for(stored, timeout=60, what="the 20 queries in traffic.db")
        if ndpi:
            a = {x["name"]: x for x in q["applications"]}
            assert "DNS" in a and a["DNS"]["packets"] >= 20, q["applications"]
        else:
            assert q["applications"] == []


# --- appclass-ndpi.so: libndpi only in the plugin ----------------------------


def test_linewatchd_does_not_link_libndpi_the_plugin_does(replay_bin, tmp_path):
    # libndpi is ~1 MB of resident pages in every daemon that maps it
    core = needed(LINEWATCHD)
    assert core and not [n for n in core if "ndpi" in n], core
    if not has_ndpi(replay_bin, tmp_path):
        pytest.skip("linewatchd is built without nDPI: no plugin")
    assert [n for n in needed(os.path.join(BUILD, "plugins", PLUGIN))
            if n.startswith("libndpi")]


def test_libndpi_is_not_mapped_without_applications(private_ns, tmp_path):
    """A capture that does not classify maps neither the plugin nor libndpi,
    not even after a reload that turns applications on (checked, which loads
    and unloads the plugin; applied at the next restart)."""
    body = 'capture "loop" {\n interface = "lo"\n interval = 1s\n}\n'
    with Daemon(tmp_path, body=body, netns=private_ns) as d:
        d.wait_for(lambda: d.get("/api/v1/traffic/loop")["running"], 30, "the capture")
        assert d.get("/api/v1/traffic/loop")["applications"] is None
        assert not mapped(d.pid(), PLUGIN)
        assert not mapped(d.pid(), "libndpi")
        d.write_config(body.replace("}\n", " applications = yes\n}\n"))
        d.signal(signal.SIGHUP)
        d.wait_for(lambda: "configuration reloaded" in d.read_log(), 30, "the reload")
        assert not d.health()["config"]["last_reload_failed"]
        assert not mapped(d.pid(), PLUGIN)
        assert not mapped(d.pid(), "libndpi")


def test_libpcap_is_loaded_only_for_a_capture(private_ns, tmp_path):
    """libpcap brings dbus, systemd, gcrypt and compressors (~0.9 MB of
    resident pages): linewatchd does not link it; a daemon without a capture
    never maps it, one with a capture loads it and captures."""
    assert not [n for n in needed(LINEWATCHD) if n.startswith("libpcap")]
    (tmp_path / "none").mkdir()
    with Daemon(tmp_path / "none", netns=private_ns) as d:
        assert d.health()
        assert not mapped(d.pid(), "libpcap")
    body = 'capture "loop" {\n interface = "lo"\n interval = 1s\n}\n'
    with Daemon(tmp_path, body=body, netns=private_ns) as d:
        d.wait_for(lambda: d.get("/api/v1/traffic/loop")["running"], 30, "the capture")
        assert mapped(d.pid(), "libpcap")


def test_applications_without_the_plugin_fail_t_start_and_replay(replay_bin, tmp_path):
    if not has_ndpi(replay_bin, tmp_path):
        pytest.skip("linewatchd is built without nDPI: applications are only a warning")
    empty = tmp_path / "plugins"
    empty.mkdir()
    (tmp_path / "state").mkdir()
    p = tmp_path / "lw.conf"
    text = (f'state-dir = "{tmp_path}/state"\npidfile = "{tmp_path}/lw.pid"\n'
            f'plugin-dir = "{empty}"\nhttp {{ listen = {{ "127.0.0.1:{free_port()}" }} }}\n'
            '\ncapture "loop" {\n  interface = "lo"\n  applications = yes\n}\n')
    p.write_text(text)
    want = f'{p}:6: capture "loop": plugin {empty}/{PLUGIN} does not exist'
    r = run([LINEWATCHD, "-t", "-c", str(p)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert want in r.stderr and "plugin-dir" in r.stderr, r.stderr
    # start-up stops at the same check, before any interface is opened
    r = run([LINEWATCHD, "-f", "-c", str(p)], timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert want in r.stderr, r.stderr
    # --replay takes plugin-dir from -c, or --plugin-dir
    pcap = str(tmp_path / "one.pcap")
    write_pcap(pcap, 1, [eth(ip4("10.0.0.1", "10.0.0.2", 17, udp(1000, 53, bytes(20))))])
    for args in (["-c", str(p)], ["--applications", "--plugin-dir", str(empty)]):
        r = run([LINEWATCHD, "--replay", pcap, *args])
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"plugin {empty}/{PLUGIN} does not exist" in r.stderr, r.stderr
    # with the plugin, the same configuration is fine
    p.write_text(text.replace(f'plugin-dir = "{empty}"', f'plugin-dir = "{BUILD}/plugins"'))
    r = run([LINEWATCHD, "-t", "-c", str(p)])
    assert r.returncode == 0 and r.stdout.strip() == "configuration OK", r.stdout + r.stderr


def test_reload_adding_applications_without_the_plugin_keeps_the_config(replay_bin, tmp_path):
    if not has_ndpi(replay_bin, tmp_path):
        pytest.skip("linewatchd is built without nDPI: applications are only a warning")
    with EmptyPluginDirDaemon(tmp_path) as d:
        d.write_config('capture "loop" {\n interface = "lo"\n applications = yes\n}\n')
        d.signal(signal.SIGHUP)
        d.wait_for(lambda: "keeping the running configuration" in d.read_log(), 30,
                   "the refused reload")
        assert re.search(r'linewatch\.conf:\d+: capture "loop": plugin \S+/appclass-ndpi\.so '
                         r'does not exist', d.read_log()), d.read_log()[-2000:]
        assert d.health()["config"]["last_reload_failed"]
        assert not mapped(d.pid(), "libndpi")
