package deploy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/daemontest"
	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// roles pairs each unit with its example config and environment file.
var roles = []struct {
	name    string
	unit    string
	config  string
	env     string
	dns, lb bool
}{
	{"dns", "systemd/discovery-dns.service", "examples/dns.json", "examples/discovery-dns.env", true, false},
	{"lb", "systemd/discovery-lb.service", "examples/lb.json", "examples/discovery-lb.env", false, true},
	{"both", "systemd/discovery.service", "examples/both.json", "examples/discovery.env", true, true},
}

// TestRoles runs each role's real command line — the unit's ExecStart, its
// example config as the credential config.json, its environment file's
// DISCOVERY_ARGS — first through `discovery render`, then as the daemon until
// /ready, with flags added last that keep everything on this machine: the
// bundled sample cluster instead of the example's masters and Marathons,
// loopback listeners, files in a temporary directory.
//
// Run as root with setpriv(1) at hand, the daemon runs as the units run it: as
// an unprivileged user whose only capability is an ambient
// CAP_NET_BIND_SERVICE, with no_new_privs, on the examples' own ports (53,
// 8123, 80, 443, 9090, 9091) of a loopback address of its own. Otherwise it
// runs as the current user on free ports of 127.0.0.1.
func TestRoles(t *testing.T) {
	bin := needBinary(t)
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			dir := haproxytest.Dir(t) // short: HAProxy's sockets go here
			asUnit := unitPrivileges()
			ip := "127.0.0.1"
			if asUnit != nil {
				ip = randomLoopback()
				if err := os.Chmod(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			creds := filepath.Join(dir, "creds")
			mustMkdir(t, creds)
			copyFile(t, r.config, filepath.Join(creds, "config.json"))
			writeSelfSigned(t, filepath.Join(creds, "haproxy.pem"))
			if asUnit != nil {
				// LoadCredential= makes them readable by the unit's user.
				for _, f := range []string{"config.json", "haproxy.pem"} {
					if err := os.Chown(filepath.Join(creds, f), unitUID, unitUID); err != nil {
						t.Fatal(err)
					}
				}
			}
			args := commandLine(t, readUnit(t, r.unit), creds, envFile(t, r.env))
			args = withoutMarathon(args)
			stateFile := filepath.Join(dir, "state.json")
			ports := loopbackState(t, "sample/state.json", stateFile, ip)

			local := []string{
				"-zk=", "-masters=", "-stateFile=" + stateFile,
				"-httpListener=" + ip, "-logFormat=json",
			}
			if asUnit == nil {
				local = append(local, "-httpport=0")
			}
			if r.lb {
				run := filepath.Join(dir, "run")
				lb := filepath.Join(dir, "lb")
				mustMkdir(t, run)
				mustMkdir(t, lb)
				mustMkdir(t, filepath.Join(dir, "templates"))
				if asUnit != nil {
					// What RuntimeDirectory= and StateDirectory= give the unit.
					for _, d := range []string{run, lb} {
						if err := os.Chown(d, unitUID, unitUID); err != nil {
							t.Fatal(err)
						}
					}
				}
				local = append(local,
					"-haproxy-config="+filepath.Join(lb, "haproxy.cfg"),
					"-lb-master-socket="+filepath.Join(run, "master.sock"),
					"-lb-stats-socket="+filepath.Join(run, "socket"),
					"-lb-templates-dir="+filepath.Join(dir, "templates"),
				)
			}

			t.Run("render", func(t *testing.T) {
				rargs := append([]string{"render"}, args...)
				rargs = append(rargs, local...)
				if !r.lb {
					rargs = append(rargs, "--group", "*")
				}
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(bin, rargs...)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("discovery %s: %v\n%s", strings.Join(rargs, " "), err, stderr.String())
				}
				for _, want := range []string{"global", "frontend marathon_http_in", fmt.Sprintf("backend web_%d", ports[10001])} {
					if !strings.Contains(stdout.String(), want) {
						t.Errorf("rendered config lacks %q:\n%s\nstderr:\n%s", want, stdout.String(), stderr.String())
					}
				}
			})

			t.Run("daemon", func(t *testing.T) {
				dargs := append(append([]string{}, args...), local...)
				if r.dns {
					// No forwarding: nothing leaves the machine.
					dargs = append(dargs, "-listener="+ip, "-externalon=false")
					if asUnit == nil {
						dargs = append(dargs, "-port=0")
					}
				}
				statsPort := 9090
				if r.lb {
					dargs = append(dargs, "-lb-haproxy-binary="+haproxytest.Binary(t))
					binds := map[string]int{"stats": 9090, "http": 80, "https": 443, "appid": 9091}
					if asUnit == nil {
						for k := range binds {
							binds[k] = haproxytest.FreePort(t, ip)
						}
					}
					statsPort = binds["stats"]
					for _, k := range []string{"stats", "http", "https", "appid"} {
						dargs = append(dargs, fmt.Sprintf("-lb-%s-bind=%s:%d", k, ip, binds[k]))
					}
				}
				if asUnit != nil {
					t.Logf("running as uid %d with only CAP_NET_BIND_SERVICE on %s", unitUID, ip)
					dargs = append(append(append([]string{}, asUnit[1:]...), bin), dargs...)
				}
				prog := bin
				if asUnit != nil {
					prog = asUnit[0]
				}
				d := startDaemon(t, prog, dargs, r.dns)
				d.waitReady(t, 30*time.Second)

				if body := d.get(t, "/health", 200); strings.TrimSpace(body) != "ok" {
					t.Errorf("/health: %q", body)
				}
				metrics := d.get(t, "/metrics", 200)
				if !strings.Contains(metrics, "discovery_snapshot_age_seconds") {
					t.Error("/metrics lacks discovery_snapshot_age_seconds")
				}
				if !strings.Contains(d.get(t, "/", 200), "<html") {
					t.Error("the status page is not HTML")
				}
				if r.dns {
					if body := d.get(t, "/v1/hosts/web.marathon.mesos", 200); !strings.Contains(body, "127.0.1.1") {
						t.Errorf("/v1/hosts/web.marathon.mesos: %s", body)
					}
					d.checkDNS(t, "web.marathon.mesos.", 3)
				}
				if r.lb {
					if cfg := d.get(t, "/_haproxy_getconfig", 200); !strings.Contains(cfg, fmt.Sprintf("backend web_%d", ports[10001])) {
						t.Errorf("/_haproxy_getconfig lacks the web backend:\n%s", cfg)
					}
					if !strings.Contains(metrics, `discovery_lb_reloads_total{reason="initial"} 1`) {
						t.Error(`/metrics: want discovery_lb_reloads_total{reason="initial"} 1`)
					}
					res, err := http.Get(fmt.Sprintf("http://%s/_haproxy_health_check", net.JoinHostPort(ip, strconv.Itoa(statsPort))))
					if err != nil {
						t.Fatalf("HAProxy's health check: %v", err)
					}
					res.Body.Close()
					if res.StatusCode != 200 {
						t.Errorf("HAProxy's /_haproxy_health_check: %s", res.Status)
					}
				}
				d.stop(t)
			})
		})
	}
}

