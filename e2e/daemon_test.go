package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/daemontest"
	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// daemon is a discovery process started by a test, observed from outside.
type daemon struct {
	*daemontest.Process
	args []string
	// startedAt is when the process was started.
	startedAt time.Time
}

// baseArgs keep the daemon on loopback with nothing forwarded: DNS and HTTP on
// free ports of 127.0.0.1, JSON logs (parsed for the listeners).
func baseArgs() []string {
	return []string{
		"-listener=127.0.0.1", "-port=0", "-httpListener=127.0.0.1", "-httpport=0",
		"-externalon=false", "-logFormat=json", "-refreshSeconds=1",
	}
}

// startDaemon runs the binary with baseArgs and args (later flags win) and
// waits for its HTTP listener, and its DNS listener when wantDNS, to be
// logged. The process is killed when the test ends; its log is printed when
// the test failed.
func startDaemon(t *testing.T, wantDNS bool, args ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, wantDNS, nil, args...)
}

func startDaemonEnv(t *testing.T, wantDNS bool, env []string, args ...string) *daemon {
	t.Helper()
	d := spawnDaemon(t, "", env, append(baseArgs(), args...))
	if err := d.WaitListeners(wantDNS, 30*time.Second); err != nil {
		t.Fatalf("discovery %v:\n%s", err, strings.Join(d.LogLines(), "\n"))
	}
	return d
}

// spawnDaemon starts the binary with exactly args in dir ("" for this
// directory), without waiting for anything. The process is killed when the
// test ends; its log is printed when the test failed.
func spawnDaemon(t *testing.T, dir string, env, all []string) *daemon {
	t.Helper()
	cmd := osexec.Command(discoveryBin, all...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return spawnCmd(t, cmd, all)
}

// spawnCmd starts cmd, which runs the binary with args all (through a wrapper
// that execs it, such as prlimit), as spawnDaemon does.
func spawnCmd(t *testing.T, cmd *osexec.Cmd, all []string) *daemon {
	t.Helper()
	started := time.Now()
	p, err := daemontest.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{Process: p, args: all, startedAt: started}
	t.Cleanup(func() {
		d.stop()
		// docs/operating.md: every line carries the component that wrote it.
		if msgs := withoutComponent(d.LogLines()); len(msgs) > 0 {
			t.Errorf("log lines without a component: %q", msgs)
		}
		if l := firstDuplicateKey(d.LogLines()); l != "" {
			t.Errorf("a log line has a key twice: %s", l)
		}
		if dir := os.Getenv("E2E_LOG_DIR"); dir != "" {
			// The whole log, for a run to study afterwards.
			name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"."+strconv.Itoa(d.Cmd.Process.Pid)+".log")
			if err := os.WriteFile(name, []byte(d.logText()+"\n"), 0o644); err != nil {
				t.Logf("keeping the daemon log: %v", err)
			}
		}
		if t.Failed() {
			lines := d.LogLines()
			if len(lines) > 200 {
				lines = lines[len(lines)-200:]
			}
			t.Logf("daemon %s\nlog (last %d lines):\n%s", strings.Join(all, " "), len(lines), strings.Join(lines, "\n"))
		}
	})
	return d
}

// withoutComponent returns the messages of the JSON log lines that carry no
// "component" (each once).
func withoutComponent(lines []string) []string {
	var msgs []string
	for _, l := range lines {
		var rec map[string]any
		if !strings.HasPrefix(l, "{") || json.Unmarshal([]byte(l), &rec) != nil {
			continue // text logs, or what is not a log line
		}
		if _, ok := rec["component"]; !ok {
			if m, _ := rec["msg"].(string); !slices.Contains(msgs, m) {
				msgs = append(msgs, m)
			}
		}
	}
	return msgs
}

// firstDuplicateKey returns the first JSON log line with a top-level key
// twice (slog writes both when a logger's attribute is given again), "" when
// there is none.
func firstDuplicateKey(lines []string) string {
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(l))
		if _, err := dec.Token(); err != nil {
			continue
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			key, _ := tok.(string)
			if seen[key] {
				return l
			}
			seen[key] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				break
			}
		}
	}
	return ""
}

// stop ends the process with SIGTERM, then SIGKILL after 10 s.
func (d *daemon) stop() {
	if !d.Alive() {
		return
	}
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.Exited():
	case <-time.After(10 * time.Second):
		_ = d.Cmd.Process.Kill()
		<-d.Exited()
	}
}

// logText is the whole log so far.
func (d *daemon) logText() string { return strings.Join(d.LogLines(), "\n") }

