package lbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/discovery-mesos/discovery/internal/backoff"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/state"
)

// SyncerOptions configure a Syncer.
type SyncerOptions struct {
	// HAProxy is the HAProxy to keep in step (required). Its ConfigPath is
	// where configs are written.
	HAProxy *HAProxy
	// StatsSocket is the worker stats socket the rendered config declares
	// (Config.StatsSocket): the Runtime API (required).
	StatsSocket string
	// Build builds models from snapshots (required).
	Build lbmodel.BuildFunc
	// ArchiveDir keeps the last ArchiveKeep configs that reloads loaded (not
	// the rewrites after runtime changes); none when either is zero.
	ArchiveDir  string
	ArchiveKeep int
	// DrainTimeout bounds how long a removed server drains before it is
	// deleted with its remaining connections closed; 30s when zero.
	DrainTimeout time.Duration
	// RetryBackoff is the first delay before retrying a failed apply (doubling
	// up to 30s, jittered as internal/backoff does); 1s when zero.
	RetryBackoff time.Duration
	// ListenerCheck is how often HAProxy's listeners are checked to accept
	// connections (watchListeners); default 3 s.
	ListenerCheck time.Duration
	// Registerer receives the discovery_lb_* metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger is the syncer's logger (with "component", "lbsync").
	Logger *slog.Logger
}

// Syncer keeps HAProxy in step with the snapshots it is given: it builds the
// model of the latest one, plans, and applies the plan (Runtime API or reload).
// It reads snapshots as they come and always works on the newest, so it never
// holds a source back; a slow apply only skips intermediate snapshots.
type Syncer struct {
	opts    SyncerOptions
	log     *slog.Logger
	h       *HAProxy
	rt      *runtimeAPI
	applier *applier
	m       *metrics

	// snaps is the channel Run reads; only Run's goroutine uses it.
	snaps <-chan *state.Snapshot

	kick chan struct{}
	// reloaded is signalled after each reload, for watchListeners.
	reloaded chan struct{}

	mu        sync.Mutex
	latest    *state.Snapshot
	arrived   time.Time
	dirty     bool             // latest not applied yet
	force     []lbmodel.Reason // reload reasons asked for from outside
	doneSeq   uint64
	doneErr   error
	doneAt    time.Time
	lastVia   string
	lastTook  time.Duration
	modelErrs []lbmodel.AppError
	changes   []ChangeRecord // runtime changes, for the feed (reloads are the applier's)
	changed   chan struct{}  // closed and replaced after each apply

	// held are the claims saved before a start (claims_file.go);
	// savedClaims the ones written last. Only Run's goroutine uses them.
	held, savedClaims map[string]string
}

