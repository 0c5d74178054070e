package dnsserver

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestServerUDPBurst sends bursts of queries from several clients without
// waiting for answers, so that the server reads and writes them in batches,
// and checks that every client gets the answer to each of its own queries.
func TestServerUDPBurst(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ServerConfig
	}{
		{"IPv4", ServerConfig{UDPWorkers: 1}},
		{"IPv4 with pktinfo", ServerConfig{UDPWorkers: 1, forcePktinfo: true}},
		{"IPv6 with pktinfo", ServerConfig{Addr: "[::1]:0", UDPWorkers: 2, forcePktinfo: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Addr != "" {
				if ln, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
					t.Skip("no IPv6 loopback")
				} else {
					ln.Close()
				}
			}
			s := hsStart(t, tc.cfg, hsTables(t, hsCluster(), hsConfig()), nil)
			const clients, perClient = 4, 100
			conns := make([]*net.UDPConn, clients)
			for c := range conns {
				raddr, err := net.ResolveUDPAddr("udp", s.Addr())
				if err != nil {
					t.Fatal(err)
				}
				conn, err := net.DialUDP("udp", nil, raddr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				conns[c] = conn
			}
			type want struct {
				qname string
				rcode int
				n     int
			}
			wants := make([]map[uint16]want, clients)
			for c, conn := range conns {
				wants[c] = map[uint16]want{}
				for i := range perClient {
					var q *dns.Msg
					var w want
					switch i % 3 {
					case 0:
						w = want{"web.marathon.mesos.", dns.RcodeSuccess, 3}
						q = new(dns.Msg).SetQuestion(w.qname, dns.TypeA)
					case 1:
						w = want{"_web._tcp.marathon.mesos.", dns.RcodeSuccess, 6}
						q = new(dns.Msg).SetQuestion(w.qname, dns.TypeSRV)
						q.SetEdns0(1232, false)
					default:
						w = want{fmt.Sprintf("nope-%d-%d.marathon.mesos.", c, i), dns.RcodeNameError, 0}
						q = new(dns.Msg).SetQuestion(w.qname, dns.TypeA)
					}
					q.Id = uint16(c*1000 + i)
					wants[c][q.Id] = w
					b, err := q.Pack()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := conn.Write(b); err != nil {
						t.Fatal(err)
					}
				}
			}
			buf := make([]byte, 65535)
			for c, conn := range conns {
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				for len(wants[c]) > 0 {
					n, err := conn.Read(buf)
					if err != nil {
						t.Fatalf("client %d: %v with %d answers missing", c, err, len(wants[c]))
					}
					r := new(dns.Msg)
					if err := r.Unpack(buf[:n]); err != nil {
						t.Fatalf("client %d: %v", c, err)
					}
					w, ok := wants[c][r.Id]
					if !ok {
						t.Fatalf("client %d: answer with ID %d, not one of its open queries", c, r.Id)
					}
					delete(wants[c], r.Id)
					if r.Question[0].Name != w.qname || r.Rcode != w.rcode || len(r.Answer) != w.n {
						t.Errorf("client %d, ID %d: %s %s with %d records, want %s %s with %d",
							c, r.Id, r.Question[0].Name, dns.RcodeToString[r.Rcode], len(r.Answer), w.qname, dns.RcodeToString[w.rcode], w.n)
					}
				}
			}
		})
	}
}
