#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use: a real HAProxy, nginx, a real
# ZooKeeper (with its JRE), a JDK (the JVM client test), socat, dnsperf, wrk, dig, headless Chromium (for the
# status page test) and the Python modules marathon-lb's zdd.py imports (the
# zero-downtime deploy test runs it). Safe to run again; does nothing
# when everything is there.
set -euo pipefail

need=()
command -v haproxy >/dev/null || need+=(haproxy)
# nginx resolving a VIP name through discovery (e2e TestNginxVIP*).
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || need+=(zookeeper)
command -v java >/dev/null || need+=(default-jre-headless)
# The JVM client recipe's test (e2e TestJVM*) runs a Java source file: javac.
command -v javac >/dev/null || need+=(default-jdk-headless)
command -v socat >/dev/null || need+=(socat)
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v wrk >/dev/null || need+=(wrk)
command -v chromium >/dev/null || need+=(chromium)
command -v dig >/dev/null || need+=(dnsutils)
# docs/clients.md's dig and curl recipe (e2e TestDigCurlRecipe).
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
# The real marathon-lb (../shared/peers) runs in the routing differential and
# its zdd.py against discovery: Debian's python3 with its modules.
for mod in requests:python3-requests pycurl:python3-pycurl dateutil:python3-dateutil six:python3-six jwt:python3-jwt cryptography:python3-cryptography; do
  /usr/bin/python3 -c "import ${mod%%:*}" 2>/dev/null || need+=("${mod#*:}")
done

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    exit 0
  fi
  echo "install-deps: apt-get failed (attempt $attempt), retrying" >&2
  sleep $((attempt * 5))
done
echo "install-deps: could not install ${need[*]}" >&2
exit 1
