package lbsync

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state"
)

// testApp is one app of a test model: a frontend on Port routing to a backend
// whose servers are real HTTP backends.
type testApp struct {
	ID      string
	Port    int
	Servers []*haproxytest.Backend
	// Extra is added to the backend section (a bad keyword makes the app
	// invalid).
	Extra string
	// Static makes the backend refuse runtime server changes.
	Static bool
	// BindIP is the frontend's address, 127.0.0.1 when empty.
	BindIP string
	// ServerOptions are the options of every server, "check inter 1s" when
	// empty.
	ServerOptions string
	// Draining are the indexes in Servers of the servers kept in
	// maintenance (Server.Draining, "disabled").
	Draining []int
}

// lbEnv is a real HAProxy driven by a Syncer, fed with test models through
// snapshots whose Seq selects the model.
type lbEnv struct {
	t     testing.TB
	dir   string
	stats string
	h     *HAProxy
	s     *Syncer
	reg   *prometheus.Registry
	snaps chan *state.Snapshot

	mu     sync.Mutex
	seq    uint64
	models map[uint64][]testApp
	head   map[uint64]string

	cancel context.CancelFunc
	done   chan struct{}
}

// newLBEnv starts a supervised HAProxy and a Syncer. opts are
// func(*HAProxyOptions) or func(*SyncerOptions) adjustments.
func newLBEnv(t testing.TB, opts ...any) *lbEnv {
	t.Helper()
	bin := haproxytest.Binary(t)
	dir := haproxytest.Dir(t)
	e := &lbEnv{
		t:      t,
		dir:    dir,
		stats:  filepath.Join(dir, "stats.sock"),
		reg:    prometheus.NewRegistry(),
		snaps:  make(chan *state.Snapshot, 1),
		models: map[uint64][]testApp{},
		head:   map[uint64]string{},
		done:   make(chan struct{}),
	}
	log := slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if os.Getenv("LBSYNC_TEST_DEBUG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ho := HAProxyOptions{
		Binary:         bin,
		ConfigPath:     filepath.Join(dir, "haproxy.cfg"),
		MasterSocket:   filepath.Join(dir, "master.sock"),
		RestartBackoff: 20 * time.Millisecond,
		StopTimeout:    300 * time.Millisecond,
		Logger:         log.With("component", "haproxy"),
	}
	for _, o := range opts {
		if f, ok := o.(func(*HAProxyOptions)); ok {
			f(&ho)
		}
	}
	e.h = NewHAProxy(ho)
	so := SyncerOptions{
		HAProxy:      e.h,
		StatsSocket:  e.stats,
		Build:        e.build,
		ArchiveDir:   filepath.Join(dir, "archive"),
		ArchiveKeep:  5,
		DrainTimeout: 2 * time.Second,
		RetryBackoff: 50 * time.Millisecond,
		Registerer:   e.reg,
		Logger:       log.With("component", "lbsync"),
	}
	for _, o := range opts {
		switch f := o.(type) {
		case func(*SyncerOptions):
			f(&so)
		case func(*HAProxyOptions):
		default:
			t.Fatalf("newLBEnv: unknown option %T", o)
		}
	}
	s, err := NewSyncer(so)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = e.h.Run(ctx) }()
	go func() { defer wg.Done(); _ = e.s.Run(ctx, e.snaps) }()
	go func() { wg.Wait(); close(e.done) }()
	t.Cleanup(e.stop)
	return e
}

func (e *lbEnv) stop() {
	e.cancel()
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		e.t.Error("haproxy and syncer did not stop")
	}
}

// testWriter sends log lines to the test log until the test's cleanup stops it:
// HAProxy's output is copied by a goroutine that can outlive the test, and
// logging to a finished test is a race.
type testWriter struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

// newTestWriter returns a writer stopped by a cleanup registered now, so that it
// runs after the cleanups registered later (those stop HAProxy).
func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.stopped = true
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// push publishes a snapshot for apps (latest wins, as the hub does) and returns
// its Seq.
func (e *lbEnv) push(apps ...testApp) uint64 {
	return e.pushHead("", apps...)
}

