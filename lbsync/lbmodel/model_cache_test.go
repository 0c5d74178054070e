package lbmodel

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/discovery-mesos/discovery/state"
)

// cacheWorld is a small cluster changed at random, step by step, to compare
// ModelCache.Build with BuildModel from scratch.
type cacheWorld struct {
	r    *rand.Rand
	apps map[string]state.App
	next int
	// dns is what the custom resolver answers for agent host names.
	dns map[string]netip.Addr
}

var cacheLabelChoices = []map[string]string{
	{"HAPROXY_0_VHOST": "a.example.com"},
	{"HAPROXY_0_VHOST": "a.example.com,b.example.com", "HAPROXY_0_PATH": "/api"},
	{"HAPROXY_0_VHOST": "c.example.com", "HAPROXY_0_REDIRECT_TO_HTTPS": "true"},
	{"HAPROXY_0_VHOST": "d.example.com", "HAPROXY_0_AUTH": "realm:user:pass"},
	{"HAPROXY_0_STICKY": "true"},
	{"HAPROXY_0_MODE": "http"},
	{"HAPROXY_0_MODE": "udp"}, // an error
	{"HAPROXY_0_PORT": "notaport"},
	{"HAPROXY_0_BALANCE": "source"},
	{"HAPROXY_0_BACKEND_HEAD": "backend {backend}\n  balance leastconn\n  mode {mode}\n"},
	{"HAPROXY_0_BACKEND_HEAD": "backend {backend}\n  balance {nosuch}\n"}, // a template error
	{"HAPROXY_0_BACKEND_SERVER_OPTIONS": "  server {serverName} {host_ipv4}:{port} id {serverId} weight 3\n"},
	{"HAPROXY_0_BACKEND_WEIGHT": "5", "HAPROXY_0_VHOST": "a.example.com"},
	{"HAPROXY_0_ENABLED": "false"},
	{"HAPROXY_0_GROUP": "internal"},
	{"HAPROXY_1_VHOST": "e.example.com", "HAPROXY_1_MODE": "http"},
	{"HAPROXY_0_SSL_CERT": "/etc/ssl/x.pem", "HAPROXY_0_VHOST": "f.example.com"},
	{"HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX": "1"},
	{"HAPROXY_0_BIND_ADDR": "127.0.3.1"},
	{"HAPROXY_0_MODE": "http", "HAPROXY_1_MODE": "http"},
	{"HAPROXY_0_VHOST": "g.example.com", "HAPROXY_1_VHOST": "g.example.com"},
}

func newCacheWorld(seed uint64) *cacheWorld {
	w := &cacheWorld{r: rand.New(rand.NewPCG(seed, 7)), apps: map[string]state.App{}, dns: map[string]netip.Addr{}}
	for i := range 8 {
		w.dns["agent"+strconv.Itoa(i)] = netip.AddrFrom4([4]byte{127, 0, 2, byte(10 + i)})
	}
	for range 30 {
		w.addApp()
	}
	return w
}

func (w *cacheWorld) task(id string, nports int) state.AppTask {
	t := state.AppTask{
		ID:    fmt.Sprintf("%s.%d", strings.TrimPrefix(id, "/"), w.r.IntN(1000000)),
		State: state.TaskRunning,
	}
	if w.r.IntN(3) == 0 {
		t.Host = "agent" + strconv.Itoa(w.r.IntN(8))
	} else {
		t.Host = fmt.Sprintf("127.0.1.%d", 1+w.r.IntN(6))
	}
	for range nports {
		t.Ports = append(t.Ports, 31000+w.r.IntN(40))
	}
	t.IPs = []netip.Addr{netip.AddrFrom4([4]byte{10, 1, byte(w.r.IntN(4)), byte(1 + w.r.IntN(200))})}
	switch w.r.IntN(5) {
	case 0:
		t.Health = []bool{false}
	case 1:
		t.Health = nil // no results yet: the previous model decides
	default:
		t.Health = []bool{true}
	}
	if w.r.IntN(10) == 0 {
		t.State = state.TaskStaging
	}
	if w.r.IntN(12) == 0 {
		t.Draining = true
	}
	return t
}

