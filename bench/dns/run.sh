#!/usr/bin/env bash
# DNS throughput benchmark (issues 3 and 16): the discovery DNS server with a
# generated cluster loaded, against Knot DNS and NSD serving the same records —
# exported from discovery's own /v1/axfr into a zone file — measured in the
# same run. Each server runs alone on SERVER_CPU (GOMAXPROCS=1, one UDP worker
# for Knot, one server process for NSD, its rate limiting off); dnsperf runs on
# PERF_CPU. Rounds alternate the servers so that machine noise hits them alike.
#
# usage: bench/dns/run.sh            (TASKS=10000 DURATION=15 ROUNDS=3
#                                     SERVERS="discovery knot nsd"; add "fixed"
#                                     for a miekg/dns server answering every
#                                     query with one fixed record)
# Prints qps per round, the best of each server, and discovery's ratio to each
# other server: best against best, and the median of the per-round ratios.
# Installs knot, nsd and dnsperf with apt-get when they are missing (as root).
set -euo pipefail

TASKS=${TASKS:-10000}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
PERF_CPU=${PERF_CPU:-1}
CLIENTS=${CLIENTS:-8}
OUTSTANDING=${OUTSTANDING:-200}
SERVERS=${SERVERS:-discovery knot nsd}

root=$(cd "$(dirname "$0")/../.." && pwd)
genstate=${GENSTATE:-$root/../shared/tools/genstate.py}
work=$(mktemp -d)
pid=
cleanup() {
	if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
[[ " $SERVERS " == *" knot "* ]] && ! command -v knotd >/dev/null && need+=(knot)
[[ " $SERVERS " == *" nsd "* ]] && ! command -v nsd >/dev/null && need+=(nsd)
if ((${#need[@]})); then
	echo "installing ${need[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

python3 "$genstate" "$TASKS" >"$work/state.json"
python3 "$root/bench/dns/querymix.py" "$work/state.json" >"$work/queries.txt"
(cd "$root" && go build -o "$work/dnsbench" ./bench/dns/dnsbench && go build -o "$work/fixedserver" ./bench/dns/fixedserver &&
	go build -o "$work/discovery" ./cmd/discovery && go build -o "$work/samecheck" ./bench/dns/samecheck)

# freeport prints a free TCP and UDP port on 127.0.0.1.
freeport() {
	python3 -c 'import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: u.close(); t.close()'
}

# The zone: discovery follows the state file and serves /v1/axfr; the
# records it serves become the zone Knot and NSD load.
hport=$(freeport)
"$work/discovery" -stateFile "$work/state.json" -dnson=false -httpListener=127.0.0.1 -httpport="$hport" \
	-logFormat=json -maxStateBytes=1073741824 >"$work/discovery.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
	if curl -sf "http://127.0.0.1:$hport/v1/axfr" -o "$work/axfr.json" && grep -q '"SRVs": {' "$work/axfr.json"; then break; fi
	kill -0 "$pid" 2>/dev/null || { cat "$work/discovery.log" >&2; exit 1; }
	sleep 0.1
done
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
python3 "$root/bench/dns/axfr2zone.py" "$work/axfr.json" >"$work/mesos.zone"
echo "zone: $(grep -c ' IN ' "$work/mesos.zone") records from /v1/axfr"

mkdir -p "$work/knot" "$work/nsd"

# start NAME: starts server NAME pinned to SERVER_CPU on a free port and waits
# (with a deadline) until it answers; sets pid and addr.
start() {
	local name=$1 port
	port=$(freeport)
	addr=127.0.0.1:$port
	case $name in
	discovery)
		GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$work/dnsbench" -state "$work/state.json" -addr "$addr" >/dev/null 2>"$work/$name.err" &
		;;
	fixed)
		GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$work/fixedserver" -addr "$addr" >/dev/null 2>"$work/$name.err" &
		;;
	knot)
		rm -rf "$work/knot"/*
		cat >"$work/knot.conf" <<-EOF
			server:
			    listen: 127.0.0.1@$port
			    rundir: $work/knot
			    pidfile: $work/knot/knot.pid
			    udp-workers: 1
			    tcp-workers: 1
			    background-workers: 1
			database:
			    storage: $work/knot
			log:
			  - target: stderr
			    any: error
			zone:
			  - domain: mesos
			    file: $work/mesos.zone
			    storage: $work/knot
			    zonefile-sync: -1
			    journal-content: none
		EOF
		taskset -c "$SERVER_CPU" knotd -c "$work/knot.conf" >/dev/null 2>"$work/$name.err" &
		;;
	nsd)
		rm -rf "$work/nsd"/*
		cat >"$work/nsd.conf" <<-EOF
			server:
			    ip-address: 127.0.0.1@$port
			    server-count: 1
			    username: ""
			    chroot: ""
			    zonesdir: "$work/nsd"
			    database: ""
			    zonelistfile: "$work/nsd/zone.list"
			    xfrdfile: "$work/nsd/xfrd.state"
			    xfrdir: "$work/nsd"
			    pidfile: "$work/nsd/nsd.pid"
			    logfile: "$work/nsd/nsd.log"
			    verbosity: 0
			    minimal-responses: yes
			    rrl-ratelimit: 0
			    rrl-whitelist-ratelimit: 0
			remote-control:
			    control-enable: no
			zone:
			    name: mesos
			    zonefile: $work/mesos.zone
		EOF
		taskset -c "$SERVER_CPU" nsd -d -c "$work/nsd.conf" >/dev/null 2>"$work/$name.err" &
		;;
	esac
	pid=$!
	for _ in $(seq 1 300); do
		if "$work/samecheck" -probe "$addr" 2>/dev/null; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then cat "$work/$name.err" >&2; exit 1; fi
		sleep 0.1
	done
	echo "$name did not start" >&2
	exit 1
}

stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

# perf: runs dnsperf pinned to PERF_CPU against $addr and prints the qps and
# the queries lost.
perf() {
	local host=${addr%:*} port=${addr##*:}
	taskset -c "$PERF_CPU" dnsperf -s "$host" -p "$port" -d "$work/queries.txt" -l "$DURATION" \
		-c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t 2 >"$work/perf.out" 2>&1
	awk '/Queries per second/ {q=int($4)} /Queries lost/ {l=$3} END {print q, l}' "$work/perf.out"
}

# The servers answer the same questions alike (answers, rcode): checked
# once, against discovery, before measuring.
if [[ " $SERVERS " == *" discovery "* ]]; then
	declare -a others=() spids=()
	for s in $SERVERS; do
		[[ $s == discovery || $s == fixed ]] && continue
		start "$s"; others+=("$s=$addr"); spids+=("$pid"); pid=
	done
	start discovery
	"$work/samecheck" -queries "$work/queries.txt" -n 2000 "discovery=$addr" "${others[@]}"
	stop
	for p in "${spids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
fi

declare -A best results
echo "tasks=$TASKS duration=${DURATION}s rounds=$ROUNDS servers: $SERVERS; server cpu $SERVER_CPU, dnsperf cpu $PERF_CPU, load average $(cut -d" " -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
	line="round $round:"
	for s in $SERVERS; do
		start "$s"
		read -r q lost < <(perf)
		stop
		line+=" $s $q qps (lost $lost),"
		results[$s]+="$q "
		((q > ${best[$s]:-0})) && best[$s]=$q
	done
	echo "${line%,}"
done
summary="best:"
for s in $SERVERS; do summary+=" $s ${best[$s]},"; done
echo "${summary%,}"
for s in $SERVERS; do
	[[ $s == discovery ]] && continue
	python3 - "${results[discovery]}" "${results[$s]}" "$s" <<-'EOF'
		import statistics, sys
		d = [int(x) for x in sys.argv[1].split()]
		o = [int(x) for x in sys.argv[2].split()]
		per = [a / b for a, b in zip(d, o)]
		print(f"discovery / {sys.argv[3]}: best {max(d) / max(o):.3f}, median per-round ratio {statistics.median(per):.3f}, per round {' '.join(f'{r:.3f}' for r in per)}")
	EOF
done
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
