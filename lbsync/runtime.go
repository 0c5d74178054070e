package lbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	hrt "github.com/haproxytech/client-native/v5/runtime"
	"github.com/haproxytech/client-native/v5/runtime/options"
)

// runtimeAPI carries out server-level operations on the worker's stats socket
// with client-native, and finishes the removals it started: a removed server is
// drained at once (no new connections), and parked in maintenance once it has no
// connection left or DrainTimeout has passed, whichever comes first.
//
// A parked server is not deleted ("del server"): HAProxy 2.6 (Debian 12's
// 2.6.12) can crash when a dynamic server is deleted while a stream still refers
// to it, e.g. one being redispatched (haproxy/haproxy#2298, #2323, #2378, fixed
// in later releases); our churn tests hit it under traffic. A parked server takes
// no traffic and runs no check; the next reload, which writes the config without
// it, drops it, and a task that comes back under the same name takes its parked
// server back with "set server addr" and "state ready".
//
// Why "add server" rather than pre-allocated server-template
// slots moved with "set server addr": server names stay the task-derived names
// the config file and marathon-lb's templates use, so the rewritten config and
// the running worker agree line for line and the stats page names tasks; there
// is no slot count to outgrow (which would force a reload) and no idle slot to
// health-check in each of thousands of backends. The costs are known and
// handled: "add server" refuses "cookie" (such backends are not Dynamic and
// reload instead), checks start disabled (we enable them), and removed servers
// are parked rather than deleted (above).
type runtimeAPI struct {
	socket       string
	drainTimeout time.Duration
	log          *slog.Logger
	metrics      *metrics

	mu      sync.Mutex
	client  hrt.Runtime
	pending map[serverKey]*pendingRemoval
	// parked are removed servers kept in maintenance until the next reload.
	parked map[serverKey]bool
	wake   chan struct{}
}

type serverKey struct{ backend, server string }

type pendingRemoval struct {
	since time.Time
}

func newRuntimeAPI(socket string, drainTimeout time.Duration, log *slog.Logger, m *metrics) *runtimeAPI {
	return &runtimeAPI{
		socket:       socket,
		drainTimeout: drainTimeout,
		log:          log,
		metrics:      m,
		pending:      map[serverKey]*pendingRemoval{},
		parked:       map[serverKey]bool{},
		wake:         make(chan struct{}, 1),
	}
}

// conn returns the client, creating it on first use (the socket appears only
// once HAProxy runs). Callers hold r.mu.
func (r *runtimeAPI) conn(ctx context.Context) (hrt.Runtime, error) {
	if r.client != nil {
		return r.client, nil
	}
	c, err := hrt.New(ctx, options.Socket(r.socket))
	if err != nil {
		return nil, fmt.Errorf("runtime api on %s: %w", r.socket, err)
	}
	r.client = c
	return c, nil
}

// Forget drops the pending removals: after a reload or a restart the worker that
// had those servers is gone (or finishing), and the new one never had them.
func (r *runtimeAPI) Forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.pending)
	clear(r.parked)
}

// Parked returns the number of removed servers parked in maintenance until the
// next reload.
func (r *runtimeAPI) Parked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parked)
}

