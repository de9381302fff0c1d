"""Lifecycle of the real linewatchd: config check, health, reload, stop, errors."""
import json
import os
import signal
import socket
import subprocess

import pytest

from lwd import LINEWATCHD, REPO, Daemon, run, wait_for


def check(path):
    return run([LINEWATCHD, "-t", "-c", str(path)])


def test_shipped_config_is_valid():
    r = check(os.path.join(REPO, "etc/linewatch.conf"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configuration OK"


def test_version():
    r = run([LINEWATCHD, "-V"])
    assert r.returncode == 0 and r.stdout.startswith("linewatchd ")


ISSUE_EXAMPLE = '''
site      = "Example Dental, main office"
state-dir = "/var/lib/linewatch"
user      = "linewatch"
log-level = "info"
http {
    listen = { "127.0.0.1:8080" }
}
device "edge-router" {
    address    = "198.18.0.2"
    snmp       = "v2c"
    community  = "public"
    interval   = "30s"
    interfaces = { "Gi1/0/1" }
}
link "isp-fibre" {
    provider  = "Example Telecom"
    circuit   = "ABC-12345"
    support   = "+1 555 0100"
    device    = "edge-router"
    interface = "Gi1/0/1"
    bandwidth = "100M"
    sla       = "99.9%"
    probe "gateway" { type = "icmp"  target = "198.18.1.1"  interval = "5s" }
    degraded { loss = "5%"  latency = "150ms"  utilization = "90%"  for = 3  clear = 3 }
}
capture "lan" { interface = "eth1"  filter = "not port 22" }
upstream "noc" { target = "udp:127.0.0.1:162"  snmp = "v2c"  community = "public"  inform = true }
'''


def test_issue_example_config_parses(tmp_path):
    p = tmp_path / "c.conf"
    p.write_text(ISSUE_EXAMPLE)
    r = run([LINEWATCHD, "-t", "-c", str(p)], env=dict(os.environ, LW_NO_PLUGINS="1"))
    # The icmp plugin is checked too when it is built; the core must accept the file.
    assert "error" not in r.stderr.lower() or "plugin" in r.stderr.lower(), r.stderr


BAD = [
    # (config text, expected line, expected words)
    ('bogus = 1\n', 1, "no such option"),
    ('site = "x"\ndevice "r" {\n  address = "198.18.0.2"\n  community = "c"\n  interval = "30"\n}\n',
     5, "not a duration"),
    ('device "r" {\n  address = "198.18.0.2"\n  community = "c"\n  port = "abc"\n}\n', 4, "port"),
    ('device "r" {\n  address = "198.18.0.2"\n  community = "c"\n  port = 70000\n}\n', 4,
     "out of range"),
    ('device "r" {\n  address = "198.18.0.2"\n  community = "c"\n}\n'
     'device "r" {\n  address = "198.18.0.3"\n  community = "c"\n}\n', None, "duplicate"),
    ('\n\nlink "l" {\n  device = "nope"\n  interface = "x"\n}\n', 3, "is not defined"),
    ('link "l" {\n  probe "p" { target = "198.18.1.1" }\n}\n', 2, "type is missing"),
    ('link "l" {\n  bandwidth = "fast"\n}\n', 2, "not a rate"),
    ('link "l" {\n  sla = "101%"\n}\n', 2, "not a percentage"),
    ('device "r" {\n  address = "198.18.0.2"\n  snmp = "v4"\n}\n', 1, "not a version"),
    ('device "r" {\n  address = "198.18.0.2"\n  snmp = "v3"\n  username = "u"\n'
     '  auth-protocol = "SHA"\n}\n', 1, "auth-key"),
    ('http {\n  listen = { "localhost" }\n}\n', 1, "ADDRESS:PORT"),
    ('link "l" {\n  device = "r"\n}\ndevice "r" {\n  address = "198.18.0.2"\n  community = "c"\n}\n',
     1, "interface is missing"),
    ('device "r" {\n  address = "198.18.0.2"\n  community = "c"\n', None, ""),  # unterminated
]


@pytest.mark.parametrize("text,line,words", BAD)
def test_bad_config_names_file_and_line(tmp_path, text, line, words):
    p = tmp_path / "bad.conf"
    p.write_text(text)
    r = check(p)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "configuration OK" not in r.stdout
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"{p}:"), r.stderr
    if line is not None:
        assert f"{p}:{line}:" in r.stderr, r.stderr
    assert words.lower() in r.stderr.lower(), r.stderr


def test_every_error_is_reported(tmp_path):
    p = tmp_path / "bad.conf"
    p.write_text('device "a" {\n  address = "198.18.0.2"\n  community = "c"\n  interval = "x"\n}\n'
                 'link "b" {\n  sla = "200%"\n}\n')
    r = check(p)
    assert r.returncode == 1
    assert f"{p}:4:" in r.stderr and f"{p}:7:" in r.stderr, r.stderr


def test_missing_config_file(tmp_path):
    r = check(tmp_path / "nope.conf")
    assert r.returncode == 1
    assert "nope.conf" in r.stderr and "No such file" in r.stderr


def test_health_and_404(tmp_path):
    with Daemon(tmp_path, site="Example Dental") as d:
        h = d.get("/api/v1/health")
        assert h["status"] == "ok" and h["site"] == "Example Dental"
        assert h["version"] and isinstance(h["uptime_s"], int)
        assert h["config"]["file"] == d.conf
        status, headers, body = d.request("/api/v1/health")
        assert headers["Content-Type"] == "application/json"
        status, headers, body = d.request("/no/such/page")
        assert status == 404 and "error" in json.loads(body)
        assert headers["Content-Type"] == "application/json"


def test_sighup_with_broken_file_keeps_serving(tmp_path):
    with Daemon(tmp_path, site="before") as d:
        good = open(d.conf).read()
        with open(d.conf, "a") as f:
            f.write("\nthis is { not valid\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.get("/api/v1/health")["config"]["last_reload_failed"], 30,
                 "failed reload to be recorded")
        assert d.get("/api/v1/health")["site"] == "before"
        assert f"{d.conf}:" in d.read_log()
        with open(d.conf, "w") as f:
            f.write(good.replace('site = "before"', 'site = "after"'))
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.get("/api/v1/health")["site"] == "after", 30, "reload to apply")