func (e *lbEnv) pushHead(head string, apps ...testApp) uint64 {
	e.mu.Lock()
	e.seq++
	seq := e.seq
	e.models[seq] = slices.Clone(apps)
	e.head[seq] = head
	e.mu.Unlock()
	snap := &state.Snapshot{Seq: seq}
	select {
	case e.snaps <- snap:
	default:
		select {
		case <-e.snaps:
		default:
		}
		e.snaps <- snap
	}
	return seq
}

// apply pushes apps and waits until HAProxy runs them.
func (e *lbEnv) apply(apps ...testApp) {
	e.t.Helper()
	seq := e.push(apps...)
	e.wait(seq)
}

func (e *lbEnv) wait(seq uint64) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.s.WaitApplied(ctx, seq); err != nil {
		e.t.Fatalf("snapshot %d: %v", seq, err)
	}
}

// build is the test BuildFunc: the model registered for the snapshot's Seq.
func (e *lbEnv) build(snap *state.Snapshot, opts *lbmodel.BuildOptions) (*lbmodel.Model, error) {
	e.mu.Lock()
	apps, head := e.models[snap.Seq], e.head[snap.Seq]
	e.mu.Unlock()
	if head == "" {
		head = haproxytest.Head(e.stats)
	}
	m := &lbmodel.Model{Head: head}
	for _, a := range apps {
		if opts != nil && opts.Exclude[a.ID] {
			continue
		}
		name := backendName(a)
		m.Frontends = append(m.Frontends, lbmodel.Frontend{
			Name: name, Port: a.Port, Apps: []string{a.ID},
			Text: fmt.Sprintf("frontend %s\n  bind %s:%d\n  default_backend %s\n", name, a.bindIP(), a.Port, name),
		})
		b := lbmodel.Backend{
			Name: name, AppID: a.ID, Apps: []string{a.ID}, ServicePort: a.Port, Mode: "http",
			Balance: "roundrobin", Dynamic: !a.Static,
			Text: "backend " + name + "\n  balance roundrobin\n" + a.Extra,
		}
		for i, s := range a.Servers {
			srv := lbmodel.Server{
				Name: strings.ReplaceAll(s.Host, ".", "_") + "_" + strconv.Itoa(s.Port),
				Host: s.Host, Port: s.Port, Weight: 1, Options: cmp.Or(a.ServerOptions, "check inter 1s"),
				TaskID: a.ID + "." + s.Addr(), AppID: a.ID,
			}
			if slices.Contains(a.Draining, i) {
				srv.Draining, srv.Options = true, srv.Options+" disabled"
			}
			b.Servers = append(b.Servers, srv)
		}
		slices.SortFunc(b.Servers, func(x, y lbmodel.Server) int { return strings.Compare(x.Name, y.Name) })
		m.Backends = append(m.Backends, b)
	}
	slices.SortFunc(m.Frontends, func(x, y lbmodel.Frontend) int { return strings.Compare(x.Name, y.Name) })
	slices.SortFunc(m.Backends, func(x, y lbmodel.Backend) int { return strings.Compare(x.Name, y.Name) })
	return m, nil
}

func (a testApp) bindIP() string {
	if a.BindIP == "" {
		return "127.0.0.1"
	}
	return a.BindIP
}

func backendName(a testApp) string {
	return strings.ReplaceAll(strings.Trim(a.ID, "/"), "/", "_") + "_" + strconv.Itoa(a.Port)
}

// masterReloads returns the master's reload counter.
func (e *lbEnv) masterReloads() int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := e.h.showProcRetry(ctx)
	if err != nil {
		e.t.Fatalf("show proc: %v", err)
	}
	return p.Reloads
}

// counter returns a metric's value from the registry (sum over labels
// matching the given label value, or all when label is empty).
func (e *lbEnv) counter(name, label string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

// url is the frontend URL of an app.
func url(a testApp) string { return "http://" + a.bindIP() + ":" + strconv.Itoa(a.Port) + "/" }

// spread sends n requests to a and returns how many each backend answered.
func spread(t testing.TB, a testApp, n int) map[string]int {
	t.Helper()
	c := newClient()
	got := map[string]int{}
	for range n {
		body, err := haproxytest.Get(c, url(a))
		if err != nil {
			t.Fatalf("GET %s: %v", url(a), err)
		}
		got[body]++
	}
	return got
}
