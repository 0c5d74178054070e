package dnsserver

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/state"
)

// kinds of records the builder collects.
const (
	kindA uint8 = iota
	kindAAAA
	kindSRV
)

// entry is one record as generated: its owner node and its value. For A the
// value is the address; for AAAA an index into the builder's a6; for SRV the
// target node, with port.
type entry struct {
	node uint32
	val  uint32
	port uint16
	kind uint8
}

// noNode marks a name that could not be made a node.
const noNode = ^uint32(0)

// builder collects the generator's records into the compact form of a Table.
// Names are interned from byte buffers into one arena, so a name shared by many
// records (all instances of an app) is stored once and nothing is allocated per
// name.
type builder struct {
	cfg     Config
	zone    string
	cluster *state.Cluster
	// hosts are the addresses of the host names in cluster (agents' and
	// frameworks' PIDs that hold a name, PID-less frameworks' host names).
	hosts HostAddrs

	names   namesW
	entries []entry
	a6      [][16]byte

	// dropped counts names that could not be made valid (only possible with a
	// domain so long that nothing fits under it).
	dropped int

	// rec, when set, is told about every record as mesos-dns's enumeration
	// would list it (see table_enum.go); nil when building a table.
	rec recorder

	// What Table.Update needs to reuse this build (see table_update.go):
	// each node's parent, the records of everything but the tasks (the first
	// infraEntries entries, on the first infraNodes nodes), and per task of
	// the cluster its records and the nodes it uses.
	parents      []uint32
	infraEntries int
	infraNodes   int
	spans        []taskSpan
	tnodes       []uint32
}

// recorder receives records as they are generated, for /v1/enumerate.
type recorder interface {
	record(name string, kind uint8, host string)
}

func newBuilder(cfg Config, c *state.Cluster) *builder {
	zone := cfg.Zone()
	hint, infra, uses, entries := 64, 64, 0, 0
	if c != nil {
		infra += len(c.Agents) + len(c.Frameworks)
		var names int
		names, uses, entries = taskHints(c)
		// Shared names (an app's A, SRV and DiscoveryInfo names) are a few
		// per app, not per task: an eighth on top covers apps of 8 or more.
		hint += names + names/8 + infra
	}
	entries += 4 * infra // everything but the tasks
	b := &builder{
		cfg:     cfg,
		zone:    zone,
		cluster: c,
		names:   newNamesW(hint),
		entries: make([]entry, 0, entries+entries/16),
		parents: make([]uint32, 0, hint),
		tnodes:  make([]uint32, 0, uses),
	}
	b.node([]byte(zone))
	return b
}

// taskHints is about how many names the tasks of c create (names: the
// canonical ones each task has alone), how many nodes they use (uses, shared
// ones included) and how many records they get (entries), counted as
// generate counts them. Per running task and per name it is generated under
// (two with a DiscoveryInfo name that is valid as given and has dots, as
// Marathon's "app.group": see generator.task): two canonical names (and
// their parents when the name has dots), six shared
// and canonical names used, and either the two framework SRV names (no
// DiscoveryInfo) or per DiscoveryInfo port one per protocol (tcp and udp when
// it names none), twice when the port has a name; records: an A for the
// task's and one for its agent's address under two names each, SRV records
// for each port resource under two names (four without DiscoveryInfo) and for
// each DiscoveryInfo port under each of its names. Tasks with an IPv6 address
// too or several agent addresses need more, and get them by append. Growing
// these by append from a low guess would copy them (and leave the copies to
// the collector) at 100,000 tasks; guessing high would keep the slack for as
// long as the table.
func taskHints(c *state.Cluster) (names, uses, entries int) {
	for i := range c.Tasks {
		t := c.Tasks[i]
		if t.State != state.TaskRunning {
			continue
		}
		hasDI := t.Discovery != nil && t.Discovery.Name != ""
		ports := 0
		for _, r := range t.Ports {
			if r.Begin <= r.End && r.Begin <= 0xffff {
				ports += int(min(r.End, 0xffff)-r.Begin) + 1
			}
		}
		if !hasDI {
			names += 2
			uses += 8
			entries += 4 + 4*ports
			continue
		}
		n, e := 6, 4+2*ports
		for _, p := range t.Discovery.Ports {
			k := 2 // tcp and udp
			if p.Protocol != "" {
				k = 1
			}
			if p.Name != "" {
				k *= 2 // and again prefixed with the name
			}
			n += k
			e += k
		}
		names += 2
		uses += n
		entries += e
		if dots := strings.Count(t.Discovery.Name, "."); dots > 0 && legacyNameOK(t.Discovery.Name) {
			// The canonical names under the name as given have a parent
			// of their own per dot ("app.group-hash-s1" under
			// "group-hash-s1").
			names += 2 * (1 + dots)
			uses += n
			entries += e
		}
	}
	return names, uses, entries
}

