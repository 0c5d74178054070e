package lbsync

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

func newClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
}

func TestScaleThroughRuntimeAPIWithoutReload(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	b3 := haproxytest.StartBackend(t, "127.0.0.4")
	app := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(app)
	if got := spread(t, app, 4); got[b1.Addr()] != 4 {
		t.Fatalf("before scaling: %v, want all on %s", got, b1.Addr())
	}
	reloads := e.masterReloads()
	archived, err := e.s.applier.arch.Files()
	if err != nil || len(archived) != 1 {
		t.Fatalf("archive after the first config: %v (%v), want one file", archived, err)
	}

	t.Run("scale up", func(t *testing.T) {
		app.Servers = []*haproxytest.Backend{b1, b2, b3}
		e.apply(app)
		if st := e.s.Status(); st.Via != "runtime" {
			t.Fatalf("applied via %q, want runtime", st.Via)
		}
		got := spread(t, app, 30)
		for _, b := range app.Servers {
			if got[b.Addr()] == 0 {
				t.Errorf("%s got no request: %v", b.Addr(), got)
			}
		}
	})
	t.Run("scale down", func(t *testing.T) {
		app.Servers = []*haproxytest.Backend{b3}
		e.apply(app)
		before1, before2 := b1.Hits(), b2.Hits()
		if got := spread(t, app, 20); got[b3.Addr()] != 20 {
			t.Fatalf("after scaling down: %v, want all on %s", got, b3.Addr())
		}
		if b1.Hits() != before1 || b2.Hits() != before2 {
			t.Fatal("removed servers still get requests")
		}
		// Drained servers are deleted once idle.
		if !haproxytest.WaitFor(5*time.Second, func() bool { return e.s.Status().Draining == 0 }) {
			t.Fatalf("%d servers still draining", e.s.Status().Draining)
		}
	})
	if got := e.masterReloads(); got != reloads {
		t.Fatalf("master reloads went from %d to %d: scaling must not reload", reloads, got)
	}
	// The archive keeps what reloads loaded, not every runtime rewrite.
	if files, err := e.s.applier.arch.Files(); err != nil || !slices.Equal(files, archived) {
		t.Errorf("archive after runtime changes: %v (%v), want %v", files, err, archived)
	}
	if n := e.counter("discovery_lb_runtime_ops_total", "add"); n != 2 {
		t.Errorf("runtime add ops = %v, want 2", n)
	}
	if n := e.counter("discovery_lb_runtime_ops_total", "remove"); n != 2 {
		t.Errorf("runtime remove ops = %v, want 2", n)
	}
	// The file on disk agrees with what runs, so a reload changes nothing.
	cfg, err := os.ReadFile(e.h.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cfg, e.s.Config()) || !strings.Contains(string(cfg), b3.Addr()) || strings.Contains(string(cfg), b1.Addr()) {
		t.Fatalf("config on disk does not match the runtime state:\n%s", cfg)
	}
	e.s.Reload()
	if !haproxytest.WaitFor(10*time.Second, func() bool { return e.masterReloads() == reloads+1 }) {
		t.Fatal("forced reload did not happen")
	}
	if got := spread(t, app, 10); got[b3.Addr()] != 10 {
		t.Fatalf("after a reload: %v, want all on %s", got, b3.Addr())
	}
	// Unchanged input: nothing happens.
	writes := e.counter("discovery_lb_config_writes_total", "")
	e.apply(app)
	if e.s.Status().Via != "none" || e.counter("discovery_lb_config_writes_total", "") != writes {
		t.Fatal("an unchanged model was applied again")
	}
}

