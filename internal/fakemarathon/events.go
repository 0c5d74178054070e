package fakemarathon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
)

// event is one Marathon event, encoded once for every stream. light is the
// encoding for streams opened with plan-format=light (deployment events without
// the original and target groups); nil when it is the same as data.
type event struct {
	typ   string
	data  []byte
	light []byte
}

func newEvent(typ string, payload any) event {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("fakemarathon: encoding %s: %v", typ, err))
	}
	return event{typ: typ, data: b}
}

type subscriber struct {
	ch      chan event
	types   map[string]bool // nil: every type
	light   bool
	gone    chan struct{}
	goneOne sync.Once
}

func (sub *subscriber) drop() { sub.goneOne.Do(func() { close(sub.gone) }) }

func (sub *subscriber) wants(typ string) bool { return sub.types == nil || sub.types[typ] }

// Emit sends an event of any type with the given JSON payload to every stream
// that wants it. The payload should carry "eventType" and "timestamp" like
// Marathon's own events.
func (s *Server) Emit(eventType string, payload any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(newEvent(eventType, payload))
}

// SetEventsPaused makes every event stream go silent (events are dropped, streams
// stay open) until called with false: a Marathon whose stream died quietly.
func (s *Server) SetEventsPaused(paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = paused
}

func (s *Server) emitLocked(ev event) {
	if s.paused {
		return
	}
	for sub := range s.subs {
		if !sub.wants(ev.typ) {
			continue
		}
		select {
		case sub.ch <- ev:
			s.sent++
		default:
			// Too far behind: drop the stream, as Marathon does with slow
			// clients. The client must reconnect and resynchronise.
			sub.drop()
		}
	}
}

// EventsSent is how many events have been queued to event streams so far
// (one per stream that wanted it). A test compares it with what a client has
// handled, to know the client has seen everything the fake said.
func (s *Server) EventsSent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// DisconnectEventStreams ends every open /v2/events stream.
func (s *Server) DisconnectEventStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		sub.drop()
	}
}

// Subscribers returns how many /v2/events streams are open.
func (s *Server) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// WaitSubscribers waits until at least n /v2/events streams are open (and have
// been sent their event_stream_attached), or ctx ends.
func (s *Server) WaitSubscribers(ctx context.Context, n int) error {
	return s.waitSubs(ctx, fmt.Sprintf("at least %d", n), func(have int) bool { return have >= n })
}

// WaitSubscribersAtMost waits until at most n /v2/events streams are open, or ctx
// ends.
func (s *Server) WaitSubscribersAtMost(ctx context.Context, n int) error {
	return s.waitSubs(ctx, fmt.Sprintf("at most %d", n), func(have int) bool { return have <= n })
}

func (s *Server) waitSubs(ctx context.Context, what string, ok func(int) bool) error {
	for {
		s.mu.Lock()
		have, changed := len(s.subs), s.subsCh
		s.mu.Unlock()
		if ok(have) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fakemarathon: waiting for %s event streams (have %d): %w", what, have, ctx.Err())
		case <-changed:
		}
	}
}

func (s *Server) subsChangedLocked() {
	close(s.subsCh)
	s.subsCh = make(chan struct{})
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "HTTP 405 Method Not Allowed"})
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	q := r.URL.Query()
	sub := &subscriber{
		ch:    make(chan event, s.opts.EventBuffer),
		light: q.Get("plan-format") == "light",
		gone:  make(chan struct{}),
	}
	if types := q["event_type"]; len(types) > 0 {
		sub.types = map[string]bool{}
		for _, t := range types {
			sub.types[t] = true
		}
	}
	// Subscribe before the client sees the stream open: a client that
	// fetches /v2/apps as soon as the headers arrive must not miss the events
	// of changes made after its fetch (they wait in sub.ch).
	remote, _, _ := net.SplitHostPort(r.RemoteAddr)
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.emitLocked(newEvent("event_stream_attached", map[string]any{
		"remoteAddress": remote, "eventType": "event_stream_attached", "timestamp": s.nowString(),
	}))
	s.subsChangedLocked()
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.emitLocked(newEvent("event_stream_detached", map[string]any{
			"remoteAddress": remote, "eventType": "event_stream_detached", "timestamp": s.nowString(),
		}))
		s.subsChangedLocked()
		s.mu.Unlock()
	}()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.gone:
			return
		case ev := <-sub.ch:
			data := ev.data
			if sub.light && ev.light != nil {
				data = ev.light
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.typ, data); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
