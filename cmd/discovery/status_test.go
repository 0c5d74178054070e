package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/lbsync"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
)

var statusNow = time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)

// hostileName is a task name, label and app id that would run script if the
// page did not escape it.
const hostileName = `<script>alert("x")</script>`

type fakeHub struct {
	snap    *state.Snapshot
	sources []state.SourceStatus
}

func (h *fakeHub) Current() *state.Snapshot      { return h.snap }
func (h *fakeHub) Sources() []state.SourceStatus { return h.sources }

type fakeLB struct {
	status    lbsync.Status
	model     *lbmodel.Model
	health    map[string]lbsync.ServerHealth
	healthErr error
}

func (l *fakeLB) Status() lbsync.Status { return l.status }
func (l *fakeLB) Model() *lbmodel.Model { return l.model }
func (l *fakeLB) ServerHealth(context.Context) (map[string]lbsync.ServerHealth, error) {
	return l.health, l.healthErr
}

// statusCluster is a small cluster on loopback addresses: a leader among three
// masters, marathon with a web app (two tasks, one with its own address), a
// staging task, and a task whose name and labels are hostile markup. Extra
// tasks named task-NNNN are added to marathon.
func statusCluster(extra int) *state.Cluster {
	healthy := true
	c := &state.Cluster{
		Source:    "mesos",
		FetchedAt: statusNow.Add(-3 * time.Second),
		Leader:    state.Master{ID: "master-1", Hostname: "leader.example", PID: "master@127.0.0.2:5050", Host: "127.0.0.2", Port: 5050},
		Masters: []state.Master{
			{Host: "127.0.0.1", Port: 5050}, {Host: "127.0.0.2", Port: 5050}, {Host: "127.0.0.3", Port: 5050},
		},
		Agents: []state.Agent{
			{ID: "S1", Hostname: "agent-1.example", PID: "slave(1)@127.0.1.1:5051", Host: "127.0.1.1", Port: 5051},
		},
		Frameworks: []state.Framework{
			{ID: "fw-marathon", Name: "marathon", PID: "scheduler(1)@127.0.2.1:8080", Host: "127.0.2.1", Port: 8080, Active: true},
			{ID: "fw-chronos", Name: "chronos", Active: true},
		},
		Tasks: []*state.Task{
			{ID: "web.1", Name: "web", FrameworkID: "fw-marathon", AgentID: "S1", State: state.TaskRunning,
				Healthy: &healthy, Ports: []state.PortRange{{Begin: 31000, End: 31001}},
				Labels: []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}}},
			{ID: "web.2", Name: "web", FrameworkID: "fw-marathon", AgentID: "S1", State: state.TaskRunning,
				NetInfo: []netip.Addr{netip.MustParseAddr("127.0.3.2")}, Ports: []state.PortRange{{Begin: 31005, End: 31005}}},
			{ID: "stage.1", Name: "stage", FrameworkID: "fw-marathon", AgentID: "S1", State: state.TaskStaging},
			{ID: "evil.1", Name: hostileName, FrameworkID: "fw-chronos", AgentID: "S1", State: state.TaskRunning,
				Labels: []state.Label{{Key: "note", Value: `"><img src=x onerror=alert(1)>`}}},
		},
	}
	for i := range extra {
		c.Tasks = append(c.Tasks, &state.Task{ID: fmt.Sprintf("task-%04d.1", i), Name: fmt.Sprintf("task-%04d", i),
			FrameworkID: "fw-marathon", AgentID: "S1", State: state.TaskRunning,
			Ports: []state.PortRange{{Begin: uint32(20000 + i), End: uint32(20000 + i)}}})
	}
	return c.Seal()
}

func statusTestModel() *lbmodel.Model {
	return &lbmodel.Model{
		Frontends: []lbmodel.Frontend{
			{Name: "marathon_http_in", Port: 80, Apps: []string{"/web"}},
			{Name: "web_10001", Port: 10001, Apps: []string{"/web"}},
		},
		Backends: []lbmodel.Backend{{
			Name: "web_10001", AppID: "/web", Apps: []string{"/web"}, ServicePort: 10001, Mode: "http",
			Balance: "roundrobin", Dynamic: true,
			Servers: []lbmodel.Server{
				{Name: "127_0_1_1_31000", Host: "127.0.1.1", Port: 31000, Weight: 1, TaskID: "web.1", AppID: "/web"},
				{Name: "127_0_3_2_31005", Host: "127.0.3.2", Port: 31005, Weight: 1, Draining: true, TaskID: "web.2", AppID: "/web"},
			},
		}},
	}
}

