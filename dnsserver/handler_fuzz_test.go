package dnsserver

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"
)

// FuzzHandler feeds raw packets through what the UDP loop does (unpack, look
// up, pack) and, for the ones that parse, through the miekg/dns handler path.
// Whatever the bytes, the server must not panic, must never answer a response,
// and any answer must parse, carry the query's ID and fit the client's size;
// a reply from precomputed wire bytes must say what the ordinary path says.
func FuzzHandler(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  int
	}{
		{"web.marathon.mesos.", dns.TypeA, 0},
		{"_web._tcp.marathon.mesos.", dns.TypeSRV, 1232},
		{"BIG.marathon.mesos.", dns.TypeA, 0},
		{"big.marathon.mesos.", dns.TypeANY, 4096},
		{"mesos.", dns.TypeSOA, 512},
		{"nope.mesos.", dns.TypeAAAA, 0},
		{"example.org.", dns.TypeA, 0},
	} {
		m := new(dns.Msg).SetQuestion(q.name, q.qtype)
		if q.edns > 0 {
			m.SetEdns0(uint16(q.edns), true)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'a'})
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1}) // compression loop

	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0"}, hsTables(f, hsBigCluster(60), hsConfig()), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	qc, wqc := newQueryCtx(), newQueryCtx()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if w := s.h.answerWire(pkt, wqc.buf); w != nil {
			got := new(dns.Msg)
			if err := got.Unpack(w); err != nil {
				t.Fatalf("precomputed reply does not parse: %v", err)
			}
			if d := wireDiff(got, slowReply(t, s, pkt)); d != "" {
				t.Fatalf("precomputed reply differs from the ordinary one: %s", d)
			}
		}
		out, fwd := s.handlePacket(pkt, loopback, qc)
		if fwd != nil {
			t.Fatal("forwarding is off, yet a query was handed to the forwarder")
		}
		if out == nil {
			return
		}
		if len(pkt) < 12 || pkt[2]&0x80 != 0 {
			t.Fatalf("answered a packet that is too short or a response: % x", pkt)
		}
		limit := DefaultMaxUDPSize
		req := new(dns.Msg)
		if req.Unpack(pkt) == nil {
			limit = maxResponseSize(req, true, DefaultMaxUDPSize)
		}
		if len(out) > limit {
			t.Fatalf("answer of %d bytes over the client's %d", len(out), limit)
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(out); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if resp.Id != binary.BigEndian.Uint16(pkt) || !resp.Response {
			t.Fatalf("answer header %+v", resp.MsgHdr)
		}
		if req.Unpack(pkt) == nil {
			// The TCP path (miekg/dns server → ServeDNS) on the same query.
			rec := &hsRecorder{}
			s.h.ServeDNS(rec, req)
			if !req.Response && len(rec.wrote) != 1 {
				t.Fatalf("TCP path wrote %d messages", len(rec.wrote))
			}
		}
	})
}
