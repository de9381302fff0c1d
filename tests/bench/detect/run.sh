#!/bin/bash
# Detection latency benchmark (make bench; not a test): time from injecting
# 20% loss / cutting the WAN link in the lab to the ticket's opening, with
# the shipped default probe and degraded settings, over N trials each
# (median and worst), then a healthy soak that must open no ticket.  Prints
# Smokeping's defaults beside it for reference.  Needs root.
#   tests/bench/detect/run.sh [BUILD_DIR]        (default build)
#   BENCH_DETECT_TRIALS=10 BENCH_DETECT_SOAK_S=600
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=$(cd "$repo" && realpath "${1:-build}")
[ -x "$build/linewatchd" ] && [ -e "$build/plugins/icmp.so" ] ||
	{ echo "detect bench: build first (make all)" >&2; exit 1; }
export LW_LAB_PREFIX=lwbd$$
export LW_LAB_PREFIX=${LW_LAB_PREFIX:0:10}
export LW_LAB_DIR=/tmp/lw-lab-$LW_LAB_PREFIX
tmp=$(mktemp -d /tmp/lw-bench-detect.XXXXXX)
cleanup() {
	bash "$repo/tests/lab/lab.sh" down >/dev/null 2>&1 || true
	rm -rf "$tmp" "$LW_LAB_DIR"
}
trap cleanup EXIT
bash "$repo/tests/lab/lab.sh" up >/dev/null
/usr/bin/python3 "$here/bench.py" "$build" "$LW_LAB_PREFIX" "$tmp"
