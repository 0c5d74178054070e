package statetest

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// Record is one call a source made to the Sink.
type Record struct {
	Cluster *state.Cluster // PublishCluster
	Apps    *state.AppSet  // PublishApps
	Source  string         // FetchFailed
	Err     error          // FetchFailed
	// At is when the call was made.
	At time.Time
}

func (r Record) String() string {
	switch {
	case r.Cluster != nil:
		return "cluster " + DescribeCluster(r.Cluster)
	case r.Apps != nil:
		return fmt.Sprintf("apps from %s (%d apps)", r.Apps.Source, len(r.Apps.Apps))
	default:
		return fmt.Sprintf("failure from %s: %v", r.Source, r.Err)
	}
}

// View is what a Sink holds at one moment: the latest views, how many of each
// were published, and every failure reported.
type View struct {
	Cluster  *state.Cluster
	Apps     *state.AppSet
	Clusters int // PublishCluster calls
	AppSets  int // PublishApps calls
	Failures []error
	// Notes are the sources' notes (state.Noter), by source; a cleared note
	// is gone.
	Notes map[string]string
}

// Sink is the state.Sink of every source test. It keeps the latest views and
// every failure, and, made with NewSink, every call in order for the Next
// methods to hand out. Every method is safe for concurrent use; the waiting
// ones fail the test when what they wait for does not come in time.
type Sink struct {
	history bool

	mu      sync.Mutex
	view    View
	records []Record
	// changed, once someone waits on it, is closed at the next call (and a
	// new one made for the next waiter): a sink nobody waits on costs no
	// allocation per call.
	changed chan struct{}
	// next, nextCluster, nextFailure and nextApps are the cursors of Next,
	// NextCluster, NextFailure and NextApps into records.
	next, nextCluster, nextFailure, nextApps int
}

var _ state.Sink = (*Sink)(nil)

// NewSink returns a Sink that records every call, for tests that follow what
// a source hands on step by step.
func NewSink() *Sink { return &Sink{history: true} }

// NewLatestSink returns a Sink that keeps only the latest views and the
// failures, as the hub does, for sources that publish many large views.
func NewLatestSink() *Sink { return &Sink{} }

func (s *Sink) record(r Record) {
	r.At = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Cluster != nil:
		s.view.Cluster = r.Cluster
		s.view.Clusters++
	case r.Apps != nil:
		s.view.Apps = r.Apps
		s.view.AppSets++
	default:
		s.view.Failures = append(s.view.Failures, r.Err)
	}
	if s.history {
		s.records = append(s.records, r)
	}
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// PublishCluster implements state.Sink.
func (s *Sink) PublishCluster(c *state.Cluster) { s.record(Record{Cluster: c}) }

// PublishApps implements state.Sink.
func (s *Sink) PublishApps(a *state.AppSet) { s.record(Record{Apps: a}) }

// FetchFailed implements state.Sink.
func (s *Sink) FetchFailed(source string, err error) { s.record(Record{Source: source, Err: err}) }

// SourceNote implements state.Noter.
func (s *Sink) SourceNote(source, note string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.view.Notes == nil {
		s.view.Notes = map[string]string{}
	}
	if note == "" {
		delete(s.view.Notes, source)
	} else {
		s.view.Notes[source] = note
	}
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// View returns what the sink holds now.
func (s *Sink) View() View {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.view
	v.Failures = append([]error(nil), v.Failures...)
	v.Notes = maps.Clone(v.Notes)
	return v
}

// Changed is closed at the next call a source makes: take it before looking
// at the View, then wait on it.
func (s *Sink) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changedLocked()
}

