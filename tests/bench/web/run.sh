#!/usr/bin/env bash
# Web benchmark (make bench; not a test): wrk against linewatchd's
# /api/v1/links and overview page while it polls the lab, and against nginx
# serving the same JSON as a static file, in the same run and namespace.
# Prints requests/s, p99 latency and the ratio; then a fixed 200 requests/s
# run (p99), and the SNMP poll durations before and during the load ("no
# poll delayed by page load").
#   tests/bench/web/run.sh [BUILD_DIR]      LW_BENCH_SECONDS (10)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
SECS=${LW_BENCH_SECONDS:-10}
export LW_LAB_PREFIX=lwbw
LAB="$REPO/tests/lab/lab.sh"
DIR=$(mktemp -d /tmp/lw-bench-web.XXXXXX)
NS=$LW_LAB_PREFIX-app
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$LAB" down >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

for t in wrk nginx; do
	command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "bench web: $t missing (make deps)"; exit 1; }
done
"$LAB" up >/dev/null

sed -e "s|@STATE@|$DIR/state|g" -e "s|@BUILD@|$BUILD|g" -e "s|@REPO@|$REPO|g" \
	-e 's|listen = { "198.19.255.2:8080", "127.0.0.1:8080" }|listen = { "127.0.0.1:18080" }|' \
	"$REPO/etc/demo.conf" > "$DIR/linewatch.conf"
sed -i 's/log-level = "info"/log-level = "warn"/' "$DIR/linewatch.conf"
mkdir -p "$DIR/state" "$DIR/www"
ip netns exec "$NS" "$BUILD/linewatchd" -f -c "$DIR/linewatch.conf" 2>"$DIR/linewatchd.log" &
PIDS+=($!)
LWPID=$!
inns() { ip netns exec "$NS" "$@"; }
for _ in $(seq 1 200); do
	inns curl -sf --noproxy '*' http://127.0.0.1:18080/api/v1/devices 2>/dev/null |
		grep -q '"state":"ok"' && break
	sleep 0.1
done
inns curl -sf --noproxy '*' http://127.0.0.1:18080/api/v1/links > "$DIR/www/links.json"

cat > "$DIR/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/json;
    server { listen 127.0.0.1:18081; root $DIR/www; }
}
NGX
inns nginx -c "$DIR/nginx.conf" &
PIDS+=($!)
sleep 0.5

polls() { # median poll duration (ms) of the router over the last samples
	inns curl -sf --noproxy '*' http://127.0.0.1:18080/api/v1/devices/edge-router |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("poll_duration_ms"))'
}
before=$(polls)

wrk_run() { # url -> "rps p99_ms"
	inns wrk -t1 -c10 -d"${SECS}s" --latency "$1" 2>/dev/null | /usr/bin/python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
v = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(f"{rps:.0f} {v:.2f}")'
}

read -r lw_rps lw_p99 < <(wrk_run http://127.0.0.1:18080/api/v1/links)
during=$(polls)
read -r ov_rps ov_p99 < <(wrk_run http://127.0.0.1:18080/)
read -r ng_rps ng_p99 < <(wrk_run http://127.0.0.1:18081/links.json)

fixed=$(inns /usr/bin/python3 - <<'PY'
import http.client, time
c = http.client.HTTPConnection("127.0.0.1", 18080, timeout=5)
lat = []
start = time.monotonic()
for i in range(200 * 5):           # 200 requests/s for 5 s, one connection
    due = start + i / 200.0
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    t0 = time.monotonic()
    c.request("GET", "/api/v1/links")
    c.getresponse().read()
    lat.append((time.monotonic() - t0) * 1000)
lat.sort()
print(f"{lat[int(len(lat) * 0.99) - 1]:.2f}")
PY
)

echo "web benchmark ($SECS s per run, wrk -t1 -c10, same namespace, same JSON)"
printf "  %-32s %10s req/s   p99 %8s ms\n" "linewatchd /api/v1/links" "$lw_rps" "$lw_p99"
printf "  %-32s %10s req/s   p99 %8s ms\n" "linewatchd overview page" "$ov_rps" "$ov_p99"
printf "  %-32s %10s req/s   p99 %8s ms\n" "nginx static links.json" "$ng_rps" "$ng_p99"
awk -v a="$lw_rps" -v b="$ng_rps" 'BEGIN { printf "  ratio linewatchd/nginx: %.2f (target >= 0.50)\n", a / b }'
echo "  p99 at a steady 200 requests/s: $fixed ms (target < 10 ms)"
echo "  router poll duration: ${before} ms idle, ${during} ms right after the load"
kill -0 "$LWPID" 2>/dev/null && echo "  linewatchd still running: yes"