func statusTestLB() *fakeLB {
	return &fakeLB{
		model: statusTestModel(),
		status: lbsync.Status{
			Seq: 7, At: statusNow.Add(-10 * time.Second), Via: "runtime", Took: 12 * time.Millisecond,
			Backends: 1, Servers: 2, Draining: 1,
			LeftOut: []lbmodel.AppError{
				{AppID: "/broken", Port: 0, Reason: `HAPROXY_0_PORT: "x" is not a port`},
				{AppID: hostileName, Port: -1, Reason: "config fails validation: " + hostileName},
			},
			Reloads: []lbsync.ReloadRecord{
				{At: statusNow.Add(-time.Hour), Reasons: []lbmodel.Reason{{Class: lbmodel.ReasonInitial, Detail: "first config"}}, Took: 80 * time.Millisecond},
				{At: statusNow.Add(-time.Minute), Reasons: []lbmodel.Reason{{Class: lbmodel.ReasonBackendAdded, Detail: "backend web_10001: added"}},
					Took: 90 * time.Millisecond, Err: "haproxy -c: line 12: bad keyword"},
			},
		},
	}
}

// newTestStatusPage serves a table built from c; lb nil means the LB is off.
func newTestStatusPage(c *state.Cluster, sources []state.SourceStatus, lb statusLB) *statusPage {
	cfg := dnsserver.DefaultConfig()
	cfg.Domain = "mesos"
	t := dnsserver.Build(c, cfg)
	p := &statusPage{
		version: "test",
		domain:  "mesos",
		mesos:   true,
		hub:     &fakeHub{snap: &state.Snapshot{Cluster: c, Seq: 3}, sources: sources},
		table:   func() *dnsserver.Table { return t },
		lb:      lb,
		lbOn:    lb != nil,
		staleAfter: func(name string) time.Duration {
			if name == "mesos" {
				return 2 * time.Minute
			}
			return 0
		},
		now: func() time.Time { return statusNow },
		log: slog.New(slog.DiscardHandler),
	}
	return p
}

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func getJSON(t *testing.T, h http.Handler, target string) statusView {
	t.Helper()
	code, body := get(t, h, target)
	if code != 200 {
		t.Fatalf("%s: %d %s", target, code, body)
	}
	var v statusView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: %v\n%s", target, err, body)
	}
	return v
}

func goodSources() []state.SourceStatus {
	return []state.SourceStatus{{Name: "mesos", LastGood: statusNow.Add(-3 * time.Second)}}
}

