package state

import (
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"slices"
	"sort"
)

// digestSeed is fixed for the life of the process: digests compare snapshots
// within one run and are never stored.
var digestSeed = maphash.MakeSeed()

// Seal sorts c's agents, frameworks and tasks by ID, builds its lookup indexes and
// computes its Digest. Sources call it once, before publishing; c must not be
// changed afterwards.
func (c *Cluster) Seal() *Cluster {
	slices.SortFunc(c.Tasks, func(a, b *Task) int { return cmp.Compare(a.ID, b.ID) })
	return c.SealTasksDigested(nil)
}

// SealTasksDigested is Seal for a cluster whose tasks are sorted by ID already,
// given TaskDigest of each task (in order) where known: ds[i] != 0 is trusted
// to be TaskDigest(c.Tasks[i]), a zero or missing one is computed. Sources
// that keep their tasks between views (the event stream) digest only the tasks
// that changed. The cluster keeps ds (filled in) as its taskDigests when it
// has one per task; the caller must not change it afterwards.
func (c *Cluster) SealTasksDigested(ds []uint64) *Cluster {
	c.sealMembers(nil)
	c.taskDigests, c.taskSum = c.digestTasks(ds)
	c.Digest = c.digest()
	return c
}

// SealFromLast is SealTasksDigested for a view a source built from its last
// one, last (nil for none), given every task's digest (ds, one per task, none
// zero, all trusted) and their sum, wrapping, which the source keeps by
// updating last's (TaskDigestSum) with the tasks that changed. When c's
// agents and frameworks are last's (the same slices), their indexes and
// digest are last's too. Sealing then costs nothing per task or agent.
// Without one digest per task it is SealTasksDigested.
func (c *Cluster) SealFromLast(last *Cluster, ds []uint64, sum uint64) *Cluster {
	if len(ds) != len(c.Tasks) {
		return c.SealTasksDigested(ds)
	}
	c.sealMembers(last)
	c.taskDigests, c.taskSum = ds, sum
	if len(ds) == 0 {
		c.taskDigests = nil
	}
	c.Digest = c.digest()
	return c
}

