//go:build linux

package dnsserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A socket bound to a wildcard address (mesos-dns's default listener 0.0.0.0)
// must answer from the address each query was sent to, or clients on a host
// with several addresses drop the answer. The kernel reports that address with
// IP_PKTINFO / IPV6_PKTINFO on every packet read, and takes it back as the
// source of the reply; this is what miekg/dns's server does with its session
// objects, done here without allocating.

const pktinfoSupported = true

// enablePktinfo asks the kernel to report the destination address of every
// packet read from c.
func enablePktinfo(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("pktinfo: %w", err)
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		domain, e := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		if e != nil {
			serr = e
			return
		}
		if domain == unix.AF_INET6 {
			// A dual-stack socket reports IPv4 packets as IPv4-mapped IPv6.
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("pktinfo: %w", err)
	}
	return nil
}

// replySourceOOB turns the control messages read with a query (in) into the
// control message that sends the reply from the query's destination address,
// written into out. It returns nil when in reports no destination.
func replySourceOOB(in, out []byte) []byte {
	hdr := unix.CmsgLen(0)
	for len(in) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&in[0]))
		l := int(h.Len)
		if l < hdr || l > len(in) {
			return nil
		}
		data := in[hdr:l]
		switch {
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// in6_pktinfo{addr [16]byte; ifindex uint32}: send from addr on the
			// same interface (link-local addresses need it).
			o := putCmsgHeader(out, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
			copy(o[unix.CmsgLen(0):], data[:unix.SizeofInet6Pktinfo])
			return o
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// in_pktinfo{ifindex int32; spec_dst, addr [4]byte}: send with
			// spec_dst = the packet's destination, any interface.
			o := putCmsgHeader(out, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
			d := o[unix.CmsgLen(0):]
			binary.NativeEndian.PutUint32(d[0:4], 0)
			copy(d[4:8], data[8:12])
			clear(d[8:12])
			return o
		}
		in = in[min(len(in), unix.CmsgSpace(l-hdr)):]
	}
	return nil
}

// putCmsgHeader writes a control message header for dataLen bytes of data at
// the start of out and returns the whole message's space.
func putCmsgHeader(out []byte, level, typ int32, dataLen int) []byte {
	o := out[:unix.CmsgSpace(dataLen)]
	clear(o)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&o[0]))
	h.Level = level
	h.Type = typ
	h.SetLen(unix.CmsgLen(dataLen))
	return o
}