func TestStructuralChangeReloads(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	reloads := e.masterReloads()

	api := testApp{ID: "/api", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b2}}
	e.apply(web, api)
	if got := e.masterReloads(); got != reloads+1 {
		t.Fatalf("master reloads %d, want %d", got, reloads+1)
	}
	if got := spread(t, api, 3); got[b2.Addr()] != 3 {
		t.Fatalf("new app: %v", got)
	}
	st := e.s.Status()
	if st.Via != "reload" || len(st.Reloads) == 0 {
		t.Fatalf("status %+v, want a reload", st)
	}
	last := st.Reloads[len(st.Reloads)-1]
	if last.Err != "" || !hasClass(last.Reasons, lbmodel.ReasonBackendAdded) || !strings.Contains(reasonStrings(last.Reasons)[0], "api") {
		t.Fatalf("last reload %+v, want backend_added naming api", last)
	}
	if n := e.counter("discovery_lb_reloads_total", lbmodel.ReasonFrontendAdded) + e.counter("discovery_lb_reloads_total", lbmodel.ReasonBackendAdded); n != 1 {
		t.Fatalf("reloads counted for the new app: %v, want 1", n)
	}

	// A server change in a backend that takes no runtime changes reloads.
	static := testApp{ID: "/static", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}, Static: true}
	e.apply(web, api, static)
	static.Servers = append(static.Servers, b2)
	e.apply(web, api, static)
	if n := e.counter("discovery_lb_reloads_total", lbmodel.ReasonStaticServers); n != 1 {
		t.Fatalf("static backend reloads %v, want 1", n)
	}
	got := spread(t, static, 10)
	if got[b1.Addr()] == 0 || got[b2.Addr()] == 0 {
		t.Fatalf("static backend after reload: %v", got)
	}

	files, err := e.s.applier.arch.Files()
	if err != nil || len(files) == 0 || len(files) > 5 {
		t.Fatalf("archive holds %d files (%v), want 1..5", len(files), err)
	}
	// The newest archived config is the one the last reload loaded.
	newest, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(newest, e.s.Config()) {
		t.Errorf("newest archived config is not the running one:\n%s", newest)
	}
}

func TestInvalidAppIsLeftOut(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	good1 := testApp{ID: "/good1", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	good2 := testApp{ID: "/good2", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b2}}
	bad := testApp{ID: "/bad", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1},
		Extra: "  no-such-keyword here\n"}

	// From the very first config.
	e.apply(good1, bad, good2)
	if got := e.s.InvalidApps(); len(got) != 1 || got[0] != "/bad" {
		t.Fatalf("invalid apps %v, want [/bad]", got)
	}
	for _, a := range []testApp{good1, good2} {
		if _, err := haproxytest.Get(newClient(), url(a)); err != nil {
			t.Fatalf("%s: %v", a.ID, err)
		}
	}
	if n := e.counter("discovery_lb_apps_left_out", "validation"); n != 1 {
		t.Fatalf("apps_left_out{validation} = %v", n)
	}
	st := e.s.Status()
	if len(st.LeftOut) != 1 || st.LeftOut[0].AppID != "/bad" || !strings.Contains(st.LeftOut[0].Reason, "no-such-keyword") {
		t.Fatalf("status left out %+v", st.LeftOut)
	}

	// Scaling a good app while the bad one stays bad goes through the runtime.
	// Scaling a good app while the bad one stays bad goes through the runtime,
	// and the bad app, unchanged, is not checked again.
	reloads := e.masterReloads()
	checks := e.counter("discovery_lb_config_checks_total", "")
	good1.Servers = append(good1.Servers, b2)
	e.apply(good1, bad, good2)
	if st := e.s.Status(); st.Via != "runtime" || e.masterReloads() != reloads {
		t.Fatalf("scaling with a bad app present: via %q, reloads %d→%d", st.Via, reloads, e.masterReloads())
	}
	if n := e.counter("discovery_lb_config_checks_total", ""); n != checks {
		t.Fatalf("%v haproxy -c runs for a server change next to an unchanged bad app, want 0", n-checks)
	}
	// Scaling the bad app does not make it valid, nor does it cost a check.
	bad.Servers = append(bad.Servers, b2)
	e.apply(good1, bad, good2)
	if got := e.s.InvalidApps(); len(got) != 1 || e.counter("discovery_lb_config_checks_total", "") != checks {
		t.Fatalf("after scaling the bad app: invalid %v, checks %v", got, e.counter("discovery_lb_config_checks_total", "")-checks)
	}
	// A second bad app is found too; the first stays out.
	bad2 := testApp{ID: "/bad2", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1},
		Extra: "  balance no-such-algorithm\n"}
	e.apply(good1, bad, good2, bad2)
	if got := e.s.InvalidApps(); len(got) != 2 || got[0] != "/bad" || got[1] != "/bad2" {
		t.Fatalf("invalid apps %v, want [/bad /bad2]", got)
	}
	e.apply(good1, bad, good2)

	// Fixed: it comes back.
	bad.Extra = ""
	e.apply(good1, bad, good2)
	if got := e.s.InvalidApps(); len(got) != 0 {
		t.Fatalf("invalid apps after the fix: %v", got)
	}
	if _, err := haproxytest.Get(newClient(), url(bad)); err != nil {
		t.Fatalf("fixed app: %v", err)
	}

	// A head that breaks every config: the running config stays.
	running := e.s.Config()
	seq := e.pushHead("global\n  no-such-global-keyword\n", good1, good2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.s.WaitApplied(ctx, seq); err == nil || !strings.Contains(err.Error(), "even without any app") {
		t.Fatalf("broken head: err %v", err)
	}
	if !bytes.Equal(e.s.Config(), running) {
		t.Fatal("running config replaced by a broken one")
	}
	if disk, _ := os.ReadFile(e.h.ConfigPath()); !bytes.Equal(disk, running) {
		t.Fatal("config on disk replaced by a broken one")
	}
	if _, err := haproxytest.Get(newClient(), url(good2)); err != nil {
		t.Fatalf("after a rejected head: %v", err)
	}
}

