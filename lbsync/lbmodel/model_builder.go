package lbmodel

import (
	"net/netip"
	"sync"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/vips"
)

// BuildFunc builds the load balancer model of a snapshot: what lbsync's
// Syncer calls. The syncer fills opts.Exclude (the apps found to break the
// config) and opts.Previous (the model HAProxy runs); the daemon's function
// (ModelBuilder) adds what it knows (Resolve) and calls BuildModel with its
// Config and current Templates on the snapshot's apps.
type BuildFunc func(snap *state.Snapshot, opts *BuildOptions) (*Model, error)

// ModelBuilder returns the daemon's BuildFunc: BuildModel on the snapshot's
// apps (SnapshotApps) with cfg and the templates current at each build.
// templates is called on every build, so a watcher of the templates directory
// can swap them (an atomic.Pointer) and call lbsync's Syncer.Resync. resolve
// turns agent host names into addresses; nil accepts IP literals only.
//
// Builds are incremental (ModelCache): only the apps that changed since the
// previous snapshots are derived again, which is what lets a server-level
// change reach HAProxy quickly with thousands of apps.
func ModelBuilder(cfg *Config, templates func() *Templates, resolve func(string) (netip.Addr, bool)) BuildFunc {
	cache := NewModelCache()
	// Apps derived from the Mesos view (no Marathon source) are derived
	// incrementally too: the event stream publishes a view per task change.
	mesosApps := NewMesosApps()
	linger := newAppLinger(cfg.AppLinger)
	// The apps and digests of the latest snapshot: the rebuilds of one
	// snapshot (apps left out after a failed validation) do not derive them
	// again.
	var mu sync.Mutex
	var last *state.Snapshot
	var apps []state.App
	var digests []uint64
	withVIPs := &vipMemo{}
	return func(snap *state.Snapshot, opts *BuildOptions) (*Model, error) {
		if opts == nil {
			opts = &BuildOptions{}
		}
		if opts.Resolve == nil {
			opts.Resolve = resolve
		}
		mu.Lock()
		if snap != last || snap == nil {
			last = snap
			switch {
			case snap != nil && snap.Apps == nil && snap.Cluster != nil:
				apps, digests = linger.Apply(mesosApps.Apps(snap.Cluster)) // SnapshotApps, incrementally
			default:
				apps = SnapshotApps(snap)
				if snap != nil && snap.Apps != nil && len(snap.Apps.AppDigests) == len(apps) {
					digests = snap.Apps.AppDigests // the Marathon source's, from Seal
				} else {
					digests = AppDigests(apps)
				}
			}
		}
		a, d := apps, digests
		mu.Unlock()
		m, err := cache.Build(a, d, cfg, templates(), opts)
		if err != nil || cfg.VIPsOff {
			return m, err
		}
		return withVIPs.add(m, snap, cfg, opts), nil
	}
}

// vipMemo keeps the latest model with VIPs, so that a snapshot that changes
// neither the model nor the VIPs gives back the very model HAProxy runs (the
// syncer then has nothing to do).
// The VIPs themselves are derived incrementally (vips.Builder): only the
// tasks and apps that carry VIP labels, or changed, are read.
type vipMemo struct {
	mu        sync.Mutex
	base, out *Model
	set       *vips.Set
	vips      vips.Builder
}

func (vm *vipMemo) add(m *Model, snap *state.Snapshot, cfg *Config, opts *BuildOptions) *Model {
	set := vm.vips.Build(snap, vips.Config{Range: cfg.VIPRange, Resolve: opts.Resolve, AppID: marathonAppID, Exclude: opts.Exclude})
	set = leaveOutAddressVIPsOnFrontendPorts(set, m)
	set = checkVIPListeners(set, cfg.VIPListenCheck, opts.Previous)
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if m == vm.base && vipSetsEqual(set, vm.set) {
		return vm.out
	}
	out := WithVIPs(m, set)
	vm.base, vm.set, vm.out = m, set, out
	return out
}
