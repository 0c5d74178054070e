package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/internal/fakemaster"
)

func TestRenderPrintsConfigFromStateFile(t *testing.T) {
	cert := filepath.Join(t.TempDir(), "cert.pem")
	pemText, err := selfSignedPEM()
	if err != nil {
		t.Fatal(err)
	}
	writeFileT(t, cert, string(pemText))
	var stdout, stderr strings.Builder
	code := run([]string{"render", "-stateFile", "../../deploy/sample/state.json", "-masters", "127.0.0.1:5050",
		"--group", "external", "-lb-templates-dir", t.TempDir(), "--ssl-certs", cert}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"global", "frontend marathon_http_in", "backend web_10001", "server "} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered config lacks %q", want)
		}
	}
	// What it prints is what HAProxy accepts.
	if bin, err := exec.LookPath("haproxy"); err == nil {
		p := filepath.Join(t.TempDir(), "haproxy.cfg")
		writeFileT(t, p, out)
		if b, err := exec.Command(bin, "-c", "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("haproxy -c rejects the rendered config: %v\n%s", err, b)
		}
	}
}

func TestRenderFromMarathonLikeMarathonLBDry(t *testing.T) {
	m := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(m.Close)
	if err := m.SetAppsJSON(readFileT(t, "../../state/marathon/testdata/marathon/apps-marathon-1.5.json")); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	// marathon-lb's own command line, --dry included.
	code := run([]string{"--marathon", m.URL(), "--group", "*", "--dry", "-lb-templates-dir", t.TempDir()}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "backend ") {
		t.Fatalf("no backend rendered from Marathon's apps:\n%s", stdout.String())
	}
}

func TestRenderFailsCleanlyWhenTheSourceFails(t *testing.T) {
	master := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	master.SetMode(fakemaster.Garbage)
	var stdout, stderr strings.Builder
	code := run([]string{"render", "-masters", master.Addr(), "-stateTimeoutSeconds", "5", "--group", "*"}, &stdout, &stderr)
	if code == 0 || stdout.Len() != 0 || !strings.Contains(stderr.String(), master.Addr()) {
		t.Fatalf("exit %d, stdout %d bytes, stderr %q: want a non-zero exit naming the master", code, stdout.Len(), stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"render", "-stateFile", "../../deploy/sample/state.json", "-masters", "127.0.0.1:5050"}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "--group") {
		t.Fatalf("render without --group: exit %d, %q", code, stderr.String())
	}
}

func writeFileT(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFileT(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The HTTPS frontend's certificate: one the operator named must exist; with
// the default, marathon-lb's /etc/ssl/cert.pem is used when it is there, and
// what discovery writes itself (HAPROXY_SSL_CERT, or a self-signed
// certificate) goes beside the HAProxy config, never into a system path.
func TestEnsureSSLCerts(t *testing.T) {
	dir := t.TempDir()
	noEnv := func(string) string { return "" }
	cfgIn := func(certs ...string) *lbmodel.Config {
		c := lbmodel.DefaultConfig()
		c.HAProxyConfig = filepath.Join(dir, "lb", "haproxy.cfg")
		c.SSLCerts = certs
		return c
	}
	old := defaultSSLCert
	defaultSSLCert = filepath.Join(dir, "etc-ssl", "cert.pem")
	defer func() { defaultSSLCert = old }()
	own := filepath.Join(dir, "lb", "cert.pem")

	missing := filepath.Join(dir, "mine.pem")
	if err := ensureSSLCerts(cfgIn(missing), noEnv, discardLog()); err == nil || !strings.Contains(err.Error(), "--ssl-certs") {
		t.Fatalf("a missing certificate the operator named: %v", err)
	}

	// The default missing: a self-signed one beside the config, that HAProxy
	// accepts; /etc/ssl is left alone.
	c := cfgIn(defaultSSLCert)
	if err := ensureSSLCerts(c, noEnv, discardLog()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.SSLCerts, []string{own}) {
		t.Fatalf("SSLCerts = %q, want %q", c.SSLCerts, own)
	}
	if fi, err := os.Stat(own); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("self-signed certificate: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Dir(defaultSSLCert)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("wrote into the system certificate directory: %v", err)
	}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		cfg := filepath.Join(dir, "tls.cfg")
		writeFileT(t, cfg, "frontend f\n  mode http\n  bind 127.0.0.1:"+strconv.Itoa(haproxytest.FreePort(t, "127.0.0.1"))+" ssl crt "+own+"\n")
		if b, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
			t.Fatalf("haproxy rejects the self-signed certificate: %v\n%s", err, b)
		}
	}
	// The next start keeps it.
	first := readFileT(t, own)
	if err := ensureSSLCerts(cfgIn(defaultSSLCert), noEnv, discardLog()); err != nil || string(readFileT(t, own)) != string(first) {
		t.Fatalf("a second start replaced the certificate (%v)", err)
	}

	// HAPROXY_SSL_CERT (marathon-lb's container variable) is written there
	// and used.
	pemText, err := selfSignedPEM()
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "HAPROXY_SSL_CERT" {
			return string(pemText)
		}
		return ""
	}
	c = cfgIn(defaultSSLCert)
	if err := ensureSSLCerts(c, env, discardLog()); err != nil {
		t.Fatal(err)
	}
	if got := readFileT(t, own); string(got) != string(pemText) || !slices.Equal(c.SSLCerts, []string{own}) {
		t.Fatalf("HAPROXY_SSL_CERT not written beside the config and used: %q", c.SSLCerts)
	}

	// A certificate where marathon-lb users put theirs is used as it is.
	if err := os.MkdirAll(filepath.Dir(defaultSSLCert), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFileT(t, defaultSSLCert, string(pemText))
	c = cfgIn(defaultSSLCert)
	if err := ensureSSLCerts(c, noEnv, discardLog()); err != nil || !slices.Equal(c.SSLCerts, []string{defaultSSLCert}) {
		t.Fatalf("with %s present: %q, %v", defaultSSLCert, c.SSLCerts, err)
	}
}
