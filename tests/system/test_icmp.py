"""The icmp probe plugin in the lab: a real linewatchd in the appliance
namespace pings the ISP gateway (198.18.1.1) through the simulated router
while the lab makes the wan link lossy, black-holed or slow.

Results are read back through GET /api/v1/probes, polling with a deadline.
Only runs that started after an impairment was put in place count: a result's
"ts" is when the run ended, and a run lasts less than its interval (the
probe timeout), so ts > t0 + interval means it started after t0.  "ts" is
taken when the daemon's event loop reports the run, which a loaded machine
can delay: SLACK_S more keeps a run that started before t0 out even then.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from lab import Lab
from lwd import LINEWATCHD, Daemon, run

INTERVAL_S = 2
SLACK_S = 1
COUNT = 50  # echoes per run of the "isp" probe, 20 ms apart: about 1 s

CONFIG = f"""
link "wan" {{
    probe "isp" {{ type = "icmp"  target = "{Lab.ISP}"  interval = "{INTERVAL_S}s"  hop = "isp"
                  count = "{COUNT}"  spacing = "20ms" }}
    probe "loop6" {{ type = "icmp"  target = "::1"  interval = "{INTERVAL_S}s"  family = "ipv6"
                    size = "0" }}
    probe "late" {{ type = "icmp"  target = "{Lab.ISP}"  interval = "{INTERVAL_S}s"  count = "5"
                  spacing = "300ms"  options = {{ "wait=20ms" }} }}
    probe "byname" {{ type = "icmp"  target = "isp-gw.lab.test"  server = "{Lab.INET}"
                     interval = "{INTERVAL_S}s"  count = "3"  spacing = "100ms" }}
    probe "noname" {{ type = "icmp"  target = "nowhere.lab.test"  server = "{Lab.INET}"
                     interval = "{INTERVAL_S}s" }}
    probe "nodns" {{ type = "icmp"  target = "isp-gw.lab.test"  server = "{Lab.LAN}"
                    interval = "{INTERVAL_S}s" }}
}}
"""

LOST = re.compile(r"^(\d+)/(\d+) lost")


def probe(d, name):
    for p in d.get("/api/v1/probes")["probes"]:
        if p["name"] == name:
            return p
    raise AssertionError(f"probe {name} not in /api/v1/probes")


def runs_after(d, name, t0, want_echoes, timeout):
    """Collect distinct results of probe `name` from runs that started after
    t0 until they add up to want_echoes echoes.  Returns the results."""
    seen = {}

    def enough():
        p = probe(d, name)
        if p["ts"] is not None and p["ts"] > t0 + INTERVAL_S + SLACK_S:
            seen[p["ts"]] = p
        return sum(int(LOST.match(r["message"]).group(2)) for r in seen.values()) >= want_echoes

    d.wait_for(enough, timeout=timeout, what=f"{want_echoes} echoes of probe {name}")
    return list(seen.values())


def lost_sent(results):
    lost = sent = 0
    for r in results:
        m = LOST.match(r["message"])
        assert m, r["message"]
        lost += int(m.group(1))
        sent += int(m.group(2))
    return lost, sent


@pytest.fixture(scope="module")
def daemon(lab_session, tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("icmp"), body=CONFIG, netns=lab_session.ns("app"))
    with d:
        yield d


def test_healthy_link(lab, daemon):
    t0 = time.time()
    results = runs_after(daemon, "isp", t0, 3 * COUNT, timeout=60)
    lost, sent = lost_sent(results)
    assert lost == 0, [r["message"] for r in results]
    for r in results:
        m = r["metrics"]
        assert r["status"] == "ok"
        assert re.match(r"^0/50 lost, rtt [0-9.]+/[0-9.]+/[0-9.]+ ms, jitter [0-9.]+ ms$",
                        r["message"]), r["message"]
        assert m["loss"]["value"] == 0 and m["loss"]["unit"] == "%"
        assert 0 < m["rtt_min"]["value"] <= m["rtt_median"]["value"] <= m["rtt_max"]["value"]
        assert m["rtt_min"]["value"] <= m["rtt_avg"]["value"] <= m["rtt_max"]["value"]
        assert m["jitter"]["value"] >= 0 and m["jitter"]["unit"] == "ms"
        assert m["mos"]["value"] > 4.3  # no loss, sub-ms latency: 4.41
    assert "duplicate" not in daemon.read_log()


def test_ipv6(lab, daemon):
    t0 = time.time()
    (r,) = runs_after(daemon, "loop6", t0, 5, timeout=40)[:1]
    assert r["status"] == "ok" and r["message"].startswith("0/5 lost, rtt "), r
    assert r["metrics"]["rtt_avg"]["value"] > 0


def test_names_through_the_probes_dns_server(lab, daemon):
    """A name target is resolved at every run through `server` only (the lab's
    dnsmasq); a name that does not resolve, or a server that does not answer,
    makes the run unknown (nothing was measured), not 100 % loss."""
    t0 = time.time()
    r = runs_after(daemon, "byname", t0, 3, timeout=40)[0]
    assert r["status"] == "ok" and r["message"].startswith("0/3 lost, rtt "), r
    for name, why in (("noname", "cannot resolve nowhere.lab.test: "),
                      ("nodns", "cannot resolve isp-gw.lab.test: ")):
        r = daemon.wait_for(lambda: (p := probe(daemon, name))["ts"] and p["ts"] > t0 and p,
                            timeout=40, what=f"a result of {name}")
        assert r["status"] == "unknown", r
        assert r["message"].startswith(why), r["message"]
        assert all(m["value"] is None for m in r["metrics"].values()), r["metrics"]


def test_loss_30_percent(lab, daemon):
    lab.impair("wan", "loss", 30)
    t0 = time.time()
    # 400 echoes: 30 % +- 2.3 % (one standard deviation)
    results = runs_after(daemon, "isp", t0, 400, timeout=120)
    lost, sent = lost_sent(results)
    assert 20 <= 100 * lost / sent <= 40, (lost, sent)
    for r in results:
        assert r["status"] == "ok"  # loss is the detector's business
        assert abs(r["metrics"]["loss"]["value"] - 100 * int(LOST.match(r["message"]).group(1))
                   / COUNT) < 1e-9
        assert r["metrics"]["mos"]["value"] < 4.0


def test_blackhole(lab, daemon):
    lab.impair("wan", "blackhole")
    t0 = time.time()
    results = runs_after(daemon, "isp", t0, 2 * COUNT, timeout=60)
    for r in results:
        assert r["status"] == "critical"
        assert r["message"] == f"{COUNT}/{COUNT} lost", r["message"]
        m = r["metrics"]
        assert m["loss"]["value"] == 100
        assert m["mos"]["value"] == 1
        # no round trip: unknown, not zero
        for k in ("rtt_min", "rtt_avg", "rtt_max", "rtt_median", "jitter"):
            assert m[k]["value"] is None, (k, m[k])
    # and it recovers
    lab.clear("wan")
    t1 = time.time()
    r = runs_after(daemon, "isp", t1, COUNT, timeout=60)[0]
    assert r["status"] == "ok", r["message"]


def test_delay_and_late_replies(lab, daemon):
    lab.impair("wan", "delay", 50)
    t0 = time.time()
    results = runs_after(daemon, "isp", t0, 2 * COUNT, timeout=60)
    for r in results:
        m = r["metrics"]
        assert m["rtt_avg"]["value"] > 40, r["message"]
        assert m["rtt_min"]["value"] > 40, r["message"]
    # "late" waits only 20 ms after its last echo: that reply arrives after
    # the run ended, and must count neither then nor in the next run (same
    # target, the other echoes' replies arrive 50 ms after, within the run:
    # 300 ms apart, the next echo and the end of the run are 250 ms after
    # the reply, room for a busy machine's delays)
    late = runs_after(daemon, "late", t0, 20, timeout=60)
    for r in late:
        assert r["message"].startswith("1/5 lost, rtt "), r["message"]
        assert r["metrics"]["rtt_min"]["value"] > 40, r["message"]
        assert "duplicate" not in r["message"], r["message"]


DUP_REPLIES = """table ip lwt_icmp_dup {
    chain out {
        type filter hook output priority 0;
        icmp type echo-reply oifname "wan" dup to 198.18.1.2 device "wan"
    }
}
"""


def test_duplicates(lab, daemon):
    """The ISP answers every echo twice: no loss, duplicates said, RTTs from
    the first reply."""
    lab.exec("isp", "nft", "-f", "-", input=DUP_REPLIES)
    try:
        t0 = time.time()
        results = runs_after(daemon, "isp", t0, 2 * COUNT, timeout=60)
    finally:
        lab.exec("isp", "nft", "delete", "table", "ip", "lwt_icmp_dup")
    for r in results:
        assert r["status"] == "ok"
        # the duplicate of the last echo may come after the run ended
        assert re.match(r"^0/50 lost, rtt .* ms, (49|50) duplicates$", r["message"]), \
            r["message"]
        assert r["metrics"]["loss"]["value"] == 0


def test_other_pings_do_not_interfere(lab, daemon):
    """A raw socket sees every echo reply on the box: replies to a concurrent
    ping of the same target must be neither counted nor taken as duplicates."""
    pinger = subprocess.Popen(["ip", "netns", "exec", lab.ns("app"), "ping", "-q", "-i", "0.01",
                               "-s", "56", Lab.ISP], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        t0 = time.time()
        results = runs_after(daemon, "isp", t0, 3 * COUNT, timeout=60)
        assert pinger.poll() is None, "the concurrent ping stopped early"
    finally:
        pinger.terminate()
        pinger.wait(timeout=10)
    lost, sent = lost_sent(results)
    assert lost == 0, [r["message"] for r in results]
    for r in results:
        assert "duplicate" not in r["message"], r["message"]


def test_after_privilege_drop(lab, tmp_path):
    """init() opens the raw sockets before linewatchd drops root; probing keeps
    working as nobody."""
    body = f'''
link "wan" {{
    probe "isp" {{ type = "icmp"  target = "{Lab.ISP}"  interval = "1s"  count = "3"
                  spacing = "100ms" }}
}}
'''
    with Daemon(tmp_path, body=body, netns=lab.ns("app"), extra_top='user = "nobody"') as d:
        r = d.wait_for(lambda: (p := probe(d, "isp"))["status"] != "pending" and p,
                       timeout=40, what="a result")
        assert r["status"] == "ok" and r["message"].startswith("0/3 lost"), r
        log = d.read_log()
        assert "running as user nobody" in log
        assert "icmp: IPv4 raw socket" in log, log[-2000:]


class UnprivilegedDaemon(Daemon):
    """linewatchd started as nobody: no raw sockets at all."""

    def cmd(self):
        return ["ip", "netns", "exec", self.netns, "setpriv", "--reuid=nobody",
                "--regid=nogroup", "--clear-groups", LINEWATCHD, "-f", "-c", self.conf]


def test_unprivileged_ping_sockets(lab):
    """Without root the plugin falls back to ping sockets (SOCK_DGRAM), which
    the lab's net.ipv4.ping_group_range allows."""
    work = tempfile.mkdtemp(prefix="lw-icmp-nobody-")
    try:
        os.chmod(work, 0o755)
        shutil.chown(work, user="nobody")
        body = f'''
link "wan" {{
    probe "isp" {{ type = "icmp"  target = "{Lab.ISP}"  interval = "1s"  count = "3"
                  spacing = "100ms" }}
}}
'''
        with UnprivilegedDaemon(work, body=body, netns=lab.ns("app")) as d:
            r = d.wait_for(lambda: (p := probe(d, "isp"))["status"] != "pending" and p,
                           timeout=40, what="a result")
            assert r["status"] == "ok" and r["message"].startswith("0/3 lost"), r
            log = d.read_log()
            assert "icmp: IPv4 ping socket" in log, log[-2000:]
            assert "raw socket" not in log
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_check_reports_bad_options(tmp_path):
    d = Daemon(tmp_path, body="""
link "wan" {
    probe "c0" { type = "icmp"  target = "198.18.1.1"  count = "0" }
    probe "c101" { type = "icmp"  target = "198.18.1.1"  count = "101" }
    probe "sp" { type = "icmp"  target = "198.18.1.1"  spacing = "fast" }
    probe "sz" { type = "icmp"  target = "198.18.1.1"  size = "1473" }
    probe "fam" { type = "icmp"  target = "198.18.1.1"  family = "ipx" }
    probe "name" { type = "icmp"  target = "isp-gw.lab.test" }
    probe "srv" { type = "icmp"  target = "isp-gw.lab.test"  server = "dns.lab" }
    probe "junk" { type = "icmp"  target = "a b"  server = "198.18.2.2" }
    probe "v6" { type = "icmp"  target = "198.18.1.1"  family = "ipv6" }
    probe "opt" { type = "icmp"  target = "198.18.1.1"  options = { "colour=red" } }
    probe "fit" { type = "icmp"  target = "198.18.1.1"  interval = "1s"  count = "20" }
    probe "good" { type = "icmp"  target = "fd00::1"  family = "any"  count = "100"
                   spacing = "10ms"  size = "1472"  warning = "ignored"  options = { "wait=500ms" } }
}
""")
    conf = d.conf
    r = run([LINEWATCHD, "-t", "-c", conf])
    err = r.stdout + r.stderr
    assert r.returncode != 0, err
    with open(conf) as f:
        lines = {name: n for n, line in enumerate(f, 1)
                 for name in re.findall(r'probe "([a-z0-9]+)"', line)}

    def said(name, text):
        prefix = f'{conf}:{lines[name]}: probe "{name}" of link "wan": '
        assert any(l.startswith(prefix) and text in l for l in err.splitlines()), (name, err)

    said("c0", 'count "0" must be a whole number from 1 to 100')
    said("c101", 'count "101" must be a whole number from 1 to 100')
    said("sp", 'spacing "fast" is not a duration')
    said("sz", 'size "1473" must be a payload size in bytes from 0 to 1472')
    said("fam", 'family "ipx" must be ipv4, ipv6 or any')
    said("name", 'target "isp-gw.lab.test" is a name: give a numeric address, or set server')
    said("srv", 'server "dns.lab" is not an address')
    said("junk", 'target "a b" is neither an IP address nor a host name')
    said("v6", "target 198.18.1.1 is an IPv4 address but family is ipv6")
    said("opt", 'option "colour" is not used by icmp probes')
    said("fit", "do not fit in the probe timeout")
    assert '"good"' not in err, err
