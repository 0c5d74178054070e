package state

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func sealTestCluster() *Cluster {
	yes := true
	return &Cluster{
		Leader: Master{ID: "m", Host: "127.0.0.1", Port: 5050},
		Agents: []Agent{{ID: "a2", Host: "127.0.1.2"}, {ID: "a1", Host: "127.0.1.1", Attributes: map[string]string{"rack": "r1"}}},
		Tasks: []*Task{
			{ID: "web.2", Name: "web", AgentID: "a2", State: TaskRunning, Healthy: &yes},
			{ID: "web.1", Name: "web", AgentID: "a1", State: TaskRunning, NetInfo: []netip.Addr{netip.MustParseAddr("127.0.3.1")}},
			{ID: "db.1", Name: "db", AgentID: "a1", State: TaskStaging, Discovery: &Discovery{Name: "db", Ports: []DiscoveryPort{{Number: 5432, Name: "pg"}}}},
		},
	}
}

// TestSealTasksDigested: a digest made from per-task digests, known or not,
// equals Seal's, and changes with any task.
func TestSealTasksDigested(t *testing.T) {
	want := sealTestCluster().Seal()
	for _, tc := range []struct {
		name string
		ds   func(c *Cluster) []uint64
	}{
		{"none known", func(*Cluster) []uint64 { return nil }},
		{"all known", func(c *Cluster) []uint64 {
			ds := make([]uint64, len(c.Tasks))
			for i := range c.Tasks {
				ds[i] = TaskDigest(c.Tasks[i])
			}
			return ds
		}},
		{"some known", func(c *Cluster) []uint64 { return []uint64{0, TaskDigest(c.Tasks[1])} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sealTestCluster()
			slices.SortFunc(c.Tasks, func(a, b *Task) int { return strings.Compare(a.ID, b.ID) })
			if got := c.SealTasksDigested(tc.ds(c)).Digest; got != want.Digest {
				t.Errorf("digest %x, want Seal's %x", got, want.Digest)
			}
		})
	}
	edits := map[string]func(c *Cluster){
		"task state":    func(c *Cluster) { c.Tasks[0].State = TaskKilling },
		"task address":  func(c *Cluster) { c.Tasks[1].NetInfo = []netip.Addr{netip.MustParseAddr("127.0.3.9")} },
		"task health":   func(c *Cluster) { c.Tasks[0].Healthy = nil },
		"task running":  func(c *Cluster) { c.Tasks[2].RunningSince = time.Unix(1, 0) },
		"task port":     func(c *Cluster) { c.Tasks[2].Discovery.Ports[0].Number = 5433 },
		"task removed":  func(c *Cluster) { c.Tasks = c.Tasks[1:] },
		"agent":         func(c *Cluster) { c.Agents[1].Attributes = nil },
		"tasks swapped": func(c *Cluster) { c.Tasks[0].ID, c.Tasks[1].ID = c.Tasks[1].ID, c.Tasks[0].ID },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			c := sealTestCluster()
			edit(c)
			if c.Seal().Digest == want.Digest {
				t.Errorf("digest unchanged")
			}
		})
	}
	if TaskDigest(&Task{}) == 0 {
		t.Errorf("TaskDigest of an empty task is 0, which means unknown")
	}
}

// TestSealFromLast: a view sealed from the last one, its digest sum updated
// by the task that changed and its agents and frameworks the last's, has
// the digest and lookups of the same view sealed whole; agents that are not
// the last's are sorted and indexed.
func TestSealFromLast(t *testing.T) {
	last := sealTestCluster().Seal()
	next := &Cluster{Leader: last.Leader, Agents: last.Agents, Frameworks: last.Frameworks, Tasks: slices.Clone(last.Tasks)}
	changed := *next.Tasks[1]
	changed.State = TaskKilling
	next.Tasks[1] = &changed
	ds := slices.Clone(last.TaskDigests())
	ds[1] = TaskDigest(&changed)
	sum := last.TaskDigestSum() - last.TaskDigests()[1] + ds[1]
	next.SealFromLast(last, ds, sum)
	whole := (&Cluster{Leader: last.Leader, Agents: slices.Clone(last.Agents), Tasks: slices.Clone(next.Tasks)}).Seal()
	if next.Digest != whole.Digest || next.Digest == last.Digest {
		t.Errorf("digest %x, sealed whole %x, last %x", next.Digest, whole.Digest, last.Digest)
	}
	if a := next.Agent("a1"); a == nil || a.Host != "127.0.1.1" {
		t.Errorf("Agent(a1) = %+v", a)
	}
	if !slices.Equal(next.TaskDigests(), whole.TaskDigests()) || next.TaskDigestSum() != whole.TaskDigestSum() {
		t.Errorf("task digests %x (sum %x), sealed whole %x (sum %x)", next.TaskDigests(), next.TaskDigestSum(), whole.TaskDigests(), whole.TaskDigestSum())
	}

	other := &Cluster{Leader: last.Leader, Agents: []Agent{{ID: "a3", Host: "127.0.1.3"}, {ID: "a0", Host: "127.0.1.0"}},
		Tasks: slices.Clone(last.Tasks)}
	other.SealFromLast(last, slices.Clone(last.TaskDigests()), last.TaskDigestSum())
	if other.Agents[0].ID != "a0" || other.Agent("a3") == nil || other.Agent("a1") != nil {
		t.Errorf("new agents not sorted and indexed: %+v", other.Agents)
	}
	if other.Digest == last.Digest {
		t.Error("other agents, same digest")
	}
}
