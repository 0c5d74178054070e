package dnsserver

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/dnstest"
)

// hsRecorder is a dns.ResponseWriter that keeps what the handler wrote.
type hsRecorder struct {
	udp   bool
	wrote [][]byte
}

func (r *hsRecorder) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (r *hsRecorder) RemoteAddr() net.Addr {
	if r.udp {
		return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5353}
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5353}
}
func (r *hsRecorder) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = r.Write(b)
	return err
}
func (r *hsRecorder) Write(b []byte) (int, error) {
	r.wrote = append(r.wrote, append([]byte(nil), b...))
	return len(b), nil
}
func (r *hsRecorder) Close() error        { return nil }
func (r *hsRecorder) TsigStatus() error   { return nil }
func (r *hsRecorder) TsigTimersOnly(bool) {}
func (r *hsRecorder) Hijack()             {}

// hsServe runs req through h.ServeDNS and returns the unpacked reply and its size.
func hsServe(t *testing.T, h *Handler, req *dns.Msg, udp bool) (*dns.Msg, int) {
	t.Helper()
	rec := &hsRecorder{udp: udp}
	h.ServeDNS(rec, req)
	if len(rec.wrote) != 1 {
		t.Fatalf("handler wrote %d messages, want 1", len(rec.wrote))
	}
	m := new(dns.Msg)
	if err := m.Unpack(rec.wrote[0]); err != nil {
		t.Fatalf("unpacking reply: %v", err)
	}
	return m, len(rec.wrote[0])
}

