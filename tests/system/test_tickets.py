"""Degradation detection and tickets (issue #6) with a real linewatchd in the
lab's appliance namespace, real probes, the simulated router over SNMP and a
real SQLite ticket database.

Loss is injected with nftables on the ISP path (lab.impair), the WAN link is
cut (lab.link: carrier loss, ifOperStatus down), the daemon is killed with
SIGKILL and restarted.  Everything is read back through the JSON API,
polling with deadlines; no test asserts on timing.
"""
import json
import os
import signal
import subprocess
import time

import pytest

from lab import Lab
from lwd import BUILD, LINEWATCHD, Daemon, run, wait_for

LINK = "isp-fibre"
WAN_IF = "Gi1/0/1"


def config(degraded="", probes=None, extra=""):
    """The lab's ISP link: the router over SNMP, probes to the ISP gateway and
    the far host.  The lab's WAN port counts 90 input errors and discards a
    minute by design (a dirty line), hence errors = 1000 unless a test says
    otherwise."""
    if probes is None:
        probes = f'''
    probe "gateway"  {{ type = "icmp"  target = "{Lab.ISP}"  hop = "gateway"  interval = "2s"
                       count = "10"  spacing = "50ms" }}
    probe "internet" {{ type = "icmp"  target = "{Lab.INET}"  hop = "internet"  interval = "2s"
                       count = "10"  spacing = "50ms" }}
    probe "dns"      {{ type = "dns"  target = "{Lab.INET}"  query = "www.lab.test"
                       hop = "internet"  interval = "2s"  timeout = "1s" }}
'''
    return f'''
device "edge-router" {{
    address    = "{Lab.RTR}"
    snmp       = "v2c"
    community  = "{Lab.COMMUNITY}"
    interval   = "1s"
    timeout    = "500ms"
    retries    = 1
    interfaces = {{ "{WAN_IF}" }}
}}
link "{LINK}" {{
    provider  = "Example Telecom"
    circuit   = "ABC-12345"
    support   = "+1 555 0100"
    device    = "edge-router"
    interface = "{WAN_IF}"
    bandwidth = "100M"
    sla       = "99.9%"
{probes}
    degraded {{ loss = "5%"  for = 3  clear = 3  errors = 1000  flap-count = 4
               flap-window = "2m"  hold-down = "1m"  {degraded} }}
}}
{extra}
'''


def daemon(tmp_path, lab, **kw):
    return Daemon(tmp_path, body=config(**kw), netns=lab.ns("app"))


def tickets(d, state="all"):
    return d.get(f"/api/v1/tickets?state={state}")["tickets"]


def ticket(d, ref):
    return d.get(f"/api/v1/tickets/{ref}")


def link_status(d):
    return d.get(f"/api/v1/links/{LINK}")


def wait_healthy(d):
    """Every probe has answered and the router interface is known: a clean
    start for an impairment."""
    def ok():
        l = link_status(d)
        return (l["state"] == "ok" and all(p["status"] == "ok" for p in l["probes"])
                and l["utilization_in_pct"] is not None)
    d.wait_for(ok, timeout=60, what="a healthy link")


def post(d, path, body=None, host=None):
    """POST from inside a lab namespace (the appliance by default)."""
    ns = host or d.netns
    out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "--noproxy", "*",
                          "-X", "POST", "-H", "Content-Type: application/json",
                          "-d", json.dumps(body if body is not None else {}),
                          "-w", "\n%{http_code}", d.url(path)],
                         capture_output=True, text=True, timeout=30)
    text, _, code = out.stdout.rpartition("\n")
    return int(code), json.loads(text) if text else None


def events(t, type_=None):
    return [e for e in t["events"] if type_ is None or e["type"] == type_]


def only_ticket(d):
    ts = tickets(d)
    assert len(ts) == 1, [(t["ref"], t["kind"], t["title"]) for t in ts]
    return ts[0]


# ---------------------------------------------------------------- the lab

