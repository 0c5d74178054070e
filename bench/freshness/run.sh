#!/bin/sh
# Freshness of discovery on a simulated 10,000-task cluster: change → DNS and
# change → HAProxy latency, and the master-side cost, for the Mesos event
# stream, Marathon events and polling. Runs the real discovery binary and a
# real HAProxy; loopback only. See README.md.
#
#   bench/freshness/run.sh                  # stream, marathon, then poll (refresh 5 s)
#   bench/freshness/run.sh stream -changes 400
#   bench/freshness/run.sh stream -pin 0:1      # discovery+HAProxy on CPU 0, the bench on CPU 1
set -eu
cd "$(dirname "$0")/../.."
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { echo "haproxy is not installed" >&2; exit 2; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/discovery" ./cmd/discovery
go build -o "$bin/freshness" ./bench/freshness
if [ $# -gt 0 ]; then
	mode=$1; shift
	"$bin/freshness" -discovery "$bin/discovery" -mode "$mode" "$@"
	exit
fi
uptime
"$bin/freshness" -discovery "$bin/discovery" -mode stream
"$bin/freshness" -discovery "$bin/discovery" -mode marathon
"$bin/freshness" -discovery "$bin/discovery" -mode poll -refresh 5 -changes 24
go test -run '^$' -bench Freshness -benchtime 200x ./bench/freshness
