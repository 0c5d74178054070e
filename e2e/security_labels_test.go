package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/internal/sim"
)

// The tests of this file play an app author who is not the operator: each
// posts labels that, before labels were checked for their role, reached
// HAProxy as syntax (issue 15, findings 1 to 4).

// newVHostLB is newLB with the shared vhost frontends (marathon_http_in and
// marathon_https_in) on free loopback ports; it returns marathon_http_in's.
func newVHostLB(t *testing.T) (*lbSetup, int) {
	t.Helper()
	l := newLB(t)
	l.args = slices.DeleteFunc(l.args, func(a string) bool { return a == "--dont-bind-http-https" })
	httpPort := haproxytest.FreePort(t, "127.0.0.1")
	l.args = append(l.args,
		"-lb-http-bind", "127.0.0.1:"+itoa(httpPort),
		"-lb-https-bind", "127.0.0.1:"+itoa(haproxytest.FreePort(t, "127.0.0.1")))
	return l, httpPort
}

// marathonLB starts a daemon following the cluster's Marathon with lb's
// arguments, env added to its environment, and waits for every app's traffic.
func marathonLB(t *testing.T, c *sim.Cluster, lb *lbSetup, env []string, extra ...string) *daemon {
	t.Helper()
	args := append(append([]string{"--marathon", c.MarathonURL()}, lb.args...), extra...)
	d := startDaemonEnv(t, false, env, args...)
	waitTraffic(t, c, 30*time.Second)
	return d
}

// setLabels gives app a's labels plus kv (pairs) in Marathon.
func setLabels(t *testing.T, c *sim.Cluster, a sim.App, kv ...string) {
	t.Helper()
	l := maps.Clone(a.Labels)
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	if err := c.Marathon().SetLabels(a.ID, l); err != nil {
		t.Fatal(err)
	}
}

// leftOutReason is why /status.json says app is left out, "" when it is not.
func leftOutReason(t *testing.T, d *daemon, appID string) string {
	t.Helper()
	st := d.status(t)
	if st.LB == nil {
		return ""
	}
	for _, lo := range st.LB.LeftOut {
		if lo.AppID == appID {
			return lo.Reason
		}
	}
	return ""
}

// vhostGet sends GET path to 127.0.0.1:port with Host host on a new
// connection, redirects not followed. It returns the status, the headers and
// the body as one text, and the body alone.
func vhostGet(port int, host, path string) (int, string, string, error) {
	req, err := http.NewRequest("GET", "http://127.0.0.1:"+itoa(port)+path, nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Host = host
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	var all strings.Builder
	_ = res.Header.Write(&all)
	all.Write(b)
	return res.StatusCode, all.String(), string(b), err
}

// rawGet sends GET / with Host host to 127.0.0.1:port and returns the status
// code (0 when the answer does not start with one) and the raw answer:
// headers an HTTP client would refuse (a realm spanning lines) are read too.
func rawGet(port int, host string) (int, string) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(port), time.Second)
	if err != nil {
		return 0, ""
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, ""
	}
	b, _ := io.ReadAll(conn)
	f := strings.Fields(string(b))
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return 0, string(b)
	}
	code, _ := strconv.Atoi(f[1])
	return code, string(b)
}

// isTaskOf reports whether addr (what a backend answers) is one of a's tasks.
func isTaskOf(a sim.App, addr string) bool {
	for _, tk := range a.Tasks {
		if tk.Addr().String() == addr {
			return true
		}
	}
	return false
}