// NewSyncer returns a syncer for opts.HAProxy.
func NewSyncer(opts SyncerOptions) (*Syncer, error) {
	if opts.HAProxy == nil || opts.Build == nil || opts.StatsSocket == "" {
		return nil, errors.New("lbsync: HAProxy, Build and StatsSocket are required")
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = time.Second
	}
	if opts.ListenerCheck <= 0 {
		opts.ListenerCheck = 3 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := opts.HAProxy
	m := newMetrics(opts.Registerer, func() float64 { return float64(h.Restarts()) })
	rt := newRuntimeAPI(opts.StatsSocket, opts.DrainTimeout, log, m)
	s := &Syncer{
		opts:     opts,
		log:      log,
		h:        h,
		rt:       rt,
		applier:  newApplier(h, rt, newArchive(opts.ArchiveDir, opts.ArchiveKeep), m, log),
		m:        m,
		kick:     make(chan struct{}, 1),
		reloaded: make(chan struct{}, 1),
		changed:  make(chan struct{}),
	}
	held, err := loadClaims(claimsPath(h.ConfigPath()))
	if err != nil {
		log.Warn("who held which port and vhost before the start is unknown; the oldest app wins", "err", err)
	}
	s.held, s.savedClaims = held, held
	h.setOnRestart(func() {
		s.rt.Forget()
		s.requestReload(lbmodel.Reason{Class: lbmodel.ReasonRestarted, Detail: "haproxy restarted, loading the current config again"})
	})
	return s, nil
}

// Run applies the snapshots from snaps until ctx ends, first removing the temp
// files interrupted writes left (removeStaleTemps). It also deletes drained
// servers in the background.
func (s *Syncer) Run(ctx context.Context, snaps <-chan *state.Snapshot) error {
	// Before our first write: nothing of ours is being written yet.
	removeStaleTemps(s.h.ConfigPath(), s.opts.ArchiveDir, s.log)
	go s.rt.RunReaper(ctx, 100*time.Millisecond)
	go s.watchListeners(ctx, s.opts.ListenerCheck)
	var retry <-chan time.Time
	retryDelay := backoff.New(s.opts.RetryBackoff, 30*time.Second)
	s.snaps = snaps
	for {
		select {
		case <-ctx.Done():
			return nil
		case snap, ok := <-s.snaps:
			if !ok {
				s.snaps = nil
				continue
			}
			s.received(snap)
		case <-s.kick:
		case <-retry:
			retry = nil
			s.mu.Lock()
			s.dirty = true
			s.mu.Unlock()
		}
		if err := s.process(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d := retryDelay.Next()
			s.log.Error("applying load balancer config failed", "err", err, "retry_in", d)
			retry = time.After(d)
		} else {
			retryDelay.Reset()
		}
	}
}

// received records snap as the latest snapshot, to be applied.
func (s *Syncer) received(snap *state.Snapshot) {
	s.mu.Lock()
	s.latest, s.arrived, s.dirty = snap, time.Now(), true
	s.mu.Unlock()
}

// newerThan takes the snapshot waiting in the channel, if any, without
// waiting, and returns the latest snapshot when it is not snap (nil when no
// newer one has arrived). The latest stays pending: Run applies it next.
// Only Run's goroutine calls it (from process).
func (s *Syncer) newerThan(snap *state.Snapshot) *state.Snapshot {
	select {
	case n, ok := <-s.snaps:
		if !ok {
			s.snaps = nil
		} else {
			s.received(n)
			s.wake() // Run's loop no longer sees it in the channel
		}
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latest == snap {
		return nil
	}
	return s.latest
}

// process applies the latest snapshot if it (or a forced reload) is pending.
func (s *Syncer) process(ctx context.Context) error {
	s.mu.Lock()
	snap, arrived, force := s.latest, s.arrived, s.force
	if snap == nil || (!s.dirty && len(force) == 0) {
		s.mu.Unlock()
		return nil
	}
	s.dirty, s.force = false, nil
	s.mu.Unlock()

	previous := s.Model()
	model, err := s.opts.Build(snap, s.buildOptions(previous, nil))
	if err == nil {
		s.m.appsLeftOut.WithLabelValues("model").Set(float64(len(model.Errors)))
		rebuild := func(exclude []string) (*lbmodel.Model, error) {
			ex := make(map[string]bool, len(exclude))
			for _, a := range exclude {
				ex[a] = true
			}
			return s.opts.Build(snap, s.buildOptions(previous, ex))
		}
		// A reload takes its time (haproxy -c, then the reload): the servers
		// of a snapshot that arrives meanwhile can be loaded with it.
		var newerSnap *state.Snapshot
		var newerKey string
		var newerModel *lbmodel.Model
		newer := func(exclude []string) (*lbmodel.Model, error) {
			n := s.newerThan(snap)
			if n == nil {
				return nil, nil
			}
			key := strings.Join(exclude, "\x00")
			if n == newerSnap && key == newerKey {
				return newerModel, nil // asked again, nothing newer
			}
			ex := make(map[string]bool, len(exclude))
			for _, a := range exclude {
				ex[a] = true
			}
			m, err := s.opts.Build(n, s.buildOptions(s.Model(), ex))
			if err != nil {
				return nil, fmt.Errorf("building model of snapshot %d: %w", n.Seq, err)
			}
			newerSnap, newerKey, newerModel = n, key, m
			return m, nil
		}
		var res ApplyResult
		if model == previous && len(force) == 0 && !s.applier.diskStale {
			// The build gave back the model HAProxy runs (lbmodel.ModelBuilder's
			// cache: nothing the load balancer reads changed, e.g. a Mesos
			// view in Marathon mode): nothing to plan, render or write.
			res.Via = "none"
		} else {
			res, err = s.applier.apply(ctx, model, rebuild, newer, force)
		}
		s.m.checks.Add(float64(res.Checks))
		var took time.Duration
		if !res.Reached.IsZero() {
			took = res.Reached.Sub(arrived)
		}
		if err == nil && (res.Via == "reload" || res.Via == "start") {
			s.saveClaims(s.Model())
		}
		if err == nil && res.Via == "reload" {
			select {
			case s.reloaded <- struct{}{}:
			default:
			}
		}
		if err == nil && res.Via != "none" {
			s.m.applyDuration.WithLabelValues(res.Via).Observe(took.Seconds())
			if res.Via == "runtime" {
				s.recordRuntime(snap.Seq, time.Now(), res.Plan.Runtime, took)
				s.log.Info("haproxy servers changed", "seq", snap.Seq, "via", "runtime api", "ops", len(res.Plan.Runtime),
					"changes", opsSummary(res.Plan.Runtime), "took", took.Round(time.Microsecond))
			}
		}
		s.mu.Lock()
		s.modelErrs = model.Errors
		if err == nil {
			s.lastVia, s.lastTook = res.Via, took
		}
		s.mu.Unlock()
	} else {
		err = fmt.Errorf("building model of snapshot %d: %w", snap.Seq, err)
	}
	s.mu.Lock()
	if err != nil {
		s.dirty = true // retried
		s.force = append(force, s.force...)
	} else {
		s.m.lastApplied.Set(float64(snap.Seq))
	}
	s.doneSeq, s.doneErr, s.doneAt = snap.Seq, err, time.Now()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return err
}

// Resync rebuilds and re-applies the latest snapshot (templates changed, or the
// hup signal after a refetch). Nothing happens when the result is unchanged.
func (s *Syncer) Resync() {
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
	s.wake()
}

// Reload forces a reload of HAProxy with the current config (the usr1 signal).
func (s *Syncer) Reload() {
	s.requestReload(lbmodel.Reason{Class: lbmodel.ReasonForced, Detail: "reload requested"})
}

func (s *Syncer) requestReload(r lbmodel.Reason) {
	s.mu.Lock()
	if r.Class == lbmodel.ReasonRestarted {
		// A restart comes first, and names the reload: what else was asked
		// for meanwhile (a listener refusing because the process died) is
		// its consequence.
		s.force = slices.Insert(s.force, 0, r)
	} else {
		s.force = append(s.force, r)
	}
	s.mu.Unlock()
	s.wake()
}

func (s *Syncer) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// WaitApplied waits until the snapshot numbered seq (or a later one) has been
// processed, and returns that processing's error. Tests use it instead of
// sleeping; so can anything that must know HAProxy runs a given snapshot.
func (s *Syncer) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		done, err, ch := s.doneSeq, s.doneErr, s.changed
		s.mu.Unlock()
		if done >= seq {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for snapshot %d to be applied (at %d): %w", seq, done, ctx.Err())
		}
	}
}

