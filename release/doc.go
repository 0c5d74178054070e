// Command release packages a built discovery binary as a .deb and an .rpm:
// the binary, the systemd units, the example configs and environment files,
// the templates directory and the docs, laid out as Debian and Red Hat
// operators expect them. scripts/release.sh builds the binaries and calls it.
//
// It is a module of its own so that the daemon's module does not carry the
// packaging library (github.com/goreleaser/nfpm/v2, chosen because it writes
// both formats from one description in Go, with no dpkg-deb or rpmbuild on the
// build machine).
package main
