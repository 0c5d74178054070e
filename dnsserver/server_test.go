package dnsserver

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// hsStart starts a server on 127.0.0.1:0 (unless cfg.Addr says another
// loopback address) and stops it when the test ends.
func hsStart(t *testing.T, cfg ServerConfig, tables TableSource, reg prometheus.Registerer) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := NewServer(cfg, tables, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func hsExchange(t *testing.T, proto, addr, qname string, qtype uint16, edns int) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	req := new(dns.Msg).SetQuestion(qname, qtype)
	if edns > 0 {
		req.SetEdns0(uint16(edns), false)
	}
	r, _, err := c.Exchange(req, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", proto, qname, err)
	}
	return r
}

func TestServerRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ServerConfig
	}{
		{"own UDP loop", ServerConfig{RecurseOn: true}},
		{"own UDP loop with pktinfo", ServerConfig{RecurseOn: true, forcePktinfo: true}},
		{"miekg UDP server", ServerConfig{RecurseOn: true, stdUDP: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			tables := hsTables(t, hsBigCluster(100), hsConfig())
			s := hsStart(t, tc.cfg, tables, reg)
			addr := s.Addr()
			for _, proto := range []string{"udp", "tcp"} {
				r := hsExchange(t, proto, addr, "Web.Marathon.Mesos.", dns.TypeA, 0)
				if r.Rcode != dns.RcodeSuccess || !r.Authoritative || !r.RecursionAvailable || len(r.Answer) != 3 {
					t.Errorf("%s: %s AA %v RA %v answer %v", proto, dns.RcodeToString[r.Rcode], r.Authoritative, r.RecursionAvailable, r.Answer)
				}
				for _, rr := range r.Answer {
					if rr.Header().Name != "Web.Marathon.Mesos." {
						t.Errorf("%s: owner %q, want the question's case", proto, rr.Header().Name)
					}
				}
				r = hsExchange(t, proto, addr, "nope.mesos.", dns.TypeA, 0)
				if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
					t.Errorf("%s: %s ns %v, want NXDOMAIN with the SOA", proto, dns.RcodeToString[r.Rcode], r.Ns)
				}
			}
			// Big answers: truncated over UDP, whole over TCP.
			r := hsExchange(t, "udp", addr, "big.marathon.mesos.", dns.TypeA, 0)
			if !r.Truncated || len(r.Answer) == 0 || len(r.Answer) == 100 {
				t.Errorf("udp: TC %v with %d records, want a truncated answer", r.Truncated, len(r.Answer))
			}
			r = hsExchange(t, "tcp", addr, "big.marathon.mesos.", dns.TypeA, 0)
			if r.Truncated || len(r.Answer) != 100 {
				t.Errorf("tcp: TC %v with %d records, want all 100", r.Truncated, len(r.Answer))
			}
			// A new table is served at once.
			tables.Store(Build(hsCluster(), hsConfig()))
			r = hsExchange(t, "udp", addr, "big.marathon.mesos.", dns.TypeA, 0)
			if r.Rcode != dns.RcodeNameError {
				t.Errorf("after the swap: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
			}
			if got := testutil.ToFloat64(s.m.queries[qtypeSlot(dns.TypeA)]); got != 7 {
				t.Errorf("discovery_dns_queries_total{qtype=A} = %v, want 7", got)
			}
			if got := testutil.ToFloat64(s.m.responses[rcodeSlot(dns.RcodeNameError)]); got != 3 {
				t.Errorf("discovery_dns_responses_total{rcode=NXDOMAIN} = %v, want 3", got)
			}
			if n, err := testutil.GatherAndCount(reg, "discovery_dns_request_duration_seconds"); err != nil || n != 1 {
				t.Errorf("duration histogram: %d series, %v", n, err)
			}
		})
	}
}

