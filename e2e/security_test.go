package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/sim"
)

// Credentials — the masters' mesosCredentials secret (from the config file)
// and the Marathon password (from a credential file) — never appear in the
// daemon's log (debug level, through a failure of each too), in /v1/config,
// on the status page, /status.json or /metrics.
func TestSecurityCredentialsNeverShown(t *testing.T) {
	const (
		principal  = "dns-principal"
		secret     = "mesos-s3cret-Xy7Qz"
		mUser      = "lb-user"
		mPassword  = "marathon-p4ss-Kq9Wv"
		newSecret  = "rotated-s3cret-Pp2Rr"
		newMarPass = "rotated-p4ss-Tt5Uu"
	)
	c := newCluster(t, sim.Config{Apps: 2, TasksPerApp: 2, Seed: 111, Backends: true})
	m := c.Masters()[0]
	m.RequireBasicAuth(principal, secret)
	c.Marathon().SetBasicAuth(mUser, mPassword)
	dir := t.TempDir()
	cfg, err := json.Marshal(map[string]any{
		"masters":             []string{m.Addr()},
		"mesosAuthentication": "basic",
		"mesosCredentials":    map[string]string{"principal": principal, "secret": secret},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	credPath := filepath.Join(dir, "marathon-creds")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credPath, []byte(mUser+":"+mPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lb := newLB(t)
	d := startDaemon(t, true, append([]string{"-config", cfgPath, "-logLevel=debug",
		"--marathon", c.MarathonURL(), "--marathon-auth-credential-file", credPath}, lb.args...)...)
	waitDNS(t, d, c, 20*time.Second)  // the masters accepted the secret
	waitTraffic(t, c, 20*time.Second) // Marathon accepted the password

	// Both sides now refuse the credentials: the failures are logged.
	m.RequireBasicAuth(principal, newSecret)
	c.Marathon().SetBasicAuth(mUser, newMarPass)
	c.Marathon().DisconnectEventStreams()
	c.OperatorAPIs()[0].CutStreams()
	if _, err := c.StartTask(c.Truth().Apps[0].ID); err != nil {
		t.Fatal(err)
	}
	before := len(d.LogLines())
	refused := func(component string) bool {
		for _, l := range d.LogLines()[before:] {
			if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
				if strings.Contains(l, component) && (strings.Contains(l, "401") || strings.Contains(strings.ToLower(l), "unauthorized")) {
					return true
				}
			}
		}
		return false
	}
	waitFor(t, 15*time.Second, "the refused credentials logged as failures", func() bool {
		return refused("mesos") && refused("marathon")
	})

	pages := map[string]string{"log": d.logText()}
	for _, p := range []string{"/v1/config", "/", "/status.json", "/metrics", "/v1/version"} {
		code, body, err := d.get(p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		if code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
		pages[p] = body
	}
	if !strings.Contains(pages["/v1/config"], m.Addr()) {
		t.Errorf("/v1/config does not show the configuration: %.300s", pages["/v1/config"])
	}
	for where, text := range pages {
		for _, s := range []string{secret, mPassword, mUser + ":" + mPassword} {
			if strings.Contains(text, s) {
				i := strings.Index(text, s)
				t.Errorf("%s shows a credential: …%s…", where, text[max(0, i-100):min(len(text), i+len(s)+50)])
			}
		}
	}
	if err := runOutput(t, "ps", "-o", "args=", "-p", itoa(d.Cmd.Process.Pid)); strings.Contains(err, secret) || strings.Contains(err, mPassword) {
		t.Error("a credential is on the daemon's command line")
	}
}

// HAProxy's master and stats sockets are created mode 0600.
func TestSecuritySocketsOwnerOnly(t *testing.T) {
	_, lb, _ := lbCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 121})
	for _, p := range []string{lb.masterSock, lb.statsSock} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want a socket of mode 0600", filepath.Base(p), fi.Mode())
		}
	}
}

// The /_mlb_signal endpoints: off answers 403 (and nothing is reloaded);
// auto on a loopback HTTP listener serves them.
func TestSecuritySignalEndpoints(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want int
	}{
		{"off", http.StatusForbidden},
		{"auto", http.StatusOK},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			_, _, d := lbCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 131}, "-lb-signal-endpoints="+tc.mode)
			waitFor(t, 10*time.Second, "the initial apply counted", func() bool {
				return d.metric(t, "discovery_lb_reloads_total") >= 1
			})
			reloads := d.metric(t, "discovery_lb_reloads_total")
			for _, p := range []string{"/_mlb_signal/hup", "/_mlb_signal/usr1"} {
				code, body, err := d.get(p)
				if err != nil {
					t.Fatal(err)
				}
				if code != tc.want {
					t.Errorf("GET %s with -lb-signal-endpoints=%s: %d %q, want %d", p, tc.mode, code, strings.TrimSpace(body), tc.want)
				}
			}
			if tc.mode == "off" {
				if v := d.metric(t, "discovery_lb_reloads_total"); v != reloads {
					t.Errorf("a refused usr1 reloaded HAProxy: reloads %v → %v", reloads, v)
				}
			} else {
				waitFor(t, 10*time.Second, "usr1 over HTTP reloading HAProxy", func() bool {
					return d.metric(t, "discovery_lb_reloads_total") > reloads
				})
			}
		})
	}
}

