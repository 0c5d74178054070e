package lbmodel

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// goldenDir stands for the directory of the config, certificates and map
// files in golden configs; checkHAProxy replaces it with a real one.
const goldenDir = "/GOLDEN"

// testConfig is the config of the golden tests: marathon-lb's defaults, with
// every file under goldenDir.
func testConfig(groups ...string) *Config {
	cfg := DefaultConfig()
	if len(groups) == 0 {
		groups = []string{"external"}
	}
	cfg.Groups = groups
	cfg.HAProxyConfig = goldenDir + "/haproxy.cfg"
	cfg.SSLCerts = []string{goldenDir + "/cert.pem"}
	cfg.StatsSocket = goldenDir + "/stats.sock"
	cfg.TemplatesDir = ""
	return cfg
}

func mustTemplates(t testing.TB, cfg *Config, dir string, env map[string]string) *Templates {
	t.Helper()
	var getenv func(string) string
	if env != nil {
		getenv = func(k string) string { return env[k] }
	}
	ts, err := LoadTemplates(cfg, dir, getenv)
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	return ts
}

func mustBuild(t testing.TB, apps []state.App, cfg *Config, ts *Templates, opts *BuildOptions) *Model {
	t.Helper()
	m, err := BuildModel(apps, cfg, ts, opts)
	if err != nil {
		t.Fatalf("BuildModel: %v", err)
	}
	return m
}

func mustRender(t testing.TB, m *Model) string {
	t.Helper()
	b, err := Render(m)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return string(b)
}

// app is a compact app for tests: host networking, one task per address
// "IP:PORT[,PORT…]".
func app(id string, labels map[string]string, servicePorts []int, tasks ...string) state.App {
	a := state.App{ID: id, Labels: labels, Network: state.NetworkHost, Instances: len(tasks)}
	for _, sp := range servicePorts {
		a.Ports = append(a.Ports, state.AppPort{ServicePort: sp, Protocol: "tcp"})
	}
	for i, spec := range tasks {
		colon := strings.LastIndexByte(spec, ':')
		host, ports := spec[:colon], spec[colon+1:]
		t := state.AppTask{ID: id[1:] + "." + string(rune('a'+i)), Host: host, State: state.TaskRunning}
		for p := range strings.SplitSeq(ports, ",") {
			t.Ports = append(t.Ports, atoiMust(p))
		}
		a.Tasks = append(a.Tasks, t)
	}
	return a
}

func atoiMust(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

var certOnce struct {
	sync.Once
	pem []byte
	err error
}

// testCertPEM is a self-signed certificate and its key in one PEM, as HAProxy
// wants for "crt".
func testCertPEM(t testing.TB) []byte {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certOnce.err = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "discovery test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certOnce.err = err
			return
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			certOnce.err = err
			return
		}
		certOnce.pem = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...)
	})
	if certOnce.err != nil {
		t.Fatalf("generating a certificate: %v", certOnce.err)
	}
	return certOnce.pem
}

// haproxyBinary returns the haproxy to validate with, skipping the test when
// there is none (outside CI).
func haproxyBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"haproxy", "/usr/sbin/haproxy"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("haproxy is not installed, and CI is set")
	}
	t.Skip("haproxy is not installed")
	return ""
}

// checkHAProxy runs "haproxy -c" on a rendered config of m (with goldenDir
// made real: certificates, map files and socket directory) and fails the test
// with HAProxy's output when HAProxy refuses it.
func checkHAProxy(t testing.TB, m *Model, text string) {
	t.Helper()
	checkHAProxyAllowing(t, m, text)
}

// checkHAProxyAllowing is checkHAProxy, with warnings containing one of
// allowed accepted too.
func checkHAProxyAllowing(t testing.TB, m *Model, text string, allowed ...string) {
	t.Helper()
	bin := haproxyBinary(t)
	dir := t.TempDir()
	cert := testCertPEM(t)
	// Every "crt" path under goldenDir gets the test certificate.
	for _, f := range strings.Fields(text) {
		if strings.HasPrefix(f, goldenDir+"/") && strings.HasSuffix(f, ".pem") {
			p := filepath.Join(dir, strings.TrimPrefix(f, goldenDir+"/"))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, cert, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, mf := range m.Maps {
		p := strings.Replace(mf.Path, goldenDir, dir, 1)
		if err := os.WriteFile(p, mf.Content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The server-state file the default head names exists once the syncer
	// ran (it writes an empty one before HAProxy first starts).
	if err := os.WriteFile(filepath.Join(dir, "server-state"), []byte(EmptyServerState), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(text, goldenDir, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-c", "-f", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c refuses the config: %v\n%s\n--- config ---\n%s", err, out, text)
	}
	for line := range strings.Lines(string(out)) {
		// marathon-lb's layout puts each app's lines together, so one app's
		// "http-request auth" or redirect may follow another's use_backend;
		// HAProxy runs http-request rules first anyway, which is what they
		// mean. Every other warning is a defect.
		ok := strings.Contains(line, "rule placed after a 'use_backend' rule")
		for _, a := range allowed {
			ok = ok || strings.Contains(line, a)
		}
		if strings.Contains(line, "[WARNING]") && !ok {
			t.Errorf("haproxy -c warns:\n%s", out)
			break
		}
	}
}
