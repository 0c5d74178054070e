package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/dnstest"
	"github.com/discovery-mesos/discovery/internal/sim"
)

// dialFrom opens a TCP connection to addr from the loopback address src, so
// that one test can play several clients.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// configFile writes keys as a config file and returns the arguments that
// read it. Keys, unlike flags, are only a warning to a binary that does not
// know them: the tests fail on the behaviour of an older binary, not on its
// command line.
func configFile(t *testing.T, keys map[string]any) []string {
	t.Helper()
	b, err := json.Marshal(keys)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"-config", p}
}

// closedBy reports whether the server closes c within wait (without c having
// sent anything more).
func closedBy(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// One HTTP client cannot hold the server's connections: past its cap (16 by
// default) a new connection is closed at once while other clients are served,
// and an idle keep-alive connection is closed after httpIdleTimeoutSeconds.
// (Before: no cap and no idle timeout, and 500 idle connections exhausted the
// daemon's file descriptors.)
func TestSecurityHTTPConnectionCaps(t *testing.T) {
	const perClient = 16 // the documented default
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 161})
	d := startDaemon(t, false, append(configFile(t, map[string]any{"httpIdleTimeoutSeconds": 1}),
		"-dnson=false", "-masters="+c.Masters()[0].Addr())...)
	held := make([]net.Conn, perClient)
	for i := range held {
		held[i] = dialFrom(t, "127.0.0.2", d.HTTPAddr)
		// A request answered proves the server accepted the connection
		// (and not only the kernel's backlog).
		if _, err := fmt.Fprintf(held[i], "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = held[i].SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(held[i]), nil)
		if err != nil {
			t.Fatalf("connection %d of one client: %v", i+1, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	over := dialFrom(t, "127.0.0.2", d.HTTPAddr)
	if !closedBy(over, 3*time.Second) {
		t.Errorf("connection %d of one client was not closed at once", perClient+1)
	}
	d.mustGet(t, "/health", 200) // another client (127.0.0.1) is served meanwhile
	if v := d.metric(t, "discovery_http_refused_connections_total"); v < 1 {
		t.Errorf("discovery_http_refused_connections_total = %v", v)
	}
	// The held connections are idle keep-alive connections: closed after 1 s.
	start := time.Now()
	for i, c := range held {
		if !closedBy(c, 5*time.Second) {
			t.Fatalf("idle keep-alive connection %d still open %v after its last answer (httpIdleTimeoutSeconds=1)", i+1, time.Since(start).Round(time.Millisecond))
		}
	}
	t.Logf("%d idle keep-alive connections closed within %v of the test reading (idle timeout 1 s)", perClient, time.Since(start).Round(time.Millisecond))
	// Their slots are free again.
	again := dialFrom(t, "127.0.0.2", d.HTTPAddr)
	fmt.Fprintf(again, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	_ = again.SetReadDeadline(time.Now().Add(5 * time.Second))
	if res, err := http.ReadResponse(bufio.NewReader(again), nil); err != nil || res.StatusCode != 200 {
		t.Errorf("the client, its connections closed, is not served again: %v", err)
	}
}

// healthOn sends GET /health on c and waits up to wait for the answer.
func healthOn(c net.Conn, wait time.Duration) error {
	if _, err := fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.Body.Close()
}

// Past httpMaxConns a new client waits (in the listen backlog) until a
// connection closes, then is served.
func TestSecurityHTTPTotalCap(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 163})
	d := startDaemon(t, false, append(configFile(t, map[string]any{"httpMaxConns": 8, "httpMaxConnsPerClient": 4}),
		"-dnson=false", "-masters="+c.Masters()[0].Addr())...)
	var held []net.Conn
	for _, src := range []string{"127.0.0.2", "127.0.0.3"} {
		for range 4 {
			conn := dialFrom(t, src, d.HTTPAddr)
			if err := healthOn(conn, 5*time.Second); err != nil {
				t.Fatalf("connection %d: %v", len(held)+1, err)
			}
			held = append(held, conn)
		}
	}
	waiting := dialFrom(t, "127.0.0.4", d.HTTPAddr) // the kernel accepts it; the server does not yet
	answered := make(chan error, 1)
	go func() { answered <- healthOn(waiting, 10*time.Second) }()
	select {
	case err := <-answered:
		t.Fatalf("a 9th connection was served past httpMaxConns=8 (%v)", err)
	case <-time.After(time.Second): // bounded: a served request takes milliseconds
	}
	held[0].Close()
	if err := <-answered; err != nil {
		t.Errorf("the waiting client was not served once a connection closed: %v", err)
	}
}

// One DNS client cannot take DNS over TCP from the others: past its cap (32
// by default) its new connections are closed at once, while another client is
// answered. (Before: only a global cap of 1000, which one client could fill.)
func TestSecurityDNSTCPPerClientCap(t *testing.T) {
	const perClient = 32 // the documented default
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 171})
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr())
	waitDNS(t, d, c, 20*time.Second)
	name := c.Truth().TaskDNSName(c.Truth().Apps[0], domain)
	ask := func(conn net.Conn) error {
		dc := &dns.Conn{Conn: conn}
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		if err := dc.WriteMsg(new(dns.Msg).SetQuestion(name, dns.TypeA)); err != nil {
			return err
		}
		r, err := dc.ReadMsg()
		if err == nil && len(r.Answer) == 0 {
			err = fmt.Errorf("no answer: %s", dns.RcodeToString[r.Rcode])
		}
		return err
	}
	for i := range perClient {
		// Each connection asks once, so that the server holds it for the idle
		// timeout (8 s), not the first-query timeout (2 s).
		if err := ask(dialFrom(t, "127.0.0.2", d.DNSAddr)); err != nil {
			t.Fatalf("connection %d of one client: %v", i+1, err)
		}
	}
	over := dialFrom(t, "127.0.0.2", d.DNSAddr)
	if err := ask(over); err == nil {
		t.Errorf("connection %d of one client was answered past its cap of %d", perClient+1, perClient)
	}
	if err := ask(dialFrom(t, "127.0.0.3", d.DNSAddr)); err != nil {
		t.Errorf("another client is not answered over TCP: %v", err)
	}
	if v := d.metric(t, "discovery_dns_tcp_refused_connections_total"); v < 1 {
		t.Errorf("discovery_dns_tcp_refused_connections_total = %v", v)
	}
}