func (s *Sink) changedLocked() chan struct{} {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// Wait waits until cond holds for the sink's View, checking after every call
// and every 50 ms (for conditions on things besides the sink), and returns the
// View it held for. It fails the test after within.
func (s *Sink) Wait(t testing.TB, within time.Duration, what string, cond func(View) bool) View {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		changed := s.Changed()
		v := s.View()
		if cond(v) {
			return v
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			v := s.View()
			t.Fatalf("not %s within %v (last cluster: %s, last apps: %d, failures: %v)",
				what, within, DescribeCluster(v.Cluster), appCount(v.Apps), v.Failures)
			return View{}
		}
	}
}

func appCount(a *state.AppSet) int {
	if a == nil {
		return -1
	}
	return len(a.Apps)
}

// nextRecord returns the first record at or after *cursor for which ok holds,
// moving the cursor past it, waiting at most within.
func (s *Sink) nextRecord(t testing.TB, within time.Duration, cursor *int, ok func(Record) bool) (Record, bool) {
	t.Helper()
	if !s.history {
		t.Fatal("statetest: a Sink from NewLatestSink keeps no calls to hand out")
	}
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for *cursor < len(s.records) {
			r := s.records[*cursor]
			*cursor++
			if ok(r) {
				s.mu.Unlock()
				return r, true
			}
		}
		changed := s.changedLocked()
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			return Record{}, false
		}
	}
}

// Next returns the next call, of any kind, after the one Next last returned.
func (s *Sink) Next(t testing.TB, within time.Duration) Record {
	t.Helper()
	r, ok := s.nextRecord(t, within, &s.next, func(Record) bool { return true })
	if !ok {
		t.Fatalf("nothing reported within %v", within)
	}
	return r
}

// NoMore fails the test when a call is waiting for Next. Call it once the
// source has demonstrably finished a round.
func (s *Sink) NoMore(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next < len(s.records) {
		t.Fatalf("unexpected report: %s", s.records[s.next])
	}
}

// NextCluster returns the next published cluster for which ok holds,
// skipping those it does not hold for; other calls do not count.
func (s *Sink) NextCluster(t testing.TB, within time.Duration, what string, ok func(*state.Cluster) bool) *state.Cluster {
	t.Helper()
	r, found := s.nextRecord(t, within, &s.nextCluster, func(r Record) bool { return r.Cluster != nil && ok(r.Cluster) })
	if !found {
		t.Fatalf("no cluster %s within %v", what, within)
	}
	return r.Cluster
}

// SkipClusters moves NextCluster past every cluster published so far and
// returns how many it skipped.
func (s *Sink) SkipClusters() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for ; s.nextCluster < len(s.records); s.nextCluster++ {
		if s.records[s.nextCluster].Cluster != nil {
			n++
		}
	}
	return n
}

// NextFailure returns the next reported failure whose text contains want,
// skipping the others; other calls do not count.
func (s *Sink) NextFailure(t testing.TB, within time.Duration, want string) error {
	t.Helper()
	var last error
	r, found := s.nextRecord(t, within, &s.nextFailure, func(r Record) bool {
		if r.Err == nil {
			return false
		}
		last = r.Err
		return strings.Contains(r.Err.Error(), want)
	})
	if !found {
		t.Fatalf("no failure containing %q within %v (last: %v)", want, within, last)
	}
	return r.Err
}

// NextApps returns the next published app set for which ok holds, skipping
// those it does not hold for; other calls do not count.
func (s *Sink) NextApps(t testing.TB, within time.Duration, what string, ok func(*state.AppSet) bool) Record {
	t.Helper()
	r, found := s.nextRecord(t, within, &s.nextApps, func(r Record) bool { return r.Apps != nil && ok(r.Apps) })
	if !found {
		t.Fatalf("no apps %s within %v", what, within)
	}
	return r
}

// DescribeCluster sums c up for a failure message.
func DescribeCluster(c *state.Cluster) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("leader %s:%d, %d agents, %d frameworks, %d tasks", c.Leader.Host, c.Leader.Port, len(c.Agents), len(c.Frameworks), len(c.Tasks))
}

// WaitFor polls cond until it holds, failing the test after within: for
// conditions on a source's own progress rather than on what it handed on.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within %v", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
