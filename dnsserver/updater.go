package dnsserver

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/state"
)

// UpdaterOptions configure an Updater.
type UpdaterOptions struct {
	// Config is the record configuration every table is built with.
	Config Config
	// Registerer receives the table's metrics (updater_metrics.go); nil
	// registers none.
	Registerer prometheus.Registerer
	// Logger logs every table built ("dns table built"); nil discards.
	Logger *slog.Logger
	// Lookup resolves the host names of the Mesos state (see hosts.go); nil
	// uses the system's resolver, as mesos-dns did.
	Lookup LookupFunc
	// HostRefresh is how often each host name is looked up again (mesos-dns
	// looked them up on every refresh); 0 means a minute.
	HostRefresh time.Duration
}

// Updater is the DNS side's consumer of snapshots, as lbsync.Syncer is the load
// balancer's: it keeps the record table in step with the latest Mesos view and
// swaps each new table in atomically. Queries in flight keep the table they
// loaded and never wait for a build.
//
// Each table is updated from the previous one (Table.Update regenerates only
// the tasks that changed), and a snapshot whose Mesos view did not change (a
// Marathon-only change) builds nothing. Run reads snapshots as they come from
// a latest-wins channel (the hub's), so a build that falls behind skips to the
// latest view rather than queueing.
//
// Host names in the view (agents' and schedulers' PIDs that hold a name,
// schedulers without a PID) are looked up in the background, never by a
// build (hosts.go); an answer that changes builds the latest view again.
//
// An Updater is a TableSource: hand it to NewServer, and its Load to
// HTTPOptions.Table. Until the first view arrives Load returns nil, so queries
// get SERVFAIL (which resolvers retry), never an NXDOMAIN they would cache.
type Updater struct {
	cfg   Config
	log   *slog.Logger
	m     *updaterMetrics
	hosts *hostResolver

	table  atomic.Pointer[Table]
	builds atomic.Uint64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after each build
}

// NewUpdater returns an updater building tables with opts.Config.
func NewUpdater(opts UpdaterOptions) *Updater {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := newUpdaterMetrics(opts.Registerer)
	return &Updater{
		cfg:     opts.Config,
		log:     log,
		m:       m,
		hosts:   newHostResolver(opts.Lookup, opts.HostRefresh, log, m.unresolved),
		changed: make(chan struct{}),
	}
}

// Run builds a table from every new Mesos view read from snaps until ctx ends.
// It always returns nil (the signature matches the daemon's other loops).
func (u *Updater) Run(ctx context.Context, snaps <-chan *state.Snapshot) error {
	var last *state.Snapshot
	prev := Build(nil, u.cfg) // what the first Update starts from
	// Host names are looked up again every refresh; a changed answer builds
	// the last view again.
	refresh := time.NewTicker(u.hosts.refresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			if last != nil {
				u.hosts.want(ctx, last.Cluster)
			}
		case <-u.hosts.changed:
			if last != nil {
				prev = u.update(ctx, prev, last)
			}
		case s, ok := <-snaps:
			if !ok {
				snaps = nil // closed: wait for ctx, as lbsync.Syncer does
				continue
			}
			u.m.snapshotSeq.Set(float64(s.Seq))
			if s.Cluster == nil || last != nil && s.Cluster == last.Cluster {
				continue // a Marathon-only change: nothing for DNS
			}
			last = s
			prev = u.update(ctx, prev, s)
		}
	}
}

// update builds the table of snap from prev, swaps it in, and reports it.
func (u *Updater) update(ctx context.Context, prev *Table, snap *state.Snapshot) *Table {
	start := time.Now()
	d := diffTasks(prev.cluster, snap.Cluster)
	t := prev.updateDiff(snap.Cluster, u.hosts.want(ctx, snap.Cluster), &d)
	u.table.Store(t)
	took := time.Since(start)
	u.m.buildSeconds.Observe(took.Seconds())
	u.m.tasks.Set(float64(len(snap.Cluster.Tasks)))
	u.m.records.Set(float64(t.Records()))
	ch := d.taskChanges
	attrs := []any{"seq", snap.Seq, "source", snap.Cluster.Source,
		"tasks", len(snap.Cluster.Tasks), "names", t.Names(), "records", t.Records(), "took", took.Round(time.Microsecond),
		"tasks_started", ch.started, "tasks_stopped", ch.stopped}
	if ch.started > 0 {
		attrs = append(attrs, "started", sample(ch.startedIDs, ch.started))
	}
	if ch.stopped > 0 {
		attrs = append(attrs, "stopped", sample(ch.stoppedIDs, ch.stopped))
	}
	u.log.Info("dns table built", attrs...)
	u.builds.Add(1)
	u.mu.Lock()
	close(u.changed)
	u.changed = make(chan struct{})
	u.mu.Unlock()
	// After a full build, set up what the next update needs now, while no
	// change waits for it.
	t.Prepare()
	return t
}

// Load returns the table being served, nil before the first Mesos view.
func (u *Updater) Load() *Table { return u.table.Load() }

// Builds counts the tables built so far.
func (u *Updater) Builds() uint64 { return u.builds.Load() }

// Changed returns a channel closed after the next table is built and swapped
// in. Tests wait on it instead of sleeping.
func (u *Updater) Changed() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.changed
}
