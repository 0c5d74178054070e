package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// startDevT parses args as the command line does and starts -dev with env,
// stopping it (and checking it stopped cleanly) when the test ends.
func startDevT(t *testing.T, args []string, env devEnv, log *slog.Logger) *devRun {
	t.Helper()
	o, err := parseArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if env.portBase == 0 {
		// Not the default 10000, which a -dev run by hand may hold.
		env.portBase = 20000 + rand.IntN(90)*100
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := startDev(ctx, o, log, env)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("-dev stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("-dev did not stop within 15s")
		}
	})
	return r
}

// devArgs moves every server of -dev to a free loopback port, so that the test
// holds none of the fixed ones (8053, 8123, 80, 443, 9090, 9091).
func devArgs(t *testing.T, extra ...string) []string {
	free := func() string { return "127.0.0.1:" + strconv.Itoa(haproxytest.FreePort(t, "127.0.0.1")) }
	return append([]string{
		"-dev", "-port", "0", "-httpport", "0",
		"-lb-stats-bind", free(), "-lb-appid-bind", free(), "-lb-http-bind", free(), "-lb-https-bind", free(),
		"-lb-drain-seconds", "1",
	}, extra...)
}

// udpA answers the A records of name over UDP, nil on any failure (the caller
// polls).
func udpA(addr, name string) []string {
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return nil
	}
	return aRecords(r)
}

// srvTargets resolves the SRV records of name (and the A records of their
// targets) into the address:port pairs DNS serves for it.
func srvTargets(addr, name string) []netip.AddrPort {
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeSRV)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return nil
	}
	var out []netip.AddrPort
	for _, rr := range r.Answer {
		srv, ok := rr.(*dns.SRV)
		if !ok {
			continue
		}
		for _, a := range udpA(addr, srv.Target) {
			if ip, err := netip.ParseAddr(a); err == nil {
				out = append(out, netip.AddrPortFrom(ip, srv.Port))
			}
		}
	}
	return out
}

