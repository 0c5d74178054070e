package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// lbState is a Mesos state document with one app, "web", whose tasks run on the
// given real backends (one agent per backend host), labelled for the load
// balancer on servicePort.
func lbState(t *testing.T, servicePort int, backends ...*haproxytest.Backend) []byte {
	t.Helper()
	var agents, tasks []map[string]any
	for i, b := range backends {
		agentID := "agent-" + strconv.Itoa(i)
		agents = append(agents, map[string]any{
			"id": agentID, "hostname": b.Host, "pid": "slave(1)@" + b.Host + ":5051",
			"resources": map[string]any{"ports": "[31000-32000]"},
		})
		tasks = append(tasks, map[string]any{
			"id": "web." + strconv.Itoa(1000+i), "name": "web", "framework_id": "fw-marathon",
			"slave_id": agentID, "state": "TASK_RUNNING",
			"resources": map[string]any{"ports": "[" + strconv.Itoa(b.Port) + "-" + strconv.Itoa(b.Port) + "]"},
			"labels": []map[string]any{
				{"key": "HAPROXY_GROUP", "value": "external"},
				{"key": "HAPROXY_0_PORT", "value": strconv.Itoa(servicePort)},
				{"key": "HAPROXY_0_BIND_ADDR", "value": "127.0.0.1"},
				{"key": "MARATHON_APP_ID", "value": "/web"},
			},
			"statuses": []map[string]any{{"state": "TASK_RUNNING", "timestamp": 1700000000.0 + float64(i)}},
		})
	}
	doc := map[string]any{
		"leader": "master@127.0.0.1:5050", "pid": "master@127.0.0.1:5050", "hostname": "127.0.0.1",
		"slaves": agents,
		"frameworks": []map[string]any{{
			"id": "fw-marathon", "name": "marathon", "pid": "scheduler-1@127.0.0.1:8080",
			"hostname": "127.0.0.1", "tasks": tasks,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// lbDaemonArgs are the flags of a daemon on loopback following stateFile, with
// the load balancer on for groups: a real HAProxy (bin) whose config, sockets
// and templates live in dir.
func lbDaemonArgs(t *testing.T, bin, dir, stateFile, groups string) []string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{
		"-stateFile", stateFile, "-masters", "127.0.0.1:5050",
		"-listener", "127.0.0.1", "-port", "0", "-httpListener", "127.0.0.1", "-httpport", "0", "-externalon=false",
		"--group", groups, "--dont-bind-http-https",
		"--haproxy-config", filepath.Join(dir, "haproxy.cfg"),
		"-lb-haproxy-binary", bin,
		"-lb-master-socket", filepath.Join(dir, "master.sock"),
		"-lb-stats-socket", filepath.Join(dir, "stats.sock"),
		"-lb-stats-bind", "127.0.0.1:" + strconv.Itoa(haproxytest.FreePort(t, "127.0.0.1")),
		"-lb-appid-bind", "127.0.0.1:" + strconv.Itoa(haproxytest.FreePort(t, "127.0.0.1")),
		"-lb-templates-dir", filepath.Join(dir, "templates"),
	}
}

// The whole daemon with the load balancer on: tasks labelled HAPROXY_GROUP in the
// Mesos view reach a real HAProxy; scaling up goes through the Runtime API with
// no reload, and traffic reaches the new task.
func TestDaemonLoadBalancesMesosTasks(t *testing.T) {
	bin := haproxytest.Binary(t)
	dir := haproxytest.Dir(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	servicePort := haproxytest.FreePort(t, "127.0.0.1")
	stateFile := filepath.Join(dir, "state.json")
	writeAtomic(t, stateFile, lbState(t, servicePort, b1))

	o, err := parseArgs(append(lbDaemonArgs(t, bin, dir, stateFile, "external"), "-lb-drain-seconds", "1"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d, sigs := startDaemonSignals(t, o.cfg, o.lb)
	url := "http://127.0.0.1:" + strconv.Itoa(servicePort) + "/"
	// TCP mode (marathon-lb's default): each connection goes to one server, so
	// every request needs its own connection to see the balancing.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if !haproxytest.WaitFor(15*time.Second, func() bool {
		body, err := haproxytest.Get(client, url)
		return err == nil && body == b1.Addr()
	}) {
		t.Fatalf("no traffic through HAProxy to %s; lb status %+v", b1.Addr(), d.lb.syncer.Status())
	}
	// The initial apply is recorded once HAProxy confirmed it; count from there.
	if !haproxytest.WaitFor(10*time.Second, func() bool { return len(d.lb.syncer.Status().Reloads) > 0 }) {
		t.Fatal("initial apply not recorded")
	}
	reloads := len(d.lb.syncer.Status().Reloads)
	ops := runtimeOps(t, d)

	// Scale up: the new task receives traffic, with no reload.
	writeAtomic(t, stateFile, lbState(t, servicePort, b1, b2))
	if !haproxytest.WaitFor(10*time.Second, func() bool {
		body, err := haproxytest.Get(client, url)
		return err == nil && body == b2.Addr()
	}) {
		t.Fatalf("new task %s never received traffic; lb status %+v", b2.Addr(), d.lb.syncer.Status())
	}
	// Status().Via is the latest apply's: a snapshot after the scale-up that
	// changes no app makes it "none", so the runtime operations are counted.
	st := d.lb.syncer.Status()
	if after := runtimeOps(t, d); len(st.Reloads) != reloads || after == ops {
		t.Fatalf("scale-up: %d reloads (was %d), %v runtime operations (was %v); want the Runtime API alone", len(st.Reloads), reloads, after, ops)
	}

	// marathon-lb's endpoints on our HTTP port.
	base := "http://" + d.httpLn.Addr().String()
	resp, err := http.Get(base + "/_haproxy_getconfig")
	if err != nil {
		t.Fatal(err)
	}
	cfgText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(cfgText), b2.Addr()) {
		t.Errorf("/_haproxy_getconfig does not show the new server %s", b2.Addr())
	}
	resp, err = http.Get(base + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/ready = %d %q with HAProxy running", resp.StatusCode, body)
	}

	// marathon-lb's signals: USR1 reloads HAProxy, HUP refetches and resyncs;
	// neither stops the daemon.
	before := len(d.lb.syncer.Status().Reloads)
	sigs <- syscall.SIGUSR1
	if !haproxytest.WaitFor(10*time.Second, func() bool { return len(d.lb.syncer.Status().Reloads) > before }) {
		t.Fatal("SIGUSR1 did not reload HAProxy")
	}
	sigs <- syscall.SIGHUP
	if body, err := haproxytest.Get(client, url); err != nil || (body != b1.Addr() && body != b2.Addr()) {
		t.Fatalf("after SIGHUP: %q, %v", body, err)
	}

	// Scale down: the removed task stops receiving traffic.
	writeAtomic(t, stateFile, lbState(t, servicePort, b2))
	if !haproxytest.WaitFor(10*time.Second, func() bool {
		for i := 0; i < 10; i++ {
			if body, err := haproxytest.Get(client, url); err != nil || body != b2.Addr() {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("removed task %s still receives traffic", b1.Addr())
	}
}

// runtimeOps is the daemon's count of Runtime API server operations, of every
// kind.
func runtimeOps(t *testing.T, d *daemon) float64 {
	t.Helper()
	families, err := d.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() == "discovery_lb_runtime_ops_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func TestSignalsOn(t *testing.T) {
	for _, tc := range []struct {
		mode, addr string
		want       bool
	}{
		{"auto", "127.0.0.1", true}, {"auto", "::1", true},
		// marathon-lb's default stats bind, and every address.
		{"auto", "0.0.0.0", false}, {"auto", "", false}, {"auto", "10.0.0.5", false},
		{"on", "0.0.0.0", true}, {"off", "127.0.0.1", false},
	} {
		if got := signalsOn(tc.mode, tc.addr); got != tc.want {
			t.Errorf("signalsOn(%q, %q) = %v, want %v", tc.mode, tc.addr, got, tc.want)
		}
	}
}

func TestEndpointsAddr(t *testing.T) {
	for _, tc := range []struct {
		listener string
		port     int
		want     string
	}{
		{"0.0.0.0", 8123, "127.0.0.1:8123"}, {"", 8123, "127.0.0.1:8123"}, {"::", 80, "[::1]:80"},
		{"127.0.0.1", 9000, "127.0.0.1:9000"}, {"10.1.2.3", 8123, "10.1.2.3:8123"},
	} {
		if got := endpointsAddr(tc.listener, tc.port); got != tc.want {
			t.Errorf("endpointsAddr(%q, %d) = %q, want %q", tc.listener, tc.port, got, tc.want)
		}
	}
}
