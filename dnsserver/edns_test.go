package dnsserver

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/dnstest"
	"github.com/discovery-mesos/discovery/state"
)

// hsBigCluster is hsCluster plus "big", an app with n tasks (n A records on
// big.marathon.mesos, n SRV records with glue on _big._tcp.marathon.mesos).
func hsBigCluster(n int) *state.Cluster {
	c := hsCluster()
	for i := range n {
		c.Tasks = append(c.Tasks, &state.Task{
			ID:          fmt.Sprintf("big.%03d", i),
			Name:        "big",
			FrameworkID: "fw-marathon",
			AgentID:     "agent-S2",
			State:       state.TaskRunning,
			NetInfo:     []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 4, byte(i)})},
			Ports:       []state.PortRange{{Begin: uint32(32000 + i), End: uint32(32000 + i)}},
		})
	}
	return c.Seal()
}

func TestTruncation(t *testing.T) {
	const tasks = 120
	h := NewHandler(hsTables(t, hsBigCluster(tasks), hsConfig()), nil, HandlerConfig{}, nil)
	for _, qt := range []struct {
		qname string
		qtype uint16
	}{
		{"big.marathon.mesos.", dns.TypeA},
		{"_big._tcp.marathon.mesos.", dns.TypeSRV},
		{"_web._tcp.marathon.mesos.", dns.TypeSRV},
		{"web.marathon.mesos.", dns.TypeA},
	} {
		// The whole answer, over TCP.
		full, _ := hsServe(t, h, new(dns.Msg).SetQuestion(qt.qname, qt.qtype), false)
		if full.Truncated || len(full.Answer) == 0 {
			t.Fatalf("%s over TCP: TC %v, %d answers", qt.qname, full.Truncated, len(full.Answer))
		}
		for _, edns := range []int{0, 100, 512, 600, 900, 1232, 4096} {
			t.Run(fmt.Sprintf("%s/%s/edns%d", qt.qname, dns.TypeToString[qt.qtype], edns), func(t *testing.T) {
				req := new(dns.Msg).SetQuestion(qt.qname, qt.qtype)
				limit := 512
				if edns > 0 {
					req.SetEdns0(uint16(edns), true)
					limit = max(512, min(edns, DefaultMaxUDPSize))
				}
				got, size := hsServe(t, h, req, true)
				if size > limit {
					t.Fatalf("%d bytes, over the limit of %d", size, limit)
				}
				if edns > 0 {
					opt := got.IsEdns0()
					if opt == nil || !opt.Do() {
						t.Errorf("OPT %v: want an OPT with the DO bit copied", opt)
					}
				} else if got.IsEdns0() != nil {
					t.Error("OPT in the answer to a query without EDNS")
				}
				if got.Truncated {
					if len(got.Answer) >= len(full.Answer) {
						t.Errorf("TC set with the whole answer (%d records)", len(got.Answer))
					}
					if len(dnstest.Strings(got.Extra)) != 0 {
						t.Errorf("truncated answer kept %d additional records", len(got.Extra))
					}
					if len(got.Answer) == 0 {
						t.Errorf("truncated to nothing at %d bytes", limit)
					}
				} else if len(got.Answer) != len(full.Answer) {
					t.Errorf("%d of %d records without TC", len(got.Answer), len(full.Answer))
				}
				for _, rr := range got.Answer {
					if rr.Header().Rrtype != qt.qtype {
						t.Errorf("record %v in the answer", rr)
					}
				}
			})
		}
	}
	t.Run("TCP keeps every record", func(t *testing.T) {
		got, _ := hsServe(t, h, new(dns.Msg).SetQuestion("big.marathon.mesos.", dns.TypeA), false)
		if len(got.Answer) != tasks || got.Truncated {
			t.Errorf("%d records, TC %v; want %d", len(got.Answer), got.Truncated, tasks)
		}
	})
}

