package dnsserver

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// DefaultForwardFrom are the client networks whose queries for names outside
// the domain are forwarded when the configuration names none: loopback, the
// private networks (RFC 1918, RFC 6598 shared space, IPv6 unique local) and
// link-local. A server reachable from the internet then answers strangers
// only for its own domain, instead of being an open resolver (mesos-dns
// forwarded for everyone).
var DefaultForwardFrom = []string{
	"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
	"::1/128", "fc00::/7", "fe80::/10",
}

// ParseClientNetworks parses a list of CIDR prefixes or single addresses
// ("10.0.0.0/8", "192.0.2.7", "::/0").
func ParseClientNetworks(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a network (10.0.0.0/8) nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// allows reports whether queries from client may be forwarded.
func (f *Forwarder) allows(client netip.Addr) bool {
	if f.from == nil {
		return true
	}
	client = client.Unmap()
	for _, p := range f.from {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// clientAddr is the address of a miekg/dns client ({} when unknown, which no
// network contains).
func clientAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr()
	case *net.TCPAddr:
		return a.AddrPort().Addr()
	}
	return netip.Addr{}
}
