"""SNMPv3 against net-snmp's real snmpd (not the simulator) in the lab.

A private snmpd runs in the router's namespace on RTR:PORT with one user
per device (USM keeps one key set per engine and user: two devices with the
same user on one agent must use the same keys).  Checked: authPriv with
SHA-256/AES-256, SHA-512/AES-256 and MD5/DES polls values and rates; a wrong
auth key and a wrong priv key give a clear `unreachable` reason and never
show a key in the log or the API; an agent replaced by one with another
snmpEngineID on the same address is rediscovered without a reload.
"""
import os
import signal
import subprocess
import time

import pytest

from lab import Lab
from lwd import Daemon

PORT = 11161
USERS = {  # device: (user, auth proto, auth key, priv proto, priv key)
    "s256": ("lws256", "SHA-256", "auth-key-256", "AES-256", "priv-key-256"),
    "s512": ("lws512", "SHA-512", "auth-key-512", "AES-256", "priv-key-512"),
    "md5": ("lwmd5", "MD5", "auth-key-md5", "DES", "priv-key-des"),
}
AGENT_ONLY = {  # users the agent has whose keys the daemon gets wrong
    "badauth": ("lwbada", "SHA-256", "auth-key-bada", "AES-256", "priv-key-bada"),
    "badpriv": ("lwbadp", "SHA-256", "auth-key-badp", "AES-256", "priv-key-badp"),
}
WRONG = {"badauth": ("wrong-auth-key", None), "badpriv": (None, "wrong-priv-key")}
SECRETS = [k for u in list(USERS.values()) + list(AGENT_ONLY.values()) for k in (u[2], u[4])]
SECRETS += [k for pair in WRONG.values() for k in pair if k]


