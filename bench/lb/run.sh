#!/bin/sh
# Drives wrk through a real HAProxy managed by lbsync to real HTTP backends on
# 127.0.0.x while 1,000 scale events (Runtime API) and 50 structural changes
# (reloads) happen, and reports the failed requests (target: 0) and how long
# changes took to reach HAProxy. Needs haproxy and wrk in PATH; loopback only.
#
#   bench/lb/run.sh [lbchurn flags…]     e.g. -scale 200 -structural 10
set -eu
cd "$(dirname "$0")/../.."
command -v haproxy >/dev/null || { echo "haproxy is not installed" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/lbchurn" ./bench/lb/lbchurn
"$bin/lbchurn" -scale 1000 -structural 50 "$@"
