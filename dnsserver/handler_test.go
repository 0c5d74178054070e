package dnsserver

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
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

// hsRRStrings renders rrs sorted, for order-independent comparison.
func hsRRStrings(rrs []dns.RR) []string {
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

func TestHandlerAnswers(t *testing.T) {
	h := NewHandler(hsTables(t, hsCluster(), hsConfig()), nil, HandlerConfig{RecurseOn: true}, nil)
	soa := "mesos. 60 IN SOA ns1.mesos. root.ns1.mesos. 42 60 600 86400 60"
	webSRV := func(owner string) []string {
		var out []string
		for _, s := range []string{
			"31000 web-q9rt1-s1", "31001 web-q9rt1-s1", "31002 web-e844k-s2",
			"31003 web-e844k-s2", "31004 web-izm16-s1", "31005 web-izm16-s1",
		} {
			port, host, _ := strings.Cut(s, " ")
			out = append(out, owner+" 60 IN SRV 0 1 "+port+" "+host+".marathon.slave.mesos.")
		}
		return out
	}
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		ns     []string
		extra  []string
	}{
		{
			name: "task A", qname: "web.marathon.mesos.", qtype: dns.TypeA,
			answer: []string{
				"web.marathon.mesos. 60 IN A 127.0.2.1",
				"web.marathon.mesos. 60 IN A 127.0.2.2",
				"web.marathon.mesos. 60 IN A 127.0.2.3",
			},
		},
		{
			name: "mixed case keeps the question's case", qname: "WeB.MaRaThOn.MESOS.", qtype: dns.TypeA,
			answer: []string{
				"WeB.MaRaThOn.MESOS. 60 IN A 127.0.2.1",
				"WeB.MaRaThOn.MESOS. 60 IN A 127.0.2.2",
				"WeB.MaRaThOn.MESOS. 60 IN A 127.0.2.3",
			},
		},
		{
			name: "agent form", qname: "web-q9rt1-s1.marathon.slave.mesos.", qtype: dns.TypeA,
			answer: []string{"web-q9rt1-s1.marathon.slave.mesos. 60 IN A 127.0.1.1"},
		},
		{
			name: "SRV with glue", qname: "_web._tcp.marathon.mesos.", qtype: dns.TypeSRV,
			answer: webSRV("_web._tcp.marathon.mesos."),
			extra: []string{
				"web-e844k-s2.marathon.slave.mesos. 60 IN A 127.0.1.2",
				"web-izm16-s1.marathon.slave.mesos. 60 IN A 127.0.1.1",
				"web-q9rt1-s1.marathon.slave.mesos. 60 IN A 127.0.1.1",
			},
		},
		{
			name: "AAAA of an IPv6 task", qname: "db.marathon.mesos.", qtype: dns.TypeAAAA,
			answer: []string{"db.marathon.mesos. 60 IN AAAA fd00::7"},
		},
		{
			name: "AAAA of an A-only name is NODATA", qname: "web.marathon.mesos.", qtype: dns.TypeAAAA,
			ns: []string{soa},
		},
		{
			name: "SRV of an A-only name is NODATA", qname: "leader.mesos.", qtype: dns.TypeSRV,
			ns: []string{soa},
		},
		{
			name: "missing name is NXDOMAIN with the SOA", qname: "missing.mesos.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{soa},
		},
		{
			name: "missing SRV is NXDOMAIN", qname: "_nope._tcp.marathon.mesos.", qtype: dns.TypeSRV,
			rcode: dns.RcodeNameError, ns: []string{soa},
		},
		{
			name: "empty non-terminal is NODATA", qname: "_tcp.marathon.mesos.", qtype: dns.TypeA,
			ns: []string{soa},
		},
		{
			name: "apex SOA", qname: "mesos.", qtype: dns.TypeSOA,
			answer: []string{soa},
		},
		{
			name: "apex NS", qname: "MESOS.", qtype: dns.TypeNS,
			answer: []string{"MESOS. 60 IN NS ns1.mesos."},
		},
		{
			name: "SOA below the apex is NODATA", qname: "leader.mesos.", qtype: dns.TypeSOA,
			ns: []string{soa},
		},
		{
			name: "name server's own A", qname: "ns1.mesos.", qtype: dns.TypeA,
			answer: []string{"ns1.mesos. 60 IN A 127.0.0.53"},
		},
		{
			name: "ANY gets one RRset (RFC 8482)", qname: "db.marathon.mesos.", qtype: dns.TypeANY,
			answer: []string{"db.marathon.mesos. 60 IN A 127.0.1.1"},
		},
		{
			name: "unknown type is NODATA", qname: "web.marathon.mesos.", qtype: dns.TypeMX,
			ns: []string{soa},
		},
		{
			name: "AXFR is refused", qname: "mesos.", qtype: dns.TypeAXFR,
			rcode: dns.RcodeRefused,
		},
		{
			name: "outside name without forwarding is refused", qname: "example.org.", qtype: dns.TypeA,
			rcode: dns.RcodeRefused,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := new(dns.Msg).SetQuestion(tt.qname, tt.qtype)
			got, _ := hsServe(t, h, req, true)
			if got.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[got.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got.Id != req.Id || !got.Response || !got.RecursionDesired {
				t.Errorf("header %+v does not answer %+v", got.MsgHdr, req.MsgHdr)
			}
			inZone := tt.rcode != dns.RcodeRefused || tt.qtype == dns.TypeAXFR
			if got.Authoritative != inZone {
				t.Errorf("AA = %v, want %v", got.Authoritative, inZone)
			}
			if !got.RecursionAvailable {
				t.Error("RA not set with recurseon")
			}
			if len(got.Question) != 1 || got.Question[0].Name != tt.qname {
				t.Errorf("question %v, want %s", got.Question, tt.qname)
			}
			if a, want := hsRRStrings(got.Answer), hsSorted(tt.answer); !slices.Equal(a, want) {
				t.Errorf("answer:\n%s\nwant:\n%s", strings.Join(a, "\n"), strings.Join(want, "\n"))
			}
			if a, want := hsRRStrings(got.Ns), hsSorted(tt.ns); !slices.Equal(a, want) {
				t.Errorf("authority:\n%s\nwant:\n%s", strings.Join(a, "\n"), strings.Join(want, "\n"))
			}
			if a, want := hsRRStrings(got.Extra), hsSorted(tt.extra); !slices.Equal(a, want) {
				t.Errorf("additional:\n%s\nwant:\n%s", strings.Join(a, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func hsSorted(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
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

func TestHandlerRotatesAnswers(t *testing.T) {
	h := NewHandler(hsTables(t, hsCluster(), hsConfig()), nil, HandlerConfig{}, nil)
	firsts := map[string]int{}
	for range 200 {
		got, _ := hsServe(t, h, new(dns.Msg).SetQuestion("web.marathon.mesos.", dns.TypeA), true)
		if len(got.Answer) != 3 {
			t.Fatalf("answer %v", got.Answer)
		}
		firsts[got.Answer[0].(*dns.A).A.String()]++
		// Rotation keeps the cyclic order: the set is always complete.
		seen := map[string]bool{}
		for _, rr := range got.Answer {
			seen[rr.(*dns.A).A.String()] = true
		}
		if len(seen) != 3 {
			t.Fatalf("answer lost records: %v", got.Answer)
		}
	}
	if len(firsts) != 3 {
		t.Errorf("first record over 200 queries: %v, want every record to lead", firsts)
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