class Snmpd:
    """One snmpd in the lab's router namespace; engine ID from `engine`."""

    def __init__(self, lab, tmp_path, engine, sysname):
        self.lab = lab
        self.dir = tmp_path / f"snmpd-{engine}"
        (self.dir / "persist").mkdir(parents=True)
        lines = [f"agentAddress udp:{Lab.RTR}:{PORT}", f"engineID {engine}",
                 f"sysName {sysname}"]
        for user, ap, ak, pp, pk in list(USERS.values()) + list(AGENT_ONLY.values()):
            lines += [f"createUser {user} {ap} {ak} {pp} {pk}", f"rouser {user} priv"]
        (self.dir / "snmpd.conf").write_text("\n".join(lines) + "\n")
        self.proc = lab.popen("rtr", "env", f"SNMP_PERSISTENT_DIR={self.dir / 'persist'}",
                              "/usr/sbin/snmpd", "-f", "-C", "-c", self.dir / "snmpd.conf",
                              "-m", "", "-Lf", self.dir / "snmpd.log",
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        user, ap, ak, pp, pk = USERS["s256"]
        deadline = time.time() + 30
        while True:
            p = lab.exec("app", "snmpget", "-v3", "-l", "authPriv", "-u", user, "-a", ap,
                         "-A", ak, "-x", pp, "-X", pk, "-t", "1", "-r", "0", "-Oqv",
                         f"{Lab.RTR}:{PORT}", "1.3.6.1.2.1.1.5.0", check=False)
            if p.returncode == 0 and sysname in p.stdout:
                break
            if time.time() > deadline:
                self.stop()
                pytest.skip(f"snmpd with SHA-256/AES-256 users does not answer: {p.stderr}")
            time.sleep(0.3)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def device(name, user, ap, ak, pp, pk, timeout="2s"):
    return (f'device "{name}" {{\n    address = "{Lab.RTR}"\n    port = {PORT}\n'
            f'    snmp = "v3" username = "{user}" auth-protocol = "{ap}" auth-key = "{ak}"\n'
            f'    priv-protocol = "{pp}" priv-key = "{pk}"\n'
            f'    interval = "2s" timeout = "{timeout}" retries = 1\n}}\n')


def config(names):
    """Devices with the right keys wait 2 s for an answer (the tests expect
    them ok all along, also on a loaded machine); those with a wrong key,
    which an agent may never answer, 500 ms."""
    out = ""
    for n in names:
        if n in USERS:
            out += device(n, *USERS[n])
        else:
            user, ap, ak, pp, pk = AGENT_ONLY[n]
            wa, wp = WRONG[n]
            out += device(n, user, ap, wa or ak, pp, wp or pk, timeout="500ms")
    return out


@pytest.fixture
def agents(lab, tmp_path):
    started = []

    def start(engine, sysname):
        a = Snmpd(lab, tmp_path, engine, sysname)
        started.append(a)
        return a
    yield start
    for a in started:
        a.stop()


@pytest.fixture
def daemon(lab, tmp_path):
    started = []

    def start(body):
        d = Daemon(tmp_path, body=body, netns=lab.ns("app"))
        d.start()
        started.append(d)
        return d
    yield start
    for d in started:
        d.__exit__(None, None, None)


def polled(d, name, sysname):
    """The device once it is ok, answered by `sysname`, with rates."""
    def ready():
        dev = d.get(f"/api/v1/devices/{name}")
        if dev["state"] != "ok" or dev.get("sysName") != sysname:
            return None
        lo = [i for i in dev["interfaces"] if i["name"] == "lo"]
        return dev if lo and lo[0]["in_bps"] is not None else None
    return d.wait_for(ready, timeout=60, what=f"{name} polled from {sysname} with rates")


def test_v3_auth_priv_protocols_and_wrong_keys(lab, agents, daemon):
    agents("lwv3-engine-a", "rtr-v3-a")
    d = daemon(config(["s256", "s512", "md5", "badauth", "badpriv"]))
    for name in USERS:
        dev = polled(d, name, "rtr-v3-a")
        assert dev["uptime_s"] > 0
        assert "lo" in {i["name"] for i in dev["interfaces"]}, dev["interfaces"]
        assert all(i["in_bps"] >= 0 for i in dev["interfaces"] if i["in_bps"] is not None)

    def unreachable(name):
        dev = d.get(f"/api/v1/devices/{name}")
        return dev if dev["state"] == "unreachable" and dev["reason"] else None
    bad_auth = d.wait_for(lambda: unreachable("badauth"), timeout=40, what="badauth unreachable")
    bad_priv = d.wait_for(lambda: unreachable("badpriv"), timeout=40, what="badpriv unreachable")
    # a wrong auth key: the agent reports wrongDigests or stays silent; a
    # wrong AES key: the agent cannot parse the request and stays silent.
    # Either way the reason names SNMPv3 and what to check, not "no response".
    for dev in (bad_auth, bad_priv):
        assert "SNMPv3" in dev["reason"], dev["reason"]
        assert "key" in dev["reason"], dev["reason"]
    # they keep being polled (with back-off) and never hold up the others
    time.sleep(4)
    for name in USERS:
        assert d.get(f"/api/v1/devices/{name}")["state"] == "ok"

    log = d.read_log()
    assert "unreachable" in log and "badauth" in log
    text = lab.exec("app", "curl", "-s", "--noproxy", "*", d.url("/api/v1/devices")).stdout
    for secret in SECRETS:
        assert secret not in log, f"key {secret!r} in the log"
        assert secret not in text, f"key {secret!r} in the API"


def test_v3_changed_engine_id_is_rediscovered(lab, agents, daemon):
    a = agents("lwv3-engine-a", "rtr-v3-a")
    d = daemon(config(["s256", "md5"]))
    for name in ("s256", "md5"):
        polled(d, name, "rtr-v3-a")
    # the device is replaced: same address, another engine ID, boots and
    # time starting over; no reload, no restart of the daemon
    a.stop()
    agents("lwv3-engine-b", "rtr-v3-b")
    for name in ("s256", "md5"):
        dev = polled(d, name, "rtr-v3-b")
        assert dev["uptime_s"] < 60
    assert "linewatchd stopped" not in d.read_log()
