"""Upstream notifications from the real daemon to real receivers on loopback.

snmptrapd (with LINEWATCH-MIB loaded from etc/mibs and the IETF base MIBs
from ../shared/mibs) receives v2c traps, v2c informs, v3 authPriv informs
and v3 authPriv traps; the tests check notification names and varbind
values, the order of delivery across an outage and a kill -9, reloads, and
the configuration errors of `linewatchd -t`.
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

import pytest

from lwd import (BUILD, LINEWATCHD, REPO, Daemon, EmptyPluginDirDaemon, free_port, free_udp_port,
                 run, wait_for)

SHARED_MIBS = os.path.join(os.path.dirname(REPO), "shared", "mibs")
USER = ("lwtrap", "SHA", "authpass1", "AES", "privpass1")
V3 = ('snmp = "v3"  username = "lwtrap"  auth-protocol = "SHA"  auth-key = "authpass1"  '
      'priv-protocol = "AES"  priv-key = "privpass1"')


def parse_time(v):
    """DateAndTime as snmptrapd shows it ("2026-1-5,9:3:7.4,+0:0") -> tuple."""
    m = re.match(r"(\d+)-(\d+)-(\d+),(\d+):(\d+):(\d+)\.(\d)", v)
    assert m, v
    return tuple(int(x) for x in m.groups())


def iso_to_tuple(iso):
    """The outbox payload's "2026-01-05T09:03:07.412Z" -> the same tuple."""
    m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d)", iso)
    assert m, iso
    return tuple(int(x) for x in m.groups())