func TestStatusPageShowsClusterAndDNSNames(t *testing.T) {
	h := newTestStatusPage(statusCluster(0), goodSources(), nil).handler()
	code, body := get(t, h, "/")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	for _, want := range []string{
		`id="leader">leader.example<`, // the leading master
		"127.0.0.3:5050",              // a standby master
		"web.marathon.mesos.",         // task.framework.domain
		"_web._tcp.marathon.mesos.",   // its SRV name
		"127.0.3.2",                   // a task's own address
		"ports 31000-31001",           // port ranges
		"agent-1.example",
		"TASK_STAGING",
		"none (not running)", // a staging task has no records
		`<span class="badge ok">healthy</span>`,
		"3s ago", // the source's last good view
		"The load balancer is off",
		"Showing 4 of 4 tasks",
		`<span class="badge ok">OK</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "http-equiv=\"refresh\"") {
		t.Error("meta refresh without ?refresh=")
	}
	v := getJSON(t, h, "/status.json")
	if v.Leader == nil || v.Leader.Address != "127.0.0.2:5050" || len(v.Masters) != 3 || !v.Masters[1].Leader || v.Masters[0].Leader {
		t.Errorf("json leader %+v masters %+v", v.Leader, v.Masters)
	}
	if v.LB != nil {
		t.Errorf("json lb = %+v with the LB off, want null", v.LB)
	}
	if v.Snapshot.Seq != 3 || v.Snapshot.AgeSeconds != 3 || v.Snapshot.Stale {
		t.Errorf("json snapshot %+v", v.Snapshot)
	}
	var web *taskView
	for i := range v.Tasks.Items {
		if v.Tasks.Items[i].ID == "web.2" {
			web = &v.Tasks.Items[i]
		}
	}
	if web == nil || web.Framework != "marathon" || len(web.Addresses) != 1 || web.Addresses[0] != "127.0.3.2" {
		t.Fatalf("json web.2 = %+v", web)
	}
	found := false
	for _, r := range web.Records {
		found = found || r.Name == "web.marathon.mesos." && r.Rtype == "A" && r.Host == "127.0.3.2"
	}
	if !found {
		t.Errorf("web.2 records %+v lack web.marathon.mesos. A 127.0.3.2", web.Records)
	}
	if len(v.Frameworks) != 2 || v.Frameworks[1].Name != "marathon" || v.Frameworks[1].Tasks != 3 {
		t.Errorf("json frameworks %+v", v.Frameworks)
	}
}

func TestStatusPageEscapesHostileNames(t *testing.T) {
	h := newTestStatusPage(statusCluster(0), []state.SourceStatus{
		{Name: "mesos", LastGood: statusNow, Failures: 1, LastError: errors.New(hostileName), LastErrorAt: statusNow},
	}, statusTestLB()).handler()
	for _, target := range []string{"/", "/?q=" + strings.ReplaceAll(hostileName, " ", "+")} {
		_, body := get(t, h, target)
		if strings.Contains(body, "<script") || strings.Contains(body, "<img") {
			t.Errorf("%s: page carries raw markup from the cluster", target)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s: escaped task name missing", target)
		}
	}
	_, body := get(t, h, "/")
	if !strings.Contains(body, "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("escaped label missing")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	v := getJSON(t, h, "/status.json")
	if v.Sources[0].LastError != hostileName {
		t.Errorf("json carries the error as %q", v.Sources[0].LastError)
	}
}

// What a source left out for invalid data is listed with its source, escaped
// (app authors write those ids), capped at maxSourceLeftOut with the count.
func TestStatusPageListsSourceLeftOut(t *testing.T) {
	var lo []state.LeftOut
	for i := range maxSourceLeftOut + 5 {
		lo = append(lo, state.LeftOut{ID: fmt.Sprintf("/bad-%03d", i), Reason: "port 70000 out of range"})
	}
	lo[0].ID = hostileName
	h := newTestStatusPage(statusCluster(0), []state.SourceStatus{
		{Name: "marathon", LastGood: statusNow, LeftOut: lo},
	}, nil).handler()
	_, body := get(t, h, "/")
	if !strings.Contains(body, fmt.Sprintf("%d left out", maxSourceLeftOut+5)) || !strings.Contains(body, "/bad-001</span>: port 70000 out of range") {
		t.Errorf("page does not list the left-out records:\n%s", body)
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "/bad-104") {
		t.Error("page carries raw markup, or more records than the cap")
	}
	v := getJSON(t, h, "/status.json")
	if len(v.Sources) != 1 || len(v.Sources[0].LeftOut) != maxSourceLeftOut || v.Sources[0].LeftOutCount != maxSourceLeftOut+5 || v.Sources[0].LeftOut[0].ID != hostileName {
		t.Errorf("json sources = %+v", v.Sources)
	}
}

func TestStatusPageCapsAndFilters(t *testing.T) {
	h := newTestStatusPage(statusCluster(446), goodSources(), statusTestLB()).handler()
	rows := func(body string) int { return strings.Count(body, "<td><strong>") }
	for _, tc := range []struct {
		target    string
		rows      int
		note      string
		has, hasn []string
	}{
		{target: "/", rows: statusDefaultLimit, note: "Showing 200 of 450 tasks.", has: []string{"Narrow the list"}},
		{target: "/?limit=5", rows: 5, note: "Showing 5 of 450 tasks."},
		{target: "/?limit=0", rows: 1, note: "Showing 1 of 450 tasks."},
		{target: "/?limit=junk", rows: statusDefaultLimit},
		{target: "/?q=task-0042", rows: 1, note: "Showing 1 of 1 matching “task-0042” (450 in all).", has: []string{`value="task-0042"`}},
		{target: "/?q=TASK-0042", rows: 1, note: "Showing 1 of 1 matching “task-0042”"},
		{target: "/?q=task-01", rows: 100, note: "Showing 100 of 100 matching"},
		{target: "/?q=_web._tcp.marathon", rows: 2, note: "Showing 2 of 2 matching"},       // a DNS name
		{target: "/?q=127.0.3.2", rows: 1, note: "Showing 1 of 1 matching"},                // an address
		{target: "/?q=haproxy_group%3Dexternal", rows: 1, note: "Showing 1 of 1 matching"}, // a label
		{target: "/?q=nothing-like-this", rows: 0, note: "Showing 0 of 0 matching",
			has: []string{"None matching the filter"}, hasn: []string{"web_10001</strong>"}},
		{target: "/?q=%2Fbroken", rows: 0, has: []string{"/broken", "Showing 0 of 0 matching backends"}},
		{target: "/?q=web.2", rows: 1, has: []string{"web_10001</strong>", "127.0.3.2:31005"}, hasn: []string{"127.0.1.1:31000"}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			code, body := get(t, h, tc.target)
			if code != 200 {
				t.Fatalf("%d", code)
			}
			if got := rows(body); got != tc.rows {
				t.Errorf("%d task rows, want %d", got, tc.rows)
			}
			for _, s := range append(tc.has, tc.note) {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tc.hasn {
				if strings.Contains(body, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}
	v := getJSON(t, h, "/status.json?q=task-00&limit=10")
	if v.Tasks.Total != 450 || v.Tasks.Matched != 100 || len(v.Tasks.Items) != 10 || v.Limit != 10 || v.Query != "task-00" {
		t.Errorf("json tasks: total %d matched %d items %d limit %d query %q", v.Tasks.Total, v.Tasks.Matched, len(v.Tasks.Items), v.Limit, v.Query)
	}
}

func TestStatusPageCapsServers(t *testing.T) {
	lb := statusTestLB()
	m := &lbmodel.Model{}
	for b := range 30 {
		be := lbmodel.Backend{Name: fmt.Sprintf("app%02d_%d", b, 10000+b), AppID: fmt.Sprintf("/app%02d", b), Mode: "tcp"}
		for s := range 60 {
			be.Servers = append(be.Servers, lbmodel.Server{Name: fmt.Sprintf("s%03d", s), Host: "127.0.5.1", Port: 20000 + s, Weight: 1})
		}
		m.Backends = append(m.Backends, be)
	}
	lb.model = m
	h := newTestStatusPage(statusCluster(0), goodSources(), lb).handler()
	v := getJSON(t, h, "/status.json")
	// 50 servers listed per backend; backends until 200 servers are shown.
	if v.LB.Backends.Total != 30 || v.LB.Backends.Matched != 30 || len(v.LB.Backends.Items) != 4 {
		t.Fatalf("backends total %d matched %d shown %d", v.LB.Backends.Total, v.LB.Backends.Matched, len(v.LB.Backends.Items))
	}
	if b := v.LB.Backends.Items[0]; len(b.Servers) != statusServersPerBackend || b.MoreServers != 10 {
		t.Errorf("first backend: %d servers listed, %d more", len(b.Servers), b.MoreServers)
	}
	_, body := get(t, h, "/?q=app07")
	if !strings.Contains(body, "Showing 1 of 1 matching backends (30 in all)") || !strings.Contains(body, "and 10 more servers") {
		t.Error("filtered backends: counts missing")
	}
}

func TestStatusPageLoadBalancer(t *testing.T) {
	h := newTestStatusPage(statusCluster(0), goodSources(), statusTestLB()).handler()
	_, body := get(t, h, "/")
	for _, want := range []string{
		"1 backends, 2 servers",
		"applied #7 via runtime",
		"marathon_http_in",
		"web_10001</strong>",
		"127.0.1.1:31000",
		`<span class="badge warn">drain</span>`,
		`<span class="badge ok">ready</span>`,
		"runtime API",
		"/broken",
		`HAPROXY_0_PORT: &#34;x&#34; is not a port`,
		"all ports",
		"backend web_10001: added",
		"haproxy -c: line 12: bad keyword",
		"2026-11-21 06:59:00 UTC",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Newest reload first.
	if strings.Index(body, "backend web_10001: added") > strings.Index(body, "first config") {
		t.Error("reloads not newest first")
	}
	v := getJSON(t, h, "/status.json")
	if v.LB == nil || v.LB.Seq != 7 || len(v.LB.LeftOut) != 2 || len(v.LB.Reloads) != 2 || v.LB.Reloads[0].Err == "" ||
		v.LB.Backends.Items[0].Servers[1].State != "drain" || len(v.LB.Frontends) != 2 {
		t.Errorf("json lb %+v", v.LB)
	}

	// On, but a dry run: no syncer.
	p := newTestStatusPage(statusCluster(0), goodSources(), nil)
	p.lbOn, p.lbNote = true, "dry run: HAProxy is not driven"
	_, body = get(t, p.handler(), "/")
	if !strings.Contains(body, "dry run: HAProxy is not driven") || strings.Contains(body, "The load balancer is off") {
		t.Error("dry-run LB not shown as such")
	}
}

func TestStatusPageStaleness(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sources []state.SourceStatus
		want    []string
		stale   bool
	}{
		{name: "fresh", sources: goodSources(), want: []string{`<span class="badge ok">OK</span>`}},
		{name: "older than twice the refresh", stale: true,
			sources: []state.SourceStatus{{Name: "mesos", LastGood: statusNow.Add(-5 * time.Minute)}},
			want:    []string{`<tr class="stale">`, "5m0s ago", `<span class="badge warn">STALE</span>`, "<title>discovery status (stale)</title>"}},
		{name: "failing", stale: true,
			sources: []state.SourceStatus{{Name: "mesos", LastGood: statusNow.Add(-30 * time.Second), Failures: 3,
				LastError: errors.New("fetching state from 127.0.0.1:5050: connection refused"), LastErrorAt: statusNow.Add(-2 * time.Second)}},
			want: []string{`<tr class="failing">`, "FAILING", "connection refused", "(2s ago)"}},
		{name: "marathon polled without its event stream",
			sources: []state.SourceStatus{{Name: "http://127.0.0.1:8080", LastGood: statusNow.Add(-time.Second),
				Note: "no event stream (404 Not Found): polling /v2/apps every 10s until it opens"}},
			want: []string{`<span class="badge warn">DEGRADED</span>`, "polling /v2/apps every 10s until it opens"}},
		{name: "quiet file source is never stale",
			sources: []state.SourceStatus{{Name: "file state.json", LastGood: statusNow.Add(-48 * time.Hour)}},
			want:    []string{"quiet when unchanged", "2d0h ago"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestStatusPage(statusCluster(0), tc.sources, nil).handler()
			_, body := get(t, h, "/")
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if v := getJSON(t, h, "/status.json"); v.Snapshot.Stale != tc.stale {
				t.Errorf("json snapshot stale = %v, want %v", v.Snapshot.Stale, tc.stale)
			}
		})
	}
}