// daemon is a discovery process started by the test.
type daemon struct {
	*daemontest.Process
}

// startDaemon starts bin with args and waits (up to 30 s) for its HTTP
// listener, and its DNS listener when wantDNS, to be logged.
func startDaemon(t *testing.T, bin string, args []string, wantDNS bool) *daemon {
	t.Helper()
	p, err := daemontest.Start(exec.Command(bin, args...))
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{p}
	t.Cleanup(func() {
		if d.Alive() {
			_ = d.Cmd.Process.Kill()
			<-d.Exited()
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", strings.Join(d.LogLines(), "\n"))
		}
	})
	if err := d.WaitListeners(wantDNS, 30*time.Second); err != nil {
		t.Fatalf("discovery %s %v\n%s", strings.Join(args, " "), err, strings.Join(d.LogLines(), "\n"))
	}
	return d
}

// waitReady polls /ready until it answers 200, failing after timeout.
func (d *daemon) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		res, err := http.Get("http://" + d.HTTPAddr + "/ready")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
			last = res.Status + ": " + strings.TrimSpace(string(b))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/ready did not answer 200 within %v; last: %s", timeout, last)
		case <-d.Exited():
			t.Fatalf("discovery exited before it was ready: %v", d.Err())
		case <-tick.C:
		}
	}
}

