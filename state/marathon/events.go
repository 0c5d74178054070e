package marathon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/state"
)

// Defaults for the zero fields of EventOptions.
const (
	// DefaultIdleTimeout is how long the event stream may stay quiet
	// before the watchdog probes it. Marathon sends nothing while nothing
	// changes, so quiet alone proves nothing; the probe tells.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultProbeTimeout is how long the watchdog waits for its probe
	// to be announced down the stream before it declares the stream dead.
	DefaultProbeTimeout = 5 * time.Second
	// DefaultResyncInterval is the safety net: a full /v2/apps fetch
	// this often even when the stream looks healthy.
	DefaultResyncInterval = 5 * time.Minute
	// DefaultCoalesceDelay is how long events for one app are gathered
	// before it is refetched.
	DefaultCoalesceDelay = 5 * time.Millisecond
	// DefaultFetchConcurrency bounds the single-app refetches in flight.
	DefaultFetchConcurrency = 4
	// DefaultReconnectMin and DefaultReconnectMax bound the
	// jittered exponential backoff between stream connections.
	DefaultReconnectMin = 250 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
	// DefaultMaxEventBytes bounds one event (and one line) of the stream.
	DefaultMaxEventBytes = 8 << 20
)

// EventOptions tune a EventSource; zero fields take the
// defaults above.
type EventOptions struct {
	// IdleTimeout: a stream quiet for this long is probed.
	IdleTimeout time.Duration
	// ProbeTimeout: how long a probe may take to connect, and its announcement
	// to arrive down the stream.
	ProbeTimeout time.Duration
	// ResyncInterval: time between full resynchronisations on a healthy stream.
	ResyncInterval time.Duration
	// CoalesceDelay: events for the same app within this window (and while a
	// fetch of it is in flight) become one refetch. Negative means no delay.
	CoalesceDelay time.Duration
	// FetchConcurrency bounds the single-app fetches in flight.
	FetchConcurrency int
	// ReconnectMin and ReconnectMax bound the backoff between connections.
	ReconnectMin, ReconnectMax time.Duration
	// MaxEventBytes bounds one event of the stream.
	MaxEventBytes int
	// EventTypes are the event_type filters; EventTypes when nil.
	EventTypes []string
	// Registerer receives the source's metrics; none are registered when nil.
	Registerer prometheus.Registerer
}

func (o EventOptions) withDefaults() EventOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ProbeTimeout, DefaultProbeTimeout)
	def(&o.ResyncInterval, DefaultResyncInterval)
	def(&o.CoalesceDelay, DefaultCoalesceDelay)
	def(&o.ReconnectMin, DefaultReconnectMin)
	def(&o.ReconnectMax, DefaultReconnectMax)
	o.CoalesceDelay = max(o.CoalesceDelay, 0)
	o.ReconnectMax = max(o.ReconnectMax, o.ReconnectMin)
	if o.FetchConcurrency <= 0 {
		o.FetchConcurrency = DefaultFetchConcurrency
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = DefaultMaxEventBytes
	}
	if o.EventTypes == nil {
		o.EventTypes = EventTypes
	}
	return o
}

// EventSource is the Source that follows Marathon through its
// /v2/events server-sent event stream instead of refetching every app every
// few seconds. It fetches the whole app list when a stream opens (Marathon
// drops events when overloaded, so nothing before the stream can be trusted),
// then applies each event to the one app it concerns: a task that reached a
// terminal state is removed at once, without a fetch; any other change to app
// X refetches /v2/apps/X only, with the events for X that arrive within
// CoalesceDelay or while X is being fetched merged into one more fetch; a
// terminated app is removed. Every change publishes a new sealed AppSet.
//
// It never trusts a quiet stream: after IdleTimeout without a byte, a watchdog
// opens a second, empty stream, which makes Marathon announce it down every
// stream; when that announcement does not arrive the stream is dropped and
// reopened (with a full resync). A full resync also runs every ResyncInterval
// and on Refresh. It talks to Marathon as the Poller does, through the same
// client type: failover across the URLs, credentials and TLS settings.
type EventSource struct {
	c       *client
	opts    EventOptions
	log     *slog.Logger
	metrics *eventMetrics
	refresh chan struct{}
	// settled is the number of events handled when the loop last had nothing
	// left to do for them (no app waiting, none in flight, no resync running).
	// Tests wait on it to know the work an event caused is over, not only
	// that the published view looks right.
	settled atomic.Uint64
}

