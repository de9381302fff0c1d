#!/usr/bin/env bash
# Runs every test: cmocka unit tests, libFuzzer harnesses (bounded), pytest
# system tests.  Last line: "N passed, N failed".  Exit non-zero on failure.
#   SAN_BUILD   build dir of the sanitizer build (default build-san)
#   FUZZ_BUILD  build dir holding fuzz/ (default build)
#   LW_TESTS    optional pytest -k expression to run a subset of system tests
#   FUZZ_SECONDS seconds per fuzz harness (default 10)
set -u
cd "$(dirname "$0")/.."
SAN_BUILD=${SAN_BUILD:-build-san}
FUZZ_BUILD=${FUZZ_BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
OUT=tests/out
mkdir -p "$OUT"
passed=0
failed=0
skipped=0
failures=()

# fast_unwind_on_malloc=0: librrd and others are built without frame pointers,
# and only full stacks let tests/lsan.supp recognise their internal caches.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:fast_unwind_on_malloc=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}

echo "== unit tests ($SAN_BUILD/tests)"
for t in "$SAN_BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log="$OUT/$name.log"
	"$t" >"$log" 2>&1
	rc=$?
	p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}')
	f=$(grep -Eo '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or sanitizer report
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures+=("$name")
		echo "FAIL $name (rc=$rc): see $log"
		tail -n 30 "$log" | sed 's/^/    /'
	else
		echo "ok   $name ($p)"
	fi
done

echo "== fuzz harnesses ($FUZZ_BUILD/fuzz, ${FUZZ_SECONDS}s each)"
for f in "$FUZZ_BUILD"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus="tests/fuzz/corpus/${name#fuzz_}"
	work="$OUT/fuzz-$name"
	rm -rf "$work"
	mkdir -p "$work"
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
	if "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1024 -artifact_prefix="$work/" \
		"$work" >"$OUT/$name.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "FAIL $name: see $OUT/$name.log"
		tail -n 30 "$OUT/$name.log" | sed 's/^/    /'
	fi
done

echo "== system tests (tests/system)"
if ls tests/system/test_*.py >/dev/null 2>&1; then
	args=(-q -rfEs --junitxml="$OUT/system.xml" -p no:cacheprovider)
	[ -n "${LW_TESTS:-}" ] && args+=(-k "$LW_TESTS")
	LW_BUILD="$SAN_BUILD" /usr/bin/python3 -m pytest "${args[@]}" tests/system 2>&1 | tee "$OUT/system.log"
	if [ -f "$OUT/system.xml" ]; then
		read -r sp sf ss < <(/usr/bin/python3 - "$OUT/system.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - sk, f, sk)
PY
)
		passed=$((passed + sp))
		failed=$((failed + sf))
		skipped=$((skipped + ss))
		[ "$sf" -gt 0 ] && failures+=("system tests: $sf")
	else
		failed=$((failed + 1))
		failures+=("pytest did not run")
	fi
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
