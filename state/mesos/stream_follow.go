package mesos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/master"

	"github.com/discovery-mesos/discovery/state"
)

// mesosStreamItem is what the reader hands the session loop: an event or the error
// that ended the stream.
type mesosStreamItem struct {
	e *master.Event
	// sub is a SUBSCRIBED event, decoded as it arrived (e is nil).
	sub *subscribedState
	typ string
	err error
	// more: bytes of the next record had arrived already when this one was
	// decoded (the master sent them together).
	more bool
}

// follow reads the stream from addr until it fails, keeping the model and
// publishing a view after every batch of events.
func (s *Stream) follow(ctx context.Context, sink state.Sink, body io.ReadCloser, addr string, known []state.Master) mesosSessionResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.metrics.connected.Set(1)
	defer s.metrics.connected.Set(0)

	f := s.newFollowing(ctx, sink, addr, known)
	readerDone := make(chan struct{})
	defer func() { cancel(); body.Close(); <-readerDone }()
	go func() {
		defer close(readerDone)
		s.read(ctx, &mesosCountingReader{r: body, c: s.metrics.bytes, total: &s.received}, f.items)
	}()
	defer f.watchdog.Stop()
	defer f.follower.Stop()

	// What the v1 API does not say: who the leader is (GET_MASTER, asked while
	// the SUBSCRIBED record streams in) and the frameworks' pids
	// (/master/state-summary, asked when SUBSCRIBED has arrived, so that it
	// knows every framework the state names, and again after framework events).
	leaderc := make(chan leaderAnswer, 1)
	go func() {
		m, err := s.getMaster(ctx, addr)
		leaderc <- leaderAnswer{m, err}
	}()

	for {
		select {
		case <-ctx.Done():
			f.res.err = ctx.Err()
			return f.res
		case <-s.m.leader.leaderChanged():
			f.res.err = errLeaderChanged
			return f.res
		case a := <-leaderc:
			if a.err != nil {
				// The stream is fine; name the leader by its address.
				s.log.Warn("asking the master who it is failed; naming it by its address", "master", addr, "err", a.err)
				a.m = masterFromAddr(addr)
			}
			f.leader = &a.m
			f.start()
		case p := <-f.pidc:
			f.gotPIDs(p)
		case <-f.watchdog.C:
			if f.subscribed {
				s.metrics.heartbeatTimeouts.Inc()
				f.res.err = fmt.Errorf("the event stream from %s went silent: nothing for %v (%d heartbeat intervals)", addr, f.timeout, s.cfg.MissedHeartbeats)
			} else {
				f.res.err = fmt.Errorf("no SUBSCRIBED event from %s within %v (stateTimeoutSeconds)", addr, f.timeout)
			}
			return f.res
		case it := <-f.items:
			if f.batch(it) {
				return f.res
			}
		}
	}
}

// leaderAnswer is GET_MASTER's answer.
type leaderAnswer struct {
	m   state.Master
	err error
}

// following is the state of follow's loop over one subscription: the model,
// what the v1 API does not say yet (the leader, the frameworks' pids), the
// SUBSCRIBED waiting for them, the last view published, and the timers.
type following struct {
	s     *Stream
	ctx   context.Context
	sink  state.Sink
	addr  string
	known []state.Master
	res   mesosSessionResult
	items chan mesosStreamItem

	model        *streamModel
	subscribed   bool
	leader       *state.Master
	pids         map[string]string
	pendingState *subscribedState // SUBSCRIBED waiting for the leader and pids
	early        []*master.Event  // events that came in meanwhile
	last         *state.Cluster

	pidc                chan map[string]string
	pidsBusy, pidsAgain bool

	// timeout is how long the stream may stay silent: StateTimeout until
	// SUBSCRIBED, then MissedHeartbeats heartbeat intervals.
	timeout  time.Duration
	watchdog *time.Timer
	// follower bounds the wait for a record that arrived with the one before
	// it (see mesosStreamItem.more).
	follower *time.Timer
}

