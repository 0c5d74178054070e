package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/internal/freeport"
)

// Start-up with what mesos-dns users have (issue 12): their config.json, their
// unit file's flags, their zero values, their HTTPS masters without a CA.

// configJSON writes doc as a config.json in a temporary directory.
func configJSON(t *testing.T, doc map[string]any) string {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, string(b))
}

// runParsed runs the daemon as main does for o (runDaemon, HTTP on a free
// loopback port, no DNS server) until the test ends, and returns the base URL
// of its HTTP server once it answers.
func runParsed(t *testing.T, o *options) string {
	t.Helper()
	port, err := freeport.Take("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	o.cfg.HTTPListener, o.cfg.HTTPPort, o.cfg.DNSOn = "127.0.0.1", port, false
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, o, discardLog()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitFor(t, 10*time.Second, "the HTTP server answering", func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("daemon stopped at start: %v", err)
		default:
		}
		res, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return true
	})
	return base
}

// fetchStatus reads /status.json from a running daemon.
func fetchStatus(t *testing.T, base string) statusView {
	t.Helper()
	var v statusView
	if err := json.Unmarshal([]byte(fetchBody(t, base+"/status.json")), &v); err != nil {
		t.Fatalf("/status.json: %v", err)
	}
	return v
}

// fetchBody is the body of a GET of url.
func fetchBody(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUnknownKeyWarnsAndStartContinues(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "state.json")
	copyFile(t, "../../deploy/sample/state.json", stateFile)
	p := configJSON(t, map[string]any{
		"masters":       []string{"127.0.0.1:5050"},
		"stateFile":     stateFile,
		"refreshSecond": 5,      // a typo of refreshSeconds
		"ns":            "ns1",  // in mesos-dns's own config.json.sample: close to nothing
		"HttpOn":        true,   // a known key in another case: no warning
		"email":         "root", // deprecated: a warning of its own
	})
	o, err := parseArgs([]string{"-config", p}, io.Discard)
	if err != nil {
		t.Fatalf("an unknown key stopped start-up: %v", err)
	}
	want := []string{
		`unknown config key "ns" is ignored (as mesos-dns ignored it)`,
		`unknown config key "refreshSecond" is ignored (as mesos-dns ignored it); did you mean "refreshSeconds"?`,
	}
	var unknown []string
	for _, w := range o.warnings {
		if strings.HasPrefix(w, "unknown config key") {
			unknown = append(unknown, w)
		}
	}
	if !slices.Equal(unknown, want) {
		t.Errorf("unknown-key warnings %q, want %q", unknown, want)
	}
	if len(o.warnings) != 3 {
		t.Errorf("warnings %q: want the two unknown keys and the deprecated email", o.warnings)
	}
	if o.cfg.RefreshSeconds != 60 {
		t.Errorf("refreshSeconds = %d: the misspelt key was applied", o.cfg.RefreshSeconds)
	}

	base := runParsed(t, o)
	v := fetchStatus(t, base)
	if !slices.Equal(v.Warnings, o.warnings) {
		t.Errorf("status.json warnings %q, want %q", v.Warnings, o.warnings)
	}
	page := fetchBody(t, base+"/")
	for _, w := range []string{`id="warnings"`, "3 warnings", `unknown config key &#34;refreshSecond&#34;`, `did you mean &#34;refreshSeconds&#34;?`} {
		if !strings.Contains(page, w) {
			t.Errorf("status page does not show %s", w)
		}
	}
}

// When start-up fails, the error lists the warnings too: a misspelt key is
// often why a setting is missing.
func TestStartupErrorCarriesTheWarnings(t *testing.T) {
	_, err := parseArgs([]string{"-config", writeConfig(t, `{"mastres":["127.0.0.1:5050"]}`)}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `key "masters": give masters`) ||
		!strings.Contains(err.Error(), "warnings:\n  "+`unknown config key "mastres" is ignored (as mesos-dns ignored it); did you mean "masters"?`) {
		t.Errorf("error %v: want the missing masters and the warning about mastres", err)
	}
}

