package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/internal/peers"
)

// marathonLBScript returns the path of one of marathon-lb's scripts (zdd.py)
// in $MARATHON_LB_DIR, else in the peers directory beside the repository; the
// test is skipped when it is in neither.
func marathonLBScript(t *testing.T, name string) string {
	t.Helper()
	dirs := []string{os.Getenv("MARATHON_LB_DIR"), peers.Path("marathon-lb")}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := resolveTextSymlink(filepath.Join(d, name))
		if _, err := os.Stat(p); err == nil {
			abs, err := filepath.Abs(p)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Skipf("marathon-lb's %s not found: set MARATHON_LB_DIR to a marathon-lb checkout (looked in %q)", name, dirs)
	return ""
}

// resolveTextSymlink follows a symbolic link checked out as a text file (its
// content the target's name, as git writes links where it cannot make them):
// marathon-lb's bluegreen_deploy.py is a link to zdd.py.
func resolveTextSymlink(p string) string {
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() || st.Size() > 255 {
		return p
	}
	b, err := os.ReadFile(p)
	target := strings.TrimSpace(string(b))
	if err != nil || target == "" || strings.ContainsAny(target, "/\n") {
		return p
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p), target)); err != nil {
		return p
	}
	return filepath.Join(filepath.Dir(p), target)
}

// marathonLBPython returns the Python that runs marathon-lb's scripts: the
// system's, where scripts/install-deps.sh puts the modules they import.
func marathonLBPython(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = "python3"
	}
	if out, err := osexec.Command(py, "-c", "import requests, six, dateutil, jwt").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import what marathon-lb's scripts import (run scripts/install-deps.sh): %v\n%s", py, err, out)
	}
	return py
}

// taskBackends are the real HTTP servers the fake Marathon's scheduler runs
// as tasks, each on its own 127.0.0.x address, with the deployment colour of
// the app that launched it.
type taskBackends struct {
	mu     sync.Mutex
	next   int
	byAddr map[string]*haproxytest.Backend
	colour map[string]string
}

func newTaskBackends(t *testing.T) *taskBackends {
	tb := &taskBackends{byAddr: map[string]*haproxytest.Backend{}, colour: map[string]string{}}
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, b := range tb.byAddr {
			b.Close()
		}
	})
	return tb
}

func (tb *taskBackends) scheduler() fakemarathon.Scheduler {
	return fakemarathon.Scheduler{
		Launch: func(app fakemarathon.App) (fakemarathon.Task, error) {
			tb.mu.Lock()
			tb.next++
			ip := "127.0.0." + strconv.Itoa(10+tb.next%200)
			tb.mu.Unlock()
			b, err := haproxytest.NewBackend(ip)
			if err != nil {
				return fakemarathon.Task{}, err
			}
			tb.mu.Lock()
			tb.byAddr[b.Addr()] = b
			tb.colour[b.Addr()] = app.Labels["HAPROXY_DEPLOYMENT_COLOUR"]
			tb.mu.Unlock()
			return fakemarathon.Task{Host: ip, Ports: []int{b.Port}}, nil
		},
		Kill: func(task fakemarathon.Task) {
			if len(task.Ports) == 0 {
				return
			}
			addr := net.JoinHostPort(task.Host, strconv.Itoa(task.Ports[0]))
			tb.mu.Lock()
			b := tb.byAddr[addr]
			delete(tb.byAddr, addr)
			tb.mu.Unlock()
			if b != nil {
				b.Close()
			}
		},
	}
}

// colourOf is the colour of the app whose task answered from addr.
func (tb *taskBackends) colourOf(addr string) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.colour[addr]
}

