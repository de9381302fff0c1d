#!/usr/bin/env bash
# Capture benchmark (issue #9).
#
#   tests/bench/capture/run.sh [BUILD_DIR]        (default build; root for the live part)
#
# Offline: a capture of LW_BENCH_PACKETS frames (default 5 000 000) is
# generated into a temporary directory under /tmp (real frames of
# ../shared/pcaps mixed with synthetic traffic, see gen.py) and read by
#   tcpdump -r FILE -w /dev/null         the floor: libpcap reading alone
#   linewatchd --replay FILE             decode + aggregate (the live code)
#   tshark -q -z conv,ip -r FILE         full dissection
# in the same run.  CPU time (user + sys, best of LW_BENCH_RUNS, default 3)
# gives packets per second per core; the ratios are printed against the
# targets (<= 2x tcpdump, >= 10x faster than tshark).  Peak RSS of the
# replay is compared with the budget (memory = 16M) + 20 MB.
#
# Live: linewatchd captures on one end of a veth pair in a namespace of its
# own; tcpreplay sends LW_BENCH_LIVE_PACKETS frames (default 1 000 000) at
# rising rates into the other end, then at --topspeed.  For each rate: the
# rate achieved, frames the capture counted, kernel drops.  The result is the
# highest rate with every frame counted and 0 drops; then a flood of frames
# between random addresses (every table full, the worst case for memory).
# The daemon's peak RSS while capturing (VmHWM reset once the daemon is up: start-up has a peak of
# its own, printed apart) against the budget (memory = 16M, the kernel buffer
# included) + 20 MB, split into anonymous memory, the mmapped kernel ring and
# the file-backed pages of the shared libraries.
#
# LW_BENCH_APPLICATIONS=yes classifies applications with nDPI in both parts
# (--applications offline, applications = yes live).
#
# Without `linewatchd --replay` (main.c not wired yet) a small driver calling
# replay_main() is built against BUILD_DIR/libcore.a.
set -u
cd "$(dirname "$0")/../../.."
BUILD=${1:-build}
N=${LW_BENCH_PACKETS:-5000000}
RUNS=${LW_BENCH_RUNS:-3}
LIVE_N=${LW_BENCH_LIVE_PACKETS:-1000000}
APPS=${LW_BENCH_APPLICATIONS:-no}
APPS_ARG=()
[ "$APPS" = yes ] && APPS_ARG=(--applications)
BUDGET_MB=16
WORK=$(mktemp -d /tmp/lwbench-capture.XXXXXX)
NS=lwbench$$
DPID=

cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[ -n "${LW_BENCH_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

die() {
	echo "capture bench: $*" >&2
	exit 1
}

for t in tcpdump tshark python3 /usr/bin/time; do
	command -v "$t" >/dev/null || die "$t is missing (make deps)"
done
[ -x "$BUILD/linewatchd" ] || die "$BUILD/linewatchd is not built (make)"

REPLAY="$BUILD/linewatchd"
if ! "$REPLAY" --replay 2>&1 | grep -q -- '--replay FILE'; then
	printf '#include "replay.h"\nint main(int argc, char **argv) { return replay_main(argc, argv); }\n' \
		>"$WORK/replay_main.c"
	# shellcheck disable=SC2046
	cc -O2 -Idaemon -o "$WORK/linewatch-replay" "$WORK/replay_main.c" "$BUILD/libcore.a" \
		$(pkg-config --libs libevent libevent_pthreads libevent_openssl netsnmp libpcap \
		librrd sqlite3 libconfuse jansson libcurl libxcrypt openssl) -lpthread -ldl -lm ||
		die "cannot build the replay driver"
	REPLAY="$WORK/linewatch-replay"
	echo "note: $BUILD/linewatchd has no --replay yet; using a driver of replay_main()"
fi

# timed NAME CMD...: best (lowest CPU) of $RUNS runs -> "$cpu $wall $rss_kb"
timed() {
	local name=$1 runs=$2 best=
	shift 2
	for _ in $(seq "$runs"); do
		/usr/bin/time -f "%U %S %e %M" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" \
			2>"$WORK/$name.err" || die "$name failed: $(tail -3 "$WORK/$name.err")"
		read -r u s e m <"$WORK/$name.time"
		cpu=$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')
		if [ -z "$best" ] || awk -v a="$cpu" -v b="${best%% *}" 'BEGIN {exit !(a < b)}'; then
			best="$cpu $e $m"
		fi
	done
	echo "$best"
}

echo "== capture benchmark: offline ($N frames)"
python3 tests/bench/capture/gen.py "$WORK/bench.pcap" "$N" ../shared/pcaps || die "gen.py failed"
cat "$WORK/bench.pcap" >/dev/null # page cache: every reader starts warm

read -r td_cpu td_wall _ < <(timed tcpdump "$RUNS" tcpdump -r "$WORK/bench.pcap" -w /dev/null)
read -r lw_cpu lw_wall lw_rss < <(timed replay "$RUNS" "$REPLAY" --replay "$WORK/bench.pcap" \
	${APPS_ARG[@]+"${APPS_ARG[@]}"})
read -r ts_cpu ts_wall _ < <(timed tshark 1 tshark -q -n -r "$WORK/bench.pcap" -z conv,ip)
python3 - "$N" "$td_cpu" "$lw_cpu" "$ts_cpu" "$lw_rss" "$BUDGET_MB" "$WORK/replay.out" <<'PY'
import json, sys
n, (td, lw, ts, rss, budget) = int(sys.argv[1]), map(float, sys.argv[2:7])
rep = json.load(open(sys.argv[7]))
assert rep["totals"]["packets"] == n, "replay did not read every frame"
def row(name, cpu):
    print(f"  {name:34s} {cpu:8.2f} s CPU  {n / cpu / 1e6:7.2f} M packets/s per core")
row("tcpdump -r FILE -w /dev/null", td)
row("linewatchd --replay FILE" + (" --applications" if rep["applications"] else ""), lw)
row("tshark -q -z conv,ip -r FILE", ts)
r1, r2 = lw / td, ts / lw
print(f"  linewatchd / tcpdump  = {r1:5.2f}x   (target <= 2x: {'met' if r1 <= 2 else 'NOT met'})")
print(f"  tshark / linewatchd   = {r2:5.1f}x   (target >= 10x: {'met' if r2 >= 10 else 'NOT met'})")
lim = budget + 20
print(f"  replay peak RSS {rss / 1024:.1f} MB (budget {budget:.0f} MB + 20 MB = {lim:.0f} MB: "
      f"{'met' if rss / 1024 <= lim else 'NOT met'})")
print(f"  report: {len(rep['hosts'])} top hosts of the file, estimated={rep['estimated']}")
PY

echo "== capture benchmark: live (tcpreplay over a veth, $LIVE_N frames per rate)"
if [ "$(id -u)" != 0 ] || ! command -v tcpreplay >/dev/null || ! command -v ip >/dev/null; then
	echo "  skipped: needs root, ip and tcpreplay"
	exit 0
fi
editcap -r "$WORK/bench.pcap" "$WORK/live.pcap" "1-$LIVE_N" || die "editcap failed"
ip netns add "$NS" || die "cannot create namespace $NS"
ip -n "$NS" link set lo up
# no IPv6 on the veths: while their link-local addresses are tentative,
# getaddrinfo(AI_ADDRCONFIG) in evhttp_bind_socket fails and the daemon
# cannot listen
ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" link add lwb-tx type veth peer name lwb-rx || die "cannot create the veth pair"
ip -n "$NS" link set lwb-tx up
ip -n "$NS" link set lwb-rx up
PORT=$(python3 -c 'import random; print(random.randint(20000, 60000))')
mkdir -p "$WORK/state"
cat >"$WORK/bench.conf" <<EOF
site = "capture bench"
state-dir = "$WORK/state"
pidfile = "$WORK/linewatchd.pid"
plugin-dir = "$BUILD/plugins"
web-dir = "$PWD/web"
profile-dir = "$PWD/etc/profiles"
http {
    listen = { "127.0.0.1:$PORT" }
}
capture "bench" {
    interface = "lwb-rx"
    interval = 1s
    applications = $APPS
}
EOF
ip netns exec "$NS" "$BUILD/linewatchd" -f -c "$WORK/bench.conf" >"$WORK/linewatchd.log" 2>&1 &
DPID=$!
api() {
	ip netns exec "$NS" curl -s --noproxy '*' "http://127.0.0.1:$PORT$1"
}
for _ in $(seq 100); do
	api /api/v1/health >/dev/null 2>&1 && break
	sleep 0.1
done
api /api/v1/health >/dev/null || die "linewatchd did not start: $(tail -5 "$WORK/linewatchd.log")"
st=/proc/$DPID/status
kb() { awk -v k="$1:" '$1 == k {print $2}' "$st" 2>/dev/null || echo 0; }
# the kernel's TPACKET ring: mapped from the packet socket, counted as file pages
ring_kb() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {ring = ($6 ~ /^socket:/ || $6 ~ /packet/)}
	     ring && $1 == "Rss:" {s += $2} END {print s + 0}' "/proc/$DPID/smaps" 2>/dev/null || echo 0
}
START_HWM=$(kb VmHWM)
IDLE_RSS=$(kb VmRSS)
IDLE_ANON=$(kb RssAnon)
# Sample the split while traffic flows: the peak of each part.
(
	mr=0 ma=0 mf=0 mg=0
	while kill -0 "$DPID" 2>/dev/null; do
		read -r r a f < <(awk '$1 == "VmRSS:" {r = $2} $1 == "RssAnon:" {a = $2}
			$1 == "RssFile:" {f = $2} END {print r + 0, a + 0, f + 0}' "$st" 2>/dev/null)
		g=$(ring_kb)
		[ "${r:-0}" -gt "$mr" ] && mr=$r
		[ "${a:-0}" -gt "$ma" ] && ma=$a
		[ "${f:-0}" -gt "$mf" ] && mf=$f
		[ "${g:-0}" -gt "$mg" ] && mg=$g
		echo "$mr $ma $mf $mg" >"$WORK/peaks.tmp" && mv "$WORK/peaks.tmp" "$WORK/peaks"
		sleep 0.2
	done
) &
SAMPLER=$!
# start-up (yescrypt's 16 MB for the login dummy hash, in auth.c) is not capture
echo 5 >"/proc/$DPID/clear_refs" 2>/dev/null || echo "  note: cannot reset VmHWM: the peak includes start-up"

counters() { # -> "packets drops interface_drops"
	api /api/v1/traffic/bench | python3 -c \
		'import json,sys; j=json.load(sys.stdin); print(j["packets"], j["drops"], j["interface_drops"])'
}
best=0
printf "  %-12s %12s %12s %10s %10s\n" "asked" "sent pps" "counted" "drops" "missing"
for rate in 50000 100000 200000 400000 800000 topspeed; do
	read -r p0 d0 i0 < <(counters)
	if [ "$rate" = topspeed ]; then
		opt=--topspeed
	else
		opt=--pps=$rate
	fi
	ip netns exec "$NS" tcpreplay -q -i lwb-tx "$opt" "$WORK/live.pcap" >"$WORK/tcpreplay.out" 2>&1 ||
		die "tcpreplay failed: $(tail -3 "$WORK/tcpreplay.out")"
	sent=$(grep -Eo 'Successful packets: +[0-9]+' "$WORK/tcpreplay.out" | grep -Eo '[0-9]+$')
	pps=$(grep -Eo '[0-9.]+ pps' "$WORK/tcpreplay.out" | head -1 | grep -Eo '^[0-9.]+')
	# counters move at the end of each 1 s interval: wait for the frames
	for _ in $(seq 50); do
		read -r p1 d1 i1 < <(counters)
		[ $((p1 - p0)) -ge "$sent" ] && break
		sleep 0.2
	done
	sleep 1.2
	read -r p1 d1 i1 < <(counters)
	counted=$((p1 - p0))
	drops=$((d1 - d0 + i1 - i0))
	missing=$((sent - counted))
	[ "$missing" -lt 0 ] && missing=0
	printf "  %-12s %12.0f %12d %10d %10d\n" "$rate" "${pps:-0}" "$counted" "$drops" "$missing"
	if [ "$drops" -eq 0 ] && [ "$missing" -eq 0 ] &&
		awk -v a="${pps:-0}" -v b="$best" 'BEGIN {exit !(a > b)}'; then
		best=${pps:-0}
	fi
done
printf "  highest rate with every frame counted and 0 drops: %.0f packets/s\n" "$best"
# The worst case for memory: every frame from a new random address pair and
# ports, so that every table (and the flow table) fills and evicts.
python3 - "$WORK/flood.pcap" "$LIVE_N" <<'PY'
import random, struct, sys
rnd, n = random.Random(9), int(sys.argv[2])
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 128, 1))
    for i in range(n):
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 46, i & 0xffff, 0, 64, 17, 0,
                         rnd.getrandbits(32).to_bytes(4, "big"),
                         rnd.getrandbits(32).to_bytes(4, "big"))
        fr = bytes(12) + b"\x08\x00" + ip + struct.pack(">HHHH", rnd.randrange(1, 65536),
                                                      rnd.randrange(1, 65536), 26, 0) + bytes(18)
        f.write(struct.pack("<IIII", 1700000000 + i // 100000, i % 100000 * 10, len(fr), len(fr)))
        f.write(fr)
PY
read -r p0 d0 i0 < <(counters)
ip netns exec "$NS" tcpreplay -q -i lwb-tx --pps=100000 "$WORK/flood.pcap" >"$WORK/tcpreplay.out" 2>&1 ||
	die "tcpreplay failed: $(tail -3 "$WORK/tcpreplay.out")"
sleep 2.5
read -r p1 d1 i1 < <(counters)
printf "  flood of %d frames between random addresses at 100000 pps: counted %d, drops %d\n" \
	"$(capinfos -c -M "$WORK/flood.pcap" | awk 'END {print $NF}')" $((p1 - p0)) $((d1 - d0 + i1 - i0))
PEAK_HWM=$(kb VmHWM)
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
read -r p_rss p_anon p_file p_ring <"$WORK/peaks"
python3 - "$BUDGET_MB" "$START_HWM" "$IDLE_RSS" "$PEAK_HWM" "$p_rss" "$p_anon" "$p_file" "$p_ring" \
	"$IDLE_ANON" <<'PY'
import sys
budget, start_hwm, idle, hwm, rss, anon, file_, ring, idle_anon = map(float, sys.argv[1:])
mb = lambda k: k / 1024
lim = budget + 20
print(f"  linewatchd start-up peak {mb(start_hwm):.1f} MB (before capturing; not capture memory),"
      f" RSS when up {mb(idle):.1f} MB")
print(f"  peak RSS while capturing {mb(hwm):.1f} MB (budget {budget:.0f} MB + 20 MB = {lim:.0f} MB: "
      f"{'met' if mb(hwm) <= lim else 'NOT met'})")
print(f"    of which at most: anonymous {mb(anon):.1f} MB, file-backed {mb(file_):.1f} MB ="
      f" kernel ring {mb(ring):.1f} MB + shared libraries {mb(file_ - ring):.1f} MB")
own = anon - idle_anon + ring
print(f"  the capture's own peak (anonymous growth since start-up {mb(anon - idle_anon):.1f} MB +"
      f" kernel ring) {mb(own):.1f} MB against its budget of {budget:.0f} MB; the rest of the"
      f" daemon: {mb(idle_anon):.1f} MB anonymous")
PY