func (s *Stream) newFollowing(ctx context.Context, sink state.Sink, addr string, known []state.Master) *following {
	f := &following{
		s:        s,
		ctx:      ctx,
		sink:     sink,
		addr:     addr,
		known:    known,
		res:      mesosSessionResult{master: addr, healthyAfter: time.Duration(s.cfg.MissedHeartbeats) * defaultHeartbeat},
		items:    make(chan mesosStreamItem, 1024),
		model:    newStreamModel(),
		pidc:     make(chan map[string]string, 1),
		timeout:  s.cfg.StateTimeout,
		watchdog: time.NewTimer(s.cfg.StateTimeout),
		follower: time.NewTimer(time.Hour),
	}
	f.follower.Stop()
	return f
}

// fetchPIDs reads the frameworks' pids, or asks for one more read after the
// one under way.
func (f *following) fetchPIDs() {
	if f.pidsBusy {
		f.pidsAgain = true
		return
	}
	f.pidsBusy = true
	go func() { f.pidc <- f.s.frameworkPIDs(f.ctx, f.addr) }()
}

// gotPIDs takes in the frameworks' pids: the first read completes what
// SUBSCRIBED needs, a later one updates the view.
func (f *following) gotPIDs(p map[string]string) {
	f.pidsBusy = false
	if f.pids == nil {
		f.pids = p
		f.start()
	} else if f.subscribed && f.model.setFrameworkPIDs(p) {
		f.publish(0)
	}
	if f.pidsAgain {
		f.pidsAgain = false
		f.fetchPIDs()
	}
}

// publish builds a view of the model and hands it on; n is the number of
// events it takes in.
func (f *following) publish(n int) {
	began := time.Now()
	f.last = f.model.build(f.s.Name(), began, f.known)
	f.sink.PublishCluster(f.last)
	f.s.metrics.publish.Observe(time.Since(began).Seconds())
	f.s.metrics.batch.Observe(float64(n))
}

// confirm tells the sink the view is current (a heartbeat proves the stream
// alive): the same content, fetched now, so that a quiet cluster does not
// look stale.
func (f *following) confirm() {
	if f.last != nil {
		c := *f.last
		c.FetchedAt = time.Now()
		f.sink.PublishCluster(&c)
	}
}

// start applies SUBSCRIBED, and the events that followed it, once the leader
// and the pids are known.
func (f *following) start() {
	if f.pendingState == nil || f.leader == nil || f.pids == nil {
		return
	}
	ss := f.pendingState
	f.pendingState = nil
	f.model.leader = *f.leader
	f.model.resetTo(ss, f.pids)
	refresh := false
	for _, e := range f.early {
		_, r := f.model.apply(e)
		refresh = refresh || r
	}
	n := 1 + len(f.early)
	f.early = nil
	f.subscribed = true
	f.res.subscribed = true
	f.publish(n)
	f.s.log.Info("subscribed to the mesos event stream", "master", f.addr,
		"tasks", len(f.model.order), "agents", len(f.model.agents), "frameworks", len(f.model.frameworks))
	if refresh {
		f.fetchPIDs()
	}
}

