"""Login, sessions, CSRF, rate limiting, static files and traversal refusal."""
import http.client
import subprocess
import urllib.parse

import pytest

from lwd import LINEWATCHD, Daemon


def make_hash(pw):
    r = subprocess.run([LINEWATCHD, "--hash-password"], input=pw + "\n", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture(scope="module")
def tech_hash():
    return make_hash("s3cret-password")


def raw(d, method, path, body=None, headers=None):
    c = http.client.HTTPConnection(d.host, d.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    hdrs = r.getheaders()
    c.close()
    return r.status, hdrs, data


def header(hdrs, name):
    return [v for k, v in hdrs if k.lower() == name.lower()]


def login(d, user, pw):
    body = urllib.parse.urlencode({"user": user, "password": pw, "next": "/tickets"})
    return raw(d, "POST", "/login", body,
               {"Content-Type": "application/x-www-form-urlencoded"})


def test_login_sets_safe_cookie_and_logout_needs_csrf(tmp_path, tech_hash):
    body = f'web-user "tech" {{ hash = "{tech_hash}" }}\n'
    with Daemon(tmp_path, body=body) as d:
        status, hdrs, page = raw(d, "GET", "/login")
        assert status == 200 and b"<form" in page
        status, hdrs, _ = login(d, "tech", "wrong")
        assert status == 401
        assert not header(hdrs, "Set-Cookie")
        status, hdrs, _ = login(d, "tech", "s3cret-password")
        assert status == 303, hdrs
        assert header(hdrs, "Location") == ["/tickets"]
        cookie = header(hdrs, "Set-Cookie")[0]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP here; Secure under TLS
        token = cookie.split(";")[0]
        # The login page (any page) of a logged-in user carries the CSRF token.
        status, hdrs, page = raw(d, "GET", "/login", headers={"Cookie": token})
        assert b'name="csrf-token"' in page and b"tech" in page
        csrf = page.split(b'name="csrf-token" content="')[1].split(b'"')[0].decode()
        # Logout without the token does not end the session.
        raw(d, "POST", "/logout", "", {"Cookie": token,
                                        "Content-Type": "application/x-www-form-urlencoded"})
        status, hdrs, page = raw(d, "GET", "/login", headers={"Cookie": token})
        assert b'name="csrf-token"' in page
        raw(d, "POST", "/logout", urllib.parse.urlencode({"csrf": csrf}),
            {"Cookie": token, "Content-Type": "application/x-www-form-urlencoded"})
        status, hdrs, page = raw(d, "GET", "/login", headers={"Cookie": token})
        assert b'name="csrf-token"' not in page
        log = d.read_log()
        assert 'login failed for user "tech"' in log
        assert "s3cret-password" not in log


def test_failed_logins_are_rate_limited(tmp_path, tech_hash):
    body = f'web-user "tech" {{ hash = "{tech_hash}" }}\n'
    with Daemon(tmp_path, body=body) as d:
        codes = [login(d, "tech", f"bad{i}")[0] for i in range(5)]
        assert codes == [401] * 5
        status, hdrs, _ = login(d, "tech", "s3cret-password")
        assert status == 429
        assert header(hdrs, "Retry-After")
        assert "refused" in d.read_log()


def test_no_users_page_says_how_to_add_one(tmp_path):
    with Daemon(tmp_path) as d:
        status, _, page = raw(d, "GET", "/login")
        assert b"--hash-password" in page and b"web-user" in page


def test_static_files_and_traversal(tmp_path):
    with Daemon(tmp_path) as d:
        status, hdrs, body = raw(d, "GET", "/static/style.css")
        assert status == 200 and header(hdrs, "Content-Type")[0].startswith("text/css")
        assert header(hdrs, "X-Content-Type-Options") == ["nosniff"]
        for path in ["/static/../daemon/main.c", "/static/..%2f..%2fMakefile",
                     "/static/%2e%2e/%2e%2e/etc/passwd", "/static/%2E%2E%2F%2E%2E%2FMakefile",
                     "/static/./style.css", "/static//etc/passwd", "/static/..\\Makefile",
                     "/static/%00style.css", "/static/style.css%00.png",
                     "/static/....//Makefile", "/static/"]:
            status, _, body = raw(d, "GET", path)
            assert status == 404, path
            assert b"#include" not in body and b"root:" not in body
        status, _, _ = raw(d, "POST", "/static/style.css", "")
        assert status in (404, 405)


def test_security_headers_and_limits(tmp_path):
    with Daemon(tmp_path) as d:
        status, hdrs, _ = raw(d, "GET", "/login")
        csp = header(hdrs, "Content-Security-Policy")[0]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert header(hdrs, "X-Content-Type-Options") == ["nosniff"]
        # Oversized header and body are refused, and the daemon keeps serving.
        status, _, _ = raw(d, "GET", "/api/v1/health", headers={"X-Big": "a" * 20000})
        assert status in (400, 413, 431)
        status, _, _ = raw(d, "POST", "/login", "a" * 100000,
                           {"Content-Type": "application/x-www-form-urlencoded"})
        assert status in (400, 413)
        status, _, _ = raw(d, "PUT", "/api/v1/health", "x")
        assert status in (405, 501)
        assert d.get("/api/v1/health")["status"] == "ok"


def test_tls_listener_and_secure_cookie(tmp_path, tech_hash):
    import ssl
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    d = Daemon(tmp_path, body=f'web-user "tech" {{ hash = "{tech_hash}" }}\n')
    text = open(d.conf).read().replace(
        "http {\n", f'http {{\n    tls-cert = "{cert}"\n    tls-key = "{key}"\n')
    open(d.conf, "w").write(text)
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False

    def https(method, path, body=None, headers=None):
        c = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=30, context=ctx)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        out = (r.status, r.getheaders(), r.read())
        c.close()
        return out

    d.start(wait=False)
    try:
        from lwd import wait_for
        wait_for(lambda: d.alive_or_raise() and https("GET", "/api/v1/health")[0] == 200, 60,
                 "HTTPS health")
        body = urllib.parse.urlencode({"user": "tech", "password": "s3cret-password"})
        status, hdrs, _ = https("POST", "/login", body,
                                {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303
        assert "Secure" in header(hdrs, "Set-Cookie")[0]
        # Plain HTTP on the TLS port gets nothing useful.
        try:
            st, _, _ = raw(d, "GET", "/api/v1/health")
            assert st != 200
        except (http.client.HTTPException, ConnectionError, OSError):
            pass
    finally:
        assert d.stop() == 0


def test_bad_tls_key_is_a_clear_startup_error(tmp_path):
    d = Daemon(tmp_path)
    text = open(d.conf).read().replace(
        "http {\n", 'http {\n    tls-cert = "/nonexistent/cert.pem"\n    tls-key = "/nonexistent/key.pem"\n')
    open(d.conf, "w").write(text)
    r = subprocess.run(d.cmd(), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "tls-cert /nonexistent/cert.pem" in r.stderr


def test_ticket_api_writes_need_session_and_csrf(tmp_path, tech_hash):
    """With users configured, a POST needs the session and its CSRF token; the
    local command-line client (loopback + X-Linewatch-Client) is let in."""
    import json as _json
    body = f'web-user "tech" {{ hash = "{tech_hash}" }}\n'
    with Daemon(tmp_path, body=body) as d:
        hdr = {"Content-Type": "application/json"}
        status, _, out = raw(d, "POST", "/api/v1/tickets/LW-000001/ack", "{}", hdr)
        assert status == 401, out
        status, hdrs, _ = login(d, "tech", "s3cret-password")
        token = header(hdrs, "Set-Cookie")[0].split(";")[0]
        status, _, out = raw(d, "POST", "/api/v1/tickets/LW-000001/ack", "{}",
                             dict(hdr, Cookie=token))
        assert status == 403 and b"CSRF" in out
        page = raw(d, "GET", "/login", headers={"Cookie": token})[2]
        csrf = page.split(b'name="csrf-token" content="')[1].split(b'"')[0].decode()
        status, _, out = raw(d, "POST", "/api/v1/tickets/LW-000001/ack", "{}",
                             dict(hdr, Cookie=token, **{"X-CSRF-Token": csrf}))
        assert status == 404, out  # authorised: the ticket just does not exist
        status, _, out = raw(d, "POST", "/api/v1/tickets/LW-000001/ack", "{}",
                             dict(hdr, **{"X-Linewatch-Client": "test"}))
        assert status == 404, out
        assert _json.loads(out)["error"]


def test_api_reads_need_login_when_not_public(tmp_path, tech_hash):
    body = f'web-user "tech" {{ hash = "{tech_hash}" }}\n'
    d = Daemon(tmp_path, body=body)
    text = open(d.conf).read().replace("http {\n", 'http {\n    public-status = "no"\n')
    open(d.conf, "w").write(text)
    with d:
        for path in ["/api/v1/links", "/api/v1/devices", "/api/v1/probes", "/api/v1/tickets",
                     "/", "/tickets", "/metrics"]:
            assert raw(d, "GET", path)[0] == 401, path
        assert raw(d, "GET", "/api/v1/health")[0] == 200  # liveness stays open
        status, hdrs, _ = login(d, "tech", "s3cret-password")
        token = header(hdrs, "Set-Cookie")[0].split(";")[0]
        for path in ["/api/v1/links", "/api/v1/devices", "/api/v1/tickets", "/", "/metrics"]:
            assert raw(d, "GET", path, headers={"Cookie": token})[0] == 200, path