// DNS is not an amplifier: UDP answers never exceed the client's advertised
// size (512 without EDNS0), with TC set when cut; ANY gets a minimal answer
// (RFC 8482); outside names are refused with externalon=false; the
// per-client rate limit, switched on, drops the excess.
func TestSecurityDNSNotAnAmplifier(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 80, Agents: 40, Seed: 141})
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr())
	waitDNS(t, d, c, 20*time.Second)
	tr := c.Truth()
	a := tr.Apps[0]
	names := map[string]uint16{
		tr.TaskDNSName(a, domain):                           dns.TypeA,
		"_" + a.TaskName + "._tcp.marathon." + domain + ".": dns.TypeSRV,
	}
	for name, qtype := range names {
		for _, size := range []uint16{0, 512, 1232, 4096} {
			m := new(dns.Msg)
			m.SetQuestion(name, qtype)
			if size > 0 {
				m.SetEdns0(size, false)
			}
			r, n := exchangeRaw(t, d.DNSAddr, m)
			limit := int(max(size, 512))
			t.Logf("%s %s, advertised %d: %d bytes on the wire, %d answers, TC=%v", name, dns.TypeToString[qtype], size, n, len(r.Answer), r.Truncated)
			if n > limit {
				t.Errorf("%s %s: %d-byte UDP answer to a client that takes %d", name, dns.TypeToString[qtype], n, limit)
			}
			if !r.Truncated && len(r.Answer) < 80 && qtype == dns.TypeSRV {
				t.Errorf("%s: %d of 80 SRV records without TC", name, len(r.Answer))
			}
		}
	}

	// ANY: a minimal answer.
	m := new(dns.Msg)
	m.SetQuestion(tr.TaskDNSName(a, domain), dns.TypeANY)
	m.SetEdns0(4096, false)
	r, n := exchangeRaw(t, d.DNSAddr, m)
	t.Logf("ANY: %d bytes, %d records: %v", n, len(r.Answer), r.Answer)
	types := map[uint16]bool{}
	for _, rr := range r.Answer {
		types[rr.Header().Rrtype] = true
	}
	if len(types) > 1 || n > 4096 {
		t.Errorf("ANY: %d bytes, %d record types: not a minimal answer (RFC 8482: one RRset, or HINFO \"RFC8482\")", n, len(types))
	}

	// Outside names with externalon=false.
	r, err := d.query("www.example.com.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("outside name with externalon=false: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
}

// The per-client response rate limit (-dnsRateLimit) drops the excess of a
// burst from one client.
func TestSecurityDNSRateLimit(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 2, Seed: 151})
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr(), "-dnsRateLimit=20", "-dnsRateLimitBurst=20")
	waitDNS(t, d, c, 20*time.Second)
	var res loadResult
	q := [][]byte{packQuery(c.Truth().TaskDNSName(c.Truth().Apps[0], domain), dns.TypeA)}
	ctx, cancel := contextTimeout(time.Second)
	defer cancel()
	openLoop(ctx, d.DNSAddr, 1000, 1, q, &res)
	t.Logf("1000 queries/s for 1s from one client with a 20/s limit (burst 20): %d sent, %d answered (%d full answers); ratelimited metric %v",
		res.sent.Load(), res.answered.Load(), res.ok.Load(), d.metric(t, "discovery_dns_ratelimited_queries_total"))
	if res.ok.Load() > 100 {
		t.Errorf("%d full answers in a second with a limit of 20/s", res.ok.Load())
	}
	if d.metric(t, "discovery_dns_ratelimited_queries_total") <= 0 {
		t.Error("discovery_dns_ratelimited_queries_total did not count the excess")
	}
}

// exchangeRaw sends m over UDP and returns the answer and its size on the
// wire (read with a 64 KiB buffer, so nothing is cut on our side).
func exchangeRaw(t *testing.T, addr string, m *dns.Msg) (*dns.Msg, int) {
	t.Helper()
	r, _, n := exchangeFrom(t, "127.0.0.1", addr, m)
	return r, n
}
