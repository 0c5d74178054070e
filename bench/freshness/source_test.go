package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/sim"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/marathon"
	"github.com/discovery-mesos/discovery/state/mesos"
)

// The sources alone, in process: the time from a task change at the
// simulated master (or Marathon) to the source publishing a view with it, on
// a 10,000-task cluster. The rest of the end-to-end time (hub, DNS table, LB
// model, HAProxy) is what main.go measures with the real binary.

// seenSink records when each task first appears in a published view (the
// time taken before the view is scanned), and signals every view.
type seenSink struct {
	mu    sync.Mutex
	first map[string]time.Time
	poke  chan struct{}
}

func (s *seenSink) PublishCluster(c *state.Cluster) {
	now := time.Now()
	s.mu.Lock()
	for i := range c.Tasks {
		if t := c.Tasks[i]; t.State == state.TaskRunning {
			if _, ok := s.first[t.ID]; !ok {
				s.first[t.ID] = now
			}
		}
	}
	s.mu.Unlock()
	s.signal()
}

func (s *seenSink) PublishApps(a *state.AppSet) {
	now := time.Now()
	s.mu.Lock()
	for _, app := range a.Apps {
		for _, t := range app.Tasks {
			if _, ok := s.first[t.ID]; !ok {
				s.first[t.ID] = now
			}
		}
	}
	s.mu.Unlock()
	s.signal()
}

func (s *seenSink) FetchFailed(string, error) {}

func (s *seenSink) signal() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// wait returns when the task was first seen, or false after timeout.
func (s *seenSink) wait(id string, timeout time.Duration) (time.Time, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		at, ok := s.first[id]
		s.mu.Unlock()
		if ok {
			return at, true
		}
		select {
		case <-s.poke:
		case <-deadline.C:
			return time.Time{}, false
		}
	}
}

func benchSource(b *testing.B, viaMarathon bool) {
	c, err := sim.New(sim.Config{Apps: 1000, TasksPerApp: 10, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	log := slog.New(slog.DiscardHandler)
	var src state.Source
	if viaMarathon {
		src, err = marathon.NewEventSource(marathon.Config{URLs: []string{c.MarathonURL()}}, marathon.EventOptions{}, log)
	} else {
		src, err = mesos.NewStream(mesos.StreamConfig{PollConfig: mesos.PollConfig{Masters: []string{c.Leader().Addr()}}}, log)
	}
	if err != nil {
		b.Fatal(err)
	}
	sink := &seenSink{first: map[string]time.Time{}, poke: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = src.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()

	apps := c.Truth().Apps
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		app := apps[i%len(apps)]
		ch, err := c.StartTask(app.ID)
		if err != nil {
			b.Fatal(err)
		}
		at, ok := sink.wait(ch.Task, 60*time.Second)
		if !ok {
			b.Fatalf("task %s not seen in 60s", ch.Task)
		}
		from := ch.At
		if viaMarathon {
			from = ch.MarathonAt
		}
		if i > 0 { // the first waits for the source's first full view
			lat = append(lat, at.Sub(from))
		}
		if _, err := c.KillTask(ch.Task); err != nil {
			b.Fatal(err)
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkMesosStreamFreshness10k: change at the master → mesos.Stream view.
func BenchmarkMesosStreamFreshness10k(b *testing.B) { benchSource(b, false) }

// BenchmarkMarathonEventsFreshness10k: change in Marathon → marathon.EventSource view.
func BenchmarkMarathonEventsFreshness10k(b *testing.B) { benchSource(b, true) }
