package fakemaster

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHeartbeat is the interval between HEARTBEAT events, Mesos's default.
const DefaultHeartbeat = 15 * time.Second

// OperatorAPI is the fake master's v1 operator API (POST /api/v1): SUBSCRIBE
// answers a RecordIO stream exactly as Mesos does — SUBSCRIBED with the full
// state and the heartbeat interval first, then HEARTBEAT every interval and an
// event for every change made through the mutation methods — and GET_MASTER
// answers the master's MasterInfo. It also serves /master/state-summary, where
// clients of the v1 API read the frameworks' pids.
//
// The truth is the master's state document: the mutation methods edit it and
// emit the events that describe the edit, so a poller of /master/state and a
// subscriber always agree. SetState and EditState change the truth without
// events (as if the master had lost them): subscribers only see such a change
// when they subscribe again.
//
// A master that does not lead answers SUBSCRIBE with the 307 of Mesos (see
// Master.Leading). The fault switches make streams misbehave.
type OperatorAPI struct {
	m *Master

	// The fields below are guarded by m.mu, so that a mutation, its events
	// and a new subscription's state are ordered.
	truth truth
	// delay is read by streams without the lock, which mutations of a big
	// cluster hold for milliseconds.
	delay     atomic.Int64
	subs      map[*subscriber]struct{}
	heartbeat time.Duration
	disabled  bool
	started   int
}

// subscriber is one open event stream.
type subscriber struct {
	mu      sync.Mutex
	queue   [][]byte
	wake    chan struct{} // a record was queued or a fault switched
	silent  bool
	cut     bool
	garbage bool
}

func (s *subscriber) push(rec []byte) {
	s.mu.Lock()
	s.queue = append(s.queue, rec)
	s.mu.Unlock()
	s.poke()
}

func (s *subscriber) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// EnableOperatorAPI adds the v1 operator API to the master (once; later calls
// return the same API). Without it /api/v1 answers 404, as on masters before
// Mesos 1.0.
func (m *Master) EnableOperatorAPI() *OperatorAPI {
	apisMu.Lock()
	defer apisMu.Unlock()
	if a, ok := apis[m]; ok {
		return a
	}
	a := &OperatorAPI{m: m, subs: map[*subscriber]struct{}{}, heartbeat: DefaultHeartbeat}
	apis[m] = a
	m.Handle("/api/v1", http.HandlerFunc(a.serveAPI))
	m.Handle("/master/state-summary", http.HandlerFunc(a.serveSummary))
	return a
}

// apis are the operator APIs of the masters that have one.
var (
	apisMu sync.Mutex
	apis   = map[*Master]*OperatorAPI{}
)

// SetHeartbeat sets the heartbeat interval of streams subscribed from now on.
func (a *OperatorAPI) SetHeartbeat(d time.Duration) {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	a.heartbeat = d
}

// SetAvailable switches the API off (/api/v1 answers 404, as a master without
// the operator API does) or back on. Switching it off ends open streams.
func (a *OperatorAPI) SetAvailable(on bool) {
	a.m.mu.Lock()
	a.disabled = !on
	subs := a.subsLocked()
	a.m.mu.Unlock()
	if !on {
		for _, s := range subs {
			s.mu.Lock()
			s.cut = true
			s.mu.Unlock()
			s.poke()
		}
	}
}

// SetStreamDelay makes every stream slow: each record waits d before it is
// written (zero turns it off).
func (a *OperatorAPI) SetStreamDelay(d time.Duration) { a.delay.Store(int64(d)) }

// CutStreams ends the open streams in the middle of a record, as a connection
// dropped mid-flight.
func (a *OperatorAPI) CutStreams() { a.fault(func(s *subscriber) { s.cut = true }) }

// SilenceStreams makes the open streams go silent — no events, no heartbeats —
// without closing them. Streams subscribed afterwards are not affected.
func (a *OperatorAPI) SilenceStreams() { a.fault(func(s *subscriber) { s.silent = true }) }

// GarbleStreams makes the open streams send a record that is not an event
// next.
func (a *OperatorAPI) GarbleStreams() { a.fault(func(s *subscriber) { s.garbage = true }) }

func (a *OperatorAPI) fault(f func(*subscriber)) {
	a.m.mu.Lock()
	subs := a.subsLocked()
	a.m.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		f(s)
		s.mu.Unlock()
		s.poke()
	}
}

func (a *OperatorAPI) subsLocked() []*subscriber {
	out := make([]*subscriber, 0, len(a.subs))
	for s := range a.subs {
		out = append(out, s)
	}
	return out
}

// Subscribers is the number of open event streams.
func (a *OperatorAPI) Subscribers() int {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	return len(a.subs)
}

// Subscriptions is the number of SUBSCRIBE calls answered with a stream.
func (a *OperatorAPI) Subscriptions() int {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	return a.started
}

// broadcast queues an event for every open stream. Callers hold m.mu.
func (a *OperatorAPI) broadcast(event obj) {
	if len(a.subs) == 0 {
		return
	}
	rec := record(event)
	for s := range a.subs {
		s.push(rec)
	}
}

