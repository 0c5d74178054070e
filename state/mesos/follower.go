package mesos

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/state"
)

// leaderFollower is the one place that knows who leads: it keeps the static
// masters and ZooKeeper's view in a masterTracker, runs the ZooKeeper detector
// when there is one, and signals a new leader. The poller and the stream both
// ask it which masters to try, tell it which one served, and wait on it; the
// stream shares its follower with its fallback poller.
type leaderFollower struct {
	tracker     *masterTracker
	zk          *ZKDetector // nil without ZooKeeper
	zkTimeout   time.Duration
	zkConnected prometheus.Gauge
	log         *slog.Logger

	// leaderCh receives when ZooKeeper names a new leader, mastersCh when it
	// names other masters under the same leader (one pending signal each).
	leaderCh, mastersCh chan struct{}
	// listed is closed when ZooKeeper first lists the masters.
	listed chan struct{}

	mu sync.Mutex
	// zkMasters are the addresses ZooKeeper named at the last look, to notice
	// a change of the masters list.
	zkMasters []string
}

// newLeaderFollower follows static and, when zk is not nil, the election in
// ZooKeeper. zkTimeout is how long ZooKeeper may be unreachable before its
// view gives way to the static masters (and how long start-up waits for it).
func newLeaderFollower(static []state.Master, zk *ZKDetector, zkTimeout time.Duration, zkConnected prometheus.Gauge, log *slog.Logger) *leaderFollower {
	return &leaderFollower{
		tracker:     newMasterTracker(static),
		zk:          zk,
		zkTimeout:   zkTimeout,
		zkConnected: zkConnected,
		log:         log,
		leaderCh:    make(chan struct{}, 1),
		mastersCh:   make(chan struct{}, 1),
		listed:      make(chan struct{}),
	}
}

// start runs the ZooKeeper detection and takes its view in on every change,
// until ctx is done; the returned function waits for both to stop. Without
// ZooKeeper there is nothing to run.
func (f *leaderFollower) start(ctx context.Context) (wait func()) {
	if f.zk == nil {
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := f.zk.Run(ctx); err != nil && ctx.Err() == nil {
			f.log.Error("zookeeper leader detection stopped; using the static masters", "err", err)
		}
	})
	wg.Go(func() { f.watch(ctx) })
	return wg.Wait
}

// waitForZK waits, with ZooKeeper, for its first listing of the masters, at
// most zkTimeout: the first master asked should be the leader it names. Then
// the static list has to do. The first leader is not a change: its signal is
// dropped. It returns ctx's error when ctx ends first.
func (f *leaderFollower) waitForZK(ctx context.Context, fallback string) error {
	if f.zk == nil {
		return nil
	}
	f.log.Info("waiting for zookeeper to name the leader", "timeout", f.zkTimeout)
	t := time.NewTimer(f.zkTimeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-f.listed:
	case <-t.C:
		f.log.Warn(fallback, "waited", f.zkTimeout)
	}
	select {
	case <-f.leaderCh:
	default:
	}
	select {
	case <-f.mastersCh:
	default:
	}
	return nil
}

// watch takes ZooKeeper's view in on every change and signals what changed.
func (f *leaderFollower) watch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.zk.Changed():
		}
		leaderChanged, mastersChanged, listed := f.update()
		switch {
		case leaderChanged:
			signal(f.leaderCh)
		case mastersChanged:
			signal(f.mastersCh)
		}
		// After the signal, which waitForZK drops once it has seen the listing.
		if listed {
			select {
			case <-f.listed:
			default:
				close(f.listed)
			}
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// update takes ZooKeeper's view into the tracker, deciding whether it is
// usable: listed at least once, and connected now or lost for less than
// zkTimeout. A fetch calls it too, so that a view that went stale without a
// change gives way to the static masters.
func (f *leaderFollower) update() (leaderChanged, mastersChanged, listed bool) {
	if f.zk == nil {
		return false, false, false
	}
	v := f.zk.View()
	if v.Connected {
		f.zkConnected.Set(1)
	} else {
		f.zkConnected.Set(0)
	}
	listed = !v.Listed.IsZero()
	usable := listed && (v.Connected || time.Since(v.Since) < f.zkTimeout)
	leaderChanged = f.tracker.setZK(v.Masters, usable)
	addrs := make([]string, len(v.Masters))
	for i, m := range v.Masters {
		addrs[i] = masterAddr(m)
	}
	f.mu.Lock()
	mastersChanged = !slices.Equal(addrs, f.zkMasters)
	f.zkMasters = addrs
	f.mu.Unlock()
	return leaderChanged, mastersChanged, listed
}

// leaderChanged receives when ZooKeeper names a new leader.
func (f *leaderFollower) leaderChanged() <-chan struct{} { return f.leaderCh }

// mastersChanged receives when ZooKeeper names other masters, the leader
// unchanged.
func (f *leaderFollower) mastersChanged() <-chan struct{} { return f.mastersCh }

// candidates are the masters to ask, in order, as "host:port".
func (f *leaderFollower) candidates() []string { return f.tracker.candidates() }

// known are the masters as Cluster.Masters carries them.
func (f *leaderFollower) known() []state.Master { return f.tracker.known() }

// served records that the master at addr served the state or the stream.
func (f *leaderFollower) served(addr string) { f.tracker.served(addr) }