// TestHandlerAnswers asks the handler each question of a table of cases, as
// CoreDNS's tests do, and compares the whole reply: rcode, the three sections
// (sorted), and the header flags an authoritative server sets.
func TestHandlerAnswers(t *testing.T) {
	h := NewHandler(hsTables(t, hsCluster(), hsConfig()), nil, HandlerConfig{RecurseOn: true}, nil)
	soa := dnstest.SOA("mesos. 60 IN SOA ns1.mesos. root.ns1.mesos. 42 60 600 86400 60")
	webSRV := func(owner string) []dns.RR {
		var out []dns.RR
		for _, s := range []string{
			"31000 web-q9rt1-s1", "31001 web-q9rt1-s1", "31002 web-e844k-s2",
			"31003 web-e844k-s2", "31004 web-izm16-s1", "31005 web-izm16-s1",
		} {
			port, host, _ := strings.Cut(s, " ")
			out = append(out, dnstest.SRV(owner+" 60 IN SRV 0 1 "+port+" "+host+".marathon.slave.mesos."))
		}
		return out
	}
	A, AAAA, NS := dnstest.A, dnstest.AAAA, dnstest.NS
	tests := []struct {
		name string
		dnstest.Case
	}{
		{"task A", dnstest.Case{
			Qname: "web.marathon.mesos.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				A("web.marathon.mesos. 60 IN A 127.0.2.1"),
				A("web.marathon.mesos. 60 IN A 127.0.2.2"),
				A("web.marathon.mesos. 60 IN A 127.0.2.3"),
			},
		}},
		{"mixed case keeps the question's case", dnstest.Case{
			Qname: "WeB.MaRaThOn.MESOS.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				A("WeB.MaRaThOn.MESOS. 60 IN A 127.0.2.1"),
				A("WeB.MaRaThOn.MESOS. 60 IN A 127.0.2.2"),
				A("WeB.MaRaThOn.MESOS. 60 IN A 127.0.2.3"),
			},
		}},
		{"agent form", dnstest.Case{
			Qname: "web-q9rt1-s1.marathon.slave.mesos.", Qtype: dns.TypeA,
			Answer: []dns.RR{A("web-q9rt1-s1.marathon.slave.mesos. 60 IN A 127.0.1.1")},
		}},
		{"SRV with glue", dnstest.Case{
			Qname: "_web._tcp.marathon.mesos.", Qtype: dns.TypeSRV,
			Answer: webSRV("_web._tcp.marathon.mesos."),
			Extra: []dns.RR{
				A("web-e844k-s2.marathon.slave.mesos. 60 IN A 127.0.1.2"),
				A("web-izm16-s1.marathon.slave.mesos. 60 IN A 127.0.1.1"),
				A("web-q9rt1-s1.marathon.slave.mesos. 60 IN A 127.0.1.1"),
			},
		}},
		{"AAAA of an IPv6 task", dnstest.Case{
			Qname: "db.marathon.mesos.", Qtype: dns.TypeAAAA,
			Answer: []dns.RR{AAAA("db.marathon.mesos. 60 IN AAAA fd00::7")},
		}},
		{"AAAA of an A-only name is NODATA", dnstest.Case{
			Qname: "web.marathon.mesos.", Qtype: dns.TypeAAAA,
			Ns: []dns.RR{soa},
		}},
		{"SRV of an A-only name is NODATA", dnstest.Case{
			Qname: "leader.mesos.", Qtype: dns.TypeSRV,
			Ns: []dns.RR{soa},
		}},
		{"missing name is NXDOMAIN with the SOA", dnstest.Case{
			Qname: "missing.mesos.", Qtype: dns.TypeA,
			Rcode: dns.RcodeNameError, Ns: []dns.RR{soa},
		}},
		{"missing SRV is NXDOMAIN", dnstest.Case{
			Qname: "_nope._tcp.marathon.mesos.", Qtype: dns.TypeSRV,
			Rcode: dns.RcodeNameError, Ns: []dns.RR{soa},
		}},
		{"empty non-terminal is NODATA", dnstest.Case{
			Qname: "_tcp.marathon.mesos.", Qtype: dns.TypeA,
			Ns: []dns.RR{soa},
		}},
		{"apex SOA", dnstest.Case{
			Qname: "mesos.", Qtype: dns.TypeSOA,
			Answer: []dns.RR{soa},
		}},
		{"apex NS", dnstest.Case{
			Qname: "MESOS.", Qtype: dns.TypeNS,
			Answer: []dns.RR{NS("MESOS. 60 IN NS ns1.mesos.")},
		}},
		{"SOA below the apex is NODATA", dnstest.Case{
			Qname: "leader.mesos.", Qtype: dns.TypeSOA,
			Ns: []dns.RR{soa},
		}},
		{"name server's own A", dnstest.Case{
			Qname: "ns1.mesos.", Qtype: dns.TypeA,
			Answer: []dns.RR{A("ns1.mesos. 60 IN A 127.0.0.53")},
		}},
		{"ANY gets one RRset (RFC 8482)", dnstest.Case{
			Qname: "web.marathon.mesos.", Qtype: dns.TypeANY,
			Answer: []dns.RR{
				A("web.marathon.mesos. 60 IN A 127.0.2.1"),
				A("web.marathon.mesos. 60 IN A 127.0.2.2"),
				A("web.marathon.mesos. 60 IN A 127.0.2.3"),
			},
		}},
		{"ANY without an A gets the AAAA RRset", dnstest.Case{
			Qname: "db.marathon.mesos.", Qtype: dns.TypeANY,
			Answer: []dns.RR{AAAA("db.marathon.mesos. 60 IN AAAA fd00::7")},
		}},
		{"unknown type is NODATA", dnstest.Case{
			Qname: "web.marathon.mesos.", Qtype: dns.TypeMX,
			Ns: []dns.RR{soa},
		}},
		{"AXFR is refused", dnstest.Case{
			Qname: "mesos.", Qtype: dns.TypeAXFR,
			Rcode: dns.RcodeRefused,
		}},
		{"outside name without forwarding is refused", dnstest.Case{
			Qname: "example.org.", Qtype: dns.TypeA,
			Rcode: dns.RcodeRefused,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.Msg()
			got, _ := hsServe(t, h, req, true)
			dnstest.CheckMsg(t, tt.Case, got)
			if got.Id != req.Id || !got.Response || !got.RecursionDesired {
				t.Errorf("header %+v does not answer %+v", got.MsgHdr, req.MsgHdr)
			}
			inZone := tt.Rcode != dns.RcodeRefused || tt.Qtype == dns.TypeAXFR
			if got.Authoritative != inZone {
				t.Errorf("AA = %v, want %v", got.Authoritative, inZone)
			}
			if !got.RecursionAvailable {
				t.Error("RA not set with recurseon")
			}
			if len(got.Question) != 1 || got.Question[0].Name != tt.Qname {
				t.Errorf("question %v, want %s", got.Question, tt.Qname)
			}
		})
	}
}

