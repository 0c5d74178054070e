package lbsync

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// ReasonListenersPaused: after a reload, HAProxy's listeners refused
// connections, and a reload brought them back (see watchListeners).
const ReasonListenersPaused = "listeners_paused"

// watchListeners checks that HAProxy accepts connections, soon after every
// reload and every few seconds, and reloads when it does not.
//
// Why: in a master-worker reload the new process takes the listening sockets
// from the old worker and listens on them, and the old worker is told to pause
// its listeners. On Linux a pause shuts the socket itself down, which both
// processes share; when the old worker handles its pause late (it waited for a
// CPU), it pauses the new worker's sockets too, and every new connection is
// refused until the next reload (seen with Debian 12's HAProxy 2.6.12 under
// frequent reloads on a busy machine). A refused connection on a listener the
// config binds on this host is that state; another reload mends it.
func (s *Syncer) watchListeners(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var soon *time.Timer
	var next []time.Time // when to look again after the latest reload
	var lastForced time.Time
	for {
		var soonC <-chan time.Time
		if soon != nil {
			soonC = soon.C
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.reloaded:
			// The old worker's pause comes within milliseconds, unless it
			// waits for a CPU: look a few times in the next second.
			now := time.Now()
			next = next[:0]
			for _, d := range afterReloadChecks {
				next = append(next, now.Add(d))
			}
		case <-soonC:
		}
		if soon != nil {
			soon.Stop()
			soon = nil
		}
		for len(next) > 0 && !next[0].After(time.Now()) {
			next = next[1:]
		}
		if len(next) > 0 {
			soon = time.NewTimer(time.Until(next[0]))
		}
		addr, ok := listenerProbe(s.Model())
		if !ok || !s.opts.HAProxy.Running(ctx) {
			continue
		}
		// Twice, so that one refusal while HAProxy restarts is not a reason.
		if !refused(ctx, addr) || !refused(ctx, addr) {
			continue
		}
		if time.Since(lastForced) < time.Second {
			continue // a reload for it is recent: let it settle
		}
		lastForced = time.Now()
		s.log.Warn("haproxy refuses connections on a listener its config binds; reloading to listen again",
			"addr", addr)
		s.requestReload(lbmodel.Reason{Class: ReasonListenersPaused, Detail: "listener " + addr + " refused connections"})
	}
}

// afterReloadChecks are when watchListeners looks after a reload.
var afterReloadChecks = []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, time.Second}

// refused reports whether a connection to addr is refused outright.
func refused(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// listenerProbe picks an address HAProxy listens on for m, to connect to: the
// first bind of the head (the stats listener of our HAPROXY_HEAD), else of the
// first frontend not in TCP mode (a connection to a TCP frontend would reach a
// server). A wildcard bind is probed on loopback. Binds on unix sockets or with
// a port range are skipped.
func listenerProbe(m *lbmodel.Model) (string, bool) {
	if m == nil {
		return "", false
	}
	if a, ok := firstBind(m.Head); ok {
		return a, true
	}
	for i := range m.Frontends {
		if f := &m.Frontends[i]; !strings.Contains(f.Text, "mode tcp") {
			if a, ok := firstBind(f.Text); ok {
				return a, true
			}
		}
	}
	return "", false
}

// firstBind returns the address of the first "bind" line of text, with
// wildcard hosts made 127.0.0.1.
func firstBind(text string) (string, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "bind" {
			continue
		}
		host, port, err := net.SplitHostPort(f[1])
		if err != nil || port == "" || strings.ContainsAny(port, "-,") || strings.Contains(host, "@") {
			continue
		}
		switch host {
		case "", "*", "0.0.0.0", "::":
			host = "127.0.0.1"
		}
		return net.JoinHostPort(host, port), true
	}
	return "", false
}
