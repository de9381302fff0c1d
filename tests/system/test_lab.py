"""Self-test of the lab network (tests/lab): topology, simulated agents,
known counter rates, impairments, trap receiver, clean teardown."""
import os
import re
import subprocess
import time
import uuid

import pytest

from lab import REPO, Lab, lab_prefix, wait_for

O = Lab.OID
SNMPREC = os.path.join(REPO, "tests", "lab", "snmprec")


# ------------------------------------------------------------- no lab needed
def test_rates_in_lab_py_match_the_recording():
    names = {v: k for k, v in O.items()}
    found = {}
    with open(os.path.join(SNMPREC, "router.snmprec")) as f:
        for line in f:
            oid, tag, val = line.rstrip("\n").split("|", 2)
            if not tag.endswith(":numeric"):
                continue
            args = dict(kv.split("=") for kv in val.split(","))
            col, _, idx = oid.rpartition(".")
            name = names.get(oid) or names.get(col)
            assert name, f"numeric record {oid} has no name in Lab.OID"
            key = f"{name.rsplit('.', 1)[0]}.{0 if oid in names else idx}"
            found[key] = float(args["rate"])
            if oid == f"{O['ifInOctets']}.1":
                assert int(args["initial"]) == Lab.IFINOCTETS_WAN_INITIAL
                assert "wrap" in args
    assert found == {k: float(v) for k, v in Lab.RATES.items()}


def test_recordings_are_sorted_and_hostile_strings_present():
    def key(line):
        return tuple(int(x) for x in line.split("|", 1)[0].split("."))
    for name in ("router", "xss", "ups"):
        with open(os.path.join(SNMPREC, f"{name}.snmprec")) as f:
            lines = [l for l in f.read().splitlines() if l]
        assert lines == sorted(lines, key=key), f"{name}.snmprec is not in OID order"
    xss = open(os.path.join(SNMPREC, "xss.snmprec")).read()
    assert Lab.XSS_SYSDESCR.encode().hex() in xss
    assert Lab.XSS_IFALIAS.encode().hex() in xss


# -------------------------------------------------------------- with the lab
def test_topology_and_reachability(lab):
    ok, text = lab.status()
    assert ok, text
    assert lab.namespaces() == sorted(lab.ns(h) for h in Lab.HOSTS)
    for dst in (Lab.RTR, Lab.ISP, Lab.INET, Lab.LAN, Lab.UPS):
        r = lab.ping("app", dst, count=2, interval=0.05)
        assert r["rx"] == 2, (dst, r)
    assert lab.ping("lan", Lab.INET, count=2, interval=0.05)["rx"] == 2
    # nothing outside 198.18.0.0/15 is routed from the appliance
    p = lab.exec("app", "ip", "route", "get", "192.0.2.1", check=False)
    assert p.returncode != 0 and "unreachable" in p.stderr.lower()


def test_snmp_v2c_and_v3(lab):
    descr = lab.snmp_get(O["sysDescr"])
    assert descr.startswith("LW-Sim EdgeRouter")
    assert lab.snmp_get(O["sysDescr"], version=3) == descr
    v3 = lab.snmp_get(O["sysName"], f"{O['ifHCInOctets']}.1", version=3)
    assert v3[O["sysName"]] == "rtr-edge-01" and v3[f"{O['ifHCInOctets']}.1"] > 0
    for version in ("2c", "3"):
        walk = lab.snmp_walk(O["ifHCInOctets"], version=version)
        assert sorted(int(k.rsplit(".", 1)[1]) for k in walk) == sorted(Lab.IFACES)
    aliases = lab.snmp_walk(O["ifAlias"])
    assert aliases[f"{O['ifAlias']}.1"] == "ISP fibre ABC-12345"
    names = lab.snmp_walk(O["ifName"])
    assert [names[f"{O['ifName']}.{i}"] for i in sorted(Lab.IFACES)] == \
        [Lab.IFACES[i][0] for i in sorted(Lab.IFACES)]
    assert lab.snmp_get(f"{O['ifHighSpeed']}.1") == 100
    assert lab.snmp_get(f"{O['ifOperStatus']}.5") == 2
    # wrong v3 key: no answer
    with pytest.raises(Exception):
        lab.exec("app", "snmpget", "-v3", "-l", "authPriv", "-u", Lab.V3_USER, "-a", "SHA",
                 "-A", "wrongpass123", "-x", "AES", "-X", Lab.V3_PRIV_KEY, "-t", "0.5", "-r", "0",
                 Lab.RTR, O["sysDescr"])
    # hostile strings for HTML-escaping tests
    assert lab.snmp_get(O["sysDescr"], community=Lab.XSS_COMMUNITY) == Lab.XSS_SYSDESCR
    assert lab.snmp_get(f"{O['ifAlias']}.1", community=Lab.XSS_COMMUNITY) == Lab.XSS_IFALIAS
    assert lab.snmp_get(O["sysDescr"], version=3, context=Lab.XSS_COMMUNITY) == Lab.XSS_SYSDESCR
    # UPS and the router host's own snmpd
    ups = lab.snmp_get(*(O[k] for k in Lab.UPS_VALUES), host=Lab.UPS)
    assert {k: ups[O[k]] for k in Lab.UPS_VALUES} == Lab.UPS_VALUES
    assert lab.snmp_get(O["upsOutputSource"], host=Lab.UPS, version=3) == 3
    assert lab.snmp_get(O["sysName"], port=Lab.RTR_SNMPD_PORT) == "rtr-host"