// Pending returns the number of servers still draining.
func (r *runtimeAPI) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Apply runs ops in order and stops at the first failure, which it returns
// naming the operation.
func (r *runtimeAPI) Apply(ctx context.Context, ops []lbmodel.RuntimeOp) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.conn(ctx)
	if err != nil {
		return err
	}
	removed := false
	for _, op := range ops {
		err := r.apply(c, op)
		r.log.Debug("runtime op", "op", op.String(), "err", err)
		r.metrics.runtimeOps.WithLabelValues(op.Kind.String()).Inc()
		if err != nil {
			r.metrics.runtimeFailures.WithLabelValues(op.Kind.String()).Inc()
			return fmt.Errorf("runtime %s: %w", op, err)
		}
		removed = removed || op.Kind == lbmodel.OpRemove
	}
	if removed {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (r *runtimeAPI) apply(c hrt.Runtime, op lbmodel.RuntimeOp) error {
	b, s := op.Backend, &op.Server
	switch op.Kind {
	case lbmodel.OpAdd:
		key := serverKey{b, s.Name}
		if _, ok := r.pending[key]; ok || r.parked[key] {
			// Removed a moment ago, still draining or parked: take it back.
			delete(r.pending, key)
			delete(r.parked, key)
			if err := c.SetServerAddr(b, s.Name, s.Host, s.Port); err != nil {
				return err
			}
			if s.Weight > 0 {
				if err := c.SetServerWeight(b, s.Name, strconv.Itoa(s.Weight)); err != nil {
					return err
				}
			}
			return c.SetServerState(b, s.Name, readyState(s))
		}
		line := lbmodel.AppendServerAddr(nil, s)
		if s.Options != "" {
			line = append(append(line, ' '), s.Options...)
		}
		if err := c.AddServer(b, s.Name, string(line)); err != nil {
			// A server removed since the last reload is parked, not deleted,
			// and keeps its id; a new server whose stable id (a hash of its
			// name) meets it is added with an id of HAProxy's choosing. The
			// next reload writes the stable id, free again by then.
			free, ok := withoutServerID(line)
			if !ok || !strings.Contains(err.Error(), "already used") {
				return err
			}
			if err := c.AddServer(b, s.Name, string(free)); err != nil {
				return err
			}
		}
		// Dynamic servers start with checks off and in maintenance.
		if hasOption(s.Options, "check") {
			if err := c.EnableServerHealth(b, s.Name); err != nil {
				return err
			}
		}
		if hasOption(s.Options, "agent-check") {
			if err := c.EnableAgentCheck(b, s.Name); err != nil {
				return err
			}
		}
		if s.Draining || hasOption(s.Options, "disabled") {
			return nil
		}
		return c.SetServerState(b, s.Name, "ready")
	case lbmodel.OpRemove:
		if err := c.SetServerState(b, s.Name, "drain"); err != nil {
			return err
		}
		r.pending[serverKey{b, s.Name}] = &pendingRemoval{since: time.Now()}
		return nil
	case lbmodel.OpSetAddr:
		return c.SetServerAddr(b, s.Name, s.Host, s.Port)
	case lbmodel.OpSetWeight:
		return c.SetServerWeight(b, s.Name, strconv.Itoa(s.Weight))
	case lbmodel.OpSetState:
		return c.SetServerState(b, s.Name, readyState(s))
	}
	return fmt.Errorf("unknown runtime operation %d", op.Kind)
}

// readyState is the admin state of a server the model keeps: a draining one
// is in maintenance, as its "disabled" in the config puts it after a reload
// (marathon-lb's zdd.py waits for MAINT before it kills a task).
func readyState(s *lbmodel.Server) string {
	if s.Draining {
		return "maint"
	}
	return "ready"
}

// hasOption reports whether the option keyword occurs in a server's options.
// withoutServerID returns a server line without its "id N" option, and
// whether it had one.
func withoutServerID(line []byte) ([]byte, bool) {
	f := strings.Fields(string(line))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "id" {
			return []byte(strings.Join(append(f[:i:i], f[i+2:]...), " ")), true
		}
	}
	return line, false
}

func hasOption(opts, keyword string) bool {
	if !strings.Contains(opts, keyword) {
		return false
	}
	for _, f := range strings.Fields(opts) {
		if f == keyword {
			return true
		}
	}
	return false
}

// RunReaper parks drained servers until ctx ends: every tick (or when woken by
// a removal) it parks the pending servers that have no connection left, or that
// have drained for longer than the drain timeout (closing what remains).
func (r *runtimeAPI) RunReaper(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
		r.reap(ctx)
	}
}

