"""Pages and /metrics without the lab: structure, escaping, promtool."""
import shutil
import subprocess

import pytest

from lwd import Daemon

LINK = '''
link "isp-fibre" {
    provider  = "Example <Telecom>"
    circuit   = "ABC-12345"
    support   = "+1 555 0100"
    bandwidth = "100M"
    sla       = "99.9%"
}
'''


def test_overview_lists_links_with_escaped_names(tmp_path):
    with Daemon(tmp_path, body=LINK, site='Dental <b>\\"office\\"</b>') as d:
        status, hdrs, body = d.request("/")
        assert status == 200
        page = body.decode()
        assert "isp-fibre" in page and "ABC-12345" in page
        assert "Example &lt;Telecom&gt;" in page and "<Telecom>" not in page
        assert "Dental &lt;b&gt;&quot;office&quot;&lt;/b&gt;" in page
        assert 'data-refresh="/?fragment=links"' in page
        assert "<script src=\"/static/app.js\"" in page and "<script>" not in page
        status, _, frag = d.request("/?fragment=links")
        assert status == 200 and b'id="links"' in frag and b"<html" not in frag
        status, _, body = d.request("/links/isp-fibre")
        assert status == 200 and b"Carrier support" in body and b"+1 555 0100" in body
        assert d.request("/links/nope")[0] == 404
        assert d.request("/devices/nope")[0] == 404
        assert d.request("/devices")[0] == 200


def test_metrics_pass_promtool(tmp_path):
    if shutil.which("promtool") is None:
        pytest.skip("promtool (Debian prometheus) is not installed")
    with Daemon(tmp_path, body=LINK) as d:
        status, hdrs, body = d.request("/metrics")
        assert status == 200
        assert hdrs["Content-Type"].startswith("text/plain; version=0.0.4")
        text = body.decode()
        assert 'linewatch_link_sla_ratio{link="isp-fibre",provider="Example <Telecom>"' in text
        assert "linewatch_process_resident_memory_bytes" in text
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_graph_parameters_are_whitelisted(tmp_path):
    with Daemon(tmp_path, body=LINK) as d:
        for path in ["/graph/probe/isp-fibre/x/loss.png?range=1d;rm",
                     "/graph/probe/isp-fibre/x/loss.png?w=99999",
                     "/graph/probe/isp-fibre/x/loss.png?start=abc",
                     "/graph/probe/isp-fibre/x/DEF:x.png",
                     "/graph/probe/nolink/x/loss.png",
                     "/graph/interface/..%2F..%2Fetc/passwd/traffic.png",
                     "/graph/probe/isp-fibre/x/loss.svg",
                     "/graph/probe/isp-fibre/x/loss.png?range=COMMENT:x"]:
            status, _, body = d.request(path)
            assert status in (400, 404), path
            assert b"error" in body
        assert d.get("/api/v1/health")["status"] == "ok"


def test_sla_report_page(tmp_path):
    with Daemon(tmp_path, body=LINK) as d:
        status, _, body = d.request("/sla?month=2026-01")
        page = body.decode()
        assert status == 200 and "Availability report 2026-01" in page
        assert "isp-fibre" in page and "ABC-12345" in page
        assert "100.000 %" in page and "No incident this month" in page
        assert 'href="/static/print.css" media="print"' in page
        status, _, body = d.request("/sla?month=bogus")
        assert status == 200 and b"month must be YYYY-MM" in body
        api = d.get("/api/v1/links/isp-fibre/sla?month=2026-01")
        assert api["availability_pct"] == 100.0 and api["incidents"] == []
