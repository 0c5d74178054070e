package mesos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/state"
)

// Defaults for a zero PollConfig field; the first three are mesos-dns's.
const (
	DefaultRefreshInterval = 60 * time.Second
	DefaultStateTimeout    = 300 * time.Second
	DefaultZKTimeout       = 30 * time.Second
	// DefaultMaxStateBytes bounds what a state decodes into: about 240
	// bytes per task polled, 400 streamed (with the status history), so
	// 64 MiB holds over 100,000 tasks either way. Raise it for larger
	// clusters.
	DefaultMaxStateBytes = 64 << 20
	// DefaultMaxRedirects bounds the 307 hops from a non-leading master.
	DefaultMaxRedirects = 3
)

// PollConfig configures a Poller. The comments name the mesos-dns
// config.json key each field takes. Zero values take the defaults above.
type PollConfig struct {
	// Name names the source in logs, on the status page and as Cluster.Source;
	// "mesos" by default.
	Name string
	// Masters are "host:port" of the masters (masters), in the order that
	// numbers them (master0, master1, … in DNS).
	Masters []string
	// ZK is the leader election in ZooKeeper, "zk://h1:2181,h2:2181/mesos" (zk).
	ZK string
	// ZKDetectionTimeout is how long ZooKeeper may be unreachable before its view
	// is dropped for the static masters, and how long the first fetch waits for
	// ZooKeeper at start-up (zkDetectionTimeout; default 30 s, as mesos-dns's).
	ZKDetectionTimeout time.Duration
	// ZKSessionTimeout is the ZooKeeper session timeout (10 s by default).
	ZKSessionTimeout time.Duration
	// RefreshInterval is the time between fetches (refreshSeconds). A leader
	// change seen in ZooKeeper fetches at once.
	RefreshInterval time.Duration
	// StateTimeout bounds one fetch from one master, redirects and body
	// included (stateTimeoutSeconds).
	StateTimeout time.Duration
	// MaxStateBytes bounds what a state document decodes into (see
	// FetchMeta.MaxDecoded), not its bytes; a larger state is a failed fetch.
	MaxStateBytes int64
	// MaxRedirects bounds the hops from a non-leading master to the leader.
	MaxRedirects int
	// Registerer receives the poller's metrics (discovery_mesos_*, labelled
	// with Name); nil keeps them unregistered.
	Registerer prometheus.Registerer

	// HTTPConfig is the scheme, TLS and authentication.
	HTTPConfig
}

// Poller is the Source that polls the leading Mesos master's
// /master/state every RefreshInterval. It finds the leader through ZooKeeper
// and/or the static masters list, follows a non-leading master's redirect, falls
// back to /master/state.json on masters older than Mesos 1.0, and never hands on
// a failed or malformed fetch: the last good view stays.
type Poller struct {
	m   *masters
	dec Decoder // sizes each fetch's decode from the last

	mu sync.Mutex
	// old are masters ("host:port") that answered 404 on /master/state and
	// serve /master/state.json instead.
	old map[string]bool
}

var _ state.Source = (*Poller)(nil)

// NewPoller checks cfg and returns a poller; Run starts it. An error names
// the configuration key at fault.
func NewPoller(cfg PollConfig, log *slog.Logger) (*Poller, error) {
	m, err := newMasters(cfg, log)
	if err != nil {
		return nil, err
	}
	return newPoller(m), nil
}

// newPoller returns a poller that asks the masters m knows; the stream builds
// its fallback poller on its own masters.
func newPoller(m *masters) *Poller {
	return &Poller{m: m, old: map[string]bool{}}
}

// Name implements Source.
func (p *Poller) Name() string { return p.m.cfg.Name }

