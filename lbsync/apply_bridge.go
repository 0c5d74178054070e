package lbsync

import (
	"context"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// bridge runs, ahead of a reload, the server changes the Runtime API can make
// (lbmodel.BridgeModel), and records the bridged model as running. A failure is left to
// the reload, which brings every server along anyway.
func (a *applier) bridge(ctx context.Context, running, next *lbmodel.Model, res *ApplyResult) {
	b := lbmodel.BridgeModel(running, next)
	if b == nil {
		return
	}
	plan := lbmodel.ComputePlan(running, b)
	if len(plan.Reload) > 0 || len(plan.Runtime) == 0 {
		return
	}
	if err := a.rt.Apply(ctx, plan.Runtime); err != nil {
		a.log.Debug("server changes ahead of the reload failed; the reload brings them", "err", err)
		return
	}
	res.Bridged += len(plan.Runtime)
	data, err := lbmodel.Render(b)
	a.m.renders.Inc()
	if err != nil {
		a.log.Warn("rendering the bridged config", "err", err)
		return
	}
	// What runs is the bridge; the file catches up with the reload's write, or
	// with the next apply should the reload not happen.
	a.setRunning(b, lbmodel.TextOf(data))
	a.diskStale = true
}
