package main

import (
	"net"
	"net/netip"
	"testing"
)

func TestVIPListenCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := netip.MustParseAddrPort(ln.Addr().String())
	if err := vipListenCheck(taken); err == nil {
		t.Errorf("%v is held by another socket, the check passed", taken)
	}
	// A wildcard listener without SO_REUSEPORT holds the port on every
	// address, as sshd's 0.0.0.0:22 does.
	wild, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	port := uint16(wild.Addr().(*net.TCPAddr).Port)
	if err := vipListenCheck(netip.AddrPortFrom(netip.MustParseAddr("127.200.0.9"), port)); err == nil {
		t.Errorf("port %d is held on every address, the check passed", port)
	}
	if err := vipListenCheck(netip.MustParseAddrPort("192.0.2.1:80")); err == nil {
		t.Error("192.0.2.1 (TEST-NET-1) is not on this host, the check passed")
	}
	free := netip.AddrPortFrom(netip.MustParseAddr("127.200.0.9"), 0)
	if err := vipListenCheck(free); err != nil {
		t.Errorf("a free loopback address: %v", err)
	}
}
