"""`make demo`'s script: lab up, daemon on it answering, Ctrl-C leaves nothing."""
import json
import os
import signal
import subprocess
import urllib.request

import pytest

from lwd import BUILD, REPO, wait_for


def test_demo_starts_and_tears_down():
    if os.geteuid() != 0:
        pytest.skip("the demo needs root")
    prefix = "lwdt%x" % (os.getpid() % 0xfffff)
    env = dict(os.environ, LW_LAB_PREFIX=prefix)
    log = open(f"/tmp/lw-demo-test-{prefix}.log", "w")
    p = subprocess.Popen(["bash", os.path.join(REPO, "tests/lab/demo.sh"),
                          os.path.basename(BUILD)], env=env, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        def health():
            assert p.poll() is None, open(log.name).read()[-3000:]
            with opener.open("http://198.19.255.2:8080/api/v1/health", timeout=2) as r:
                return json.load(r)
        h = wait_for(health, timeout=90, what="the demo's health endpoint")
        assert h["status"] == "ok" and h["site"].startswith("Demo")
        wait_for(lambda: "http://198.19.255.2:8080/" in open(log.name).read(), timeout=30,
                 what="the demo to print its URL")

        def polled():
            with opener.open("http://198.19.255.2:8080/api/v1/devices", timeout=2) as r:
                devs = {d["name"]: d for d in json.load(r)["devices"]}
            return devs["edge-router"]["state"] == "ok"
        wait_for(polled, timeout=60, what="the demo router to be polled")
    finally:
        os.killpg(p.pid, signal.SIGINT)
        rc = p.wait(timeout=60)
        log.close()
    out = open(log.name).read()
    assert "tearing down" in out, out[-2000:]
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert prefix not in left
    assert rc in (0, 130), out[-2000:]