// get fetches path from the HTTP port.
func (d *daemon) get(path string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get("http://" + d.HTTPAddr + path)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// mustGet fetches path and fails the test unless it answers want.
func (d *daemon) mustGet(t *testing.T, path string, want int) string {
	t.Helper()
	code, body, err := d.get(path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if code != want {
		t.Fatalf("GET %s: %d, want %d: %.300s", path, code, want, body)
	}
	return body
}

// status is the part of /status.json the tests read.
type status struct {
	Snapshot struct {
		Seq        uint64  `json:"seq"`
		AgeSeconds float64 `json:"ageSeconds"`
		Stale      bool    `json:"stale"`
	} `json:"snapshot"`
	Leader *struct {
		Address string `json:"address"`
	} `json:"leader"`
	Sources []struct {
		Name        string    `json:"name"`
		Failures    int       `json:"failures"`
		LastError   string    `json:"lastError"`
		LastErrorAt time.Time `json:"lastErrorAt"`
		Stale       bool      `json:"stale"`
		LeftOut     []struct {
			ID     string `json:"id"`
			App    string `json:"app"`
			Reason string `json:"reason"`
		} `json:"leftOut"`
	} `json:"sources"`
	DNS struct {
		Names   int `json:"names"`
		Records int `json:"records"`
	} `json:"dns"`
	LB *struct {
		Seq          uint64 `json:"seq"`
		Via          string `json:"via"`
		Err          string `json:"error"`
		BackendCount int    `json:"backendCount"`
		ServerCount  int    `json:"serverCount"`
		Restarts     int64  `json:"restarts"`
		LeftOut      []struct {
			AppID  string `json:"appId"`
			Port   int    `json:"port"`
			Reason string `json:"reason"`
		} `json:"leftOut"`
		Reloads []struct {
			Err string `json:"error"`
		} `json:"reloads"`
	} `json:"lb"`
}

// status reads /status.json.
func (d *daemon) status(t *testing.T) status {
	t.Helper()
	var st status
	body := d.mustGet(t, "/status.json?limit=1", 200)
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status.json: %v: %.300s", err, body)
	}
	return st
}

// sourceErrors joins the sources' last errors from /status.json.
func (st status) sourceErrors() string {
	var errs []string
	for _, s := range st.Sources {
		if s.LastError != "" {
			errs = append(errs, s.Name+": "+s.LastError)
		}
	}
	return strings.Join(errs, "; ")
}

// leftOut is every source's left-out records, "id: reason" each.
func (st status) leftOut() []string {
	var out []string
	for _, s := range st.Sources {
		for _, lo := range s.LeftOut {
			out = append(out, lo.ID+": "+lo.Reason)
		}
	}
	return out
}

// metric sums the samples of a metric whose label text contains every one of
// labels, from /metrics; -1 when there is no such sample.
func (d *daemon) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	body := d.mustGet(t, "/metrics", 200)
	sum, found := 0.0, false
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(rest, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return -1
	}
	return sum
}

// rssKB is the process's resident set (VmRSS) in KiB.
func (d *daemon) rssKB(t *testing.T) int64 {
	t.Helper()
	return procRSSKB(t, d.Cmd.Process.Pid)
}

func procRSSKB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the daemon's memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// query asks the daemon's DNS server over UDP, and again over TCP when
// the answer was truncated.
func (d *daemon) query(name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, d.DNSAddr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.Exchange(m, d.DNSAddr)
	}
	return r, err
}

// aRecords returns the sorted addresses of name's A answer ("" entries never).
func (d *daemon) aRecords(name string) ([]string, error) {
	r, err := d.query(name, dns.TypeA)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("%s: rcode %s", name, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

// waitFor polls cond every 10 ms until it holds, failing the test after
// timeout; it returns how long it took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// waitAgree polls check until it holds and returns how long that took; after
// timeout it fails the test with failure and check's last reason.
func waitAgree(t *testing.T, timeout time.Duration, failure string, check func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, why := check()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s within %v: %s", failure, timeout, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lbSetup is the load balancer's share of a daemon's command line: a real
// HAProxy with its sockets and files in a short temporary directory.
type lbSetup struct {
	dir, cfg, masterSock, statsSock string
	// statsAddr is the stats listener's HOST:PORT (marathon-lb's :9090).
	statsAddr string
	args      []string
}

func newLB(t *testing.T) *lbSetup {
	t.Helper()
	bin := haproxytest.Binary(t)
	dir := haproxytest.Dir(t)
	l := &lbSetup{
		dir:        dir,
		cfg:        filepath.Join(dir, "haproxy.cfg"),
		masterSock: filepath.Join(dir, "master.sock"),
		statsSock:  filepath.Join(dir, "stats.sock"),
	}
	if err := os.Mkdir(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	free := func() string { return "127.0.0.1:" + strconv.Itoa(haproxytest.FreePort(t, "127.0.0.1")) }
	l.statsAddr = free()
	l.args = []string{
		"--group", "external", "--dont-bind-http-https",
		"--haproxy-config", l.cfg,
		"-lb-haproxy-binary", bin,
		"-lb-master-socket", l.masterSock,
		"-lb-stats-socket", l.statsSock,
		"-lb-stats-bind", l.statsAddr,
		"-lb-appid-bind", free(),
		"-lb-templates-dir", filepath.Join(dir, "templates"),
		"-lb-drain-seconds", "1",
	}
	return l
}

func itoa(n int) string { return strconv.Itoa(n) }

// runOutput runs a command and returns its output (and error text).
func runOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := osexec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out) + err.Error()
	}
	return string(out)
}

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
