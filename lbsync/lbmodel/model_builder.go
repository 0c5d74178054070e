package lbmodel

import (
	"net/netip"
	"sync"

	"github.com/discovery-mesos/discovery/state"
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
		return cache.Build(a, d, cfg, templates(), opts)
	}
}