func TestHAProxyKilledIsRestarted(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	app := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(app)
	app.Servers = []*haproxytest.Backend{b2} // through the runtime API only
	e.apply(app)

	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		worker bool
	}{
		{"master killed", syscall.SIGKILL, false},
		{"master terminated", syscall.SIGTERM, false},
		{"worker killed", syscall.SIGKILL, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restarts := e.h.Restarts()
			pid := e.h.PID()
			if pid == 0 {
				t.Fatal("no haproxy pid")
			}
			victim := pid
			if tc.worker {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				p, err := e.h.showProcRetry(ctx)
				cancel()
				w, ok := p.CurrentWorker()
				if err != nil || !ok {
					t.Fatalf("no worker: %v", err)
				}
				victim = w.PID
			}
			restartReloads := e.counter("discovery_lb_reloads_total", lbmodel.ReasonRestarted)
			killedAt := time.Now()
			if err := syscall.Kill(victim, tc.sig); err != nil {
				t.Fatal(err)
			}
			if !haproxytest.WaitFor(5*time.Second, func() bool { return e.h.Restarts() == restarts+1 && e.h.PID() != 0 && e.h.PID() != pid }) {
				t.Fatal("haproxy was not restarted")
			}
			// The restart re-applies the current config (a reload with its
			// reason). Another reload may come first (the listener watch can
			// see the dying process refuse before the restart is noticed):
			// wait for the restart's own.
			if !haproxytest.WaitFor(10*time.Second, func() bool {
				return e.counter("discovery_lb_reloads_total", lbmodel.ReasonRestarted) > restartReloads
			}) {
				t.Fatal("config not re-applied after the restart")
			}
			c := newClient()
			if !haproxytest.WaitFor(5*time.Second, func() bool {
				body, err := haproxytest.Get(c, url(app))
				return err == nil && body == b2.Addr()
			}) {
				t.Fatal("no traffic to the runtime-added server after the restart")
			}
			t.Logf("serving again %v after: %s", time.Since(killedAt).Round(time.Millisecond), tc.name)
			for _, sock := range []string{filepath.Join(e.dir, "master.sock"), e.stats} {
				if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v, want mode 0600", sock, err)
				}
			}
		})
	}
	if n := e.counter("discovery_lb_haproxy_restarts_total", ""); n != 3 {
		t.Fatalf("restarts metric %v, want 3", n)
	}
	if n := e.counter("discovery_lb_reloads_total", lbmodel.ReasonRestarted); n != 3 {
		t.Fatalf("restart reloads %v, want 3", n)
	}
}

