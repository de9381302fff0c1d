"""Real headless Chromium against the real daemon polling the lab.

Screenshots of each page land in tests/out/screenshots/ for inspection.
"""
import os

import pytest

from browser import Browser, available
from lab import Lab
from lwd import REPO, Daemon, LINEWATCHD
import subprocess

SHOTS = os.path.join(REPO, "tests", "out", "screenshots")

CONFIG = f'''
device "edge-router" {{
    address = "{Lab.RTR}"  snmp = "v2c"  community = "public"  interval = "2s"
    interfaces = {{ "Gi1/0/1", "Gi1/0/2" }}
}}
device "hostile" {{
    address = "{Lab.RTR}"  snmp = "v2c"  community = "xss"  interval = "2s"
}}
link "isp-fibre" {{
    provider = "Example Telecom"  circuit = "ABC-12345"  support = "+1 555 0100"
    device = "edge-router"  interface = "Gi1/0/1"  bandwidth = "100M"  sla = "99.9%"
    probe "isp-gateway" {{ type = "tcp"  target = "{Lab.INET}:80"  interval = "2s"  hop = "isp" }}
}}
'''


@pytest.fixture
def browser_env(lab, tmp_path):
    why = available()
    if why:
        pytest.skip(why)
    h = subprocess.run([LINEWATCHD, "--hash-password"], input="tech-password-1\n",
                       capture_output=True, text=True, timeout=60).stdout.strip()
    body = CONFIG + f'web-user "tech" {{ hash = "{h}" }}\n'
    d = Daemon(tmp_path, body=body, netns=lab.ns("app"),
               extra_top="")
    # public pages: the technician logs in only to act
    text = open(d.conf).read().replace("http {\n", 'http {\n    public-status = "yes"\n')
    open(d.conf, "w").write(text)
    d.start()
    yield d
    d.__exit__(None, None, None)


def test_pages_render_and_hostile_strings_stay_text(lab, browser_env):
    d = browser_env
    d.wait_for(lambda: any(x["state"] == "ok" for x in d.get("/api/v1/devices")["devices"]
                           if x["name"] == "hostile"), timeout=30, what="hostile agent polled")
    base = d.url("")
    with Browser(lab, "app", SHOTS) as b:
        b.get(base + "/")
        assert "isp-fibre" in b.text() and "Example Telecom" in b.text()
        b.shot("overview")
        b.get(base + "/devices/hostile")
        assert not b.alerts_fired()
        body = b.text()
        assert "<script>alert(1)</script>" in body          # shown as text ...
        assert '"><img src=x onerror=alert(1)>' in body
        imgs = b.driver.find_elements("css selector", "img[src=x]")
        assert imgs == []                                    # ... never as markup
        scripts = [s.get_attribute("src") for s in b.driver.find_elements("tag name", "script")]
        assert all(s.endswith("/static/app.js") for s in scripts), scripts
        b.shot("device-hostile")
        b.get(base + "/devices/edge-router")
        assert "Gi1/0/1" in b.text() and "ISP fibre ABC-12345" in b.text()
        b.shot("device")
        b.get(base + "/links/isp-fibre")
        assert "+1 555 0100" in b.text() and "ABC-12345" in b.text()
        b.shot("link")


def test_login_by_clicking(lab, browser_env):
    d = browser_env
    base = d.url("")
    with Browser(lab, "app", SHOTS) as b:
        b.get(base + "/login")
        b.driver.find_element("name", "user").send_keys("tech")
        b.driver.find_element("name", "password").send_keys("wrong-password")
        b.driver.find_element("css selector", "form.login button").click()
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(b.driver, 30).until(lambda drv: "Wrong user or password" in
                                          drv.find_element("tag name", "body").text)
        b.driver.find_element("name", "user").clear()
        b.driver.find_element("name", "user").send_keys("tech")
        b.driver.find_element("name", "password").send_keys("tech-password-1")
        b.driver.find_element("css selector", "form.login button").click()
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(b.driver, 30).until(lambda drv: drv.get_cookie("lw_session"))
        b.get(base + "/")
        assert "Log out" in b.text() and "tech" in b.text()
        cookie = b.driver.get_cookie("lw_session")
        assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Strict"
        b.shot("logged-in")
        b.driver.find_element("css selector", "header form button").click()
        # the logout's answer clears the cookie: wait for it before the next page
        WebDriverWait(b.driver, 30).until(lambda drv: not drv.get_cookie("lw_session"))
        b.get(base + "/")
        assert "Log in" in b.text()