// NewEventSource checks cfg (as NewPoller does; its Interval
// is not used) and returns a source ready to Run. log may be nil.
func NewEventSource(cfg Config, opts EventOptions, log *slog.Logger) (*EventSource, error) {
	if opts.IdleTimeout < 0 || opts.ProbeTimeout < 0 || opts.ResyncInterval < 0 || opts.ReconnectMin < 0 || opts.ReconnectMax < 0 {
		return nil, errors.New("marathon event options: durations must not be negative")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := newClient(cfg, log, opts.Registerer)
	if err != nil {
		return nil, err
	}
	m, err := newEventMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &EventSource{
		c:       c,
		opts:    opts.withDefaults(),
		log:     log.With("via", "events"),
		metrics: m,
		refresh: make(chan struct{}, 1),
	}, nil
}

// Name implements Source.
func (s *EventSource) Name() string { return "marathon" }

// Refresh makes the running source resynchronise every app now (for
// /_mlb_signal/hup and SIGHUP). It never blocks; refreshes asked for while one
// is under way are merged into one more.
func (s *EventSource) Refresh() {
	select {
	case s.refresh <- struct{}{}:
	default:
	}
}

// Current returns the URL (without credentials) the source follows: the one
// that last answered.
func (s *EventSource) Current() string { return s.c.Current() }

// appFetched is the outcome of one fetch of one app.
type appFetched struct {
	id       string
	startSeq uint64
	app      state.App
	leftOut  []state.LeftOut // the app's tasks left out, or the app itself
	gone     bool            // Marathon answered 404
	invalid  bool            // the app's data is invalid: left out
	source   string
	err      error
}

// appsFetched is the outcome of a full resync.
type appsFetched struct {
	startSeq uint64
	set      *state.AppSet
	err      error
}

// eventView is the state Run's loop owns: the apps as last known, and what it
// needs to merge fetches that race with events. Every event gets a sequence
// number; a fetch remembers the number current when it started. applied[X] is
// the newest number whose information about X has been applied (a fetch's start,
// or a removal): a fetch that started earlier is older than what is known and
// is dropped. tombs[X][task] records tasks seen to end, so that a fetch that
// still lists them cannot bring them back.
type eventView struct {
	seq      uint64
	apps     appList
	applied  map[string]uint64
	tombs    map[string]map[string]uint64
	haveBase bool // a full resync has succeeded: the view may be published
	changed  bool
	source   string

	pending  map[string]bool // marked; waiting for the coalescing window
	readyQ   []string        // window passed; to fetch when not in flight
	ready    map[string]bool
	inflight map[string]bool

	resyncing   bool
	resyncAgain string // reason for one more resync after the running one
	resyncFails int

	// streamUp is set while an event stream is open. Without one, resyncs
	// come every Interval: the source polls until the stream is back.
	streamUp bool
	// polling is set from the first failure to open a stream until one
	// opens: what the warning, the note and the gauge say.
	polling bool
}

// idle reports that no event's work is left: nothing marked, queued or in
// flight, and no resync running.
func (v *eventView) idle() bool {
	return len(v.pending) == 0 && len(v.readyQ) == 0 && len(v.inflight) == 0 && !v.resyncing
}

// firstFetchWait is how long Run waits for the event stream before fetching
// the apps without it.
const firstFetchWait = 5 * time.Second

// Run implements Source: it follows the event stream and publishes the apps
// until ctx is done.
func (s *EventSource) Run(ctx context.Context, sink state.Sink) error {
	s.log.Info("following marathon events", "config", s.c.cfg, "event_types", s.opts.EventTypes)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := s.newEventLoop(ctx, sink)
	defer l.workers.Wait()
	defer cancel()
	defer l.coalesce.Stop()
	defer l.resync.Stop()
	l.workers.Go(func() { s.follow(ctx, l.stream, l.sink.FetchFailed) })
	// A stream that neither opens nor fails (a proxy that holds the request)
	// must not hold back the first apps: fetch them if it is not up by then.
	l.resync.Reset(min(s.c.cfg.Interval, firstFetchWait))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-l.stream:
			l.handle(m)
		case m := <-l.results:
			l.handle(m)
		case <-l.coalesce.C:
			l.coalesced()
		case <-l.resync.C:
			reason := "periodic"
			if l.v.resyncFails > 0 {
				reason = "retry"
			}
			l.startResync(reason)
		case <-s.refresh:
			l.startResync("refresh")
		}
		// Take in whatever else is already waiting, so a burst becomes one
		// publish.
	drain:
		for range 4096 {
			select {
			case m := <-l.stream:
				l.handle(m)
			case m := <-l.results:
				l.handle(m)
			default:
				break drain
			}
		}
		l.dispatch()
		l.publish()
	}
}

