package dnsserver

import (
	"net"

	"github.com/miekg/dns"
)

// maxResponseSize is the largest answer the client of req takes: over TCP the
// largest DNS message; over UDP the buffer size the client advertises with EDNS
// (never less than 512, never more than maxUDP), 512 bytes without EDNS.
func maxResponseSize(req *dns.Msg, udp bool, maxUDP int) int {
	if !udp {
		return dns.MaxMsgSize
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
	}
	if size < dns.MinMsgSize {
		size = dns.MinMsgSize // RFC 6891 6.2.5: below 512 means 512
	}
	if size > maxUDP {
		size = maxUDP
	}
	return size
}

// fitResponse makes m fit in max bytes and reports whether it had to set the TC
// bit. It first packs uncompressed if that fits (cheapest), then compressed,
// then leaves out the additional records (glue: no TC needed, RFC 2181 9), and
// only then keeps as many whole answer records as fit and sets TC. A record is
// never cut, the OPT record is always kept, and the result is never larger than
// max.
func fitResponse(m *dns.Msg, max int) bool {
	m.Compress = false
	if m.Len() <= max {
		return false
	}
	m.Compress = true
	if m.Len() <= max {
		return false
	}
	// Keep only the OPT record of the additional section.
	var opt dns.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = rr
			break
		}
	}
	m.Extra = m.Extra[:0]
	if opt != nil {
		m.Extra = append(m.Extra, opt)
	}
	if m.Len() <= max {
		return false
	}
	m.Truncated = true
	// The authority section of a positive answer is optional; of a negative one
	// it is the SOA, which only a huge question can push out.
	if len(m.Answer) > 0 {
		m.Ns = nil
	}
	// Binary search for the largest number of whole answer records that fit.
	all := m.Answer
	lo, hi := 0, len(all) // lo fits (checked below), hi does not
	m.Answer = all[:0]
	if m.Len() > max {
		m.Ns = nil
		return true
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		m.Answer = all[:mid]
		if m.Len() <= max {
			lo = mid
		} else {
			hi = mid
		}
	}
	m.Answer = all[:lo]
	return true
}

// isUDPAddr reports whether a client address is a UDP one.
func isUDPAddr(a net.Addr) bool {
	_, ok := a.(*net.UDPAddr)
	return ok
}