func TestHandlerRecursionFlag(t *testing.T) {
	h := NewHandler(hsTables(t, hsCluster(), hsConfig()), nil, HandlerConfig{RecurseOn: false}, nil)
	got, _ := hsServe(t, h, new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeA), true)
	if got.RecursionAvailable {
		t.Error("RA set with recurseon false")
	}
	if len(got.Answer) != 1 {
		t.Errorf("answer %v", got.Answer)
	}
}

func TestHandlerErrors(t *testing.T) {
	h := NewHandler(hsTables(t, hsCluster(), hsConfig()), nil, HandlerConfig{}, nil)
	t.Run("no question", func(t *testing.T) {
		req := new(dns.Msg)
		req.Id = 7
		got, _ := hsServe(t, h, req, true)
		if got.Rcode != dns.RcodeFormatError || got.Id != 7 {
			t.Errorf("got %s id %d, want FORMERR id 7", dns.RcodeToString[got.Rcode], got.Id)
		}
	})
	t.Run("two questions", func(t *testing.T) {
		req := new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeA)
		req.Question = append(req.Question, req.Question[0])
		got, _ := hsServe(t, h, req, true)
		if got.Rcode != dns.RcodeFormatError {
			t.Errorf("got %s, want FORMERR", dns.RcodeToString[got.Rcode])
		}
	})
	t.Run("notify opcode", func(t *testing.T) {
		req := new(dns.Msg).SetNotify("mesos.")
		got, _ := hsServe(t, h, req, true)
		if got.Rcode != dns.RcodeNotImplemented || got.Opcode != dns.OpcodeNotify {
			t.Errorf("got %s opcode %d, want NOTIMP", dns.RcodeToString[got.Rcode], got.Opcode)
		}
	})
	t.Run("EDNS version 1", func(t *testing.T) {
		req := new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeA)
		req.SetEdns0(1232, false)
		req.IsEdns0().SetVersion(1)
		got, _ := hsServe(t, h, req, true)
		if got.Rcode != dns.RcodeBadVers || got.IsEdns0() == nil {
			t.Errorf("got %s (opt %v), want BADVERS with an OPT", dns.RcodeToString[got.Rcode], got.IsEdns0())
		}
	})
	t.Run("chaos class", func(t *testing.T) {
		req := new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeTXT)
		req.Question[0].Qclass = dns.ClassCHAOS
		got, _ := hsServe(t, h, req, true)
		if got.Rcode != dns.RcodeRefused {
			t.Errorf("got %s, want REFUSED", dns.RcodeToString[got.Rcode])
		}
	})
	t.Run("responses are not answered", func(t *testing.T) {
		req := new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeA)
		req.Response = true
		rec := &hsRecorder{udp: true}
		h.ServeDNS(rec, req)
		if len(rec.wrote) != 0 {
			t.Errorf("handler answered a response")
		}
	})
	t.Run("no table yet", func(t *testing.T) {
		var empty hsNoTable
		h := NewHandler(empty, nil, HandlerConfig{}, nil)
		got, _ := hsServe(t, h, new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeA), true)
		if got.Rcode != dns.RcodeServerFailure {
			t.Errorf("got %s, want SERVFAIL", dns.RcodeToString[got.Rcode])
		}
	})
}

type hsNoTable struct{}

func (hsNoTable) Load() *Table { return nil }

func TestHandlerSwapsTables(t *testing.T) {
	tables := hsTables(t, hsCluster(), hsConfig())
	h := NewHandler(tables, nil, HandlerConfig{}, nil)
	got, _ := hsServe(t, h, new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA), true)
	if len(got.Answer) != 3 {
		t.Fatalf("answer %v", got.Answer)
	}
	c := hsCluster()
	c.Tasks = c.Tasks[:1] // db.0 sorts first: web is gone
	tables.Store(Build(c.Seal(), hsConfig()))
	got, _ = hsServe(t, h, new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA), true)
	if got.Rcode != dns.RcodeNameError {
		t.Errorf("after the swap: %s %v, want NXDOMAIN", dns.RcodeToString[got.Rcode], got.Answer)
	}
}
