#!/usr/bin/env bash
# Builds the .deb, installs it (dpkg -i as root; otherwise unpacks it into a
# scratch root), and runs the installed binary: `version`, and `check -offline`
# on each role's real command line as its installed unit would run it (the
# unit's ExecStart with the shipped example config and /etc/default file). Run by
# scripts/test.sh; a problem in the package or its shipped files fails it.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ARCHES=amd64 FORMATS=deb OUT="$work/dist" ./scripts/release.sh >"$work/release.log" 2>&1 || { cat "$work/release.log"; exit 1; }
(cd "$work/dist" && sha256sum --quiet -c SHA256SUMS)
deb=$(ls "$work"/dist/*.deb)

if [ "$(id -u)" -eq 0 ] && command -v dpkg >/dev/null; then
  dpkg -i "$deb" >/dev/null
  root=""
  echo "installed $(dpkg-query -W -f '${Package} ${Version}' discovery) with dpkg -i"
else
  root="$work/root"
  dpkg-deb -x "$deb" "$root"
  echo "not root: unpacked $(basename "$deb") into $root"
fi
bin="$root/usr/bin/discovery"
"$bin" version | grep -q "^discovery 0.1.0~git.* (commit [0-9a-f]*)$" || { echo "version: $("$bin" version)"; exit 1; }
echo "ok: $("$bin" version)"

# A certificate for the load balancer roles' --ssl-certs (the unit's credential).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=discovery \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" >"$work/haproxy.pem"

check_role() {
  local unit=$1 config=$2 envfile=$3
  local exec
  # ExecStart with its continuation lines, as one command line.
  exec=$(awk '/^ExecStart=/ { on = 1; sub(/^ExecStart=/, "") }
    on { more = sub(/\\$/, ""); printf "%s ", $0; if (!more) exit }' "$root/lib/systemd/system/$unit")
  DISCOVERY_ARGS=""
  # shellcheck disable=SC1090
  . "$root/etc/default/$envfile"
  exec=${exec//%d\/config.json/$root/usr/share/discovery/examples/$config}
  exec=${exec//%d\/haproxy.pem/$work/haproxy.pem}
  exec=${exec//\/var\/lib\/discovery\/haproxy.cfg/$work/haproxy.cfg}
  exec=${exec//\/etc\/discovery\/templates/$root/etc/discovery/templates}
  exec=${exec//\$DISCOVERY_ARGS/$DISCOVERY_ARGS}
  # shellcheck disable=SC2086
  set -- $exec
  shift # the binary: the installed one runs
  echo "-- $unit with $config: discovery check -offline $*"
  "$bin" check -offline "$@"
}
check_role discovery-dns.service dns.json discovery-dns
check_role discovery-lb.service lb.json discovery-lb
check_role discovery.service both.json discovery
echo "== package: built, installed, version and check passed"
