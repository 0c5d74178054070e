package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// slowReply answers pkt the ordinary way (unpack, look up, pack), as
// handlePacket does without precomputed replies.
func slowReply(t *testing.T, s *Server, pkt []byte) *dns.Msg {
	t.Helper()
	qc := newQueryCtx()
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		t.Fatal(err)
	}
	if s.h.answer(req, qc) != actReply {
		t.Fatalf("%v: not answered", req.Question)
	}
	b, err := s.h.pack(qc, maxResponseSize(req, true, s.h.maxUDP))
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m
}

// randomCase spells name with random letter cases.
func randomCase(r *rand.Rand, name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && r.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestAnswerWireAgrees asks every name of a table for A, AAAA and SRV, in
// random case, with and without EDNS (and DO), RD and CD, and checks that the
// precomputed reply says what the ordinary path says: the same header, the
// question as asked, the same answer records owned by the name as asked, the
// same authority and additional records.
func TestAnswerWireAgrees(t *testing.T) {
	tb := Build(hsOrderCluster(30), hsConfig())
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0", MaxUDPSize: 4096}, hsTables(t, hsOrderCluster(30), hsConfig()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var names []string
	for i := range uint32(tb.nodeCount()) {
		if n := tb.nodeName(i); n != tb.zone {
			names = append(names, n)
		}
	}
	names = append(names, "nope.marathon.mesos.", "a.b.c.nothing.mesos.", "_x._tcp.nope.mesos.")
	qc := newQueryCtx()
	fast := 0
	for _, name := range names {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			for _, edns := range []int{0, 512, 1232, 4096} {
				q := new(dns.Msg).SetQuestion(randomCase(r, name), qtype)
				q.Id = uint16(r.Uint32())
				q.RecursionDesired = r.IntN(2) == 0
				q.CheckingDisabled = r.IntN(2) == 0
				if edns > 0 {
					q.SetEdns0(uint16(edns), r.IntN(2) == 0)
				}
				pkt, err := q.Pack()
				if err != nil {
					t.Fatal(err)
				}
				want := slowReply(t, s, pkt)
				out := s.h.answerWire(pkt, qc.buf)
				if out == nil {
					if !want.Truncated {
						t.Errorf("%s %s edns %d: no precomputed reply for an answer that fits", q.Question[0].Name, dns.TypeToString[qtype], edns)
					}
					continue
				}
				fast++
				got := new(dns.Msg)
				if err := got.Unpack(out); err != nil {
					t.Fatalf("%s: unpacking the precomputed reply: %v", name, err)
				}
				if d := wireDiff(got, want); d != "" {
					t.Errorf("%s %s edns %d: %s", q.Question[0].Name, dns.TypeToString[qtype], edns, d)
				}
			}
		}
	}
	if fast == 0 {
		t.Fatal("no query was answered from precomputed replies")
	}
	t.Logf("%d queries answered from precomputed replies", fast)
}

// wireDiff compares two replies: header, question and answer exactly (case
// included), authority and additional records ignoring case and order.
func wireDiff(got, want *dns.Msg) string {
	if got.MsgHdr != want.MsgHdr {
		return fmt.Sprintf("header %+v, want %+v", got.MsgHdr, want.MsgHdr)
	}
	if !slices.Equal(got.Question, want.Question) {
		return fmt.Sprintf("question %v, want %v", got.Question, want.Question)
	}
	if g, w := rrStrings(got.Answer), rrStrings(want.Answer); !slices.Equal(g, w) {
		return fmt.Sprintf("answer %v, want %v", g, w)
	}
	fold := func(rrs []dns.RR) []string {
		out := rrStrings(rrs)
		for i := range out {
			out[i] = strings.ToLower(out[i])
		}
		slices.Sort(out)
		return out
	}
	if g, w := fold(got.Ns), fold(want.Ns); !slices.Equal(g, w) {
		return fmt.Sprintf("authority %v, want %v", g, w)
	}
	if g, w := fold(got.Extra), fold(want.Extra); !slices.Equal(g, w) {
		return fmt.Sprintf("additional %v, want %v", g, w)
	}
	return ""
}

// TestAnswerWireDeclines checks queries the precomputed replies must leave to
// the ordinary path.
func TestAnswerWireDeclines(t *testing.T) {
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0"}, hsTables(t, hsOrderCluster(60), hsConfig()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	qc := newQueryCtx()
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withOption := new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA)
	withOption.SetEdns0(1232, false)
	withOption.IsEdns0().Option = append(withOption.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	badVers := new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA)
	badVers.SetEdns0(1232, false)
	badVers.IsEdns0().SetVersion(1)
	chaos := new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	notify := new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA)
	notify.Opcode = dns.OpcodeNotify
	response := new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA)
	response.Response = true
	for _, c := range []struct {
		name string
		pkt  []byte
	}{
		{"outside the domain", pack(new(dns.Msg).SetQuestion("example.org.", dns.TypeA))},
		{"the apex", pack(new(dns.Msg).SetQuestion("mesos.", dns.TypeA))},
		{"ANY", pack(new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeANY))},
		{"escaped name", pack(new(dns.Msg).SetQuestion(`we\.b.marathon.mesos.`, dns.TypeA))},
		{"EDNS option", pack(withOption)},
		{"EDNS version 1", pack(badVers)},
		{"class CHAOS", pack(chaos)},
		{"NOTIFY", pack(notify)},
		{"a response", pack(response)},
		{"too large for 512 bytes", pack(new(dns.Msg).SetQuestion("order.marathon.mesos.", dns.TypeA))},
		{"trailing bytes", append(pack(new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA)), 0)},
		{"short", pack(new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA))[:20]},
	} {
		if out := s.h.answerWire(c.pkt, qc.buf); out != nil {
			t.Errorf("%s: answered from precomputed replies", c.name)
		}
	}
}

// TestAnswerWireNewTable checks that a new table's answers are served, not
// the previous table's.
func TestAnswerWireNewTable(t *testing.T) {
	tables := hsTables(t, hsOrderCluster(2), hsConfig())
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0"}, tables, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	qc := newQueryCtx()
	pkt, _ := new(dns.Msg).SetQuestion("order.marathon.mesos.", dns.TypeA).Pack()
	count := func() int {
		out := s.h.answerWire(pkt, qc.buf)
		if out == nil {
			t.Fatal("not answered from precomputed replies")
		}
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil {
			t.Fatal(err)
		}
		return len(m.Answer)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
	tables.Store(Build(hsOrderCluster(3), hsConfig()))
	if n := count(); n != 3 {
		t.Fatalf("after the swap: %d records, want 3", n)
	}
}
