package lbmodel

import (
	"reflect"
	"slices"
	"testing"
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

func cloneBackends(bs []Backend) []Backend {
	out := slices.Clone(bs)
	for i := range out {
		out[i].Servers = slices.Clone(out[i].Servers)
	}
	return out
}