func (w *cacheWorld) addApp() {
	w.next++
	id := fmt.Sprintf("/g%d/app%d", w.next%3, w.next)
	w.apps[id] = w.newApp(id)
}

func (w *cacheWorld) newApp(id string) state.App {
	nports := 1 + w.r.IntN(2)
	a := state.App{ID: id, Labels: map[string]string{"HAPROXY_GROUP": "external"}, Network: state.NetworkHost,
		Instances: 2, LastScalingAt: time.Date(2026, 11, 1, 0, w.r.IntN(60), 0, 0, time.UTC)}
	if w.r.IntN(4) == 0 {
		a.Network = state.NetworkContainer
	}
	// IP-per-task apps without service ports get them from the range.
	assign := a.Network == state.NetworkContainer && w.r.IntN(2) == 0
	for n := range nports {
		sp := 10000 + w.r.IntN(60) // collisions on purpose
		if assign {
			sp = 0
		}
		a.Ports = append(a.Ports, state.AppPort{ServicePort: sp, ContainerPort: 8080 + n})
	}
	w.relabel(&a)
	if w.r.IntN(3) == 0 {
		a.HealthChecks = []state.HealthCheck{{Protocol: []string{"HTTP", "TCP"}[w.r.IntN(2)], Path: "/health",
			IntervalSeconds: 10, TimeoutSeconds: 5, MaxConsecutiveFailures: 3}}
	}
	for range 1 + w.r.IntN(3) {
		a.Tasks = append(a.Tasks, w.task(id, nports))
	}
	a.Instances = len(a.Tasks)
	sortTasks(&a)
	return a
}

func sortTasks(a *state.App) {
	slices.SortStableFunc(a.Tasks, func(x, y state.AppTask) int { return strings.Compare(x.ID, y.ID) })
}

func (w *cacheWorld) relabel(a *state.App) {
	l := map[string]string{"HAPROXY_GROUP": "external"}
	for range w.r.IntN(3) {
		maps.Copy(l, cacheLabelChoices[w.r.IntN(len(cacheLabelChoices))])
	}
	if w.r.IntN(5) == 0 {
		// A blue/green pair: another app of the same deployment group.
		l[LabelDeploymentGroup] = "bg" + strconv.Itoa(w.r.IntN(2))
		l[LabelDeploymentStartedAt] = fmt.Sprintf("2026-11-0%dT00:00:00Z", 1+w.r.IntN(5))
		l[LabelDeploymentTargetInstances] = "2"
		if w.r.IntN(2) == 0 {
			l[LabelDeploymentNewInstances] = "1"
		}
	}
	a.Labels = l
}

