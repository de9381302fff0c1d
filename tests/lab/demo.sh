#!/usr/bin/env bash
# make demo: the lab network, linewatchd on it, and a scripted impairment
# cycle so that within minutes the pages show live graphs and a ticket
# opening and resolving.  Ctrl-C tears everything down.
#   demo.sh [BUILD_DIR]     (default build)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="$REPO/${1:-build}"
export LW_LAB_PREFIX="${LW_LAB_PREFIX:-lwdemo}"
LAB="$HERE/lab.sh"
STATE="/tmp/lw-demo-$LW_LAB_PREFIX"
DAEMON_PID=""
CYCLE_PID=""

cleanup() {
	trap - EXIT INT TERM
	echo
	echo "demo: tearing down"
	[ -n "$CYCLE_PID" ] && kill "$CYCLE_PID" 2>/dev/null || true
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
	"$LAB" down >/dev/null 2>&1 || true
	echo "demo: done (state kept in $STATE)"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 1; }
[ -x "$BUILD/linewatchd" ] || { echo "demo: $BUILD/linewatchd is missing: run make" >&2; exit 1; }

echo "demo: starting the lab network ($LW_LAB_PREFIX)"
"$LAB" down >/dev/null 2>&1 || true
"$LAB" up
"$LAB" hostlink

mkdir -p "$STATE"
sed -e "s|@STATE@|$STATE|g" -e "s|@BUILD@|$BUILD|g" -e "s|@REPO@|$REPO|g" \
	"$REPO/etc/demo.conf" > "$STATE/linewatch.conf"
"$BUILD/linewatchd" -t -c "$STATE/linewatch.conf"

# The impairment cycle: healthy, 20% loss on the ISP line, healthy, the
# line cut for a while, healthy again ... so tickets open and resolve.
cycle() {
	while true; do
		sleep 60
		echo "demo: injecting 20% packet loss on the WAN line for 3 minutes"
		"$LAB" impair wan loss 20 >/dev/null
		sleep 180
		echo "demo: WAN line healthy again"
		"$LAB" impair wan clear >/dev/null
		sleep 90
		echo "demo: cutting the WAN line for 60 seconds"
		"$LAB" link wan down >/dev/null
		sleep 60
		echo "demo: WAN line back up"
		"$LAB" link wan up >/dev/null
		sleep 60
	done
}

ip netns exec "$LW_LAB_PREFIX-app" "$BUILD/linewatchd" -f -c "$STATE/linewatch.conf" &
DAEMON_PID=$!
for _ in $(seq 1 100); do
	if ip netns exec "$LW_LAB_PREFIX-app" curl -sf --noproxy '*' \
		http://127.0.0.1:8080/api/v1/health >/dev/null 2>&1; then
		break
	fi
	kill -0 "$DAEMON_PID" 2>/dev/null || { echo "demo: linewatchd exited" >&2; exit 1; }
	sleep 0.1
done
cycle &
CYCLE_PID=$!

cat <<MSG

  linewatch demo is running.

    Status pages:  http://198.19.255.2:8080/
    API:           http://198.19.255.2:8080/api/v1/health
    Metrics:       http://198.19.255.2:8080/metrics

  Within the next minutes the WAN line gets 20% loss (a ticket opens), then
  recovers (it resolves), then is cut (a "down" ticket).  Ctrl-C stops it all.

MSG
wait "$DAEMON_PID"
