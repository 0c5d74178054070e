package lbmodel

// BridgeModel returns the model between running and next that the Runtime API
// alone can reach: running, with the servers of every backend that exists in
// both and takes runtime changes replaced by next's. It returns nil when no such
// backend's servers differ (nothing to bridge).
//
// Why: a reload takes a few hundred milliseconds (haproxy -c, the new worker
// parsing its config), and under churn one structural change (an app scaled to
// zero, a new app) can follow another, so reloads come back to back. Without
// the bridge, a task killed meanwhile stays in the running worker's backend
// until the reload that drops it completes, and requests to it fail (HAProxy
// answers 503 once its retries are spent on dead servers). With it, server
// changes reach the running worker first, in milliseconds, and the reload only
// carries the structure.
func BridgeModel(running, next *Model) *Model {
	if running == nil || next == nil {
		return nil
	}
	var out []Backend
	i, j := 0, 0
	for i < len(running.Backends) && j < len(next.Backends) {
		old, cur := &running.Backends[i], &next.Backends[j]
		switch {
		case old.Name < cur.Name:
			i++
			continue
		case cur.Name < old.Name:
			j++
			continue
		}
		i++
		j++
		var p Plan
		if rm := planBackend(&p, old, cur, nil); len(p.Reload) > 0 || len(p.Runtime)+len(rm) == 0 {
			continue
		}
		if out == nil {
			out = append(make([]Backend, 0, len(running.Backends)), running.Backends...)
		}
		out[i-1].Servers = cur.Servers
	}
	if out == nil {
		return nil
	}
	b := *running
	b.Backends = out
	return &b
}
