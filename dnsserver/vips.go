package dnsserver

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/vips"
)

// VIPTTL is the TTL of VIP records: long, since a name's address never
// changes while the name exists (it is derived from the name).
const VIPTTL = 300

// VIPSubdomain is where our own VIP names live under the domain:
// <name>.<framework>.vip.<domain>, beside DC/OS's
// <name>.<framework>.l4lb.thisdcos.directory.
const VIPSubdomain = "vip"

// VIPSource gives the VIP names to answer: the ones whose listeners run.
// Nil, or a nil table, answers none.
type VIPSource interface {
	LoadVIPs() *VIPTable
}

// VIPTable answers the names of a set of named VIPs: A (or AAAA) with the
// VIP's address and SRV with its ports (target the name itself). It is built
// whole and never changed; the daemon swaps in a new one when the set of
// VIPs whose listeners run changes.
type VIPTable struct {
	names map[string]*vipRecords
	list  []vips.VIP
}

type vipRecords struct {
	addr  []dns.RR // one A or AAAA
	srv   []dns.RR // one per port, by port
	owner string
}

// NewVIPTable returns the table of the named VIPs of vs (address VIPs have no
// name) under DC/OS's zone and under vip.<domain>.
func NewVIPTable(vs []vips.VIP, domain string) *VIPTable {
	t := &VIPTable{names: map[string]*vipRecords{}, list: slices.Clone(vs)}
	domain = strings.ToLower(dns.Fqdn(strings.Trim(domain, ".")))
	for i := range vs {
		v := &vs[i]
		if v.DNSName == "" {
			continue
		}
		for _, owner := range []string{v.DNSName + "." + vips.Zone, v.DNSName + "." + VIPSubdomain + "." + domain} {
			owner = strings.ToLower(owner)
			r := t.names[owner]
			if r == nil {
				r = &vipRecords{owner: owner, addr: []dns.RR{addrRR(owner, v.Addr)}}
				t.names[owner] = r
			}
			r.srv = append(r.srv, &dns.SRV{
				Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: VIPTTL},
				Target: owner, Port: v.Port, Priority: 0, Weight: 1,
			})
		}
	}
	for _, r := range t.names {
		slices.SortFunc(r.srv, func(a, b dns.RR) int { return int(a.(*dns.SRV).Port) - int(b.(*dns.SRV).Port) })
	}
	return t
}

func addrRR(owner string, a netip.Addr) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: VIPTTL}, A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: VIPTTL}, AAAA: a.AsSlice()}
}

// VIPs returns the VIPs the table was built from.
func (t *VIPTable) VIPs() []vips.VIP {
	if t == nil {
		return nil
	}
	return t.list
}

// Len is the number of names the table answers.
func (t *VIPTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.names)
}

// Lookup is lookup for callers outside the package (the daemon's tests).
func (t *VIPTable) Lookup(qname string, qtype uint16) (answer, extra []dns.RR, found bool) {
	return t.lookup(qname, qtype)
}

// lookup returns the records of qname for qtype: found is false when the
// name is not a VIP's (the caller goes on with the record table or the
// forwarder). A VIP name asked for another type is found with no answer
// (NODATA). The slices are shared: callers copy them before changing them.
// has reports whether t answers name, given lower-case and fully qualified.
func (t *VIPTable) has(name []byte) bool {
	if t == nil || len(t.names) == 0 {
		return false
	}
	_, ok := t.names[string(name)]
	return ok
}

func (t *VIPTable) lookup(qname string, qtype uint16) (answer, extra []dns.RR, found bool) {
	if t == nil || len(t.names) == 0 {
		return nil, nil, false
	}
	var buf [maxName + 1]byte
	n, ok := lowerFQDN(&buf, qname)
	if !ok {
		return nil, nil, false
	}
	r := t.names[string(buf[:n])]
	if r == nil {
		return nil, nil, false
	}
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		if r.addr[0].Header().Rrtype == qtype {
			return r.addr, nil, true
		}
	case dns.TypeSRV:
		return r.srv, r.addr, true
	case dns.TypeANY:
		return r.addr, nil, true
	}
	return nil, nil, true
}

// answerVIP fills qc.resp with a VIP name's records: authoritative, NODATA
// when the name has none of the type asked.
func answerVIP(qc *queryCtx, q *dns.Question, ans, extra []dns.RR) {
	resp := &qc.resp
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		return
	}
	resp.Authoritative = true
	qc.vipAns = append(qc.vipAns[:0], ans...)
	resp.Answer = qc.vipAns
	if len(extra) > 0 {
		qc.vipExtra = append(append(qc.vipExtra[:0], resp.Extra...), extra...)
		resp.Extra = qc.vipExtra
	}
}
