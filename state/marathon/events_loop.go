package marathon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/discovery-mesos/discovery/internal/backoff"
	"github.com/discovery-mesos/discovery/state"
)

// eventLoop is the state of Run's loop, which alone touches it: the view,
// the coalescing and resync timers, and the fetch workers it starts. The
// stream and the workers hand it their results on channels.
type eventLoop struct {
	s   *EventSource
	ctx context.Context
	// sink is serialised: the stream and fetch goroutines report failures
	// while the loop publishes, and the sink sees one call at a time.
	sink  state.Sink
	known map[string]bool // the event types asked for, as metric labels

	v       *eventView
	stream  chan streamMsg
	results chan any // appFetched, appsFetched
	workers sync.WaitGroup

	coalesce      *time.Timer
	coalesceArmed bool
	resync        *time.Timer
}

func (s *EventSource) newEventLoop(ctx context.Context, sink state.Sink) *eventLoop {
	l := &eventLoop{
		s:       s,
		ctx:     ctx,
		sink:    &serialSink{sink: sink},
		known:   make(map[string]bool, len(s.opts.EventTypes)),
		stream:  make(chan streamMsg, 1024),
		results: make(chan any, s.opts.FetchConcurrency+2),
		v: &eventView{
			applied:  map[string]uint64{},
			tombs:    map[string]map[string]uint64{},
			pending:  map[string]bool{},
			ready:    map[string]bool{},
			inflight: map[string]bool{},
		},
		coalesce: time.NewTimer(time.Hour),
		resync:   time.NewTimer(time.Hour),
	}
	l.coalesce.Stop()
	l.resync.Stop()
	for _, t := range s.opts.EventTypes {
		l.known[t] = true
	}
	return l
}

// startResync fetches every app, or asks for one more resync after the one
// running.
func (l *eventLoop) startResync(reason string) {
	v, s := l.v, l.s
	if v.resyncing {
		v.resyncAgain = reason
		return
	}
	v.resyncing = true
	l.resync.Stop()
	s.metrics.resyncs.WithLabelValues(reason).Inc()
	start := v.seq
	l.workers.Go(func() {
		r := appsFetched{startSeq: start}
		r.set, r.err = s.getApps(l.ctx, l.sink.FetchFailed)
		select {
		case l.results <- r:
		case <-l.ctx.Done():
		}
	})
}

// dispatch starts fetches of the apps whose coalescing window has passed, at
// most FetchConcurrency at a time and one per app.
func (l *eventLoop) dispatch() {
	v, s := l.v, l.s
	n := len(v.readyQ)
	for k := 0; k < n && len(v.inflight) < s.opts.FetchConcurrency && len(v.readyQ) > 0; k++ {
		id := v.readyQ[0]
		v.readyQ = v.readyQ[1:]
		if v.inflight[id] {
			v.readyQ = append(v.readyQ, id) // after its fetch ends
			continue
		}
		delete(v.ready, id)
		v.inflight[id] = true
		start := v.seq
		l.workers.Go(func() {
			r := s.fetchApp(l.ctx, id, start, l.sink.FetchFailed)
			select {
			case l.results <- r:
			case <-l.ctx.Done():
			}
		})
	}
}

// markDirty asks for a refetch of app id, after the coalescing window.
func (l *eventLoop) markDirty(id string) {
	v := l.v
	if v.ready[id] || v.pending[id] {
		return
	}
	if l.s.opts.CoalesceDelay == 0 {
		v.ready[id] = true
		v.readyQ = append(v.readyQ, id)
		return
	}
	v.pending[id] = true
	if !l.coalesceArmed {
		l.coalesceArmed = true
		l.coalesce.Reset(l.s.opts.CoalesceDelay)
	}
}

// coalesced queues the apps whose coalescing window has passed.
func (l *eventLoop) coalesced() {
	v := l.v
	l.coalesceArmed = false
	for id := range v.pending {
		v.ready[id] = true
		v.readyQ = append(v.readyQ, id)
	}
	clear(v.pending)
}

// handle takes in one message from the stream or a worker.
func (l *eventLoop) handle(m any) {
	v, s := l.v, l.s
	switch m := m.(type) {
	case streamMsg:
		switch {
		case m.up != "":
			s.log.Info("marathon event stream open", "url", m.up)
			v.streamUp = true
			if v.polling {
				v.polling = false
				s.metrics.polling.Set(0)
				l.note("")
				s.log.Info("marathon event stream is back; polling stops", "url", m.up)
			}
			l.startResync("connect")
		case m.down != nil:
			v.streamUp = false
			if !v.polling {
				v.polling = true
				s.metrics.polling.Set(1)
				note := fmt.Sprintf("no event stream (%v): polling /v2/apps every %v until it opens", m.down, s.c.cfg.Interval)
				l.note(note)
				s.log.Warn("marathon event stream unavailable; polling the apps until it opens", "interval", s.c.cfg.Interval, "error", m.down)
				l.startResync("no_stream")
			}
		case m.ended:
			v.streamUp = false
		case m.badEvent != nil:
			s.metrics.decodeErrors.Inc()
			s.log.Warn("bad marathon event; resynchronising", "error", m.badEvent)
			v.seq++
			l.startResync("event")
		default:
			typ := m.ev.Type
			if !l.known[typ] {
				typ = "other" // bounds the label values a server can create
			}
			s.metrics.events.WithLabelValues(typ).Inc()
			v.seq++
			s.applyEvent(v, m.ev, l.markDirty, l.startResync)
		}
	case appFetched:
		delete(v.inflight, m.id)
		s.applyApp(v, m, l.startResync)
	case appsFetched:
		v.resyncing = false
		if m.err != nil {
			s.metrics.resyncFailed.Inc()
			v.resyncFails++
			s.log.Error("no marathon answered the resync; keeping the last good apps", "error", m.err)
			if v.resyncAgain == "" {
				l.resync.Reset(backoff.Attempt(v.resyncFails-1, s.opts.ReconnectMin, s.opts.ReconnectMax))
			}
		} else {
			v.resyncFails = 0
			s.applyAll(v, m)
			if v.streamUp {
				l.resync.Reset(s.opts.ResyncInterval)
			} else {
				l.resync.Reset(s.c.cfg.Interval)
			}
		}
		if again := v.resyncAgain; again != "" {
			v.resyncAgain = ""
			l.startResync(again)
		}
	}
}

// note tells the sink, when it keeps notes (the hub, for the status page),
// how the source follows Marathon now; "" clears it. It is kept under the
// name the apps are published under: the current Marathon URL.
func (l *eventLoop) note(text string) {
	if n, ok := l.sink.(state.Noter); ok {
		n.SourceNote(l.s.c.Current(), text)
	}
}

// publish hands on the view when it changed (once a full resync has given it
// a base), and records how far the events' work has settled.
func (l *eventLoop) publish() {
	v, s := l.v, l.s
	if v.changed && v.haveBase {
		l.sink.PublishApps(v.apps.snapshot(v.source))
		s.metrics.publishes.Inc()
		v.changed = false
	}
	if v.idle() {
		s.settled.Store(v.seq)
	}
}