func (r *runtimeAPI) reap(ctx context.Context) {
	type candidate struct {
		key serverKey
		p   *pendingRemoval
	}
	r.mu.Lock()
	if len(r.pending) == 0 {
		r.mu.Unlock()
		return
	}
	c, err := r.conn(ctx)
	cands := make([]candidate, 0, len(r.pending))
	for key, p := range r.pending {
		cands = append(cands, candidate{key, p})
	}
	r.mu.Unlock()
	if err != nil {
		return
	}
	// Asking how busy a server is does not hold r.mu, so that a change waiting
	// to reach HAProxy is not queued behind a round of drain checks.
	for _, cand := range cands {
		key, p := cand.key, cand.p
		now := time.Now()
		expired := now.Sub(p.since) >= r.drainTimeout
		var n int
		if !expired {
			n, err = serverSessions(c, key.backend, key.server)
		}
		r.mu.Lock()
		if r.pending[key] != p {
			// Taken back, or forgotten after a reload, meanwhile.
			r.mu.Unlock()
			continue
		}
		switch {
		case errors.Is(err, errNoSuchServer):
			r.log.Debug("drained server is gone", "backend", key.backend, "server", key.server)
			delete(r.pending, key)
		case err != nil || n > 0:
			r.log.Debug("server still draining", "backend", key.backend, "server", key.server, "sessions", n, "err", err)
		default:
			perr := parkServer(c, key.backend, key.server, expired)
			switch {
			case errors.Is(perr, errNoSuchServer):
				delete(r.pending, key)
			case perr == nil:
				delete(r.pending, key)
				r.parked[key] = true
				r.log.Debug("drained server parked in maintenance until the next reload", "backend", key.backend,
					"server", key.server, "drained", now.Sub(p.since).Round(time.Millisecond), "forced", expired)
			case now.Sub(p.since) >= 2*r.drainTimeout:
				delete(r.pending, key)
				r.log.Warn("cannot park a drained server in maintenance; it stays draining until the next reload",
					"backend", key.backend, "server", key.server, "err", perr)
			}
		}
		r.mu.Unlock()
		err = nil
	}
}

var errNoSuchServer = errors.New("no such server")

// serverSessions returns how busy a server is: its connections in use plus its
// current sessions. It finds the server's ids with "show servers conn BACKEND",
// then asks "show stat BKID 4 SVID" for the sessions: "show stat NAME" would
// pick a frontend of the same name, as marathon-lb's per-port frontends are.
func serverSessions(c hrt.Runtime, backend, server string) (int, error) {
	out, err := c.ExecuteRaw("show servers conn " + backend)
	if err != nil {
		return 0, err
	}
	text := strings.Join(out, "\n")
	if strings.Contains(text, "Can't find backend") || strings.Contains(text, "No such") {
		return 0, errNoSuchServer
	}
	name := backend + "/" + server
	for _, line := range strings.Split(text, "\n") {
		// bkname/svname bkid/svid addr port - purge_delay used_cur used_max …
		f := strings.Fields(line)
		if len(f) <= 6 || f[0] != name {
			continue
		}
		used, err := strconv.Atoi(f[6])
		if err != nil {
			return 0, fmt.Errorf("show servers conn: bad used_cur %q", f[6])
		}
		bk, sv, ok := strings.Cut(f[1], "/")
		if !ok {
			return 0, fmt.Errorf("show servers conn: bad ids %q", f[1])
		}
		out, err := c.ExecuteRaw("show stat " + bk + " 4 " + sv)
		if err != nil {
			return 0, err
		}
		for _, row := range strings.Split(strings.Join(out, "\n"), "\n") {
			// pxname,svname,qcur,qmax,scur,…
			cols := strings.Split(row, ",")
			if len(cols) > 4 && cols[0] == backend && cols[1] == server {
				q, _ := strconv.Atoi(cols[2])
				scur, err := strconv.Atoi(cols[4])
				if err != nil {
					return 0, fmt.Errorf("show stat: bad scur %q", cols[4])
				}
				return used + q + scur, nil
			}
		}
		return 0, fmt.Errorf("show stat %s 4 %s: no line for %s", bk, sv, name)
	}
	return 0, errNoSuchServer
}

// parkServer takes a drained server out of service without deleting it:
// maintenance (no traffic, no check). Connections still open are closed only
// when the drain bound has passed (cut): killing streams is the other path to
// the HAProxy 2.6 crashes above, so an idle server is never asked to.
func parkServer(c hrt.Runtime, backend, server string, cut bool) error {
	if err := c.SetServerState(backend, server, "maint"); err != nil {
		if strings.Contains(err.Error(), "No such server") || strings.Contains(err.Error(), "No such backend") {
			return errNoSuchServer
		}
		return err
	}
	if !cut {
		return nil
	}
	_, err := c.ExecuteRaw("shutdown sessions server " + backend + "/" + server)
	return err
}
