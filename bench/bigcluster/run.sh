#!/bin/sh
# A 100,000-task simulated cluster from start to every record served, and the
# peak RSS on the way: discovery in its default mode (the Mesos event stream)
# and polling, and the real mesos-dns (the anchor), rounds alternating.
# Loopback only. See README.md.
#
#   bench/bigcluster/run.sh                      # RUNS=3 rounds of stream, poll, mesos-dns
#   RUNS=5 bench/bigcluster/run.sh -modes stream # flags go to the bench
set -eu
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/discovery" ./cmd/discovery
go build -o "$bin/bigcluster" ./bench/bigcluster
echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/bigcluster" -discovery "$bin/discovery" -runs "${RUNS:-3}" "$@"
echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