// applyEvent applies one event to the view.
func (s *EventSource) applyEvent(v *eventView, ev marathonEvent, markDirty func(string), resync func(string)) {
	switch ev.Action {
	case actRefetch:
		for _, id := range ev.AppIDs {
			markDirty(id)
		}
	case actTaskGone:
		id := ev.AppIDs[0]
		if v.tombs[id] == nil {
			v.tombs[id] = map[string]uint64{}
		}
		v.tombs[id][ev.TaskID] = v.seq
		app, ok := v.apps.get(id)
		if !ok {
			return
		}
		if i := slices.IndexFunc(app.Tasks, func(t state.AppTask) bool { return t.ID == ev.TaskID }); i >= 0 {
			// Published sets share the old slice: build a new one.
			app.Tasks = slices.Concat(app.Tasks[:i], app.Tasks[i+1:])
			v.apps.put(app)
			v.changed = true
		}
	case actAppGone:
		id := ev.AppIDs[0]
		v.applied[id] = v.seq
		delete(v.tombs, id)
		if v.apps.remove(id) {
			v.changed = true
		}
	case actResync:
		resync("event")
	}
}

// fetchApp fetches one app (a worker; it touches no view state).
func (s *EventSource) fetchApp(ctx context.Context, id string, start uint64, failed func(string, error)) appFetched {
	r := appFetched{id: id, startSeq: start}
	body, ep, err := s.get(ctx, "app", appPath(id), failed)
	switch {
	case errors.Is(err, errNotFound):
		r.gone, r.source = true, ep.name
		s.metrics.refetches.WithLabelValues("not_found").Inc()
		return r
	case err != nil:
		r.err = err
		s.metrics.refetches.WithLabelValues("error").Inc()
		return r
	}
	r.source = ep.name
	r.app, r.leftOut, r.err = DecodeApp(body)
	if invalid := (*InvalidAppError)(nil); errors.As(r.err, &invalid) {
		// Marathon answered; the app's own data is bad: it is left out.
		lo := invalid.LeftOut()
		lo.ID = id
		r.leftOut = append(r.leftOut, lo)
		r.err = nil
		r.invalid, r.source = true, ep.name
		s.metrics.refetches.WithLabelValues("ok").Inc()
		return r
	}
	if r.err != nil {
		r.err = fmt.Errorf("fetching app %s from %s: %w", id, ep.name, r.err)
		failed(ep.name, r.err)
		s.metrics.refetches.WithLabelValues("error").Inc()
		return r
	}
	if r.app.ID != id {
		r.err = fmt.Errorf("fetching app %s from %s: answered app %q", id, ep.name, r.app.ID)
		s.metrics.refetches.WithLabelValues("error").Inc()
		return r
	}
	s.metrics.refetches.WithLabelValues("ok").Inc()
	return r
}

// applyApp merges one app's fetch into the view.
func (s *EventSource) applyApp(v *eventView, r appFetched, resync func(string)) {
	if r.err != nil {
		// The change the event announced would be lost: fall back on a full
		// resync, which retries with backoff until a Marathon answers.
		s.log.Warn("app refetch failed; resynchronising", "app", r.id, "error", r.err)
		resync("fetch_error")
		return
	}
	if r.startSeq < v.applied[r.id] {
		s.metrics.staleFetches.Inc()
		return
	}
	v.applied[r.id] = r.startSeq
	v.source = r.source
	if v.apps.setLeftOut(r.id, r.leftOut) {
		v.changed = true
	}
	if r.gone || r.invalid {
		delete(v.tombs, r.id)
		if v.apps.remove(r.id) {
			v.changed = true
		}
		return
	}
	v.apps.put(v.bury(r.app, r.startSeq))
	v.changed = true
}

