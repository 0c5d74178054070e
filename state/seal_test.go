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
