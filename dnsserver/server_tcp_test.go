package dnsserver

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A TCP client holds its connection only while it uses it: one that sends no
// query is closed after tcpIOTimeout (2 s), one that stops asking after
// TCPIdleTimeout (8 s by default).
func TestServerTCPIdleConnectionsClosed(t *testing.T) {
	const idle = 8 * time.Second
	s := hsStart(t, ServerConfig{}, hsTables(t, hsCluster(), hsConfig()), nil)
	closedWithin := func(c net.Conn, max time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(max))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("data from the server, want the connection closed")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open after %v", max)
		}
		return time.Since(start)
	}

	silent, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if took := closedWithin(silent, tcpIOTimeout+3*time.Second); took < tcpIOTimeout/2 {
		t.Errorf("a silent connection closed after %v, before the first-query timeout %v", took, tcpIOTimeout)
	}

	used, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer used.Close()
	dc := &dns.Conn{Conn: used}
	if err := dc.WriteMsg(new(dns.Msg).SetQuestion("leader.mesos.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	_ = used.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := dc.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	if took := closedWithin(used, idle+3*time.Second); took < idle/2 {
		t.Errorf("an idle connection closed after %v, before the idle timeout %v", took, idle)
	}
}