// sealMembers sorts the agents and frameworks, builds their indexes and
// digests them, or takes all that from last (a sealed cluster, or nil) when
// c's agents and frameworks are last's.
func (c *Cluster) sealMembers(last *Cluster) {
	if last != nil && last.agentIndex != nil && sameSlice(c.Agents, last.Agents) && sameSlice(c.Frameworks, last.Frameworks) {
		c.agentIndex, c.frameworkIndex, c.membersDigest = last.agentIndex, last.frameworkIndex, last.membersDigest
		return
	}
	slices.SortFunc(c.Agents, func(a, b Agent) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(c.Frameworks, func(a, b Framework) int { return cmp.Compare(a.ID, b.ID) })
	c.agentIndex = make(map[string]int, len(c.Agents))
	for i := range c.Agents {
		c.agentIndex[c.Agents[i].ID] = i
	}
	c.frameworkIndex = make(map[string]int, len(c.Frameworks))
	for i := range c.Frameworks {
		c.frameworkIndex[c.Frameworks[i].ID] = i
	}
	c.membersDigest = c.digestMembers()
}

// sameSlice reports whether a and b are the same slice (not only equal).
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// TaskDigestSum is the sum, wrapping, of the digests of c's tasks (see
// SealFromLast); zero when c was not sealed.
func (c *Cluster) TaskDigestSum() uint64 { return c.taskSum }

// TaskDigests returns, for each of c.Tasks in order, a digest of its
// content: equal digests (within a process) mean equal tasks. It is nil when
// c was not sealed. Consumers that keep something per task (the DNS table,
// lbmodel.MesosApps) use them to tell the tasks that changed between two views
// without comparing them field by field. The slice is read-only.
func (c *Cluster) TaskDigests() []uint64 {
	if len(c.taskDigests) != len(c.Tasks) {
		return nil
	}
	return c.taskDigests
}

// digester writes values into a maphash with separators, so that ("ab","c") and
// ("a","bc") hash differently.
type digester struct{ h maphash.Hash }

func (d *digester) str(s string) {
	d.h.WriteString(s)
	d.h.WriteByte(0)
}

func (d *digester) num(n uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	d.h.Write(b[:])
}

func (d *digester) labels(ls []Label) {
	d.num(uint64(len(ls)))
	for _, l := range ls {
		d.str(l.Key)
		d.str(l.Value)
	}
}

func (d *digester) ranges(rs []PortRange) {
	d.num(uint64(len(rs)))
	for _, r := range rs {
		d.num(uint64(r.Begin)<<32 | uint64(r.End))
	}
}

// addrs hashes addresses without formatting them (Seal runs on every fetch of
// clusters with 100,000 tasks).
func (d *digester) addrs(as []netip.Addr) {
	d.num(uint64(len(as)))
	for _, a := range as {
		b := a.As16()
		d.h.Write(b[:])
		d.h.WriteByte(byte(a.BitLen()))
		d.str(a.Zone())
	}
}

func (d *digester) master(m Master) {
	d.str(m.ID)
	d.str(m.Hostname)
	d.str(m.PID)
	d.str(m.Host)
	d.num(uint64(m.Port))
}

// digestTasks returns the TaskDigest of each of c's tasks, taken from ds
// where given (see SealTasksDigested): ds, filled in, when it has one per
// task; nil for no tasks. It returns their sum too.
func (c *Cluster) digestTasks(ds []uint64) ([]uint64, uint64) {
	all := ds
	if len(all) != len(c.Tasks) {
		all = make([]uint64, len(c.Tasks))
		copy(all, ds)
	}
	var td digester
	var sum uint64
	for i, t := range c.Tasks {
		if all[i] == 0 {
			all[i] = td.task(t)
		}
		sum += all[i]
	}
	if len(all) == 0 {
		all = nil
	}
	return all, sum
}

// digest combines the masters, the digest of the agents and frameworks
// (c.membersDigest), the number of tasks and the sum of their digests
// (c.taskSum). A sum, not a sequence: the tasks are sorted by ID, which
// their digests cover, so their set decides their order (but for tasks of
// equal IDs, which the sum lets change places), and a view built from the
// last one updates the sum by the tasks that changed rather than hashing
// every task's digest again.
func (c *Cluster) digest() uint64 {
	var d digester
	d.h.SetSeed(digestSeed)
	d.master(c.Leader)
	d.num(uint64(len(c.Masters)))
	for _, m := range c.Masters {
		d.master(m)
	}
	d.num(c.membersDigest)
	d.num(uint64(len(c.Tasks)))
	d.num(c.taskSum)
	return d.h.Sum64()
}

// digestMembers digests the agents and frameworks.
func (c *Cluster) digestMembers() uint64 {
	var d digester
	d.h.SetSeed(digestSeed)
	d.num(uint64(len(c.Agents)))
	for _, a := range c.Agents {
		d.str(a.ID)
		d.str(a.Hostname)
		d.str(a.PID)
		d.str(a.Host)
		d.num(uint64(a.Port))
		d.ranges(a.Ports)
		keys := make([]string, 0, len(a.Attributes))
		for k := range a.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.str(k)
			d.str(a.Attributes[k])
		}
		d.num(b2u(a.Active))
	}
	d.num(uint64(len(c.Frameworks)))
	for _, f := range c.Frameworks {
		d.str(f.ID)
		d.str(f.Name)
		d.str(f.Hostname)
		d.str(f.PID)
		d.str(f.Host)
		d.num(uint64(f.Port))
		d.num(b2u(f.Active))
	}
	return d.h.Sum64()
}

// TaskDigest identifies one task's content; never zero.
func TaskDigest(t *Task) uint64 {
	var d digester
	return d.task(t)
}

// task returns t's digest, using d (reset first) to compute it.
func (d *digester) task(t *Task) uint64 {
	d.h.SetSeed(digestSeed) // resets
	d.str(t.ID)
	d.str(t.Name)
	d.str(t.FrameworkID)
	d.str(t.AgentID)
	d.str(string(t.State))
	d.labels(t.Labels)
	switch {
	case t.Healthy == nil:
		d.num(2)
	case *t.Healthy:
		d.num(1)
	default:
		d.num(0)
	}
	d.addrs(t.NetInfo)
	d.addrs(t.Docker)
	d.addrs(t.Mesos)
	d.ranges(t.Ports)
	if t.Discovery == nil {
		d.num(0)
	} else {
		di := t.Discovery
		d.num(1)
		d.str(di.Visibility)
		d.str(di.Name)
		d.labels(di.Labels)
		d.num(uint64(len(di.Ports)))
		for _, p := range di.Ports {
			d.num(uint64(p.Number))
			d.str(p.Name)
			d.str(p.Protocol)
			d.labels(p.Labels)
		}
	}
	d.num(uint64(t.RunningSince.UnixNano()))
	return max(d.h.Sum64(), 1)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