// Run implements Source: it fetches every RefreshInterval, and at once when
// ZooKeeper names a new leader, until ctx is done.
func (p *Poller) Run(ctx context.Context, sink state.Sink) error {
	lctx, stopLeader := context.WithCancel(ctx)
	wait := p.m.leader.start(lctx)
	defer func() { stopLeader(); wait() }()
	fallback := "zookeeper has not answered; using the static masters"
	if len(p.m.cfg.Masters) == 0 {
		fallback = "zookeeper has not answered and there are no static masters"
	}
	if err := p.m.leader.waitForZK(ctx, fallback); err != nil {
		return err
	}
	timer := time.NewTimer(0)
	defer timer.Stop()

	var (
		fetching    bool
		pending     bool
		cancelFetch context.CancelFunc = func() {}
		fetchDone                      = make(chan bool, 1)
	)
	start := func() {
		fctx, cancel := context.WithCancel(ctx)
		fetching, cancelFetch = true, cancel
		go func() {
			defer cancel()
			fetchDone <- p.fetch(fctx, sink)
		}()
	}
	// trigger fetches now, or after the running fetch; urgent abandons the
	// running fetch (it may be stuck on a master that is no longer the leader).
	trigger := func(urgent bool) {
		if !fetching {
			start()
			return
		}
		pending = true
		if urgent {
			cancelFetch()
		}
	}
	for {
		select {
		case <-ctx.Done():
			cancelFetch()
			if fetching {
				<-fetchDone
			}
			return ctx.Err()
		case <-timer.C:
			trigger(false)
		case <-p.m.leader.leaderChanged():
			p.m.log.Info("following the leader zookeeper names")
			trigger(true)
		case <-p.m.leader.mastersChanged():
			trigger(false)
		case ok := <-fetchDone:
			fetching = false
			next := p.m.cfg.RefreshInterval
			if !ok {
				// The last good view stays; try again soon, so that a master coming
				// back is followed within a second, not a refresh interval later.
				next = min(next, failedFetchRetry)
			}
			timer.Reset(next)
			if pending {
				pending = false
				start()
			}
		}
	}
}

// fetch asks the candidate masters in turn and publishes the first good state.
// When none serves one it reports the failure; the last good view stays. A
// cancelled fetch reports nothing: a newer one follows, or the source stops.
// failedFetchRetry is the wait after a failed fetch (at most RefreshInterval).
// Asking a master that is down costs a refused connection.
const failedFetchRetry = 500 * time.Millisecond

// fetch fetches the state from the first master that serves it and hands it to
// sink; it reports whether a view was published (an abandoned fetch counts as
// published: a new one is already on its way).
func (p *Poller) fetch(ctx context.Context, sink state.Sink) bool {
	p.m.leader.update()
	known := p.m.leader.known()
	candidates := p.m.leader.candidates()
	began := time.Now()
	if len(candidates) == 0 {
		err := errors.New("no Mesos master known: zookeeper names none and no static masters are configured")
		p.m.log.Error("fetching state failed", "err", err)
		p.m.metrics.fetched(false, began, 0)
		sink.FetchFailed(p.Name(), err)
		return false
	}
	var errs []error
	for _, addr := range candidates {
		c, servedBy, size, err := p.fetchFrom(ctx, addr, known)
		if ctx.Err() != nil {
			p.m.log.Debug("fetch abandoned", "master", addr)
			return true
		}
		if err != nil {
			p.m.log.Warn("fetching state failed", "master", addr, "err", err)
			errs = append(errs, err)
			continue
		}
		p.m.leader.served(servedBy)
		p.m.log.Debug("state fetched", "master", servedBy, "bytes", size,
			"tasks", len(c.Tasks), "agents", len(c.Agents), "took", time.Since(began))
		p.m.metrics.fetched(true, began, size)
		sink.PublishCluster(c)
		return true
	}
	err := fmt.Errorf("no master served the state, keeping the last good view: %w", errors.Join(errs...))
	p.m.log.Error("fetching state failed from every master", "masters", candidates, "err", err)
	p.m.metrics.fetched(false, began, 0)
	sink.FetchFailed(p.Name(), err)
	return false
}