// record frames an event as RecordIO: its length, a newline, the JSON.
func record(event obj) []byte {
	b, err := json.Marshal(event)
	if err != nil {
		panic("fake master: encoding event: " + err.Error())
	}
	out := strconv.AppendInt(nil, int64(len(b)), 10)
	out = append(out, '\n')
	return append(out, b...)
}

// subscribedRecord frames the SUBSCRIBED event as record does (keys sorted),
// around the GET_STATE body as it is: encoding/json would copy and check
// the whole state again.
func subscribedRecord(getState json.RawMessage, hb time.Duration) []byte {
	hbs, err := json.Marshal(hb.Seconds())
	if err != nil {
		panic("fake master: encoding the heartbeat: " + err.Error())
	}
	const head, mid, tail = `{"subscribed":{"get_state":`, `,"heartbeat_interval_seconds":`, `},"type":"SUBSCRIBED"}`
	n := len(head) + len(getState) + len(mid) + len(hbs) + len(tail)
	out := strconv.AppendInt(make([]byte, 0, n+24), int64(n), 10)
	out = append(out, '\n')
	out = append(out, head...)
	out = append(out, getState...)
	out = append(out, mid...)
	out = append(out, hbs...)
	return append(out, tail...)
}

func (a *OperatorAPI) serveAPI(w http.ResponseWriter, r *http.Request) {
	a.m.mu.Lock()
	disabled := a.disabled
	a.m.mu.Unlock()
	if disabled {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "Expecting 'POST'", http.StatusMethodNotAllowed)
		return
	}
	if !a.m.Leading(w, r) {
		return
	}
	var call struct {
		Type string `json:"type"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &call) != nil {
		http.Error(w, "Failed to parse body into JSON", http.StatusBadRequest)
		return
	}
	switch call.Type {
	case "SUBSCRIBE":
		a.serveSubscribe(w, r)
	case "GET_MASTER":
		var info obj
		_ = json.Unmarshal(a.m.MasterInfo(), &info)
		b, _ := json.Marshal(obj{"type": "GET_MASTER", "get_master": obj{"master_info": info}})
		writeJSON(w, b)
	case "GET_STATE":
		a.m.mu.Lock()
		err := a.truth.sync(a.m.doc)
		var st json.RawMessage
		if err == nil {
			st = a.truth.getState()
		}
		a.m.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b, _ := json.Marshal(obj{"type": "GET_STATE", "get_state": st})
		writeJSON(w, b)
	default:
		http.Error(w, "Unsupported call type "+call.Type, http.StatusBadRequest)
	}
}

func (a *OperatorAPI) serveSummary(w http.ResponseWriter, r *http.Request) {
	if !a.m.Leading(w, r) {
		return
	}
	a.m.mu.Lock()
	err := a.truth.sync(a.m.doc)
	var sum obj
	if err == nil {
		sum = a.truth.summary()
		sum["hostname"] = a.m.host
	}
	a.m.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b, _ := json.Marshal(sum)
	writeJSON(w, b)
}

func (a *OperatorAPI) serveSubscribe(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	s := &subscriber{wake: make(chan struct{}, 1)}
	a.m.mu.Lock()
	if err := a.truth.sync(a.m.doc); err != nil {
		a.m.mu.Unlock()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hb := a.heartbeat
	s.queue = append(s.queue, subscribedRecord(a.truth.getState(), hb))
	a.subs[s] = struct{}{}
	a.started++
	a.m.mu.Unlock()
	defer func() {
		a.m.mu.Lock()
		delete(a.subs, s)
		a.m.mu.Unlock()
	}()

	// As Mesos: JSON records in RecordIO framing, chunked (no length).
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	heartbeat := time.NewTicker(hb)
	defer heartbeat.Stop()
	hbRec := record(obj{"type": "HEARTBEAT"})
	s.poke()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.m.done:
			return
		case <-heartbeat.C:
			s.mu.Lock()
			silent := s.silent
			s.mu.Unlock()
			if silent {
				continue
			}
			if _, err := w.Write(hbRec); err != nil {
				return
			}
			flusher.Flush()
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if s.cut {
				s.mu.Unlock()
				// A record's length and half its body, then the end.
				_, _ = w.Write([]byte("120\n{\"type\":\"TASK_UPD"))
				flusher.Flush()
				return
			}
			if s.garbage {
				s.garbage = false
				s.mu.Unlock()
				if _, err := w.Write([]byte("9\n{\"type\":]")); err != nil {
					return
				}
				flusher.Flush()
				continue
			}
			if s.silent || len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			rec := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.mu.Unlock()
			delay := time.Duration(a.delay.Load())
			if delay > 0 {
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				case <-a.m.done:
					t.Stop()
					return
				}
			}
			if _, err := w.Write(rec); err != nil {
				return
			}
			// Flush when the queue is drained, not per record: a burst goes out
			// in few writes, as from a busy master.
			s.mu.Lock()
			more := len(s.queue) > 0
			s.mu.Unlock()
			if !more || delay > 0 {
				flusher.Flush()
			}
		}
	}
}
