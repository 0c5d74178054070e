package lbsync

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state"
)

// TestExternalHAProxy drives a HAProxy someone else started (as systemd would)
// through its master socket only.
func TestExternalHAProxy(t *testing.T) {
	bin := haproxytest.Binary(t)
	dir := haproxytest.Dir(t)
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	master := filepath.Join(dir, "master.sock")
	stats := filepath.Join(dir, "stats.sock")
	if err := os.WriteFile(cfgPath, []byte(haproxytest.Head(stats)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-W", "-S", master+",mode,600", "-f", cfgPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})

	h := NewHAProxy(HAProxyOptions{Binary: bin, ConfigPath: cfgPath, MasterSocket: master, External: true})
	if !haproxytest.WaitFor(10*time.Second, func() bool { return h.Running(context.Background()) }) {
		t.Fatal("external haproxy does not answer on its master socket")
	}
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	app := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	env := &lbEnv{t: t, stats: stats, models: map[uint64][]testApp{}, head: map[uint64]string{}}
	s, err := NewSyncer(SyncerOptions{HAProxy: h, StatsSocket: stats, Build: env.build})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := make(chan *state.Snapshot, 1)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx, snaps) }()
	defer func() { cancel(); <-done }()

	apply := func(a testApp) {
		env.seq++
		env.models[env.seq] = []testApp{a}
		snaps <- &state.Snapshot{Seq: env.seq}
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		defer wcancel()
		if err := s.WaitApplied(wctx, env.seq); err != nil {
			t.Fatal(err)
		}
	}
	apply(app)
	if st := s.Status(); st.Via != "reload" {
		t.Fatalf("first config of an external haproxy applied via %q, want reload", st.Via)
	}
	if got := spread(t, app, 3); got[b1.Addr()] != 3 {
		t.Fatalf("got %v", got)
	}
	app.Servers = []*haproxytest.Backend{b2}
	apply(app)
	if st := s.Status(); st.Via != "runtime" {
		t.Fatalf("scale applied via %q, want runtime", st.Via)
	}
	if got := spread(t, app, 3); got[b2.Addr()] != 3 {
		t.Fatalf("got %v", got)
	}
	for _, sock := range []string{master, stats} {
		fi, err := os.Stat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", sock, fi.Mode().Perm())
		}
	}
}

// TestTakeOverStaleHAProxy: a HAProxy left running by a previous daemon (killed
// without stopping it) is replaced without a refused connection: ours starts
// beside it, then the old one finishes its connections and leaves.
func TestTakeOverStaleHAProxy(t *testing.T) {
	bin := haproxytest.Binary(t)
	dir := haproxytest.Dir(t)
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	master := filepath.Join(dir, "master.sock")
	stats := filepath.Join(dir, "stats.sock")
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	app := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	env := &lbEnv{t: t, stats: stats, models: map[uint64][]testApp{1: {app}}, head: map[uint64]string{}}
	m, err := env.build(&state.Snapshot{Seq: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := lbmodel.Render(m)
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	old := exec.Command(bin, "-W", "-S", master+",mode,600", "-f", cfgPath)
	old.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	oldDone := make(chan error, 1)
	go func() { oldDone <- old.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-old.Process.Pid, syscall.SIGKILL)
	})
	if !haproxytest.WaitFor(10*time.Second, func() bool {
		_, err := haproxytest.Get(newClient(), url(app))
		return err == nil
	}) {
		t.Fatal("the stale haproxy does not serve")
	}

	probe := NewHAProxy(HAProxyOptions{MasterSocket: master, External: true})
	if !haproxytest.WaitFor(10*time.Second, func() bool {
		p, err := probe.ShowProc(context.Background())
		return err == nil && p.MasterPID == old.Process.Pid
	}) {
		t.Fatal("the stale master does not answer")
	}
	load := haproxytest.StartLoad(url(app), 2, 1_000_000)
	h := NewHAProxy(HAProxyOptions{Binary: bin, ConfigPath: cfgPath, MasterSocket: master, StopTimeout: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "haproxy")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h.Start()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := h.WaitRunning(wctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-oldDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the stale haproxy did not leave")
	}
	// Traffic keeps flowing through ours.
	before := load.OK.Load()
	if !haproxytest.WaitFor(5*time.Second, func() bool { return load.OK.Load() > before+20 }) {
		t.Fatal("no traffic after the handover")
	}
	load.Stop()
	if n := load.Failed.Load(); n != 0 {
		t.Fatalf("%d requests failed during the handover: %v", n, load.Errors())
	}
	if p, err := h.ShowProc(ctx); err != nil || p.MasterPID != h.PID() {
		t.Fatalf("master socket answered by %d (%v), want ours %d", p.MasterPID, err, h.PID())
	}
}
