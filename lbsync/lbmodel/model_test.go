package lbmodel

import (
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

// TestStructuralEqual: server-level changes (scale, move, drain, health)
// keep models structurally equal; anything else does not.
func TestStructuralEqual(t *testing.T) {
	cfg := testConfig()
	ts := mustTemplates(t, cfg, "", nil)
	base := []state.App{
		app("/web", vhostLabels("HAPROXY_0_VHOST", "web.example.com"), []int{10000}, "127.0.0.2:31000", "127.0.0.3:31000"),
		app("/db", vhostLabels(), []int{10001}, "127.0.0.4:31000"),
	}
	clone := func(f func(apps []state.App)) []state.App {
		out := make([]state.App, len(base))
		for i, a := range base {
			a.Labels = cloneLabels(a.Labels)
			a.Tasks = append([]state.AppTask(nil), a.Tasks...)
			out[i] = a
		}
		f(out)
		return out
	}
	a := mustBuild(t, base, cfg, ts, nil)
	tests := []struct {
		name       string
		apps       []state.App
		structural bool
	}{
		{"same", clone(func([]state.App) {}), true},
		{"scale up", clone(func(as []state.App) {
			as[0].Tasks = append(as[0].Tasks, state.AppTask{ID: "web.z", Host: "127.0.0.9", Ports: []int{31000}, State: state.TaskRunning})
		}), true},
		{"scale down", clone(func(as []state.App) { as[0].Tasks = as[0].Tasks[:1] }), true},
		{"task moved", clone(func(as []state.App) { as[1].Tasks[0].Host = "127.0.0.5" }), true},
		{"draining", clone(func(as []state.App) { as[0].Tasks[0].Draining = true }), true},
		{"new label", clone(func(as []state.App) { as[1].Labels["HAPROXY_0_BALANCE"] = "leastconn" }), false},
		{"new vhost", clone(func(as []state.App) { as[1].Labels["HAPROXY_0_VHOST"] = "db.example.com" }), false},
		{"new app", clone(func(as []state.App) {}), false},
		{"no tasks left", clone(func(as []state.App) { as[1].Tasks = nil }), false},
	}
	tests[7].apps = append(tests[7].apps, app("/new", vhostLabels(), []int{10002}, "127.0.0.2:31001"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBuild(t, tt.apps, cfg, ts, nil)
			if got := StructuralEqual(a, b); got != tt.structural {
				t.Errorf("StructuralEqual = %v, want %v", got, tt.structural)
			}
			if StructuralEqual(a, b) != StructuralEqual(b, a) {
				t.Error("StructuralEqual is not symmetric")
			}
			// Rendering equal models gives equal bytes, and structurally
			// equal models differ only in server lines.
			ra, rb := mustRender(t, a), mustRender(t, b)
			if tt.structural {
				if stripServers(ra) != stripServers(rb) {
					t.Errorf("structurally equal models render differently outside server lines")
				}
			} else if ra == rb {
				t.Error("structurally different models render the same bytes")
			}
		})
	}
	if StructuralEqual(nil, a) || !StructuralEqual(nil, nil) {
		t.Error("nil models")
	}
}

func cloneLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stripServers(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, "  server ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func TestRenderDeterministic(t *testing.T) {
	apps := genApps(200, 3)
	cfg := testConfig("*")
	ts := mustTemplates(t, cfg, "", nil)
	first := mustRender(t, mustBuild(t, apps, cfg, ts, nil))
	// Reversed input order, same model.
	rev := make([]state.App, len(apps))
	for i := range apps {
		rev[len(apps)-1-i] = apps[i]
	}
	for range 3 {
		if got := mustRender(t, mustBuild(t, rev, cfg, ts, nil)); got != first {
			t.Fatal("the same apps render different bytes")
		}
	}
}

