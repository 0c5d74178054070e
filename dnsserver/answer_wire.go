package dnsserver

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Answers from precomputed wire bytes. Nearly every query a busy server gets
// is a plain question (one name, class IN, A, AAAA or SRV, EDNS without
// options or no EDNS) for a name whose answer is the same bytes every time
// but for the ID, two header bits, the question's case and the OPT record —
// answers come in a fixed order (see table.go), and the table never changes
// once built. So the first such question for a name is answered the ordinary
// way (unpack, look up, pack) and the packed reply kept; later ones copy it
// and patch what differs, without unpacking the query into a dns.Msg or
// packing a reply, and without allocating. The owner names of the records are
// compression pointers to the question, so copying the question as asked
// gives the answer the question's case too. A name that does not exist is
// answered by appending the zone's SOA to the question. Anything else (other
// types and classes, EDNS options, names with escapes, answers larger than the
// client takes, names outside the domain) takes the ordinary path.

// wireSlots is the number of precomputed replies kept per table (sets of
// wireWays slots chosen by hash), so a table with more names than that keeps
// the ones asked most recently. With replies no longer than the largest UDP
// answer (most are 100–500 bytes), the cache stays within a few megabytes
// whatever the cluster's size.
const wireSlots = 1 << 14

// wireCache holds the precomputed replies of one table. A new table gets a
// new, empty cache when it is first asked.
type wireCache struct {
	t     *Table
	slots []atomic.Pointer[wireEntry]
	// soaRR is the apex SOA record after its owner name (type, class, TTL,
	// length, data), appended to a question for NXDOMAIN.
	soaRR []byte
	// builder answers misses from t whatever table the server has since
	// swapped in, counting nothing in the server's metrics.
	builder *Handler
	pool    *sync.Pool // the server's *queryCtx
	// maxUDP is the largest UDP answer: a longer reply is never sent from
	// here, so it is not kept.
	maxUDP int
}

// wireEntry is the reply to one (name, type) asked without EDNS, with ID 0
// and RD and CD clear; msg is nil when the reply cannot be patched (its
// question name appears elsewhere in it uncompressed) or is too long for UDP.
type wireEntry struct {
	node  uint32
	qtype uint16
	rcode uint8
	msg   []byte
}

// fixedTable is a TableSource that always gives the same table.
type fixedTable struct{ t *Table }

func (f fixedTable) Load() *Table { return f.t }

// wireQuery is what answerWire needs from a query packet.
type wireQuery struct {
	name    [maxName + 1]byte // lowercase FQDN in presentation form
	nameLen int
	qend    int // offset after the question (name, type, class)
	qtype   uint16
	edns    bool
	do      bool
	udpSize int
}

// parseWireQuery reads pkt into q if it is a query the precomputed replies
// can answer: a query (opcode 0, QR clear) with one question and nothing else
// but an optional OPT record without options (EDNS version 0), a name of
// letters, digits, '-' and '_' without compression, class IN, type A, AAAA or
// SRV, and no bytes after it.
func parseWireQuery(pkt []byte, q *wireQuery) bool {
	if len(pkt) < 12+1+4 || pkt[2]&0xFE != 0 { // anything but RD: not a plain query
		return false
	}
	if binary.BigEndian.Uint16(pkt[4:]) != 1 || binary.BigEndian.Uint16(pkt[6:]) != 0 || binary.BigEndian.Uint16(pkt[8:]) != 0 {
		return false
	}
	ar := binary.BigEndian.Uint16(pkt[10:])
	if ar > 1 {
		return false
	}
	off, n := 12, 0
	for {
		if off >= len(pkt) {
			return false
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(pkt) || n+l+1 > maxName {
			return false
		}
		for _, c := range pkt[off : off+l] {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				return false
			}
			q.name[n] = c
			n++
		}
		q.name[n] = '.'
		n++
		off += l
	}
	if n == 0 || off+4 > len(pkt) {
		return false
	}
	q.nameLen = n
	q.qtype = binary.BigEndian.Uint16(pkt[off:])
	if binary.BigEndian.Uint16(pkt[off+2:]) != dns.ClassINET {
		return false
	}
	switch q.qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeSRV:
	default:
		return false
	}
	off += 4
	q.qend = off
	q.edns = ar == 1
	if !q.edns {
		return off == len(pkt)
	}
	// OPT: root name, type 41, class = UDP size, TTL = extended rcode,
	// version, flags; no options.
	if off+11 != len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != dns.TypeOPT ||
		pkt[off+5] != 0 || pkt[off+6] != 0 || binary.BigEndian.Uint16(pkt[off+9:]) != 0 {
		return false
	}
	q.udpSize = int(binary.BigEndian.Uint16(pkt[off+3:]))
	q.do = pkt[off+7]&0x80 != 0
	return true
}

