package lbsync

import (
	"net/netip"

	"github.com/discovery-mesos/discovery/state"
)

// ModelBuilder returns the daemon's BuildFunc: BuildModel on the snapshot's
// apps (SnapshotApps) with cfg and the templates current at each build.
// templates is called on every build, so a watcher of the templates directory
// can swap them (an atomic.Pointer) and call Syncer.Resync. resolve turns agent
// host names into addresses; nil accepts IP literals only.
func ModelBuilder(cfg *Config, templates func() *Templates, resolve func(string) (netip.Addr, bool)) BuildFunc {
	return func(snap *state.Snapshot, opts *BuildOptions) (*Model, error) {
		if opts == nil {
			opts = &BuildOptions{}
		}
		if opts.Resolve == nil {
			opts.Resolve = resolve
		}
		return BuildModel(SnapshotApps(snap), cfg, templates(), opts)
	}
}