// get fetches path from the daemon's HTTP port and checks the status.
func (d *daemon) get(t *testing.T, path string, status int) string {
	t.Helper()
	res, err := http.Get("http://" + d.HTTPAddr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != status {
		t.Fatalf("GET %s: %s, want %d: %s", path, res.Status, status, b)
	}
	return string(b)
}

// checkDNS asks the daemon's DNS server for name's A records over UDP.
func (d *daemon) checkDNS(t *testing.T, name string, want int) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, d.DNSAddr)
	if err != nil {
		t.Fatalf("DNS query for %s: %v", name, err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != want {
		t.Errorf("DNS %s A: rcode %s, %d answers, want NOERROR and %d:\n%v", name, dns.RcodeToString[r.Rcode], len(r.Answer), want, r)
	}
}

// stop sends SIGTERM and wants a clean exit within 20 s.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Exited():
		if err := d.Err(); err != nil {
			t.Errorf("discovery exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("discovery did not exit within 20s of SIGTERM")
	}
}

// loopbackState copies the sample cluster to dst with every HAPROXY_{n}_PORT
// moved to a free port and every such port bound to ip only, so that
// the HAProxy of the test listens on loopback addresses nobody else uses. It
// returns the old port → new port map.
func loopbackState(t *testing.T, src, dst, ip string) map[int]int {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ports := map[int]int{}
	portLabel := regexp.MustCompile(`^HAPROXY_(\d+)_PORT$`)
	frameworks, _ := doc["frameworks"].([]any)
	for _, f := range frameworks {
		tasks, _ := f.(map[string]any)["tasks"].([]any)
		for _, tk := range tasks {
			task := tk.(map[string]any)
			labels, _ := task["labels"].([]any)
			var add []any
			for _, l := range labels {
				label := l.(map[string]any)
				m := portLabel.FindStringSubmatch(label["key"].(string))
				if m == nil {
					continue
				}
				old, err := strconv.Atoi(label["value"].(string))
				if err != nil {
					t.Fatal(err)
				}
				if ports[old] == 0 {
					ports[old] = haproxytest.FreePort(t, ip)
				}
				label["value"] = strconv.Itoa(ports[old])
				add = append(add, map[string]any{"key": "HAPROXY_" + m[1] + "_BIND_ADDR", "value": ip})
			}
			if len(add) > 0 {
				task["labels"] = append(labels, add...)
			}
		}
	}
	if ports[10001] == 0 {
		t.Fatalf("%s: the web app's HAPROXY_0_PORT 10001 is gone; update this test", src)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return ports
}

// writeSelfSigned writes a certificate and its key in one PEM file, as the
// unit's haproxy.pem credential holds them.
func writeSelfSigned(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "deploy test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
}

// unitUID is the user the units' DynamicUser stands for here: nobody.
const unitUID = 65534

// unitPrivileges returns the setpriv command line that runs a program as the
// units do (unitUID, ambient CAP_NET_BIND_SERVICE only, no_new_privs), or nil
// when the test cannot do that (not root, or no setpriv).
func unitPrivileges() []string {
	if os.Geteuid() != 0 {
		return nil
	}
	sp, err := exec.LookPath("setpriv")
	if err != nil {
		return nil
	}
	id := strconv.Itoa(unitUID)
	return []string{sp, "--reuid=" + id, "--regid=" + id, "--clear-groups",
		"--inh-caps=-all,+net_bind_service", "--ambient-caps=-all,+net_bind_service",
		"--bounding-set=-all,+net_bind_service", "--no-new-privs"}
}

// randomLoopback returns an address of 127.0.0.0/8 (all of it reaches the
// loopback interface on Linux) that nothing else on the machine is likely to
// use, so the examples' well-known ports are free on it.
func randomLoopback() string {
	return fmt.Sprintf("127.%d.%d.%d", 100+mrand.IntN(100), mrand.IntN(256), 1+mrand.IntN(254))
}
