package dnsserver

import (
	"cmp"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/state"
)

// Table is the immutable set of records for one snapshot. It is built whole by
// Build, or from the previous table by Update, and never changed afterwards, so
// any number of goroutines may read it while the next one is being built; the
// server swaps tables with an atomic pointer.
//
// Records are stored compactly (a name index, IPv4/IPv6 addresses and SRV targets
// in paged arrays that successive tables share, see table_pages.go) and turned
// into miekg/dns RRs per query in caller-provided Scratch space, so a lookup
// allocates nothing and 100,000 tasks cost tens of megabytes rather than
// hundreds.
type Table struct {
	cfg    Config
	zone   string // lowercase FQDN, "mesos."
	serial uint32
	// hosts are the host name addresses the table was built with.
	hosts HostAddrs

	// Every lowercase FQDN in the zone that exists (including empty
	// non-terminals, which have no records) is a node, named in names; a
	// node whose name no task uses any more after an Update is dead (it
	// does not exist). Node i's records are runs in a4, a6 and srv.
	names names
	nodes paged[node]

	a4  ranges[[4]byte]
	a6  ranges[[16]byte]
	srv ranges[srvTarget]

	soa *dns.SOA
	ns  *dns.NS

	records   int // A + AAAA + SRV records, plus SOA and NS
	nameCount int // names with records
	cluster   *state.Cluster
	built     time.Time

	// inc is what Update reuses; nil for tables that cannot be updated.
	inc *incremental
}

// node is the records of one name: runs in the table's a4, a6 and srv.
type node struct {
	a4Off, a6Off, srvOff uint32
	a4Len, a6Len, srvLen uint32
}

// deadOff in a4Off marks a dead node (with no records).
const deadOff = ^uint32(0)

var deadNode = node{a4Off: deadOff}

func (n *node) empty() bool { return n.a4Len == 0 && n.a6Len == 0 && n.srvLen == 0 }

func (n *node) dead() bool { return n.a4Off == deadOff }

func (n *node) records() int { return int(n.a4Len + n.a6Len + n.srvLen) }

// srvTarget is one SRV record: the target node and port. Priority is always 0
// and the weight is Config.SRVRecordDefaultWeight, as in mesos-dns.
type srvTarget struct {
	target uint32
	port   uint16
}

// Result is the answer to one question.
type Result struct {
	// Answer holds the records of the asked type. Their owner name is the question
	// name exactly as given (so the question's case is kept).
	Answer []dns.RR
	// Extra holds the addresses of SRV targets (the first A and AAAA of each, as
	// mesos-dns), owned by the target's lowercase name.
	Extra []dns.RR
	// Rcode is dns.RcodeSuccess (with an empty Answer: NODATA) or
	// dns.RcodeNameError when the name does not exist in the zone.
	Rcode int
	// InZone is false when the name is outside the zone; the caller forwards it
	// (Answer is empty and Rcode meaningless).
	InZone bool
}

// Scratch is reusable space that Lookup builds its answers in. The zero value is
// ready to use. A Scratch serves one query at a time: the Result of a Lookup is
// valid until the next Lookup with the same Scratch. Keep one per goroutine or in
// a sync.Pool; it grows to the largest answer seen and then allocates no more.
type Scratch struct {
	a     []dns.A
	aaaa  []dns.AAAA
	srv   []dns.SRV
	srvAt []namedTarget // the SRV records of one answer, sorted
	ans   []dns.RR
	extra []dns.RR
	seen  []uint32 // SRV target nodes already given glue
	// The addresses of an A or AAAA answer, sorted (small values sort
	// faster than the records; the records point at them).
	v4 [][4]byte
	v6 [][16]byte
}

// namedTarget is an SRV record with its target's name, to sort by.
type namedTarget struct {
	name string
	srvTarget
}

// maxName is the longest name on the wire in presentation form with the final dot.
const maxName = 255