// step changes a few apps (and sometimes the resolver's answers).
func (w *cacheWorld) step() {
	ids := slices.Sorted(maps.Keys(w.apps))
	for range 1 + w.r.IntN(3) {
		id := ids[w.r.IntN(len(ids))]
		a, ok := w.apps[id]
		if !ok {
			continue // deleted by an earlier change of this step
		}
		a.Tasks = slices.Clone(a.Tasks)
		switch w.r.IntN(12) {
		case 0: // a task started
			a.Tasks = append(a.Tasks, w.task(id, len(a.Ports)))
		case 1: // a task stopped
			if len(a.Tasks) > 0 {
				a.Tasks = slices.Delete(a.Tasks, 0, 1)
			}
		case 2: // a task moved
			if len(a.Tasks) > 0 {
				k := w.r.IntN(len(a.Tasks))
				nt := w.task(id, len(a.Ports))
				nt.ID = a.Tasks[k].ID
				a.Tasks[k] = nt
			}
		case 3: // health changed
			if len(a.Tasks) > 0 {
				k := w.r.IntN(len(a.Tasks))
				a.Tasks[k].Health = [][]bool{nil, {true}, {false}}[w.r.IntN(3)]
			}
		case 4: // labels changed
			w.relabel(&a)
		case 5: // a port changed
			a.Ports = slices.Clone(a.Ports)
			a.Ports[0].ServicePort = 10000 + w.r.IntN(60)
		case 6:
			delete(w.apps, id)
			continue
		case 7:
			w.addApp()
		case 8:
			a = w.newApp(id)
		case 10: // only a vhost renamed, or the mode forced to http
			a.Labels = maps.Clone(a.Labels)
			if _, ok := a.Labels["HAPROXY_0_VHOST"]; ok {
				a.Labels["HAPROXY_0_VHOST"] = fmt.Sprintf("h%d.example.com", w.r.IntN(5))
			} else {
				a.Labels["HAPROXY_0_MODE"] = "http"
			}
		case 11: // only the service port of an HTTP app
			a.Labels = maps.Clone(a.Labels)
			a.Labels["HAPROXY_0_MODE"] = "http"
			a.Ports = slices.Clone(a.Ports)
			a.Ports[0].ServicePort = 10000 + w.r.IntN(60)
		case 9:
			host := "agent" + strconv.Itoa(w.r.IntN(8))
			if w.r.IntN(4) == 0 {
				delete(w.dns, host)
			} else {
				w.dns[host] = netip.AddrFrom4([4]byte{127, 0, 2, byte(10 + w.r.IntN(20))})
			}
		}
		a.Instances = len(a.Tasks)
		sortTasks(&a)
		w.apps[id] = a
	}
}

// snapshot returns the apps sorted by id, as an AppSet holds them, or, now
// and then, in another order (BuildModel takes any).
func (w *cacheWorld) snapshot() []state.App {
	apps := make([]state.App, 0, len(w.apps))
	for _, id := range slices.Sorted(maps.Keys(w.apps)) {
		apps = append(apps, w.apps[id])
	}
	if w.r.IntN(3) == 0 {
		slices.SortStableFunc(apps, func(x, y state.App) int {
			return strings.Compare(x.ID[len(x.ID)-1:], y.ID[len(y.ID)-1:])
		})
	}
	return apps
}

func (w *cacheWorld) resolver() func(string) (netip.Addr, bool) {
	dns := maps.Clone(w.dns)
	return func(host string) (netip.Addr, bool) {
		if a, ok := dns[host]; ok {
			return a, true
		}
		a, err := netip.ParseAddr(host)
		return a, err == nil
	}
}

