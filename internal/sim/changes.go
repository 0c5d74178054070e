package sim

import (
	"net/netip"
	"time"
)

// ChangeKind names what a Change did.
type ChangeKind string

// Kinds of change.
const (
	TaskStarted   ChangeKind = "task-started"
	TaskKilled    ChangeKind = "task-killed"
	TaskFailed    ChangeKind = "task-failed"
	TaskHealth    ChangeKind = "task-health"
	AppAdded      ChangeKind = "app-added"
	AppRemoved    ChangeKind = "app-removed"
	AppScaled     ChangeKind = "app-scaled"
	LeaderChanged ChangeKind = "leader-changed"
)

// Change is one change made to the cluster, with its times, so that a
// benchmark can measure how long a follower takes to see it. A task move is
// two changes: the old task killed, the new one started.
type Change struct {
	// Seq numbers the changes from 1.
	Seq  uint64
	Kind ChangeKind
	// At is when the change began to be published (just before the leading
	// master was changed, Marathon next); MarathonAt is when Marathon began to
	// be changed (zero for changes Marathon does not see); Done is when both
	// had it. Freshness through Mesos counts from At, through Marathon from
	// MarathonAt.
	At, MarathonAt, Done time.Time
	// App and Task are the app and task changed ("" when not applicable).
	App  string
	Task string
	// Addr is the task's first host port on its address (task changes).
	Addr netip.AddrPort
	// Healthy is the task's health after the change (task-started,
	// task-health).
	Healthy bool
	// Leader is the leading master's host:port after the change.
	Leader string
	// Instances is the app's instance count after an app change.
	Instances int
}

// Latency is how long after the change began a follower saw it at seen.
func (c Change) Latency(seen time.Time) time.Duration { return seen.Sub(c.At) }

// maxChanges bounds the change log a Cluster keeps for Changes.
const maxChanges = 1 << 16

// recordLocked appends a change to the log and returns it. Callers hold c.mu.
func (c *Cluster) recordLocked(ch Change) Change {
	c.seq++
	ch.Seq = c.seq
	if ch.Done.IsZero() {
		ch.Done = time.Now()
	}
	if ch.MarathonAt.IsZero() && ch.Kind != LeaderChanged {
		ch.MarathonAt = ch.At
	}
	ch.Leader = c.masters[c.leader].Addr()
	if len(c.changes) >= maxChanges {
		n := copy(c.changes, c.changes[len(c.changes)-maxChanges/2:])
		c.changes = c.changes[:n]
	}
	c.changes = append(c.changes, ch)
	if c.onChange != nil {
		c.onChange(ch)
	}
	return ch
}

// Changes returns the changes after seq (0 for all that are kept; the log
// keeps at least the last 32768), oldest first.
func (c *Cluster) Changes(since uint64) []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := len(c.changes)
	for i > 0 && c.changes[i-1].Seq > since {
		i--
	}
	return append([]Change(nil), c.changes[i:]...)
}

// Seq is the sequence number of the last change (0 before any).
func (c *Cluster) Seq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}
