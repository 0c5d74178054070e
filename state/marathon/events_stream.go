package marathon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/discovery-mesos/discovery/internal/backoff"
	"github.com/discovery-mesos/discovery/internal/httpclient"
	"github.com/discovery-mesos/discovery/state"
)

// streamMsg is what the stream goroutine hands the source's loop, in stream
// order: up (a new stream is open: resynchronise), or one decoded event, or a
// decode failure (resynchronise: something was missed).
type streamMsg struct {
	up       string // the endpoint name, for a new stream
	ev       marathonEvent
	badEvent error
	// down is why no stream could be opened (every URL tried); ended says
	// an open stream ended. Until the next up, apps are followed by polling.
	down  error
	ended bool
}

// watchdogProbeType is an event type no Marathon emits: the watchdog's probe
// stream asks only for it, so it receives nothing, while opening it makes
// Marathon send event_stream_attached (and, when it closes,
// event_stream_detached) down every stream, ours included.
const watchdogProbeType = "discovery_watchdog_probe"

// errStreamSilent ends a stream the watchdog found dead.
var errStreamSilent = errors.New("event stream silent: probe event not received")

// errNotFound is a 404 from Marathon: for /v2/apps/{id}, the app does not exist.
var errNotFound = errors.New("not found")

// follow keeps an event stream open until ctx ends: it connects (failing over
// across the URLs), hands every event to out, and reconnects with jittered
// exponential backoff (from ReconnectMin to ReconnectMax; a server "retry:"
// raises the floor) when the stream ends, breaks or goes silent. It tells out
// when no stream could be opened and when one ended, so that the loop polls
// meanwhile.
func (s *EventSource) follow(ctx context.Context, out chan<- streamMsg, failed func(string, error)) {
	attempt := 0
	for ctx.Err() == nil {
		resp, ep, err := s.connect(ctx, failed)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.metrics.reconnects.WithLabelValues("connect").Inc()
			s.log.Warn("no marathon event stream", "error", err)
			if !send(ctx, out, streamMsg{down: err}) {
				return
			}
			if !backoff.Sleep(ctx, backoff.Attempt(attempt, s.opts.ReconnectMin, s.opts.ReconnectMax)) {
				return
			}
			attempt++
			continue
		}
		began := time.Now()
		s.metrics.connected.Set(1)
		reason, retry, err := s.read(ctx, resp, ep, out)
		s.metrics.connected.Set(0)
		if ctx.Err() != nil {
			return
		}
		s.metrics.reconnects.WithLabelValues(reason).Inc()
		s.log.Warn("marathon event stream ended; reconnecting", "url", ep.name, "reason", reason, "error", err, "lasted", time.Since(began))
		if !send(ctx, out, streamMsg{ended: true}) {
			return
		}
		if time.Since(began) > s.opts.ReconnectMax {
			attempt = 0 // it worked for a good while: start the backoff over
		}
		if !backoff.Sleep(ctx, max(backoff.Attempt(attempt, s.opts.ReconnectMin, s.opts.ReconnectMax), retry)) {
			return
		}
		attempt++
	}
}