// Every query pipelined on one TCP connection is answered: 1000 written at
// once, 1000 answers read. (Before: the connection was closed after 128 and
// reset under the queries already sent.)
func TestSecurityDNSTCPPipelining(t *testing.T) {
	const queries = 1000
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 173})
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr())
	waitDNS(t, d, c, 20*time.Second)
	name := c.Truth().TaskDNSName(c.Truth().Apps[0], domain)
	conn := dialFrom(t, "127.0.0.1", d.DNSAddr)
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	dc := &dns.Conn{Conn: conn}
	written := make(chan error, 1)
	go func() {
		for i := range queries {
			m := new(dns.Msg).SetQuestion(name, dns.TypeA)
			m.Id = uint16(i)
			if err := dc.WriteMsg(m); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()
	seen := make([]bool, queries)
	for n := range queries {
		r, err := dc.ReadMsg()
		if err != nil {
			t.Fatalf("answer %d of %d pipelined queries: %v", n+1, queries, err)
		}
		if int(r.Id) >= queries || seen[r.Id] || len(r.Answer) != 1 {
			t.Fatalf("answer %d: id %d, %d records", n+1, r.Id, len(r.Answer))
		}
		seen[r.Id] = true
	}
	if err := <-written; err != nil {
		t.Fatalf("writing the queries: %v", err)
	}
}

// The signal endpoints refuse cross-site browser requests (Origin of another
// site, Sec-Fetch-Site cross-site or same-site) and reload nothing, while
// marathon-lb's clients (GET without Origin, as curl sends) still work; every
// page but the monitoring ones refuses a Host that is not a name of this
// server (DNS rebinding), IP addresses, localhost, names under the domain
// and -httpAllowedHosts being allowed.
func TestSecurityCrossSiteAndHost(t *testing.T) {
	_, _, d := lbCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 181},
		configFile(t, map[string]any{"httpAllowedHosts": []string{"lb.example.org"}})...)
	waitFor(t, 10*time.Second, "the initial apply counted", func() bool {
		return d.metric(t, "discovery_lb_reloads_total") >= 1
	})
	do := func(method, path, host string, header map[string]string) int {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+d.HTTPAddr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	reloads := d.metric(t, "discovery_lb_reloads_total")
	for _, tc := range []struct {
		method string
		header map[string]string
	}{
		{"GET", map[string]string{"Origin": "http://evil.example"}},
		{"POST", map[string]string{"Origin": "http://evil.example"}},
		{"GET", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"POST", map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"GET", map[string]string{"Origin": "null"}},
	} {
		if code := do(tc.method, "/_mlb_signal/usr1", "", tc.header); code != http.StatusForbidden {
			t.Errorf("%s /_mlb_signal/usr1 with %v: %d, want 403", tc.method, tc.header, code)
		}
	}
	if v := d.metric(t, "discovery_lb_reloads_total"); v != reloads {
		t.Errorf("a refused cross-site usr1 reloaded HAProxy: reloads %v → %v", reloads, v)
	}
	if v := d.metric(t, "discovery_http_refused_requests_total", `reason="cross-site"`); v != 5 {
		t.Errorf(`discovery_http_refused_requests_total{reason="cross-site"} = %v, want 5`, v)
	}
	// marathon-lb's clients, and a same-origin page.
	if code := do("GET", "/_mlb_signal/usr1", "", nil); code != 200 {
		t.Errorf("GET /_mlb_signal/usr1 as curl sends it: %d", code)
	}
	if code := do("POST", "/_mlb_signal/usr1", "", map[string]string{"Origin": "http://" + d.HTTPAddr, "Sec-Fetch-Site": "same-origin"}); code != 200 {
		t.Errorf("POST /_mlb_signal/usr1 from the server's own origin: %d", code)
	}
	waitFor(t, 10*time.Second, "usr1 over HTTP reloading HAProxy", func() bool {
		return d.metric(t, "discovery_lb_reloads_total") > reloads
	})

	_, port, _ := net.SplitHostPort(d.HTTPAddr)
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"evil.example:" + port, "/status.json", http.StatusMisdirectedRequest},
		{"evil.example", "/v1/config", http.StatusMisdirectedRequest},
		{"evil.example", "/_haproxy_getconfig", http.StatusMisdirectedRequest},
		{"evil.example", "/_mlb_signal/usr1", http.StatusMisdirectedRequest},
		{"127.0.0.1:" + port, "/status.json", 200},
		{"[::1]:" + port, "/status.json", 200},
		{"localhost:" + port, "/status.json", 200},
		{"leader." + domain + ":" + port, "/status.json", 200},
		{"LB.example.org.", "/v1/version", 200},
		{"evil.example", "/metrics", 200}, // monitoring answers any Host
		{"evil.example", "/health", 200},
	} {
		if code := do("GET", tc.path, tc.host, nil); code != tc.want {
			t.Errorf("GET %s with Host %s: %d, want %d", tc.path, tc.host, code, tc.want)
		}
	}
	if v := d.metric(t, "discovery_http_refused_requests_total", `reason="host"`); v != 4 {
		t.Errorf(`discovery_http_refused_requests_total{reason="host"} = %v, want 4`, v)
	}
}

