package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startDaemon runs a daemon for cfg until the test ends and returns it once its
// servers listen.
func startDaemon(t *testing.T, cfg Config, lbo ...*lbOptions) *daemon {
	t.Helper()
	d, _ := startDaemonSignals(t, cfg, lbo...)
	return d
}

// startDaemonSignals is startDaemon with a channel to send it SIGHUP and SIGUSR1.
func startDaemonSignals(t *testing.T, cfg Config, lbo ...*lbOptions) (*daemon, chan<- os.Signal) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Normalize()
	var lb *lbOptions
	if len(lbo) > 0 {
		lb = lbo[0]
	}
	d, err := newDaemon(cfg, lb, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 4)
	d.signals = sigs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	select {
	case <-d.started:
	case err := <-done:
		t.Fatalf("daemon stopped at start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not start")
	}
	return d, sigs
}

func loopbackConfig(stateFile string) Config {
	cfg := DefaultConfig()
	cfg.StateFile = stateFile
	cfg.Masters = []string{"127.0.0.1:5050"}
	cfg.Listener, cfg.Port = "127.0.0.1", 0
	cfg.HTTPListener, cfg.HTTPPort = "127.0.0.1", 0
	cfg.ExternalOn = false
	return cfg
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func query(t *testing.T, proto, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", proto, name, err)
	}
	return r
}

func aRecords(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDaemonServesSampleClusterOverUDPAndTCP(t *testing.T) {
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.json")
	copyFile(t, "../../deploy/sample/state.json", stateFile)
	d := startDaemon(t, loopbackConfig(stateFile))
	waitFor(t, 5*time.Second, "first table", func() bool { return d.dnsTable.Builds() > 0 })

	for _, proto := range []string{"udp", "tcp"} {
		r := query(t, proto, d.dns.Addr(), "web.marathon.mesos", dns.TypeA)
		if r.Rcode != dns.RcodeSuccess || len(aRecords(r)) == 0 || !r.Authoritative {
			t.Errorf("%s: web.marathon.mesos: rcode %d, answers %v, aa %v", proto, r.Rcode, aRecords(r), r.Authoritative)
		}
		r = query(t, proto, d.dns.Addr(), "no-such-task.marathon.mesos", dns.TypeA)
		if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
			t.Errorf("%s: missing name: rcode %d, authority %v", proto, r.Rcode, r.Ns)
		}
	}
	if r := query(t, "udp", d.dns.Addr(), "example.com", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Errorf("outside name with externalon=false: rcode %d, want REFUSED", r.Rcode)
	}

	base := "http://" + d.httpLn.Addr().String()
	for path, want := range map[string]string{
		"/ready":                       "ready",
		"/health":                      "ok",
		"/v1/hosts/web.marathon.mesos": `"ip"`,
		"/metrics":                     "discovery_dns_records",
		"/v1/config":                   `"Domain": "mesos"`,
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %q, want 200 containing %q", path, resp.StatusCode, body, want)
		}
	}
}

// The promise: a new state file is served within a second of changing,
// also when it is replaced by a rename; a broken file keeps the last good view.
func TestDaemonPicksUpStateFileChangesWithinASecond(t *testing.T) {
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.json")
	copyFile(t, "../../deploy/sample/state.json", stateFile)
	d := startDaemon(t, loopbackConfig(stateFile))
	waitFor(t, 5*time.Second, "first table", func() bool { return d.dnsTable.Builds() > 0 })
	addr := d.dns.Addr()
	if got := aRecords(query(t, "udp", addr, "moved.marathon.mesos", dns.TypeA)); len(got) != 0 {
		t.Fatalf("moved.marathon.mesos exists before the change: %v", got)
	}

	orig, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	// Rename the "redis" task to "moved": written to a temp file, renamed over.
	changed := strings.ReplaceAll(string(orig), `"name": "redis"`, `"name": "moved"`)
	if changed == string(orig) {
		t.Fatal("sample state has no redis task to rename")
	}
	tmp := filepath.Join(dir, "state.json.tmp")
	if err := os.WriteFile(tmp, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := os.Rename(tmp, stateFile); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "renamed state file served", func() bool {
		return len(aRecords(query(t, "udp", addr, "moved.marathon.mesos", dns.TypeA))) > 0
	})
	t.Logf("rename served after %v", time.Since(start))

	// A malformed write: reported, and the last good view keeps answering.
	builds := d.dnsTable.Builds()
	if err := os.WriteFile(stateFile, []byte(`{"frameworks": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "error reported", func() bool {
		for _, s := range d.hub.Sources() {
			if s.LastError != nil {
				return true
			}
		}
		return false
	})
	if got := aRecords(query(t, "udp", addr, "moved.marathon.mesos", dns.TypeA)); len(got) == 0 || d.dnsTable.Builds() != builds {
		t.Fatalf("a malformed state replaced the good view: answers %v, builds %d -> %d", got, builds, d.dnsTable.Builds())
	}

	// Written in place: picked up too.
	start = time.Now()
	if err := os.WriteFile(stateFile, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "rewritten state file served", func() bool {
		return len(aRecords(query(t, "udp", addr, "redis.marathon.mesos", dns.TypeA))) > 0
	})
	t.Logf("in-place write served after %v", time.Since(start))
}

func TestDaemonRefusesToStartOnBadConfig(t *testing.T) {
	var stderr strings.Builder
	p := writeConfig(t, `{"masters":["127.0.0.1:5050"],"port":0,"httpport":0,"listener":"127.0.0.1","httpListener":"127.0.0.1","IPSources":["netinfo","bogus"]}`)
	if code := run([]string{"-config", p}, io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), "IPSources") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestDaemonFailsWhenPortTaken(t *testing.T) {
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := loopbackConfig(filepath.Join(t.TempDir(), "state.json"))
	_, port, _ := net.SplitHostPort(ln.LocalAddr().String())
	cfg.Port = mustAtoi(t, port)
	cfg.Normalize()
	d, err := newDaemon(cfg, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.run(context.Background()); err == nil || !strings.Contains(err.Error(), "dns") {
		t.Fatalf("run with the DNS port taken: %v", err)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Before the first view, names in the domain get SERVFAIL (retried by resolvers),
// never an NXDOMAIN that they would cache.
func TestDaemonAnswersServfailBeforeTheFirstView(t *testing.T) {
	cfg := loopbackConfig(filepath.Join(t.TempDir(), "missing-state.json"))
	d := startDaemon(t, cfg)
	r := query(t, "udp", d.dns.Addr(), "web.marathon.mesos", dns.TypeA)
	if r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before any view: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	resp, err := http.Get("http://" + d.httpLn.Addr().String() + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/ready before any view = %d, want 503", resp.StatusCode)
	}
}