func TestRemovedServerDrainsBeforeDeletion(t *testing.T) {
	e := newLBEnv(t, func(o *SyncerOptions) { o.DrainTimeout = 1500 * time.Millisecond })
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	app := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(app)

	type result struct {
		body string
		err  error
		took time.Duration
	}
	slow := func(ms int) <-chan result {
		ch := make(chan result, 1)
		hits := b1.Hits()
		go func() {
			start := time.Now()
			body, err := haproxytest.Get(newClient(), url(app)+"slow/"+strconv.Itoa(ms))
			ch <- result{body, err, time.Since(start)}
		}()
		if !haproxytest.WaitFor(5*time.Second, func() bool { return b1.Hits() > hits }) {
			t.Fatal("slow request did not reach the backend")
		}
		return ch
	}

	t.Run("in-flight request finishes", func(t *testing.T) {
		inflight := slow(400)
		app.Servers = []*haproxytest.Backend{b2}
		e.apply(app)
		if n := e.s.Status().Draining; n != 1 {
			t.Fatalf("draining %d, want 1 while a request is in flight", n)
		}
		if got := spread(t, app, 5); got[b2.Addr()] != 5 {
			t.Fatalf("new requests went to %v, want all on %s", got, b2.Addr())
		}
		r := <-inflight
		if r.err != nil || r.body != b1.Addr() {
			t.Fatalf("in-flight request: %q, %v", r.body, r.err)
		}
		if !haproxytest.WaitFor(3*time.Second, func() bool { return e.s.Status().Draining == 0 }) {
			t.Fatal("drained server not parked once idle")
		}
	})
	t.Run("drain is bounded", func(t *testing.T) {
		app.Servers = []*haproxytest.Backend{b1, b2}
		e.apply(app)
		// Only b1 is slow to answer; route one slow request to it.
		app.Servers = []*haproxytest.Backend{b1}
		e.apply(app)
		inflight := slow(10_000)
		app.Servers = []*haproxytest.Backend{b2}
		start := time.Now()
		e.apply(app)
		if !haproxytest.WaitFor(5*time.Second, func() bool { return e.s.Status().Draining == 0 }) {
			t.Fatal("server still draining past the bound")
		}
		if took := time.Since(start); took < 1400*time.Millisecond {
			t.Fatalf("parked after %v, before the drain bound", took)
		}
		if r := <-inflight; r.err == nil {
			t.Fatalf("a request past the drain bound was not cut: %q after %v", r.body, r.took)
		}
	})
}

// TestFailedReloadKeepsRunningConfig: a config that passes "haproxy -c" but
// cannot load (its port is taken) fails the reload; HAProxy keeps serving the
// previous config, which stays on disk.
func TestFailedReloadKeepsRunningConfig(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	running := e.s.Config()

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	clash := testApp{ID: "/clash", Port: taken.Addr().(*net.TCPAddr).Port, Servers: []*haproxytest.Backend{b1}}
	seq := e.push(web, clash)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = e.s.WaitApplied(ctx, seq)
	if err == nil || !strings.Contains(err.Error(), "reload failed") {
		t.Fatalf("err = %v, want a failed reload", err)
	}
	if !bytes.Equal(e.s.Config(), running) {
		t.Fatal("the syncer believes the failed config runs")
	}
	if disk, _ := os.ReadFile(e.h.ConfigPath()); !bytes.Equal(disk, running) {
		t.Fatal("the failed config stayed on disk")
	}
	if _, err := haproxytest.Get(newClient(), url(web)); err != nil {
		t.Fatalf("previous config no longer serves: %v", err)
	}
	if e.counter("discovery_lb_reload_failures_total", "") < 1 {
		t.Fatal("failed reload not counted")
	}
	st := e.s.Status()
	if last := st.Reloads[len(st.Reloads)-1]; last.Err == "" {
		t.Fatalf("last reload %+v has no error", last)
	}
	// Once the port is free, the retry goes through.
	taken.Close()
	e.apply(web, clash)
	if _, err := haproxytest.Get(newClient(), url(clash)); err != nil {
		t.Fatalf("after the port was freed: %v", err)
	}
}

// TestFailedRuntimeOpReloads: a server change the Runtime API refuses (here
// "cookie" on a dynamic server, in a backend wrongly marked dynamic) becomes a
// reload with that reason, and the change is applied all the same.
func TestFailedRuntimeOpReloads(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	app := testApp{ID: "/sticky", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1},
		Extra: "  cookie SRV insert indirect nocache\n", ServerOptions: "check inter 1s cookie x"}
	e.apply(app)
	reloads := e.masterReloads()
	app.Servers = []*haproxytest.Backend{b1, b2}
	e.apply(app)
	if got := e.masterReloads(); got != reloads+1 {
		t.Fatalf("reloads %d → %d, want one", reloads, got)
	}
	if n := e.counter("discovery_lb_reloads_total", lbmodel.ReasonRuntimeFailed); n != 1 {
		t.Fatalf("runtime_failed reloads %v, want 1", n)
	}
	if n := e.counter("discovery_lb_runtime_op_failures_total", "add"); n != 1 {
		t.Fatalf("failed add ops %v, want 1", n)
	}
	st := e.s.Status()
	if last := st.Reloads[len(st.Reloads)-1]; !strings.Contains(last.Reasons[0].Detail, "cookie") {
		t.Fatalf("reason %q does not say why", last.Reasons[0].Detail)
	}
	got := spread(t, app, 10)
	if got[b1.Addr()] == 0 || got[b2.Addr()] == 0 {
		t.Fatalf("after the reload: %v", got)
	}
}