// selfSignedPEM is a certificate and its private key in one PEM, as
// HAPROXY_SSL_CERT holds them.
func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// Finding 1: an HAPROXY_0_AUTH realm naming ${HAPROXY_SSL_CERT}, and a
// redirect location naming another variable of the daemon, read nothing
// back: both apps are left out with the label named, and neither the
// WWW-Authenticate realm nor the Location of their vhosts holds the private
// key or the variable.
func TestSecurityLabelsExpandNoVariable(t *testing.T) {
	const secret = "e2e-tok-Zq81Lm"
	keyPEM := selfSignedPEM(t)
	c := newCluster(t, sim.Config{Apps: 3, TasksPerApp: 1, Seed: 151, Backends: true})
	lb, httpPort := newVHostLB(t)
	d := marathonLB(t, c, lb, []string{"HAPROXY_SSL_CERT=" + keyPEM, "DISCOVERY_E2E_SECRET=" + secret})
	tr := c.Truth()
	authApp, redirApp, good := tr.Apps[0], tr.Apps[1], tr.Apps[2]
	setLabels(t, c, authApp, "HAPROXY_0_AUTH", "${HAPROXY_SSL_CERT}:user:$5$salt$hash")
	setLabels(t, c, redirApp, "HAPROXY_0_HTTP_BACKEND_REDIR", `"${DISCOVERY_E2E_SECRET}"`)

	// Either the apps are left out, or HAProxy answers with what the labels
	// asked for (as it did before labels were checked): then the answers
	// must not hold the secrets.
	answers := map[string]string{}
	waitFor(t, 20*time.Second, "the labels applied or refused", func() bool {
		done := 0
		for _, a := range []struct {
			app  sim.App
			code int
		}{{authApp, 401}, {redirApp, 301}} {
			code, raw := rawGet(httpPort, a.app.VHost)
			answers[a.app.ID] = raw
			if leftOutReason(t, d, a.app.ID) != "" || code == a.code {
				done++
			}
		}
		return done == 2
	})
	keyLine := strings.Split(keyPEM, "\n")[1] // the certificate's first base64 line
	for id, text := range answers {
		for _, s := range []string{"PRIVATE KEY", "BEGIN", keyLine, secret} {
			if strings.Contains(text, s) {
				t.Errorf("the answer for %s's vhost holds %q:\n%s", id, s, text)
			}
		}
	}
	if r := leftOutReason(t, d, authApp.ID); !strings.Contains(r, "HAPROXY_0_AUTH") || strings.Contains(r, "$5$") {
		t.Errorf("%s left out with %q, want HAPROXY_0_AUTH named and the hash not quoted", authApp.ID, r)
	}
	if r := leftOutReason(t, d, redirApp.ID); !strings.Contains(r, "HAPROXY_0_HTTP_BACKEND_REDIR") {
		t.Errorf("%s left out with %q, want HAPROXY_0_HTTP_BACKEND_REDIR named", redirApp.ID, r)
	}
	cfg, err := os.ReadFile(lb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "${") {
		t.Error("a variable reference reached the HAProxy config")
	}
	if _, _, body, err := vhostGet(httpPort, good.VHost, "/"); err != nil || !isTaskOf(good, body) {
		t.Errorf("%s's vhost: %q, %v; want one of its tasks", good.ID, body, err)
	}
}

