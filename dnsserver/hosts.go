package dnsserver

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/state"
)

// Host names in the Mesos state.
//
// An agent's or a framework's PID may hold a host name rather than an IP
// ("slave(1)@agent-7.example.com:5051"), and a framework without a PID (an
// HTTP API scheduler) is only known by its host name. mesos-dns looks such
// names up while it builds its records, with the system resolver, and serves
// what they resolve to; a name that does not resolve gets no records, and the
// tasks on such an agent keep theirs (all but the A/AAAA under .slave).
//
// We do the same, but never while building a table: a build must not wait on
// the network. The Updater's hostResolver looks names up in the background,
// bounded (a timeout per lookup, a few lookups at a time), caches them, looks
// them up again every refresh interval, and builds the table again when an
// answer changes. Until a new name has resolved, it has no records.

// HostAddrs are the addresses of host names, as looked up. A HostAddrs is
// never changed once a table is built with it.
type HostAddrs map[string][]netip.Addr

// addrs returns host's addresses: the address itself for an IP literal, what
// it resolved to for a name, nothing for an empty host or a name not (yet)
// resolved.
func (h HostAddrs) addrs(host string) []netip.Addr {
	if a, ok := hostAddr(host); ok {
		return []netip.Addr{a}
	}
	return h[host]
}

func (h HostAddrs) equal(o HostAddrs) bool {
	return maps.EqualFunc(h, o, slices.Equal)
}

// hostNames returns the host names (not IP literals) in c that records depend
// on: agents' PID hosts, frameworks' PID hosts, PID-less frameworks' host
// names.
func hostNames(c *state.Cluster) map[string]bool {
	names := map[string]bool{}
	add := func(h string) {
		if _, ok := hostAddr(h); !ok && h != "" {
			names[h] = true
		}
	}
	if c == nil {
		return names
	}
	for i := range c.Agents {
		add(c.Agents[i].Host)
	}
	for i := range c.Frameworks {
		h, _ := frameworkHost(&c.Frameworks[i])
		add(h)
	}
	return names
}

// LookupFunc resolves a host name to its addresses.
type LookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// systemLookup resolves with the system's resolver (/etc/hosts, then the
// nameservers of /etc/resolv.conf), as mesos-dns did.
func systemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// Bounds on the lookups: a name that takes longer than hostLookupTimeout is
// taken as not resolving this time; at most hostLookupsInFlight run at once,
// so a cluster of many named agents does not flood the resolver.
const (
	hostLookupTimeout   = 5 * time.Second
	hostLookupsInFlight = 8
)

// hostResolver keeps the addresses of the host names of the latest cluster.
type hostResolver struct {
	lookup  LookupFunc
	refresh time.Duration
	timeout time.Duration // per lookup: hostLookupTimeout
	log     *slog.Logger
	sem     chan struct{}
	// changed gets a value when a lookup changed the addresses.
	changed chan struct{}
	// unresolved is set to the number of names whose last lookup failed.
	unresolved prometheus.Gauge

	mu      sync.Mutex
	entries map[string]*hostEntry
	current HostAddrs // rebuilt (never changed in place) when entries change
}

type hostEntry struct {
	addrs    []netip.Addr
	looked   time.Time // when the last lookup started
	inflight bool
	failing  bool // the last lookup failed (reported once until it works)
}

func newHostResolver(lookup LookupFunc, refresh time.Duration, log *slog.Logger, unresolved prometheus.Gauge) *hostResolver {
	if lookup == nil {
		lookup = systemLookup
	}
	if refresh <= 0 {
		refresh = time.Minute
	}
	return &hostResolver{
		lookup:     lookup,
		refresh:    refresh,
		timeout:    hostLookupTimeout,
		log:        log,
		sem:        make(chan struct{}, hostLookupsInFlight),
		changed:    make(chan struct{}, 1),
		entries:    map[string]*hostEntry{},
		unresolved: unresolved,
	}
}

// want returns the addresses known for c's host names, and starts a lookup
// of each name that is new or was last looked up over a refresh interval ago.
// Names no longer in c are forgotten. Lookups end when ctx does.
func (r *hostResolver) want(ctx context.Context, c *state.Cluster) HostAddrs {
	names := hostNames(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	dropped := false
	for n, e := range r.entries {
		if !names[n] && !e.inflight {
			delete(r.entries, n)
			dropped = dropped || len(e.addrs) > 0
		}
	}
	if dropped {
		r.rebuildLocked()
	}
	r.countLocked()
	now := time.Now()
	for n := range names {
		e := r.entries[n]
		if e == nil {
			e = &hostEntry{}
			r.entries[n] = e
		}
		if e.inflight || (!e.looked.IsZero() && now.Sub(e.looked) < r.refresh) {
			continue
		}
		e.inflight, e.looked = true, now
		go r.resolve(ctx, n)
	}
	return r.current
}

// resolve looks host up and records the answer.
func (r *hostResolver) resolve(ctx context.Context, host string) {
	var addrs []netip.Addr
	var err error
	select {
	case r.sem <- struct{}{}:
		lctx, cancel := context.WithTimeout(ctx, r.timeout)
		addrs, err = r.lookup(lctx, host)
		cancel()
		<-r.sem
	case <-ctx.Done():
		err = ctx.Err()
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)

	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[host]
	if e == nil {
		return
	}
	e.inflight = false
	defer r.countLocked()
	if err != nil || len(addrs) == 0 {
		// Reported once, not fatal: the name keeps the addresses it had
		// (none if it never resolved) and is looked up again next refresh.
		if !e.failing && ctx.Err() == nil {
			r.log.Warn("host name in the mesos state does not resolve; its records wait for it",
				"host", host, "err", err, "kept", len(e.addrs))
		}
		e.failing = true
		return
	}
	if e.failing {
		r.log.Info("host name in the mesos state resolves again", "host", host, "addrs", addrs)
	}
	e.failing = false
	if slices.Equal(e.addrs, addrs) {
		return
	}
	e.addrs = addrs
	r.rebuildLocked()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// countLocked sets the unresolved gauge. Callers hold r.mu.
func (r *hostResolver) countLocked() {
	n := 0
	for _, e := range r.entries {
		if e.failing {
			n++
		}
	}
	r.unresolved.Set(float64(n))
}

// rebuildLocked makes a new current from the entries. Callers hold r.mu.
func (r *hostResolver) rebuildLocked() {
	next := make(HostAddrs, len(r.entries))
	for n, e := range r.entries {
		if len(e.addrs) > 0 {
			next[n] = e.addrs
		}
	}
	r.current = next
}
