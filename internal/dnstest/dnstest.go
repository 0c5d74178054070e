// Package dnstest writes DNS test expectations the way CoreDNS's plugin/test
// does: a Case is one question and the whole answer expected for it (rcode,
// answer, authority and additional sections), with records written as zone
// file text (dnstest.A("web.marathon.mesos. 60 IN A 127.0.2.1")). Sections are
// compared as text after sorting, so a test states what a resolver sees and
// not the order records happen to come in (answers are rotated per query).
//
// It is for tests only; the product never imports it.
package dnstest

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Case is a question and the answer expected for it. A nil section expects an
// empty one.
type Case struct {
	Qname string
	Qtype uint16
	Rcode int
	// Answer, Ns (authority) and Extra (additional) are the expected sections,
	// in any order. The OPT record of EDNS is not part of Extra.
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR
}

// Msg returns the case's question as a query (RD set, no EDNS).
func (c Case) Msg() *dns.Msg {
	return new(dns.Msg).SetQuestion(c.Qname, c.Qtype)
}

// Name names the case for t.Run: "qname/TYPE".
func (c Case) Name() string {
	return c.Qname + "/" + dns.TypeToString[c.Qtype]
}

// RR parses a record written as zone file text; it panics on a typo, so a
// broken expectation fails the test at once. Relative owner names become
// absolute (origin "."): write the record struct for a name without its dot.
func RR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic("dnstest: " + s + ": " + err.Error())
	}
	if rr == nil {
		panic("dnstest: " + s + ": no record")
	}
	return rr
}

func typed(s string, t uint16) dns.RR {
	rr := RR(s)
	if rr.Header().Rrtype != t {
		panic("dnstest: " + s + ": not a " + dns.TypeToString[t] + " record")
	}
	return rr
}

// A, AAAA, SRV, SOA and NS parse one record of their type (see RR).
func A(s string) dns.RR    { return typed(s, dns.TypeA) }
func AAAA(s string) dns.RR { return typed(s, dns.TypeAAAA) }
func SRV(s string) dns.RR  { return typed(s, dns.TypeSRV) }
func SOA(s string) dns.RR  { return typed(s, dns.TypeSOA) }
func NS(s string) dns.RR   { return typed(s, dns.TypeNS) }

// Strings renders rrs as sorted text lines (fields separated by one space),
// leaving out OPT records. It never returns nil.
func Strings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

// CheckSection reports an error on t when got and want differ as sorted text.
func CheckSection(t testing.TB, section string, got, want []dns.RR) {
	t.Helper()
	if g, w := Strings(got), Strings(want); !slices.Equal(g, w) {
		t.Errorf("%s:\n%s\nwant:\n%s", section, strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

// CheckMsg reports an error on t for every way m differs from c: its rcode and
// each of its three sections.
func CheckMsg(t testing.TB, c Case, m *dns.Msg) {
	t.Helper()
	if m.Rcode != c.Rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[c.Rcode])
	}
	CheckSection(t, "answer", m.Answer, c.Answer)
	CheckSection(t, "authority", m.Ns, c.Ns)
	CheckSection(t, "additional", m.Extra, c.Extra)
}

// Serve starts srv (its PacketConn or Listener already bound), returns once it
// serves, and shuts it down when the test ends: a fake upstream resolver.
func Serve(t testing.TB, srv *dns.Server) {
	t.Helper()
	ready := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(ready) }
	go func() { _ = srv.ActivateAndServe() }()
	<-ready
	t.Cleanup(func() { _ = srv.Shutdown() })
}
