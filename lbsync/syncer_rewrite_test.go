package lbsync

import (
	"bytes"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
)

// TestRuntimeRewritesMatchFullRender runs random server-level and structural
// changes through the whole pipeline (incremental models, the incremental
// render) into a real HAProxy, and checks after each that the config file is
// exactly the model's full render, that server changes went through the
// Runtime API without a reload (the file rewritten once) and structural ones
// reloaded, that a change of nothing writes nothing, and that the changed app
// serves from its new servers. It fails if rendering only what
// changed ever skips a server line, a write or a reload.
func TestRuntimeRewritesMatchFullRender(t *testing.T) {
	rm := &realModel{}
	e := newLBEnv(t, withRealModel(t, rm))
	backends := []*haproxytest.Backend{
		haproxytest.StartBackend(t, "127.0.0.2"),
		haproxytest.StartBackend(t, "127.0.0.3"),
		haproxytest.StartBackend(t, "127.0.0.4"),
	}
	const napps = 4
	ports := make([]int, napps)
	tasks := make([][]*haproxytest.Backend, napps)
	balance := make([]string, napps)
	for i := range ports {
		ports[i] = haproxytest.FreePort(t, "127.0.0.1")
		tasks[i] = backends[:1+i%3]
	}
	apps := func() []state.App {
		var out []state.App
		for i := range napps {
			if len(tasks[i]) == 0 {
				continue // no task: no backend
			}
			extra := map[string]string{}
			if balance[i] != "" {
				extra["HAPROXY_0_BALANCE"] = balance[i]
			}
			out = append(out, marathonApp("/app"+strconv.Itoa(i), ports[i], extra, tasks[i]...))
		}
		return out
	}
	check := func(step int, what string) {
		t.Helper()
		want, err := lbmodel.Render(e.s.Model())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.s.Config(), want) {
			t.Fatalf("step %d (%s): the running config is not the model's full render", step, what)
		}
		if disk, err := os.ReadFile(e.h.ConfigPath()); err != nil || !bytes.Equal(disk, want) {
			t.Fatalf("step %d (%s): the config file is not the model's full render (%v)", step, what, err)
		}
	}
	e.wait(rm.push(e, apps()...))
	check(0, "start")
	r := rand.New(rand.NewPCG(3, 4))
	runtimeSteps, reloadSteps := 0, 0
	for step := 1; step <= 40; step++ {
		i := r.IntN(napps)
		reloads := e.masterReloads()
		writes := e.counter("discovery_lb_config_writes_total", "")
		structural, servers := false, false
		what := ""
		switch r.IntN(4) {
		case 0, 1: // scale or move: servers only, unless the app comes or goes
			n := r.IntN(4)
			off := r.IntN(3)
			next := make([]*haproxytest.Backend, 0, n)
			for k := range n {
				next = append(next, backends[(off+k)%3])
			}
			structural = (len(tasks[i]) == 0) != (n == 0)
			servers = !structural && !sameAddrs(tasks[i], next)
			tasks[i], what = next, "servers of /app"+strconv.Itoa(i)
		case 2: // an option of the backend
			if len(tasks[i]) == 0 {
				continue
			}
			balance[i] = map[string]string{"": "leastconn", "leastconn": ""}[balance[i]]
			structural, what = true, "balance of /app"+strconv.Itoa(i)
		case 3:
			what = "nothing"
		}
		e.wait(rm.push(e, apps()...))
		check(step, what)
		got := e.masterReloads()
		switch {
		case structural && got != reloads+1:
			t.Fatalf("step %d (%s): reloads %d → %d, want one", step, what, reloads, got)
		case !structural && got != reloads:
			t.Fatalf("step %d (%s): reloaded (%d → %d)", step, what, reloads, got)
		case structural:
			reloadSteps++
		case servers:
			runtimeSteps++
			if via := e.s.Status().Via; via != "runtime" || e.counter("discovery_lb_config_writes_total", "") != writes+1 {
				t.Fatalf("step %d (%s): servers changed via %q, config writes %v → %v, want runtime and one write",
					step, what, via, writes, e.counter("discovery_lb_config_writes_total", ""))
			}
		case e.counter("discovery_lb_config_writes_total", "") != writes:
			t.Fatalf("step %d (%s): nothing changed, the config file rewritten", step, what)
		}
		if len(tasks[i]) > 0 {
			want := map[string]bool{}
			for _, b := range tasks[i] {
				want[b.Addr()] = true
			}
			for range 2 * len(want) {
				body, err := haproxytest.Get(newClient(), "http://127.0.0.1:"+strconv.Itoa(ports[i])+"/")
				if err != nil || !want[body] {
					t.Fatalf("step %d (%s): /app%d answered %q (%v), want one of %v", step, what, i, body, err, want)
				}
			}
		}
	}
	if runtimeSteps == 0 || reloadSteps == 0 {
		t.Fatalf("%d runtime and %d reload steps: the test did not exercise both", runtimeSteps, reloadSteps)
	}
}

// sameAddrs reports whether a and b are the same backends, in any order.
func sameAddrs(a, b []*haproxytest.Backend) bool {
	key := func(bs []*haproxytest.Backend) []string {
		out := make([]string, len(bs))
		for i, x := range bs {
			out[i] = x.Addr()
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(key(a), key(b))
}
