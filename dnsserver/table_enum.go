package dnsserver

import (
	"iter"
	"net"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/state"
)

// All yields every record of the table as a fresh RR: the SOA first, then the
// NS, then A, AAAA and SRV records name by name (in build order). It is meant
// for zone transfers and dumps, not the query path: each RR is allocated.
func (t *Table) All() iter.Seq[dns.RR] {
	return func(yield func(dns.RR) bool) {
		if !yield(dns.Copy(t.soa)) || !yield(dns.Copy(t.ns)) {
			return
		}
		for i := range uint32(t.nodeCount()) {
			nd := t.nodes.at(i)
			name := t.nodeName(i)
			for _, rr := range t.nodeRRs(name, nd) {
				if !yield(rr) {
					return
				}
			}
		}
	}
}

// nodeRRs returns fresh RRs for the records of one node.
func (t *Table) nodeRRs(name string, nd *node) []dns.RR {
	n := int(nd.a4Len + nd.a6Len + nd.srvLen)
	if n == 0 {
		return nil
	}
	out := make([]dns.RR, 0, n)
	for _, a := range t.a4Of(nd) {
		out = append(out, &dns.A{
			Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: t.cfg.TTL},
			A:   net.IPv4(a[0], a[1], a[2], a[3]).To4(),
		})
	}
	for _, a := range t.a6Of(nd) {
		ip := make(net.IP, 16)
		copy(ip, a[:])
		out = append(out, &dns.AAAA{
			Hdr:  dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: t.cfg.TTL},
			AAAA: ip,
		})
	}
	for _, s := range t.srvOf(nd) {
		out = append(out, &dns.SRV{
			Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: t.cfg.TTL},
			Weight: t.cfg.SRVRecordDefaultWeight,
			Port:   s.port,
			Target: t.nodeName(s.target),
		})
	}
	return out
}

// addrs returns the A then AAAA addresses of the lowercase FQDN name.
func (t *Table) addrs(name string) []netip.Addr {
	idx, ok := t.find(name)
	if !ok {
		return nil
	}
	nd := t.nodes.at(idx)
	out := make([]netip.Addr, 0, nd.a4Len+nd.a6Len)
	for _, a := range t.a4Of(nd) {
		out = append(out, netip.AddrFrom4(a))
	}
	for _, a := range t.a6Of(nd) {
		out = append(out, netip.AddrFrom16(a))
	}
	return out
}

// firstAddrs returns the first A and the first AAAA of node idx (invalid
// addresses where there is none), as mesos-dns picks SRV target addresses.
func (t *Table) firstAddrs(idx uint32) (v4, v6 netip.Addr) {
	nd := t.nodes.at(idx)
	if nd.a4Len > 0 {
		v4 = netip.AddrFrom4(*t.a4.first(nd.a4Off))
	}
	if nd.a6Len > 0 {
		v6 = netip.AddrFrom16(*t.a6.first(nd.a6Off))
	}
	return v4, v6
}

// srvs returns the SRV records of the lowercase FQDN name.
func (t *Table) srvs(name string) []srvTarget {
	idx, ok := t.find(name)
	if !ok {
		return nil
	}
	nd := t.nodes.at(idx)
	return t.srvOf(nd)
}

// Enumeration is mesos-dns's /v1/enumerate document: every framework, its
// running tasks, and the records each task contributed.
type Enumeration struct {
	Frameworks []*EnumFramework `json:"frameworks"`
}

// EnumFramework is one framework in an Enumeration.
type EnumFramework struct {
	Tasks []*EnumTask `json:"tasks"`
	Name  string      `json:"name"`
}

// EnumTask is one task in an Enumeration.
type EnumTask struct {
	Name    string       `json:"name"`
	ID      string       `json:"id"`
	Records []EnumRecord `json:"records"`
}

// EnumRecord is one record: name, value ("10.0.0.1", or "target.:port" for
// SRV) and type ("A", "AAAA", "SRV").
type EnumRecord struct {
	Name  string `json:"name"`
	Host  string `json:"host"`
	Rtype string `json:"rtype"`
}

// Enumerate regenerates the table's records grouped by framework and task, as
// mesos-dns's /v1/enumerate lists them. A task lists only the records it added
// first: a record another task already produced is not repeated.
func (t *Table) Enumerate() *Enumeration {
	e := &enumerator{
		out:  &Enumeration{Frameworks: []*EnumFramework{}},
		fw:   make(map[string]*EnumFramework),
		seen: make(map[enumKey]struct{}),
	}
	c := t.cluster
	if c != nil {
		for i := range c.Frameworks {
			f := &EnumFramework{Tasks: []*EnumTask{}, Name: c.Frameworks[i].Name}
			e.out.Frameworks = append(e.out.Frameworks, f)
			e.fw[c.Frameworks[i].ID] = f
		}
	}
	b := newBuilder(t.cfg, c)
	b.hosts = t.hosts
	b.rec = e
	generate(b, c)
	return e.out
}

type enumKey struct {
	name string
	kind uint8
	host string
}

// enumerator is the recorder behind Enumerate.
type enumerator struct {
	out  *Enumeration
	fw   map[string]*EnumFramework
	seen map[enumKey]struct{}
	task *EnumTask
}

var kindNames = [...]string{kindA: "A", kindAAAA: "AAAA", kindSRV: "SRV"}

func (e *enumerator) beginTask(f *state.Framework, t *state.Task) {
	e.task = nil
	ef := e.fw[f.ID]
	if ef == nil {
		return
	}
	e.task = &EnumTask{Name: t.Name, ID: t.ID, Records: []EnumRecord{}}
	ef.Tasks = append(ef.Tasks, e.task)
}

func (e *enumerator) record(name string, kind uint8, host string) {
	k := enumKey{name, kind, host}
	if _, dup := e.seen[k]; dup {
		return
	}
	e.seen[k] = struct{}{}
	if e.task != nil {
		e.task.Records = append(e.task.Records, EnumRecord{Name: name, Host: host, Rtype: kindNames[kind]})
	}
}
