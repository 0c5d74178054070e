package lbsync

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// keepChanges is how many runtime changes the status page's feed keeps.
const keepChanges = 50

// ChangeRecord is one change HAProxy took, for the status page's feed:
// servers through the Runtime API, or a reload with its reasons.
type ChangeRecord struct {
	At  time.Time
	Seq uint64 // the snapshot applied; 0 for a reload (it may carry several)
	// Via is "runtime api" or "reload".
	Via string
	// Ops are the runtime operations spelled out (the first changeOpsShown).
	Ops      []string
	MoreOps  int
	Reasons  []lbmodel.Reason
	Took     time.Duration
	Err      string
	Failures int // runtime operations that failed (each leads to a reload)
}

// changeOpsShown bounds what one record spells out.
const changeOpsShown = 10

// recordRuntime adds a runtime change to the feed.
func (s *Syncer) recordRuntime(seq uint64, at time.Time, ops []lbmodel.RuntimeOp, took time.Duration) {
	r := ChangeRecord{At: at, Seq: seq, Via: "runtime api", Took: took}
	for i := range min(len(ops), changeOpsShown) {
		r.Ops = append(r.Ops, ops[i].String())
	}
	r.MoreOps = max(0, len(ops)-changeOpsShown)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, r)
	if len(s.changes) > keepChanges {
		s.changes = slices.Delete(s.changes, 0, len(s.changes)-keepChanges)
	}
}

// changeFeed merges the runtime changes and the reloads, oldest first, the
// newest keepChanges of them.
func changeFeed(runtime []ChangeRecord, reloads []ReloadRecord) []ChangeRecord {
	out := slices.Clone(runtime)
	for _, r := range reloads {
		out = append(out, ChangeRecord{At: r.At, Via: "reload", Reasons: r.Reasons, Took: r.Took, Err: r.Err})
	}
	slices.SortStableFunc(out, func(a, b ChangeRecord) int { return a.At.Compare(b.At) })
	if len(out) > keepChanges {
		out = out[len(out)-keepChanges:]
	}
	return out
}

// Summary says what the change was, in one line.
func (r ChangeRecord) Summary() string {
	if r.Via == "reload" {
		parts := make([]string, 0, len(r.Reasons))
		for _, why := range r.Reasons {
			parts = append(parts, why.Class+": "+why.Detail)
		}
		return strings.Join(parts, "; ")
	}
	s := strings.Join(r.Ops, "; ")
	if r.MoreOps > 0 {
		s += "; and " + strconv.Itoa(r.MoreOps) + " more"
	}
	return s
}
