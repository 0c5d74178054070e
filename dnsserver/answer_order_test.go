package dnsserver

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/dnstest"
	"github.com/discovery-mesos/discovery/state"
)

// hsOrderCluster is hsCluster plus "order", an app of n tasks whose IDs sort
// in the opposite order of their addresses and whose ports are shuffled, so
// that the table's order (by task ID) is not the answer's.
func hsOrderCluster(n int) *state.Cluster {
	c := hsCluster()
	for i := range n {
		port := uint32(33000 + (i*37)%n)
		c.Tasks = append(c.Tasks, &state.Task{
			ID:          fmt.Sprintf("order.%03d", i),
			Name:        "order",
			FrameworkID: "fw-marathon",
			AgentID:     []string{"agent-S1", "agent-S2"}[i%2],
			State:       state.TaskRunning,
			NetInfo:     []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 5, byte(250 - i)})},
			Ports:       []state.PortRange{{Begin: port, End: port}},
		})
	}
	return c.Seal()
}

// TestAnswerOrderStable checks that multi-record answers come in one fixed
// order (A by address, SRV by target then port), so a UDP answer cut to fit is
// the same records every time and the first ones of the whole answer.
func TestAnswerOrderStable(t *testing.T) {
	const tasks = 60
	h := NewHandler(hsTables(t, hsOrderCluster(tasks), hsConfig()), nil, HandlerConfig{}, nil)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"order.marathon.mesos.", dns.TypeA},
		{"_order._tcp.marathon.mesos.", dns.TypeSRV},
	} {
		t.Run(dns.TypeToString[q.qtype], func(t *testing.T) {
			full, _ := hsServe(t, h, new(dns.Msg).SetQuestion(q.name, q.qtype), false)
			if len(full.Answer) != tasks {
				t.Fatalf("%d records over TCP, want %d", len(full.Answer), tasks)
			}
			if !slices.IsSortedFunc(full.Answer, cmpAnswer) {
				t.Errorf("answer not sorted: %v", dnstest.Strings(full.Answer))
			}
			var first []string
			for i := range 20 {
				got, _ := hsServe(t, h, new(dns.Msg).SetQuestion(q.name, q.qtype), true)
				if !got.Truncated || len(got.Answer) == 0 {
					t.Fatalf("UDP answer of %d records, TC %v: want a truncated one", len(got.Answer), got.Truncated)
				}
				s := rrStrings(got.Answer)
				if i == 0 {
					first = s
					if !slices.Equal(s, rrStrings(full.Answer[:len(s)])) {
						t.Fatalf("truncated answer %v is not the first records of the whole one", s)
					}
					continue
				}
				if !slices.Equal(s, first) {
					t.Fatalf("query %d: truncated answer %v, first one %v", i, s, first)
				}
			}
		})
	}
}

// TestAnswerOrderAfterUpdate checks that a table updated in place answers in
// the same order as one built whole from the same state.
func TestAnswerOrderAfterUpdate(t *testing.T) {
	full := hsOrderCluster(40)
	part := *full
	part.Tasks = slices.Clone(full.Tasks)
	// Drop every third "order" task, then bring them back by updating.
	part.Tasks = slices.DeleteFunc(part.Tasks, func(tk *state.Task) bool {
		var i int
		_, err := fmt.Sscanf(tk.ID, "order.%03d", &i)
		return err == nil && i%3 == 0
	})
	updated := Build(part.Seal(), hsConfig()).Update(full)
	built := Build(full, hsConfig())
	var s1, s2 Scratch
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"order.marathon.mesos.", dns.TypeA},
		{"_order._tcp.marathon.mesos.", dns.TypeSRV},
		{"_order._udp.marathon.mesos.", dns.TypeSRV},
	} {
		a := rrStrings(updated.Lookup(q.name, q.qtype, &s1).Answer)
		b := rrStrings(built.Lookup(q.name, q.qtype, &s2).Answer)
		if len(a) != 40 || !slices.Equal(a, b) {
			t.Errorf("%s %s: updated table answers %v, built one %v", q.name, dns.TypeToString[q.qtype], a, b)
		}
	}
}

// TestNoSRVPortZero checks that a task port 0 (a range starting at 0, a
// DiscoveryInfo port of 0) makes no SRV record.
func TestNoSRVPortZero(t *testing.T) {
	c := hsCluster()
	c.Tasks = append(c.Tasks,
		&state.Task{ID: "zero.1", Name: "zero", FrameworkID: "fw-marathon", AgentID: "agent-S1", State: state.TaskRunning,
			NetInfo: []netip.Addr{netip.MustParseAddr("127.0.6.1")},
			Ports:   []state.PortRange{{Begin: 0, End: 1}}},
		&state.Task{ID: "zero.2", Name: "zerodi", FrameworkID: "fw-marathon", AgentID: "agent-S1", State: state.TaskRunning,
			NetInfo:   []netip.Addr{netip.MustParseAddr("127.0.6.2")},
			Discovery: &state.Discovery{Visibility: "FRAMEWORK", Name: "zerodi", Ports: []state.DiscoveryPort{{Number: 0, Name: "http", Protocol: "tcp"}, {Number: 8080, Name: "alt", Protocol: "tcp"}}}},
	)
	tb := Build(c.Seal(), hsConfig())
	var s Scratch
	seen := 0
	for _, name := range []string{
		"_zero._tcp.marathon.mesos.", "_zero._udp.marathon.mesos.", "_zero._tcp.marathon.slave.mesos.",
		"_zerodi._tcp.marathon.mesos.", "_http._zerodi._tcp.marathon.mesos.", "_alt._zerodi._tcp.marathon.mesos.",
	} {
		for _, rr := range tb.Lookup(name, dns.TypeSRV, &s).Answer {
			seen++
			if rr.(*dns.SRV).Port == 0 {
				t.Errorf("%v", rr)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no SRV records at all: the names are wrong")
	}
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = rr.String()
	}
	return out
}

func cmpAnswer(x, y dns.RR) int {
	switch a := x.(type) {
	case *dns.A:
		return bytes.Compare(a.A.To4(), y.(*dns.A).A.To4())
	case *dns.SRV:
		b := y.(*dns.SRV)
		if a.Target != b.Target {
			if a.Target < b.Target {
				return -1
			}
			return 1
		}
		return int(a.Port) - int(b.Port)
	}
	return 0
}
