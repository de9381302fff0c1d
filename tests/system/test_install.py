"""`make install` into a DESTDIR: FHS places, config never overwritten."""
import os
import subprocess

from lwd import REPO


def make_install(dest):
    return subprocess.run(["make", "-s", "--no-print-directory", "install", f"DESTDIR={dest}",
                           "PREFIX=/usr/local"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_make_install_destdir(tmp_path):
    dest = tmp_path / "root"
    r = make_install(dest)
    assert r.returncode == 0, r.stdout + r.stderr
    for p in ["usr/local/sbin/linewatchd", "usr/local/bin/linewatchctl",
              "etc/linewatch/linewatch.conf", "lib/systemd/system/linewatch.service",
              "usr/local/share/linewatch/web", "usr/local/lib/linewatch/plugins"]:
        assert (dest / p).exists(), p
    assert oct((dest / "var/lib/linewatch").stat().st_mode & 0o777) == "0o750"
    assert os.access(dest / "usr/local/sbin/linewatchd", os.X_OK)
    # A second install keeps the administrator's edited config.
    conf = dest / "etc/linewatch/linewatch.conf"
    conf.write_text(conf.read_text() + "\n# edited by the admin\n")
    r = make_install(dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "edited by the admin" in conf.read_text()
    assert (dest / "etc/linewatch/linewatch.conf.dist").exists()
    # The installed daemon accepts the installed config.
    r = subprocess.run([str(dest / "usr/local/sbin/linewatchd"), "-t", "-c", str(conf)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "configuration OK" in r.stdout, r.stderr


def test_unit_file_is_hardened():
    text = open(os.path.join(REPO, "etc/linewatch.service")).read()
    for key in ["ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes",
                "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN", "ExecReload="]:
        assert key in text, key
    if subprocess.run(["which", "systemd-analyze"], capture_output=True).returncode == 0:
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            os.path.join(REPO, "etc/linewatch.service")],
                           capture_output=True, text=True)
        # verify complains about the binary path not existing on a build box; that's all.
        bad = [l for l in r.stderr.splitlines()
               if l and "linewatchd" not in l and "Command" not in l]
        assert not bad, r.stderr