// TestModelCacheMatchesBuildModel builds a randomly changing cluster
// incrementally and from scratch at every step: the models must be equal
// (and so render the same bytes), through template, label, port, blue/green,
// health (--health-check with the previous model), resolver, config and
// left-out app changes.
func TestModelCacheMatchesBuildModel(t *testing.T) {
	configs := map[string]func(*Config){
		"plain":          func(*Config) {},
		"health-check":   func(c *Config) { c.HealthCheck = true },
		"haproxy-map":    func(c *Config) { c.HAProxyMap = true },
		"group-by-vhost": func(c *Config) { c.GroupHTTPSByVHost = true; c.HAProxyMap = true },
		"ip-per-task":    func(c *Config) { c.MinServPortIPPerTask, c.MaxServPortIPPerTask = 10050, 10054 },
		"no-labels":      func(c *Config) { c.IgnoreTemplateLabels = true; c.HealthCheck = true },
		"strict":         func(c *Config) { c.StrictMode = true },
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			w := newCacheWorld(seed)
			cfgs := map[string]*Config{}
			for name, f := range configs {
				cfg := testConfig("external")
				f(cfg)
				cfgs[name] = cfg
			}
			names := slices.Sorted(maps.Keys(cfgs))
			templateSets := map[string]*Templates{}
			for name, cfg := range cfgs {
				templateSets[name] = mustTemplates(t, cfg, "", nil)
				templateSets[name+"/alt"] = mustTemplates(t, cfg, "", map[string]string{
					"HAPROXY_BACKEND_HEAD":      "backend {backend}\n  balance roundrobin\n  mode {mode}\n  timeout server 7s\n",
					"HAPROXY_HTTP_FRONTEND_ACL": "  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n  use_backend {backend} if host_{cleanedUpHostname}\n",
				})
			}
			cache := NewModelCache()
			name, alt := names[0], ""
			// prev is the model HAProxy runs: usually the latest, sometimes an
			// older one or none (a failed apply, a restart).
			var prev *Model
			var history []*Model
			for step := range 300 {
				if w.r.IntN(25) == 0 {
					name = names[w.r.IntN(len(names))]
				}
				if w.r.IntN(20) == 0 {
					alt = []string{"", "/alt"}[w.r.IntN(2)]
				}
				cfg, ts := cfgs[name], templateSets[name+alt]
				apps := w.snapshot()
				opts := func() *BuildOptions {
					return &BuildOptions{Previous: prev, Resolve: w.resolver()}
				}
				if w.r.IntN(15) == 0 {
					opts = func() *BuildOptions { return &BuildOptions{Previous: prev} }
				}
				want := mustBuild(t, apps, cfg, ts, opts())
				got, err := cache.Build(apps, nil, cfg, ts, opts())
				if err != nil {
					t.Fatalf("step %d (%s%s): %v", step, name, alt, err)
				}
				compareModels(t, fmt.Sprintf("step %d (%s%s)", step, name, alt), got, want)
				// A rebuild leaving some apps out, as a bisection does.
				if w.r.IntN(4) == 0 && len(apps) > 0 {
					ex := map[string]bool{apps[w.r.IntN(len(apps))].ID: true, "/bg1": w.r.IntN(2) == 0}
					o1, o2 := opts(), opts()
					o1.Exclude, o2.Exclude = ex, ex
					want := mustBuild(t, apps, cfg, ts, o1)
					got, err := cache.Build(apps, nil, cfg, ts, o2)
					if err != nil {
						t.Fatal(err)
					}
					compareModels(t, fmt.Sprintf("step %d (%s%s) excluding %v", step, name, alt, ex), got, want)
				}
				history = append(history, want)
				switch k := w.r.IntN(10); {
				case k < 6:
					prev = want
				case k < 8:
					prev = history[w.r.IntN(len(history))]
				case k < 9:
					prev = nil
				}
				w.step()
			}
		})
	}
}

func compareModels(t *testing.T, what string, got, want *Model) {
	t.Helper()
	if g, w := mustRender(t, got), mustRender(t, want); g != w {
		t.Fatalf("%s: incremental render differs from a fresh build:\n%s", what, firstDiff(g, w))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: incremental model differs from a fresh build (errors %v vs %v)", what, got.Errors, want.Errors)
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  incremental: %q\n  fresh:       %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(al), len(bl))
}

