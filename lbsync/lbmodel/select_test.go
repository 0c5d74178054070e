package lbmodel

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// backendNames lists the model's backends.
func backendNames(m *Model) []string {
	var names []string
	for _, b := range m.Backends {
		names = append(names, b.Name)
	}
	return names
}

// serverAddrs lists a backend's servers as "HOST:PORT" (with " drain" for
// draining ones), sorted.
func serverAddrs(m *Model, backend string) []string {
	b := m.Backend(backend)
	if b == nil {
		return nil
	}
	var out []string
	for _, s := range b.Servers {
		a := string(AppendServerAddr(nil, &s))
		if s.Draining {
			a += " drain"
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func TestSelectGroups(t *testing.T) {
	apps := []state.App{
		app("/ext", labels("HAPROXY_GROUP", "external"), []int{10000}, "127.0.0.2:31000"),
		app("/both", labels("HAPROXY_GROUP", "internal,external"), []int{10001}, "127.0.0.2:31001"),
		app("/int", labels("HAPROXY_GROUP", "internal"), []int{10002}, "127.0.0.2:31002"),
		app("/perport", labels("HAPROXY_GROUP", "internal", "HAPROXY_1_GROUP", "external"), []int{10003, 10004}, "127.0.0.2:31003,31004"),
		app("/perport-over", labels("HAPROXY_GROUP", "external", "HAPROXY_0_GROUP", "internal"), []int{10005}, "127.0.0.2:31005"),
		app("/nolabel", nil, []int{10006}, "127.0.0.2:31006"),
		app("/spaced", labels("HAPROXY_GROUP", "external, internal"), []int{10007}, "127.0.0.2:31007"),
	}
	tests := []struct {
		groups []string
		want   []string
	}{
		{[]string{"external"}, []string{"both_10001", "ext_10000", "perport_10004", "spaced_10007"}},
		{[]string{"internal"}, []string{"both_10001", "int_10002", "perport-over_10005", "perport_10003"}},
		{[]string{"external", "internal"}, []string{"both_10001", "ext_10000", "int_10002", "perport-over_10005", "perport_10003", "perport_10004", "spaced_10007"}},
		{[]string{"*"}, []string{"both_10001", "ext_10000", "int_10002", "nolabel_10006", "perport-over_10005", "perport_10003", "perport_10004", "spaced_10007"}},
		{[]string{"nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.groups, ","), func(t *testing.T) {
			cfg := testConfig(tt.groups...)
			m := mustBuild(t, apps, cfg, mustTemplates(t, cfg, "", nil), nil)
			if got := backendNames(m); !slices.Equal(got, tt.want) {
				t.Errorf("backends = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSelectStrictMode(t *testing.T) {
	apps := []state.App{
		app("/on", vhostLabels("HAPROXY_0_ENABLED", "true"), []int{10000}, "127.0.0.2:31000"),
		app("/off", vhostLabels("HAPROXY_0_ENABLED", "false"), []int{10001}, "127.0.0.2:31001"),
		app("/unset", vhostLabels(), []int{10002}, "127.0.0.2:31002"),
	}
	for _, strict := range []bool{false, true} {
		cfg := testConfig()
		cfg.StrictMode = strict
		m := mustBuild(t, apps, cfg, mustTemplates(t, cfg, "", nil), nil)
		want := []string{"on_10000", "unset_10002"}
		if strict {
			want = []string{"on_10000"}
		}
		if got := backendNames(m); !slices.Equal(got, want) {
			t.Errorf("strict=%v: backends = %v, want %v", strict, got, want)
		}
	}
}

func TestSelectTasks(t *testing.T) {
	base := app("/svc", vhostLabels(), []int{10000},
		"127.0.0.2:31000", "127.0.0.3:31000", "127.0.0.4:31000", "127.0.0.5:31000", "127.0.0.6:31000", "127.0.0.7:31000")
	base.HealthChecks = []state.HealthCheck{healthTCP}
	base.Tasks[0].Health = []bool{true}
	base.Tasks[1].Health = []bool{false, true} // one passing check suffices
	base.Tasks[2].Health = []bool{false}
	base.Tasks[3].Health = nil // no result yet
	base.Tasks[4].State = state.TaskStaging
	base.Tasks[4].Health = []bool{true}
	base.Tasks[5].State = ""
	base.Tasks[5].Health = []bool{true}
	tests := []struct {
		name        string
		healthCheck bool
		previous    *Model
		want        []string
	}{
		{"no health check flag", false, nil, []string{"127.0.0.2:31000", "127.0.0.3:31000", "127.0.0.4:31000", "127.0.0.5:31000", "127.0.0.7:31000"}},
		{"health check flag", true, nil, []string{"127.0.0.2:31000", "127.0.0.3:31000", "127.0.0.7:31000"}},
		{"no result keeps previous status", true, &Model{Backends: []Backend{{Name: "svc_10000", Servers: []Server{{TaskID: "svc.d"}}}}},
			[]string{"127.0.0.2:31000", "127.0.0.3:31000", "127.0.0.5:31000", "127.0.0.7:31000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.HealthCheck = tt.healthCheck
			m := mustBuild(t, []state.App{base}, cfg, mustTemplates(t, cfg, "", nil), &BuildOptions{Previous: tt.previous})
			if got := serverAddrs(m, "svc_10000"); !slices.Equal(got, tt.want) {
				t.Errorf("servers = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("app without health checks is not gated", func(t *testing.T) {
		cfg := testConfig()
		cfg.HealthCheck = true
		a := app("/plain", vhostLabels(), []int{10000}, "127.0.0.2:31000")
		m := mustBuild(t, []state.App{a}, cfg, mustTemplates(t, cfg, "", nil), nil)
		if got := serverAddrs(m, "plain_10000"); len(got) != 1 {
			t.Errorf("servers = %v", got)
		}
	})
	t.Run("no running task, no backend", func(t *testing.T) {
		cfg := testConfig()
		a := app("/gone", vhostLabels(), []int{10000}, "127.0.0.2:31000")
		a.Tasks[0].State = state.TaskKilling
		m := mustBuild(t, []state.App{a}, cfg, mustTemplates(t, cfg, "", nil), nil)
		var fes []string
		for _, f := range m.Frontends {
			fes = append(fes, f.Name)
		}
		// Only the shared frontends, there from the start.
		if want := []string{"marathon_http_in", "marathon_http_appid_in", "marathon_https_in"}; len(m.Backends) != 0 || !slices.Equal(fes, want) {
			t.Errorf("backends %v, frontends %v; want none and %v", backendNames(m), fes, want)
		}
	})
}

func TestSelectAddresses(t *testing.T) {
	resolve := func(h string) (netip.Addr, bool) {
		if h == "agent-a.local" {
			return addr("127.0.5.1"), true
		}
		a, err := netip.ParseAddr(h)
		return a, err == nil
	}
	host := app("/host", vhostLabels(), []int{10000, 10001}, "agent-a.local:31000,31001", "unresolvable.local:31002,31003", "127.0.0.9:31004")
	bridge := withNetwork(app("/bridge", vhostLabels(), []int{10002}, "127.0.0.2:31005"), state.NetworkBridge)
	bridge.Ports[0].ContainerPort = 80
	container := withNetwork(app("/container", vhostLabels(), []int{10003}), state.NetworkContainer)
	container.Ports[0].ContainerPort = 8080
	container.Tasks = []state.AppTask{
		{ID: "c.1", Host: "agent-a.local", State: state.TaskRunning, IPs: []netip.Addr{addr("::ffff:127.0.7.1"), addr("127.0.7.2")}, Ports: []int{31999}},
		{ID: "c.2", Host: "agent-a.local", State: state.TaskRunning}, // no IP yet
		{ID: "c.3", State: state.TaskRunning, IPs: []netip.Addr{addr("::1")}},
	}
	cfg := testConfig()
	m := mustBuild(t, []state.App{host, bridge, container}, cfg, mustTemplates(t, cfg, "", nil), &BuildOptions{Resolve: resolve})
	for backend, want := range map[string][]string{
		"host_10000":      {"127.0.0.9:31004", "127.0.5.1:31000"},
		"host_10001":      {"127.0.5.1:31001"},
		"bridge_10002":    {"127.0.0.2:31005"},
		"container_10003": {"127.0.7.1:8080", "[::1]:8080"},
	} {
		if got := serverAddrs(m, backend); !slices.Equal(got, want) {
			t.Errorf("%s servers = %v, want %v", backend, got, want)
		}
	}
	// Server names join host, IP and port, as marathon-lb's do.
	var names []string
	for _, s := range m.Backend("host_10000").Servers {
		names = append(names, s.Name)
	}
	if want := []string{"127_0_0_9_31004", "agent-a_local_127_0_5_1_31000"}; !slices.Equal(names, want) {
		t.Errorf("server names = %v, want %v", names, want)
	}
}

// TestServicePortAssignment: IP-per-task ports without service ports get the
// ports marathon-lb would give them (sha1 of "APPID-PORT-TRY", computed with
// Python's hashlib for these cases), clashes resolved in app order.
func TestServicePortAssignment(t *testing.T) {
	mk := func(id string, containerPorts ...int) state.App {
		a := withNetwork(app(id, vhostLabels(), nil), state.NetworkContainer)
		for _, p := range containerPorts {
			a.Ports = append(a.Ports, state.AppPort{ContainerPort: p})
		}
		a.Tasks = []state.AppTask{{ID: id[1:] + ".1", State: state.TaskRunning, IPs: []netip.Addr{addr("127.0.8.1")}}}
		return a
	}
	cfg := testConfig()
	ts := mustTemplates(t, cfg, "", nil)
	m := mustBuild(t, []state.App{mk("/ippt", 8080, 8443)}, cfg, ts, nil)
	if got := backendNames(m); !slices.Equal(got, []string{"ippt_10074", "ippt_10098"}) {
		t.Errorf("backends = %v, want ippt_10074 and ippt_10098", got)
	}

	// A range of one port: the second app finds it taken and gets nothing.
	cfg.MinServPortIPPerTask, cfg.MaxServPortIPPerTask = 20000, 20000
	m = mustBuild(t, []state.App{mk("/a", 80), mk("/b", 80)}, cfg, ts, nil)
	if got := backendNames(m); !slices.Equal(got, []string{"a_20000"}) {
		t.Errorf("backends = %v, want a_20000 only", got)
	}
	// A range of two: a clash on the hash falls back to a free port.
	cfg.MinServPortIPPerTask, cfg.MaxServPortIPPerTask = 20000, 20001
	m = mustBuild(t, []state.App{mk("/a", 80), mk("/b", 80), mk("/c", 80)}, cfg, ts, nil)
	if got := len(m.Backends); got != 2 {
		t.Errorf("%d backends, want 2: %v", got, backendNames(m))
	}
	// Assignment off: no service port, no backend; a HAPROXY_0_PORT label
	// still serves the port.
	cfg.MinServPortIPPerTask, cfg.MaxServPortIPPerTask = 0, 0
	labelled := mk("/labelled", 80)
	labelled.Labels = vhostLabels("HAPROXY_0_PORT", "12345")
	m = mustBuild(t, []state.App{mk("/a", 80), labelled}, cfg, ts, nil)
	if got := backendNames(m); !slices.Equal(got, []string{"labelled_12345"}) {
		t.Errorf("backends = %v, want labelled_12345", got)
	}
}

func TestSelectConflictsAndExclusions(t *testing.T) {
	cfg := testConfig()
	cfg.FrameworkName = "lb"
	ts := mustTemplates(t, cfg, "", nil)
	apps := []state.App{
		app("/a", vhostLabels(), []int{10000}, "127.0.0.2:31000"),
		app("/b", vhostLabels(), []int{10000}, "127.0.0.2:31001"),
		app("/c", vhostLabels("HAPROXY_0_PORT", "9090"), []int{10001}, "127.0.0.2:31002"),
		app("/d", vhostLabels("HAPROXY_0_BIND_ADDR", "127.0.0.1", "HAPROXY_0_PORT", "80"), []int{10002}, "127.0.0.2:31003"),
		app("/e", vhostLabels(), []int{10003, 10003}, "127.0.0.2:31004,31005"),
		app("/lb", vhostLabels(), []int{10004}, "127.0.0.2:31006"),
		app("/x", vhostLabels(), []int{10005}, "127.0.0.2:31007"),
	}
	m := mustBuild(t, apps, cfg, ts, &BuildOptions{Exclude: map[string]bool{"/x": true}})
	if got, want := backendNames(m), []string{"a_10000", "e_10003"}; !slices.Equal(got, want) {
		t.Errorf("backends = %v, want %v", got, want)
	}
	var reasons []string
	for _, e := range m.Errors {
		reasons = append(reasons, e.Error())
	}
	want := []string{
		"app /b port 0: service port 10000 is already bound by app /a",
		"app /c port 0: service port 9090 is already bound by the stats listener",
		"app /d port 0: service port 80 is already bound by marathon_http_in",
		"app /e port 1: service port 10003 is also port 0's",
	}
	if !slices.Equal(reasons, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(reasons, "\n"), strings.Join(want, "\n"))
	}
	// Without the HTTP frontends, port 80 is free.
	cfg.DontBindHTTPHTTPS = true
	m = mustBuild(t, apps, cfg, ts, nil)
	if m.Backend("d_80") == nil {
		t.Errorf("d_80 missing with --dont-bind-http-https: %v", m.Errors)
	}
}

func TestResolveMode(t *testing.T) {
	hc := func(p string) *state.HealthCheck { return &state.HealthCheck{Protocol: p} }
	tests := []struct {
		name   string
		labels PortLabels
		hc     *state.HealthCheck
		want   string
	}{
		{"default tcp", PortLabels{HealthCheckPortIndex: -1}, nil, "tcp"},
		{"label", PortLabels{Mode: "http", HealthCheckPortIndex: -1}, nil, "http"},
		{"label wins over check", PortLabels{Mode: "tcp", HealthCheckPortIndex: -1}, hc("HTTP"), "tcp"},
		{"HTTP check", PortLabels{HealthCheckPortIndex: -1}, hc("HTTP"), "http"},
		{"MESOS_HTTP check is tcp", PortLabels{HealthCheckPortIndex: -1}, hc("MESOS_HTTP"), "tcp"},
		{"borrowed MESOS_HTTP check", PortLabels{HealthCheckPortIndex: 1}, hc("MESOS_HTTP"), "http"},
		{"vhost", PortLabels{VHost: "a", HealthCheckPortIndex: -1}, nil, "http"},
		{"vhost with TCP check", PortLabels{VHost: "a", HealthCheckPortIndex: -1}, hc("TCP"), "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &service{labels: tt.labels, healthCheck: tt.hc}
			s.resolveMode()
			if s.mode != tt.want {
				t.Errorf("mode = %q, want %q", s.mode, tt.want)
			}
		})
	}
}

func TestFindHealthCheck(t *testing.T) {
	checks := []state.HealthCheck{
		{Protocol: "COMMAND"},
		{Protocol: "HTTP", PortIndex: 1},
		{Protocol: "TCP", PortIndex: 0},
	}
	if hc := findHealthCheck(checks, 0); hc == nil || hc.Protocol != "TCP" {
		t.Errorf("port 0: %v", hc)
	}
	if hc := findHealthCheck(checks, 1); hc == nil || hc.Protocol != "HTTP" {
		t.Errorf("port 1: %v", hc)
	}
	if hc := findHealthCheck(checks, 2); hc != nil {
		t.Errorf("port 2: %v", hc)
	}
	// A check on a fixed port applies to every port (as in marathon-lb).
	fixed := append([]state.HealthCheck{{Protocol: "HTTP", Port: 8080}}, checks...)
	if hc := findHealthCheck(fixed, 1); hc == nil || hc.Port != 8080 {
		t.Errorf("fixed: %v", hc)
	}
}

func TestBlueGreen(t *testing.T) {
	mk := func(id, colour, started string, instances int, healthy ...bool) state.App {
		l := labels("HAPROXY_GROUP", "external", "HAPROXY_DEPLOYMENT_GROUP", "web",
			"HAPROXY_DEPLOYMENT_COLOUR", colour, "HAPROXY_DEPLOYMENT_STARTED_AT", started,
			"HAPROXY_DEPLOYMENT_TARGET_INSTANCES", "3", "HAPROXY_0_PORT", "10000")
		a := state.App{ID: id, Labels: l, Network: state.NetworkHost, Instances: instances,
			Ports: []state.AppPort{{ServicePort: 10001}}, HealthChecks: []state.HealthCheck{healthHTTP}}
		for i, h := range healthy {
			host := "127.0.1.1"
			if colour == "blue" {
				host = "127.0.2.1"
			}
			a.Tasks = append(a.Tasks, state.AppTask{ID: id[1:] + "." + string(rune('a'+i)), Host: host,
				Ports: []int{31000 + i}, State: state.TaskRunning, Health: []bool{h}})
		}
		return a
	}
	tests := []struct {
		name      string
		apps      []state.App
		wantDrain int
		wantAll   int
	}{
		{"one healthy new", []state.App{
			mk("/web-green", "green", "2016-02-01T14:13:42.499089", 3, true, true, true),
			mk("/web-blue", "blue", "2016-02-01T14:57:54.371005", 1, true, false)}, 1, 5},
		{"all new healthy", []state.App{
			mk("/web-green", "green", "2016-02-01T14:13:42", 3, true, true, true),
			mk("/web-blue", "blue", "2016-02-01T15:00:00", 3, true, true, true)}, 3, 6},
		{"none healthy", []state.App{
			mk("/web-green", "green", "2016-02-01T14:13:42", 3, true, true, true),
			mk("/web-blue", "blue", "2016-02-01T15:00:00", 1, false)}, 0, 4},
		{"order does not matter", []state.App{
			mk("/web-blue", "blue", "2016-02-01T15:00:00", 2, true, true),
			mk("/web-green", "green", "2016-02-01T14:13:42", 3, true, true, true)}, 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			m := mustBuild(t, tt.apps, cfg, mustTemplates(t, cfg, "", nil), nil)
			b := m.Backend("web_10000")
			if b == nil {
				t.Fatalf("no web_10000 backend: %v %v", backendNames(m), m.Errors)
			}
			drained := 0
			for _, s := range b.Servers {
				if s.Draining {
					drained++
					if !strings.HasPrefix(s.AppID, "/web-green") || !strings.HasPrefix(s.Host, "127.0.1.") {
						t.Errorf("drained %+v, want old (green) tasks only", s)
					}
					if !strings.Contains(s.Options, "disabled") {
						t.Errorf("draining server without 'disabled': %q", s.Options)
					}
				}
			}
			if drained != tt.wantDrain || len(b.Servers) != tt.wantAll {
				t.Errorf("%d servers, %d draining; want %d, %d", len(b.Servers), drained, tt.wantAll, tt.wantDrain)
			}
			if !slices.Equal(b.Apps, []string{"/web-blue", "/web-green"}) || b.AppID != "/web" {
				t.Errorf("backend app %q apps %v", b.AppID, b.Apps)
			}
			// The lowest old task ids drain first.
			if tt.wantDrain > 0 && !b.Servers[0].Draining {
				t.Errorf("first old task not draining: %+v", b.Servers)
			}
		})
	}
	t.Run("exclude by member id", func(t *testing.T) {
		cfg := testConfig()
		apps := tests[0].apps
		m := mustBuild(t, apps, cfg, mustTemplates(t, cfg, "", nil), &BuildOptions{Exclude: map[string]bool{"/web": true}})
		if len(m.Backends) != 0 {
			t.Errorf("backends %v, want none", backendNames(m))
		}
	})
	t.Run("new instances label swaps by last scaling", func(t *testing.T) {
		older := mk("/web-green", "green", "2016-02-01T15:00:00", 3, true, true, true)
		newer := mk("/web-blue", "blue", "2016-02-01T14:00:00", 1, true)
		newer.Labels["HAPROXY_DEPLOYMENT_NEW_INSTANCES"] = "1"
		older.Labels["HAPROXY_DEPLOYMENT_NEW_INSTANCES"] = "1"
		newer.LastScalingAt = time.Date(2016, 2, 1, 22, 0, 0, 0, time.UTC)
		older.LastScalingAt = time.Date(2016, 2, 1, 21, 0, 0, 0, time.UTC)
		merged := mergeDeploymentGroups([]state.App{older, newer})
		if len(merged) != 1 {
			t.Fatalf("%d apps", len(merged))
		}
		drained := 0
		for _, tk := range merged[0].app.Tasks {
			if tk.Draining {
				drained++
				if merged[0].appOf(tk.ID) != "/web-green" {
					t.Errorf("drained a blue task %s", tk.ID)
				}
			}
		}
		if drained != 1 {
			t.Errorf("%d drained, want 1", drained)
		}
		if older.Tasks[0].Draining {
			t.Error("the input app was modified")
		}
	})
}

func TestDeploymentStartedAt(t *testing.T) {
	for s, ok := range map[string]bool{"2016-02-01T14:13:42.499089": true, "2016-02-01T14:13:42Z": true, "2016-02-01 14:13:42": true, "2016-02-01": true, "yesterday": false} {
		got := deploymentStartedAt(labels(LabelDeploymentStartedAt, s))
		if got.IsZero() == ok {
			t.Errorf("%q parses to %v", s, got)
		}
	}
}