def test_loss_opens_one_ticket_and_resolves(lab, tmp_path):
    with daemon(tmp_path, lab) as d:
        wait_healthy(d)
        assert tickets(d) == []
        lab.impair("wan", "loss", 30)
        t = d.wait_for(lambda: tickets(d, "open"), timeout=90, what="a loss ticket")[0]
        assert t["kind"] == "loss" and t["link"] == LINK
        assert t["provider"] == "Example Telecom" and t["circuit"] == "ABC-12345"
        assert t["support"] == "+1 555 0100"
        assert t["title"].startswith(f"ISP link {LINK} (Example Telecom, circuit ABC-12345): ")
        assert "packet loss" in t["title"]
        full = ticket(d, t["ref"])
        first = full["events"][0]
        assert first["type"] == "opened"
        assert "% packet loss" in first["text"]
        assert first["metrics"]["loss"] > 5, first["metrics"]
        assert {p["name"] for p in first["metrics"]["probes"]} >= {"gateway", "internet"}
        # loss already at the provider's gateway while the router is clean
        assert full["blame"]["verdict"] == "isp", full["blame"]
        assert full["blame"]["reasons"]
        assert full["sla"]["response_due"] and full["sla"]["resolution"] == "pending"
        # the links API shows it
        l = link_status(d)
        assert l["state"] == "degraded" and l["ticket"]["ref"] == t["ref"]
        assert t["ref"] in l["tickets"]

        lab.clear("wan")
        d.wait_for(lambda: ticket(d, t["ref"])["state"] == "resolved", timeout=90,
                   what="the loss ticket to resolve")
        full = ticket(d, t["ref"])
        assert full["resolved_by"] == "linewatchd"
        assert [e["type"] for e in full["events"]][-2:] == ["recovered", "resolved"]
        assert full["duration_s"] >= 1
        only_ticket(d)
        d.wait_for(lambda: link_status(d)["state"] == "ok", timeout=30, what="link ok again")


def test_link_down_one_ticket_probe_failures_suppressed(lab, tmp_path):
    with daemon(tmp_path, lab) as d:
        wait_healthy(d)
        lab.link("wan", up=False)
        t = d.wait_for(lambda: tickets(d, "open"), timeout=60, what="a down ticket")[0]
        assert t["kind"] == "down" and t["severity"] == "critical", t
        # the probes' failures are confirmed problems of their own, recorded
        # on the down ticket instead of tickets of their own
        def suppressed():
            texts = [e["text"] for e in events(ticket(d, t["ref"]), "suppressed")]
            return (any("loss of link" in x for x in texts)
                    and any("service of link" in x for x in texts))
        d.wait_for(suppressed, timeout=60, what="loss and service suppressed into the ticket")
        only_ticket(d)
        full = ticket(d, t["ref"])
        # no carrier while the router answers SNMP: the line / provider
        assert full["blame"]["verdict"] == "isp", full["blame"]
        assert any("no carrier" in r for r in full["blame"]["reasons"])
        assert link_status(d)["state"] == "down"

        lab.link("wan", up=True)
        d.wait_for(lambda: ticket(d, t["ref"])["state"] == "resolved", timeout=90,
                   what="the down ticket to resolve")
        d.wait_for(lambda: link_status(d)["state"] == "ok", timeout=60, what="link ok again")
        only_ticket(d)
        # the outage counts against this month's availability
        sla = d.get(f"/api/v1/links/{LINK}/sla")
        assert sla["downtime_s"] >= 1 and sla["availability_pct"] < 100
        assert any(i["ticket"] == t["ref"] and i["counts_as"] == "downtime"
                   for i in sla["incidents"]), sla
        kpi = d.get("/api/v1/tickets/kpi")
        assert kpi["opened"] == 1 and kpi["resolved"] == 1 and kpi["mttr_s"] > 0


def test_flapping_link_one_ticket_marked_flapping(lab, tmp_path):
    with daemon(tmp_path, lab) as d:
        wait_healthy(d)

        def oper(want):
            dev = d.get("/api/v1/devices/edge-router")
            return any(i["name"] == WAN_IF and i["oper_status"] == want
                       for i in dev["interfaces"])
        for _ in range(3):
            lab.link("wan", up=False)
            d.wait_for(lambda: oper("down"), timeout=30, what="the router to see it down")
            lab.link("wan", up=True)
            d.wait_for(lambda: oper("up"), timeout=30, what="the router to see it up")
        t = d.wait_for(lambda: [x for x in tickets(d) if x["flapping"]], timeout=60,
                       what="a ticket marked flapping")[0]
        assert t["kind"] == "down" and "flapping" in t["title"]
        assert only_ticket(d)["ref"] == t["ref"]