// bury drops from app the tasks seen to end, and forgets the endings a fetch
// that started at start already reflects.
func (v *eventView) bury(app state.App, start uint64) state.App {
	tombs := v.tombs[app.ID]
	if len(tombs) == 0 {
		return app
	}
	app.Tasks = slices.DeleteFunc(app.Tasks, func(t state.AppTask) bool { _, dead := tombs[t.ID]; return dead })
	for task, seq := range tombs {
		if seq <= start {
			delete(tombs, task)
		}
	}
	if len(tombs) == 0 {
		delete(v.tombs, app.ID)
	}
	return app
}

// applyAll merges a full resync into the view: every app the resync knows
// newer than the view replaces it, every app it no longer lists (and the view
// learnt nothing newer about) goes.
func (s *EventSource) applyAll(v *eventView, r appsFetched) {
	// Both lists are sorted by ID: merge them.
	old, fresh := v.apps, r.set.Apps
	var next appList
	next.apps = make([]state.App, 0, max(len(old.apps), len(fresh)))
	next.digs = make([]uint64, 0, cap(next.apps))
	next.leftOutFrom(r.set.LeftOut)
	keep := func(i int) {
		next.apps = append(next.apps, old.apps[i])
		next.digs = append(next.digs, old.digs[i])
		next.setLeftOut(old.apps[i].ID, old.leftOut[old.apps[i].ID])
	}
	i, j := 0, 0
	for i < len(old.apps) || j < len(fresh) {
		switch {
		case j == len(fresh) || (i < len(old.apps) && old.apps[i].ID < fresh[j].ID):
			// Gone from Marathon, unless the view learnt of it since.
			if r.startSeq < v.applied[old.apps[i].ID] {
				keep(i)
			}
			i++
		case i == len(old.apps) || fresh[j].ID < old.apps[i].ID:
			// New, unless the view saw it go since.
			if r.startSeq >= v.applied[fresh[j].ID] {
				app := v.bury(fresh[j], r.startSeq)
				next.apps = append(next.apps, app)
				next.digs = append(next.digs, state.AppDigest(&app))
				v.applied[app.ID] = r.startSeq
			}
			j++
		default:
			if r.startSeq < v.applied[old.apps[i].ID] {
				keep(i)
			} else {
				app := v.bury(fresh[j], r.startSeq)
				next.apps = append(next.apps, app)
				next.digs = append(next.digs, state.AppDigest(&app))
				v.applied[app.ID] = r.startSeq
			}
			i++
			j++
		}
	}
	v.apps = next
	// What the resync covers needs no remembering any more.
	for id, seq := range v.applied {
		if _, ok := v.apps.find(id); !ok && seq <= r.startSeq {
			delete(v.applied, id)
		}
	}
	for id, tombs := range v.tombs {
		for task, seq := range tombs {
			if seq <= r.startSeq {
				delete(tombs, task)
			}
		}
		if len(tombs) == 0 {
			delete(v.tombs, id)
		}
	}
	v.source = r.set.Source
	v.haveBase = true
	v.changed = true // published even when equal: the hub learns the source is fresh
	s.log.Debug("marathon apps resynchronised", "apps", v.apps.len())
}

// serialSink serialises the calls to a Sink.
type serialSink struct {
	mu   sync.Mutex
	sink state.Sink
}

func (s *serialSink) PublishCluster(c *state.Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink.PublishCluster(c)
}

func (s *serialSink) PublishApps(a *state.AppSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink.PublishApps(a)
}

func (s *serialSink) FetchFailed(source string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink.FetchFailed(source, err)
}

// SourceNote passes a note on to a sink that keeps them.
func (s *serialSink) SourceNote(source, note string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.sink.(state.Noter); ok {
		n.SourceNote(source, note)
	}
}