// TestModelCacheReusesUnchangedApps checks that an incremental build derives
// only the app that changed: the other backends keep their text and servers
// (the very same ones, which ComputePlan then skips), and the plan is the one
// server move.
func TestModelCacheReusesUnchangedApps(t *testing.T) {
	apps := genApps(60, 3)
	cfg := DefaultConfig()
	cfg.Groups = []string{"*"}
	ts := mustTemplates(t, cfg, "", nil)
	cache := NewModelCache()
	first, err := cache.Build(apps, nil, cfg, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := &apps[8] // tcp, roundrobin: dynamic
	changed.Tasks = slices.Clone(changed.Tasks)
	changed.Tasks[1].Ports = []int{changed.Tasks[1].Ports[0] + 1}
	second, err := cache.Build(apps, nil, cfg, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	compareModels(t, "after one change", second, mustBuild(t, apps, cfg, ts, nil))
	if len(first.Backends) != len(second.Backends) {
		t.Fatalf("%d backends, then %d", len(first.Backends), len(second.Backends))
	}
	for i := range second.Backends {
		a, b := &first.Backends[i], &second.Backends[i]
		same := unsafe.StringData(a.Text) == unsafe.StringData(b.Text) && &a.Servers[0] == &b.Servers[0]
		if want := b.AppID != changed.ID; same != want {
			t.Errorf("backend %s (app %s): shared with the previous build = %v, want %v", b.Name, b.AppID, same, want)
		}
	}
	plan := ComputePlan(first, second)
	if len(plan.Reload) != 0 || len(plan.Runtime) != 2 {
		t.Fatalf("plan %+v, want a server added and one removed", plan)
	}
}

// TestKeptOrder checks that a kept sort order is reused only for the very
// same names.
func TestKeptOrder(t *testing.T) {
	var o keptOrder
	sorted := func(names []string) []string {
		perm := o.sort(len(names), func(i int) string { return names[i] })
		out := make([]string, len(perm))
		for i, j := range perm {
			out[i] = names[j]
		}
		return out
	}
	for _, names := range [][]string{
		{"b_1", "a_2", "c_3"},
		{"b_1", "a_2", "c_3"}, // kept
		{"b_1", "d_2", "c_3"}, // same lengths, another order
		{"b_1", "d_2"},
		{"z", "y", "x"},
	} {
		if got, want := sorted(names), slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
			t.Errorf("sorting %v gave %v, want %v", names, got, want)
		}
	}
}

// TestModelCacheSameAppsSameModel: a build of apps whose digests are those
// of the latest build gives that model itself (a snapshot that changed only
// what the load balancer does not read costs no build), unless apps are
// excluded, a resolver is given, the previous model (with --health-check),
// the config or the templates differ; any changed app builds anew.
func TestModelCacheSameAppsSameModel(t *testing.T) {
	apps := genApps(30, 3)
	cfg := DefaultConfig()
	cfg.Groups = []string{"*"}
	ts := mustTemplates(t, cfg, "", nil)
	cache := NewModelCache()
	build := func(apps []state.App, cfg *Config, ts *Templates, opts *BuildOptions) *Model {
		t.Helper()
		m, err := cache.Build(apps, nil, cfg, ts, opts)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := build(apps, cfg, ts, nil)
	if build(slices.Clone(apps), cfg, ts, &BuildOptions{Previous: first}) != first {
		t.Error("the same apps (another slice) made a new model")
	}
	if build(apps, cfg, ts, &BuildOptions{Exclude: map[string]bool{apps[0].ID: true}}) == first {
		t.Error("a build excluding an app gave the full model")
	}
	m := build(apps, cfg, ts, nil)
	if build(apps, cfg, ts, &BuildOptions{Resolve: func(string) (netip.Addr, bool) { return netip.Addr{}, false }}) == m {
		t.Error("a build with a resolver was taken as the same")
	}
	m = build(apps, cfg, ts, nil)
	apps[4].Tasks = slices.Clone(apps[4].Tasks)
	apps[4].Tasks[0].Ports = []int{apps[4].Tasks[0].Ports[0] + 1} // in place, same slice
	changed := build(apps, cfg, ts, nil)
	if changed == m {
		t.Fatal("a changed app gave the previous model")
	}
	compareModels(t, "after a change in place", changed, mustBuild(t, apps, cfg, ts, nil))
	if build(apps, cfg, mustTemplates(t, cfg, "", map[string]string{"HAPROXY_BACKEND_HEAD": "backend {backend}\n  balance roundrobin\n  mode {mode}\n"}), nil) == changed {
		t.Error("new templates gave the previous model")
	}
	hc := *cfg
	hc.HealthCheck = true
	m1 := build(apps, &hc, ts, &BuildOptions{Previous: changed})
	if build(apps, &hc, ts, &BuildOptions{Previous: changed}) != m1 {
		t.Error("--health-check, same previous model: a new model")
	}
	if build(apps, &hc, ts, &BuildOptions{Previous: m1}) == m1 {
		t.Error("--health-check, another previous model: taken as the same")
	}
}
