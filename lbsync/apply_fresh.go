package lbsync

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// freshen puts the servers of the newest snapshot into the config about to be
// loaded, when that snapshot arrived while the config was checked and differs
// from it in server lines only.
//
// Why: haproxy -c takes hundreds of milliseconds (more under load), and the new
// worker starts with the servers of the config it loads. Under churn the tasks
// of the checked config may have died meanwhile; the runtime operations for
// those changes could only reach the new worker once the reload is confirmed,
// and until then its retries are spent on dead servers (503s). The structure
// is what was checked; the server lines are rendered by us, with option sets
// the check saw (serversOnly), so the newer config is as valid as the checked
// one. Should HAProxy refuse it all the same, the reload fails as any reload
// can: the old workers keep serving, the previous file is put back, and the
// retry validates the newest config from scratch.
//
// The apps left out by validation stay out (the newer model is built without
// them); the newer snapshot is applied next as usual, which tries them again
// if they changed.
func (r *reloadRun) freshen() {
	if r.newer == nil {
		return
	}
	a := r.a
	m, err := r.newer(sortedKeys(r.invalid))
	if err != nil {
		a.log.Warn("building the newest model ahead of the reload; loading the checked one", "err", err)
		return
	}
	if m == nil {
		return
	}
	ops, ok := serversOnly(r.next, m)
	if !ok || ops == 0 {
		return
	}
	data, err := lbmodel.Render(m)
	a.m.renders.Inc()
	if err != nil {
		a.log.Warn("rendering the newest model ahead of the reload; loading the checked one", "err", err)
		return
	}
	tmp, err := writeTemp(r.dir, "."+filepath.Base(a.configPath)+".fresh-*", data, configFileMode)
	if err != nil {
		a.log.Warn("writing the newest config ahead of the reload; loading the checked one", "err", err)
		return
	}
	os.Remove(r.tmp)
	r.tmp, r.data, r.next = tmp, data, m
	r.res.Folded = ops
}

// checkBridging runs haproxy -c on the file to load and, while it runs, brings
// the server changes of the snapshots that arrive to the running worker
// through the Runtime API (lbmodel.BridgeModel), as apply does ahead of a
// reload: the check takes hundreds of milliseconds, and the worker that
// serves meanwhile must not keep sending traffic to tasks that died.
func (r *reloadRun) checkBridging(ctx context.Context) error {
	a := r.a
	if r.newer == nil {
		return a.h.Check(ctx, r.tmp)
	}
	done := make(chan error, 1)
	go func() { done <- a.h.Check(ctx, r.tmp) }()
	tick := time.NewTicker(bridgeEvery)
	defer tick.Stop()
	var last *lbmodel.Model
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
		}
		m, err := r.newer(sortedKeys(r.invalid))
		if err != nil || m == nil || m == last {
			continue
		}
		last = m
		running, _ := a.current()
		a.bridge(ctx, running, m, &r.res)
	}
}

// bridgeEvery is how often checkBridging looks for a newer snapshot: a
// look is a channel receive that does not wait.
const bridgeEvery = 10 * time.Millisecond

// serversOnly reports whether next differs from checked, a config that passed
// haproxy -c, in nothing a check could object to: the same structure (head,
// userlists, frontends, backends, maps) and servers that differ only in name,
// address, weight and state, with options (as ServerOptionsKey has them)
// that some server of checked has. It returns the number of runtime
// operations the difference amounts to.
func serversOnly(checked, next *lbmodel.Model) (int, bool) {
	if checked == nil || next == nil || !lbmodel.StructuralEqual(checked, next) {
		return 0, false
	}
	plan := lbmodel.ComputePlan(checked, next)
	if len(plan.Reload) > 0 {
		return 0, false
	}
	if len(plan.Runtime) == 0 {
		return 0, true
	}
	seen := map[string]bool{}
	for i := range checked.Backends {
		for j := range checked.Backends[i].Servers {
			seen[lbmodel.ServerOptionsKey(checked.Backends[i].Servers[j].Options)] = true
		}
	}
	for _, op := range plan.Runtime {
		key := lbmodel.ServerOptionsKey(op.Server.Options)
		// A server that tracks another names it: the option is valid only
		// while that server exists, which the check did not see.
		if !seen[key] || hasOption(key, "track") || !validWeight(op.Server.Weight) {
			return 0, false
		}
	}
	return len(plan.Runtime), true
}

// validWeight reports whether HAProxy takes w as a server weight.
func validWeight(w int) bool { return w >= 0 && w <= 256 }