// nameOf returns node idx's name as a string (allocates: enumeration only).
func (b *builder) nameOf(idx uint32) string {
	return string(b.names.bytesOf(idx))
}

// node returns the node of the lowercase FQDN name, creating it and its
// ancestors up to the zone. It returns noNode for names outside the zone or not
// valid in DNS; such names get no records.
func (b *builder) node(name []byte) uint32 {
	return b.intern(name, noNode)
}

// intern is node; with a parent other than noNode the caller promises that
// it is the node of name's parent, which saves walking the ancestors.
func (b *builder) intern(name []byte, parent uint32) uint32 {
	idx, slot, h, found := b.names.probe(name)
	if found {
		return idx
	}
	if !inZone(name, b.zone) {
		return noNode
	}
	if !validName(name) {
		b.dropped++
		return noNode
	}
	idx = b.newNode(name, slot, h)
	if parent != noNode {
		b.parents[idx] = parent
		return idx
	}
	// Ancestors exist too (empty non-terminals), so that they answer NODATA.
	child := idx
	for i := 0; i < len(name)-len(b.zone); i++ {
		if name[i] != '.' {
			continue
		}
		pname := name[i+1:]
		p, slot, h, found := b.names.probe(pname)
		if !found {
			p = b.newNode(pname, slot, h)
		}
		b.parents[child] = p
		if found {
			break
		}
		child = p
	}
	return idx
}

// newNode adds a node for name, whose probe ended at slot with hash h.
func (b *builder) newNode(name []byte, slot, h uint64) uint32 {
	idx := b.names.add(name, slot, h)
	b.parents = append(b.parents, noNode) // the zone's; intern sets the others'
	return idx
}

// addAddr adds an A or AAAA record for addr to the node of name.
func (b *builder) addAddr(name []byte, addr netip.Addr) {
	b.addAddrNode(b.node(name), addr)
}

// addAddrNode adds an A or AAAA record for addr to node idx.
func (b *builder) addAddrNode(idx uint32, addr netip.Addr) {
	addr = addr.Unmap()
	if idx == noNode || !addr.IsValid() {
		return
	}
	kind := kindA
	if addr.Is4() {
		a := addr.As4()
		b.entries = append(b.entries, entry{node: idx, val: binary.BigEndian.Uint32(a[:]), kind: kindA})
	} else {
		kind = kindAAAA
		b.entries = append(b.entries, entry{node: idx, val: uint32(len(b.a6)), kind: kindAAAA})
		b.a6 = append(b.a6, addr.As16())
	}
	if b.rec != nil {
		b.rec.record(b.nameOf(idx), kind, addr.String())
	}
}

// addSRV adds an SRV record to the node of name with the given target and port.
func (b *builder) addSRV(name, target []byte, port uint16) {
	b.addSRVNode(b.node(name), b.node(target), port)
}

// addSRVNode adds an SRV record to node idx with target node tidx and port.
//
// Port 0 is no port a client can connect to (a task with a port range starting
// at 0, a DiscoveryInfo port left at 0): such records are never made.
func (b *builder) addSRVNode(idx, tidx uint32, port uint16) {
	if idx == noNode || tidx == noNode || port == 0 {
		return
	}
	b.entries = append(b.entries, entry{node: idx, val: tidx, port: port, kind: kindSRV})
	if b.rec != nil {
		b.rec.record(b.nameOf(idx), kindSRV, b.nameOf(tidx)+":"+itoa(int(port)))
	}
}