// fetchFrom fetches and decodes the state from the master at addr, following
// redirects and naming the master that served it.
func (p *Poller) fetchFrom(ctx context.Context, addr string, known []state.Master) (c *state.Cluster, servedBy string, size int, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.m.cfg.StateTimeout)
	defer cancel()
	u := &url.URL{Scheme: p.m.client.scheme, Host: addr, Path: "/master/state"}
	if p.isOld(addr) {
		u.Path = "/master/state.json"
	}
	start := u.String()
	defer func() {
		// After a redirect the error names where it ended; name where it began.
		if err != nil && u.Host != addr {
			err = fmt.Errorf("asking %s: %w", start, err)
		}
	}()
	hops, triedOtherPath := 0, false
	for {
		resp, err := p.m.client.get(ctx, u.String())
		if err != nil {
			return nil, "", 0, fmt.Errorf("fetching state from %s: %w", u, p.timeoutErr(ctx, err))
		}
		switch resp.StatusCode {
		case http.StatusOK:
			// Decoded as it arrives: the document is never held whole, and
			// its size bounds nothing but what it decodes into
			// (MaxDecoded); StateTimeout bounds how long it may take.
			body, err := openStateBody(resp, math.MaxInt64)
			if err != nil {
				resp.Body.Close()
				return nil, "", 0, fmt.Errorf("fetching state from %s: %w", u, err)
			}
			c, err := decodeGuarded(&p.dec, body, FetchMeta{Source: p.Name(), Masters: known, Size: max(resp.ContentLength, 0), MaxDecoded: int64(p.m.cfg.MaxStateBytes)})
			resp.Body.Close()
			size := int(body.n)
			if body.err != nil {
				return nil, "", 0, fmt.Errorf("fetching state from %s: %w", u, p.timeoutErr(ctx, body.err))
			}
			if err != nil {
				return nil, "", size, fmt.Errorf("decoding state from %s: %w", u, err)
			}
			c.FetchedAt = time.Now() // outside the digest: the read ended just now
			leader := masterAddr(c.Leader)
			if leader == "" {
				if h, port, ok := pidHostPort(c.Leader.PID); ok {
					leader = masterAddr(state.Master{Host: h, Port: port})
				}
			}
			if leader == "" {
				return nil, "", size, fmt.Errorf("state from %s names no leading master", u)
			}
			if leader != u.Host {
				// A non-leading master before Mesos 1.1 serves its own (empty)
				// state naming the leader instead of redirecting.
				if hops >= p.m.cfg.MaxRedirects {
					return nil, "", size, fmt.Errorf("state from %s names %s as the leader: gave up after %d hops", u, leader, hops)
				}
				p.m.log.Debug("master names another leader", "master", u.Host, "leader", leader)
				p.m.metrics.redirects.Inc()
				hops++
				u = &url.URL{Scheme: u.Scheme, Host: leader, Path: u.Path}
				continue
			}
			return c, u.Host, size, nil

		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
			http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			drain(resp)
			loc := resp.Header.Get("Location")
			if loc == "" {
				return nil, "", 0, fmt.Errorf("%s answered %s without a Location", u, resp.Status)
			}
			if hops >= p.m.cfg.MaxRedirects {
				return nil, "", 0, fmt.Errorf("%s redirects to %s: gave up after %d hops", u, loc, hops)
			}
			next, err := u.Parse(loc) // a scheme-relative "//host:port/path" keeps our scheme
			if err != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Host == "" {
				return nil, "", 0, fmt.Errorf("%s redirects to %q, not a master URL", u, loc)
			}
			if next.Path == "" || next.Path == "/" {
				next.Path = u.Path
			}
			p.m.log.Debug("following redirect from non-leading master", "master", u.Host, "to", next.Host)
			p.m.metrics.redirects.Inc()
			hops++
			u = next

		case http.StatusNotFound:
			drain(resp)
			if triedOtherPath {
				return nil, "", 0, fmt.Errorf("%s answered 404 Not Found on /master/state and /master/state.json", u.Host)
			}
			// Masters before 1.0 only have /master/state.json; 1.8 and later
			// only /master/state. Try the other one and remember the answer.
			triedOtherPath = true
			if u.Path == "/master/state.json" {
				u.Path = "/master/state"
				p.setOld(u.Host, false)
			} else {
				u.Path = "/master/state.json"
				p.setOld(u.Host, true)
			}

		case http.StatusUnauthorized, http.StatusForbidden:
			drain(resp)
			return nil, "", 0, fmt.Errorf("%s answered %s: check mesosAuthentication and mesosCredentials", u, resp.Status)

		case http.StatusServiceUnavailable:
			drain(resp)
			return nil, "", 0, fmt.Errorf("%s answered %s: the master knows no leader", u, resp.Status)

		default:
			drain(resp)
			return nil, "", 0, fmt.Errorf("%s answered %s", u, resp.Status)
		}
	}
}

// decodeGuarded decodes a state document as rd yields it, turning a decoder
// panic into an error: a document from the network must never take the daemon
// down.
func decodeGuarded(dec *Decoder, rd io.Reader, meta FetchMeta) (c *state.Cluster, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("decoder panic: %v\n%s", r, debug.Stack())
		}
	}()
	return dec.DecodeFrom(rd, meta)
}

// timeoutErr explains an error caused by the StateTimeout running out.
func (p *Poller) timeoutErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no complete answer within %v (stateTimeoutSeconds): %w", p.m.cfg.StateTimeout, err)
	}
	return err
}

func (p *Poller) isOld(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.old[addr]
}

func (p *Poller) setOld(addr string, old bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old {
		p.old[addr] = true
	} else {
		delete(p.old, addr)
	}
}
