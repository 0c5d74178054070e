#!/usr/bin/env bash
# Builds a release: static linux/amd64 and linux/arm64 binaries stamped with the
# version and commit, a .deb and an .rpm of each (binary, systemd units, example
# configs and environment files, templates directory, docs), and SHA256SUMS.
#
#   scripts/release.sh                      # everything, into dist/
#   VERSION=1.2.0 scripts/release.sh        # the version to stamp (default: 0.1.0~git<date>.<commit>)
#   ARCHES=amd64 FORMATS=deb OUT=/tmp/d scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
version=${VERSION:-0.1.0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).$commit}
arches=${ARCHES:-amd64 arm64}
formats=${FORMATS:-deb,rpm}
out=${OUT:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Completion scripts come from the flags themselves (the same on every arch).
mkdir -p "$out/completions"
go run ./cmd/discovery completion bash >"$out/completions/discovery.bash"
go run ./cmd/discovery completion zsh >"$out/completions/_discovery"

for arch in $arches; do
  bin="$out/discovery-linux-$arch"
  # Static (no cgo), reproducible paths, the version and commit stamped in.
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
    -o "$bin" ./cmd/discovery
  (cd release && go run . -version "$version" -arch "$arch" -binary "$bin" -root .. -out "$out" -formats "$formats" -completions "$out/completions")
done
echo "release $version ($commit) in $out:"
cat "$out/SHA256SUMS"
