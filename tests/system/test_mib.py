"""LINEWATCH-MIB: clean SMIv2, every notification resolves by name, and the
daemon's default enterprise OID is the MIB's root.

The IETF base MIBs come from ../shared/mibs (never installed or shipped)."""
import os
import re
import shutil

import pytest

from lwd import REPO, run

MIB = os.path.join(REPO, "etc/mibs/LINEWATCH-MIB.txt")
SHARED_MIBS = os.path.join(os.path.dirname(REPO), "shared", "mibs")
NOTIFICATIONS = ["lwTicketOpened", "lwTicketUpdated", "lwTicketResolved",
                 "lwLinkStateChanged", "lwHeartbeat"]
ROOT = "1.3.6.1.4.1.8072.9999.9999"


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (make deps)")
    if not os.path.isdir(SHARED_MIBS):
        pytest.skip(f"{SHARED_MIBS} (the IETF base MIBs) is not there")


def translate(*args):
    env = dict(os.environ, MIBDIRS=f"+{SHARED_MIBS}:{REPO}/etc/mibs")
    return run(["snmptranslate", "-m", "+LINEWATCH-MIB"] + list(args), env=env)


def test_smilint_level4_is_clean():
    need("smilint")
    r = run(["smilint", "-l", "4", MIB], env=dict(os.environ, SMIPATH=SHARED_MIBS))
    # smilint exits 0 even with errors: its output is the verdict
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


def test_smilint_sees_the_objects():
    need("smilint")
    r = run(["smidump", "-f", "identifiers", MIB], env=dict(os.environ, SMIPATH=SHARED_MIBS))
    if r.returncode != 0:
        pytest.skip("smidump unavailable: " + r.stderr)
    for name in NOTIFICATIONS + ["lwTicketRef", "lwLoss", "lwLatency", "lwHeartbeatInterval"]:
        assert re.search(rf"\b{name}\b", r.stdout), name


@pytest.mark.parametrize("index,name", list(enumerate(NOTIFICATIONS, start=1)))
def test_every_notification_resolves(index, name):
    need("snmptranslate")
    r = translate("-On", f"LINEWATCH-MIB::{name}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f".{ROOT}.0.{index}"
    back = translate(f".{ROOT}.0.{index}")
    assert back.stdout.strip() == f"LINEWATCH-MIB::{name}", back.stdout + back.stderr


def test_objects_carry_units_and_types():
    need("snmptranslate")
    r = translate("-Td", "LINEWATCH-MIB::lwLoss")
    assert "Gauge32" in r.stdout and 'UNITS\t\t"percent"' in r.stdout, r.stdout
    assert "accessible-for-notify" in r.stdout
    r = translate("-Td", "LINEWATCH-MIB::lwLatency")
    assert 'DISPLAY-HINT\t"d-3"' in r.stdout and '"milliseconds"' in r.stdout, r.stdout


def test_daemon_default_root_matches_the_mib():
    with open(os.path.join(REPO, "daemon/trap.h")) as f:
        header = f.read()
    m = re.search(r'#define TRAP_DEFAULT_ENTERPRISE "([0-9.]+)"', header)
    assert m and m.group(1) == ROOT
    with open(MIB) as f:
        assert "::= { enterprises 8072 9999 9999 }" in f.read()