func TestStatusPageRefreshAndRouting(t *testing.T) {
	h := newTestStatusPage(statusCluster(0), goodSources(), nil).handler()
	for _, tc := range []struct{ target, want string }{
		{"/?refresh=5", `<meta http-equiv="refresh" content="5">`},
		{"/?refresh=999999", `<meta http-equiv="refresh" content="3600">`},
		{"/?refresh=5&q=web", `<input type="hidden" name="refresh" value="5">`},
		{"/?refresh=5&q=web", `href="/?q=web">stop</a>`},
		{"/?q=a%26b", `href="/?q=a%26b&amp;refresh=5"`},
		{"/?limit=50", `<input type="hidden" name="limit" value="50">`},
	} {
		if _, body := get(t, h, tc.target); !strings.Contains(body, tc.want) {
			t.Errorf("%s: page lacks %q", tc.target, tc.want)
		}
	}
	for _, target := range []string{"/", "/?refresh=junk", "/?refresh=-3"} {
		if _, body := get(t, h, target); strings.Contains(body, "http-equiv") {
			t.Errorf("%s: meta refresh present", target)
		}
	}
	if code, _ := get(t, h, "/no-such-page"); code != http.StatusNotFound {
		t.Errorf("unknown path = %d, want 404", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", rec.Code)
	}
}

func TestStatusPageBeforeAnyView(t *testing.T) {
	cfg := dnsserver.DefaultConfig()
	empty := dnsserver.Build(nil, cfg)
	p := &statusPage{version: "test", domain: "mesos", mesos: true, hub: &fakeHub{}, table: func() *dnsserver.Table { return empty },
		staleAfter: func(string) time.Duration { return 0 }, now: func() time.Time { return statusNow }, log: slog.New(slog.DiscardHandler)}
	code, body := get(t, p.handler(), "/")
	if code != 200 || !strings.Contains(body, "no view of the Mesos cluster yet") || !strings.Contains(body, "WAITING") ||
		!strings.Contains(body, "No source has reported yet") {
		t.Errorf("empty daemon page: %d\n%s", code, body)
	}
	p.mesos = false // following Marathon alone
	if _, body := get(t, p.handler(), "/"); !strings.Contains(body, "load balancer only, from Marathon") {
		t.Error("LB-only daemon: page does not say Mesos is not followed")
	}
	v := getJSON(t, p.handler(), "/status.json")
	if v.Leader != nil || v.Snapshot.AgeSeconds != -1 || v.Tasks.Items == nil || v.Frameworks == nil {
		t.Errorf("empty json %+v", v)
	}
}

func TestHasFold(t *testing.T) {
	for _, tc := range []struct {
		s, q string
		want bool
	}{
		{"Web.Marathon", "web.m", true},
		{"web", "", true},
		{"web", "webs", false},
		{"ABC", "bc", true},
		{"xyz", "b", false},
		{"xxAAb", "ab", true},
		{"aXb_ab", "ab", true},
		{"aXb", "ab", false},
		{"Ba", "ba", true},
		{"Ünïcode-App", "ünï", true},
		{"unicode", "ünï", false},
	} {
		if got := hasFold(tc.s, tc.q); got != tc.want {
			t.Errorf("hasFold(%q, %q) = %v", tc.s, tc.q, got)
		}
	}
}

func TestStatusPageIndexesTasksOncePerTable(t *testing.T) {
	p := newTestStatusPage(statusCluster(3), goodSources(), nil)
	t1 := p.table()
	a, b := p.taskIndex(t1), p.taskIndex(t1)
	if a != b {
		t.Error("task index rebuilt for the same table")
	}
	t2 := dnsserver.Build(statusCluster(4), t1.Config())
	if c := p.taskIndex(t2); c == a || len(c.rows) != 8 {
		t.Errorf("new table: index reused or wrong (%d rows)", len(c.rows))
	}
}

// The status page on a 10,000-task cluster (task index already built), and
// the first request after a table swap (index built).
func BenchmarkStatusPage10kTasks(b *testing.B) {
	p := newTestStatusPage(statusCluster(10000), goodSources(), statusTestLB())
	h := p.handler()
	for _, target := range []string{"/", "/?q=task-09", "/status.json"} {
		b.Run(target, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
	b.Run("index", func(b *testing.B) {
		t := p.table()
		for b.Loop() {
			buildTaskIndex(t)
		}
	})
}

// The daemon's wiring: a Mesos source (stream or poll) is stale past twice
// refreshSeconds; a state file never is.
func TestDaemonStatusMarksStaleMesosSources(t *testing.T) {
	for _, follow := range []string{"stream", "poll"} {
		t.Run(follow, func(t *testing.T) {
			cfg := loopbackConfig("")
			cfg.MesosFollow = follow
			cfg.RefreshSeconds = 1
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			cfg.Normalize()
			d, err := newDaemon(cfg, nil, nil, discardLog())
			if err != nil {
				t.Fatal(err)
			}
			if len(d.sources) != 1 {
				t.Fatalf("%d sources", len(d.sources))
			}
			c := statusCluster(0)
			c.Source, c.FetchedAt = d.sources[0].Name(), time.Now().Add(-3*time.Second)
			d.hub.PublishCluster(c)
			v := getJSON(t, d.statusHandler(), "/status.json")
			if len(v.Sources) != 1 || !v.Sources[0].Stale || v.Sources[0].StaleAfterSeconds != 2 || !v.Snapshot.Stale {
				t.Errorf("sources %+v snapshot %+v: want the Mesos source stale after 2s", v.Sources, v.Snapshot)
			}
		})
	}
	cfg := loopbackConfig("state.json")
	cfg.Normalize()
	d, err := newDaemon(cfg, nil, nil, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	c := statusCluster(0)
	c.Source, c.FetchedAt = d.sources[0].Name(), time.Now().Add(-time.Hour)
	d.hub.PublishCluster(c)
	if v := getJSON(t, d.statusHandler(), "/status.json"); len(v.Sources) != 1 || v.Sources[0].Stale {
		t.Errorf("file source %+v: a quiet file is not stale", v.Sources)
	}
}

// TestStatusPageChangeFeedAndServerHealth: the recent-changes feed lists
// runtime changes and reloads, newest first, each saying what it did; each
// server shows HAProxy's own state and check beside what was configured.
func TestStatusPageChangeFeedAndServerHealth(t *testing.T) {
	lb := statusTestLB()
	lb.status.Changes = []lbsync.ChangeRecord{
		{At: statusNow.Add(-time.Hour), Via: "reload", Reasons: []lbmodel.Reason{{Class: lbmodel.ReasonInitial, Detail: "first config"}}, Took: 80 * time.Millisecond},
		{At: statusNow.Add(-5 * time.Second), Seq: 9, Via: "runtime api", Ops: []string{"add web_10001/127_0_1_1_31000 127.0.1.1:31000"}, MoreOps: 2, Took: 3 * time.Millisecond},
	}
	lb.health = map[string]lbsync.ServerHealth{
		"web_10001/127_0_1_1_31000": {Status: "UP", Check: "L7OK"},
		"web_10001/127_0_3_2_31005": {Status: "DOWN", Check: "L4CON"},
	}
	h := newTestStatusPage(statusCluster(0), goodSources(), lb).handler()
	_, body := get(t, h, "/")
	feed := body[strings.Index(body, `id="changes"`):strings.Index(body, `id="reloads"`)]
	runtimeAt, reloadAt := strings.Index(feed, "runtime API"), strings.Index(feed, ">reload<")
	if runtimeAt < 0 || reloadAt < 0 || runtimeAt > reloadAt {
		t.Errorf("feed not newest first, or a row missing:\n%s", feed)
	}
	for _, want := range []string{"add web_10001/127_0_1_1_31000 127.0.1.1:31000; and 2 more", "#9", "initial: first config"} {
		if !strings.Contains(feed, want) {
			t.Errorf("feed lacks %q", want)
		}
	}
	for _, want := range []string{`<span class="badge ok">UP</span> <span class="muted mono">L7OK</span>`, `<span class="badge bad">DOWN</span> <span class="muted mono">L4CON</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	v := getJSON(t, h, "/status.json")
	if len(v.LB.Changes) != 2 || v.LB.Changes[0].Via != "runtime api" || v.LB.Backends.Items[0].Servers[0].Health != "UP" {
		t.Errorf("json: changes %+v, servers %+v", v.LB.Changes, v.LB.Backends.Items[0].Servers)
	}

	lb.health, lb.healthErr = nil, errors.New("show stat: connection refused")
	_, body = get(t, newTestStatusPage(statusCluster(0), goodSources(), lb).handler(), "/")
	if !strings.Contains(body, "HAProxy could not be asked: show stat: connection refused") || !strings.Contains(body, `<span class="muted">unknown</span>`) {
		t.Error("a failed health query is not shown as such")
	}
}