// Changed returns a channel closed after the next apply (successful or not).
func (s *Syncer) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Status is what the syncer reports for the status page and the HTTP API.
type Status struct {
	// Seq is the latest snapshot processed; Err its failure, if it failed.
	Seq uint64
	At  time.Time
	Err string
	// Via is how the latest change reached HAProxy ("runtime", "reload",
	// "start", "none"), Took the time from the snapshot's arrival until
	// HAProxy ran it.
	Via  string
	Took time.Duration
	// Reloads are the latest reloads, oldest first.
	Reloads []ReloadRecord
	// Changes are the latest changes HAProxy took, runtime and reloads,
	// oldest first.
	Changes []ChangeRecord
	// LeftOut are the apps (or app ports) not in the config: bad labels (from
	// the model) and apps whose config fails validation.
	LeftOut []lbmodel.AppError
	// Backends and Servers count what HAProxy runs.
	Backends, Servers int
	// Draining counts removed servers not yet deleted.
	Draining int
	// Restarts counts HAProxy restarts after a crash.
	Restarts int64
}

// Status returns the syncer's current state.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	st := Status{Seq: s.doneSeq, At: s.doneAt, Via: s.lastVia, Took: s.lastTook}
	if s.doneErr != nil {
		st.Err = s.doneErr.Error()
	}
	st.LeftOut = slices.Clone(s.modelErrs)
	runtime := slices.Clone(s.changes)
	s.mu.Unlock()

	a := s.applier
	a.mu.Lock()
	st.Reloads = slices.Clone(a.reloads)
	if a.running != nil {
		st.Backends = len(a.running.Backends)
		for i := range a.running.Backends {
			st.Servers += len(a.running.Backends[i].Servers)
		}
	}
	a.mu.Unlock()
	st.LeftOut = append(st.LeftOut, a.invalidErrors()...)
	st.Changes = changeFeed(runtime, st.Reloads)
	st.Draining = s.rt.Pending()
	st.Restarts = s.h.Restarts()
	return st
}

// InvalidApps returns the apps left out because their config fails validation.
func (s *Syncer) InvalidApps() []string { return s.applier.Invalid() }

// Model returns the model HAProxy runs, nil before the first apply.
func (s *Syncer) Model() *lbmodel.Model {
	m, _ := s.applier.current()
	return m
}

// Config returns the config HAProxy runs (the config file's bytes), nil before
// the first apply.
func (s *Syncer) Config() []byte {
	_, t := s.applier.current()
	return t.Bytes()
}