// Finding 2: bind options and certificate labels that point HAProxy at a
// file outside the certificate directories (the Marathon credential file)
// leave their apps out with a reason of our own, and a template label that
// makes haproxy -c quote the file is reported with the file's text cut out:
// the credential shows on no page and in no log line.
func TestSecurityLabelsReadNoFile(t *testing.T) {
	const cred = "lb-user:cr3d-Wq7Pz"
	credPath := filepath.Join(t.TempDir(), "marathon-credentials")
	if err := os.WriteFile(credPath, []byte(cred+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, sim.Config{Apps: 4, TasksPerApp: 1, Seed: 161, Backends: true})
	lb := newLB(t)
	d := marathonLB(t, c, lb, nil)
	tr := c.Truth()
	setLabels(t, c, tr.Apps[0], "HAPROXY_0_BIND_OPTIONS", "ssl crt-list "+credPath)
	setLabels(t, c, tr.Apps[1], "HAPROXY_0_SSL_CERT", credPath)
	setLabels(t, c, tr.Apps[2], "HAPROXY_0_FRONTEND_HEAD",
		"\nfrontend {backend}\n  bind {bindAddr}:{servicePort} ssl crt-list "+credPath+"\n  mode {mode}\n")
	waitFor(t, 30*time.Second, "three apps left out", func() bool {
		return leftOutReason(t, d, tr.Apps[0].ID) != "" && leftOutReason(t, d, tr.Apps[1].ID) != "" &&
			leftOutReason(t, d, tr.Apps[2].ID) != ""
	})
	pages := map[string]string{"log": d.logText()}
	for _, p := range []string{"/", "/status.json"} {
		pages[p] = d.mustGet(t, p, 200)
	}
	for where, text := range pages {
		if i := strings.Index(text, "cr3d-Wq7Pz"); i >= 0 {
			t.Errorf("%s shows the credential file's text: …%s…", where, text[max(0, i-120):min(len(text), i+30)])
		}
	}
	for i, want := range []string{`bind option "crt-list" is not one an app may set`, "is outside the certificate directories", "not shown"} {
		if r := leftOutReason(t, d, tr.Apps[i].ID); !strings.Contains(r, want) {
			t.Errorf("%s left out with %q, want %q", tr.Apps[i].ID, r, want)
		}
	}
	if got, err := through(tr.Apps[3].ServicePort); err != nil || !isTaskOf(tr.Apps[3], got) {
		t.Errorf("%s: %q, %v; want one of its tasks", tr.Apps[3].ID, got, err)
	}
}

// Finding 3, shared port: an app whose HAPROXY_0_BIND_ADDR adds a second
// address on the vhost port, and an app claiming another app's vhost with a
// heavier weight, take none of that vhost's traffic: every request for it
// reaches its own app's task.
func TestSecurityLabelsHijackNoVHostTraffic(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 3, TasksPerApp: 1, Seed: 171, Backends: true})
	lb, httpPort := newVHostLB(t)
	d := marathonLB(t, c, lb, nil)
	tr := c.Truth()
	binder, claimer, victim := tr.Apps[0], tr.Apps[1], tr.Apps[2]
	setLabels(t, c, binder, "HAPROXY_0_BIND_ADDR", "127.0.0.1:"+itoa(httpPort)+",127.0.0.1")
	setLabels(t, c, claimer, "HAPROXY_0_VHOST", victim.VHost, "HAPROXY_0_BACKEND_WEIGHT", "100")
	// Refused, or the vhost's traffic reaches the claimer (as it did before
	// claims had owners).
	waitFor(t, 20*time.Second, "the labels applied or refused", func() bool {
		if leftOutReason(t, d, binder.ID) != "" && leftOutReason(t, d, claimer.ID) != "" {
			return true
		}
		_, _, body, err := vhostGet(httpPort, victim.VHost, "/")
		return err == nil && isTaskOf(claimer, body)
	})
	wrong := 0
	for range 40 {
		_, _, body, err := vhostGet(httpPort, victim.VHost, "/")
		if err != nil || !isTaskOf(victim, body) {
			wrong++
			t.Logf("request for %s: %q, %v", victim.VHost, body, err)
		}
	}
	if wrong > 0 {
		t.Errorf("%d of 40 requests for %s did not reach its task", wrong, victim.VHost)
	}
	if r := leftOutReason(t, d, binder.ID); !strings.Contains(r, "HAPROXY_0_BIND_ADDR") {
		t.Errorf("%s left out with %q, want HAPROXY_0_BIND_ADDR named", binder.ID, r)
	}
	if r, want := leftOutReason(t, d, claimer.ID), "vhost "+victim.VHost+" is routed by app "+victim.ID; r != want {
		t.Errorf("%s left out with %q, want %q", claimer.ID, r, want)
	}
}