TICKET_CONFIG = f'''
device "edge-router" {{
    address = "{Lab.RTR}"  snmp = "v2c"  community = "public"  interval = "1s"
    timeout = "500ms"  retries = 1  interfaces = {{ "Gi1/0/1" }}
}}
link "isp-fibre" {{
    provider = "Example Telecom"  circuit = "ABC-12345"  support = "+1 555 0100"
    device = "edge-router"  interface = "Gi1/0/1"  bandwidth = "100M"  sla = "99.9%"
    probe "gateway" {{ type = "icmp"  target = "{Lab.ISP}"  hop = "gateway"  interval = "2s"
                      count = "10"  spacing = "50ms" }}
    degraded {{ loss = "5%"  for = 2  clear = 2  errors = 1000 }}
}}
'''


def test_ticket_from_injected_loss_is_acknowledged_by_clicking(lab, tmp_path):
    why = available()
    if why:
        pytest.skip(why)
    h = subprocess.run([LINEWATCHD, "--hash-password"], input="tech-password-1\n",
                       capture_output=True, text=True, timeout=60).stdout.strip()
    d = Daemon(tmp_path, body=TICKET_CONFIG + f'web-user "tech" {{ hash = "{h}" }}\n',
               netns=lab.ns("app"))
    text = open(d.conf).read().replace("http {\n", 'http {\n    public-status = "yes"\n')
    open(d.conf, "w").write(text)
    with d:
        lab.impair("wan", "loss", 60)
        t = d.wait_for(lambda: [x for x in d.get("/api/v1/tickets?state=open")["tickets"]
                                if x["kind"] == "loss"], timeout=60, what="a loss ticket")[0]
        ref = t["ref"]
        base = d.url("")
        from selenium.webdriver.support.ui import WebDriverWait
        with Browser(lab, "app", SHOTS) as b:
            b.get(base + "/")
            assert ref in b.text()
            b.shot("overview-ticket")
            # Logged out: no buttons, and a forged POST is refused.
            b.get(base + f"/tickets/{ref}")
            assert "Log in to acknowledge" in b.text()
            assert b.driver.find_elements("css selector", "form.action") == []
            b.shot("ticket-logged-out")
            b.get(base + "/login?next=/tickets/" + ref)
            b.driver.find_element("name", "user").send_keys("tech")
            b.driver.find_element("name", "password").send_keys("tech-password-1")
            b.driver.find_element("css selector", "form.login button").click()
            WebDriverWait(b.driver, 30).until(lambda drv: drv.get_cookie("lw_session"))
            b.get(base + f"/tickets/{ref}")
            b.driver.find_element("css selector", "button[value=ack]").click()
            WebDriverWait(b.driver, 30).until(
                lambda drv: "Acknowledged by" in drv.find_element("tag name", "body").text)
            assert "tech" in b.text()
            box = b.driver.find_element("name", "text")
            box.send_keys("Called Example Telecom, carrier ticket 4711")
            b.driver.find_element("css selector", "button[value=comment]").click()
            WebDriverWait(b.driver, 30).until(
                lambda drv: "carrier ticket 4711" in drv.find_element("tag name", "body").text)
            b.shot("ticket-acknowledged")
        api = d.get(f"/api/v1/tickets/{ref}")
        assert api["state"] == "acknowledged" and api["acknowledged_by"] == "tech"
        assert any(e["type"] == "comment" and e["who"] == "tech" for e in api["events"])
        lab.clear("wan")
