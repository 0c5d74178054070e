package lbmodel

import (
	"reflect"
	"testing"
)

func srv(name, host string, port int, opts string) Server {
	return Server{Name: name, Host: host, Port: port, Weight: 1, Options: opts}
}

func planModel(backends ...Backend) *Model {
	return &Model{
		Head:      "global\n",
		Frontends: []Frontend{{Name: "fe", Text: "frontend fe\n"}},
		Backends:  backends,
	}
}

func be(name string, dynamic bool, servers ...Server) Backend {
	return Backend{Name: name, Dynamic: dynamic, Text: "backend " + name + "\n", Servers: servers}
}

func TestComputePlan(t *testing.T) {
	a1 := srv("a1", "127.0.0.2", 8001, "check")
	a2 := srv("a2", "127.0.0.3", 8002, "check")
	a2moved := srv("a2", "127.0.0.4", 8003, "check")
	a2heavy := a2
	a2heavy.Weight = 50
	a2drain := a2
	a2drain.Draining, a2drain.Options = true, "check disabled"
	a2opts := srv("a2", "127.0.0.3", 8002, "check inter 5s")

	tests := []struct {
		name        string
		old, cur    *Model
		wantOps     []string
		wantClasses []string
	}{
		{name: "first", old: nil, cur: planModel(be("b", true, a1)), wantClasses: []string{ReasonInitial}},
		{name: "same", old: planModel(be("b", true, a1)), cur: planModel(be("b", true, a1))},
		{name: "scale up", old: planModel(be("b", true, a1)), cur: planModel(be("b", true, a1, a2)),
			wantOps: []string{"add b/a2 127.0.0.3:8002"}},
		{name: "scale down", old: planModel(be("b", true, a1, a2)), cur: planModel(be("b", true, a2)),
			wantOps: []string{"remove b/a1"}},
		{name: "replace: add before remove", old: planModel(be("b", true, a1), be("c", true, a2)),
			cur:     planModel(be("b", true, a2), be("c", true, a1)),
			wantOps: []string{"add b/a2 127.0.0.3:8002", "add c/a1 127.0.0.2:8001", "remove b/a1", "remove c/a2"}},
		{name: "moved", old: planModel(be("b", true, a1, a2)), cur: planModel(be("b", true, a1, a2moved)),
			wantOps: []string{"set_addr b/a2 127.0.0.4:8003"}},
		{name: "weight", old: planModel(be("b", true, a2)), cur: planModel(be("b", true, a2heavy)),
			wantOps: []string{"set_weight b/a2 weight 50"}},
		{name: "drain", old: planModel(be("b", true, a2)), cur: planModel(be("b", true, a2drain)),
			wantOps: []string{"set_state b/a2 maint"}},
		{name: "undrain", old: planModel(be("b", true, a2drain)), cur: planModel(be("b", true, a2)),
			wantOps: []string{"set_state b/a2 ready"}},
		// zdd.py counts the servers on the stats page: a drained server
		// (blue/green) that leaves must not stay listed, parked.
		{name: "drained server removed", old: planModel(be("b", true, a1, a2drain)), cur: planModel(be("b", true, a1)),
			wantClasses: []string{ReasonDrainedRemoved}},
		{name: "server options", old: planModel(be("b", true, a2)), cur: planModel(be("b", true, a2opts)),
			wantClasses: []string{ReasonServerOptions}},
		{name: "static backend", old: planModel(be("b", false, a1)), cur: planModel(be("b", false, a1, a2)),
			wantClasses: []string{ReasonStaticServers}},
		{name: "static backend unchanged servers", old: planModel(be("b", false, a1)), cur: planModel(be("b", false, a1))},
		{name: "backend added", old: planModel(be("b", true, a1)), cur: planModel(be("b", true, a1), be("c", true, a2)),
			wantClasses: []string{ReasonBackendAdded}},
		{name: "backend removed", old: planModel(be("b", true, a1), be("c", true)), cur: planModel(be("c", true)),
			wantClasses: []string{ReasonBackendRemoved}},
		{name: "backend options", old: planModel(be("b", true, a1)),
			cur: func() *Model {
				m := planModel(be("b", true, a1))
				m.Backends[0].Text += "  balance leastconn\n"
				return m
			}(),
			wantClasses: []string{ReasonBackendChanged}},
		{name: "head and frontend", old: planModel(be("b", true, a1)),
			cur: func() *Model {
				m := planModel(be("b", true, a1, a2))
				m.Head = "global\n  maxconn 10\n"
				m.Frontends = append(m.Frontends, Frontend{Name: "fe2", Text: "frontend fe2\n"})
				return m
			}(),
			wantClasses: []string{ReasonHeadChanged, ReasonFrontendAdded}},
		{name: "map", old: planModel(be("b", true, a1)),
			cur: func() *Model {
				m := planModel(be("b", true, a1))
				m.Maps = []MapFile{{Path: "/x/app2backend.map", Content: []byte("/a b\n")}}
				return m
			}(),
			wantClasses: []string{ReasonMapChanged}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ComputePlan(tt.old, tt.cur)
			var ops, classes []string
			for _, op := range p.Runtime {
				ops = append(ops, op.String())
			}
			for _, r := range p.Reload {
				classes = append(classes, r.Class)
				if r.Detail == "" {
					t.Errorf("reason %s has no detail", r.Class)
				}
			}
			if !reflect.DeepEqual(ops, tt.wantOps) {
				t.Errorf("ops = %q, want %q", ops, tt.wantOps)
			}
			if !reflect.DeepEqual(classes, tt.wantClasses) {
				t.Errorf("reload classes = %q, want %q", classes, tt.wantClasses)
			}
		})
	}
}

func TestServerOptionsKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"check inter 5s":             "check inter 5s",
		"check weight 20 inter 5s":   "check inter 5s",
		"disabled check":             "check",
		"weight 3":                   "",
		"check   disabled  weight 9": "check",
	} {
		if got := ServerOptionsKey(in); got != want {
			t.Errorf("serverOptionsKey(%q) = %q, want %q", in, got, want)
		}
	}
}
