package mesos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/master"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"

	"github.com/discovery-mesos/discovery/internal/backoff"
	"github.com/discovery-mesos/discovery/internal/httpclient"
	"github.com/discovery-mesos/discovery/state"
)

// Defaults for a zero StreamConfig field.
const (
	// DefaultMissedHeartbeats is how many heartbeat intervals may pass without
	// an event before the stream is taken for dead.
	DefaultMissedHeartbeats = 5
	// DefaultStreamBackoffMin and DefaultStreamBackoffMax bound the wait between
	// subscriptions; it doubles after each failed one, with jitter. The cap is
	// short so that a master coming back is followed within a second: an attempt
	// at a master that is down costs a refused connection.
	DefaultStreamBackoffMin = 100 * time.Millisecond
	DefaultStreamBackoffMax = 500 * time.Millisecond
	// DefaultFallbackRetry is how long the source polls a master without an
	// operator API before it tries to subscribe again.
	DefaultFallbackRetry = 5 * time.Minute
	// DefaultMaxBatch bounds the events applied together before a new view.
	DefaultMaxBatch = 10000
)

// maxFollowerWait bounds how long the stream waits for a record whose first
// bytes came with the one before it before publishing without it: a record
// cut across network packets should not hold the view back for long.
const maxFollowerWait = 5 * time.Millisecond

// defaultHeartbeat is Mesos's heartbeat interval, for a SUBSCRIBED that names
// none.
const defaultHeartbeat = 15 * time.Second

// StreamConfig configures a Stream. The embedded PollConfig is
// shared with the polling source, which the stream falls back to: masters,
// ZooKeeper, timeouts, TLS, credentials, metrics.
type StreamConfig struct {
	PollConfig

	// MissedHeartbeats is how many heartbeat intervals (the master names the
	// interval in SUBSCRIBED) may pass without any event before the stream is
	// closed and the source subscribes again.
	MissedHeartbeats int
	// BackoffMin and BackoffMax bound the wait between failed subscriptions.
	BackoffMin, BackoffMax time.Duration
	// FallbackRetry is how long to poll /master/state (every RefreshInterval)
	// when the master has no operator API, before trying to subscribe again.
	FallbackRetry time.Duration
	// MaxBatch bounds how many back-to-back events are applied before the view
	// is rebuilt and handed on.
	MaxBatch int
	// MaxRecordBytes bounds one event of the stream as read, but for
	// SUBSCRIBED (the whole state), which is decoded as it arrives and
	// bounded by what it decodes into (MaxStateBytes); 0 means
	// MaxStateBytes. A larger event, or a SUBSCRIBED that is malformed or
	// decodes into more than MaxStateBytes, makes the source poll
	// /master/state.
	MaxRecordBytes int64
}

// Stream is the Source that follows the leading Mesos master through the
// v1 operator API: one SUBSCRIBE call gives the full state, then every task,
// agent and framework change as it happens. Each batch of events that arrive
// back to back becomes one new Cluster, the same Cluster polling /master/state
// would give.
//
// It finds the leader as Poller does (ZooKeeper and/or the static list,
// following a non-leader's 307), takes a stream that stays silent for
// MissedHeartbeats heartbeat intervals for dead, subscribes again with
// jittered exponential backoff (each subscription replacing the whole view),
// and polls /master/state instead while the master has no operator API. A
// failure is reported to the sink naming the master; the last good view stays.
type Stream struct {
	cfg StreamConfig
	log *slog.Logger
	// m is shared with fallback, which polls the masters m's follower names.
	m        *masters
	fallback *Poller
	metrics  *mesosStreamMetrics

	sessions atomic.Int64
	received atomic.Int64

	// followerWait is maxFollowerWait; a test that asserts what coalescing
	// does, rather than how soon, lengthens it so that a starved CPU cannot
	// decide the outcome.
	followerWait time.Duration
}

var _ state.Source = (*Stream)(nil)

// NewStream checks cfg and returns a stream source; Run starts it. An error
// names the configuration key at fault.
func NewStream(cfg StreamConfig, log *slog.Logger) (*Stream, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = "mesos"
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.MissedHeartbeats < 0 {
		bad("MissedHeartbeats: must not be negative, got %d", cfg.MissedHeartbeats)
	} else if cfg.MissedHeartbeats == 0 {
		cfg.MissedHeartbeats = DefaultMissedHeartbeats
	}
	for _, d := range []struct {
		key string
		d   *time.Duration
		def time.Duration
	}{
		{"BackoffMin", &cfg.BackoffMin, DefaultStreamBackoffMin},
		{"BackoffMax", &cfg.BackoffMax, DefaultStreamBackoffMax},
		{"FallbackRetry", &cfg.FallbackRetry, DefaultFallbackRetry},
	} {
		switch {
		case *d.d < 0:
			bad("%s: must not be negative, got %v", d.key, *d.d)
		case *d.d == 0:
			*d.d = d.def
		}
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	if cfg.MaxBatch < 0 {
		bad("MaxBatch: must not be negative, got %d", cfg.MaxBatch)
	} else if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mesos stream source: %w", err)
	}
	// Checked (and defaulted) as the poller's: the fallback for masters
	// without an operator API is a poller on the same masters.
	m, err := newMasters(cfg.PollConfig, log)
	if err != nil {
		return nil, err
	}
	cfg.PollConfig = m.cfg
	metrics, err := newMesosStreamMetrics(cfg.Name, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("mesos stream source: %w", err)
	}
	return &Stream{
		cfg:          cfg,
		log:          log.With("source", cfg.Name, "via", "operator-api"),
		m:            m,
		fallback:     newPoller(m),
		metrics:      metrics,
		followerWait: maxFollowerWait,
	}, nil
}

