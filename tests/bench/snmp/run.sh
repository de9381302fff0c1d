#!/bin/bash
# SNMP polling benchmark (make bench; not a test): linewatchd against
# collectd's snmp plugin, same agents, same columns, in the same run.
#
#   tests/bench/snmp/run.sh [BUILD_DIR]
#
# LW_BENCH_AGENTS (105: 5,040 interfaces, for the memory target's 5,000)
# simulated agents, each a 48-port switch (ifTable + ifXTable), served by
# snmpsimd on 127.0.0.10+ (loopback only), udp/16161.
# Each poller polls every agent every LW_BENCH_INTERVAL (120) seconds for
# LW_BENCH_CYCLES (5) cycles with max-repetitions / BulkSize 25; the first
# LW_BENCH_SKIP (2) cycles (file creation, discovery) are not measured.  Both
# store history in RRD files at their defaults (linewatchd: rrd_store, rows
# held per file for rrd-write-delay = 5 min; collectd: rrdtool plugin, no
# cache): the measured window (3 cycles, 6 min) spans the 5 minutes, so
# linewatchd's held writes are paid inside it.
#
# Printed per poller: poll-cycle wall time (first request to last response,
# all devices started at once, from a pcap of the SNMP traffic), CPU seconds
# per 10,000 varbinds received (whole process, and the polling threads
# alone: linewatchd's event loop, collectd's reader threads), CPU per cycle,
# peak RSS (VmHWM) and, at the end, anonymous and file-backed RSS apart
# (RssFile is mostly shared libraries); then the ratios.  The agents are
# Python (snmpsim), so cycle wall time is bounded by them for both pollers;
# CPU per varbind and memory are the pollers' own.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
N=${LW_BENCH_AGENTS:-105}
INTERVAL=${LW_BENCH_INTERVAL:-120}
CYCLES=${LW_BENCH_CYCLES:-5}
SKIP=${LW_BENCH_SKIP:-2}
PORT=16161
SIMS=2
NIFS=48