def test_counters_advance_at_the_documented_rates(lab):
    keys = ["ifHCInOctets.1", "ifHCOutOctets.1", "ifHCInOctets.2", "ifHCOutOctets.2",
            "ifInOctets.2", "ifHCInOctets.20", "ifHCInUcastPkts.1"]
    oids = [f"{O[k.split('.')[0]]}.{k.split('.')[1]}" for k in keys]
    up = O["sysUpTime"]

    def sample():
        """Counters bracketed by sysUpTime in one GET; only accepted when both
        uptimes are the same tick, so the sample time is known to 10 ms.
        Also the wall-clock times before and after the snmpget."""
        t0 = time.monotonic()
        vals = [v for _, v in lab.snmp_get_list(up, *oids, up)]
        t1 = time.monotonic()
        if vals[0] != vals[-1]:
            return None
        return vals[0], dict(zip(keys, vals[1:-1])), t0, t1

    a = wait_for(sample, timeout=30, what="a clean counter sample")
    b = wait_for(lambda: (lambda s: s if s and s[0] - a[0] >= 300 else None)(sample()),
                 timeout=40, what="a clean counter sample 3 s later")
    dt = (b[0] - a[0]) / 100.0
    for k in keys:
        rate = (b[1][k] - a[1][k]) / dt
        assert rate == pytest.approx(Lab.RATES[k], rel=0.01), k
    # sysUpTime itself ticks at 100/s of wall-clock time (loose): each
    # sample was taken between its own t0 and t1, however long the process
    # spawns took on a busy machine
    assert b[2] - a[3] - 0.5 <= dt <= b[3] - a[2] + 0.5, (dt, a[2:], b[2:])


def test_loss_blackhole_clear(lab):
    lab.impair("wan", "loss", 30)
    r = lab.ping("app", Lab.ISP, count=200, interval=0.005, wait=1)
    assert 15 <= r["loss"] <= 45, r
    lab.impair("wan", "blackhole")
    r = lab.ping("app", Lab.INET, count=10, interval=0.01, wait=1)
    assert r["loss"] == 100, r
    # the router itself still answers the appliance
    assert lab.snmp_get(O["sysName"]) == "rtr-edge-01"
    lab.clear("wan")
    r = lab.ping("app", Lab.INET, count=50, interval=0.005)
    assert r["loss"] == 0, r


def test_delay(lab):
    base = lab.ping("app", Lab.INET, count=5, interval=0.05)
    lab.impair("wan", "delay", 50)
    r = lab.ping("app", Lab.INET, count=5, interval=0.1)
    assert r["rx"] == 5 and r["min_ms"] > 40 and r["avg_ms"] < 150, r
    # other links are not delayed
    assert lab.ping("app", Lab.LAN, count=3, interval=0.05)["avg_ms"] < 20
    # TCP goes through the delayer too
    t0 = time.monotonic()
    status, body = lab.http_get(f"http://{Lab.INET}/health")
    assert (status, body.strip()) == (200, b"ok") and time.monotonic() - t0 > 0.1
    lab.clear("wan")
    r = lab.ping("app", Lab.INET, count=5, interval=0.05)
    assert r["avg_ms"] < max(10, 5 * base["avg_ms"]), r
    assert not any(p for p in lab.exec("rtr", "ip", "-o", "link").stdout.splitlines() if "dly-" in p)


def test_link_down_up_maps_to_ifoperstatus(lab):
    ifl = f"{O['ifOperStatus']}.{Lab.IF_WAN}"
    assert lab.snmp_get(ifl) == 1
    lab.link("wan", up=False)
    assert lab.snmp_get(ifl) == 2
    assert lab.snmp_get(f"{O['ifAdminStatus']}.{Lab.IF_WAN}") == 1
    assert lab.ping("app", Lab.ISP, count=2, interval=0.05, wait=1)["rx"] == 0
    # the router host's real interface has lost carrier
    assert "LOWER_UP" not in lab.exec("rtr", "ip", "link", "show", "wan").stdout
    lab.link("wan", up=True)
    assert lab.snmp_get(ifl) == 1
    wait_for(lambda: lab.ping("app", Lab.INET, count=1, wait=1)["rx"] == 1, timeout=30,
             what="INET reachable again after link up")


