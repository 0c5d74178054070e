#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 60s) and prints a Markdown table of
# what each tried: executions, inputs that found new coverage, and the corpus
# they ended with. The README's "Hostile input" figures come from it.
#
# usage: scripts/fuzz-table.sh            (FUZZTIME=60s FUZZPARALLEL=2)
# A target that finds a crash fails the script; go test writes the input under
# the package's testdata/fuzz/<target>/, where it stays as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
parallel=${FUZZPARALLEL:-2}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "| package | target | time | executions | new coverage inputs | corpus | seeds kept |"
echo "|---|---|---|---|---|---|---|"
for entry in $(go list -f '{{.ImportPath}}={{.Dir}}' ./...); do
  pkg=${entry%%=*}
  dir=${entry#*=}
  targets=$( (grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null || true) | sed 's/^func //' | sort -u)
  for target in $targets; do
    ok=0
    for _ in 1 2; do
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s \
        -parallel "$parallel" "$pkg" >"$log" 2>&1; then
        ok=1; break
      fi
      # Go 1.26's coordinator deadline race (golang/go#75804): nothing found, try again.
      grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written\|panic:\|_test.go:[0-9]*:' "$log" || break
    done
    if [ "$ok" -eq 0 ]; then
      cat "$log" >&2
      echo "FAIL: $pkg $target found a failing input (kept under $dir/testdata/fuzz/$target)" >&2
      exit 1
    fi
    # fuzz: elapsed: 1m0s, execs: 123456 (2057/sec), new interesting: 12 (total: 40)
    last=$( (grep "fuzz: elapsed" "$log" || true) | tail -1)
    execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
    newi=$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$last")
    total=$(sed -n 's/.*(total: \([0-9]*\)).*/\1/p' <<<"$last")
    seeds=$( (ls "$dir/testdata/fuzz/$target" 2>/dev/null || true) | wc -l)
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${pkg#github.com/discovery-mesos/discovery/}" "$target" \
      "$fuzztime" "${execs:-0}" "${newi:-0}" "${total:-0}" "$seeds"
  done
done
