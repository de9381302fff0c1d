"""Start and stop a real linewatchd for system tests.

    from lwd import Daemon
    with Daemon(tmp_path, body='device "r" { ... }') as d:   # writes the config, starts, waits
        d.get("/api/v1/health")                               # JSON
        d.wait_for(lambda: d.get("/api/v1/probes")["probes"], timeout=20, what="probe results")

The daemon is build-san/linewatchd (LW_BUILD overrides the build dir), run with
-f, its stderr in tmp_path/linewatchd.log.  `netns` runs it inside a lab
namespace.  The HTTP port is picked free on 127.0.0.1 unless `listen` is given.
"""
import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, os.environ.get("LW_BUILD", "build-san"))
LINEWATCHD = os.path.join(BUILD, "linewatchd")
# Sanitizer settings as tests/run.sh sets them, also when pytest runs alone.
os.environ.setdefault("LSAN_OPTIONS", f"suppressions={REPO}/tests/lsan.supp:print_suppressions=0")
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1:fast_unwind_on_malloc=0")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")


_given_ports = set()
_port_random = random.Random()


def _unassigned_ports():
    """Ports the kernel never hands out by itself (outside
    net.ipv4.ip_local_port_range), or None.  A port picked from the
    ephemeral range is free only until its test binds it: meanwhile any
    connect() or UDP socket on the machine (the daemon's own included) may
    get it as its local port.  Outside that range only an explicit bind can
    take it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
    except (OSError, ValueError):
        return None
    if lo - 1024 >= 2000:
        return range(max(1024, lo - 10000), lo)
    if 65535 - hi >= 2000:
        return range(hi + 1, 65536)
    return None


def free_port(kind=socket.SOCK_STREAM):
    """A port on 127.0.0.1 nothing is bound to (TCP, or UDP with
    kind=socket.SOCK_DGRAM), outside the ephemeral range when possible and
    never the same one twice in a test run."""
    ports = _unassigned_ports()
    for _ in range(1000):
        want = _port_random.choice(ports) if ports else 0
        if want in _given_ports:
            continue
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", want))
            port = s.getsockname()[1]
        except OSError:
            continue  # in use
        finally:
            s.close()
        if port not in _given_ports:
            _given_ports.add(port)
            return port
    raise AssertionError("no free port on 127.0.0.1")


def free_udp_port():
    return free_port(socket.SOCK_DGRAM)


def wait_for(pred, timeout=10.0, what="condition", interval=0.1):
    """Poll pred() until it returns a truthy value; raise with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - keep polling, report the last one
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                         + (f" (last error: {last_exc!r})" if last_exc else ""))


class Daemon:
    def __init__(self, tmp_path, body="", site="test site", netns=None, listen=None,
                 extra_top="", env=None, args=()):
        self.dir = str(tmp_path)
        self.state = os.path.join(self.dir, "state")
        self.pidfile = os.path.join(self.dir, "linewatchd.pid")
        self.conf = os.path.join(self.dir, "linewatch.conf")
        self.log = os.path.join(self.dir, "linewatchd.log")
        self.netns = netns
        self.port = free_port() if listen is None else int(listen.rsplit(":", 1)[1])
        self.listen = listen or f"127.0.0.1:{self.port}"
        self.host = self.listen.rsplit(":", 1)[0].strip("[]")
        self.site = site
        self.extra_top = extra_top
        self.env = env
        self.args = list(args)
        self.proc = None
        self.write_config(body)

    def config_text(self, body):
        return (
            f'site = "{self.site}"\n'
            f'state-dir = "{self.state}"\n'
            f'pidfile = "{self.pidfile}"\n'
            f'plugin-dir = "{BUILD}/plugins"\n'
            f'web-dir = "{REPO}/web"\n'
            f'profile-dir = "{REPO}/etc/profiles"\n'
            f'log-level = "debug"\n'
            f'{self.extra_top}\n'
            f'http {{\n    listen = {{ "{self.listen}" }}\n}}\n'
            f'{body}\n')

    def write_config(self, body):
        with open(self.conf, "w") as f:
            f.write(self.config_text(body))

    def cmd(self):
        c = [LINEWATCHD, "-f", "-c", self.conf] + self.args
        if self.netns:
            c = ["ip", "netns", "exec", self.netns] + c
        return c

    def start(self, wait=True):
        env = dict(os.environ)
        env.update(self.env or {})
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.cmd(), stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        if wait:
            # generous: a sanitizer build on a loaded machine starts slowly
            deadline = time.monotonic() + 60
            while True:
                self.alive_or_raise()  # a daemon that exited fails at once
                try:
                    if self.health():
                        break
                except Exception:  # noqa: BLE001 - not listening yet
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("linewatchd health endpoint did not answer in 60 s:\n"
                                         + self.read_log()[-3000:])
                time.sleep(0.1)
        return self

    def alive_or_raise(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"linewatchd exited with {self.proc.returncode}:\n"
                                 + self.read_log()[-3000:])
        return True

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def url(self, path):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def request(self, path, data=None, method=None, headers=None):
        """Returns (status, headers, body bytes); never raises for HTTP errors."""
        req = urllib.request.Request(self.url(path), data=data, method=method,
                                     headers=headers or {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path, expect=200):
        if self.netns:
            out = subprocess.run(["ip", "netns", "exec", self.netns, "curl", "-s", "--noproxy",
                                  "*", "-w", "\n%{http_code}", self.url(path)],
                                 capture_output=True, text=True, timeout=30)
            body, _, code = out.stdout.rpartition("\n")
            assert int(code) == expect, f"GET {path}: {code} {body}"
            return json.loads(body)
        status, _, body = self.request(path)
        assert status == expect, f"GET {path}: {status} {body[:500]!r}"
        return json.loads(body)

    def health(self):
        return self.get("/api/v1/health")

    def wait_for(self, pred, timeout=10.0, what="condition"):
        def checked():
            self.alive_or_raise()
            return pred()
        return wait_for(checked, timeout=timeout, what=what)

    def signal(self, sig):
        os.kill(self.pid(), sig)

    def pid(self):
        return self.proc.pid  # `ip netns exec` execs the daemon: same pid

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("linewatchd did not stop within %ss of SIGTERM" % timeout)
        finally:
            self.logf.close()

    def kill9(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.logf.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            rc = self.stop()
        except AssertionError:
            if exc[0] is None:
                raise
            return False
        if exc[0] is None:
            log = self.read_log()
            assert "ERROR: AddressSanitizer" not in log, log[-4000:]
            assert "runtime error:" not in log, log[-4000:]
            assert "LeakSanitizer" not in log, log[-4000:]
            assert rc == 0, f"linewatchd exited {rc}:\n{log[-3000:]}"
        return False



class EmptyPluginDirDaemon(Daemon):
    """A daemon whose plugin-dir is an empty directory: no probe plugin,
    no notify-curl.so, no appclass-ndpi.so."""

    def config_text(self, body):
        pdir = os.path.join(self.dir, "plugins")
        os.makedirs(pdir, exist_ok=True)
        return super().config_text(body).replace(f'plugin-dir = "{BUILD}/plugins"',
                                                 f'plugin-dir = "{pdir}"')


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 60), **kw)
