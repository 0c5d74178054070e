package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"

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

func TestEnsureSSLCerts(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "mine.pem")
	if err := ensureSSLCerts([]string{missing}, func(string) string { return "" }, discardLog()); err == nil || !strings.Contains(err.Error(), "--ssl-certs") {
		t.Fatalf("a missing certificate the operator named: %v", err)
	}

	// The default certificate missing: a self-signed one HAProxy accepts.
	old := defaultSSLCert
	defaultSSLCert = filepath.Join(dir, "ssl", "cert.pem")
	defer func() { defaultSSLCert = old }()
	if err := ensureSSLCerts([]string{defaultSSLCert}, func(string) string { return "" }, discardLog()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(defaultSSLCert); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("self-signed certificate: %v %v", fi, err)
	}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		cfg := filepath.Join(dir, "tls.cfg")
		writeFileT(t, cfg, "frontend f\n  mode http\n  bind 127.0.0.1:"+strconv.Itoa(haproxytest.FreePort(t, "127.0.0.1"))+" ssl crt "+defaultSSLCert+"\n")
		if b, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
			t.Fatalf("haproxy rejects the self-signed certificate: %v\n%s", err, b)
		}
	}

	// HAPROXY_SSL_CERT (marathon-lb's container variable) is written there.
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
	if err := ensureSSLCerts([]string{defaultSSLCert}, env, discardLog()); err != nil {
		t.Fatal(err)
	}
	if got := readFileT(t, defaultSSLCert); string(got) != string(pemText) {
		t.Fatal("HAPROXY_SSL_CERT not written to the default certificate")
	}
}