// Finding 3, service port: an app claiming another app's service port
// (HAPROXY_0_PORT), although it sorts first, is left out; the port keeps
// serving its app, also after a restart of the daemon (the claims are kept
// beside the config).
func TestSecurityLabelsHijackNoServicePort(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 2, TasksPerApp: 2, Seed: 181, Backends: true})
	lb := newLB(t)
	d := marathonLB(t, c, lb, nil)
	tr := c.Truth()
	claimer, victim := tr.Apps[0], tr.Apps[1] // the claimer sorts first
	setLabels(t, c, claimer, "HAPROXY_0_PORT", itoa(victim.ServicePort))
	want := "service port " + itoa(victim.ServicePort) + " is already bound by app " + victim.ID
	// The claimer's backend, had it won the port.
	stolen := "backend " + strings.ReplaceAll(strings.TrimPrefix(claimer.ID, "/"), "/", "_") + "_" + itoa(victim.ServicePort)
	check := func(d *daemon, when string) {
		t.Helper()
		waitFor(t, 20*time.Second, when+": the claim applied or refused", func() bool {
			cfg, _ := os.ReadFile(lb.cfg)
			return leftOutReason(t, d, claimer.ID) != "" || strings.Contains(string(cfg), stolen)
		})
		waitFor(t, 20*time.Second, when+": port "+itoa(victim.ServicePort)+" served", func() bool {
			_, err := through(victim.ServicePort)
			return err == nil
		})
		wrong, last := 0, ""
		for range 20 {
			got, err := through(victim.ServicePort)
			if err != nil || !isTaskOf(victim, got) {
				wrong++
				last = got
				if err != nil {
					last = err.Error()
				}
			}
		}
		if wrong > 0 {
			t.Errorf("%s: %d of 20 requests to port %d did not reach %s (last: %s)", when, wrong, victim.ServicePort, victim.ID, last)
		}
		if r := leftOutReason(t, d, claimer.ID); r != want {
			t.Errorf("%s: %s left out with %q, want %q", when, claimer.ID, r, want)
		}
	}
	check(d, "running")
	d.stop()
	d = startDaemon(t, false, append([]string{"--marathon", c.MarathonURL()}, lb.args...)...)
	check(d, "after a restart")
}

// Finding 4: with -lb-template-labels naming the templates app authors may
// set, a HAPROXY_0_BACKEND_HEAD label that would serve a root-only file is
// ignored (the app's task answers), while an allowed template label applies.
func TestSecurityTemplateLabelsPolicy(t *testing.T) {
	secretPath := filepath.Join(t.TempDir(), "root-only")
	if err := os.WriteFile(secretPath, []byte("root-only-Hq2Lp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, sim.Config{Apps: 2, TasksPerApp: 1, Seed: 191, Backends: true})
	lb := newLB(t)
	d := marathonLB(t, c, lb, nil, "-lb-template-labels=HAPROXY_BACKEND_HTTP_OPTIONS")
	tr := c.Truth()
	reader, allowed := tr.Apps[0], tr.Apps[1]
	setLabels(t, c, reader, "HAPROXY_0_MODE", "http", "HAPROXY_0_BACKEND_HEAD",
		"backend {backend}\n  mode {mode}\n  balance {balance}\n  http-request return status 200 content-type text/plain file "+secretPath+"\n")
	setLabels(t, c, allowed, "HAPROXY_0_MODE", "http", "HAPROXY_0_BACKEND_HTTP_OPTIONS",
		"  http-response set-header X-Template-Label applied\n")
	waitFor(t, 20*time.Second, "the allowed template label applied", func() bool {
		res, err := noKeepAlive.Get("http://127.0.0.1:" + itoa(allowed.ServicePort) + "/")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.Header.Get("X-Template-Label") == "applied"
	})
	for range 10 {
		got, err := through(reader.ServicePort)
		if err != nil || !isTaskOf(reader, got) {
			t.Fatalf("%s's port answered %q, %v; want one of its tasks (the label is not allowed)", reader.ID, got, err)
		}
	}
	cfg, err := os.ReadFile(lb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), secretPath) {
		t.Error("the refused template label reached the config")
	}
	if st := d.status(t); st.LB == nil || len(st.LB.LeftOut) != 0 {
		t.Errorf("apps left out: %+v (a template label not allowed is ignored, as marathon-lb's --ignore flag did)", st.LB)
	}
}

// Finding 4 (HAProxy runs as root) and 10 (world-readable files): HAProxy's
// processes have PATH in their environment and none of the daemon's
// variables; its workers run as the haproxy user when the daemon is root;
// the config and the claims file are 0640, the archive 0600.
func TestSecurityHAProxyLeastPrivilege(t *testing.T) {
	const secret = "e2e-env-secret-Rr4Tt"
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 201, Backends: true})
	lb := newLB(t)
	d := marathonLB(t, c, lb, []string{"DISCOVERY_E2E_SECRET=" + secret})
	waitFor(t, 10*time.Second, "the first reload archived", func() bool {
		files, _ := filepath.Glob(filepath.Join(lb.dir, "archive", "*.cfg"))
		return len(files) > 0
	})
	master, workers := haproxyProcs(t, lb.masterSock)
	for _, pid := range append([]int{master}, workers...) {
		vars, ok := procEnv(t, pid)
		if !ok {
			continue
		}
		if slices.ContainsFunc(vars, func(v string) bool { return strings.Contains(v, secret) }) {
			t.Errorf("haproxy %d has the daemon's DISCOVERY_E2E_SECRET in its environment", pid)
		}
		if !slices.ContainsFunc(vars, func(v string) bool { return strings.HasPrefix(v, "PATH=") }) {
			t.Errorf("haproxy %d environment %q lacks PATH", pid, vars)
		}
	}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("haproxy"); err != nil {
			t.Logf("no haproxy user on this system: %v", err)
		} else {
			for _, pid := range workers {
				if uid := procUID(t, pid); uid != u.Uid {
					t.Errorf("haproxy worker %d runs as uid %s, want haproxy's %s", pid, uid, u.Uid)
				}
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(lb.dir, "archive", "*.cfg"))
	want := map[string]os.FileMode{lb.cfg: 0o640, lb.cfg + ".claims": 0o640}
	for _, f := range files {
		want[f] = 0o600
	}
	for f, mode := range want {
		fi, err := os.Stat(f)
		if err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", f, fi.Mode().Perm(), mode)
		}
	}
	d.stop() // HAProxy stops with the daemon: its environment is gone with it
}