// zddApp is an app definition as a zdd.py user writes it: a deployment group,
// an alternate port, an HTTP health check, and a version in its command.
func zddApp(t *testing.T, dir string, servicePort, altPort int, version string) string {
	t.Helper()
	app := map[string]any{
		"id":        "/web",
		"cmd":       "serve " + version,
		"instances": 3,
		"cpus":      0.1,
		"mem":       32,
		"ports":     []int{servicePort},
		"labels": map[string]string{
			"HAPROXY_GROUP":               "external",
			"HAPROXY_0_MODE":              "http",
			"HAPROXY_DEPLOYMENT_GROUP":    "web",
			"HAPROXY_DEPLOYMENT_ALT_PORT": strconv.Itoa(altPort),
		},
		"healthChecks": []map[string]any{{
			"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 5,
			"intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2,
		}},
	}
	b, err := json.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "web-"+version+".json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runZDD runs marathon-lb's zdd.py, unchanged, against the fake Marathon and
// the daemon's stats port (marathon-lb's :9090), without prompts.
func runZDD(t *testing.T, py, script, marathonURL, statsAddr, appJSON string, extra ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{script,
		"--marathon", marathonURL, "--marathon-lb", "http://" + statsAddr,
		"--json", appJSON, "--force", "--step-delay", "1", "--max-wait", "120",
		"--syslog-socket", "/dev/null", "--log-level", "INFO"}, extra...)
	cmd := osexec.CommandContext(ctx, py, args...)
	cmd.Dir = filepath.Dir(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// zddEnv is a daemon following the fake Marathon, whose scheduler runs real
// task backends, and the first deploy of the app by zdd.py (blue, serving).
type zddEnv struct {
	t                    *testing.T
	py, script           string
	tasks                *taskBackends
	fm                   *fakemarathon.Server
	lb                   *lbSetup
	d                    *daemon
	servicePort, altPort int
	dir, url             string
}

func newZDDEnv(t *testing.T) *zddEnv {
	t.Helper()
	e := &zddEnv{t: t, script: marathonLBScript(t, "zdd.py"), py: marathonLBPython(t), tasks: newTaskBackends(t)}
	e.fm = fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(e.fm.Close)
	e.fm.SetScheduler(e.tasks.scheduler())
	e.lb = newLB(t)
	e.d = startDaemon(t, false, append([]string{"--marathon", e.fm.URL()}, e.lb.args...)...)
	e.servicePort = haproxytest.FreePort(t, "127.0.0.1")
	e.altPort = haproxytest.FreePort(t, "127.0.0.1")
	e.dir = t.TempDir()
	if out, err := e.zdd(e.script, "v1"); err != nil {
		t.Fatalf("zdd.py, first deploy: %v\n%s", err, out)
	}
	e.url = "http://127.0.0.1:" + strconv.Itoa(e.servicePort) + "/"
	waitFor(t, 30*time.Second, "the blue app serving on its service port", func() bool {
		got, err := haproxytest.Get(noKeepAlive, e.url)
		return err == nil && e.tasks.colourOf(got) == "blue"
	})
	return e
}

// zdd deploys version of the app with script (zdd.py or its other name).
func (e *zddEnv) zdd(script, version string, extra ...string) (string, error) {
	e.t.Helper()
	return runZDD(e.t, e.py, script, e.fm.URL(), e.lb.statsAddr, zddApp(e.t, e.dir, e.servicePort, e.altPort, version), extra...)
}

// marathon-lb's zdd.py, run unchanged against discovery (the fake Marathon,
// a real HAProxy), deploys a new version of an app blue/green while requests
// flow to its service port: it reads /_haproxy_getpids and the stats CSV on
// the stats port, waits for the new tasks to be UP and the old ones drained
// (MAINT), kills those and deletes the old app. Not one request fails, and
// the new version serves at the end. Then another deploy goes back to blue
// through bluegreen_deploy.py (marathon-lb's other name for the same
// script), on the original service port again.
func TestZDDBlueGreenDeploy(t *testing.T) {
	e := newZDDEnv(t)
	e.deployUnderLoad([]string{"/web-green (3 tasks)"}, func() (string, error) { return e.zdd(e.script, "v2") })
	bluegreen := marathonLBScript(t, "bluegreen_deploy.py")
	e.deployUnderLoad([]string{"/web-blue (3 tasks)"}, func() (string, error) { return e.zdd(bluegreen, "v3") })
}

// zdd.py's hybrid deploy (--new-instances 1) leaves both versions running,
// one new task for two old ones, and both serve: the old app, scaled down
// last (versionInfo.lastScalingAt), is no longer drained. zdd.py then waits
// --max-wait for a drained server that never comes before it ends, with
// marathon-lb as here (the same merge): 10 s instead of 300.
func TestZDDHybridDeploy(t *testing.T) {
	e := newZDDEnv(t)
	e.deployUnderLoad([]string{"/web-blue (2 tasks)", "/web-green (1 tasks)"}, func() (string, error) {
		return e.zdd(e.script, "v2", "--new-instances", "1", "--max-wait", "10")
	})
}

// deployUnderLoad runs deploy (zdd.py) while requests flow to the app, and
// checks that none failed, that Marathon runs wantApps ("/web-green (3
// tasks)"), and that the colours of those apps, and no other, serve.
func (e *zddEnv) deployUnderLoad(wantApps []string, deploy func() (string, error)) {
	t, d, url := e.t, e.d, e.url
	t.Helper()
	reloadsBefore := d.metric(t, "discovery_lb_reloads_total")
	load := haproxytest.StartLoad(url, 4, 1<<40)
	start := time.Now()
	out, err := deploy()
	took := time.Since(start)
	// Traffic goes on a moment after the deploy, through the old app's removal.
	okAt := load.OK.Load()
	waitFor(t, 10*time.Second, "requests after the deploy", func() bool { return load.OK.Load() > okAt+200 })
	load.Stop()
	if err != nil {
		t.Fatalf("zdd.py, deploy to %v: %v\n%s", wantApps, err, out)
	}
	t.Logf("deploy to %v by zdd.py: %v, %d requests, %d failed, %.0f reloads", wantApps,
		took.Round(time.Millisecond), load.OK.Load()+load.Failed.Load(), load.Failed.Load(),
		d.metric(t, "discovery_lb_reloads_total")-reloadsBefore)
	if n := load.Failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the deploy: %q\nzdd.py:\n%s", n, n+load.OK.Load(), load.Errors(), out)
	}
	if load.OK.Load() < 500 {
		t.Errorf("only %d requests answered: the load did not run through the deploy", load.OK.Load())
	}

	var ids []string
	for _, a := range e.fm.Apps() {
		ids = append(ids, fmt.Sprintf("%s (%d tasks)", a.ID, len(a.Tasks)))
	}
	if strings.Join(ids, ",") != strings.Join(wantApps, ",") {
		t.Errorf("Marathon's apps after the deploy: %v, want %v", ids, wantApps)
	}
	want := map[string]bool{}
	for _, a := range wantApps {
		colour, _, _ := strings.Cut(strings.TrimPrefix(a, "/web-"), " ")
		want[colour] = true
	}
	waitFor(t, 15*time.Second, fmt.Sprintf("the apps %v, and no other, serving", wantApps), func() bool {
		seen := map[string]bool{}
		for range 30 {
			got, err := haproxytest.Get(noKeepAlive, url)
			if err != nil || !want[e.tasks.colourOf(got)] {
				return false
			}
			seen[e.tasks.colourOf(got)] = true
		}
		return len(seen) == len(want)
	})
}
