package state

import (
	"cmp"
	"slices"
	"sort"
)

// Seal sorts s's apps by ID and each app's tasks by ID, and computes s's Digest
// over everything but Source and FetchedAt. Sources call it once, before
// publishing; s must not be changed afterwards.
func (s *AppSet) Seal() *AppSet {
	slices.SortStableFunc(s.Apps, func(a, b App) int { return cmp.Compare(a.ID, b.ID) })
	for i := range s.Apps {
		slices.SortStableFunc(s.Apps[i].Tasks, func(a, b AppTask) int { return cmp.Compare(a.ID, b.ID) })
	}
	s.Digest, s.AppDigests = s.digest()
	return s
}

// digest combines the digests of the apps, in order: a source that changes one
// app of many recomputes only that app's digest (appDigest) and combines
// (CombineAppDigests). It returns the apps' digests too.
func (s *AppSet) digest() (uint64, []uint64) {
	ds := make([]uint64, len(s.Apps))
	for i := range s.Apps {
		ds[i] = appDigest(&s.Apps[i])
	}
	return CombineAppDigests(ds), ds
}

// CombineAppDigests is the Digest of a set whose apps, sorted by ID, have the
// digests ds (AppDigest of each): a source that keeps its apps between views
// (the Marathon event source) digests only the apps that changed.
func CombineAppDigests(ds []uint64) uint64 {
	var d digester
	d.h.SetSeed(digestSeed)
	d.num(uint64(len(ds)))
	for _, x := range ds {
		d.num(x)
	}
	return d.h.Sum64()
}

// AppDigest identifies one app's content: the digests an AppSet's Digest
// combines. Consumers that derive something per app (the load balancer's
// model) keep their result by it and redo only the apps whose digest changed.
func AppDigest(a *App) uint64 { return appDigest(a) }

// appDigest identifies one app's content.
func appDigest(a *App) uint64 {
	var d digester
	d.h.SetSeed(digestSeed)
	d.str(a.ID)
	d.strMap(a.Labels)
	d.str(string(a.Network))
	d.num(uint64(len(a.Ports)))
	for _, p := range a.Ports {
		d.num(uint64(p.ServicePort))
		d.num(uint64(p.ContainerPort))
		d.num(uint64(p.HostPort))
		d.str(p.Name)
		d.str(p.Protocol)
		d.strMap(p.Labels)
	}
	d.num(uint64(len(a.HealthChecks)))
	for _, hc := range a.HealthChecks {
		d.str(hc.Protocol)
		d.str(hc.Path)
		d.num(uint64(hc.PortIndex))
		d.num(uint64(hc.Port))
		d.num(uint64(hc.IntervalSeconds))
		d.num(uint64(hc.TimeoutSeconds))
		d.num(uint64(hc.GracePeriodSeconds))
		d.num(uint64(hc.MaxConsecutiveFailures))
		d.num(b2u(hc.IgnoreHTTP1xx))
	}
	d.num(uint64(a.Instances))
	d.num(uint64(len(a.Deployments)))
	for _, id := range a.Deployments {
		d.str(id)
	}
	d.num(uint64(a.LastScalingAt.UnixNano()))
	d.num(uint64(len(a.Tasks)))
	for j := range a.Tasks {
		d.appTask(&a.Tasks[j])
	}
	return d.h.Sum64()
}

func (d *digester) appTask(t *AppTask) {
	d.str(t.ID)
	d.str(t.AgentID)
	d.str(t.Host)
	d.ints(t.Ports)
	d.ints(t.ServicePorts)
	d.addrs(t.IPs)
	d.str(string(t.State))
	if t.Health == nil {
		d.num(^uint64(0))
	} else {
		d.num(uint64(len(t.Health)))
		for _, h := range t.Health {
			d.num(b2u(h))
		}
	}
	switch {
	case t.Ready == nil:
		d.num(2)
	case *t.Ready:
		d.num(1)
	default:
		d.num(0)
	}
	d.num(b2u(t.Draining))
	d.num(uint64(t.StartedAt.UnixNano()))
	d.str(t.Version)
}

func (d *digester) ints(ns []int) {
	d.num(uint64(len(ns)))
	for _, n := range ns {
		d.num(uint64(n))
	}
}

func (d *digester) strMap(m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d.num(uint64(len(keys)))
	for _, k := range keys {
		d.str(k)
		d.str(m[k])
	}
}
