package lbsync

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/vips"
)

// TestVIPsRealHAProxy: a named VIP is a listener on its hashed address in a
// real HAProxy, balancing to the app's tasks whatever the app's
// HAPROXY_GROUP; tasks that come, go and move change its servers through the
// Runtime API, without a reload.
func TestVIPsRealHAProxy(t *testing.T) {
	rm := &realModel{}
	var snapApps func(seq uint64) []state.App
	e := newLBEnv(t, withRealModel(t, rm), func(o *SyncerOptions) {
		o.Build = func(snap *state.Snapshot, opts *lbmodel.BuildOptions) (*lbmodel.Model, error) {
			m, err := rm.build(snap, opts)
			if err != nil {
				return nil, err
			}
			set := vips.Build(&state.Snapshot{Apps: &state.AppSet{Apps: snapApps(snap.Seq)}}, vips.Config{Exclude: opts.Exclude})
			return lbmodel.WithVIPs(m, set), nil
		}
	})
	snapApps = func(seq uint64) []state.App {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		return rm.apps[seq]
	}
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	b3 := haproxytest.StartBackend(t, "127.0.0.4")

	// The VIP's address comes from its name; its port must be free there.
	addr := vips.Build(&state.Snapshot{Apps: &state.AppSet{Apps: []state.App{vipApp("/svc", "/svc:1")}}}, vips.Config{}).VIPs[0].Addr
	port := haproxytest.FreePort(t, addr.String())
	label := "/svc:" + strconv.Itoa(port)
	url := "http://" + net.JoinHostPort(addr.String(), strconv.Itoa(port)) + "/"
	get := func() string {
		t.Helper()
		body, err := haproxytest.Get(newClient(), url)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}

	e.wait(rm.push(e, vipApp("/svc", label, b1)))
	if got := get(); got != b1.Addr() {
		t.Fatalf("through the VIP got %q, want %s", got, b1.Addr())
	}
	if m := e.s.Model(); len(m.VIPs) != 1 || m.VIPs[0].Addr != addr {
		t.Fatalf("model VIPs %+v, want one on %v", m.VIPs, addr)
	}
	reloads := e.masterReloads()

	// Scale up, move, scale down: runtime only.
	e.wait(rm.push(e, vipApp("/svc", label, b1, b2)))
	if st := e.s.Status(); st.Via != "runtime" {
		t.Fatalf("scale up via %q", st.Via)
	}
	seen := map[string]bool{}
	for range 20 {
		seen[get()] = true
	}
	if !seen[b1.Addr()] || !seen[b2.Addr()] {
		t.Fatalf("after scale up, served by %v", seen)
	}
	e.wait(rm.push(e, vipApp("/svc", label, b3, b2)))
	e.wait(rm.push(e, vipApp("/svc", label, b3)))
	for range 10 {
		if got := get(); got != b3.Addr() {
			t.Fatalf("after the moves got %q, want %s", got, b3.Addr())
		}
	}
	if got := e.masterReloads(); got != reloads {
		t.Fatalf("task changes reloaded HAProxy (%d → %d)", reloads, got)
	}

	// A bad VIP label costs only its own port: reported, nothing else moves.
	e.wait(rm.push(e, vipApp("/svc", label, b3), vipApp("/bad", "/bad:99999", b1)))
	if got := get(); got != b3.Addr() {
		t.Fatalf("after a bad label got %q", got)
	}
	found := false
	for _, l := range e.s.Status().LeftOut {
		found = found || (l.AppID == "/bad" && strings.Contains(l.Reason, "99999"))
	}
	if !found {
		t.Fatalf("the bad VIP label is not reported: %+v", e.s.Status().LeftOut)
	}
}

// vipApp is an app with no HAPROXY_GROUP: only its VIP label puts it in the
// load balancer.
func vipApp(id, vip string, tasks ...*haproxytest.Backend) state.App {
	a := state.App{ID: id, Labels: map[string]string{}, Network: state.NetworkHost, Instances: len(tasks),
		Ports: []state.AppPort{{Protocol: "tcp", Labels: map[string]string{"VIP_0": vip}}}}
	for _, b := range tasks {
		a.Tasks = append(a.Tasks, state.AppTask{
			ID:   strings.TrimPrefix(id, "/") + "." + strings.ReplaceAll(b.Addr(), ":", "-"),
			Host: b.Host, Ports: []int{b.Port}, State: state.TaskRunning,
		})
	}
	return a
}
