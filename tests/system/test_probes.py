"""Probe engine and built-in plugins against real servers on loopback.

tcp and http probe an HTTP server and a banner server this test runs on
127.0.0.1; dns asks a dnsmasq started here (no upstream, never forwards);
exec runs real Monitoring Plugins (check_dummy) and scripts.  Results are read
back through GET /api/v1/probes, polling with a deadline.
"""
import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from lwd import BUILD, LINEWATCHD, Daemon, free_port, free_udp_port, run, wait_for

CHECK_DUMMY = "/usr/lib/nagios/plugins/check_dummy"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/":
            body = b"<h1>Welcome to the lab</h1>\n"
            self.send_response(200)
        else:
            body = b"not here\n"
            self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def banner():
    """A TCP server that greets like SMTP and closes."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = s.accept()
            except OSError:
                return
            try:
                c.sendall(b"220 lab.example ESMTP ready\r\n")
            except OSError:
                pass
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    yield s.getsockname()[1]
    stop.set()
    s.close()


def closed_port():
    """A loopback port nobody listens on (connections are refused)."""
    return free_port()


@pytest.fixture
def dnsmasq(tmp_path):
    if not shutil.which("dnsmasq", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        pytest.skip("dnsmasq missing (make deps)")
    port = free_udp_port()
    p = subprocess.Popen(
        ["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
         f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
         "--pid-file=", "--local=/lab/", "--address=/example.lab/198.18.2.2",
         "--address=/web.lab/127.0.0.1", "--address=/v6.lab/2001:db8::5",
         "--ptr-record=2.2.18.198.in-addr.arpa,web.example.lab"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "dnsmasq.log", "w"))

    def answering():
        # one real query with the standard library resolver is not possible
        # (it reads resolv.conf); a UDP socket bound means dnsmasq is up.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        finally:
            s.close()
        if p.poll() is not None:
            raise AssertionError("dnsmasq exited: " + (tmp_path / "dnsmasq.log").read_text())
        return False

    wait_for(answering, 30, "dnsmasq to listen")
    yield port
    p.terminate()
    p.wait(10)


def probes(d, link=None):
    path = "/api/v1/probes" + (f"?link={link}" if link else "")
    return {p["name"]: p for p in d.get(path)["probes"]}


def wait_results(d, names, timeout=60, pred=None):
    """Poll until every named probe has a result (and pred(probe) holds)."""
    def ready():
        ps = probes(d)
        for n in names:
            p = ps.get(n)
            if p is None or p["status"] == "pending" or (pred and not pred(p)):
                return None
        return ps
    return d.wait_for(ready, timeout=timeout, what=f"results of probes {names}")


def test_tcp_and_http(tmp_path, web, banner):
    refused = closed_port()
    body = f'''
link "lab" {{
    probe "web-tcp" {{ type = "tcp"  target = "127.0.0.1:{web}"  interval = "1s"  timeout = "5s"  hop = "isp" }}
    probe "smtp" {{ type = "tcp"  target = "127.0.0.1:{banner}"  expect = "220"  interval = "1s"  timeout = "5s" }}
    probe "smtp-ssh" {{ type = "tcp"  target = "127.0.0.1"  port = "{banner}"  expect = "SSH-"
                       interval = "1s"  timeout = "5s" }}
    probe "closed" {{ type = "tcp"  target = "127.0.0.1:{refused}"  interval = "1s"  timeout = "5s" }}
    probe "closed6" {{ type = "tcp"  target = "[::1]:{refused}"  interval = "1s"  timeout = "5s" }}
    probe "web" {{ type = "http"  target = "http://127.0.0.1:{web}/"  expect-status = "200"
                  expect = "Welcome"  interval = "1s"  timeout = "5s" }}
    probe "web-text" {{ type = "http"  target = "http://127.0.0.1:{web}/"  expect = "Goodbye"
                       interval = "1s"  timeout = "5s" }}
    probe "web-404" {{ type = "http"  target = "http://127.0.0.1:{web}/gone"  interval = "1s"  timeout = "5s" }}
    probe "web-down" {{ type = "http"  target = "http://127.0.0.1:{refused}/"  interval = "1s"  timeout = "5s" }}
    probe "web-auth" {{ type = "http"  target = "http://tech:s3cret@127.0.0.1:{web}/"
                       interval = "1s"  timeout = "5s" }}
    probe "web-auth-down" {{ type = "http"  target = "http://tech:s3cret@127.0.0.1:{refused}/"
                            interval = "1s"  timeout = "5s" }}
}}
'''
    with Daemon(tmp_path, body=body) as d:
        names = ["web-tcp", "smtp", "smtp-ssh", "closed", "closed6", "web", "web-text",
                 "web-404", "web-down", "web-auth", "web-auth-down"]
        ps = wait_results(d, names)
        # credentials in a URL are used, never shown
        assert ps["web-auth"]["status"] == "ok", ps["web-auth"]
        assert ps["web-auth"]["target"] == f"http://***@127.0.0.1:{web}/"
        assert ps["web-auth-down"]["status"] == "critical", ps["web-auth-down"]
        assert b"s3cret" not in d.request("/api/v1/probes")[2]

        p = ps["web-tcp"]
        assert p["status"] == "ok", p
        assert p["type"] == "tcp" and p["hop"] == "isp" and p["link"] == "lab"
        assert p["metrics"]["connect_time"]["unit"] == "ms"
        assert p["metrics"]["connect_time"]["value"] >= 0
        assert p["time"].endswith("Z")

        assert ps["smtp"]["status"] == "ok", ps["smtp"]
        assert "response_time" in ps["smtp"]["metrics"]
        assert ps["smtp-ssh"]["status"] == "critical", ps["smtp-ssh"]
        assert "SSH-" in ps["smtp-ssh"]["message"] and "220" in ps["smtp-ssh"]["message"]
        for n in ("closed", "closed6"):
            assert ps[n]["status"] == "critical", ps[n]
            assert "refused" in ps[n]["message"].lower(), ps[n]

        w = ps["web"]
        assert w["status"] == "ok", w
        assert w["metrics"]["http_status"]["value"] == 200
        for m in ("total_time", "first_byte_time", "connect_time"):
            assert w["metrics"][m]["unit"] == "ms"
        assert ps["web-text"]["status"] == "critical"
        assert "Goodbye" in ps["web-text"]["message"]
        assert ps["web-404"]["status"] == "warning", ps["web-404"]
        assert ps["web-404"]["metrics"]["http_status"]["value"] == 404
        assert ps["web-down"]["status"] == "critical", ps["web-down"]

        # one probe by path, and one link
        one = d.get("/api/v1/probes/lab/smtp")
        assert one["name"] == "smtp" and one["target"] == f"127.0.0.1:{banner}"
        assert len(d.get("/api/v1/probes/lab")["probes"]) == len(names)
        d.get("/api/v1/probes/lab/nope", expect=404)
        d.get("/api/v1/probes/nolink", expect=404)


@pytest.fixture
def tls_web(tmp_path):
    """HTTPS on loopback with a self-signed certificate valid for 5 days."""
    if not shutil.which("openssl"):
        pytest.skip("openssl missing")
    import ssl
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "5", "-subj", "/CN=127.0.0.1"])
    assert r.returncode == 0, r.stderr
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    # handshakes happen in the per-connection threads, not in accept()
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_https_certificate(tmp_path, tls_web):
    body = f'''
link "lab" {{
    probe "tls" {{ type = "http"  target = "https://127.0.0.1:{tls_web}/"  insecure = "yes"
                  interval = "2s"  timeout = "8s" }}
    probe "tls-short" {{ type = "http"  target = "https://127.0.0.1:{tls_web}/"  insecure = "yes"
                        cert-warning = "2d"  interval = "2s"  timeout = "8s" }}
    probe "tls-verify" {{ type = "http"  target = "https://127.0.0.1:{tls_web}/"  interval = "2s"  timeout = "8s" }}
}}
'''
    with Daemon(tmp_path, body=body) as d:
        ps = wait_results(d, ["tls", "tls-short", "tls-verify"],
                          pred=lambda p: "http_status" in p["metrics"]
                          or p["name"] == "tls-verify")
        # 5 days left, default warning below 14 days
        t = ps["tls"]
        assert t["status"] == "warning", t
        assert "certificate expires" in t["message"]
        assert 4 < t["metrics"]["cert_days"]["value"] <= 5
        assert "tls_time" in t["metrics"]
        assert ps["tls-short"]["status"] == "ok", ps["tls-short"]
        v = ps["tls-verify"]
        assert v["status"] == "critical", v
        assert "certificate" in v["message"].lower()


def test_dns(tmp_path, dnsmasq, web):
    srv = f"127.0.0.1:{dnsmasq}"
    dead = f"127.0.0.1:{free_udp_port()}"
    body = f'''
link "lab" {{
    probe "a" {{ type = "dns"  target = "{srv}"  query = "example.lab"  record = "A"
                expect = "198.18.2.2"  interval = "1s"  timeout = "5s" }}
    probe "aaaa" {{ type = "dns"  target = "{srv}"  query = "v6.lab"  record = "AAAA"
                   expect = "2001:db8:0::5"  interval = "1s"  timeout = "5s" }}
    probe "ptr" {{ type = "dns"  target = "{srv}"  query = "198.18.2.2"  record = "PTR"
                  expect = "web.example.lab"  interval = "1s"  timeout = "5s" }}
    probe "wrong" {{ type = "dns"  target = "{srv}"  query = "example.lab"
                    expect = "198.18.2.3"  interval = "1s"  timeout = "5s" }}
    probe "nx" {{ type = "dns"  target = "{srv}"  query = "missing.lab"  interval = "1s"  timeout = "5s" }}
    probe "dead" {{ type = "dns"  target = "{dead}"  query = "example.lab"  interval = "1s"
                   timeout = "800ms" }}
    probe "by-name" {{ type = "tcp"  target = "web.lab:{web}"  server = "{srv}"  interval = "1s"  timeout = "5s" }}
    probe "by-name-http" {{ type = "http"  target = "http://web.lab:{web}/"  server = "{srv}"
                           expect = "Welcome"  interval = "1s"  timeout = "5s" }}
    probe "no-such-name" {{ type = "tcp"  target = "nowhere.lab:{web}"  server = "{srv}"
                           interval = "1s"  timeout = "5s" }}
}}
'''
    with Daemon(tmp_path, body=body) as d:
        ps = wait_results(d, ["a", "aaaa", "ptr", "wrong", "nx", "dead", "by-name",
                              "by-name-http", "no-such-name"])
        a = ps["a"]
        assert a["status"] == "ok", a
        assert "198.18.2.2" in a["message"]
        assert a["metrics"]["answer_time"]["unit"] == "ms"
        assert a["metrics"]["answers"]["value"] == 1
        assert ps["aaaa"]["status"] == "ok", ps["aaaa"]
        assert ps["ptr"]["status"] == "ok", ps["ptr"]
        assert ps["wrong"]["status"] == "critical"
        assert "198.18.2.3" in ps["wrong"]["message"]
        assert ps["nx"]["status"] == "critical" and "NXDOMAIN" in ps["nx"]["message"], ps["nx"]
        assert ps["dead"]["status"] == "critical", ps["dead"]
        assert "no answer" in ps["dead"]["message"]
        assert ps["by-name"]["status"] == "ok", ps["by-name"]
        assert "resolve_time" in ps["by-name"]["metrics"]
        assert ps["by-name-http"]["status"] == "ok", ps["by-name-http"]
        assert ps["no-such-name"]["status"] == "unknown", ps["no-such-name"]
        assert "resolve" in ps["no-such-name"]["message"]


def _script(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_exec(tmp_path):
    if not os.access(CHECK_DUMMY, os.X_OK):
        pytest.skip("monitoring-plugins-basic missing (make deps)")
    pids = tmp_path / "hang.pids"
    hang = _script(tmp_path / "hang.sh",
                   f"#!/bin/sh\necho starting\nsleep 300 &\necho $! >> {pids}\n"
                   f"echo $$ >> {pids}\nsleep 300\n")
    perf = _script(tmp_path / "perf.sh",
                   "#!/bin/sh\ncat <<'EOF'\n"
                   "PING OK - rta 12ms | rta=12ms;100;200;0 pl=5%;20;60;0;100 'big disk'=2KB\n"
                   "second line\nEOF\nexit 0\n")
    body = f'''
link "lab" {{
    probe "fine" {{ type = "exec"  target = "{CHECK_DUMMY}"  arguments = {{ "0", "fine" }}
                   shell = "no"  interval = "1s" }}
    probe "crit" {{ type = "exec"  target = "{CHECK_DUMMY}"  arguments = {{ "2", "broken" }}
                   interval = "1s" }}
    probe "perf" {{ type = "exec"  target = "{perf}"  interval = "1s"  timeout = "5s" }}
    probe "hang" {{ type = "exec"  target = "{hang}"  interval = "2s"  timeout = "1s" }}
    probe "missing" {{ type = "exec"  target = "{tmp_path}/no-such-check"  interval = "1s"  timeout = "5s" }}
    probe "shell" {{ type = "exec"  target = "echo \\"WARNING: $1\\"; exit 1"  shell = "yes"
                    arguments = {{ "from a shell" }}  interval = "1s" }}
    probe "weird" {{ type = "exec"  target = "printf 'caf\\\\303\\\\251 \\\\377\\\\001x'; exit 7"
                    shell = "yes"  interval = "1s"  timeout = "5s" }}
}}
'''
    with Daemon(tmp_path, body=body) as d:
        ps = wait_results(d, ["fine", "crit", "perf", "hang", "missing", "shell", "weird"])
        assert ps["fine"]["status"] == "ok" and ps["fine"]["message"] == "OK: fine", ps["fine"]
        assert ps["crit"]["status"] == "critical", ps["crit"]
        assert ps["crit"]["message"] == "CRITICAL: broken"

        p = ps["perf"]
        assert p["status"] == "ok", p
        assert p["message"] == "PING OK - rta 12ms"
        assert p["metrics"]["rta"] == {"value": 12.0, "unit": "ms"}
        assert p["metrics"]["pl"] == {"value": 5.0, "unit": "%"}
        assert p["metrics"]["big disk"] == {"value": 2048.0, "unit": "B"}
        assert p["metrics"]["execution_time"]["unit"] == "ms"

        h = ps["hang"]
        assert h["status"] == "unknown", h
        assert h["message"] == "timed out after 1000 ms"
        # the script and its background child (same process group) are killed
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) >= 2, 30,
                 "the hanging script to record its pids")
        for pid in map(int, pids.read_text().split()[:2]):
            wait_for(lambda pid=pid: not _alive(pid), 30, f"hung process {pid} to be killed")

        m = ps["missing"]
        assert m["status"] == "unknown", m
        assert "cannot execute" in m["message"] and "No such file" in m["message"]
        assert ps["shell"]["status"] == "warning", ps["shell"]
        assert ps["shell"]["message"] == "WARNING: from a shell"
        w = ps["weird"]
        assert w["status"] == "unknown", w
        assert w["message"].startswith("exit code 7: caf\u00e9 ?"), w
        # the daemon keeps running them: results keep coming
        t0 = ps["fine"]["ts"]
        d.wait_for(lambda: probes(d)["fine"]["ts"] > t0, 30, "a newer result")


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_check_reports_bad_probe_options(tmp_path):
    conf = _write(tmp_path / "bad.conf", f'''site = "t"
state-dir = "{tmp_path}"
plugin-dir = "{BUILD}/plugins"
link "lab" {{
    probe "ok" {{ type = "tcp"  target = "127.0.0.1:25" }}
    probe "smtp" {{ type = "tcp"  target = "127.0.0.1:25"
                   cert-warning = "14d" }}
    probe "dns" {{ type = "dns"  target = "127.0.0.1"  query = "x.lab"  record = "MX" }}
    probe "web" {{ type = "http"  target = "ftp://127.0.0.1/" }}
    probe "named" {{ type = "tcp"  target = "mail.example.lab:25" }}
    probe "cmd" {{ type = "exec"  target = "check_dummy" }}
    probe "third" {{ type = "exec"  target = "/bin/true"  options = {{ "colour=blue" }} }}
    probe "what" {{ type = "nosuchtype"  target = "x" }}
}}
''')
    r = run([LINEWATCHD, "-t", "-c", conf])
    assert r.returncode != 0
    err = r.stderr
    assert f'{conf}:6: probe "smtp" of link "lab": option "cert-warning" is not used by tcp' \
        in err, err
    assert f'{conf}:8: probe "dns" of link "lab": record "MX"' in err, err
    assert f'{conf}:9: probe "web" of link "lab": ' in err and "ftp://" in err, err
    assert f'{conf}:10: probe "named" of link "lab": ' in err and "server" in err, err
    assert f'{conf}:11: probe "cmd" of link "lab": ' in err and "absolute path" in err, err
    assert f'{conf}:12: probe "third" of link "lab": option "colour"' in err, err
    assert f'{conf}:13: probe "what" of link "lab": plugin {BUILD}/plugins/nosuchtype.so' \
        in err, err
    assert 'probe "ok"' not in err, err


BAD_PLUGIN = r'''
#include "linewatch_plugin.h"
const struct lw_plugin linewatch_plugin = { .abi = 999, .name = "old" };
'''
NO_SYMBOL_PLUGIN = "int not_a_plugin = 1;\n"


def _build_plugin(tmp_path, name, src, plugdir):
    c = tmp_path / f"{name}.c"
    c.write_text(src)
    inc = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "daemon")
    r = run(["cc", "-shared", "-fPIC", f"-I{inc}", "-o", str(plugdir / f"{name}.so"), str(c)]
            + subprocess.run(["pkg-config", "--cflags", "libevent"], capture_output=True,
                             text=True).stdout.split())
    assert r.returncode == 0, r.stderr


def test_wrong_abi_plugin_refused(tmp_path):
    if not shutil.which("cc"):
        pytest.skip("no C compiler")
    plugdir = tmp_path / "plugins"
    plugdir.mkdir()
    _build_plugin(tmp_path, "old", BAD_PLUGIN, plugdir)
    _build_plugin(tmp_path, "nosym", NO_SYMBOL_PLUGIN, plugdir)
    conf = _write(tmp_path / "c.conf", f'''site = "t"
state-dir = "{tmp_path}/state"
pidfile = "{tmp_path}/pid"
plugin-dir = "{plugdir}"
http {{ listen = {{ "127.0.0.1:{free_port()}" }} }}
link "lab" {{
    probe "p" {{ type = "old"  target = "x" }}
    probe "q" {{ type = "nosym"  target = "x" }}
}}
''')
    r = run([LINEWATCHD, "-t", "-c", conf])
    assert r.returncode != 0
    assert (f'{conf}:7: probe "p" of link "lab": plugin {plugdir}/old.so has ABI version 999'
            in r.stderr), r.stderr
    assert (f'{conf}:8: probe "q" of link "lab": plugin {plugdir}/nosym.so has no '
            'linewatch_plugin symbol' in r.stderr), r.stderr
    # starting is refused the same way, naming the file
    r = run([LINEWATCHD, "-f", "-c", conf], timeout=30)
    assert r.returncode != 0
    assert f"{plugdir}/old.so has ABI version 999" in r.stderr, r.stderr


def test_reload_adds_changes_and_removes_probes(tmp_path, web):
    first = f'''
link "lab" {{
    probe "keep" {{ type = "tcp"  target = "127.0.0.1:{web}"  interval = "1s"  timeout = "5s" }}
    probe "gone" {{ type = "tcp"  target = "127.0.0.1:{web}"  interval = "1s"  timeout = "5s" }}
    probe "change" {{ type = "tcp"  target = "127.0.0.1:{web}"  interval = "1s"  timeout = "5s" }}
}}
'''
    with Daemon(tmp_path, body=first) as d:
        wait_results(d, ["keep", "gone", "change"])
        d.write_config(f'''
link "lab" {{
    probe "keep" {{ type = "tcp"  target = "127.0.0.1:{web}"  interval = "1s"  timeout = "5s" }}
    probe "change" {{ type = "http"  target = "http://127.0.0.1:{web}/"  interval = "1s"  timeout = "5s" }}
    probe "new" {{ type = "exec"  target = "{CHECK_DUMMY}"  arguments = {{ "1", "new" }}
                  interval = "1s" }}
}}
''')
        d.signal(signal.SIGHUP)
        ps = wait_results(d, ["keep", "change", "new"],
                          pred=lambda p: p["type"] != "http" or "http_status" in p["metrics"])
        assert "gone" not in ps
        assert ps["change"]["type"] == "http" and ps["change"]["status"] == "ok", ps["change"]
        if os.access(CHECK_DUMMY, os.X_OK):
            assert ps["new"]["status"] == "warning", ps["new"]
        assert ps["keep"]["status"] == "ok"
        # probes run on: a result newer than the reload arrives for the kept probe
        t0 = time.time()
        d.wait_for(lambda: probes(d)["keep"]["ts"] > t0, 30, "kept probe to go on")