// send hands m to the loop unless ctx ends first.
func send(ctx context.Context, out chan<- streamMsg, m streamMsg) bool {
	select {
	case out <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// answered makes endpoint i current, logging a failover.
func (s *EventSource) answered(i int) {
	if from, moved := s.c.answered(i); moved {
		s.log.Warn("marathon failover", "from", from.name, "to", s.c.endpoints[i].name)
	}
}

// eventsURL is the /v2/events request for ep.
func (s *EventSource) eventsURL(ep *endpoint, types []string) string {
	q := url.Values{}
	q.Set("plan-format", "light")
	q["event_type"] = types
	return ep.name + "/v2/events?" + q.Encode()
}

// openStream sends GET /v2/events to ep and waits (at most Timeout) for a 200
// text/event-stream answer. The response body stays open until ctx ends.
func (s *EventSource) openStream(ctx context.Context, ep *endpoint, types []string, kind string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.eventsURL(ep, types), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	// A compressed stream would be held back by the compressor's buffering.
	req.Header.Set("Accept-Encoding", "identity")
	s.metrics.requests.WithLabelValues(kind).Inc()
	resp, err := s.c.do(req, ep)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, fmt.Errorf("%s%s", resp.Status, marathonMessage(resp.Body))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		return nil, fmt.Errorf("answered %q, not text/event-stream", resp.Header.Get("Content-Type"))
	}
	return resp, nil
}

// connect opens the event stream on the first endpoint that serves one,
// starting with the current one, and makes that endpoint current.
func (s *EventSource) connect(ctx context.Context, failed func(string, error)) (*http.Response, *endpoint, error) {
	var errs []error
	for _, i := range s.c.order() {
		ep := &s.c.endpoints[i]
		// The stream lives as long as the connection: give it its own
		// context, ended when reading ends, bounded until headers arrive.
		sctx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(s.c.cfg.Timeout, cancel)
		resp, err := s.openStream(sctx, ep, s.opts.EventTypes, "events")
		if err == nil && timer.Stop() {
			s.answered(i)
			resp.Body = &httpclient.CancelOnClose{ReadCloser: resp.Body, Cancel: cancel}
			return resp, ep, nil
		}
		timer.Stop()
		cancel()
		if err == nil {
			resp.Body.Close()
			err = errors.New("timed out waiting for the event stream")
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		err = fmt.Errorf("opening event stream at %s: %w", ep.name, err)
		failed(ep.name, err)
		errs = append(errs, err)
	}
	return nil, nil, errors.Join(errs...)
}

// read parses the stream until it ends and hands each event to out. A watchdog
// watches for silence: after IdleTimeout without a byte it probes (opens and
// closes a second stream, which makes Marathon announce it down ours); when
// the probe cannot connect, or its announcement does not arrive within
// ProbeTimeout, the stream is dead and is closed. It returns why the stream
// ended, for metrics and logs, and the server's "retry:" delay.
func (s *EventSource) read(ctx context.Context, resp *http.Response, ep *endpoint, out chan<- streamMsg) (string, time.Duration, error) {
	defer resp.Body.Close()
	select {
	case out <- streamMsg{up: ep.name}:
	case <-ctx.Done():
		return "context", 0, ctx.Err()
	}

	var last atomic.Int64 // time.Now().UnixNano() of the last byte or event
	last.Store(time.Now().UnixNano())
	var verdict atomic.Pointer[string]
	wctx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	watchdogDone := make(chan struct{})
	go func() {
		defer close(watchdogDone)
		if reason := s.watchdog(wctx, ep, &last); reason != "" {
			verdict.Store(&reason)
			resp.Body.Close()
		}
	}()
	defer func() { stopWatchdog(); <-watchdogDone }()

	sse := newSSEReader(resp.Body, s.opts.MaxEventBytes, func(n int) {
		last.Store(time.Now().UnixNano())
		s.metrics.streamBytes.Add(float64(n))
	})
	retry := func() time.Duration { return time.Duration(sse.Retry()) * time.Millisecond }
	for {
		raw, err := sse.Next()
		if err != nil {
			if v := verdict.Load(); v != nil {
				if *v == "silent" {
					return *v, retry(), errStreamSilent
				}
				return *v, retry(), err
			}
			if errors.Is(err, io.EOF) {
				return "eof", retry(), err
			}
			return "error", retry(), err
		}
		msg := streamMsg{}
		if raw.Oversize {
			msg.badEvent = fmt.Errorf("%w: a %s event over %d bytes was skipped", errSSETooLarge, raw.Type, s.opts.MaxEventBytes)
		} else {
			msg.ev, msg.badEvent = decodeMarathonEvent(raw.Type, raw.Data)
		}
		select {
		case out <- msg:
		case <-ctx.Done():
			return "context", 0, ctx.Err()
		}
		last.Store(time.Now().UnixNano())
	}
}

// watchdog returns "" when ctx ends, or the reason the stream must be dropped.
func (s *EventSource) watchdog(ctx context.Context, ep *endpoint, last *atomic.Int64) string {
	tick := time.NewTicker(max(s.opts.IdleTimeout/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-tick.C:
		}
		if time.Since(time.Unix(0, last.Load())) < s.opts.IdleTimeout {
			continue
		}
		probeStart := time.Now().UnixNano()
		if err := s.probe(ctx, ep); err != nil {
			if ctx.Err() != nil {
				return ""
			}
			s.log.Warn("marathon event stream quiet and the probe failed", "url", ep.name, "error", err)
			return "probe_failed"
		}
		deadline := time.NewTimer(s.opts.ProbeTimeout)
		for last.Load() <= probeStart {
			select {
			case <-ctx.Done():
				deadline.Stop()
				return ""
			case <-deadline.C:
				s.log.Warn("marathon event stream silent: probe not echoed", "url", ep.name, "waited", s.opts.ProbeTimeout)
				return "silent"
			case <-tick.C:
			}
		}
		deadline.Stop()
	}
}

// probe opens a stream that asks for no event type Marathon emits and closes it
// as soon as Marathon has answered: Marathon announces the attach (and the
// detach) on every stream. An error means Marathon did not serve it.
func (s *EventSource) probe(ctx context.Context, ep *endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ProbeTimeout)
	defer cancel()
	resp, err := s.openStream(ctx, ep, []string{watchdogProbeType}, "probe")
	if err != nil {
		return fmt.Errorf("probing %s: %w", ep.name, err)
	}
	resp.Body.Close()
	return nil
}

// get fetches pathQuery (e.g. "/v2/apps/x?embed=…") from the first Marathon
// that answers, starting with the current one. A 404 is errNotFound at once:
// that Marathon answered. failed is told about every other failure.
func (s *EventSource) get(ctx context.Context, kind, pathQuery string, failed func(string, error)) ([]byte, *endpoint, error) {
	var body []byte
	ep, err := s.failover(ctx, kind, failed, func(ep *endpoint) (n int64, err error) {
		body, err = s.c.get(ctx, ep, ep.name+pathQuery)
		return int64(len(body)), err
	})
	return body, ep, err
}

// getApps fetches and decodes the whole app list as get fetches one app.
func (s *EventSource) getApps(ctx context.Context, failed func(string, error)) (set *state.AppSet, err error) {
	_, err = s.failover(ctx, "apps", failed, func(ep *endpoint) (n int64, err error) {
		set, n, err = s.c.getApps(ctx, ep)
		return n, err
	})
	return set, err
}

// failover calls fetch with each Marathon in turn until one answers (a 404
// included, as errNotFound), and returns that one.
func (s *EventSource) failover(ctx context.Context, kind string, failed func(string, error), fetch func(*endpoint) (int64, error)) (*endpoint, error) {
	var errs []error
	for _, i := range s.c.order() {
		ep := &s.c.endpoints[i]
		s.metrics.requests.WithLabelValues(kind).Inc()
		n, err := fetch(ep)
		s.metrics.bodyBytes.WithLabelValues(kind).Add(float64(n))
		if err == nil {
			s.answered(i)
			return ep, nil
		}
		if se := (*marathonStatusError)(nil); errors.As(err, &se) && se.code == http.StatusNotFound {
			s.answered(i)
			return ep, errNotFound
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = fmt.Errorf("fetching %s from %s: %w", kind, ep.name, err)
		failed(ep.name, err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// appPath is the request for one app with what the load balancer needs embedded.
func appPath(id string) string {
	return (&url.URL{Path: "/v2/apps" + normaliseAppID(id)}).EscapedPath() +
		"?embed=app.tasks&embed=app.deployments&embed=app.readiness"
}