func TestBackendDynamics(t *testing.T) {
	tests := []struct {
		text    string
		servers []Server
		balance string
		dynamic bool
	}{
		{"backend a\n  balance roundrobin\n", nil, "roundrobin", true},
		{"backend a\n  balance leastconn\n", nil, "leastconn", true},
		{"backend a\n  balance random(2)\n", nil, "random(2)", true},
		{"backend a\n", nil, "", true},
		{"backend a\n  balance static-rr\n", nil, "static-rr", false},
		{"backend a\n  balance source\n", nil, "source", false},
		{"backend a\n  balance source\n  hash-type consistent\n", nil, "source", true},
		{"backend a\n  balance uri\n  hash-type map-based\n", nil, "uri", false},
		{"backend a\n  balance roundrobin\n  cookie x insert\n", nil, "roundrobin", false},
		{"backend a\n  balance roundrobin\n", []Server{{Options: "check cookie abc"}}, "roundrobin", false},
		{"backend a\n  balance roundrobin\n", []Server{{Options: "track b/s"}}, "roundrobin", false},
		{"backend a\n  balance roundrobin\n", []Server{{Options: "check inter 1s"}}, "roundrobin", true},
	}
	for _, tt := range tests {
		balance, dynamic := backendDynamics(tt.text, tt.servers)
		if balance != tt.balance || dynamic != tt.dynamic {
			t.Errorf("%q %v: %q %v, want %q %v", tt.text, tt.servers, balance, dynamic, tt.balance, tt.dynamic)
		}
	}
}

func TestParseServerLine(t *testing.T) {
	tests := []struct {
		line    string
		want    Server
		wantErr string
	}{
		{line: "  server a 127.0.0.1:80\n", want: Server{Name: "a", Host: "127.0.0.1", Port: 80, Weight: 1}},
		{line: "  server a 127.0.0.1:80 check  weight 7 disabled\n", want: Server{Name: "a", Host: "127.0.0.1", Port: 80, Weight: 7, Options: "check  weight 7 disabled"}},
		{line: "server b ::1:8080", want: Server{Name: "b", Host: "::1", Port: 8080, Weight: 1}},
		{line: "server b [::1]:8080 check", want: Server{Name: "b", Host: "::1", Port: 8080, Weight: 1, Options: "check"}},
		{line: "server a host.example:80", wantErr: "not an IP address"},
		{line: "server a 127.0.0.1", wantErr: "no port"},
		{line: "server a 127.0.0.1:0", wantErr: "no valid port"},
		{line: "server a", wantErr: "not \"server NAME"},
		{line: "  # comment", wantErr: "not \"server NAME"},
		{line: "server a 127.0.0.1:80\nserver b 127.0.0.1:81\n", wantErr: "more than one line"},
	}
	for _, tt := range tests {
		got, err := parseServerLine(tt.line)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestServerLineRoundTrip(t *testing.T) {
	for _, s := range []Server{
		{Name: "a", Host: "127.0.0.1", Port: 80, Weight: 1},
		{Name: "b", Host: "::1", Port: 443, Weight: 3, Options: "weight 3 check"},
	} {
		line := string(AppendServerLine(nil, &s))
		back, err := parseServerLine(line)
		if err != nil || back != s {
			t.Errorf("%+v → %q → %+v, %v", s, line, back, err)
		}
	}
}

// TestServerIdentity: server names, ids and cookies are marathon-lb's, so a
// switch keeps HAProxy's server state files and sticky cookies valid. The
// expected values were computed with Python's hashlib as marathon-lb does.
func TestServerIdentity(t *testing.T) {
	var taken idSet
	if id := serverID("127_0_0_2_31000", &taken); id != 31989 {
		t.Errorf("server id %d, want 31989", id)
	}
	// A collision rehashes, stably.
	again := serverID("127_0_0_2_31000", &taken)
	if again == 31989 || again <= 0 || again >= 32767 {
		t.Errorf("colliding id %d", again)
	}
	var taken2 idSet
	taken2.add(31989)
	if id := serverID("127_0_0_2_31000", &taken2); id != again {
		t.Errorf("rehash not stable: %d vs %d", id, again)
	}
	// Many ids switch the set to a map without losing any.
	var many idSet
	for i := 1; i <= 100; i++ {
		many.add(i)
	}
	for i := 1; i <= 100; i++ {
		if !many.has(i) {
			t.Fatalf("lost %d", i)
		}
	}
	if got := cleanName("a.b/c_d-E9é"); got != "a_b_c_d-E9_" {
		t.Errorf("cleanName = %q", got)
	}
}

func TestAppErrorAndLookup(t *testing.T) {
	if got := (AppError{AppID: "/a", Port: -1, Reason: "r"}).Error(); got != "app /a: r" {
		t.Error(got)
	}
	if got := (AppError{AppID: "/a", Port: 12, Reason: "r"}).Error(); got != "app /a port 12: r" {
		t.Error(got)
	}
	m := &Model{Backends: []Backend{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	if m.Backend("b") != &m.Backends[1] || m.Backend("d") != nil {
		t.Error("Backend lookup")
	}
	if itoa(-120) != "-120" || itoa(0) != "0" {
		t.Error("itoa")
	}
}