// finish groups the records by name, drops duplicates (mesos-dns keeps each
// name/value pair once) and returns the table.
func (b *builder) finish() *Table {
	n := b.names.count()
	nodes := make([]node, n)
	for _, e := range b.entries {
		nd := &nodes[e.node]
		switch e.kind {
		case kindA:
			nd.a4Len++
		case kindAAAA:
			nd.a6Len++
		case kindSRV:
			nd.srvLen++
		}
	}
	var o4, o6, os uint32
	for i := range nodes {
		nd := &nodes[i]
		nd.a4Off, o4 = o4, o4+nd.a4Len
		nd.a6Off, o6 = o6, o6+nd.a6Len
		nd.srvOff, os = os, os+nd.srvLen
		nd.a4Len, nd.a6Len, nd.srvLen = 0, 0, 0
	}
	a4 := make([][4]byte, o4)
	a6 := make([][16]byte, o6)
	srv := make([]srvTarget, os)
	for _, e := range b.entries {
		nd := &nodes[e.node]
		switch e.kind {
		case kindA:
			binary.BigEndian.PutUint32(a4[nd.a4Off+nd.a4Len][:], e.val)
			nd.a4Len++
		case kindAAAA:
			a6[nd.a6Off+nd.a6Len] = b.a6[e.val]
			nd.a6Len++
		case kindSRV:
			srv[nd.srvOff+nd.srvLen] = srvTarget{target: e.val, port: e.port}
			nd.srvLen++
		}
	}
	// Drop duplicates and close the gaps they leave.
	var w4, w6, ws uint32
	for i := range nodes {
		nd := &nodes[i]
		nd.a4Len = uint32(len(dedup(a4[nd.a4Off:nd.a4Off+nd.a4Len], cmpBytes4)))
		copy(a4[w4:], a4[nd.a4Off:nd.a4Off+nd.a4Len])
		nd.a4Off, w4 = w4, w4+nd.a4Len
		nd.a6Len = uint32(len(dedup(a6[nd.a6Off:nd.a6Off+nd.a6Len], cmpBytes16)))
		copy(a6[w6:], a6[nd.a6Off:nd.a6Off+nd.a6Len])
		nd.a6Off, w6 = w6, w6+nd.a6Len
		nd.srvLen = uint32(len(dedup(srv[nd.srvOff:nd.srvOff+nd.srvLen], cmpSRV)))
		copy(srv[ws:], srv[nd.srvOff:nd.srvOff+nd.srvLen])
		nd.srvOff, ws = ws, ws+nd.srvLen
	}
	nameCount := 0
	for i := range nodes {
		if !nodes[i].empty() {
			nameCount++
		}
	}
	a4 = shrink(a4, int(w4))
	a6 = shrink(a6, int(w6))
	srv = shrink(srv, int(ws))
	records := len(a4) + len(a6) + len(srv)
	// The runs become pages of the table's ranges without a copy.
	ra4 := cutRanges(a4, n, func(i int) (*uint32, uint32) { return &nodes[i].a4Off, nodes[i].a4Len })
	ra6 := cutRanges(a6, n, func(i int) (*uint32, uint32) { return &nodes[i].a6Off, nodes[i].a6Len })
	rsrv := cutRanges(srv, n, func(i int) (*uint32, uint32) { return &nodes[i].srvOff, nodes[i].srvLen })
	return b.table(pagedCopy(nodes), ra4, ra6, rsrv, records, nameCount)
}

// table returns the table of b's names with the records grouped by name.
func (b *builder) table(nodes paged[node], a4 ranges[[4]byte], a6 ranges[[16]byte], srv ranges[srvTarget], records, nameCount int) *Table {
	built := time.Now()
	serial := b.cfg.SOASerial
	if serial == 0 {
		serial = uint32(built.Unix())
	}
	t := &Table{
		cfg:       b.cfg,
		zone:      b.zone,
		serial:    serial,
		names:     b.names.names(),
		nodes:     nodes,
		a4:        a4,
		a6:        a6,
		srv:       srv,
		records:   records + 2,
		nameCount: nameCount,
		cluster:   b.cluster,
		hosts:     b.hosts,
		built:     built,
	}
	if b.rec == nil {
		t.inc = &incremental{
			entries:      b.entries,
			a6:           b.a6,
			parents:      b.parents,
			infraEntries: b.infraEntries,
			infraNodes:   b.infraNodes,
			spans:        b.spans,
			tnodes:       b.tnodes,
		}
		t.inc.owner.Store(t)
	}
	t.soa = &dns.SOA{
		Hdr:     dns.RR_Header{Name: b.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: b.cfg.TTL},
		Ns:      b.cfg.soaMname(),
		Mbox:    b.cfg.soaRname(),
		Serial:  serial,
		Refresh: b.cfg.SOARefresh,
		Retry:   b.cfg.SOARetry,
		Expire:  b.cfg.SOAExpire,
		Minttl:  b.cfg.SOAMinttl,
	}
	t.ns = &dns.NS{
		Hdr: dns.RR_Header{Name: b.zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: b.cfg.TTL},
		Ns:  b.cfg.soaMname(),
	}
	return t
}

// shrink returns s[:n], copied to a right-sized array when that saves much
// memory: a copy costs as much again until the collector frees s.
func shrink[T any](s []T, n int) []T {
	if n >= len(s)-len(s)/8 {
		return s[:n:n]
	}
	out := make([]T, n)
	copy(out, s)
	return out
}

// dedup removes repeated values from s in place and returns the shortened
// slice. Small sets keep their order; large ones are sorted first.
func dedup[T comparable](s []T, cmp func(a, b T) int) []T {
	if len(s) < 2 {
		return s
	}
	if len(s) <= 16 {
		out := s[:1]
		for _, v := range s[1:] {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	slices.SortFunc(s, cmp)
	return slices.Compact(s)
}

func cmpBytes4(a, b [4]byte) int   { return bytes.Compare(a[:], b[:]) }
func cmpBytes16(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }
func cmpSRV(a, b srvTarget) int {
	if c := cmp.Compare(a.target, b.target); c != 0 {
		return c
	}
	return cmp.Compare(a.port, b.port)
}

func itoa(n int) string {
	var buf [20]byte
	return string(appendUint(buf[:0], uint64(n)))
}

func appendUint(dst []byte, n uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}