def test_healthy_lab_no_tickets(lab, tmp_path):
    with daemon(tmp_path, lab) as d:
        wait_healthy(d)
        # one minute of a healthy lab with its normal jitter: nothing opens
        end = time.monotonic() + 60
        while time.monotonic() < end:
            assert tickets(d) == [], tickets(d)
            d.alive_or_raise()
            time.sleep(1)
        l = link_status(d)
        assert l["state"] == "ok" and l["ticket"] is None


def test_kill9_during_problem_continues_the_ticket(lab, tmp_path):
    d = daemon(tmp_path, lab).start()
    try:
        wait_healthy(d)
        lab.impair("wan", "loss", 30)
        t = d.wait_for(lambda: tickets(d, "open"), timeout=90, what="a loss ticket")[0]
        nevents = len(ticket(d, t["ref"])["events"])
        d.kill9()
        d.start()
        d.wait_for(lambda: events(ticket(d, t["ref"]), "restarted"), timeout=90,
                   what="the ticket to continue after the restart")
        full = ticket(d, t["ref"])
        assert full["state"] == "open"
        assert len(full["events"]) > nevents
        only_ticket(d)
        lab.clear("wan")
        d.wait_for(lambda: ticket(d, t["ref"])["state"] == "resolved", timeout=90,
                   what="the ticket to resolve")
        assert "not running" not in ticket(d, t["ref"])["resolution"]
        only_ticket(d)
    finally:
        d.stop()


def test_kill9_problem_cleared_while_down(lab, tmp_path):
    d = daemon(tmp_path, lab).start()
    try:
        wait_healthy(d)
        lab.impair("wan", "loss", 30)
        t = d.wait_for(lambda: tickets(d, "open"), timeout=90, what="a loss ticket")[0]
        d.kill9()
        lab.clear("wan")
        d.start()
        d.wait_for(lambda: ticket(d, t["ref"])["state"] == "resolved", timeout=90,
                   what="the ticket to resolve after the restart")
        assert "recovered while linewatchd was not running" in ticket(d, t["ref"])["resolution"]
        only_ticket(d)
    finally:
        d.stop()


def test_ticket_actions_and_cli(lab, tmp_path):
    with daemon(tmp_path, lab) as d:
        wait_healthy(d)
        lab.impair("wan", "loss", 30)
        ref = d.wait_for(lambda: tickets(d, "open"), timeout=90, what="a ticket")[0]["ref"]
        code, t = post(d, f"/api/v1/tickets/{ref}/ack", {"by": "alice", "text": "on it"})
        assert code == 200 and t["state"] == "acknowledged" and t["acknowledged_by"] == "alice"
        assert t["sla"]["response"] == "met"
        code, err = post(d, f"/api/v1/tickets/{ref}/ack", {})
        assert code == 409 and "already acknowledged" in err["error"]
        code, t = post(d, f"/api/v1/tickets/{ref}/comment", {"text": "carrier ref 4711"})
        assert code == 200
        assert events(t, "comment")[-1]["text"] == "carrier ref 4711"
        assert events(t, "comment")[-1]["who"] == "local"
        assert post(d, f"/api/v1/tickets/{ref}/comment", {})[0] == 400
        assert post(d, f"/api/v1/tickets/{ref}/comment", {"text": 5})[0] == 400
        assert post(d, f"/api/v1/tickets/{ref}/explode", {})[0] == 404
        assert post(d, "/api/v1/tickets/LW-999999/ack", {})[0] == 404
        code, t = post(d, f"/api/v1/tickets/{ref}/resolve", {"by": "alice"})
        assert code == 200 and t["state"] == "resolved" and t["resolved_by"] == "alice"
        assert post(d, f"/api/v1/tickets/{ref}/resolve", {})[0] == 409
        # the command-line client, reopen included
        ctl = os.path.join(BUILD, "linewatchctl")
        r = run(["ip", "netns", "exec", d.netns, ctl, "-u", d.url(""), "reopen", ref])
        assert r.returncode == 0, r.stdout + r.stderr
        t = ticket(d, ref)
        assert t["state"] == "open" and t["reopened"] == 1
        assert events(t, "reopened")[-1]["who"] == "local"
        code, err = post(d, f"/api/v1/tickets/{ref}/reopen", {"by": "bob"})
        assert code == 409 and "not resolved" in err["error"]
        r = run(["ip", "netns", "exec", d.netns, ctl, "-u", d.url(""), "tickets"])
        assert r.returncode == 0 and ref in r.stdout, r.stdout + r.stderr
        r = run(["ip", "netns", "exec", d.netns, ctl, "-u", d.url(""), "show", ref])
        assert r.returncode == 0 and json.loads(r.stdout)["ref"] == ref
        r = run(["ip", "netns", "exec", d.netns, ctl, "-u", d.url(""), "comment", ref, "via ctl"])
        assert r.returncode == 0, r.stderr
        r = run(["ip", "netns", "exec", d.netns, ctl, "-u", d.url(""), "links"])
        assert r.returncode == 0 and json.loads(r.stdout)["links"][0]["name"] == LINK
        # listing, filters and paging
        assert [x["ref"] for x in tickets(d, "open")] == [ref]
        assert d.get(f"/api/v1/tickets?state=all&link={LINK}")["total"] == 1
        assert d.get("/api/v1/tickets?state=all&link=nope")["total"] == 0
        assert d.get("/api/v1/tickets?state=bogus", expect=400)
        assert d.get("/api/v1/tickets?limit=0", expect=400)
        assert d.get("/api/v1/tickets/LW-000999", expect=404)
        assert d.get("/api/v1/tickets/kpi?month=2026-13", expect=400)