func TestStatusPageWithoutWarningsShowsNone(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "state.json")
	copyFile(t, "../../deploy/sample/state.json", stateFile)
	o, err := parseArgs([]string{"-stateFile", stateFile, "-masters", "127.0.0.1:5050"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base := runParsed(t, o)
	if v := fetchStatus(t, base); len(v.Warnings) != 0 {
		t.Errorf("warnings %q", v.Warnings)
	}
	if page := fetchBody(t, base+"/"); strings.Contains(page, `id="warnings"`) {
		t.Error("a warnings section with nothing to warn about")
	}
}

func TestFileKeyIsAcceptedWithANote(t *testing.T) {
	p := configJSON(t, map[string]any{"masters": []string{"127.0.0.1:5050"}, "File": "/etc/mesos-dns/config.json"})
	o, err := parseArgs([]string{"-config", p}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.warnings) != 0 || len(o.notes) != 1 || !strings.Contains(o.notes[0], `"File"`) {
		t.Errorf("warnings %q notes %q: want one note about File", o.warnings, o.notes)
	}
	if _, err := parseArgs([]string{"-masters", "127.0.0.1:5050", "-File", "x"}, io.Discard); err == nil {
		t.Error("-File accepted as a flag: it is only a config key")
	}
}

func TestSetTruncateBitKey(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`{"masters":["127.0.0.1:5050"]}`, true},
		{`{"masters":["127.0.0.1:5050"],"SetTruncateBit":true}`, true},
		{`{"masters":["127.0.0.1:5050"],"SetTruncateBit":false}`, false},
		{`{"masters":["127.0.0.1:5050"],"settruncatebit":false}`, false},
	} {
		o, err := parseArgs([]string{"-config", writeConfig(t, tc.body)}, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if o.cfg.SetTruncateBit != tc.want || len(o.warnings) != 0 {
			t.Errorf("%s: SetTruncateBit %v (warnings %q), want %v", tc.body, o.cfg.SetTruncateBit, o.warnings, tc.want)
		}
	}
}