// batch applies it and the items that arrived back to back with it (at most
// MaxBatch), then publishes one view. It reports whether the stream is over
// (f.res says why).
func (f *following) batch(it mesosStreamItem) (over bool) {
	s := f.s
	n, changed, refresh, heartbeat := 0, false, false, false
	for {
		if it.err != nil {
			if errors.Is(it.err, io.EOF) {
				f.res.err = fmt.Errorf("the master at %s closed the event stream", f.addr)
			} else {
				f.res.err = fmt.Errorf("reading the event stream from %s: %w", f.addr, it.err)
			}
			if changed {
				f.publish(n)
			}
			return true
		}
		n++
		if it.e == nil && it.sub != nil {
			it.e = &master.Event{Type: master.Event_SUBSCRIBED}
		} else if it.e != nil && it.e.Type == master.Event_SUBSCRIBED && it.e.Subscribed != nil {
			it.sub = subscribedFromV1(it.e.Subscribed)
		}
		if it.e != nil {
			s.metrics.events.WithLabelValues(it.typ).Inc()
		} else {
			// A type from a newer master, named by the network: not a label
			// value.
			s.metrics.events.WithLabelValues("unknown").Inc()
			s.log.Debug("skipping an event of an unknown type", "type", it.typ)
		}
		if e := it.e; e != nil {
			switch e.Type {
			case master.Event_SUBSCRIBED:
				if it.sub == nil || !it.sub.hasState {
					// An empty view would replace the good one.
					f.res.err = fmt.Errorf("the master at %s sent SUBSCRIBED without get_state", f.addr)
					return true
				}
				hb := defaultHeartbeat
				if v := it.sub.heartbeat; v > 0 {
					hb = time.Duration(v * float64(time.Second))
				}
				f.timeout = time.Duration(s.cfg.MissedHeartbeats) * hb
				f.res.healthyAfter = f.timeout
				f.subscribed, changed = false, false
				f.pendingState, f.early, f.pids = it.sub, nil, nil
				f.fetchPIDs()
			case master.Event_HEARTBEAT:
				heartbeat = true
			default:
				if f.subscribed {
					c, r := f.model.apply(e)
					changed = changed || c
					refresh = refresh || r
				} else if f.pendingState != nil {
					f.early = append(f.early, e)
				}
			}
		}
		if n >= s.cfg.MaxBatch {
			break
		}
		select {
		case it = <-f.items:
			continue
		default:
		}
		if it.more {
			// The next record came with this one (a task's TASK_ADDED and
			// its TASK_RUNNING, say): apply it too rather than publish a
			// view it replaces at once. Its bytes are here; only decoding
			// them is left.
			f.follower.Reset(f.s.followerWait)
			select {
			case it = <-f.items:
				f.follower.Stop()
				continue
			case <-f.follower.C:
			case <-f.ctx.Done():
			}
		}
		break
	}
	if !f.watchdog.Stop() {
		select {
		case <-f.watchdog.C:
		default:
		}
	}
	f.watchdog.Reset(f.timeout)
	switch {
	case changed:
		f.publish(n)
	case heartbeat && f.subscribed:
		f.confirm()
	}
	if refresh {
		f.fetchPIDs()
	}
	return false
}

// read decodes records from r into items until the stream fails; the last item
// carries the error. A SUBSCRIBED event is decoded as it arrives, whatever
// its size (only what it decodes into is bounded, by MaxStateBytes); any
// other event is read whole, up to MaxRecordBytes.
func (s *Stream) read(ctx context.Context, r io.Reader, items chan<- mesosStreamItem) {
	limit := s.cfg.MaxRecordBytes
	if limit <= 0 {
		limit = s.cfg.MaxStateBytes
	}
	rr := newRecordIOReader(r, limit)
	for {
		var it mesosStreamItem
		n, err := rr.length()
		switch {
		case err != nil:
		case looksSubscribed(rr.head(n, subscribedHead)):
			it.typ = "SUBSCRIBED"
			it.sub, err = decodeSubscribed(rr.body(n), s.cfg.MaxStateBytes)
		default:
			var rec []byte
			if rec, err = rr.record(n); err == nil {
				if it.e, it.typ, err = decodeEventGuarded(rec); err != nil {
					err = fmt.Errorf("%w: %w", errUndecodable, err)
				}
			}
		}
		it.more = err == nil && rr.buffered() > 0
		it.err = err
		select {
		case items <- it:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// decodeEventGuarded is decodeEvent turning a decoder panic into an error: a
// stream from the network must never take the daemon down.
func decodeEventGuarded(rec []byte) (e *master.Event, typ string, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("event decoder panic: %v\n%s", r, debug.Stack())
		}
	}()
	return decodeEvent(rec)
}
