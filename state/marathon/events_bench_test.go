package marathon

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/state"
)

// stampSink records when each set was published.
type stampSink struct {
	sets chan stamped
}

type stamped struct {
	set *state.AppSet
	at  time.Time
}

func (s *stampSink) PublishCluster(*state.Cluster) {}
func (s *stampSink) FetchFailed(string, error)     {}
func (s *stampSink) PublishApps(a *state.AppSet)   { s.sets <- stamped{a, time.Now()} }

// waitFor returns when the first set for which ok holds was published.
func (s *stampSink) waitFor(b *testing.B, ok func(*state.AppSet) bool) time.Time {
	b.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case st := <-s.sets:
			if ok(st.set) {
				return st.at
			}
		case <-deadline.C:
			b.Fatal("change never published")
		}
	}
}

func findApp(set *state.AppSet, id string) *state.App {
	i := sort.Search(len(set.Apps), func(i int) bool { return set.Apps[i].ID >= id })
	if i < len(set.Apps) && set.Apps[i].ID == id {
		return &set.Apps[i]
	}
	return nil
}

func hasTask(set *state.AppSet, appID, taskID string) bool {
	a := findApp(set, appID)
	return a != nil && slices.ContainsFunc(a.Tasks, func(t state.AppTask) bool { return t.ID == taskID })
}

// startEventBench serves napps apps of 3 tasks from a fake Marathon and runs an
// event source on it until the benchmark ends. It returns once the source has
// handed on every app and holds the event stream. The sink keeps up to sets
// published sets.
func startEventBench(b *testing.B, napps, sets int) (*fakemarathon.Server, *EventSource, *stampSink) {
	b.Helper()
	fake := fakemarathon.New(fakemarathon.Options{})
	b.Cleanup(fake.Close)
	fake.SetApps(marGenApps(napps, 3))
	src, err := NewEventSource(Config{URLs: []string{fake.URL()}},
		EventOptions{IdleTimeout: time.Hour, ResyncInterval: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	sink := &stampSink{sets: make(chan stamped, sets)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	b.Cleanup(func() { cancel(); <-done })
	sink.waitFor(b, func(s *state.AppSet) bool { return len(s.Apps) == napps })
	if err := fake.WaitSubscribers(ctx, 1); err != nil {
		b.Fatal(err)
	}
	return fake, src, sink
}

// BenchmarkEventFreshness measures the time from a change at the fake
// Marathon (a task started: refetch of its app; a task killed: applied from the
// event alone) to the sealed AppSet that shows it reaching the sink, with 10,000
// apps of 3 tasks loaded. Each iteration starts one task and kills it.
//
//	go test ./state/marathon -run '^$' -bench EventFreshness -benchtime 300x
func BenchmarkEventFreshness(b *testing.B) {
	for _, napps := range []int{10000} {
		b.Run(fmt.Sprintf("apps=%d", napps), func(b *testing.B) {
			fake, _, sink := startEventBench(b, napps, 1024)

			var start, kill []time.Duration
			b.ResetTimer()
			for i := range b.N {
				app := fmt.Sprintf("/app-%d", (i*7919)%napps)
				t0 := time.Now()
				id, err := fake.AddTask(app, fakemarathon.Task{Host: "127.0.9.9", Ports: []int{39000}})
				if err != nil {
					b.Fatal(err)
				}
				start = append(start, sink.waitFor(b, func(s *state.AppSet) bool { return hasTask(s, app, id) }).Sub(t0))
				t0 = time.Now()
				if err := fake.KillTask(app, id); err != nil {
					b.Fatal(err)
				}
				kill = append(kill, sink.waitFor(b, func(s *state.AppSet) bool { return !hasTask(s, app, id) }).Sub(t0))
			}
			b.StopTimer()
			for _, m := range []struct {
				name string
				d    []time.Duration
			}{{"start", start}, {"kill", kill}} {
				slices.Sort(m.d)
				b.ReportMetric(ms(m.d[len(m.d)/2]), m.name+"-p50-ms")
				b.ReportMetric(ms(m.d[min(len(m.d)-1, len(m.d)*99/100)]), m.name+"-p99-ms")
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkEventCost measures what following Marathon costs Marathon,
// streaming versus polling, with 10,000 apps of 3 tasks and one task change
// (start or kill, alternately) every 20 ms: 50 changes a second. Each
// iteration is one change. The figures are per minute of that churn; the
// poller's are one /v2/apps fetch per DefaultInterval. The event
// source's periodic resync (one /v2/apps fetch per ResyncInterval) and the
// watchdog's probes (only on a quiet stream) come on top of the streaming
// figures: see the "resync" figures.
//
//	go test ./state/marathon -run '^$' -bench EventCost -benchtime 1500x
func BenchmarkEventCost(b *testing.B) {
	const napps = 10000
	fake, src, sink := startEventBench(b, napps, 1<<16)
	m := src.metrics
	count := func() (reqs, bytes, full float64) {
		for _, k := range []string{"events", "apps", "app", "probe"} {
			reqs += testutil.ToFloat64(m.requests.WithLabelValues(k))
		}
		bytes = testutil.ToFloat64(m.streamBytes) + testutil.ToFloat64(m.bodyBytes.WithLabelValues("app")) +
			testutil.ToFloat64(m.bodyBytes.WithLabelValues("apps"))
		return reqs, bytes, testutil.ToFloat64(m.bodyBytes.WithLabelValues("apps"))
	}
	reqs0, bytes0, fullBytes := count()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var started []string
	apps := make([]string, 0)
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		<-tick.C
		if i%2 == 0 || len(started) == 0 {
			app := fmt.Sprintf("/app-%d", (i*7919)%napps)
			id, err := fake.AddTask(app, fakemarathon.Task{Host: "127.0.9.9", Ports: []int{39000}})
			if err != nil {
				b.Fatal(err)
			}
			started, apps = append(started, id), append(apps, app)
			continue
		}
		k := len(started) - 1
		if err := fake.KillTask(apps[k], started[k]); err != nil {
			b.Fatal(err)
		}
		started, apps = started[:k], apps[:k]
	}
	// Let the last change through before counting.
	want := truth(b, fake).Digest
	sink.waitFor(b, func(s *state.AppSet) bool { return s.Digest == want })
	elapsed := time.Since(began)
	b.StopTimer()
	reqs1, bytes1, _ := count()
	perMin := func(x float64) float64 { return x / elapsed.Minutes() }
	b.ReportMetric(perMin(reqs1-reqs0), "stream-req/min")
	b.ReportMetric(perMin(bytes1-bytes0)/1e6, "stream-MB/min")
	b.ReportMetric(fullBytes/1e6, "resync-MB")
	b.ReportMetric(time.Minute.Seconds()/DefaultInterval.Seconds(), "poll-req/min")
	b.ReportMetric(fullBytes/1e6*time.Minute.Seconds()/DefaultInterval.Seconds(), "poll-MB/min")
}
