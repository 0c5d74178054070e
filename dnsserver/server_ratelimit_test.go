package dnsserver

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(2, 4, 2)
	now := time.Now()
	a := netip.MustParseAddr("127.0.0.1")
	sameNet := netip.MustParseAddr("127.0.0.200")
	other := netip.MustParseAddr("127.0.9.1")
	for i := range 4 {
		if v := l.check(a, now); v != rlAllow {
			t.Fatalf("query %d within the burst: %v", i, v)
		}
	}
	var drops, slips int
	for range 10 {
		switch l.check(sameNet, now) {
		case rlAllow:
			t.Fatal("the same /24 shares the bucket: want it limited")
		case rlDrop:
			drops++
		case rlSlip:
			slips++
		}
	}
	if slips != 5 || drops != 5 {
		t.Errorf("slip 2: %d slips and %d drops, want 5 and 5", slips, drops)
	}
	if v := l.check(other, now); v != rlAllow {
		t.Errorf("another /24: %v, want allowed", v)
	}
	// Two responses a second: after 1 s two more are allowed, not three.
	later := now.Add(time.Second)
	for i := range 2 {
		if v := l.check(a, later); v != rlAllow {
			t.Fatalf("after refill, query %d: %v", i, v)
		}
	}
	if v := l.check(a, later); v == rlAllow {
		t.Error("refill gave more than the rate")
	}
	if newRateLimiter(0, 10, 2) != nil {
		t.Error("rate 0 must turn the limiter off")
	}
}

func TestServerRateLimit(t *testing.T) {
	s := hsStart(t, ServerConfig{RateLimit: 1, RateLimitBurst: 3, RateLimitSlip: 1}, hsTables(t, hsCluster(), hsConfig()), nil)
	var answered, slipped int
	for range 8 {
		r := hsExchange(t, "udp", s.Addr(), "leader.mesos.", dns.TypeA, 0)
		switch {
		case r.Truncated && len(r.Answer) == 0:
			slipped++
		case len(r.Answer) == 1:
			answered++
		default:
			t.Fatalf("unexpected reply %v", r)
		}
	}
	if answered != 3 || slipped != 5 {
		t.Errorf("%d answered, %d slipped; want 3 and 5", answered, slipped)
	}
	// TCP is not limited: the client that got TC gets its answer.
	if r := hsExchange(t, "tcp", s.Addr(), "leader.mesos.", dns.TypeA, 0); len(r.Answer) != 1 {
		t.Errorf("tcp: %v", r.Answer)
	}
}
