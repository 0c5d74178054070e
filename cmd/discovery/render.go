package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
)

// runRender is `discovery render` (and marathon-lb's --dry): fetch the cluster
// once from every configured source, print the HAProxy config on stdout and
// exit. Errors go to stderr with a non-zero exit; apps left out are reported on
// stderr and do not fail the command.
func runRender(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgsFor(args, stderr, false)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "discovery render:", err)
		return 2
	}
	if len(o.lb.cfg.Groups) == 0 {
		fmt.Fprintln(stderr, "discovery render: give at least one --group (use * for every app)")
		return 2
	}
	o.lb.dry = true
	// One view, built once, then the process exits: collecting its garbage
	// early would cost time and free nothing for later. A quarter of the
	// collections still bounds the heap to a few times the view.
	debug.SetGCPercent(400)
	log, err := newLogger(stderr, o.cfg.LogFormat, "warn")
	if err != nil {
		fmt.Fprintln(stderr, "discovery render:", err)
		return 2
	}
	for _, w := range o.warnings {
		log.Warn(w)
	}
	d, err := newDaemon(o.cfg, o.lb, nil, log)
	if err != nil {
		fmt.Fprintln(stderr, "discovery render:", err)
		return 1
	}
	timeout := time.Duration(o.cfg.StateTimeoutSeconds) * time.Second
	snap, err := fetchOnce(d.sources, timeout)
	if err != nil {
		fmt.Fprintln(stderr, "discovery render:", err)
		return 1
	}
	// One build: the daemon's model cache (kept for the next snapshot) would
	// only add to it.
	m, err := lbmodel.BuildModel(lbmodel.SnapshotApps(snap), o.lb.cfg, d.lb.templates.Load(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "discovery render:", err)
		return 1
	}
	for _, e := range m.Errors {
		log.Warn("app left out", "app", e.AppID, "port", e.Port, "reason", e.Reason)
	}
	out, err := lbmodel.Render(m)
	if err != nil {
		fmt.Fprintln(stderr, "discovery render:", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintln(stderr, "discovery render:", err)
		return 1
	}
	return 0
}

// fetchOnce runs every source until it has delivered one view, and fails on the
// first failed fetch of any (render has no last good view to fall back on).
func fetchOnce(sources []state.Source, timeout time.Duration) (*state.Snapshot, error) {
	if len(sources) == 0 {
		return nil, errors.New("nothing to fetch from: give --marathon, masters, zk or stateFile")
	}
	snap := &state.Snapshot{Seq: 1}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, src := range sources {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		sink := &onceSink{cancel: cancel}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			err := src.Run(ctx, sink)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case sink.err != nil:
				errs = append(errs, fmt.Errorf("%s: %w", src.Name(), sink.err))
			case sink.cluster == nil && sink.apps == nil && err != nil && !errors.Is(err, context.Canceled):
				errs = append(errs, fmt.Errorf("%s: %w", src.Name(), err))
			case sink.cluster == nil && sink.apps == nil:
				errs = append(errs, fmt.Errorf("%s: nothing fetched within %v", src.Name(), timeout))
			}
			if sink.cluster != nil {
				snap.Cluster = sink.cluster
			}
			if sink.apps != nil {
				snap.Apps = sink.apps
			}
		}()
	}
	wg.Wait()
	return snap, errors.Join(errs...)
}

// onceSink keeps the first view a source delivers (or its first failure) and
// stops the source.
type onceSink struct {
	cancel  context.CancelFunc
	mu      sync.Mutex
	cluster *state.Cluster
	apps    *state.AppSet
	err     error
}

func (s *onceSink) PublishCluster(c *state.Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster == nil && s.err == nil {
		s.cluster = c
	}
	s.cancel()
}

func (s *onceSink) PublishApps(a *state.AppSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil && s.err == nil {
		s.apps = a
	}
	s.cancel()
}

func (s *onceSink) FetchFailed(_ string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && s.cluster == nil && s.apps == nil {
		s.err = err
	}
	s.cancel()
}
