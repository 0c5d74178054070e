#!/usr/bin/env bash
# DNS throughput benchmark (issue 3): the discovery DNS server with a generated
# cluster loaded, against a trivial miekg/dns server that answers every query
# with one fixed record, measured in the same run. Each server runs alone on
# SERVER_CPU with GOMAXPROCS=1; dnsperf runs on PERF_CPU. Rounds alternate the two
# servers so that machine noise hits both alike.
#
# usage: bench/dns/run.sh            (TASKS=10000 DURATION=15 ROUNDS=3)
# Prints qps per round with its ratio, the best of each, their ratio, and the
# median per-round ratio (discovery/fixed).
set -euo pipefail

TASKS=${TASKS:-10000}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
PERF_CPU=${PERF_CPU:-1}
CLIENTS=${CLIENTS:-8}
OUTSTANDING=${OUTSTANDING:-200}

root=$(cd "$(dirname "$0")/../.." && pwd)
genstate=${GENSTATE:-$root/../shared/tools/genstate.py}
work=$(mktemp -d)
pid=
cleanup() {
	if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

command -v dnsperf >/dev/null || { echo "dnsperf is not installed (apt-get install dnsperf)" >&2; exit 1; }
python3 "$genstate" "$TASKS" >"$work/state.json"
python3 "$root/bench/dns/querymix.py" "$work/state.json" >"$work/queries.txt"
(cd "$root" && go build -o "$work/dnsbench" ./bench/dns/dnsbench && go build -o "$work/fixedserver" ./bench/dns/fixedserver)

# start NAME CMD... : starts a server pinned to SERVER_CPU and waits (with a
# deadline) for the address it prints once it answers.
start() {
	local name=$1; shift
	: >"$work/$name.addr"
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$@" >"$work/$name.addr" 2>"$work/$name.err" &
	pid=$!
	for _ in $(seq 1 300); do
		if [[ -s $work/$name.addr ]]; then addr=$(head -1 "$work/$name.addr"); return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then cat "$work/$name.err" >&2; exit 1; fi
		sleep 0.1
	done
	echo "$name did not start" >&2
	exit 1
}

stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

# perf: runs dnsperf pinned to PERF_CPU against $addr and prints the qps.
perf() {
	local host=${addr%:*} port=${addr##*:}
	taskset -c "$PERF_CPU" dnsperf -s "$host" -p "$port" -d "$work/queries.txt" -l "$DURATION" \
		-c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t 2 >"$work/perf.out" 2>&1
	awk '/Queries per second/ {q=int($4)} /Queries lost/ {l=$3} END {print q, l}' "$work/perf.out"
}

best_d=0; best_f=0; ratios=()
echo "tasks=$TASKS duration=${DURATION}s rounds=$ROUNDS server cpu $SERVER_CPU, dnsperf cpu $PERF_CPU, load average $(cut -d" " -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
	start discovery "$work/dnsbench" -state "$work/state.json" -addr 127.0.0.1:0
	read -r d dl < <(perf); stop
	start fixed "$work/fixedserver" -addr 127.0.0.1:0
	read -r f fl < <(perf); stop
	echo "round $round: discovery $d qps (lost $dl), fixed-answer miekg/dns $f qps (lost $fl), ratio $(python3 -c "print(f'{$d/$f:.3f}')")"
	ratios+=("$d/$f")
	((d > best_d)) && best_d=$d
	((f > best_f)) && best_f=$f
done
ratio=$(python3 -c "print(f'{$best_d/$best_f:.3f}')")
joined=$(IFS=,; echo "${ratios[*]}")
median=$(python3 -c "import statistics; print(f'{statistics.median([$joined]):.3f}')")
echo "best: discovery $best_d qps, fixed-answer miekg/dns $best_f qps, ratio $ratio; median per-round ratio $median"
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