// Build generates the records mesos-dns would serve for c under cfg and indexes
// them. c may be nil (no Mesos state yet): the table then holds the SOA, NS and
// name server records only.
func Build(c *state.Cluster, cfg Config) *Table {
	return build(c, cfg, nil)
}

// build is Build with the addresses of the host names in c (see HostAddrs).
func build(c *state.Cluster, cfg Config, hosts HostAddrs) *Table {
	b := newBuilder(cfg, c)
	b.hosts = hosts
	generate(b, c)
	return b.finish()
}

// Zone returns the zone's apex as a lowercase FQDN ("mesos.").
func (t *Table) Zone() string { return t.zone }

// Config returns the configuration the table was built with.
func (t *Table) Config() Config { return t.cfg }

// Cluster returns the state the table was built from (nil if none).
func (t *Table) Cluster() *state.Cluster { return t.cluster }

// Serial is the SOA serial of this table.
func (t *Table) Serial() uint32 { return t.serial }

// Built is when the table was built.
func (t *Table) Built() time.Time { return t.built }

// SOA returns the zone's SOA record, owned by the apex, for the authority section
// of negative answers. It is shared: callers must not modify it.
func (t *Table) SOA() *dns.SOA { return t.soa }

// NS returns the zone's NS record (SOAMname), owned by the apex. Shared, read-only.
func (t *Table) NS() *dns.NS { return t.ns }

// Names is the number of names that own at least one A, AAAA or SRV record.
func (t *Table) Names() int { return t.nameCount }

// Records is the number of records in the table (A, AAAA and SRV, plus the SOA
// and NS of the apex).
func (t *Table) Records() int { return t.records }

// InZone reports whether qname (any case, with or without the final dot) is the
// zone's apex or below it.
func (t *Table) InZone(qname string) bool {
	var buf [maxName + 1]byte
	n, ok := lowerFQDN(&buf, qname)
	return ok && inZone(buf[:n], t.zone)
}

// Lookup answers qname/qtype from the table without allocating (beyond growing s
// to the largest answer it has held). qname is matched case-insensitively.
//
// A, AAAA and SRV come from the records; SOA and NS exist at the apex only; ANY
// gets one RRset as RFC 8482 allows: A, else AAAA, else SRV, else (at the apex)
// the SOA. Names that exist without records of the asked type, including empty
// non-terminals such as "slave.mesos." or "_tcp.marathon.mesos.", get NODATA;
// only names with nothing at or below them get NXDOMAIN (RFC 8020).
func (t *Table) Lookup(qname string, qtype uint16, s *Scratch) Result {
	s.ans = s.ans[:0]
	s.extra = s.extra[:0]
	var buf [maxName + 1]byte
	n, ok := lowerFQDN(&buf, qname)
	if !ok {
		// Longer than any name can be: not ours to judge unless it ends in the zone.
		return Result{InZone: hasZoneSuffixFold(qname, t.zone), Rcode: dns.RcodeNameError}
	}
	name := buf[:n]
	if !inZone(name, t.zone) {
		return Result{}
	}
	res := Result{InZone: true, Rcode: dns.RcodeSuccess}
	if len(name) == len(t.zone) {
		switch qtype {
		case dns.TypeSOA:
			s.ans = append(s.ans, t.soa)
			res.Answer = s.ans
			return res
		case dns.TypeNS:
			s.ans = append(s.ans, t.ns)
			res.Answer = s.ans
			return res
		}
	}
	nd, found := t.lookupNode(name)
	if !found {
		res.Rcode = dns.RcodeNameError
		return res
	}
	switch qtype {
	case dns.TypeA:
		t.fillA(s, qname, nd)
	case dns.TypeAAAA:
		t.fillAAAA(s, qname, nd)
	case dns.TypeSRV:
		t.fillSRV(s, qname, nd)
	case dns.TypeANY:
		switch {
		case nd.a4Len > 0:
			t.fillA(s, qname, nd)
		case nd.a6Len > 0:
			t.fillAAAA(s, qname, nd)
		case nd.srvLen > 0:
			t.fillSRV(s, qname, nd)
		case len(name) == len(t.zone):
			s.ans = append(s.ans, t.soa)
		}
	}
	res.Answer = s.ans
	res.Extra = s.extra
	return res
}

