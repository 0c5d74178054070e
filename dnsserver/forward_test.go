package dnsserver

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/dnstest"
)

// hsUpstream starts a fake resolver on 127.0.0.1 (UDP and TCP on one port) and
// returns its address. udp and tcp answer on each transport (nil: the same
// handler as the other one).
func hsUpstream(t *testing.T, udp, tcp dns.HandlerFunc) string {
	t.Helper()
	if udp == nil {
		udp = tcp
	}
	if tcp == nil {
		tcp = udp
	}
	pc, ln, err := listenBoth("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: udp},
		{Listener: ln, Handler: tcp},
	} {
		dnstest.Serve(t, srv)
	}
	return pc.LocalAddr().String()
}

// hsAnswerA answers every question with one A record of ip.
func hsAnswerA(ip string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		m.RecursionAvailable = true
		m.Answer = []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
			A:   net.ParseIP(ip),
		}}
		_ = w.WriteMsg(m)
	}
}

// hsSilentUpstream is a UDP socket on 127.0.0.1 that reads queries and never
// answers; each query read is signalled on the returned channel.
func hsSilentUpstream(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	got := make(chan struct{}, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			select {
			case got <- struct{}{}:
			default:
			}
		}
	}()
	return pc.LocalAddr().String(), got
}

func hsForward(t *testing.T, f *Forwarder, qname string, tcp bool) (*dns.Msg, error) {
	t.Helper()
	req := new(dns.Msg).SetQuestion(qname, dns.TypeA)
	r, err := f.Forward(context.Background(), req, tcp)
	if err == nil && (r.Id != req.Id || r.Question[0].Name != qname) {
		t.Errorf("reply id %d question %v does not match the query", r.Id, r.Question)
	}
	return r, err
}

func hsFirstA(t *testing.T, r *dns.Msg) string {
	t.Helper()
	if r == nil || len(r.Answer) == 0 {
		t.Fatalf("no answer: %v", r)
	}
	a, ok := r.Answer[0].(*dns.A)
	if !ok {
		t.Fatalf("answer %v is not an A record", r.Answer[0])
	}
	return a.A.String()
}