def test_snmp_set_and_reboot(lab):
    lab.set_ups("upsOutputSource", 5)
    lab.set_ups("upsEstimatedMinutesRemaining", 7)
    assert lab.snmp_get(O["upsOutputSource"], host=Lab.UPS) == 5
    assert lab.snmp_get(O["upsEstimatedMinutesRemaining"], host=Lab.UPS, version=3) == 7
    lab.set_if_oper(Lab.IF_LAN, up=False)
    assert lab.snmp_get(f"{O['ifOperStatus']}.{Lab.IF_LAN}") == 2

    hc = f"{O['ifHCInOctets']}.1"
    before = lab.snmp_get(O["sysUpTime"], hc)
    lab.reboot("rtr")
    after = lab.snmp_get(O["sysUpTime"], hc)
    assert after[O["sysUpTime"]] < before[O["sysUpTime"]]
    assert after[hc] < before[hc]
    assert lab.snmp_get(f"{O['ifOperStatus']}.{Lab.IF_LAN}") == 1  # forgotten on reboot
    assert lab.snmp_get(O["sysDescr"], version=3).startswith("LW-Sim")
    lab.reboot("ups")
    assert lab.snmp_get(O["upsOutputSource"], host=Lab.UPS) == 3


def test_traps_reach_snmptrapd(lab):
    tag = uuid.uuid4().hex[:12]
    marker = "1.3.6.1.4.1.99999.1.1"
    sent = [
        dict(from_host="app", text=f"app-{tag}"),
        dict(from_host="rtr", text=f"rtr-{tag}"),
        dict(from_host="app", dest="127.0.0.1", port=1162, text=f"local-{tag}"),
        dict(from_host="rtr", version="3", text=f"v3trap-{tag}"),
        dict(from_host="app", version="3", inform=True, text=f"v3inform-{tag}"),
    ]
    for s in sent:
        text = s.pop("text")
        lab.send_trap("1.3.6.1.4.1.99999.0.1", (marker, "s", text), **s)
        s["text"] = text
    for s in sent:
        wait_for(lambda: s["text"] in lab.trap_log(), timeout=30,
                 what=f"trap {s['text']} in {lab.trap_log_path}")
    log = lab.trap_log()
    assert re.search(r"\[198\.18\.0\.2\]:\d+->\[198\.18\.0\.1\]:162", log), log


def test_dns_and_http_targets(lab):
    assert lab.dns_query("www.lab.test") == [Lab.INET]
    assert lab.dns_query("ups.lab.test", host="lan") == [Lab.UPS]
    assert lab.dns_query("nonexistent.example.com", rcode=True) == (3, [])  # NXDOMAIN
    assert lab.http_get(f"http://{Lab.INET}/health") == (200, b"ok\n")
    p = lab.exec("app", "bash", "-c", f"exec 3<>/dev/tcp/{Lab.INET}/{Lab.CLOSED_TCP_PORT}",
                 check=False)
    assert p.returncode != 0 and "refused" in p.stderr.lower()


def test_up_is_idempotent(lab_session, lab):
    pids = sorted(lab_session.pids())
    lab.impair("core", "loss", 5)
    lab_session.up()
    assert sorted(lab_session.pids()) == pids  # the same agents keep running
    assert "loss(5%)" in lab_session.status()[1]  # and impairments stay


def test_second_lab_coexists_and_down_leaves_nothing(lab_session):
    other = Lab(lab_prefix("q"), shared=lab_session.shared)
    try:
        other.up()
        pids = other.pids()
        # both labs work side by side with the same addresses
        assert other.ping("app", Lab.INET, count=1)["rx"] == 1
        assert lab_session.ping("app", Lab.INET, count=1)["rx"] == 1
        # leave everything in a "dirty" state for down()
        other.impair("core", "delay", 5)
        other.impair("wan", "loss", 10)
        other.link("lan", up=False)
        assert set(pids) < set(other.pids())  # + the delayer
    finally:
        other.down()
    assert other.namespaces() == []
    ps = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True).stdout
    leftovers = [l for l in ps.splitlines() if other.dir in l and " Z" not in l]
    assert leftovers == []
    assert not os.path.exists(os.path.join(other.dir, "run"))
    other.down()  # down twice is fine
    subprocess.run(["rm", "-rf", other.dir])
    # the session lab is untouched
    assert lab_session.status()[0]