func TestServerForwards(t *testing.T) {
	up := hsUpstream(t, hsAnswerA("127.9.0.7"), nil)
	tables := hsTables(t, hsCluster(), hsConfig())
	s := hsStart(t, ServerConfig{Forward: ForwardConfig{Enabled: true, Resolvers: []string{up}, Timeout: 2 * time.Second}}, tables, nil)
	for _, proto := range []string{"udp", "tcp"} {
		r := hsExchange(t, proto, s.Addr(), "example.org.", dns.TypeA, 1232)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Authoritative {
			t.Errorf("%s: %s AA %v answer %v", proto, dns.RcodeToString[r.Rcode], r.Authoritative, r.Answer)
		}
	}
	off := hsStart(t, ServerConfig{Forward: ForwardConfig{Enabled: false, Resolvers: []string{up}}}, tables, nil)
	r := hsExchange(t, "udp", off.Addr(), "example.org.", dns.TypeA, 0)
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("externalon false: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
}

// TestServerSlowUpstreamDoesNotBlock fills every upstream slot with queries to a
// resolver that never answers: in-domain answers keep coming at once and the
// next outside name is answered SERVFAIL at once.
func TestServerSlowUpstreamDoesNotBlock(t *testing.T) {
	silent, asked := hsSilentUpstream(t)
	s := hsStart(t, ServerConfig{
		UDPWorkers: 1,
		Forward:    ForwardConfig{Enabled: true, Resolvers: []string{silent}, Timeout: 30 * time.Second, MaxInFlight: 4},
	}, hsTables(t, hsCluster(), hsConfig()), nil)
	conn, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 4 {
		q := new(dns.Msg).SetQuestion("stuck.example.org.", dns.TypeA)
		q.Id = uint16(100 + i)
		b, _ := q.Pack()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		<-asked
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := hsExchange(t, "udp", s.Addr(), "leader.mesos.", dns.TypeA, 0)
	if len(r.Answer) != 1 {
		t.Errorf("in-domain answer %v", r.Answer)
	}
	r = hsExchange(t, "udp", s.Addr(), "another.example.org.", dns.TypeA, 0)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("fifth outside query: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

// TestServerMalformedPackets sends garbage and checks the server answers what
// it can (FORMERR with the query's ID), ignores the rest and keeps serving.
func TestServerMalformedPackets(t *testing.T) {
	s := hsStart(t, ServerConfig{UDPWorkers: 1}, hsTables(t, hsCluster(), hsConfig()), nil)
	conn, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	send := func(b []byte) {
		t.Helper()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() *dns.Msg {
		t.Helper()
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("unpacking the server's reply: %v", err)
		}
		return m
	}
	send([]byte{1, 2, 3})                                              // too short: ignored
	send([]byte{0xAB, 0xCD, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0})          // a response: ignored
	send([]byte{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'a'}) // cut question: FORMERR
	r := recv()
	if r.Id != 0x1234 || r.Rcode != dns.RcodeFormatError {
		t.Errorf("got id %#x %s, want id 0x1234 FORMERR", r.Id, dns.RcodeToString[r.Rcode])
	}
	q := new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeA)
	q.Id = 0x4242
	b, _ := q.Pack()
	send(b)
	r = recv()
	if r.Id != 0x4242 || len(r.Answer) != 1 {
		t.Errorf("after garbage: id %#x answer %v", r.Id, r.Answer)
	}
}

func TestServerAddrInUse(t *testing.T) {
	s := hsStart(t, ServerConfig{}, hsTables(t, hsCluster(), hsConfig()), nil)
	s2, err := NewServer(ServerConfig{Addr: s.Addr()}, hsTables(t, hsCluster(), hsConfig()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err == nil {
		t.Error("second server started on a busy address")
		_ = s2.Shutdown(context.Background())
	}
}

// TestServerPktinfoIPv6 runs the wildcard-address loop on an IPv6 socket: the
// client's connected socket only takes replies from the address it asked.
func TestServerPktinfoIPv6(t *testing.T) {
	if !pktinfoSupported {
		t.Skip("no IP_PKTINFO on this platform")
	}
	ln, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	_ = ln.Close()
	s := hsStart(t, ServerConfig{Addr: "[::1]:0", forcePktinfo: true}, hsTables(t, hsCluster(), hsConfig()), nil)
	r := hsExchange(t, "udp", s.Addr(), "leader.mesos.", dns.TypeA, 0)
	if len(r.Answer) != 1 {
		t.Errorf("answer %v", r.Answer)
	}
}

// TestServerStalledTCPClient: a TCP client that sends half a query and stops
// must not hold up anyone else.
func TestServerStalledTCPClient(t *testing.T) {
	s := hsStart(t, ServerConfig{}, hsTables(t, hsCluster(), hsConfig()), nil)
	for range 3 {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte{0, 40, 1, 2}); err != nil { // 40 bytes announced, 2 sent
			t.Fatal(err)
		}
	}
	for _, proto := range []string{"udp", "tcp"} {
		if r := hsExchange(t, proto, s.Addr(), "leader.mesos.", dns.TypeA, 0); len(r.Answer) != 1 {
			t.Errorf("%s: %v", proto, r.Answer)
		}
	}
}