class Trapd:
    """snmptrapd on 127.0.0.1:port, logging one line per notification."""

    def __init__(self, tmp, port=None, engine_id=None):
        if shutil.which("snmptrapd") is None:
            pytest.skip("snmptrapd is not installed (make deps)")
        if not os.path.isdir(SHARED_MIBS):
            pytest.skip(f"{SHARED_MIBS} (the IETF base MIBs) is not there")
        self.dir = os.path.join(str(tmp), f"trapd-{time.monotonic_ns()}")
        os.makedirs(os.path.join(self.dir, "persist"))
        self.port = port or free_udp_port()
        self.logs = []  # one per start: snmptrapd truncates its log file
        self.conf = os.path.join(self.dir, "snmptrapd.conf")
        user = " ".join(USER)
        with open(self.conf, "w") as f:
            f.write("disableAuthorization yes\n")
            f.write("authCommunity log public\n")
            f.write(f"createUser {user}\n")  # informs: our own engine ID
            if engine_id:
                f.write(f"createUser -e 0x{engine_id} {user}\n")  # traps: the sender's
        self.proc = None

    def start(self):
        self.logs.append(os.path.join(self.dir, f"notifications-{len(self.logs)}.log"))
        self.proc = subprocess.Popen(
            ["snmptrapd", "-f", "-Lf", self.logs[-1], "-F", "NOTIFY %P\t%V|%v\n", "-C",
             "-c", self.conf, f"--persistentDir={self.dir}/persist",
             "-M", f"+{SHARED_MIBS}:{REPO}/etc/mibs", "-m", "+LINEWATCH-MIB",
             f"udp:127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: "NET-SNMP version" in self.text(-1), 30, "snmptrapd to start")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def text(self, which=None):
        out = ""
        for log in self.logs if which is None else [self.logs[which]]:
            try:
                with open(log, errors="replace") as f:
                    out += f.read()
            except FileNotFoundError:
                pass
        return out

    def notifications(self):
        """[{"pdu": "INFORM, SNMP v2c, ...", "trap": "lwHeartbeat", "lwSite": ...}]"""
        out = []
        # only whole lines: snmptrapd may be writing the last one
        lines = [ln for i in range(len(self.logs)) for ln in self.text(i).split("\n")[:-1]]
        for line in lines:
            if not line.startswith("NOTIFY "):
                continue
            pdu, _, rest = line[len("NOTIFY "):].partition("\t")
            n = {"pdu": pdu}
            for vb in rest.split("|"):
                name, _, value = vb.partition(" = ")
                name = name.split("::")[-1]
                if name.endswith(".0"):
                    name = name[:-2]
                value = value.split(": ", 1)[-1] if ": " in value else value
                n[name] = value.split("::")[-1] if name == "snmpTrapOID" else value
            n["trap"] = n.get("snmpTrapOID")
            out.append(n)
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def only(notes, kind):
    return [n for n in notes if n["pdu"].startswith(kind)]


def outbox_rows(d, dest):
    con = sqlite3.connect(f"file:{d.state}/linewatch.db?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT id, payload FROM notify_outbox WHERE dest = ? ORDER BY id",
                           (dest,)).fetchall()
    finally:
        con.close()


def test_v2c_trap_v2c_inform_v3_inform_cold_start_and_heartbeats(tmp_path):
    with Trapd(tmp_path) as trapd:
        t = f"udp:127.0.0.1:{trapd.port}"
        body = (
            f'upstream "trap" {{ target = "{t}"  snmp = "v2c"  community = "public"  '
            f'heartbeat = "1s" }}\n'
            f'upstream "inform" {{ target = "{t}"  snmp = "v2c"  community = "public"  '
            f'inform = true  heartbeat = "1s" }}\n'
            f'upstream "v3" {{ target = "{t}"  {V3}  inform = true  heartbeat = "1s" }}\n')
        with Daemon(tmp_path, body=body, site="Example Dental") as d:
            kinds = {"TRAP2, SNMP v2c": "trap", "INFORM, SNMP v2c": "inform",
                     "INFORM, SNMP v3, user lwtrap": "v3"}

            def enough():
                notes = trapd.notifications()
                return all(len([n for n in only(notes, k) if n["trap"] == "lwHeartbeat"]) >= 2
                           for k in kinds)
            d.wait_for(enough, timeout=30, what="two heartbeats of each kind")
            notes = trapd.notifications()
            for kind in kinds:
                mine = only(notes, kind)
                # coldStart first, once, then heartbeats
                assert mine[0]["trap"] == "coldStart", mine[0]
                assert mine[0]["lwSite"] == "Example Dental"
                assert [n["trap"] for n in mine[1:]] == ["lwHeartbeat"] * (len(mine) - 1)
                for hb in mine[1:]:
                    assert hb["lwSite"] == "Example Dental"
                    assert hb["lwHeartbeatInterval"] == "1 seconds", hb
                    assert re.match(r"\d+ notifications", hb["lwOutboxDepth"]), hb
                    assert hb["lwOutboxDropped"] == "0 notifications", hb
                    assert "sysUpTime" in hb
                times = [parse_time(hb["lwEventTime"]) for hb in mine[1:]]
                assert times == sorted(times) and len(set(times)) == len(times)
            log = d.read_log()
            assert "authpass1" not in log and "privpass1" not in log


def test_v3_authpriv_traps_use_the_daemons_engine_id(tmp_path):
    port = free_udp_port()
    body = (f'upstream "noc" {{ target = "udp:127.0.0.1:{port}"  {V3}  '
            f'heartbeat = "1s" }}\n')
    engine_re = r'SNMPv3 traps come from engine ID 0x([0-9a-f]+) \(boots (\d+)\)'
    d = Daemon(tmp_path, body=body)
    d.start()
    try:
        m = d.wait_for(lambda: re.search(engine_re, d.read_log()), 30, "the engine ID in the log")
        engine, boots = m.group(1), int(m.group(2))
        with Trapd(tmp_path, port=port, engine_id=engine) as trapd:
            d.wait_for(lambda: [n for n in only(trapd.notifications(),
                                                 "TRAP2, SNMP v3, user lwtrap")
                                if n["trap"] == "lwHeartbeat"], 30, "an authPriv v3 trap")
            assert d.stop() == 0
            # a restart keeps the engine ID and counts a boot: still accepted.
            # Count before the start: the coldStart can arrive before start() returns.
            seen = len(trapd.notifications())
            d.start()
            m2 = d.wait_for(lambda: [x for x in re.finditer(engine_re, d.read_log())][1:],
                            30, "the engine ID after the restart")[0]
            assert m2.group(1) == engine and int(m2.group(2)) == boots + 1
            d.wait_for(lambda: [n for n in trapd.notifications()[seen:]
                                if n["trap"] == "coldStart"], 30, "coldStart after the restart")
    finally:
        d.stop()


def test_outage_and_kill9_lose_nothing_and_keep_the_order(tmp_path):
    with Trapd(tmp_path) as trapd:
        # timeout: an inform acknowledged after it would be sent again (a
        # duplicate in the middle of the backlog); 2 s is never reached on
        # loopback, 500 ms could be on a loaded machine
        body = (f'upstream "noc" {{ target = "udp:127.0.0.1:{trapd.port}"  snmp = "v2c"  '
                f'community = "public"  inform = true  timeout = "2s"  retries = 0  '
                f'heartbeat = "1s" }}\n')
        d = Daemon(tmp_path, body=body)
        d.start()
        try:
            d.wait_for(lambda: [n for n in trapd.notifications() if n["trap"] == "lwHeartbeat"],
                       30, "the first heartbeat")
            trapd.stop()
            delivered = trapd.notifications()
            # the upstream is down: heartbeats pile up in the outbox
            d.wait_for(lambda: len(outbox_rows(d, "upstream:noc")) >= 4, 30,
                       "four notifications waiting in the outbox")
            d.wait_for(lambda: "cannot deliver notification" in d.read_log(), 30,
                       "the failed delivery in the log")
            d.kill9()
            waiting = [iso_to_tuple(json.loads(p)["time"])
                       for _, p in outbox_rows(d, "upstream:noc")]
            assert len(waiting) >= 4
            # restarted while the upstream is still down, then it comes back
            d.start()
            d.wait_for(lambda: "waiting from before the restart" in d.read_log(), 30,
                       "the outbox to be loaded")
            trapd.start()
            d.wait_for(lambda: [n for n in trapd.notifications()[len(delivered):]
                                if n["trap"] == "coldStart"], 90,
                       "the backlog and the new coldStart")
            after = trapd.notifications()[len(delivered):]
            first_cold = [i for i, n in enumerate(after) if n["trap"] == "coldStart"][0]
            backlog = after[:first_cold]
            got = [parse_time(n["lwEventTime"]) for n in backlog]
            # every waiting notification, in order; an inform the upstream may
            # have acknowledged just before it stopped can repeat at the head
            assert got[-len(waiting):] == waiting, (got, waiting)
            assert all(n["trap"] == "lwHeartbeat" for n in backlog)
            times = [parse_time(n["lwEventTime"]) for n in trapd.notifications()
                     if n["trap"] == "lwHeartbeat"]
            assert times == sorted(times)
        finally:
            d.stop()
            trapd.stop()


def test_reload_retargets_and_removes_upstreams(tmp_path):
    dead = free_udp_port()
    with Trapd(tmp_path) as trapd:
        def body(port):
            return (f'upstream "noc" {{ target = "udp:127.0.0.1:{port}"  snmp = "v2c"  '
                    f'community = "public"  inform = true  timeout = "300ms"  retries = 0  '
                    f'heartbeat = "1s" }}\n')
        with Daemon(tmp_path, body=body(dead)) as d:
            d.wait_for(lambda: len(outbox_rows(d, "upstream:noc")) >= 3, 30,
                       "notifications waiting for the dead target")
            d.write_config(body(trapd.port))
            d.signal(signal.SIGHUP)
            d.wait_for(lambda: [n for n in trapd.notifications() if n["trap"] == "coldStart"],
                       30, "the waiting notifications at the new target")
            notes = trapd.notifications()
            assert notes[0]["trap"] == "coldStart", notes[0]
            assert 'upstream "noc": configuration changed' in d.read_log()
            # removing the upstream drops what it had waiting, and says so
            trapd.stop()
            d.wait_for(lambda: len(outbox_rows(d, "upstream:noc")) >= 2, 30,
                       "notifications waiting again")
            d.write_config("")
            d.signal(signal.SIGHUP)
            d.wait_for(lambda: re.search(r'upstream "noc" removed: \d+ queued notifications? '
                                         r'dropped', d.read_log()), 30, "the removal")
            d.wait_for(lambda: not outbox_rows(d, "upstream:noc"), 30, "an empty outbox")


BAD = [
    ('upstream "noc" {\n  target = "udp:127.0.0.1:162"\n  snmp = "v4"\n}\n', 1,
     'upstream "noc": snmp = "v4" is not a version'),
    ('upstream "noc" {\n  target = "udp:127.0.0.1:162"\n  snmp = "v3"\n  username = "u"\n'
     '  auth-protocol = "SHA"\n  inform = true\n}\n', 1, "auth-key is missing"),
    ('\nwebhook "psa" {\n  url = "ftp://127.0.0.1/hook"\n}\n', 2,
     "url must start with http:// or https://"),
    ('\n\nemail "oncall" {\n  smtp = "http://127.0.0.1"\n  from = "lw@example.org"\n'
     '  to = { "noc@example.org" }\n}\n', 3, "smtp must be smtp://"),
    ('upstream "noc" {\n  target = "tcp:127.0.0.1:162"\n  community = "public"\n}\n', 1,
     "only UDP is supported"),
    ('upstream "noc" {\n  target = "udp:127.0.0.1:99999"\n  community = "public"\n}\n', 1,
     "is not an SNMP address"),
    ('upstream "noc" {\n  target = "udp:127.0.0.1"\n  community = "public"\n'
     '  heartbeat = "500ms"\n}\n', 1, "heartbeat must be at least 1s"),
    ('upstream "noc" {\n  target = "udp:127.0.0.1"\n  snmp = "v1"\n  community = "public"\n'
     '  inform = true\n}\n', 1, "SNMP v1 has no informs"),
]


@pytest.mark.parametrize("text,line,words", BAD)
def test_bad_notification_config_names_file_and_line(tmp_path, text, line, words):
    p = tmp_path / "bad.conf"
    p.write_text(text)
    r = run([LINEWATCHD, "-t", "-c", str(p)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{p}:{line}: " in r.stderr, r.stderr
    assert words in r.stderr, r.stderr


def test_good_notification_config_checks(tmp_path):
    p = tmp_path / "good.conf"
    p.write_text(
        f'plugin-dir = "{BUILD}/plugins"\n'  # -t loads notify-curl.so
        'upstream "noc" { target = "udp:127.0.0.1"  community = "public"  inform = true }\n'
        f'upstream "v3" {{ target = "udp6:[::1]:16200"  {V3}  inform = true }}\n'
        'webhook "psa" { url = "https://127.0.0.1:8443/hook"  '
        'headers = { "Authorization: Bearer x" }  events = { "opened", "resolved" } }\n'
        'email "oncall" { smtp = "smtp://127.0.0.1:2525"  from = "lw@example.org"  '
        'to = { "noc@example.org" }  starttls = false }\n')
    r = run([LINEWATCHD, "-t", "-c", str(p)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configuration OK"


# --- notify-curl.so: libcurl only in the plugin -------------------------------


def needed(path):
    r = run(["readelf", "-d", path])
    assert r.returncode == 0, r.stderr
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)


def test_linewatchd_does_not_link_libcurl_notify_curl_so_does():
    # libcurl's closure is ~4 MB of resident pages in every daemon
    core = needed(LINEWATCHD)
    assert core and not [n for n in core if "curl" in n], core
    assert [n for n in needed(os.path.join(BUILD, "plugins", "notify-curl.so"))
            if n.startswith("libcurl")]


def mapped(pid, prefix):
    """Whether a shared object whose file name starts with prefix is mapped."""
    with open(f"/proc/{pid}/maps") as f:
        return any(os.path.basename(line.split()[-1]).startswith(prefix)
                   for line in f if ".so" in line)


def test_libcurl_is_mapped_only_once_a_webhook_is_configured(tmp_path):
    with Daemon(tmp_path) as d:
        assert not mapped(d.pid(), "notify-curl.so")
        assert not mapped(d.pid(), "libcurl")
        d.write_config('webhook "psa" { url = "http://127.0.0.1:9/hook" }\n')
        d.signal(signal.SIGHUP)
        d.wait_for(lambda: mapped(d.pid(), "notify-curl.so"), 30, "notify-curl.so loaded")
        assert mapped(d.pid(), "libcurl")


NO_PLUGIN = [
    ('\nwebhook "psa" {\n  url = "http://127.0.0.1:9/hook"\n}\n', 2, 'webhook "psa"'),
    ('\n\n\nemail "oncall" {\n  smtp = "smtp://127.0.0.1:9"\n  from = "lw@example.org"\n'
     '  to = { "noc@example.org" }\n}\n', 4, 'email "oncall"'),
]


@pytest.mark.parametrize("text,line,who", NO_PLUGIN)
def test_destination_without_notify_curl_so_fails_with_t_and_at_start(tmp_path, text, line, who):
    empty = tmp_path / "plugins"
    empty.mkdir()
    (tmp_path / "state").mkdir()
    p = tmp_path / "lw.conf"
    p.write_text(f'state-dir = "{tmp_path}/state"\npidfile = "{tmp_path}/lw.pid"\n'
                 f'plugin-dir = "{empty}"\n'
                 f'http {{ listen = {{ "127.0.0.1:{free_udp_port()}" }} }}\n' + text)
    want = f"{p}:{line + 4}: {who}: plugin {empty}/notify-curl.so does not exist"
    r = run([LINEWATCHD, "-t", "-c", str(p)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert want in r.stderr, r.stderr
    assert "plugin-dir" in r.stderr, r.stderr
    r = run([LINEWATCHD, "-f", "-c", str(p)], timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert want in r.stderr, r.stderr


def test_reload_adding_a_webhook_without_notify_curl_so_keeps_the_config(tmp_path):
    with EmptyPluginDirDaemon(tmp_path) as d:
        d.write_config('webhook "psa" { url = "http://127.0.0.1:9/hook" }\n')
        d.signal(signal.SIGHUP)
        d.wait_for(lambda: "keeping the running configuration" in d.read_log(), 30,
                   "the refused reload")
        assert "notify-curl.so does not exist" in d.read_log()
        assert d.get("/api/v1/health")
        assert not mapped(d.pid(), "libcurl")


# --- ticket events from real problems -----------------------------------------


class Hook:
    """An HTTP receiver: answers `codes` in turn (then 200), records requests."""

    def __init__(self, codes=()):
        import http.server
        import threading
        self.codes = list(codes)
        self.requests = []
        hook = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                code = hook.codes.pop(0) if hook.codes else 200
                hook.requests.append({"code": code, "headers": dict(self.headers),
                                      "body": json.loads(body)})
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self):
        return [r["body"] for r in self.requests if r["code"] == 200]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Smtp:
    """aiosmtpd on 127.0.0.1, keeping every message."""

    def __init__(self):
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            pytest.skip("python3-aiosmtpd is not installed (make deps)")
        self.messages = []
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import email
                msg = email.message_from_bytes(envelope.content)
                box.messages.append({"rcpt": list(envelope.rcpt_tos), "msg": msg,
                                     "body": msg.get_payload(decode=True).decode()})
                return "250 OK"

        port = free_tcp_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        self.port = port

    def close(self):
        self.controller.stop()


def free_tcp_port():
    return free_port(socket.SOCK_STREAM)


class Service:
    """The TCP port a probe checks: closed (the link is down) until listen()."""

    def __init__(self):
        self.port = free_tcp_port()
        self.sock = None

    def listen(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


def link(service):
    """A link whose only probe is a TCP check of a local port: closed, the
    link is down and a real ticket opens; listening, it resolves."""
    return (f'link "svc" {{\n'
            f'  provider = "Example Telecom"\n  circuit = "ABC-12345"\n'
            f'  probe "web" {{ type = "tcp"  target = "127.0.0.1:{service.port}"  interval = "1s"'
            f'  timeout = "500ms" }}\n'
            f'  degraded {{ for = 2  clear = 2  hold-down = "1s" }}\n}}\n')


def open_ticket(d):
    t = d.wait_for(lambda: d.get("/api/v1/tickets?state=open")["tickets"], 30, "a ticket")[0]
    assert t["link"] == "svc"
    return t


def act(d, ref, action, **body):
    status, _, reply = d.request(f"/api/v1/tickets/{ref}/{action}",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    assert status == 200, reply
    return json.loads(reply)


def test_ticket_open_ack_resolve_reach_traps_informs_webhook_and_mail(tmp_path):
    svc = Service()
    hook = Hook(codes=[500, 500])
    smtp = Smtp()
    try:
        with Trapd(tmp_path) as trapd:
            t = f"udp:127.0.0.1:{trapd.port}"
            body = (
                link(svc) +
                f'upstream "trap" {{ target = "{t}"  snmp = "v2c"  community = "public" }}\n'
                f'upstream "inform" {{ target = "{t}"  snmp = "v2c"  community = "public"  '
                f'inform = true }}\n'
                f'upstream "v3" {{ target = "{t}"  {V3}  inform = true }}\n'
                f'webhook "psa" {{ url = "http://127.0.0.1:{hook.port}/hook"  '
                f'headers = {{ "Authorization: Bearer s3cret" }}  '
                f'events = {{ "opened", "acknowledged", "resolved" }} }}\n'
                f'email "oncall" {{ smtp = "smtp://127.0.0.1:{smtp.port}"  '
                f'from = "linewatch@example.org"  to = {{ "noc@example.org" }}  '
                f'starttls = false  events = {{ "opened", "acknowledged", "resolved" }} }}\n')
            with Daemon(tmp_path, body=body, site="Example Dental") as d:
                ticket = open_ticket(d)
                ref = ticket["ref"]
                act(d, ref, "ack", by="alice", text="calling the provider")
                svc.listen()  # the problem goes away: the ticket resolves by itself
                d.wait_for(lambda: d.get(f"/api/v1/tickets/{ref}")["state"] == "resolved", 30,
                           "the ticket to resolve")

                def all_three(notes):
                    names = [n["trap"] for n in notes]
                    return ("lwTicketOpened" in names and "lwTicketResolved" in names and
                            any(n["trap"] == "lwTicketUpdated" and
                                n.get("lwEventType") == "acknowledged(3)" for n in notes))
                kinds = ["TRAP2, SNMP v2c", "INFORM, SNMP v2c", "INFORM, SNMP v3, user lwtrap"]
                d.wait_for(lambda: all(all_three(only(trapd.notifications(), k)) for k in kinds),
                           60, "opened, acknowledged and resolved at every upstream")
                d.wait_for(lambda: len(hook.delivered()) >= 3 and len(smtp.messages) >= 3, 60,
                           "the webhook and the mails")

            for kind in kinds:
                notes = [n for n in only(trapd.notifications(), kind)
                         if n["trap"].startswith("lwTicket")]
                opened = [n for n in notes if n["trap"] == "lwTicketOpened"][0]
                assert opened["lwTicketRef"] == ref
                assert opened["lwTicketKind"] == "down"
                assert opened["lwTicketSeverity"] == "critical(3)"
                assert opened["lwTicketState"] == "open(2)"
                assert opened["lwLinkName"] == "svc"
                assert opened["lwLinkProvider"] == "Example Telecom"
                assert opened["lwLinkCircuit"] == "ABC-12345"
                assert opened["lwSite"] == "Example Dental"
                assert opened["lwMessage"] == ticket["title"]
                ack = [n for n in notes if n.get("lwEventType") == "acknowledged(3)"][0]
                assert ack["lwTicketState"] == "acknowledged(3)"
                resolved = [n for n in notes if n["trap"] == "lwTicketResolved"][0]
                assert resolved["lwTicketState"] == "resolved(4)"
                assert resolved["lwEventType"] == "resolved(5)"
                # in the order they happened
                assert notes.index(opened) < notes.index(ack) < notes.index(resolved)
                # the link went down with the ticket and came back up with its resolution
                states = [n for n in only(trapd.notifications(), kind)
                          if n["trap"] == "lwLinkStateChanged"]
                assert len(states) >= 2, states
                assert states[0]["lwLinkName"] == "svc" and states[-1]["lwLinkName"] == "svc"

            # webhook: 500, 500, then the same notification again; only the chosen events
            assert [r["code"] for r in hook.requests[:3]] == [500, 500, 200]
            ids = [r["headers"]["X-Linewatch-Id"] for r in hook.requests[:3]]
            assert len(set(ids)) == 1
            got = hook.delivered()
            assert [b["event"] for b in got] == ["opened", "acknowledged", "resolved"]
            assert [b["id"] for b in got] == sorted(b["id"] for b in got)
            assert all(r["headers"]["Authorization"] == "Bearer s3cret" for r in hook.requests)
            assert got[0]["ticket"]["ref"] == ref and got[0]["link"]["circuit"] == "ABC-12345"
            assert got[1]["by"] == "alice" and "calling the provider" in got[1]["text"]
            assert got[2]["ticket"]["state"] == "resolved"
            assert got[0]["probes"][0]["name"] == "web"

            # mail: one per event, the reference in the subject, the evidence in the body
            subjects = [m["msg"]["Subject"] for m in smtp.messages]
            assert subjects[0].startswith(f"{ref} opened: ")
            assert subjects[1].startswith(f"{ref} acknowledged by alice: ")
            assert subjects[2].startswith(f"{ref} resolved: ")
            assert all(s.endswith("(Example Dental)") for s in subjects)
            body = smtp.messages[0]["body"]
            assert f"Ticket {ref} was opened." in body
            assert "Provider:  Example Telecom" in body and "Circuit:   ABC-12345" in body
            assert "Probes:" in body and "web: critical" in body
            assert "calling the provider" in smtp.messages[1]["body"]
            assert smtp.messages[0]["rcpt"] == ["noc@example.org"]
    finally:
        svc.close()
        hook.close()
        smtp.close()


def test_tickets_during_an_outage_and_kill9_arrive_in_order(tmp_path):
    svc = Service()
    svc.listen()  # healthy to start with
    with Trapd(tmp_path) as trapd:
        # timeout 2s: a late acknowledgement repeats an inform (see the outage test)
        body = (link(svc) +
                f'upstream "noc" {{ target = "udp:127.0.0.1:{trapd.port}"  snmp = "v2c"  '
                f'community = "public"  inform = true  timeout = "2s"  retries = 0 }}\n')
        d = Daemon(tmp_path, body=body)
        d.start()
        try:
            d.wait_for(lambda: [n for n in trapd.notifications() if n["trap"] == "coldStart"],
                       30, "coldStart")
            trapd.stop()
            seen = len(trapd.notifications())
            # the upstream is down: a ticket opens and is acknowledged meanwhile
            svc.close()
            ref = open_ticket(d)["ref"]
            act(d, ref, "ack", by="alice", text="on it")
            d.wait_for(lambda: len(outbox_rows(d, "upstream:noc")) >= 2, 30,
                       "the ticket events in the outbox")
            d.kill9()
            waiting = [json.loads(p)["event"] for _, p in outbox_rows(d, "upstream:noc")]
            assert "opened" in waiting and "acknowledged" in waiting, waiting
            d.start()
            svc.listen()  # fixed while the upstream is still away
            d.wait_for(lambda: d.get(f"/api/v1/tickets/{ref}")["state"] == "resolved", 30,
                       "the ticket to resolve")
            trapd.start()
            d.wait_for(lambda: [n for n in trapd.notifications()[seen:]
                                if n["trap"] == "lwTicketResolved"], 90,
                       "everything after the upstream came back")
            got = [(n["trap"], n.get("lwEventType")) for n in trapd.notifications()[seen:]
                   if n["trap"] != "lwHeartbeat"]
            want = [("lwTicketOpened", "opened(1)"), ("lwTicketUpdated", "acknowledged(3)"),
                    ("coldStart", None), ("lwTicketResolved", "resolved(5)")]
            # every one, in order (other updates, e.g. blame, may come between)
            it = iter(got)
            assert all(w in it for w in want), got
            assert got.count(("lwTicketOpened", "opened(1)")) == 1, got
        finally:
            d.stop()
            svc.close()


def test_enterprise_oid_moves_the_notifications(tmp_path):
    with Trapd(tmp_path) as trapd:
        body = (f'upstream "noc" {{ target = "udp:127.0.0.1:{trapd.port}"  snmp = "v2c"  '
                f'community = "public"  heartbeat = "1s" }}\n')
        d = Daemon(tmp_path, body=body, extra_top='enterprise-oid = "1.3.6.1.4.1.99999.7"')
        with d:
            # the shipped MIB does not cover this root: snmptrapd shows numbers
            d.wait_for(lambda: [n for n in trapd.notifications()
                                if n["trap"].endswith("enterprises.99999.7.0.5")], 30,
                       "a heartbeat under 1.3.6.1.4.1.99999.7")
            hb = [n for n in trapd.notifications()
                  if n["trap"].endswith("enterprises.99999.7.0.5")][0]
            assert hb["enterprises.99999.7.1.1.1"] == '"test site"', hb  # lwSite.0
            # back to the default root on reload: names again
            with open(d.conf) as f:
                text = f.read().replace('enterprise-oid = "1.3.6.1.4.1.99999.7"', "")
            with open(d.conf, "w") as f:
                f.write(text)
            d.signal(signal.SIGHUP)
            d.wait_for(lambda: [n for n in trapd.notifications() if n["trap"] == "lwHeartbeat"],
                       30, "a heartbeat under the default root")


def test_status_api_and_metrics_show_a_failing_upstream(tmp_path):
    dead = free_udp_port()
    hook = Hook()
    try:
        body = (f'upstream "noc" {{ target = "udp:127.0.0.1:{dead}"  snmp = "v2c"  '
                f'community = "s3cretcommunity"  inform = true  timeout = "300ms"  retries = 0  '
                f'heartbeat = "1s" }}\n'
                f'webhook "psa" {{ url = "http://127.0.0.1:{hook.port}/"  '
                f'headers = {{ "X-Token: t0psecret" }} }}\n')
        with Daemon(tmp_path, body=body) as d:
            def failing():
                s = d.get("/api/v1/notifications")
                up = [x for x in s["destinations"] if x["kind"] == "upstream"][0]
                return s if up["failing_for"] >= 2 and up["waiting"] >= 2 else None
            s = d.wait_for(failing, 30, "the upstream to be failing")
            up, wh = s["destinations"]
            assert (up["kind"], up["name"], wh["kind"], wh["name"]) == \
                ("upstream", "noc", "webhook", "psa")
            assert "no acknowledgement" in up["last_error"]
            assert up["delivered"] == 0 and up["last_delivered"] is None
            assert wh["waiting"] == 0 and wh["failing_for"] == 0
            assert s["outbox"]["waiting"] >= 2 and s["outbox"]["max"] == 10000
            assert s["outbox"]["dropped"] == {"heartbeat": 0, "state_change": 0,
                                              "ticket_event": 0}
            assert re.fullmatch(r"80001f8880[0-9a-f]{16}", s["snmp"]["engine_id"])
            assert s["snmp"]["enterprise_oid"] == "1.3.6.1.4.1.8072.9999.9999"
            status, _, metrics = d.request("/metrics")
            assert status == 200
            text = metrics.decode()
            assert re.search(r'linewatch_notify_waiting\{kind="upstream",destination="noc"\} '
                             r'[1-9]', text), text
            assert 'linewatch_notify_dropped_total{class="heartbeat"} 0' in text
            for secret in ("s3cretcommunity", "t0psecret"):
                assert secret not in json.dumps(s) and secret not in text
                assert secret not in d.read_log()
    finally:
        hook.close()


def test_full_outbox_drops_heartbeats_first_and_keeps_ticket_events(tmp_path):
    svc = Service()  # closed: a ticket opens
    ups = "".join(
        f'upstream "u{i}" {{ target = "udp:127.0.0.1:{free_udp_port()}"  snmp = "v2c"  '
        f'community = "public"  inform = true  timeout = "200ms"  retries = 0  '
        f'heartbeat = "1s" }}\n' for i in range(10))
    body = link(svc) + ups + 'tickets {\n  outbox-max = 100\n}\n'
    with Daemon(tmp_path, body=body) as d:
        ref = open_ticket(d)["ref"]
        d.wait_for(lambda: d.get("/api/v1/notifications")["outbox"]["dropped"]["heartbeat"] >= 30,
                   60, "thirty heartbeats dropped")
        s = d.get("/api/v1/notifications")
        assert s["outbox"]["waiting"] <= 100
        assert s["outbox"]["dropped"]["ticket_event"] == 0
        assert sum(x["dropped"] for x in s["destinations"]) >= 30
        assert re.search(r"outbox full \(100 notifications\): dropped heartbeat #\d+ for "
                         r"upstream:u\d", d.read_log())
        # every upstream still has the ticket's opening waiting for it
        for i in range(10):
            events = [json.loads(p) for _, p in outbox_rows(d, f"upstream:u{i}")]
            assert any(e["event"] == "opened" and e["ticket"]["ref"] == ref for e in events)
    svc.close()
