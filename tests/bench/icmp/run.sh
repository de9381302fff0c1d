#!/bin/bash
# icmp probe benchmark (make bench; not a test): linewatchd vs fping on N lab
# targets at one echo per target per second.  CPU seconds per 1000 echoes of
# each and their ratio, and whether the RTT medians agree.  Needs root.
#   tests/bench/icmp/run.sh [BUILD_DIR]      (default build)
#   BENCH_ICMP_TARGETS=250 BENCH_ICMP_SECONDS=60 BENCH_ICMP_RTT_SECONDS=20
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=$(cd "$repo" && realpath "${1:-build}")
[ -x "$build/linewatchd" ] && [ -e "$build/plugins/icmp.so" ] ||
	{ echo "icmp bench: build first (make all)" >&2; exit 1; }
command -v fping >/dev/null || { echo "icmp bench: fping missing (make deps)" >&2; exit 1; }
command -v rrdcached >/dev/null || { echo "icmp bench: rrdcached missing (make deps)" >&2; exit 1; }
export LW_LAB_PREFIX=lwbi$$
export LW_LAB_PREFIX=${LW_LAB_PREFIX:0:10}
export LW_LAB_DIR=/tmp/lw-lab-$LW_LAB_PREFIX
tmp=$(mktemp -d /tmp/lw-bench-icmp.XXXXXX)
cleanup() {
	bash "$repo/tests/lab/lab.sh" down >/dev/null 2>&1 || true
	rm -rf "$tmp" "$LW_LAB_DIR"
}
trap cleanup EXIT
# the plugin alone, on an event loop, for the plugin's own share of the cost
cc -O2 -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE \
	-I"$repo/daemon" $(pkg-config --cflags libevent) -rdynamic -o "$tmp/driver" \
	"$here/driver.c" "$repo/daemon/log.c" $(pkg-config --libs libevent) -ldl \
	-Wl,--no-as-needed -lm
bash "$repo/tests/lab/lab.sh" up >/dev/null
/usr/bin/python3 "$here/bench.py" "$build" "$LW_LAB_PREFIX" "$tmp/driver"