// Answers with several records list them in a fixed order, by address (A,
// AAAA) or by target and port (SRV), whatever order the table holds them in
// after its updates: a client that gets a truncated answer gets the same
// records every time, so DNS-discovery clients such as HAProxy's
// server-template see a stable set instead of a different subset per query.

func (t *Table) fillA(s *Scratch, owner string, nd *node) {
	s.a = grow(s.a, int(nd.a4Len))
	s.v4 = append(s.v4[:0], t.a4.get(nd.a4Off, nd.a4Len)...)
	slices.SortFunc(s.v4, cmpBytes4)
	for i := range s.a {
		t.setA(&s.a[i], owner, &s.v4[i])
	}
	for i := range s.a {
		s.ans = append(s.ans, &s.a[i])
	}
}

func (t *Table) fillAAAA(s *Scratch, owner string, nd *node) {
	s.aaaa = grow(s.aaaa, int(nd.a6Len))
	s.v6 = append(s.v6[:0], t.a6.get(nd.a6Off, nd.a6Len)...)
	slices.SortFunc(s.v6, cmpBytes16)
	for i := range s.aaaa {
		t.setAAAA(&s.aaaa[i], owner, &s.v6[i])
	}
	for i := range s.aaaa {
		s.ans = append(s.ans, &s.aaaa[i])
	}
}

// setA makes rr owner's A record for address a (the table's or the
// scratch's).
func (t *Table) setA(rr *dns.A, owner string, a *[4]byte) {
	rr.Hdr = dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: t.cfg.TTL}
	rr.A = net.IP(a[:])
}

// setAAAA makes rr owner's AAAA record for address a (the table's or the
// scratch's).
func (t *Table) setAAAA(rr *dns.AAAA, owner string, a *[16]byte) {
	rr.Hdr = dns.RR_Header{Name: owner, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: t.cfg.TTL}
	rr.AAAA = net.IP(a[:])
}

// grow returns buf with k elements, reused when its capacity allows: the
// records of one answer are built in place, without an allocation each.
func grow[T any](buf []T, k int) []T {
	if cap(buf) < k {
		return make([]T, k)
	}
	return buf[:k]
}

// fillSRV adds the SRV records of nd and, as additional records, the first A and
// the first AAAA of every distinct target.
func (t *Table) fillSRV(s *Scratch, owner string, nd *node) {
	k := int(nd.srvLen)
	// Glue needs at most one A and one AAAA per SRV record.
	s.srv = grow(s.srv, k)
	s.srvAt = grow(s.srvAt, k)
	for i, st := range t.srv.get(nd.srvOff, nd.srvLen) {
		s.srvAt[i] = namedTarget{name: t.nodeName(st.target), srvTarget: st}
	}
	slices.SortFunc(s.srvAt, func(x, y namedTarget) int {
		if c := strings.Compare(x.name, y.name); c != 0 {
			return c
		}
		return cmp.Compare(x.port, y.port)
	})
	na, n6 := 0, 0
	s.seen = s.seen[:0]
	for i := range k {
		st := &s.srvAt[i]
		rr := &s.srv[i]
		rr.Hdr = dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: t.cfg.TTL}
		rr.Priority = 0
		rr.Weight = t.cfg.SRVRecordDefaultWeight
		rr.Port = st.port
		rr.Target = st.name
		s.ans = append(s.ans, rr)
		if !containsU32(s.seen, st.target) {
			s.seen = append(s.seen, st.target)
			tn := t.nodes.at(st.target)
			if tn.a4Len > 0 {
				na++
			}
			if tn.a6Len > 0 {
				n6++
			}
		}
	}
	s.a = grow(s.a, na)
	s.aaaa = grow(s.aaaa, n6)
	ia, i6 := 0, 0
	for _, target := range s.seen {
		tn := t.nodes.at(target)
		name := t.nodeName(target)
		if tn.a4Len > 0 {
			rr := &s.a[ia]
			ia++
			t.setA(rr, name, t.a4.first(tn.a4Off))
			s.extra = append(s.extra, rr)
		}
		if tn.a6Len > 0 {
			rr := &s.aaaa[i6]
			i6++
			t.setAAAA(rr, name, t.a6.first(tn.a6Off))
			s.extra = append(s.extra, rr)
		}
	}
}

