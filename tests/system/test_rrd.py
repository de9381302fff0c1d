"""RRD history from the real daemon: probe results land in
state-dir/rrd/links/<link>/<probe>.rrd, written directly and through the real
rrdcached (Debian package) on a unix socket.  Only loopback is probed."""
import os
import re
import signal
import socket
import subprocess

import pytest

from lwd import Daemon, wait_for

LINK = '''
link "isp-a" {
    provider = "Loopback Telecom"
    probe "gw" { type = "icmp"  target = "127.0.0.1"  interval = "1s" }
}
'''


def rrd_info(path, daemon=None):
    cmd = ["rrdtool", "info", path]
    if daemon:
        cmd[2:2] = ["--daemon", daemon]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        return None
    info = {}
    for line in out.stdout.splitlines():
        k, _, v = line.partition(" = ")
        info[k] = v.strip('"')
    return info


def probe_file(d):
    return os.path.join(d.state, "rrd", "links", "isp-a", "gw.rrd")


def loss_written(path, daemon=None):
    """The newest loss and rtt_avg the file has seen, once it has seen any."""
    if daemon:
        subprocess.run(["rrdtool", "flushcached", "--daemon", daemon, path],
                       capture_output=True, timeout=10)
    info = rrd_info(path) if os.path.exists(path) else None
    if not info or info.get("ds[loss].last_ds", "U") == "U":
        return None
    return info


def check_layout(info):
    assert info["step"] == "1"
    for ds in ("status", "loss", "rtt_min", "rtt_avg", "rtt_max", "rtt_median", "jitter",
               "mos", "time", "connect_time"):
        assert info[f"ds[{ds}].type"] == "GAUGE"
        assert info[f"ds[{ds}].minimal_heartbeat"] == "2"
    # 1 minute, 5 minutes, 1 hour, 1 day; AVERAGE, MIN, MAX each
    rras = {(info[f"rra[{i}].cf"], int(info[f"rra[{i}].pdp_per_row"]), int(info[f"rra[{i}].rows"]))
            for i in range(12)}
    for cf in ("AVERAGE", "MIN", "MAX"):
        for pdp, rows in ((60, 2880), (300, 4032), (3600, 9504), (86400, 1827)):
            assert (cf, pdp, rows) in rras
    assert float(info["ds[loss].last_ds"]) == 0.0
    assert float(info["ds[rtt_avg].last_ds"]) > 0.0


def test_probe_history_direct(tmp_path):
    with Daemon(tmp_path, body=LINK, extra_top='rrd-write-delay = "0s"') as d:
        info = d.wait_for(lambda: loss_written(probe_file(d)), timeout=30,
                          what="a probe result in " + probe_file(d))
        check_layout(info)


def held_rows(d):
    status, _, body = d.request("/metrics")
    assert status == 200
    m = re.search(rb"^linewatch_rrd_held_rows (\S+)$", body, re.M)
    assert m, "no linewatch_rrd_held_rows in /metrics"
    return float(m.group(1))


def last_update(path):
    return float(rrd_info(path)["last_update"])


def test_held_rows_written_for_graphs_and_at_stop(tmp_path):
    """Direct writes are held per file (rrd-write-delay) and written together:
    while held, the file does not move past its creation; drawing a graph of
    it writes them first; a stop writes the rest; a short delay writes them
    on its own."""
    with Daemon(tmp_path, body=LINK, extra_top='rrd-write-delay = "10m"') as d:
        path = probe_file(d)
        d.wait_for(lambda: os.path.exists(path) and held_rows(d) >= 3, timeout=30,
                   what="probe rows held for " + path)
        created = last_update(path)
        assert rrd_info(path)["ds[loss].last_ds"] == "U", "held rows reached the file"

        status, hdrs, png = d.request("/graph/probe/isp-a/gw/loss.png?range=3h")
        assert status == 200 and png.startswith(b"\x89PNG"), (status, png[:100])
        drawn = last_update(path)
        assert drawn >= created + 3, (created, drawn)
        assert float(rrd_info(path)["ds[loss].last_ds"]) == 0.0

        d.wait_for(lambda: held_rows(d) >= 3, timeout=30, what="more rows held")
        assert last_update(path) == drawn
        assert d.stop() == 0
        assert last_update(path) >= drawn + 3, "a stop must write the held rows"

    (tmp_path / "short").mkdir()
    with Daemon(tmp_path / "short", body=LINK, extra_top='rrd-write-delay = "3s"') as d:
        path = probe_file(d)
        d.wait_for(lambda: os.path.exists(path) and rrd_info(path)
                   and rrd_info(path)["ds[loss].last_ds"] != "U", timeout=30,
                   what="rows written after a 3 s delay without any reader")


def cached_stats(sock):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock)
    s.sendall(b"STATS\n")
    data = b""
    while b"TreeDepth" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return {k: int(v) for k, v in re.findall(r"^(\w+): (\d+)$", data.decode(), re.M)}


@pytest.fixture
def rrdcached(tmp_path):
    base = tmp_path / "state" / "rrd"
    journal = tmp_path / "journal"
    base.mkdir(parents=True)
    journal.mkdir()
    sock = str(tmp_path / "rrdcached.sock")
    log = open(tmp_path / "rrdcached.log", "ab")
    # -w 3600: nothing reaches the disk unless flushed
    p = subprocess.Popen(["rrdcached", "-g", "-l", "unix:" + sock, "-b", str(base), "-B",
                          "-F", "-j", str(journal), "-w", "3600", "-f", "7200"],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: p.poll() is None and os.path.exists(sock) and cached_stats(sock),
                 timeout=30, what="rrdcached on " + sock)
        yield sock
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()


def test_probe_history_through_rrdcached(tmp_path, rrdcached):
    addr = "unix:" + rrdcached
    with Daemon(tmp_path, body=LINK, extra_top=f'rrdcached = "{addr}"') as d:
        info = d.wait_for(lambda: loss_written(probe_file(d), daemon=addr), timeout=30,
                          what="a probe result in " + probe_file(d) + " through rrdcached")
        check_layout(info)
        stats = cached_stats(rrdcached)
        assert stats["UpdatesReceived"] > 0
        log = d.read_log()
        assert "through rrdcached at " + addr in log
        assert "rrd: cannot" not in log