// -lb-haproxy-env passes a variable of the daemon's environment to HAProxy
// (for an operator template using "${NAME}"); the others stay out.
func TestSecurityHAProxyEnvNamed(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, Seed: 211, Backends: true})
	lb := newLB(t)
	d := marathonLB(t, c, lb, []string{"DISCOVERY_E2E_KEEP=kept", "DISCOVERY_E2E_OTHER=x"}, "-lb-haproxy-env=DISCOVERY_E2E_KEEP")
	master, workers := haproxyProcs(t, lb.masterSock)
	for _, pid := range append([]int{master}, workers...) {
		vars, ok := procEnv(t, pid)
		if !ok {
			continue
		}
		if !slices.Contains(vars, "DISCOVERY_E2E_KEEP=kept") || slices.Contains(vars, "DISCOVERY_E2E_OTHER=x") {
			t.Errorf("haproxy %d environment %q: want DISCOVERY_E2E_KEEP only", pid, vars)
		}
	}
	d.stop()
}

// procEnv is a process's environment; false for a process that is gone
// meanwhile (an old worker after a reload).
func procEnv(t *testing.T, pid int) ([]string, bool) {
	t.Helper()
	env, err := os.ReadFile("/proc/" + itoa(pid) + "/environ")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		t.Logf("haproxy %d exited meanwhile", pid)
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(env), "\x00"), true
}

// haproxyProcs asks the master CLI for the master's and the workers' PIDs,
// for up to 5 s (the master re-executes itself on every reload, and refuses
// connections meanwhile).
func haproxyProcs(t *testing.T, sock string) (int, []int) {
	t.Helper()
	var master int
	var workers []int
	waitFor(t, 5*time.Second, "show proc on the master socket", func() bool {
		master, workers = showProc(sock)
		return master != 0 && len(workers) > 0
	})
	return master, workers
}

func showProc(sock string) (int, []int) {
	conn, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return 0, nil
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show proc\n"); err != nil {
		return 0, nil
	}
	master, workers := 0, []int(nil)
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		switch f[1] {
		case "master":
			master = pid
		case "worker":
			workers = append(workers, pid)
		}
	}
	return master, workers
}

// procUID is the real uid of a process.
func procUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			return strings.Fields(v)[0]
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return ""
}