func httpGet(url string) (int, http.Header, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// One call runs it all: the simulated cluster's tasks are answered over UDP,
// the status page names the simulated leader, /ready turns 200, HAProxy (when
// installed) routes a service port to a task's real backend, and a task the
// churn starts shows up in DNS.
func TestDevRunsTheWholeThing(t *testing.T) {
	out := new(statetest.LogBuffer)
	r := startDevT(t, devArgs(t, "-dev-churn", "5/s"), devEnv{out: out}, discardLog())
	initial := r.sim.Truth()
	dnsAddr := r.d.dns.Addr()
	base := "http://" + r.d.httpLn.Addr().String()

	app := initial.Apps[0]
	name := initial.TaskDNSName(app, "mesos")
	agents := map[string]bool{}
	for _, a := range initial.Agents {
		agents[a.IP.String()] = true
	}
	waitFor(t, 10*time.Second, "an A record of "+name+" over UDP", func() bool {
		got := udpA(dnsAddr, name)
		for _, ip := range got {
			if !agents[ip] {
				t.Fatalf("%s answered %v: %s is no agent of the simulated cluster", name, got, ip)
			}
		}
		return len(got) > 0
	})

	leader := r.sim.Leader().Addr()
	waitFor(t, 10*time.Second, "the status page naming the leader "+leader, func() bool {
		code, _, body := httpGet(base + "/")
		return code == http.StatusOK && strings.Contains(body, leader)
	})
	waitFor(t, 20*time.Second, "/ready answering 200", func() bool {
		code, _, _ := httpGet(base + "/ready")
		return code == http.StatusOK
	})

	for _, want := range []string{"dig @127.0.0.1 -p " + portOf(t, dnsAddr) + " " + strings.TrimSuffix(name, "."), base + "/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the try-this block lacks %q:\n%s", want, out)
		}
	}

	if r.haproxy == "" {
		t.Log("haproxy is not installed: load balancing not checked")
		if !strings.Contains(out.String(), devInstallHint) {
			t.Errorf("without haproxy the try-this block should say %q:\n%s", devInstallHint, out)
		}
	} else {
		url := "http://127.0.0.1:" + strconv.Itoa(app.ServicePort) + "/"
		if !strings.Contains(out.String(), "curl -s "+url) {
			t.Errorf("the try-this block lacks the service port's URL %s:\n%s", url, out)
		}
		waitFor(t, 20*time.Second, "a request through HAProxy at "+url+" reaching a task of "+app.ID, func() bool {
			code, h, body := httpGet(url)
			if code != http.StatusOK {
				return false
			}
			if h.Get("X-App-Id") != app.ID || !strings.HasPrefix(body, "127.1.") {
				t.Fatalf("%s answered for app %q with %q, want a task of %s", url, h.Get("X-App-Id"), body, app.ID)
			}
			return true
		})
		// Every frontend HAProxy binds is on loopback.
		raw, err := os.ReadFile(filepath.Join(r.dir, "haproxy.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		binds := 0
		for _, line := range strings.Split(string(raw), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "bind" {
				binds++
				if !strings.HasPrefix(f[1], "127.0.0.1:") && !strings.HasPrefix(f[1], "abns@") {
					t.Errorf("HAProxy binds off loopback: %q", strings.TrimSpace(line))
				}
			}
		}
		if binds < 4+len(initial.Apps) {
			t.Errorf("HAProxy config has %d binds, want the stats, app-id, HTTP, HTTPS and %d service ports:\n%s", binds, len(initial.Apps), raw)
		}
	}

	// A task the churn started after the test began is served in DNS (SRV:
	// its own address and port).
	known := map[string]bool{}
	for _, tk := range initial.Tasks() {
		known[tk.ID] = true
	}
	waitFor(t, 20*time.Second, "a task started by the churn answered in DNS", func() bool {
		tr := r.sim.Truth()
		for _, a := range tr.Apps {
			for _, tk := range a.Tasks {
				if known[tk.ID] {
					continue
				}
				srv := "_" + a.TaskName + "._tcp." + tr.Framework + ".mesos."
				for _, got := range srvTargets(dnsAddr, srv) {
					if got == tk.Addr() {
						return true
					}
				}
			}
		}
		return false
	})
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Without HAProxy, -dev says how to install it and runs DNS and HTTP alone.
func TestDevWithoutHAProxySaysHowToInstallIt(t *testing.T) {
	logs, out := new(statetest.LogBuffer), new(statetest.LogBuffer)
	log := slog.New(slog.NewTextHandler(logs, nil))
	missing := func() (string, error) { return "", errors.New("haproxy is not on PATH") }
	r := startDevT(t, devArgs(t, "-dev-churn", "0"), devEnv{findHAProxy: missing, out: out}, log)
	if r.d.lb != nil || r.haproxy != "" {
		t.Fatal("the load balancer is on without an HAProxy")
	}
	for what, text := range map[string]string{"log": logs.String(), "try-this block": out.String()} {
		if !strings.Contains(text, "apt-get install haproxy") {
			t.Errorf("the %s does not say how to install HAProxy:\n%s", what, text)
		}
	}
	tr := r.sim.Truth()
	name := tr.TaskDNSName(tr.Apps[0], "mesos")
	waitFor(t, 10*time.Second, "an A record of "+name+" over UDP", func() bool { return len(udpA(r.d.dns.Addr(), name)) > 0 })
	waitFor(t, 10*time.Second, "/ready answering 200", func() bool {
		code, _, _ := httpGet("http://" + r.d.httpLn.Addr().String() + "/ready")
		return code == http.StatusOK
	})
}

// Load balancer flags given to -dev without an HAProxy are an error that says
// how to install it, not a load balancer silently off.
func TestDevLoadBalancerFlagsWithoutHAProxyFail(t *testing.T) {
	o, err := parseArgs([]string{"-dev", "-port", "0", "-httpport", "0", "--group", "external"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	missing := func() (string, error) { return "", errors.New("haproxy is not on PATH") }
	_, err = startDev(context.Background(), o, discardLog(), devEnv{findHAProxy: missing})
	if err == nil || !strings.Contains(err.Error(), "apt-get install haproxy") {
		t.Fatalf("got %v, want an error saying how to install HAProxy", err)
	}
}

// -dev supplies defaults only: loopback, 8053 and 8123, no forwarding, and no
// masters needed; flags given beside it win. Its companion flags need it.
func TestDevFlags(t *testing.T) {
	o, err := parseArgs([]string{"-dev", "-port", "9053"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.Listener != "127.0.0.1" || c.Port != 9053 || c.HTTPListener != "127.0.0.1" || c.HTTPPort != 8123 || c.ExternalOn {
		t.Errorf("-dev -port 9053: listener %s:%d, http %s:%d, externalon %t; want 127.0.0.1:9053, 127.0.0.1:8123, false",
			c.Listener, c.Port, c.HTTPListener, c.HTTPPort, c.ExternalOn)
	}
	for _, args := range [][]string{
		{"-masters", "127.0.0.1:5050", "-dev-churn", "1/s"},
		{"-masters", "127.0.0.1:5050", "-dev-dir", t.TempDir()},
		{"-dev", "-dev-churn", "fast"},
	} {
		if _, err := parseArgs(args, io.Discard); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
}

// The fixed HAProxy ports -dev prefers give way to free ones when taken, and
// no port is picked twice.
func TestDevPortPickerSkipsTakenPorts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	p := &portPicker{taken: map[int]bool{}}
	if got := p.pick(taken); got == taken || !loopbackFree(got) {
		t.Errorf("pick(%d) with %d taken = %d, want another free port", taken, taken, got)
	}
	free := haproxytest.FreePort(t, "127.0.0.1")
	first, second := p.pick(free), p.pick(free)
	if first != free || second == free {
		t.Errorf("pick(%d) twice = %d, %d; want %d, then another", free, first, second, free)
	}
}

// devPortBase skips a range in which a service port is taken.
func TestDevPortBaseSkipsTakenRanges(t *testing.T) {
	base := 21000 + rand.IntN(80)*100
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+2))
	if err != nil {
		t.Skipf("port %d: %v", base+2, err)
	}
	defer ln.Close()
	got, err := devPortBase(base, devApps)
	if err != nil {
		t.Fatal(err)
	}
	if got <= base+2 || (got-base)%100 != 0 {
		t.Errorf("devPortBase(%d) with %d taken = %d, want %d or a later hundred", base, base+2, got, base+100)
	}
}
