"""Python driver for the linewatch lab network (tests/lab/lab.sh).

    from lab import Lab, wait_for
    lab = Lab("lwx1")              # namespaces lwx1-app, lwx1-rtr, ...
    lab.up()
    try:
        lab.snmp_get(Lab.OID["sysDescr"])            # from the app namespace
        lab.impair("wan", "loss", 30)
        lab.ping("app", Lab.INET, count=200, interval=0.005)["loss"]
        lab.clear("wan")
    finally:
        lab.down()

Everything runs through lab.sh, so the shell and Python views never differ.
Tests poll with wait_for(); never sleep to synchronise.  See tests/lab/README.md
for the topology, the addresses and the simulated agents.
"""
import contextlib
import ctypes
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_SH = os.path.join(REPO, "tests", "lab", "lab.sh")

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def wait_for(predicate, timeout=10.0, what="condition", interval=0.1):
    """Poll predicate() until it returns something truthy and return that.

    Exceptions raised by predicate count as "not yet"; on timeout an
    AssertionError names `what` and the last exception or value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = predicate()
            if v:
                return v
            last = v
        except Exception as e:  # noqa: BLE001 - keep polling, report it
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def lab_prefix(kind="p", pid=None):
    """Short unique namespace prefix "lw<kind><pid in base 36>" for a lab
    owned by this process (conftest reaps those whose pid is gone)."""
    n = os.getpid() if pid is None else pid
    s = ""
    while True:
        n, r = divmod(n, 36)
        s = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + s
        if not n:
            return f"lw{kind}{s}"


class LabError(RuntimeError):
    pass


class Lab:
    # ------------------------------------------------------------ topology
    HOSTS = ("app", "rtr", "isp", "inet", "lan")
    LINKS = ("app", "wan", "lan", "core")
    # link -> (near namespace, far namespace).  Impairments act on the near
    # end's egress; "link down" takes the far end administratively down.
    LINK_ENDS = {"app": ("rtr", "app"), "wan": ("rtr", "isp"),
                 "lan": ("rtr", "lan"), "core": ("isp", "inet")}

    APP = "198.18.0.1"        # appliance (linewatchd, snmptrapd), iface "app"
    RTR = "198.18.0.2"        # router, app side: simulated SNMP agent udp/161, snmpd udp/1161
    RTR_WAN = "198.18.1.2"    # router WAN
    ISP = "198.18.1.1"        # ISP gateway (first hop beyond the router)
    ISP_CORE = "198.18.2.1"   # ISP, towards the internet host
    INET = "198.18.2.2"       # far "internet" host: DNS udp/53, HTTP tcp/80
    RTR_LAN = "198.18.3.1"    # router LAN
    LAN = "198.18.3.2"        # LAN host
    UPS = "198.18.3.3"        # UPS (simulated SNMP agent udp/161), on the LAN host
    NETWORK = "198.18.0.0/15"

    SNMP_PORT = 161
    RTR_SNMPD_PORT = 1161     # net-snmp snmpd of the router's host OS (real ifTable)
    TRAP_PORT = 162           # snmptrapd on APP
    TRAP_LOCAL = ("127.0.0.1", 1162)  # snmptrapd inside the app namespace
    HTTP_PORT = 80
    DNS_PORT = 53
    CLOSED_TCP_PORT = 81      # nothing listens there on INET (RST)
    DNS_NAMES = {"inet.lab.test": INET, "www.lab.test": INET, "isp-gw.lab.test": ISP,
                 "rtr.lab.test": RTR, "ups.lab.test": UPS}

    # ---------------------------------------------------------- credentials
    COMMUNITY = "public"
    XSS_COMMUNITY = "xss"     # router recording with hostile strings
    XSS_SYSDESCR = "<script>alert(1)</script>"
    XSS_IFALIAS = '"><img src=x onerror=alert(1)>'
    V3_USER = "lwv3"
    V3_AUTH_PROTO, V3_AUTH_KEY = "SHA", "authpass123"
    V3_PRIV_PROTO, V3_PRIV_KEY = "AES", "privpass123"
    RTR_ENGINE_ID = "80001f88046c772d727472"  # snmpsimd router ("lw-rtr")
    UPS_ENGINE_ID = "80001f88046c772d757073"  # snmpsimd UPS ("lw-ups")
    TRAP_V3_USER = "lwtrap"   # same keys and protocols as V3_USER
    TRAP_V3_ENGINE_ID = "0x8000000001020304"  # sender engine ID for v3 *traps*

    # ------------------------------------------------------------------ OIDs
    OID = {
        "sysDescr": "1.3.6.1.2.1.1.1.0", "sysObjectID": "1.3.6.1.2.1.1.2.0",
        "sysUpTime": "1.3.6.1.2.1.1.3.0", "sysContact": "1.3.6.1.2.1.1.4.0",
        "sysName": "1.3.6.1.2.1.1.5.0", "sysLocation": "1.3.6.1.2.1.1.6.0",
        "ifNumber": "1.3.6.1.2.1.2.1.0",
        "ifIndex": "1.3.6.1.2.1.2.2.1.1", "ifDescr": "1.3.6.1.2.1.2.2.1.2",
        "ifType": "1.3.6.1.2.1.2.2.1.3", "ifMtu": "1.3.6.1.2.1.2.2.1.4",
        "ifSpeed": "1.3.6.1.2.1.2.2.1.5", "ifPhysAddress": "1.3.6.1.2.1.2.2.1.6",
        "ifAdminStatus": "1.3.6.1.2.1.2.2.1.7", "ifOperStatus": "1.3.6.1.2.1.2.2.1.8",
        "ifLastChange": "1.3.6.1.2.1.2.2.1.9", "ifInOctets": "1.3.6.1.2.1.2.2.1.10",
        "ifInUcastPkts": "1.3.6.1.2.1.2.2.1.11", "ifInDiscards": "1.3.6.1.2.1.2.2.1.13",
        "ifInErrors": "1.3.6.1.2.1.2.2.1.14", "ifOutOctets": "1.3.6.1.2.1.2.2.1.16",
        "ifOutUcastPkts": "1.3.6.1.2.1.2.2.1.17", "ifOutDiscards": "1.3.6.1.2.1.2.2.1.19",
        "ifOutErrors": "1.3.6.1.2.1.2.2.1.20",
        "ifName": "1.3.6.1.2.1.31.1.1.1.1", "ifHCInOctets": "1.3.6.1.2.1.31.1.1.1.6",
        "ifHCInUcastPkts": "1.3.6.1.2.1.31.1.1.1.7", "ifHCOutOctets": "1.3.6.1.2.1.31.1.1.1.10",
        "ifHCOutUcastPkts": "1.3.6.1.2.1.31.1.1.1.11", "ifHighSpeed": "1.3.6.1.2.1.31.1.1.1.15",
        "ifAlias": "1.3.6.1.2.1.31.1.1.1.18",
        "upsBatteryStatus": "1.3.6.1.2.1.33.1.2.1.0",
        "upsSecondsOnBattery": "1.3.6.1.2.1.33.1.2.2.0",
        "upsEstimatedMinutesRemaining": "1.3.6.1.2.1.33.1.2.3.0",
        "upsEstimatedChargeRemaining": "1.3.6.1.2.1.33.1.2.4.0",
        "upsOutputSource": "1.3.6.1.2.1.33.1.4.1.0",
        "upsOutputPercentLoad": "1.3.6.1.2.1.33.1.4.4.1.5.1",
        "upsAlarmsPresent": "1.3.6.1.2.1.33.1.6.1.0",
        "snmpTrapOID": "1.3.6.1.6.3.1.1.4.1.0",
        "linkDown": "1.3.6.1.6.3.1.1.5.3", "linkUp": "1.3.6.1.6.3.1.1.5.4",
        "coldStart": "1.3.6.1.6.3.1.1.5.1",
    }

    # ------------------------------------------- simulated router interfaces
    # ifIndex -> (ifName, ifDescr, ifAlias, ifSpeed, ifHighSpeed, admin, oper)
    IFACES = {
        1: ("Gi1/0/1", "GigabitEthernet1/0/1", "ISP fibre ABC-12345", 100000000, 100, 1, 1),
        2: ("Gi1/0/2", "GigabitEthernet1/0/2", "LAN office switch", 1000000000, 1000, 1, 1),
        5: ("Te1/1/1", "TenGigabitEthernet1/1/1", "spare uplink (shut)", 4294967295, 10000, 2, 2),
        20: ("Lo0", "Loopback0", "router-id", 0, 0, 1, 1),
    }
    IF_WAN, IF_LAN, IF_SPARE, IF_LO = 1, 2, 5, 20
    LINK_IFINDEX = {"wan": 1, "lan": 2}   # lab.sh link <l> down flips these

    # Known constant rates (units per second) of the router recording, keyed
    # "<object>.<ifIndex>".  Counters restart from their initial values when
    # the agent (re)starts.  Objects not listed are constant.
    RATES = {
        "sysUpTime.0": 100,  # TimeTicks
        "ifHCInOctets.1": 1250000, "ifHCOutOctets.1": 250000,
        "ifInOctets.1": 1250000, "ifOutOctets.1": 250000,
        "ifHCInUcastPkts.1": 1250, "ifHCOutUcastPkts.1": 250,
        "ifInUcastPkts.1": 1250, "ifOutUcastPkts.1": 250,
        "ifInErrors.1": 1.0, "ifInDiscards.1": 0.5,
        "ifHCInOctets.2": 250000, "ifHCOutOctets.2": 1250000,
        "ifInOctets.2": 250000, "ifOutOctets.2": 1250000,
        "ifHCInUcastPkts.2": 250, "ifHCOutUcastPkts.2": 1250,
        "ifInUcastPkts.2": 250, "ifOutUcastPkts.2": 1250,
        "ifOutDiscards.2": 0.1,
        "ifHCInOctets.20": 100, "ifHCOutOctets.20": 100,
        "ifInOctets.20": 100, "ifOutOctets.20": 100,
        "ifHCInUcastPkts.20": 1, "ifHCOutUcastPkts.20": 1,
        "ifInUcastPkts.20": 1, "ifOutUcastPkts.20": 1,
    }
    # ifInOctets.1 (32-bit) starts at 2^32-1 - 20 s * rate: it wraps 20 s after
    # each (re)start of the router agent.  snmpsim wraps modulo 2^32-1, so a
    # wrap-aware delta is off by one octet per wrap.
    IFINOCTETS_WAN_WRAP_AFTER_S = 20
    IFINOCTETS_WAN_INITIAL = 4294967295 - 20 * 1250000

    UPS_VALUES = {"upsBatteryStatus": 2, "upsEstimatedMinutesRemaining": 42,
                  "upsEstimatedChargeRemaining": 100, "upsOutputSource": 3,
                  "upsSecondsOnBattery": 0, "upsAlarmsPresent": 0}

    def __init__(self, prefix="lw", run_dir=None, shared=None):
        if not re.fullmatch(r"[a-z][a-z0-9]{0,9}", prefix):
            raise ValueError(f"bad lab prefix {prefix!r}")
        self.prefix = prefix
        self.dir = run_dir or f"/tmp/lw-lab-{prefix}"
        self.shared = shared or os.path.normpath(os.path.join(REPO, "..", "shared"))
        self.env = dict(os.environ, LW_LAB_PREFIX=prefix, LW_LAB_DIR=self.dir,
                        LW_SHARED_DIR=self.shared)
        self._dirty_links = set()
        self._dirty_agents = set()
        self.is_up = False

    # ------------------------------------------------------------ lifecycle
    def sh(self, *args, timeout=120, check=True):
        """Run `lab.sh args...`; return CompletedProcess (text)."""
        p = subprocess.run(["bash", LAB_SH, *map(str, args)], env=self.env, text=True,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            raise LabError(f"lab.sh {' '.join(map(str, args))} failed ({p.returncode}):\n"
                           f"{p.stdout}{p.stderr}")
        return p

    def up(self):
        self.sh("up")
        self.is_up = True
        return self

    def down(self):
        self.is_up = False
        self._dirty_links.clear()
        self._dirty_agents.clear()
        return self.sh("down", timeout=60, check=False)

    def status(self):
        """(ok, text) of `lab.sh status`."""
        p = self.sh("status", check=False)
        return p.returncode == 0, p.stdout

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()

    def ns(self, host):
        if host not in self.HOSTS:
            raise ValueError(f"unknown lab host {host!r}")
        return f"{self.prefix}-{host}"

    def namespaces(self):
        """Names of this lab's namespaces that currently exist."""
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        names = {line.split()[0] for line in out.splitlines() if line.strip()}
        return sorted(n for n in names if n in {self.ns(h) for h in self.HOSTS})

    def pids(self):
        """pids of all processes inside this lab's namespaces."""
        pids = []
        for n in self.namespaces():
            out = subprocess.run(["ip", "netns", "pids", n], capture_output=True, text=True).stdout
            pids += [int(x) for x in out.split()]
        return pids

    # ------------------------------------------------------------- commands
    def exec(self, host, *cmd, check=True, timeout=30, input=None):
        """Run cmd inside the host's namespace; CompletedProcess with text output."""
        p = subprocess.run(["ip", "netns", "exec", self.ns(host), *map(str, cmd)],
                           text=True, capture_output=True, timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise LabError(f"[{host}] {' '.join(map(str, cmd))} failed ({p.returncode}):\n"
                           f"{p.stdout}{p.stderr}")
        return p

    def popen(self, host, *cmd, **kw):
        """subprocess.Popen of cmd inside the host's namespace (caller cleans up)."""
        return subprocess.Popen(["ip", "netns", "exec", self.ns(host), *map(str, cmd)], **kw)

    @contextlib.contextmanager
    def netns(self, host):
        """Run the block with the *current thread* inside the host's namespace,
        e.g. `with lab.netns("app"): urllib.request.urlopen(...)`."""
        target = os.open(f"/run/netns/{self.ns(host)}", os.O_RDONLY)
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"setns({self.ns(host)}): {os.strerror(e)}")
            try:
                yield
            finally:
                if _libc.setns(orig, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns(back): {os.strerror(e)}")
        finally:
            os.close(target)
            os.close(orig)

    def http_get(self, url, host="app", timeout=5):
        """(status, body bytes) of a GET issued from inside the host's namespace."""
        with self.netns(host):
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

    def dns_query(self, name, server=INET, host="app", timeout=2, rcode=False):
        """A records for name, asked over UDP from inside host's namespace
        (an error or no answer -> []).  rcode=True: (rcode, [addresses]),
        e.g. (3, []) for NXDOMAIN."""
        import random
        import socket
        import struct
        qid = random.randrange(65536)
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        q += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
        q += struct.pack(">HH", 1, 1)
        with self.netns(host):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(timeout)
            s.sendto(q, (server, self.DNS_PORT))
            data, _ = s.recvfrom(4096)
        finally:
            s.close()
        rid, flags, qd, an = struct.unpack(">HHHH", data[:8])
        if rid != qid:
            raise LabError("DNS answer with the wrong id")
        if flags & 0xF:
            return (flags & 0xF, []) if rcode else []
        off = 12
        for _ in range(qd):  # skip the question
            while data[off]:
                off += 1 + data[off]
            off += 5
        addrs = []
        for _ in range(an):
            if data[off] & 0xC0 == 0xC0:
                off += 2
            else:
                while data[off]:
                    off += 1 + data[off]
                off += 1
            typ, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[off:off + 10])
            off += 10
            if typ == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(data[off:off + 4]))
            off += rdlen
        return (0, addrs) if rcode else addrs

    # ----------------------------------------------------------- impairment
    def impair(self, link, kind, value=None, jitter=None):
        """kind: "loss" (value = percent), "blackhole", "delay" (value = ms,
        optional jitter ms) or "clear"."""
        if link not in self.LINKS:
            raise ValueError(f"unknown link {link!r}")
        args = ["impair", link, kind]
        if kind in ("loss", "delay"):
            if value is None:
                raise ValueError(f"{kind} needs a value")
            args.append(value)
            if kind == "delay" and jitter is not None:
                args.append(jitter)
        elif kind not in ("blackhole", "clear"):
            raise ValueError(f"unknown impairment {kind!r}")
        self.sh(*args)
        if kind == "clear":
            self._dirty_links.discard(("impair", link))
        else:
            self._dirty_links.add(("impair", link))

    def clear(self, link):
        self.impair(link, "clear")

    def link(self, link, up=True):
        """Carrier loss on a link (far end admin down) or restore it.  For wan/lan
        the simulated router's ifOperStatus (ifIndex 1/2) follows."""
        if link not in self.LINKS:
            raise ValueError(f"unknown link {link!r}")
        self.sh("link", link, "up" if up else "down")
        if up:
            self._dirty_links.discard(("link", link))
        else:
            self._dirty_links.add(("link", link))

    HOSTLINK_ROOT, HOSTLINK_APP = "198.19.255.1", "198.19.255.2"

    def hostlink(self):
        """veth between the root namespace (HOSTLINK_ROOT) and the app namespace
        (HOSTLINK_APP), e.g. for a browser in a demo.  One lab at a time."""
        self.sh("hostlink")

    def reboot(self, agent="rtr"):
        """Restart a simulated agent ("rtr" or "ups"): sysUpTime and all counters
        restart from their initial values and snmpset changes are forgotten."""
        self.sh("reboot", agent)
        self._dirty_agents.discard(agent)

    def reset(self):
        """Undo what tests changed through this object: impairments, links down,
        snmp_set values (by rebooting the agent).  Cheap when nothing changed."""
        for kind, link in sorted(self._dirty_links):
            if kind == "impair":
                self.clear(link)
        for kind, link in sorted(self._dirty_links):
            if kind == "link":
                self.link(link, up=True)
        self._dirty_links.clear()
        for agent in sorted(self._dirty_agents):
            self.reboot(agent)
        self._dirty_agents.clear()

    # ----------------------------------------------------------------- SNMP
    def _auth(self, version, community):
        if str(version) == "3":
            return ["-v3", "-l", "authPriv", "-u", self.V3_USER, "-a", self.V3_AUTH_PROTO,
                    "-A", self.V3_AUTH_KEY, "-x", self.V3_PRIV_PROTO, "-X", self.V3_PRIV_KEY]
        return ["-v" + str(version), "-c", community]

    @staticmethod
    def _parse(out):
        """Parse `-On -Oe -Ot -OU -Oq` output into {oid: int|str}."""
        res = {}
        for line in out.splitlines():
            if not line.strip():
                continue
            oid, _, val = line.partition(" ")
            oid = oid.lstrip(".")
            val = val.strip()
            if re.fullmatch(r"-?\d+", val):
                res[oid] = int(val)
            else:
                if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
                    val = val[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                res[oid] = val
        return res

    def _snmp(self, tool, args, target, version, community, from_host, timeout, context=None):
        cmd = [tool, *self._auth(version, community), "-On", "-Oe", "-Ot", "-OU", "-Oq",
               "-t", str(timeout), "-r", "1"]
        if context:
            cmd += ["-n", context]
        return self.exec(from_host, *cmd, target, *args, timeout=timeout * 4 + 10)

    @staticmethod
    def _target(host, port):
        return host if port == 161 else f"{host}:{port}"

    def snmp_get(self, *oids, host=RTR, port=161, version="2c", community=COMMUNITY,
                 from_host="app", timeout=2, context=None):
        """GET oids (numeric) from the app namespace.  One oid -> its value;
        several -> {oid: value}.  Integers/counters come back as int."""
        p = self._snmp("snmpget", list(oids), self._target(host, port), version, community,
                       from_host, timeout, context)
        res = self._parse(p.stdout)
        for o in oids:
            if o.lstrip(".") not in res:
                raise LabError(f"snmpget {o}: no value in {p.stdout!r}")
            v = res[o.lstrip(".")]
            if isinstance(v, str) and v.startswith(("No Such", "No more")):
                raise LabError(f"snmpget {o}: {v}")
        if len(oids) == 1:
            return res[oids[0].lstrip(".")]
        return {o: res[o.lstrip(".")] for o in oids}

    def snmp_get_list(self, *oids, host=RTR, port=161, version="2c", community=COMMUNITY,
                      from_host="app", timeout=2, context=None):
        """[(oid, value), ...] in request order (an OID may appear twice)."""
        p = self._snmp("snmpget", list(oids), self._target(host, port), version, community,
                       from_host, timeout, context)
        out = []
        for line in p.stdout.splitlines():
            if line.strip():
                out.extend(self._parse(line).items())
        if len(out) != len(oids):
            raise LabError(f"snmpget: {len(out)} values for {len(oids)} oids: {p.stdout!r}")
        return out

    def snmp_walk(self, oid, host=RTR, port=161, version="2c", community=COMMUNITY,
                  from_host="app", timeout=2, context=None):
        """{oid: value} of a walk (GETBULK for v2c/v3)."""
        tool = "snmpwalk" if str(version) == "1" else "snmpbulkwalk"
        p = self._snmp(tool, [oid], self._target(host, port), version, community,
                       from_host, timeout, context)
        return self._parse(p.stdout)

    def snmp_set(self, oid, type_, value, host=RTR, port=161, community=COMMUNITY,
                 version="2c", from_host="app", timeout=2):
        """SET a value in a simulated agent (writecache records: ifAdminStatus,
        ifOperStatus, ifAlias, and the UPS status objects).  type_ is the
        snmpset type letter: i, u, c, s, x, ...  The agent is rebooted by
        reset() to forget the change."""
        self._snmp("snmpset", [oid, type_, value], self._target(host, port), version,
                   community, from_host, timeout)
        self._dirty_agents.add("ups" if host == self.UPS else "rtr")

    def set_if_oper(self, ifindex, up):
        self.snmp_set(f"{self.OID['ifOperStatus']}.{ifindex}", "i", 1 if up else 2)

    def set_ups(self, name, value):
        """e.g. set_ups("upsOutputSource", 5) for "on battery"."""
        self.snmp_set(self.OID[name], "i" if name != "upsAlarmsPresent" else "u",
                      value, host=self.UPS)

    def send_trap(self, trap_oid, *varbinds, from_host="app", dest=APP, port=TRAP_PORT,
                  version="2c", community=COMMUNITY, inform=False):
        """Send a notification with net-snmp's snmptrap; varbinds are
        (oid, type, value) triples.  version "3" uses the lwtrap user."""
        cmd = ["snmpinform" if inform else "snmptrap"]
        if str(version) == "3":
            cmd += ["-v3", "-l", "authPriv", "-u", self.TRAP_V3_USER, "-a", self.V3_AUTH_PROTO,
                    "-A", self.V3_AUTH_KEY, "-x", self.V3_PRIV_PROTO, "-X", self.V3_PRIV_KEY]
            if not inform:
                cmd += ["-e", self.TRAP_V3_ENGINE_ID]
        else:
            cmd += ["-v" + str(version), "-c", community]
        cmd += ["-t", "2", "-r", "1", f"{dest}:{port}", ""]
        cmd.append(trap_oid)
        for vb in varbinds:
            cmd += [str(x) for x in vb]
        self.exec(from_host, *cmd)

    # ---------------------------------------------------------------- files
    @property
    def trap_log_path(self):
        return os.path.join(self.dir, "traps.log")

    def trap_log(self):
        """Everything snmptrapd has logged so far (one header line plus one
        tab-separated varbind line per notification)."""
        try:
            with open(self.trap_log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log(self, name):
        """Text of $LW_LAB_DIR/log/<name>.log (snmpsim-rtr, snmpd, delay-wan, ...)."""
        try:
            with open(os.path.join(self.dir, "log", name + ".log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # ------------------------------------------------------------------ ping
    def ping(self, from_host, dst, count=5, interval=0.2, deadline=None, wait=1):
        """Run ping; return {"tx", "rx", "loss" (percent), "avg_ms", "min_ms", "max_ms"}."""
        cmd = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", str(wait)]
        if deadline:
            cmd += ["-w", str(deadline)]
        p = self.exec(from_host, *cmd, dst, check=False,
                      timeout=count * interval + wait + 30)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", p.stdout)
        if not m:
            raise LabError(f"unexpected ping output: {p.stdout}{p.stderr}")
        tx, rx = int(m.group(1)), int(m.group(2))
        res = {"tx": tx, "rx": rx, "loss": 100.0 * (tx - rx) / tx if tx else 100.0,
               "avg_ms": None, "min_ms": None, "max_ms": None}
        m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/", p.stdout)
        if m:
            res["min_ms"], res["avg_ms"], res["max_ms"] = map(float, m.groups())
        return res

    wait_for = staticmethod(wait_for)
