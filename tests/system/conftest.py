"""Shared pytest fixtures for the system tests.

    repo         absolute path of the repository root
    shared       absolute path of ../shared (may not exist: skip what needs it)
    lab_session  the lab network (tests/lab), up once per pytest session
    lab          the same Lab, but every impairment / link-down / snmp_set a
                 test made through it is undone after the test

The lab gets a unique, short namespace prefix "lwp<pid base36>" (a second lab
a test starts itself: lab.lab_prefix("q")) so parallel runs do not collide; it is always torn down (fixture finalizer, atexit and
SIGTERM), and labs left by killed runs (their pid is gone) are reaped first.
Tests that use the lab are skipped, with the reason, when not run as root or
when a required tool is missing.
"""
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import REPO, Lab, lab_prefix  # noqa: E402

LAB_TOOLS = ("ip", "nft", "tc", "snmpsimd", "snmpd", "snmptrapd", "snmpget", "snmpset",
             "snmptrap", "dnsmasq", "ping")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale_labs():
    """Tear down labs of earlier test runs whose pytest process is gone
    (prefixes lwp<pid> and lwq<pid>, pid in base 36) and drop their run dirs."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    prefixes = set()
    for line in out.splitlines():
        m = re.match(r"(lw[pq][0-9a-z]+)-(app|rtr|isp|inet|lan)\b", line)
        if m:
            prefixes.add(m.group(1))
    for d in os.listdir("/tmp"):
        m = re.fullmatch(r"lw-lab-(lw[pq][0-9a-z]+)", d)
        if m:
            prefixes.add(m.group(1))
    for p in sorted(prefixes):
        if not _pid_alive(int(p[3:], 36)):
            Lab(p).down()
            shutil.rmtree(f"/tmp/lw-lab-{p}", ignore_errors=True)


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def shared(repo):
    return os.path.normpath(os.path.join(repo, "..", "shared"))


@pytest.fixture(scope="session")
def lab_session(request, shared):
    if os.geteuid() != 0:
        pytest.skip("the lab network needs root (network namespaces, nftables)")
    missing = [t for t in LAB_TOOLS if not shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin")]
    if missing:
        pytest.skip("lab tools missing: " + ", ".join(missing) + " (run `make deps`)")
    _reap_stale_labs()
    lab = Lab(lab_prefix("p"), shared=shared)

    done = []

    def teardown():
        if done:
            return
        done.append(1)
        lab.down()
        failed = request.session.testsfailed if hasattr(request, "session") else 1
        if not failed and not os.environ.get("LW_LAB_KEEP"):
            shutil.rmtree(lab.dir, ignore_errors=True)
        elif os.path.isdir(lab.dir):
            sys.stderr.write(f"\nlab logs kept in {lab.dir}\n")

    request.addfinalizer(teardown)  # registered before up(): a failed up is torn down too
    atexit.register(teardown)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        def on_term(signum, frame):
            # KeyboardInterrupt makes pytest stop the session (not just fail
            # the running test); the lab goes down first, whatever happens.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            teardown()
            raise KeyboardInterrupt(f"signal {signum}")
        signal.signal(signal.SIGTERM, on_term)
    lab.up()
    return lab


@pytest.fixture
def lab(lab_session):
    yield lab_session
    lab_session.reset()
