package lbsync

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

func TestBridgeModel(t *testing.T) {
	a1 := srv("a1", "127.0.0.2", 8001, "check")
	a2 := srv("a2", "127.0.0.3", 8002, "check")
	a2opts := srv("a2", "127.0.0.3", 8002, "check inter 5s")
	changedText := be("c", true, a1)
	changedText.Text += "  balance leastconn\n"

	tests := []struct {
		name     string
		old, cur *Model
		wantOps  []string // ComputePlan(old, bridge); nil bridge when empty
	}{
		{name: "servers only: no bridge needed, still bridged",
			old: planModel(be("b", true, a1)), cur: planModel(be("b", true, a1, a2)),
			wantOps: []string{"add b/a2 127.0.0.3:8002"}},
		{name: "backend added: the others' servers move first",
			old: planModel(be("b", true, a1)), cur: planModel(be("b", true, a2), be("c", true, a1)),
			wantOps: []string{"add b/a2 127.0.0.3:8002", "remove b/a1"}},
		{name: "backend removed",
			old: planModel(be("b", true, a1), be("c", true, a1)), cur: planModel(be("c", true, a1, a2)),
			wantOps: []string{"add c/a2 127.0.0.3:8002"}},
		{name: "head changed",
			old:     planModel(be("b", true, a1)),
			cur:     func() *Model { m := planModel(be("b", true, a2)); m.Head = "global\n  maxconn 9\n"; return m }(),
			wantOps: []string{"add b/a2 127.0.0.3:8002", "remove b/a1"}},
		{name: "static backend is left to the reload",
			old: planModel(be("b", false, a1), be("d", true)), cur: planModel(be("b", false, a1, a2), be("c", true))},
		{name: "changed backend text is left to the reload",
			old: planModel(be("c", true)), cur: planModel(changedText)},
		{name: "changed server options are left to the reload",
			old: planModel(be("b", true, a2), be("x", true)), cur: planModel(be("b", true, a2opts))},
		{name: "nothing in common", old: planModel(be("b", true, a1)), cur: planModel(be("c", true, a2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := cloneBackends(tt.old.Backends)
			b := BridgeModel(tt.old, tt.cur)
			if !reflect.DeepEqual(before, tt.old.Backends) {
				t.Fatal("BridgeModel changed the running model")
			}
			if tt.wantOps == nil {
				if b != nil {
					t.Fatalf("bridge %+v, want none", b.Backends)
				}
				return
			}
			if b == nil {
				t.Fatal("no bridge")
			}
			p := ComputePlan(tt.old, b)
			if len(p.Reload) > 0 {
				t.Fatalf("the bridge needs a reload: %v", p.Reload)
			}
			var ops []string
			for _, op := range p.Runtime {
				ops = append(ops, op.String())
			}
			if !reflect.DeepEqual(ops, tt.wantOps) {
				t.Fatalf("ops = %q, want %q", ops, tt.wantOps)
			}
			if b.Head != tt.old.Head || !reflect.DeepEqual(b.Frontends, tt.old.Frontends) || len(b.Backends) != len(tt.old.Backends) {
				t.Fatal("the bridge changed more than servers")
			}
		})
	}
	if BridgeModel(nil, planModel()) != nil {
		t.Fatal("bridge from nothing")
	}
}

// A structural change (a new app) and a server change (another app scaled up)
// in one apply: the server change is made through the Runtime API before the
// reload, and after it HAProxy runs both.
func TestServerChangesRunAheadOfAReload(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	b3 := haproxytest.StartBackend(t, "127.0.0.4")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	reloads := e.masterReloads()
	adds := e.counter("discovery_lb_runtime_ops_total", "add")

	web.Servers = []*haproxytest.Backend{b1, b2}
	api := testApp{ID: "/api", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b3}}
	e.apply(web, api)
	if got := e.masterReloads(); got != reloads+1 {
		t.Fatalf("master reloads %d, want %d", got, reloads+1)
	}
	if got := e.counter("discovery_lb_runtime_ops_total", "add"); got != adds+1 {
		t.Fatalf("runtime adds %v, want %v: the new web server was not added ahead of the reload", got, adds+1)
	}
	got := spread(t, web, 20)
	if got[b1.Addr()] == 0 || got[b2.Addr()] == 0 {
		t.Fatalf("web after the reload: %v, want both servers", got)
	}
	if got := spread(t, api, 3); got[b3.Addr()] != 3 {
		t.Fatalf("api after the reload: %v", got)
	}
	// The file on disk is the reloaded config, and it has everything.
	if cfg := string(e.s.Config()); !strings.Contains(cfg, b2.Addr()) || !strings.Contains(cfg, b3.Addr()) {
		t.Fatalf("config lacks a server:\n%s", cfg)
	}
}

func cloneBackends(bs []Backend) []Backend {
	out := slices.Clone(bs)
	for i := range out {
		out[i].Servers = slices.Clone(out[i].Servers)
	}
	return out
}