def test_actions_refused_off_loopback(lab, tmp_path):
    port = 8421
    d = Daemon(tmp_path, body=config(), netns=lab.ns("app"), listen=f"{Lab.APP}:{port}")
    with d:
        code, body = wait_for(
            lambda: post(d, "/api/v1/tickets/LW-000001/ack", {}, host=lab.ns("lan")),
            timeout=60, what="the API from the LAN")
        assert code == 403 and "loopback" in body["error"]


# ------------------------------------------------------------- no lab needed

def test_damaged_database_refused_at_start(tmp_path):
    d = Daemon(tmp_path)
    os.makedirs(d.state, exist_ok=True)
    db = os.path.join(d.state, "linewatch.db")
    with open(db, "wb") as f:
        f.write(bytes(range(256)) * 64)
    r = run(d.cmd(), timeout=20)
    assert r.returncode != 0
    assert db in r.stderr and "damaged" in r.stderr and "mv " in r.stderr, r.stderr


def test_database_in_the_way_refused_at_start(tmp_path):
    d = Daemon(tmp_path)
    os.makedirs(os.path.join(d.state, "linewatch.db"))
    r = run(d.cmd(), timeout=20)
    assert r.returncode != 0
    assert "linewatch.db is not a regular file" in r.stderr, r.stderr


def test_links_api_without_lab(tmp_path):
    body = '''
link "quiet" {
    provider = "Example Telecom"
    circuit  = "XYZ-1"
    sla      = "99.5%"
}
'''
    with Daemon(tmp_path, body=body) as d:
        links = d.get("/api/v1/links")["links"]
        assert [l["name"] for l in links] == ["quiet"]
        l = links[0]
        assert l["state"] == "unknown" and l["ticket"] is None and l["tickets"] == []
        assert l["provider"] == "Example Telecom" and l["sla_pct"] == 99.5
        sla = d.get("/api/v1/links/quiet/sla?month=2026-01")
        assert sla["availability_pct"] == 100 and sla["incidents"] == []
        d.get("/api/v1/links/nope", expect=404)
        d.get("/api/v1/links/quiet/sla?month=January", expect=400)
        assert d.get("/api/v1/tickets") == {"tickets": [], "total": 0, "limit": 50, "offset": 0}
        status, _, _ = d.request("/api/v1/tickets/LW-000001/ack", data=b"{}", method="POST")
        assert status == 404
        status, _, body = d.request("/api/v1/tickets/LW-000001/ack", data=b"[1]",
                                    method="POST")
        assert status == 400
