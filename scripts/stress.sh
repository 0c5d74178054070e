#!/usr/bin/env bash
# Runs the race-enabled test suite again and again with both cores kept busy,
# to find the tests that fail only sometimes before CI does. Reports every test
# that failed at least once, how often, and its first failure.
#
#   scripts/stress.sh                       # the whole suite (packages, then e2e) 5 times
#   RUNS=10 BUSY=2 scripts/stress.sh        # more runs; BUSY busy loops (0: none)
#   RUNS=1 COUNT=200 RUN='^TestEventsPerApp$' PKGS=./state/... scripts/stress.sh
#
# PKGS (go list patterns), RUN (-run) and COUNT (-count per run) narrow it.
# Logs stay in $OUT (default a new directory under /tmp), the e2e daemons' whole
# logs in $OUT/e2e-logs; exit 1 if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-5}
busy=${BUSY:-2}
count=${COUNT:-1}
pkgs=${PKGS:-./...}
run=${RUN:-}
out=${OUT:-$(mktemp -d /tmp/stress.XXXXXX)}
mkdir -p "$out/e2e-logs"
# The e2e harness keeps every daemon's whole log there, to study a failure.
export E2E_LOG_DIR=$out/e2e-logs

./scripts/install-deps.sh

busy_pids=()
stop_busy() {
  for pid in "${busy_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_busy EXIT
for _ in $(seq 1 "$busy"); do
  yes >/dev/null &
  busy_pids+=($!)
done

# The e2e package runs alone, as scripts/test.sh runs it.
mapfile -t all < <(go list $pkgs)
unit=(); e2e=()
for p in "${all[@]}"; do
  if [[ $p == */e2e ]]; then e2e+=("$p"); else unit+=("$p"); fi
done
runflag=(); [ -n "$run" ] && runflag=(-run "$run")

echo "== stress: $runs runs, $busy busy loops, -count=$count, ${#unit[@]} packages + ${#e2e[@]} e2e; logs in $out"
start=$(date +%s)
for i in $(seq 1 "$runs"); do
  log="$out/run-$i.log"
  t0=$(date +%s)
  set +e
  {
    [ ${#unit[@]} -gt 0 ] && go test -race -count="$count" -timeout 60m "${runflag[@]}" "${unit[@]}"
    [ ${#e2e[@]} -gt 0 ] && go test -race -count="$count" -p 1 -timeout 40m "${runflag[@]}" "${e2e[@]}"
  } >"$log" 2>&1
  set -e
  load=$(cut -d' ' -f1 /proc/loadavg)
  fails=$(grep -c -- '--- FAIL:' "$log" || true)
  pkgfails=$(grep -c '^FAIL' "$log" || true)
  echo "run $i: $(( $(date +%s) - t0 )) s, load $load, $fails failed tests, $pkgfails failed package lines"
done

echo "== summary ($runs runs, $(( $(date +%s) - start )) s)"
# A failing subtest also fails its parent: report the deepest names only.
failures=$(cat "$out"/run-*.log | sed -n 's/^ *--- FAIL: \([^ ]*\).*/\1/p' | sort | uniq -c | sort -rn)
panics=$(grep -l '^panic:\|^fatal error:\|WARNING: DATA RACE\|^FAIL.*\[build failed\]\|test timed out' "$out"/run-*.log || true)
if [ -z "$failures" ] && [ -z "$panics" ] && ! grep -q '^FAIL' "$out"/run-*.log; then
  echo "0 failed tests in $runs runs"
  exit 0
fi
[ -n "$failures" ] && { echo "failed tests (times failed):"; echo "$failures"; }
[ -n "$panics" ] && { echo "runs with a panic, race, build failure or timeout:"; echo "$panics"; }
echo "== first failure of each"
for name in $(echo "$failures" | awk '{print $2}'); do
  f=$(grep -l -- "--- FAIL: $name " "$out"/run-*.log | head -1)
  echo "-- $name ($f)"
  # go test prints a failed test's output indented under its FAIL line.
  awk -v n="$name" '
    index($0, "--- FAIL: " n " ") { on = 1; print; next }
    on && /^ *--- (FAIL|PASS|SKIP):/ { exit }
    on && /^(FAIL|ok|PASS)/ { exit }
    on { print }' "$f" | head -40
done
exit 1