// TestUnwritableConfigKeepsRunningConfig: when the config cannot be written
// (here its directory is gone, as a full or read-only disk would refuse it),
// the change fails with a clear error, HAProxy keeps its running config, and
// the change goes through once writing works again.
func TestUnwritableConfigKeepsRunningConfig(t *testing.T) {
	var confDir string
	e := newLBEnv(t, func(o *HAProxyOptions) {
		confDir = filepath.Join(filepath.Dir(o.ConfigPath), "conf")
		if err := os.Mkdir(confDir, 0o755); err != nil {
			t.Fatal(err)
		}
		o.ConfigPath = filepath.Join(confDir, "haproxy.cfg")
	})
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	running := e.s.Config()

	if err := os.RemoveAll(confDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(confDir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	api := testApp{ID: "/api", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b2}}
	seq := e.push(web, api)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := e.s.WaitApplied(ctx, seq)
	if err == nil || !strings.Contains(err.Error(), confDir) {
		t.Fatalf("err = %v, want an error naming %s", err, confDir)
	}
	if !bytes.Equal(e.s.Config(), running) {
		t.Fatal("the syncer believes the unwritten config runs")
	}
	if _, err := haproxytest.Get(newClient(), url(web)); err != nil {
		t.Fatalf("running config no longer serves: %v", err)
	}

	// Writable again: the retry applies the change.
	if err := os.Remove(confDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if !haproxytest.WaitFor(10*time.Second, func() bool {
		_, err := haproxytest.Get(newClient(), url(api))
		return err == nil
	}) {
		t.Fatalf("change not applied after the disk came back: %+v", e.s.Status())
	}
}

// A removed server is parked in maintenance (never "del server": HAProxy 2.6 can
// crash deleting a server a stream still refers to), takes no traffic, is taken
// back without a reload when its task returns, and is dropped by the next reload.
func TestRemovedServerIsParkedAndTakenBack(t *testing.T) {
	e := newLBEnv(t, func(o *SyncerOptions) { o.DrainTimeout = time.Second })
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	app := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1, b2}}
	e.apply(app)
	reloads := e.masterReloads()

	app.Servers = []*haproxytest.Backend{b1}
	e.apply(app)
	if !haproxytest.WaitFor(5*time.Second, func() bool { return e.s.rt.Parked() == 1 && e.s.Status().Draining == 0 }) {
		t.Fatalf("removed server not parked: parked %d, draining %d", e.s.rt.Parked(), e.s.Status().Draining)
	}
	if got := spread(t, app, 10); got[b1.Addr()] != 10 {
		t.Fatalf("a parked server takes traffic: %v", got)
	}

	app.Servers = []*haproxytest.Backend{b1, b2}
	e.apply(app)
	if e.s.rt.Parked() != 0 {
		t.Fatal("the returning task did not take its parked server back")
	}
	if !haproxytest.WaitFor(5*time.Second, func() bool { return spread(t, app, 10)[b2.Addr()] > 0 }) {
		t.Fatal("the server taken back gets no traffic")
	}
	if n := e.masterReloads(); n != reloads {
		t.Fatalf("%d reloads for a removal and a return, want none", n-reloads)
	}

	// Parked again, then a reload (forced) forgets it: the new worker never had it.
	app.Servers = []*haproxytest.Backend{b1}
	e.apply(app)
	if !haproxytest.WaitFor(5*time.Second, func() bool { return e.s.rt.Parked() == 1 }) {
		t.Fatal("not parked the second time")
	}
	e.s.Reload()
	if !haproxytest.WaitFor(10*time.Second, func() bool { return e.s.rt.Parked() == 0 && e.masterReloads() > reloads }) {
		t.Fatalf("a reload did not drop the parked server (parked %d)", e.s.rt.Parked())
	}
}
