//go:build !linux

package main

import "net/netip"

// vipListenCheck checks nothing off Linux: HAProxy meets any bind failure.
func vipListenCheck(netip.AddrPort) error { return nil }
