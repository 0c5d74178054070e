//go:build linux

package dnsserver

import (
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestReplySourceOOB(t *testing.T) {
	// What the kernel reports for an IPv4 query to 127.0.0.7 on interface 1.
	in := make([]byte, 128)
	o := putCmsgHeader(in, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
	pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&o[unix.CmsgLen(0)]))
	pi.Ifindex = 1
	pi.Spec_dst = [4]byte{127, 0, 0, 7}
	pi.Addr = [4]byte{127, 0, 0, 7}
	out := replySourceOOB(in[:len(o)], make([]byte, 64))
	if out == nil {
		t.Fatal("no reply control message for IP_PKTINFO")
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&out[0]))
	got := (*unix.Inet4Pktinfo)(unsafe.Pointer(&out[unix.CmsgLen(0)]))
	if h.Level != unix.IPPROTO_IP || h.Type != unix.IP_PKTINFO || got.Spec_dst != [4]byte{127, 0, 0, 7} || got.Ifindex != 0 {
		t.Errorf("reply cmsg %+v %+v", h, got)
	}

	// IPv6, after an unrelated control message.
	in = make([]byte, 128)
	first := putCmsgHeader(in, unix.SOL_SOCKET, unix.SO_TIMESTAMP, 16)
	o = putCmsgHeader(in[len(first):], unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
	pi6 := (*unix.Inet6Pktinfo)(unsafe.Pointer(&o[unix.CmsgLen(0)]))
	pi6.Addr = netip.MustParseAddr("fe80::1").As16()
	pi6.Ifindex = 3
	out = replySourceOOB(in[:len(first)+len(o)], make([]byte, 64))
	if out == nil {
		t.Fatal("no reply control message for IPV6_PKTINFO")
	}
	got6 := (*unix.Inet6Pktinfo)(unsafe.Pointer(&out[unix.CmsgLen(0)]))
	if got6.Addr != pi6.Addr || got6.Ifindex != 3 {
		t.Errorf("reply in6_pktinfo %+v", got6)
	}

	// Nothing usable, or garbage: no control message.
	if replySourceOOB(first, make([]byte, 64)) != nil {
		t.Error("a reply source from an unrelated control message")
	}
	if replySourceOOB([]byte{200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 64)) != nil {
		t.Error("a reply source from a malformed control message")
	}
}