die() { echo "bench/snmp: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (snmpsimd drops to nobody)"
[ -x "$BUILD/linewatchd" ] || die "$BUILD/linewatchd not built (make)"
for t in snmpsimd snmpget tcpdump python3; do
	command -v $t >/dev/null || die "$t missing (make deps)"
done
[ -x /usr/sbin/collectd ] || die "/usr/sbin/collectd missing (collectd-core)"
[ "$SKIP" -ge 1 ] && [ "$CYCLES" -gt "$SKIP" ] ||
	die "LW_BENCH_CYCLES must be more than LW_BENCH_SKIP, which is at least 1"

W=$(mktemp -d /tmp/lw-bench-snmp.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${LW_BENCH_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT

addr() { echo "127.0.0.$((10 + $1))"; }

# ---------------------------------------------------------------- agents
mkdir -p "$W/data" "$W/cache"
python3 "$HERE/gen.py" "$W/data/public.snmprec" $NIFS
chmod -R a+rX "$W/data"
chown nobody:nogroup "$W/cache"
for s in $(seq 0 $((SIMS - 1))); do
	eps=()
	for i in $(seq 0 $((N - 1))); do
		[ $((i % SIMS)) = "$s" ] && eps+=("--agent-udpv4-endpoint=$(addr "$i"):$PORT")
	done
	snmpsimd --process-user=nobody --process-group=nogroup --cache-dir="$W/cache" \
		--data-dir="$W/data" --logging-method=null "${eps[@]}" >"$W/snmpsim$s.log" 2>&1 &
	PIDS+=($!)
done
echo "bench/snmp: $N agents x $NIFS interfaces on 127.0.0.10-$((9 + N)):$PORT ($SIMS snmpsimd)"
deadline=$((SECONDS + 120))
for i in $(seq 0 $((N - 1))); do
	until snmpget -v2c -c public -t 1 -r 0 "$(addr "$i"):$PORT" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || die "agent $(addr "$i") does not answer"
		sleep 0.5
	done
done

# --------------------------------------------------------------- pollers
cpu_of() { # utime+stime seconds of a pid (all threads)
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
cpu_threads() { # PID COMM-REGEX|main: utime+stime seconds of those threads
	local hz t sum=0
	hz=$(getconf CLK_TCK)
	if [ "$2" = main ]; then
		awk -v hz="$hz" '{ print ($14 + $15) / hz }' "/proc/$1/task/$1/stat"
		return
	fi
	for t in /proc/$1/task/*; do
		grep -Eq "$2" "$t/comm" 2>/dev/null || continue
		sum=$(awk -v s="$sum" -v hz="$hz" '{ print s + ($14 + $15) / hz }' "$t/stat")
	done
	echo "$sum"
}
rss_of() { # peak RSS, then anonymous and file-backed RSS now, in KiB
	awk '/^VmHWM/ { h = $2 } /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 }
		END { print h, a, f }' "/proc/$1/status"
}

# run NAME THREAD-REGEX CMD...: capture, run, sample CPU (process and the
# polling threads) after cycle 1 and at the end
run() {
	local name="$1" threads="$2"; shift 2
	tcpdump -i lo -n -s 0 -U -w "$W/$name.pcap" "udp port $PORT" >"$W/$name.tcpdump.log" 2>&1 &
	local tpid=$!
	PIDS+=($tpid)
	sleep 1
	"$@" >"$W/$name.log" 2>&1 &
	local pid=$!
	PIDS+=($pid)
	echo "bench/snmp: $name: $CYCLES cycles of ${INTERVAL}s..."
	sleep $((SKIP * INTERVAL - 2))
	kill -0 $pid 2>/dev/null || die "$name exited: $(tail -5 "$W/$name.log")"
	local c1 p1; c1=$(cpu_of $pid); p1=$(cpu_threads $pid "$threads")
	sleep $(((CYCLES - SKIP) * INTERVAL))
	kill -0 $pid 2>/dev/null || die "$name exited: $(tail -5 "$W/$name.log")"
	local c2 p2; c2=$(cpu_of $pid); p2=$(cpu_threads $pid "$threads")
	local rss; rss=$(rss_of $pid) # "peak anon file"
	kill $pid; wait $pid 2>/dev/null || true
	sleep 1
	kill $tpid; wait $tpid 2>/dev/null || true
	python3 "$HERE/analyze.py" "$W/$name.pcap" $PORT $((INTERVAL / 4)) >"$W/$name.json"
	echo "$c1 $c2 $p1 $p2 $rss" >"$W/$name.res"
}

# linewatchd
mkdir -p "$W/lw/state"
LWPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	echo "state-dir = \"$W/lw/state\""
	echo "pidfile = \"$W/lw/linewatchd.pid\""
	echo "profile-dir = \"$HERE/profiles\""
	echo "plugin-dir = \"$BUILD/plugins\""
	echo "web-dir = \"$REPO/web\""
	echo "log-level = \"warning\""
	echo "http { listen = { \"127.0.0.1:$LWPORT\" } }"
	for i in $(seq 0 $((N - 1))); do
		echo "device \"sw$i\" { address = \"$(addr "$i")\" port = $PORT snmp = \"v2c\"" \
			"community = \"public\" interval = \"${INTERVAL}s\" timeout = \"10s\" retries = 1" \
			"max-repetitions = 25 profiles = { \"benchup\", \"benchif\" } }"
	done
} >"$W/lw/linewatch.conf"
# the event loop (the main thread) does all the polling
run linewatchd main env LW_SNMP_SPREAD_MS=0 "$BUILD/linewatchd" -f -c "$W/lw/linewatch.conf"

# collectd
mkdir -p "$W/cd/rrd"
{
	echo "Interval $INTERVAL"
	echo "ReadThreads 5"
	echo "FQDNLookup false"
	echo "Hostname \"bench\""
	echo "BaseDir \"$W/cd\""
	echo "PIDFile \"$W/cd/collectd.pid\""
	echo "TypesDB \"/usr/share/collectd/types.db\""
	echo "LoadPlugin logfile"
	echo "<Plugin logfile>"
	echo "  LogLevel \"warning\""
	echo "  File \"$W/cd/collectd.log\""
	echo "</Plugin>"
	echo "LoadPlugin snmp"
	echo "LoadPlugin rrdtool"
	echo "<Plugin rrdtool>"
	echo "  DataDir \"$W/cd/rrd\""
	echo "</Plugin>"
	echo "<Plugin snmp>"
	ifname=".1.3.6.1.2.1.31.1.1.1.1"
	data() { # name type values...
		local n="$1" t="$2"; shift 2
		echo "  <Data \"$n\">"
		echo "    Type \"$t\""
		echo "    Table true"
		echo "    Instance \"$ifname\""
		echo "    InstancePrefix \"$n-\""
		echo "    Values $*"
		echo "  </Data>"
	}
	data if_octets if_octets '".1.3.6.1.2.1.31.1.1.1.6"' '".1.3.6.1.2.1.31.1.1.1.10"'
	data if_packets if_packets '".1.3.6.1.2.1.31.1.1.1.7"' '".1.3.6.1.2.1.31.1.1.1.11"'
	data if_errors if_errors '".1.3.6.1.2.1.2.2.1.14"' '".1.3.6.1.2.1.2.2.1.20"'
	data if_dropped if_dropped '".1.3.6.1.2.1.2.2.1.13"' '".1.3.6.1.2.1.2.2.1.19"'
	data if_oper gauge '".1.3.6.1.2.1.2.2.1.8"'
	data if_speed gauge '".1.3.6.1.2.1.31.1.1.1.15"'
	echo "  <Data \"uptime\">"
	echo "    Type \"uptime\""
	echo "    Table false"
	echo "    Values \".1.3.6.1.2.1.1.3.0\""
	echo "    Scale 0.01"
	echo "  </Data>"
	for i in $(seq 0 $((N - 1))); do
		echo "  <Host \"sw$i\">"
		echo "    Address \"$(addr "$i"):$PORT\""
		echo "    Version 2"
		echo "    Community \"public\""
		echo "    Collect \"uptime\" \"if_octets\" \"if_packets\" \"if_errors\" \"if_dropped\" \"if_oper\" \"if_speed\""
		echo "    Interval $INTERVAL"
		echo "    Timeout 10"
		echo "    Retries 1"
		echo "    BulkSize 25"
		echo "  </Host>"
	done
	echo "</Plugin>"
} >"$W/cd/collectd.conf"
/usr/sbin/collectd -t -C "$W/cd/collectd.conf" || die "collectd rejects its configuration"
run collectd '^reader#' /usr/sbin/collectd -f -C "$W/cd/collectd.conf"

# ---------------------------------------------------------------- report
python3 - "$W" "$CYCLES" "$N" "$NIFS" "$INTERVAL" "$SKIP" <<'PY'
import json, statistics, sys
w, cycles, n, nifs, interval = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
skip = int(sys.argv[6])
res = {}
for name in ("linewatchd", "collectd"):
    j = json.load(open(f"{w}/{name}.json"))
    c1, c2, p1, p2, rss, anon, fil = open(f"{w}/{name}.res").read().split()
    cyc = j["cycles"][skip:cycles]  # file creation, discovery: not measured
    vb = j["varbinds_per_cycle"][skip:cycles]
    res[name] = {
        "cycle_s": statistics.median(cyc) if cyc else float("nan"),
        "cpu_per_10k": (float(c2) - float(c1)) / (sum(vb) / 10000) if sum(vb) else float("nan"),
        "poll_cpu_per_10k": (float(p2) - float(p1)) / (sum(vb) / 10000) if sum(vb) else float("nan"),
        "cpu_per_cycle": (float(c2) - float(c1)) / max(1, cycles - skip),
        "rss_mib": int(rss) / 1024,
        "anon_mib": int(anon) / 1024,
        "file_mib": int(fil) / 1024,
        "varbinds_per_cycle": statistics.median(vb) if vb else 0,
        "requests_per_cycle": statistics.median(j["requests_per_cycle"][skip:cycles] or [0]),
    }
print(f"\nSNMP polling: {n} agents x {nifs} interfaces, interval {interval}s, "
      f"cycles {skip + 1}..{cycles} measured")
print(f"{'':12}{'cycle wall s':>14}{'CPU s/10k vb':>14}{'poll-thr s/10k':>15}"
      f"{'CPU s/cycle':>13}{'peak RSS MiB':>14}{'anon MiB':>10}{'file MiB':>10}"
      f"{'varbinds/cyc':>14}{'requests/cyc':>14}")
for name, r in res.items():
    print(f"{name:12}{r['cycle_s']:14.2f}{r['cpu_per_10k']:14.4f}{r['poll_cpu_per_10k']:15.4f}"
          f"{r['cpu_per_cycle']:13.2f}{r['rss_mib']:14.1f}{r['anon_mib']:10.1f}"
          f"{r['file_mib']:10.1f}{r['varbinds_per_cycle']:14.0f}{r['requests_per_cycle']:14.0f}")
lw, cd = res["linewatchd"], res["collectd"]
def ratio(a, b):
    return a / b if b else float("nan")
print(f"{'ratio lw/cd':12}{ratio(lw['cycle_s'], cd['cycle_s']):14.2f}"
      f"{ratio(lw['cpu_per_10k'], cd['cpu_per_10k']):14.2f}"
      f"{ratio(lw['poll_cpu_per_10k'], cd['poll_cpu_per_10k']):15.2f}"
      f"{ratio(lw['cpu_per_cycle'], cd['cpu_per_cycle']):13.2f}"
      f"{ratio(lw['rss_mib'], cd['rss_mib']):14.2f}"
      f"{ratio(lw['anon_mib'], cd['anon_mib']):10.2f}"
      f"{ratio(lw['file_mib'], cd['file_mib']):10.2f}")
print("peak RSS = VmHWM over the run; anon/file = RssAnon/RssFile at the end (file: the "
      "shared libraries' resident pages)")
PY