// answerWire answers pkt from the precomputed replies into buf, or returns
// nil when the query must take the ordinary path.
func (h *Handler) answerWire(pkt, buf []byte) []byte {
	var q wireQuery
	if !parseWireQuery(pkt, &q) {
		return nil
	}
	t := h.tables.Load()
	if t == nil {
		return nil
	}
	name := q.name[:q.nameLen]
	if len(name) <= len(t.zone) || !inZone(name, t.zone) {
		return nil // outside the domain (forwarded), or the apex
	}
	if h.vips != nil && h.vips.LoadVIPs().has(name) {
		return nil // a VIP name under the domain: the VIP table answers it
	}
	limit := dns.MinMsgSize
	if q.edns {
		limit = min(max(q.udpSize, dns.MinMsgSize), h.maxUDP)
	}
	size := 0
	if q.edns {
		size = optLen
	}
	c := h.wireCacheFor(t)
	idx, found := t.names.live(name)
	var out []byte
	var rcode int
	if !found {
		if c.soaRR == nil {
			return nil
		}
		// NXDOMAIN: the question and the SOA, its owner a pointer to the
		// zone's name at the end of the question's.
		size += q.qend + 2 + len(c.soaRR)
		if size > limit {
			return nil
		}
		rcode = dns.RcodeNameError
		out = append(buf[:0], pkt[:q.qend]...)
		out[2] = 0x80 | 0x04 // QR, AA
		out[3] = dns.RcodeNameError
		if h.recurse {
			out[3] |= 0x80
		}
		binary.BigEndian.PutUint16(out[4:], 1)
		binary.BigEndian.PutUint16(out[6:], 0)
		binary.BigEndian.PutUint16(out[8:], 1)
		binary.BigEndian.PutUint16(out[10:], 0)
		zoneAt := q.qend - 4 - (len(t.zone) + 1)
		out = binary.BigEndian.AppendUint16(out, 0xC000|uint16(zoneAt))
		out = append(out, c.soaRR...)
	} else {
		e := c.entry(idx, q.qtype)
		if e == nil {
			e = c.build(idx, q.qtype, string(name))
		}
		if e.msg == nil {
			return nil
		}
		size += len(e.msg)
		if size > limit {
			return nil // the ordinary path cuts it to fit
		}
		rcode = int(e.rcode)
		out = append(buf[:0], e.msg...)
		copy(out[12:q.qend], pkt[12:q.qend]) // the question as asked
	}
	out[0], out[1] = pkt[0], pkt[1]
	out[2] |= pkt[2] & 0x01 // RD
	out[3] |= pkt[3] & 0x10 // CD
	if q.edns {
		out = appendOPT(out, q.do)
	}
	h.m.queries[qtypeSlot(q.qtype)].Inc()
	h.m.responses[rcodeSlot(rcode)].Inc()
	return out
}

// optLen is the size of our OPT record (no options).
const optLen = 11

