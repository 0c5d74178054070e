#!/usr/bin/env bash
# Checks the deployment files that cannot run here for real (no systemd as PID 1,
# no container engine): every JSON file parses; the Marathon app runs one instance
# per agent; systemd-analyze verifies the units (when installed) and they carry
# the hardening; the Containerfile has the expected shape; and each role's real
# command line (unit ExecStart + example config + environment file) renders a
# config and starts the daemon on loopback ports (with a real HAProxy for the load
# balancer roles, skipped when haproxy is not installed), then stops it.
#
# The checks are Go tests in this directory (deploy/*_test.go), so `go test ./...`
# runs them too; this script runs only them. Usage: deploy/check.sh [-v]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go test -count=1 "$@" ./deploy/