// Name implements Source.
func (s *Stream) Name() string { return s.cfg.Name }

// BytesReceived is the number of bytes read from the masters' operator API so
// far (events, GET_MASTER answers and state summaries), for cost comparisons.
func (s *Stream) BytesReceived() int64 { return s.received.Load() }

// Run implements Source: it subscribes to the leading master and follows its
// events until ctx is done.
func (s *Stream) Run(ctx context.Context, sink state.Sink) error {
	lctx, stopLeader := context.WithCancel(ctx)
	wait := s.m.leader.start(lctx)
	defer func() { stopLeader(); wait() }()
	if err := s.m.leader.waitForZK(ctx, "zookeeper has not answered; trying the static masters"); err != nil {
		return err
	}

	b := backoff.New(s.cfg.BackoffMin, s.cfg.BackoffMax)
	undecodable, fallbacks := 0, 0
	for {
		began := time.Now()
		res := s.session(ctx, sink)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(res.err, errUndecodable):
			undecodable++
		case errors.Is(res.err, errRecordTooLarge), errors.Is(res.err, errSubscribedRefused):
		default:
			undecodable, fallbacks = 0, 0
		}
		switch {
		case errors.Is(res.err, errNoOperatorAPI):
			s.log.Warn("the master has no operator API; polling its state instead",
				"master", res.master, "retry_stream_after", s.cfg.FallbackRetry)
			if err := s.pollFallback(ctx, sink, s.cfg.FallbackRetry); err != nil {
				return err
			}
			b.Reset()
			continue
		case errors.Is(res.err, errRecordTooLarge), errors.Is(res.err, errSubscribedRefused):
			// Subscribing again would read the same state again: poll now,
			// and try the stream later, less often while it stays refused.
			retry := undecodableRetry(s.cfg.FallbackRetry, fallbacks)
			fallbacks++
			s.log.Warn("the master's stream sent an event that cannot be taken; polling its state instead",
				"master", res.master, "err", res.err, "retry_stream_after", retry)
			sink.FetchFailed(s.Name(), res.err)
			if err := s.pollFallback(ctx, sink, retry); err != nil {
				return err
			}
			b.Reset()
			continue
		case undecodable >= maxUndecodableSessions:
			retry := undecodableRetry(s.cfg.FallbackRetry, fallbacks)
			fallbacks++
			s.log.Warn("the master's event stream cannot be decoded; polling its state instead",
				"master", res.master, "err", res.err, "sessions", undecodable, "retry_stream_after", retry)
			sink.FetchFailed(s.Name(), res.err)
			// One more undecodable session after the polling falls back again.
			undecodable = maxUndecodableSessions - 1
			if err := s.pollFallback(ctx, sink, retry); err != nil {
				return err
			}
			b.Reset()
			continue
		case errors.Is(res.err, errLeaderChanged):
			s.log.Info("zookeeper names a new leader; subscribing to it", "was", res.master)
			b.Reset()
			continue
		}
		if res.subscribed && time.Since(began) >= res.healthyAfter {
			b.Reset()
		}
		wait := b.Next()
		s.log.Warn("mesos event stream failed; subscribing again", "master", res.master, "err", res.err, "in", wait)
		sink.FetchFailed(s.Name(), res.err)
		if !s.sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// sleep waits for d, cut short by a leader change; false when ctx ended.
func (s *Stream) sleep(ctx context.Context, d time.Duration) bool {
	return backoff.SleepOrWake(ctx, d, s.m.leader.leaderChanged())
}

// pollFallback polls /master/state every RefreshInterval for retryAfter, with
// the poller's fetch, then returns to try the stream again (at once when
// ZooKeeper names a new leader, which may have the API).
func (s *Stream) pollFallback(ctx context.Context, sink state.Sink, retryAfter time.Duration) error {
	s.metrics.fallback.Set(1)
	defer s.metrics.fallback.Set(0)
	retry := time.NewTimer(retryAfter)
	defer retry.Stop()
	for {
		s.fallback.fetch(ctx, sink)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.NewTimer(s.cfg.RefreshInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-retry.C:
			t.Stop()
			return nil
		case <-s.m.leader.leaderChanged():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

var (
	// errNoOperatorAPI is a master that answers 404 or 405 on /api/v1.
	errNoOperatorAPI = errors.New("no operator API")
	// errLeaderChanged ends a session when ZooKeeper names a new leader.
	errLeaderChanged = errors.New("zookeeper names a new leader")
	// errUndecodable ends a session on a record that is not an event we can
	// decode (a garbled stream, or a value mesos-go refuses, such as a port
	// of -1 an app author wrote).
	errUndecodable = errors.New("undecodable event")
)

// maxUndecodableSessions is how many sessions in a row may end on an
// undecodable record before the source polls /master/state instead: one
// garbled record is a glitch worth a new subscription, the same failure
// again is the master's data, which every subscription (a full state on a
// real master) would fetch again for nothing. /master/state is decoded by
// our own decoder, which leaves out what it cannot use.
const maxUndecodableSessions = 3

// maxFallbackDoublings bounds how far the polling period before another
// subscription grows while the stream stays undecodable: FallbackRetry, then
// twice, four and eight times that.
const maxFallbackDoublings = 3

// undecodableRetry is how long to poll before subscribing again, after the
// stream was found undecodable fallbacks times before (in a row).
func undecodableRetry(base time.Duration, fallbacks int) time.Duration {
	return base << min(fallbacks, maxFallbackDoublings)
}

// mesosSessionResult is how one subscription went.
type mesosSessionResult struct {
	master     string // the master last talked to
	err        error
	subscribed bool
	// healthyAfter is how long the session had to last to count as healthy
	// (resetting the backoff).
	healthyAfter time.Duration
}

// session subscribes to the leader and follows its events until the stream
// fails.
func (s *Stream) session(ctx context.Context, sink state.Sink) mesosSessionResult {
	candidates := s.m.leader.candidates()
	known := s.m.leader.known()
	if len(candidates) == 0 {
		return mesosSessionResult{err: errors.New("no Mesos master known: zookeeper names none and no static masters are configured")}
	}
	if s.sessions.Add(1) > 1 {
		s.metrics.reconnects.Inc()
	}
	var errs []error
	for _, addr := range candidates {
		body, servedBy, err := s.subscribe(ctx, addr)
		if ctx.Err() != nil {
			return mesosSessionResult{master: addr, err: ctx.Err()}
		}
		if errors.Is(err, errNoOperatorAPI) {
			return mesosSessionResult{master: servedBy, err: err}
		}
		if err != nil {
			s.log.Debug("subscribing failed", "master", addr, "err", err)
			errs = append(errs, err)
			continue
		}
		s.m.leader.served(servedBy)
		return s.follow(ctx, sink, body, servedBy, known)
	}
	return mesosSessionResult{
		master: strings.Join(candidates, ","),
		err:    fmt.Errorf("no master accepted the subscription: %w", errors.Join(errs...)),
	}
}

// subscribe sends SUBSCRIBE to the master at addr, following redirects to the
// leader. It returns the open event stream and the master serving it.
func (s *Stream) subscribe(ctx context.Context, addr string) (io.ReadCloser, string, error) {
	call, err := json.Marshal(calls.Subscribe())
	if err != nil {
		return nil, addr, fmt.Errorf("encoding SUBSCRIBE: %w", err)
	}
	u := &url.URL{Scheme: s.m.client.scheme, Host: addr, Path: "/api/v1"}
	// Only the response headers are bounded by StateTimeout: the stream itself
	// lives as long as it keeps delivering.
	hctx, cancelHeaders := context.WithCancel(ctx)
	timer := time.AfterFunc(s.cfg.StateTimeout, cancelHeaders)
	defer timer.Stop()
	for hops := 0; ; hops++ {
		resp, err := s.m.client.post(hctx, u.String(), call)
		if err != nil {
			cancelHeaders()
			return nil, u.Host, fmt.Errorf("subscribing at %s: %w", u, err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if !timer.Stop() {
				// The timeout fired as the headers arrived: the body's context
				// is gone already.
				resp.Body.Close()
				return nil, u.Host, fmt.Errorf("subscribing at %s: no answer within %v (stateTimeoutSeconds)", u, s.cfg.StateTimeout)
			}
			body := &httpclient.CancelOnClose{ReadCloser: resp.Body, Cancel: cancelHeaders}
			return body, u.Host, nil
		case http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound,
			http.StatusSeeOther, http.StatusMovedPermanently:
			drain(resp)
			loc := resp.Header.Get("Location")
			if loc == "" {
				cancelHeaders()
				return nil, u.Host, fmt.Errorf("%s answered %s without a Location", u, resp.Status)
			}
			if hops >= s.cfg.MaxRedirects {
				cancelHeaders()
				return nil, u.Host, fmt.Errorf("%s redirects to %s: gave up after %d hops", u, loc, hops)
			}
			next, err := u.Parse(loc) // "//host:port/api/v1" keeps our scheme
			if err != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Host == "" {
				cancelHeaders()
				return nil, u.Host, fmt.Errorf("%s redirects to %q, not a master URL", u, loc)
			}
			next.Path = "/api/v1"
			s.log.Debug("following redirect from non-leading master", "master", u.Host, "to", next.Host)
			u = next
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			drain(resp)
			cancelHeaders()
			return nil, u.Host, fmt.Errorf("%s answered %s: %w", u, resp.Status, errNoOperatorAPI)
		case http.StatusUnauthorized, http.StatusForbidden:
			drain(resp)
			cancelHeaders()
			return nil, u.Host, fmt.Errorf("%s answered %s: check mesosAuthentication and mesosCredentials", u, resp.Status)
		case http.StatusServiceUnavailable:
			drain(resp)
			cancelHeaders()
			return nil, u.Host, fmt.Errorf("%s answered %s: the master knows no leader", u, resp.Status)
		default:
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			cancelHeaders()
			return nil, u.Host, fmt.Errorf("%s answered %s: %s", u, resp.Status, bytes.TrimSpace(msg))
		}
	}
}

// masterFromAddr names a master by its "host:port" alone.
func masterFromAddr(addr string) state.Master {
	m, err := ParseMasterAddr(addr)
	if err != nil {
		return state.Master{}
	}
	m.PID = "master@" + addr
	return m
}

// getMaster asks the master at addr for its MasterInfo (GET_MASTER), which the
// event stream does not carry, and turns it into the leader.
func (s *Stream) getMaster(ctx context.Context, addr string) (state.Master, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StateTimeout)
	defer cancel()
	call, err := json.Marshal(calls.GetMaster())
	if err != nil {
		return state.Master{}, err
	}
	u := (&url.URL{Scheme: s.m.client.scheme, Host: addr, Path: "/api/v1"}).String()
	resp, err := s.m.client.post(ctx, u, call)
	if err != nil {
		return state.Master{}, fmt.Errorf("GET_MASTER at %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		drain(resp)
		return state.Master{}, fmt.Errorf("GET_MASTER at %s: %s", u, resp.Status)
	}
	data, err := readBody(resp, 1<<20)
	resp.Body.Close()
	s.received.Add(int64(len(data)))
	s.metrics.bytes.Add(float64(len(data)))
	if err != nil {
		return state.Master{}, fmt.Errorf("GET_MASTER at %s: %w", u, err)
	}
	var r master.Response
	if err := json.Unmarshal(data, &r); err != nil {
		return state.Master{}, fmt.Errorf("GET_MASTER at %s: decoding: %w", u, err)
	}
	if r.GetMaster == nil || r.GetMaster.MasterInfo == nil {
		return state.Master{}, fmt.Errorf("GET_MASTER at %s: no master_info", u)
	}
	return leaderFromMasterInfo(r.GetMaster.MasterInfo), nil
}

// frameworkPIDs reads the frameworks' libprocess pids from the master's
// /master/state-summary (small: no tasks), which the v1 API does not carry. A
// failure gives an empty map: the frameworks then have no pid, as HTTP API
// frameworks do not.
func (s *Stream) frameworkPIDs(ctx context.Context, addr string) map[string]string {
	pids := map[string]string{}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StateTimeout)
	defer cancel()
	u := (&url.URL{Scheme: s.m.client.scheme, Host: addr, Path: "/master/state-summary"}).String()
	resp, err := s.m.client.get(ctx, u)
	if err != nil {
		s.log.Debug("reading framework pids failed", "url", u, "err", err)
		return pids
	}
	if resp.StatusCode != http.StatusOK {
		drain(resp)
		s.log.Debug("reading framework pids failed", "url", u, "status", resp.Status)
		return pids
	}
	data, err := readBody(resp, s.cfg.MaxStateBytes)
	resp.Body.Close()
	s.received.Add(int64(len(data)))
	s.metrics.bytes.Add(float64(len(data)))
	if err != nil {
		s.log.Debug("reading framework pids failed", "url", u, "err", err)
		return pids
	}
	var summary struct {
		Frameworks []struct {
			ID  string `json:"id"`
			PID string `json:"pid"`
		} `json:"frameworks"`
	}
	if err := json.Unmarshal(data, &summary); err != nil {
		s.log.Debug("reading framework pids failed", "url", u, "err", err)
		return pids
	}
	for _, f := range summary.Frameworks {
		if f.PID != "" {
			pids[f.ID] = f.PID
		}
	}
	return pids
}