// appendOPT adds our OPT record to the reply m (RFC 6891: answer EDNS with
// EDNS, our buffer size; RFC 3225: the DO bit copied).
func appendOPT(m []byte, do bool) []byte {
	var flags byte
	if do {
		flags = 0x80
	}
	m = append(m, 0, 0, byte(dns.TypeOPT), byte(ednsUDPSize>>8), byte(ednsUDPSize&0xFF), 0, 0, flags, 0, 0, 0)
	binary.BigEndian.PutUint16(m[10:], binary.BigEndian.Uint16(m[10:])+1)
	return m
}

// wireCacheFor returns the precomputed replies of t, starting them when t is
// new.
func (h *Handler) wireCacheFor(t *Table) *wireCache {
	c := h.wire.Load()
	if c != nil && c.t == t {
		return c
	}
	nc := newWireCache(t, h)
	h.wire.CompareAndSwap(c, nc)
	return nc
}

func newWireCache(t *Table, h *Handler) *wireCache {
	c := &wireCache{t: t, slots: make([]atomic.Pointer[wireEntry], wireSlots)}
	c.pool = &h.pool
	c.maxUDP = h.maxUDP
	c.builder = &Handler{tables: fixedTable{t}, recurse: h.recurse, maxUDP: dns.MaxMsgSize, m: h.wireMetrics, log: h.log, ctx: h.ctx}
	m := new(dns.Msg)
	m.Ns = []dns.RR{t.SOA()}
	if b, err := m.Pack(); err == nil && len(b) > 12+len(t.zone)+1 {
		c.soaRR = b[12+len(t.zone)+1:]
	}
	return c
}

// wireWays is the number of slots a (node, qtype) may be kept in: a set of
// four neighbouring slots, so that two names asked often that hash alike do
// not keep evicting each other.
const wireWays = 4

// wireHash is the hash of (node, qtype) that chooses its set and, on a miss
// in a full set, the slot replaced.
func wireHash(node uint32, qtype uint16) uint64 {
	k := uint64(node)<<2 | uint64(qtypeSlot(qtype)&3)
	return k * 0x9E3779B97F4A7C15
}

func wireSet(h uint64) int { return int(h>>(64-14)) &^ (wireWays - 1) }

func (c *wireCache) entry(node uint32, qtype uint16) *wireEntry {
	set := wireSet(wireHash(node, qtype))
	for i := range wireWays {
		e := c.slots[set+i].Load()
		if e == nil {
			return nil
		}
		if e.node == node && e.qtype == qtype {
			return e
		}
	}
	return nil
}

// store keeps e in the first free slot of its set, or in one chosen by its
// hash when the set is full.
func (c *wireCache) store(e *wireEntry) {
	h := wireHash(e.node, e.qtype)
	set := wireSet(h)
	for i := range wireWays {
		if c.slots[set+i].CompareAndSwap(nil, e) {
			return
		}
	}
	c.slots[set+int(h>>20)&(wireWays-1)].Store(e)
}

// build answers (name, qtype) the ordinary way, packed compressed, and keeps
// the reply. name is the lowercase FQDN of node.
func (c *wireCache) build(node uint32, qtype uint16, name string) *wireEntry {
	b := c.builder
	qc := c.pool.Get().(*queryCtx)
	defer c.pool.Put(qc)
	req := new(dns.Msg)
	req.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	e := &wireEntry{node: node, qtype: qtype}
	if b.answer(req, qc) == actReply {
		qc.resp.Compress = true
		if msg, err := qc.resp.PackBuffer(qc.buf[:cap(qc.buf)]); err == nil {
			qend := 12 + len(name) + 1 + 4
			qname := msg[12 : qend-4]
			// Every other occurrence of the question name must be a pointer
			// to it, or copying the question would not give it the case
			// asked.
			if !bytes.Contains(msg[qend:], qname) && len(msg)+optLen <= c.maxUDP {
				e.msg = bytes.Clone(msg)
				e.rcode = uint8(qc.resp.Rcode)
			}
		}
	}
	c.store(e)
	return e
}