func TestFitResponse(t *testing.T) {
	// Exhaustive over answer counts: the packed message never exceeds the limit,
	// and when TC is set one more record would not have fitted.
	for n := 0; n <= 80; n++ {
		for _, limit := range []int{512, 700, 1232} {
			m := new(dns.Msg).SetQuestion("example.mesos.", dns.TypeA)
			m.Response = true
			m.SetEdns0(1232, false)
			var all []dns.RR
			for i := range n {
				all = append(all, &dns.A{
					Hdr: dns.RR_Header{Name: fmt.Sprintf("host-%d.example.mesos.", i), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}).AsSlice(),
				})
			}
			m.Answer = append([]dns.RR(nil), all...)
			tc := fitResponse(m, limit)
			b, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > limit {
				t.Fatalf("n=%d limit=%d: %d bytes", n, limit, len(b))
			}
			if tc != m.Truncated {
				t.Fatalf("n=%d: reported %v, TC %v", n, tc, m.Truncated)
			}
			if !tc && len(m.Answer) != n {
				t.Fatalf("n=%d: lost records without TC", n)
			}
			if tc {
				m.Answer = all[:len(m.Answer)+1]
				if m.Len() <= limit {
					t.Fatalf("n=%d limit=%d: dropped a record that fitted", n, limit)
				}
			}
			if m.IsEdns0() == nil {
				t.Fatalf("n=%d: OPT dropped", n)
			}
		}
	}
}

// mesos-dns's "SetTruncateBit": false: a UDP answer cut to fit leaves TC clear
// (for clients that cannot retry over TCP); true, the default, sets it. Real
// queries over UDP to a running server.
func TestServerNoTruncateBit(t *testing.T) {
	const tasks = 120
	tables := hsTables(t, hsBigCluster(tasks), hsConfig())
	for _, tc := range []struct {
		noTC   bool
		wantTC bool
	}{{false, true}, {true, false}} {
		s := hsStart(t, ServerConfig{NoTruncateBit: tc.noTC}, tables, nil)
		for _, q := range []struct {
			qname string
			qtype uint16
		}{{"big.marathon.mesos.", dns.TypeA}, {"_big._tcp.marathon.mesos.", dns.TypeSRV}} {
			full := hsExchange(t, "tcp", s.Addr(), q.qname, q.qtype, 0)
			cut := hsExchange(t, "udp", s.Addr(), q.qname, q.qtype, 0)
			if len(full.Answer) != tasks || full.Truncated {
				t.Fatalf("NoTruncateBit %v: %s over TCP: %d records, TC %v", tc.noTC, q.qname, len(full.Answer), full.Truncated)
			}
			if len(cut.Answer) == 0 || len(cut.Answer) >= tasks {
				t.Fatalf("NoTruncateBit %v: %s over UDP: %d records, want some cut", tc.noTC, q.qname, len(cut.Answer))
			}
			if cut.Truncated != tc.wantTC {
				t.Errorf("NoTruncateBit %v: %s over UDP cut to %d records: TC %v, want %v", tc.noTC, q.qname, len(cut.Answer), cut.Truncated, tc.wantTC)
			}
		}
	}
}

// TestMaxUDPSize checks that a UDP answer is as large as the client's EDNS
// buffer allows, up to MaxUDPSize and no further.
func TestMaxUDPSize(t *testing.T) {
	const tasks = 120 // about 2 KB of A records
	c := hsBigCluster(tasks)
	for _, tc := range []struct {
		max, edns, wantLimit int
		whole                bool
	}{
		{0, 4096, DefaultMaxUDPSize, false},
		{4096, 4096, 4096, true},
		{4096, 1500, 1500, false},
		{65535, 65535, 65535, true},
		{4096, 0, 512, false},
	} {
		t.Run(fmt.Sprintf("max%d/edns%d", tc.max, tc.edns), func(t *testing.T) {
			h := NewHandler(hsTables(t, c, hsConfig()), nil, HandlerConfig{MaxUDPSize: tc.max}, nil)
			req := new(dns.Msg).SetQuestion("big.marathon.mesos.", dns.TypeA)
			if tc.edns > 0 {
				req.SetEdns0(uint16(tc.edns), false)
			}
			got, size := hsServe(t, h, req, true)
			if size > tc.wantLimit {
				t.Errorf("%d bytes, over %d", size, tc.wantLimit)
			}
			if tc.whole != (len(got.Answer) == tasks && !got.Truncated) {
				t.Errorf("%d records, TC %v, %d bytes; want the whole answer: %v", len(got.Answer), got.Truncated, size, tc.whole)
			}
			if !tc.whole && size < tc.wantLimit-100 {
				t.Errorf("%d bytes: the answer does not fill the %d the client takes", size, tc.wantLimit)
			}
		})
	}
}