def test_sigterm_exits_zero_and_removes_pidfile(tmp_path):
    d = Daemon(tmp_path).start()
    assert os.path.exists(d.pidfile)
    assert int(open(d.pidfile).read()) == d.proc.pid
    assert d.stop() == 0
    assert not os.path.exists(d.pidfile)


def test_second_instance_refused(tmp_path):
    with Daemon(tmp_path) as d:
        r = run([LINEWATCHD, "-f", "-c", d.conf], timeout=30)
        assert r.returncode != 0
        assert "another linewatchd" in r.stderr


def test_port_in_use(tmp_path):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        d = Daemon(tmp_path, listen=f"127.0.0.1:{port}")
        r = run(d.cmd(), timeout=30)
        assert r.returncode != 0
        assert f"127.0.0.1:{port}" in r.stderr and "listen" in r.stderr
    finally:
        s.close()


def test_state_dir_not_usable(tmp_path):
    d = Daemon(tmp_path)
    with open(d.conf) as f:
        text = f.read().replace(d.state, "/proc/linewatch-state")
    with open(d.conf, "w") as f:
        f.write(text)
    r = run(d.cmd(), timeout=30)
    assert r.returncode != 0
    assert "state-dir /proc/linewatch-state" in r.stderr, r.stderr


def test_unknown_user(tmp_path):
    d = Daemon(tmp_path, extra_top='user = "no-such-user-lw"')
    r = run(d.cmd(), timeout=30)
    assert r.returncode != 0
    assert 'user "no-such-user-lw"' in r.stderr and "does not exist" in r.stderr


def test_drops_privileges(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    os.chmod(tmp_path, 0o755)
    with Daemon(tmp_path, extra_top='user = "nobody"') as d:
        status = open(f"/proc/{d.proc.pid}/status").read()
        uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
        nobody = int(subprocess.check_output(["id", "-u", "nobody"]).strip())
        assert uid_line.split()[1:] == [str(nobody)] * 4, uid_line
        assert d.get("/api/v1/health")["status"] == "ok"
        assert "running as user nobody" in d.read_log()


def test_suggest_config_is_valid(tmp_path):
    r = run([LINEWATCHD, "--suggest-config"])
    assert r.returncode == 0
    p = tmp_path / "s.conf"
    p.write_text(r.stdout.replace('state-dir = "/var/lib/linewatch"', f'state-dir = "{tmp_path}"')
                 .replace('user      = "linewatch"', ""))
    c = run([LINEWATCHD, "-t", "-c", str(p)])
    # Without a default route the suggestion is a bare config; with one it has a link.
    assert "configuration OK" in c.stdout or "plugin" in c.stderr, c.stderr


def test_hash_password():
    r = subprocess.run([LINEWATCHD, "--hash-password"], input="correct horse battery\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert h.startswith("$y$"), h
    import crypt  # noqa: deprecated but present in 3.11
    assert crypt.crypt("correct horse battery", h) == h


def gone(pid):
    """The process has exited: no longer there, or a zombie (the detached
    daemon is not our child: whoever adopted it reaps it, maybe never)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_daemon_mode_detaches_and_writes_pidfile(tmp_path):
    d = Daemon(tmp_path)
    r = run([LINEWATCHD, "-c", d.conf], timeout=60)  # no -f: detach
    assert r.returncode == 0, r.stderr
    pid = wait_for(lambda: os.path.exists(d.pidfile) and int(open(d.pidfile).read()), 30,
                   "the pidfile")
    try:
        os.kill(pid, 0)
        h = wait_for(lambda: d.get("/api/v1/health"), 60, "the detached daemon's health")
        assert h["status"] == "ok"
        # Detached: a session leader of its own, no controlling terminal.
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        assert int(stat[3]) == int(stat[2]) or int(stat[3]) != os.getpgrp()
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: gone(pid), 30, "the daemon to exit")
    assert not os.path.exists(d.pidfile)
