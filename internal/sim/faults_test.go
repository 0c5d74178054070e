package sim

import (
	"log/slog"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state/marathon"
)

// The faults the simulator offers, against discovery's streaming sources: a
// stream cut mid-record, a stream gone silent, a leader change and a flood
// of events. After each, both views converge to the truth.
func TestStreamsConvergeThroughFaults(t *testing.T) {
	c := start(t, Config{Apps: 10, TasksPerApp: 3, Masters: 3, Seed: 8, Heartbeat: 50 * time.Millisecond})
	log := slog.New(slog.DiscardHandler)
	mesosSrc := newStream(t, c, log)
	marathonSrc, err := marathon.NewEventSource(marathon.Config{URLs: []string{c.MarathonURL()}},
		marathon.EventOptions{
			CoalesceDelay: -1, IdleTimeout: 200 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond,
			ReconnectMin: 5 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		}, log)
	if err != nil {
		t.Fatal(err)
	}
	ms, mar := runSource(t, mesosSrc), runSource(t, marathonSrc)
	converge := func(what string) {
		t.Helper()
		t.Logf("converging after %s", what)
		checkAgree(t, c)
		ms.waitAgree(t, c, 15*time.Second)
		mar.waitAgree(t, c, 15*time.Second)
	}
	converge("start")
	r := NewRand(3)
	churn := func(n int) {
		t.Helper()
		for range n {
			if _, err := c.Step(r); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A stream cut in the middle of a record, then changes.
	leaderAPI := func() int {
		for i, m := range c.Masters() {
			if m == c.Leader() {
				return i
			}
		}
		return -1
	}
	c.OperatorAPIs()[leaderAPI()].CutStreams()
	c.Marathon().DisconnectEventStreams()
	churn(20)
	converge("cut")

	// Streams that go silent without closing, then changes.
	c.OperatorAPIs()[leaderAPI()].SilenceStreams()
	c.Marathon().SetEventsPaused(true)
	fetches := c.Marathon().Requests("/v2/apps")
	churn(20)
	// Marathon dropped those events: only the source's watchdog (a probe
	// whose announcement never comes, then a new stream and a full fetch)
	// brings them back. Keep the events off until it has fetched.
	deadline := time.Now().Add(15 * time.Second)
	for c.Marathon().Requests("/v2/apps") == fetches {
		if time.Now().After(deadline) {
			t.Fatal("the marathon source did not notice its silent stream in 15s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Marathon().SetEventsPaused(false)
	converge("silent")

	// A leader change in the middle of changes.
	churn(5)
	if _, err := c.ChangeLeader(); err != nil {
		t.Fatal(err)
	}
	churn(5)
	converge("leader change")

	// A flood: hundreds of changes back to back.
	churn(500)
	converge("flood")
}