// nodeName returns the lowercase FQDN of node i (no allocation).
func (t *Table) nodeName(i uint32) string { return t.names.name(i) }

// a4Of, a6Of and srvOf return the records of nd.
func (t *Table) a4Of(nd *node) [][4]byte    { return t.a4.get(nd.a4Off, nd.a4Len) }
func (t *Table) a6Of(nd *node) [][16]byte   { return t.a6.get(nd.a6Off, nd.a6Len) }
func (t *Table) srvOf(nd *node) []srvTarget { return t.srv.get(nd.srvOff, nd.srvLen) }

// nodeCount is the number of nodes, dead ones included.
func (t *Table) nodeCount() int { return int(t.nodes.n) }

// lookupNode returns the live node of the lowercase FQDN name.
func (t *Table) lookupNode(name []byte) (*node, bool) {
	idx, ok := t.names.live(name)
	if !ok {
		return nil, false
	}
	return t.nodes.at(idx), true
}

// find returns the node of the lowercase FQDN name.
func (t *Table) find(name string) (uint32, bool) {
	if len(name) > maxName {
		return 0, false
	}
	var buf [maxName + 1]byte
	n := copy(buf[:], name)
	return t.names.live(buf[:n])
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// lowerFQDN writes qname lowercased (ASCII) into buf, adding the final dot if it
// is missing. It reports false if the result would not fit a DNS name.
func lowerFQDN(buf *[maxName + 1]byte, qname string) (int, bool) {
	n := len(qname)
	if n == 0 {
		buf[0] = '.'
		return 1, true
	}
	if n > maxName || (n == maxName && qname[n-1] != '.') {
		return 0, false
	}
	for i := 0; i < n; i++ {
		c := qname[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	if qname[n-1] != '.' {
		buf[n] = '.'
		n++
	}
	return n, true
}

// inZone reports whether the lowercase FQDN name is zone or below it. Names are
// in presentation form, so a dot preceded by an odd number of backslashes is
// part of a label ("a\\.mesos." is one label under the root), not a boundary.
func inZone(name []byte, zone string) bool {
	if len(name) < len(zone) || string(name[len(name)-len(zone):]) != zone {
		return false
	}
	if len(name) == len(zone) {
		return true
	}
	dot := len(name) - len(zone) - 1
	if name[dot] != '.' {
		return false
	}
	escapes := 0
	for i := dot - 1; i >= 0 && name[i] == '\\'; i-- {
		escapes++
	}
	return escapes%2 == 0
}

// hasZoneSuffixFold is inZone for names too long to lowercase into a buffer.
func hasZoneSuffixFold(qname, zone string) bool {
	if len(qname) > 0 && qname[len(qname)-1] == '.' {
		qname = qname[:len(qname)-1]
	}
	z := zone[:len(zone)-1]
	if len(qname) <= len(z) {
		return false
	}
	tail := qname[len(qname)-len(z):]
	for i := 0; i < len(z); i++ {
		c := tail[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != z[i] {
			return false
		}
	}
	return qname[len(qname)-len(z)-1] == '.'
}
