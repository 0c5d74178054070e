package lbsync

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/templates"
)

// realModel builds models with the default templates, from the Marathon apps
// registered for each snapshot, incrementally as the daemon's ModelBuilder
// does (ModelCache, with the apps' digests computed when the snapshot is
// made, as state.AppSet.Seal does): the whole pipeline a daemon runs.
type realModel struct {
	t       testing.TB
	cfg     *lbmodel.Config
	ts      *lbmodel.Templates
	cache   *lbmodel.ModelCache
	mu      sync.Mutex
	apps    map[uint64][]state.App
	digests map[uint64][]uint64
}

func withRealModel(t testing.TB, rm *realModel) func(*SyncerOptions) {
	return func(o *SyncerOptions) {
		cfg := lbmodel.DefaultConfig()
		cfg.Groups = []string{"external"}
		cfg.HAProxyConfig = o.HAProxy.ConfigPath()
		cfg.StatsSocket = o.StatsSocket
		cfg.TemplatesDir = ""
		cfg.DontBindHTTPHTTPS = true
		cfg.StatsBindAddr, cfg.StatsPort = "127.0.0.1", haproxytest.FreePort(t, "127.0.0.1")
		cfg.AppIDBindAddr, cfg.AppIDPort = "127.0.0.1", haproxytest.FreePort(t, "127.0.0.1")
		cfg.HardStopAfter = "10s"
		// Hitless reloads with keep-alive clients (see notes/haproxy-2.6.md).
		cfg.GlobalDefaultOptions = append(cfg.GlobalDefaultOptions, "idle-close-on-response")
		// The default head asks for maxconn 50000, more file descriptors than
		// this machine's hard limit allows; the rest is kept.
		head, _ := templates.Default("HAPROXY_HEAD")
		// A user's HAPROXY_HEAD is taken verbatim, as marathon-lb does: fill in
		// the placeholders of ours.
		head = strings.NewReplacer(
			"maxconn 50000", "maxconn 4000",
			"{hardStopAfter}", cfg.HardStopAfter,
			"{statsSocket}", cfg.StatsSocket,
			"{globalDefaultOptions}", cfg.GlobalDefaultOptionLines(),
			"{statsBindAddr}", cfg.StatsBindAddr,
			"{statsPort}", strconv.Itoa(cfg.StatsPort),
			"{discoveryHTTPAddr}", cfg.EndpointsAddr,
			"{serverStateFile}", cfg.ServerStateFile(),
			"{trafficLog}", "",
		).Replace(head)
		ts, err := lbmodel.LoadTemplates(cfg, "", func(k string) string {
			if k == "HAPROXY_HEAD" {
				return head
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		rm.t, rm.cfg, rm.ts, rm.apps = t, cfg, ts, map[uint64][]state.App{}
		rm.cache, rm.digests = lbmodel.NewModelCache(), map[uint64][]uint64{}
		o.Build = rm.build
	}
}

func (rm *realModel) build(snap *state.Snapshot, opts *lbmodel.BuildOptions) (*lbmodel.Model, error) {
	rm.mu.Lock()
	apps, digests := rm.apps[snap.Seq], rm.digests[snap.Seq]
	rm.mu.Unlock()
	return rm.cache.Build(apps, digests, rm.cfg, rm.ts, opts)
}

// push registers apps for the next snapshot of e and publishes it.
func (rm *realModel) push(e *lbEnv, apps ...state.App) uint64 {
	e.mu.Lock()
	seq := e.seq + 1
	e.mu.Unlock()
	digests := lbmodel.AppDigests(apps)
	rm.mu.Lock()
	rm.apps[seq], rm.digests[seq] = apps, digests
	// The syncer builds the latest snapshot only (the one before may still
	// be in progress): a daemon keeps no more, nor should the benchmarks.
	for s := range rm.apps {
		if s+1 < seq {
			delete(rm.apps, s)
			delete(rm.digests, s)
		}
	}
	rm.mu.Unlock()
	return e.push()
}

// marathonApp is an app labelled for the load balancer, one service port on
// 127.0.0.1, with a task per backend.
func marathonApp(id string, servicePort int, extra map[string]string, tasks ...*haproxytest.Backend) state.App {
	labels := map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_BIND_ADDR": "127.0.0.1"}
	for k, v := range extra {
		labels[k] = v
	}
	a := state.App{ID: id, Labels: labels, Network: state.NetworkHost, Instances: len(tasks),
		Ports: []state.AppPort{{ServicePort: servicePort, Protocol: "tcp"}}}
	for _, b := range tasks {
		a.Tasks = append(a.Tasks, state.AppTask{
			ID:   strings.TrimPrefix(id, "/") + "." + strings.ReplaceAll(b.Addr(), ":", "-"),
			Host: b.Host, Ports: []int{b.Port}, State: state.TaskRunning,
		})
	}
	return a
}

// TestRealModelScaleAndReload runs the whole pipeline: Marathon apps through
// BuildModel and the default templates into a real HAProxy.
func TestRealModelScaleAndReload(t *testing.T) {
	rm := &realModel{}
	e := newLBEnv(t, withRealModel(t, rm))
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	port := haproxytest.FreePort(t, "127.0.0.1")
	web := func(tasks ...*haproxytest.Backend) state.App { return marathonApp("/web", port, nil, tasks...) }
	get := func() string {
		t.Helper()
		body, err := haproxytest.Get(newClient(), "http://127.0.0.1:"+strconv.Itoa(port)+"/")
		if err != nil {
			t.Fatal(err)
		}
		return body
	}

	e.wait(rm.push(e, web(b1)))
	if got := get(); got != b1.Addr() {
		t.Fatalf("got %q, want %s", got, b1.Addr())
	}
	m := e.s.Model()
	if be := m.Backends[0]; !be.Dynamic {
		t.Fatalf("backend %s is not dynamic:\n%s", be.Name, be.Text)
	}
	reloads := e.masterReloads()

	// Scale up and down: runtime only.
	e.wait(rm.push(e, web(b1, b2)))
	if st := e.s.Status(); st.Via != "runtime" {
		t.Fatalf("scale up via %q (reloads %+v)", st.Via, st.Reloads[len(st.Reloads)-1])
	}
	seen := map[string]bool{}
	for range 20 {
		seen[get()] = true
	}
	if !seen[b1.Addr()] || !seen[b2.Addr()] {
		t.Fatalf("after scale up, served by %v", seen)
	}
	e.wait(rm.push(e, web(b2)))
	for range 10 {
		if got := get(); got != b2.Addr() {
			t.Fatalf("after scale down got %q", got)
		}
	}
	if got := e.masterReloads(); got != reloads {
		t.Fatalf("scaling reloaded HAProxy (%d → %d)", reloads, got)
	}

	// A label that changes the backend: a reload.
	e.wait(rm.push(e, marathonApp("/web", port, map[string]string{"HAPROXY_0_BALANCE": "leastconn"}, b2)))
	if got := e.masterReloads(); got != reloads+1 {
		t.Fatalf("balance change: reloads %d → %d, want one", reloads, got)
	}
	if !strings.Contains(string(e.s.Config()), "balance leastconn") {
		t.Fatal("config lacks the new balance")
	}
	if got := get(); got != b2.Addr() {
		t.Fatalf("after reload got %q", got)
	}

	// A template label that breaks the config: only that app is left out.
	other := haproxytest.FreePort(t, "127.0.0.1")
	bad := marathonApp("/bad", other, map[string]string{"HAPROXY_0_BACKEND_HEAD": "backend {backend}\n  no-such-keyword\n"}, b1)
	e.wait(rm.push(e, marathonApp("/web", port, map[string]string{"HAPROXY_0_BALANCE": "leastconn"}, b1, b2), bad))
	if got := e.s.InvalidApps(); len(got) != 1 || got[0] != "/bad" {
		t.Fatalf("invalid apps %v, want [/bad]", got)
	}
	seen = map[string]bool{}
	for range 20 {
		seen[get()] = true
	}
	if !seen[b1.Addr()] {
		t.Fatalf("the good app's new server gets no traffic: %v", seen)
	}
}