func TestForwardTimeoutThenNextResolver(t *testing.T) {
	silent, asked := hsSilentUpstream(t)
	good := hsUpstream(t, hsAnswerA("127.9.0.2"), nil)
	f, err := NewForwarder(ForwardConfig{
		Enabled:   true,
		Resolvers: []string{silent, good},
		Timeout:   150 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hsForward(t, f, "example.org.", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := hsFirstA(t, r); got != "127.9.0.2" {
		t.Errorf("answer %s, want the second resolver's", got)
	}
	select {
	case <-asked:
	default:
		t.Error("the first resolver was never asked")
	}
}

func TestForwardTruncatedRetriesOverTCP(t *testing.T) {
	const n = 80 // 80 A records do not fit 1232 bytes
	var udpAsked, tcpAsked atomic.Int32
	addr := hsUpstream(t,
		func(w dns.ResponseWriter, r *dns.Msg) {
			udpAsked.Add(1)
			m := new(dns.Msg).SetReply(r)
			m.Truncated = true
			_ = w.WriteMsg(m)
		},
		func(w dns.ResponseWriter, r *dns.Msg) {
			tcpAsked.Add(1)
			m := new(dns.Msg).SetReply(r)
			for i := range n {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
					A:   net.IPv4(127, 9, 1, byte(i)),
				})
			}
			_ = w.WriteMsg(m)
		})
	f, err := NewForwarder(ForwardConfig{Enabled: true, Resolvers: []string{addr}, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hsForward(t, f, "big.example.org.", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != n || r.Truncated {
		t.Errorf("got %d answers (TC %v), want all %d from TCP", len(r.Answer), r.Truncated, n)
	}
	if udpAsked.Load() != 1 || tcpAsked.Load() != 1 {
		t.Errorf("asked udp %d, tcp %d times; want 1 and 1", udpAsked.Load(), tcpAsked.Load())
	}

	// A TCP client is forwarded over TCP directly.
	if _, err := hsForward(t, f, "big.example.org.", true); err != nil {
		t.Fatal(err)
	}
	if udpAsked.Load() != 1 || tcpAsked.Load() != 2 {
		t.Errorf("TCP client: asked udp %d, tcp %d times; want 1 and 2", udpAsked.Load(), tcpAsked.Load())
	}
}

func TestForwardZoneRouting(t *testing.T) {
	def := hsUpstream(t, hsAnswerA("127.9.0.1"), nil)
	consul := hsUpstream(t, hsAnswerA("127.9.0.2"), nil)
	dc1 := hsUpstream(t, hsAnswerA("127.9.0.3"), nil)
	f, err := NewForwarder(ForwardConfig{
		Enabled:   true,
		Resolvers: []string{def},
		ZoneResolvers: map[string][]string{
			"consul":      {consul},
			"dc1.consul.": {dc1},
		},
		Timeout: 2 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ qname, want string }{
		{"web.service.consul.", "127.9.0.2"},
		{"CONSUL.", "127.9.0.2"},
		{"web.DC1.consul.", "127.9.0.3"},
		{"dc1.consul.", "127.9.0.3"},
		{"xdc1.consul.", "127.9.0.2"}, // label boundary: not in dc1.consul
		{"example.org.", "127.9.0.1"},
		{"notconsul.", "127.9.0.1"},
	} {
		t.Run(tt.qname, func(t *testing.T) {
			r, err := hsForward(t, f, tt.qname, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := hsFirstA(t, r); got != tt.want {
				t.Errorf("answered by %s, want %s", got, tt.want)
			}
		})
	}
}

func TestForwardConcurrencyBound(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	slow := hsUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		arrived <- struct{}{}
		<-release
		hsAnswerA("127.9.0.9")(w, r)
	}, nil)
	f, err := NewForwarder(ForwardConfig{Enabled: true, Resolvers: []string{slow}, Timeout: 10 * time.Second, MaxInFlight: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := f.Forward(context.Background(), new(dns.Msg).SetQuestion("slow.example.org.", dns.TypeA), false)
			errs <- err
		}()
	}
	<-arrived
	<-arrived
	start := time.Now()
	_, err = hsForward(t, f, "other.example.org.", false)
	if !errors.Is(err, ErrForwardBusy) {
		t.Errorf("third query: %v, want ErrForwardBusy", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a full forwarder took %v to refuse", d)
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("slow query: %v", err)
		}
	}
	// Slots are given back.
	if _, err := hsForward(t, f, "again.example.org.", false); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestForwardRefusedAndFailed(t *testing.T) {
	var asked atomic.Int32
	up := hsUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		asked.Add(1)
		hsAnswerA("127.9.0.1")(w, r)
	}, nil)
	t.Run("externalon false", func(t *testing.T) {
		f, err := NewForwarder(ForwardConfig{Enabled: false, Resolvers: []string{up}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hsForward(t, f, "example.org.", false); !errors.Is(err, ErrForwardRefused) {
			t.Errorf("got %v, want ErrForwardRefused", err)
		}
		if asked.Load() != 0 {
			t.Error("upstream asked with externalon false")
		}
	})
	t.Run("no resolvers", func(t *testing.T) {
		f, err := NewForwarder(ForwardConfig{Enabled: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hsForward(t, f, "example.org.", false); !errors.Is(err, ErrForwardRefused) {
			t.Errorf("got %v, want ErrForwardRefused", err)
		}
	})
	t.Run("all upstreams fail", func(t *testing.T) {
		silent1, _ := hsSilentUpstream(t)
		silent2, _ := hsSilentUpstream(t)
		f, err := NewForwarder(ForwardConfig{Enabled: true, Resolvers: []string{silent1, silent2}, Timeout: 100 * time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = hsForward(t, f, "example.org.", false)
		if err == nil || errors.Is(err, ErrForwardRefused) || errors.Is(err, ErrForwardBusy) {
			t.Errorf("got %v, want an upstream failure", err)
		}
	})
	t.Run("SERVFAIL moves on", func(t *testing.T) {
		bad := hsUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
			_ = w.WriteMsg(new(dns.Msg).SetRcode(r, dns.RcodeServerFailure))
		}, nil)
		f, err := NewForwarder(ForwardConfig{Enabled: true, Resolvers: []string{bad, up}, Timeout: time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := hsForward(t, f, "example.org.", false)
		if err != nil {
			t.Fatal(err)
		}
		if got := hsFirstA(t, r); got != "127.9.0.1" {
			t.Errorf("answer %s", got)
		}
	})
}

func TestForwardThroughHandler(t *testing.T) {
	up := hsUpstream(t, hsAnswerA("127.9.0.7"), nil)
	silent, _ := hsSilentUpstream(t)
	tables := hsTables(t, hsCluster(), hsConfig())
	for _, tt := range []struct {
		name  string
		cfg   ForwardConfig
		rcode int
	}{
		{"forwarded", ForwardConfig{Enabled: true, Resolvers: []string{up}}, dns.RcodeSuccess},
		{"externalon false", ForwardConfig{Enabled: false, Resolvers: []string{up}}, dns.RcodeRefused},
		{"upstream down", ForwardConfig{Enabled: true, Resolvers: []string{silent}, Timeout: 100 * time.Millisecond}, dns.RcodeServerFailure},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewForwarder(tt.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			h := NewHandler(tables, f, HandlerConfig{RecurseOn: true}, nil)
			req := new(dns.Msg).SetQuestion("Example.ORG.", dns.TypeA)
			got, _ := hsServe(t, h, req, true)
			if got.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[got.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got.Id != req.Id || got.Authoritative {
				t.Errorf("id %d (want %d), AA %v (want false)", got.Id, req.Id, got.Authoritative)
			}
			if tt.rcode == dns.RcodeSuccess && hsFirstA(t, got) != "127.9.0.7" {
				t.Errorf("answer %v", got.Answer)
			}
			if got.IsEdns0() != nil {
				t.Error("OPT record in the answer to a query without EDNS")
			}
		})
	}
}

func TestNormalizeResolvers(t *testing.T) {
	got, err := normalizeResolvers([]string{"127.0.0.1", "127.0.0.2:5353", "::1", "[::1]:54"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:53", "127.0.0.2:5353", "[::1]:53", "[::1]:54"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := normalizeResolvers([]string{"resolver.example"}); err == nil {
		t.Error("a host name was accepted as a resolver")
	}
}
