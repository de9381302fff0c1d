#!/usr/bin/env bash
# make bench: every benchmark, each side by side with its peer tool on the same
# input in the same run, printing both figures and the ratio.  Not a test:
# nothing here asserts on timing.
#   tests/bench/run.sh [BUILD_DIR]        LW_BENCH=snmp,icmp  runs a subset
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
only=${LW_BENCH:-}
status=0
for b in tests/bench/*/run.sh; do
	name=$(basename "$(dirname "$b")")
	if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then
		continue
	fi
	echo "=================== bench: $name ==================="
	if ! bash "$b" "$BUILD"; then
		echo "bench $name: FAILED (exit $?)"
		status=1
	fi
done
exit $status