// fakeBigResolver answers every question over UDP on 127.0.0.1 with TXT
// records filling 4000 bytes, and counts the questions: the worst upstream
// answer for amplification.
func fakeBigResolver(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int64
	srv := &dns.Server{PacketConn: pc, UDPSize: dns.MaxMsgSize, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		asked.Add(1)
		m := new(dns.Msg).SetReply(r)
		for range 16 {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 30},
				Txt: []string{strings.Repeat("x", 240)}})
		}
		if o := r.IsEdns0(); o != nil {
			m.SetEdns0(o.UDPSize(), false)
		}
		_ = w.WriteMsg(m)
	})}
	dnstest.Serve(t, srv)
	return pc.LocalAddr().String(), &asked
}

// exchangeFrom sends m over UDP from the loopback address src and returns
// the answer and the bytes sent and received on the wire.
func exchangeFrom(t *testing.T, src, addr string, m *dns.Msg) (*dns.Msg, int, int) {
	t.Helper()
	q, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(src)}}
	conn, err := d.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(q); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("%s from %s: %v", m.Question[0].Name, src, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return r, len(q), n
}

// Recursion only for the networks in externalFrom: a client outside them gets
// REFUSED for outside names (nothing is sent upstream) and so no more bytes
// than it sent; names in the domain are answered for everyone. The figures
// of docs/security.md are logged: the worst bytes-out/bytes-in of a forwarded
// query (an upstream answer filling the client's EDNS buffer) and of an
// in-domain one. (Before: every client was forwarded for, ~25× and more.)
func TestSecurityDNSRecursionAllowList(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 80, Agents: 40, Seed: 191})
	upstream, asked := fakeBigResolver(t)
	d := startDaemon(t, true, append(configFile(t, map[string]any{"externalFrom": []string{"127.0.0.2/32"}}),
		"-masters="+c.Masters()[0].Addr(), "-externalon=true", "-resolvers="+upstream)...)
	waitDNS(t, d, c, 20*time.Second)

	worst := func(src string, name string, qtype uint16) (float64, *dns.Msg) {
		var ratio float64
		var last *dns.Msg
		for _, size := range []uint16{0, 512, 1232, 4096, 65535} {
			m := new(dns.Msg)
			m.SetQuestion(name, qtype)
			if size > 0 {
				m.SetEdns0(size, false)
			}
			r, in, out := exchangeFrom(t, src, d.DNSAddr, m)
			if out > 1232 {
				t.Errorf("%s from %s, EDNS %d: a %d-byte UDP answer, over 1232", name, src, size, out)
			}
			last = r
			ratio = max(ratio, float64(out)/float64(in))
		}
		return ratio, last
	}
	allowed, r := worst("127.0.0.2", "x.", dns.TypeTXT)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 && !r.Truncated {
		t.Fatalf("a client in externalFrom is not forwarded for: %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	before := asked.Load()
	refused, r := worst("127.0.0.3", "x.", dns.TypeTXT)
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("a client outside externalFrom: %s for an outside name, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if asked.Load() != before {
		t.Errorf("a query from outside externalFrom reached the upstream")
	}
	if refused > 1.0 {
		t.Errorf("outside externalFrom, an outside name returns %.2f× the bytes sent", refused)
	}
	if v := d.metric(t, "discovery_dns_forward_denied_total"); v != 5 {
		t.Errorf("discovery_dns_forward_denied_total = %v, want 5", v)
	}
	tr := c.Truth()
	a := tr.Apps[0]
	inDomain, r := worst("127.0.0.3", "_"+a.TaskName+"._tcp.marathon."+domain+".", dns.TypeSRV)
	if len(r.Answer) == 0 {
		t.Errorf("a client outside externalFrom gets no in-domain answer: %s", dns.RcodeToString[r.Rcode])
	}
	t.Logf("amplification (bytes out / bytes in, worst of no EDNS, 512, 1232, 4096, 65535): forwarded %.1f×, refused outside name %.2f×, in-domain SRV of 80 tasks %.1f×",
		allowed, refused, inDomain)
}

// Idle HTTP connections from many clients, more than the daemon has file
// descriptors (500 against a limit of 400), cost HTTP only: DNS over TCP,
// forwarding and following the master go on, and HTTP serves again once they
// close. (Before: the descriptors ran out and all of those failed with HTTP.)
func TestSecurityHTTPFloodSparesTheRest(t *testing.T) {
	const nofile, clients, perClient = 400, 34, 15
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 165})
	upstream := fakeResolver(t, "127.0.0.78")
	all := append(baseArgs(), "-masters="+c.Masters()[0].Addr(), "-mesosFollow=poll",
		"-externalon=true", "-resolvers="+upstream)
	cmd := osexec.Command("prlimit", append([]string{fmt.Sprintf("--nofile=%d:%d", nofile, nofile), discoveryBin}, all...)...)
	d := spawnCmd(t, cmd, all)
	if err := d.WaitListeners(true, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	waitDNS(t, d, c, 20*time.Second)

	var flood []net.Conn
	for i := range clients {
		for range perClient {
			flood = append(flood, dialFrom(t, fmt.Sprintf("127.0.1.%d", i+1), d.HTTPAddr))
		}
	}
	start := time.Now()
	// Within the 10 s the server gives a connection to send its headers.
	tcp := &dns.Client{Net: "tcp", Timeout: 3 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}}
	name := c.Truth().TaskDNSName(c.Truth().Apps[0], domain)
	if r, _, err := tcp.Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), d.DNSAddr); err != nil || len(r.Answer) == 0 {
		t.Errorf("DNS over TCP during %d idle HTTP connections: %v", len(flood), err)
	}
	if r, err := d.query("www.example.com.", dns.TypeA); err != nil || len(r.Answer) == 0 {
		t.Errorf("forwarding during %d idle HTTP connections: %v", len(flood), err)
	}
	if _, err := c.AddApp("late", 1); err != nil {
		t.Fatal(err)
	}
	waitDNS(t, d, c, 5*time.Second) // the master is still polled
	t.Logf("%d idle HTTP connections from %d clients (descriptor limit %d): DNS over TCP, forwarding and polling fine for %v",
		len(flood), clients, nofile, time.Since(start).Round(time.Millisecond))
	for _, f := range flood {
		f.Close()
	}
	waitFor(t, 15*time.Second, "HTTP serving again", func() bool {
		code, _, err := d.get("/health")
		return err == nil && code == 200
	})
}