func TestConfigDefaultsToConfigJSONInTheWorkingDirectory(t *testing.T) {
	t.Run("read when there", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		if err := os.WriteFile("config.json", []byte(`{"masters":["127.0.0.1:5050"],"domain":"fromfile","stateFile":"state.json"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := parseArgs(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if o.cfg.Domain != "fromfile" || o.cfg.StateFile != "state.json" {
			t.Errorf("domain %q stateFile %q: ./config.json not read", o.cfg.Domain, o.cfg.StateFile)
		}
		// render and -dev never pick up a file by accident.
		o, err = parseArgsFor([]string{"-masters", "127.0.0.1:5050"}, io.Discard, false)
		if err != nil {
			t.Fatal(err)
		}
		if o.cfg.Domain != "mesos" {
			t.Errorf("render read ./config.json (domain %q)", o.cfg.Domain)
		}
		o, err = parseArgs([]string{"-dev"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if o.cfg.Domain == "fromfile" {
			t.Error("-dev read ./config.json")
		}
		// Nor marathon-lb's --dry, which renders like render: a broken
		// ./config.json (some other tool's) must not fail it.
		if err := os.WriteFile("config.json", []byte(`{not json`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := parseArgs([]string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "--dry"}, io.Discard); err != nil {
			t.Errorf("--dry read ./config.json: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		_, err := parseArgs(nil, io.Discard)
		abs, _ := filepath.Abs("config.json")
		if err == nil || !strings.Contains(err.Error(), abs+" (the default of -config) does not exist") || !strings.Contains(err.Error(), "give -config FILE, or -masters, -zk or -stateFile") {
			t.Errorf("no config.json, no flags: %v", err)
		}
		// Flags alone are enough without it.
		if _, err := parseArgs([]string{"-masters", "127.0.0.1:5050"}, io.Discard); err != nil {
			t.Errorf("flags without a config.json: %v", err)
		}
		// A -config given is read or fails, never skipped.
		if _, err := parseArgs([]string{"-config", "config.json"}, io.Discard); err == nil || !strings.Contains(err.Error(), "reading config file") {
			t.Errorf("-config naming a missing file: %v", err)
		}
	})
}

func TestGlogFlagsAreAccepted(t *testing.T) {
	masters := []string{"-masters", "127.0.0.1:5050"}
	for _, tc := range []struct {
		name  string
		args  []string
		level string
		note  string // "" = no note
	}{
		{"unit file", []string{"-v=2", "-logtostderr=true"}, "debug", "glog flags -logtostderr=true accepted"},
		{"v 1", []string{"-v=1"}, "debug", ""},
		{"v 0", []string{"-v=0"}, "info", ""},
		{"v as two words", []string{"-v", "3"}, "debug", ""},
		{"double dash", []string{"--v=2", "--logtostderr"}, "debug", "-logtostderr=true"},
		{"logLevel wins after", []string{"-v=2", "-logLevel=warn"}, "warn", ""},
		{"logLevel wins before", []string{"-logLevel=error", "-v=2"}, "error", ""},
		{"every glog flag", []string{"-alsologtostderr", "-log_dir=/var/log/mesos-dns", "-stderrthreshold=ERROR", "-vmodule=resolver=2", "-log_backtrace_at=resolver.go:10"}, "info",
			"glog flags -alsologtostderr=true -log_dir=/var/log/mesos-dns -stderrthreshold=ERROR -vmodule=resolver=2 -log_backtrace_at=resolver.go:10 accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseArgs(append(slices.Clone(masters), tc.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if o.cfg.LogLevel != tc.level {
				t.Errorf("log level %q, want %q", o.cfg.LogLevel, tc.level)
			}
			if len(o.warnings) != 0 {
				t.Errorf("warnings %q", o.warnings)
			}
			switch {
			case tc.note == "" && len(o.notes) != 0:
				t.Errorf("notes %q, want none", o.notes)
			case tc.note != "" && (len(o.notes) != 1 || !strings.Contains(o.notes[0], tc.note)):
				t.Errorf("notes %q, want one containing %q", o.notes, tc.note)
			}
		})
	}
	for _, bad := range [][]string{{"-v=loud"}, {"-v=-1"}, {"-logtostderr=maybe"}} {
		if _, err := parseArgs(append(slices.Clone(masters), bad...), io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// withResolvConf points "resolvers": [] at a resolv.conf holding body (or at a
// missing file for body "") for the test.
func withResolvConf(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if body != "" {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := resolvConfPath
	resolvConfPath = path
	t.Cleanup(func() { resolvConfPath = old })
	return path
}

func TestZeroValuesMeanWhatTheyMeantToMesosDNS(t *testing.T) {
	parse := func(t *testing.T, body string) *options {
		t.Helper()
		o, err := parseArgs([]string{"-config", writeConfig(t, body)}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	t.Run("timeout and listeners", func(t *testing.T) {
		o := parse(t, `{"masters":["127.0.0.1:5050"],"timeout":0,"listener":"","httpListener":"","resolvers":["127.0.0.53"]}`)
		if o.cfg.Timeout != 5 || o.cfg.Listener != "0.0.0.0" || o.cfg.HTTPListener != "0.0.0.0" {
			t.Errorf("timeout %d listener %q httpListener %q, want 5 0.0.0.0 0.0.0.0", o.cfg.Timeout, o.cfg.Listener, o.cfg.HTTPListener)
		}
	})
	t.Run("resolvers from resolv.conf", func(t *testing.T) {
		// 127.0.0.1 is this host (perhaps discovery itself): left out, as
		// mesos-dns left out its own addresses.
		path := withResolvConf(t, "search example.internal\nnameserver 127.0.0.1\nnameserver 127.0.0.53\nnameserver 127.0.0.54\n")
		for _, body := range []string{
			`{"masters":["127.0.0.1:5050"],"resolvers":[]}`,
			`{"masters":["127.0.0.1:5050"],"resolvers":null}`,
		} {
			o := parse(t, body)
			if !slices.Equal(o.cfg.Resolvers, []string{"127.0.0.53", "127.0.0.54"}) {
				t.Errorf("%s: resolvers %q", body, o.cfg.Resolvers)
			}
			if len(o.notes) != 1 || !strings.Contains(o.notes[0], path) || len(o.warnings) != 0 {
				t.Errorf("%s: notes %q warnings %q", body, o.notes, o.warnings)
			}
		}
	})
	t.Run("resolv.conf of this host only", func(t *testing.T) {
		withResolvConf(t, "nameserver 127.0.0.1\n")
		o := parse(t, `{"masters":["127.0.0.1:5050"],"resolvers":[]}`)
		if len(o.cfg.Resolvers) != 0 || len(o.warnings) != 1 || !strings.Contains(o.warnings[0], "cannot be forwarded") {
			t.Errorf("resolvers %q warnings %q", o.cfg.Resolvers, o.warnings)
		}
	})
	t.Run("no resolv.conf", func(t *testing.T) {
		withResolvConf(t, "")
		_, err := parseArgs([]string{"-config", writeConfig(t, `{"masters":["127.0.0.1:5050"],"resolvers":[]}`)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), `key "resolvers"`) {
			t.Errorf("missing resolv.conf: %v", err)
		}
		// Without externalon nothing is forwarded, and nothing is read.
		o := parse(t, `{"masters":["127.0.0.1:5050"],"resolvers":[],"externalon":false}`)
		if len(o.cfg.Resolvers) != 0 || len(o.notes)+len(o.warnings) != 0 {
			t.Errorf("externalon false: resolvers %q notes %q warnings %q", o.cfg.Resolvers, o.notes, o.warnings)
		}
	})
}

// HTTPS masters without caCertFile are reached as mesos-dns reached them
// (certificate not verified), with a warning at start and on the status page;
// caCertFile verifies.
func TestHTTPSMastersAndCACertFile(t *testing.T) {
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{TLS: true})
	dir := t.TempDir()
	rightCA := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(rightCA, m.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	otherPEM, err := selfSignedPEM()
	if err != nil {
		t.Fatal(err)
	}
	wrongCA := filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(wrongCA, otherPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		extra    map[string]any
		warning  string // "" = none
		connects bool
	}{
		{"no caCertFile", nil, `"mesosHTTPSOn" without "caCertFile": the Mesos masters' certificates are not verified`, true},
		{"caCertFile", map[string]any{"caCertFile": rightCA}, "", true},
		{"wrong caCertFile", map[string]any{"caCertFile": wrongCA}, "", false},
		{"insecure", map[string]any{"caCertFile": wrongCA, "mesosHTTPSInsecure": true}, `"mesosHTTPSInsecure" is true`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := map[string]any{"masters": []string{m.Addr()}, "mesosHTTPSOn": true, "refreshSeconds": 1}
			for k, v := range tc.extra {
				doc[k] = v
			}
			o, err := parseArgs([]string{"-config", configJSON(t, doc)}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(o.warnings, "\n"); tc.warning == "" && got != "" || !strings.Contains(got, tc.warning) {
				t.Errorf("warnings %q, want %q", o.warnings, tc.warning)
			}
			base := runParsed(t, o)
			var v statusView
			waitFor(t, 10*time.Second, "the Mesos source's first fetch or failure", func() bool {
				v = fetchStatus(t, base)
				return len(v.Sources) == 1 && (v.Leader != nil || v.Sources[0].LastError != "")
			})
			if tc.connects && v.Leader == nil {
				t.Errorf("not connected: %s", v.Sources[0].LastError)
			}
			if !tc.connects && (v.Leader != nil || !strings.Contains(v.Sources[0].LastError, "certificate")) {
				t.Errorf("leader %+v, error %q: want a certificate error", v.Leader, v.Sources[0].LastError)
			}
			if tc.warning != "" && (len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], tc.warning)) {
				t.Errorf("status page warnings %q, want %q", v.Warnings, tc.warning)
			}
			if tc.warning == "" && len(v.Warnings) != 0 {
				t.Errorf("status page warnings %q, want none", v.Warnings)
			}
		})
	}
}

// bigStateFile is deploy/sample's state with n more tasks of "web", each on a
// port of its own: _web._tcp.marathon.mesos's SRV answer does not fit in 512
// bytes.
func bigStateFile(t *testing.T, n int) string {
	t.Helper()
	doc := sampleStateDoc(t)
	fw := doc["frameworks"].([]any)[0].(map[string]any)
	tasks := fw["tasks"].([]any)
	var web map[string]any
	for _, tk := range tasks {
		if tk.(map[string]any)["name"] == "web" {
			web = tk.(map[string]any)
			break
		}
	}
	for i := range n {
		var c map[string]any
		raw, _ := json.Marshal(web)
		_ = json.Unmarshal(raw, &c)
		c["id"] = "web.copy-" + strconv.Itoa(i)
		port := strconv.Itoa(32000 + i)
		c["resources"].(map[string]any)["ports"] = "[" + port + "-" + port + "]"
		tasks = append(tasks, c)
	}
	fw["tasks"] = tasks
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// "SetTruncateBit": false reaches the DNS server: an answer cut to fit a UDP
// packet comes with TC clear; by default TC is set.
func TestSetTruncateBitFalseClearsTC(t *testing.T) {
	stateFile := bigStateFile(t, 60)
	for _, set := range []bool{true, false} {
		cfg := loopbackConfig(stateFile)
		cfg.SetTruncateBit = set
		d := startDaemon(t, cfg)
		waitFor(t, 5*time.Second, "first table", func() bool { return d.dnsTable.Builds() > 0 })
		full := query(t, "tcp", d.dns.Addr(), "_web._tcp.marathon.mesos", dns.TypeSRV)
		cut := query(t, "udp", d.dns.Addr(), "_web._tcp.marathon.mesos", dns.TypeSRV)
		if len(full.Answer) < 60 || len(cut.Answer) == 0 || len(cut.Answer) >= len(full.Answer) {
			t.Fatalf("SetTruncateBit %v: %d records over TCP, %d over UDP: want the UDP answer cut", set, len(full.Answer), len(cut.Answer))
		}
		if cut.Truncated != set {
			t.Errorf("SetTruncateBit %v: UDP answer cut to %d of %d records has TC %v", set, len(cut.Answer), len(full.Answer), cut.Truncated)
		}
	}
}
