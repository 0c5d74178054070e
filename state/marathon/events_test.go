package marathon

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// waitApps waits until the sink's latest app set is one for which ok holds,
// failing the test after 10 s, and returns it.
func waitApps(t testing.TB, sink *statetest.Sink, what string, ok func(*state.AppSet) bool) *state.AppSet {
	t.Helper()
	return sink.Wait(t, 10*time.Second, what, func(v statetest.View) bool {
		return v.Apps != nil && ok(v.Apps)
	}).Apps
}

// truth is the fake's app list as the polling decoder sees it.
func truth(t testing.TB, fake *fakemarathon.Server) *state.AppSet {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fake.URL()+AppsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if truthUser != "" {
		req.SetBasicAuth(truthUser, truthPassword)
	}
	body := marBody(t, fake.Client(), req)
	set, err := DecodeApps(body, fake.URL(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// truthUser and truthPassword authenticate truth's requests (tests using
// them do not run in parallel).
var truthUser, truthPassword string

// waitTruth waits until the sink holds exactly the fake's apps.
func waitTruth(t testing.TB, sink *statetest.Sink, fake *fakemarathon.Server) *state.AppSet {
	t.Helper()
	want := truth(t, fake)
	return waitApps(t, sink, fmt.Sprintf("the fake's %d apps (digest %x)", len(want.Apps), want.Digest), func(a *state.AppSet) bool {
		return a.Digest == want.Digest
	})
}

// waitSettled waits until the source has handled every event the fake has
// sent and has no fetch or resync left for them.
func waitSettled(t testing.TB, src *EventSource, fake *fakemarathon.Server) {
	t.Helper()
	statetest.WaitFor(t, 10*time.Second, "the source to settle every event the fake sent", func() bool {
		return src.settled.Load() == uint64(fake.EventsSent())
	})
}

// evAddApp creates an app with n running tasks on 127.0.0.x addresses.
func evAddApp(t testing.TB, fake *fakemarathon.Server, id string, port, n int) []string {
	t.Helper()
	fake.PutApp(fakemarathon.App{
		ID: id, Instances: n, Cpus: 0.1, Mem: 32,
		Labels:          map[string]string{"HAPROXY_GROUP": "external"},
		PortDefinitions: []fakemarathon.PortDefinition{{Port: port, Protocol: "tcp"}},
	})
	var ids []string
	for i := range n {
		id, err := fake.AddTask(id, fakemarathon.Task{Host: fmt.Sprintf("127.0.0.%d", 2+i%200), Ports: []int{31000 + i}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// evOptions are fast timings for tests.
func evOptions() EventOptions {
	return EventOptions{
		IdleTimeout:    time.Hour,
		ProbeTimeout:   time.Second,
		ResyncInterval: time.Hour,
		CoalesceDelay:  2 * time.Millisecond,
		ReconnectMin:   5 * time.Millisecond,
		ReconnectMax:   50 * time.Millisecond,
	}
}

// evRun starts a source and stops it when the test ends.
func evRun(t testing.TB, cfg Config, opts EventOptions) (*EventSource, *statetest.Sink) {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	src, err := NewEventSource(cfg, opts, statetest.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	sink := statetest.NewLatestSink()
	// Registered first, so that it runs after the source has stopped.
	t.Cleanup(func() {
		if n := sink.View().Clusters; n != 0 {
			t.Errorf("the marathon event source published %d clusters", n)
		}
	})
	statetest.Run(t, src, sink)
	return src, sink
}

// appRequests counts the single-app requests the fake has served, by path.
func appRequests(fake *fakemarathon.Server, ids ...string) map[string]int {
	out := map[string]int{}
	for _, id := range ids {
		out[id] = fake.Requests("/v2/apps" + id)
	}
	return out
}

func TestEventsInitialResync(t *testing.T) {
	fake := marStartFake(t, fakemarathon.Options{})
	src, sink := evRun(t, Config{URLs: []string{fake.URL()}}, evOptions())
	set := waitTruth(t, sink, fake)
	if set.Source != fake.URL() || len(set.Apps) == 0 {
		t.Errorf("set from %q with %d apps", set.Source, len(set.Apps))
	}
	if got := testutil.ToFloat64(src.metrics.resyncs.WithLabelValues("connect")); got != 1 {
		t.Errorf("connect resyncs = %v, want 1", got)
	}
	if n := fake.Requests("/v2/events"); n != 1 {
		t.Errorf("%d event stream requests, want 1", n)
	}
	// The app list is decoded as it is read, and every byte is counted.
	req, err := http.NewRequest(http.MethodGet, fake.URL()+AppsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := testutil.ToFloat64(src.metrics.bodyBytes.WithLabelValues("apps")), len(marBody(t, http.DefaultClient, req)); got != float64(want) {
		t.Errorf("apps body bytes = %v, want the document's %d", got, want)
	}
}

// TestEventsPerApp checks that each kind of change reaches the sink,
// and that only the app concerned is refetched (a finished task, or a removed
// app, not even that one).
func TestEventsPerApp(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fake.Close)
	tasksA := evAddApp(t, fake, "/a", 10001, 3)
	tasksB := evAddApp(t, fake, "/b", 10002, 2)
	evAddApp(t, fake, "/g/c", 10003, 1)
	src, sink := evRun(t, Config{URLs: []string{fake.URL()}}, evOptions())
	waitTruth(t, sink, fake)
	if err := fake.WaitSubscribers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, src, fake)
	all := []string{"/a", "/b", "/g/c", "/new"}
	var deployment string
	tests := []struct {
		name    string
		change  func() error
		fetched []string // the apps that must be refetched (once or more); no others
	}{
		{"scale up", func() error {
			_, err := fake.AddTask("/a", fakemarathon.Task{Host: "127.0.0.9", Ports: []int{31009}})
			return err
		}, []string{"/a"}},
		{"task killed", func() error { return fake.KillTask("/a", tasksA[0]) }, nil},
		{"task failed", func() error { return fake.FailTask("/b", tasksB[0]) }, nil},
		{"task killing", func() error { return fake.SetTaskState("/a", tasksA[1], "TASK_KILLING") }, []string{"/a"}},
		{"task unreachable", func() error { return fake.SetTaskState("/a", tasksA[2], "TASK_UNREACHABLE") }, []string{"/a"}},
		{"unhealthy", func() error { return fake.SetTaskHealth("/b", tasksB[1], false) }, []string{"/b"}},
		{"healthy", func() error { return fake.SetTaskHealth("/b", tasksB[1], true) }, []string{"/b"}},
		{"labels changed", func() error {
			return fake.SetLabels("/g/c", map[string]string{"HAPROXY_GROUP": "internal", "HAPROXY_0_VHOST": "c.example"})
		}, []string{"/g/c"}},
		{"app added", func() error {
			fake.PutApp(fakemarathon.App{ID: "/new", Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "external"}})
			return nil
		}, []string{"/new"}},
		{"deployment started", func() (err error) {
			deployment, err = fake.StartDeployment("ScaleApplication", "/a", "/new")
			return err
		}, []string{"/a", "/new"}},
		{"deployment finished", func() error { return fake.FinishDeployment(deployment, true) }, []string{"/a", "/new"}},
		{"app removed", func() error { return fake.RemoveApp("/a") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := appRequests(fake, all...)
			resyncs := fake.Requests("/v2/apps")
			if err := tt.change(); err != nil {
				t.Fatal(err)
			}
			waitTruth(t, sink, fake)
			// The view can be right before the event's work is over (a
			// deployment's end refetches apps that did not change): count
			// once every fetch the event caused has come back.
			waitSettled(t, src, fake)
			after := appRequests(fake, all...)
			for _, id := range all {
				want := 0
				for _, f := range tt.fetched {
					if f == id {
						want = 1
					}
				}
				got := after[id] - before[id]
				if (want == 0 && got != 0) || (want == 1 && got < 1) {
					t.Errorf("app %s fetched %d times, want %d", id, got, want)
				}
			}
			if n := fake.Requests("/v2/apps") - resyncs - 1; n != 0 { // -1: truth's own request
				t.Errorf("%d full resyncs, want none", n)
			}
		})
	}
	if got := testutil.ToFloat64(src.metrics.resyncs.WithLabelValues("connect")); got != 1 {
		t.Errorf("connect resyncs = %v, want 1", got)
	}
}

func TestEventsStreamCut(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fake.Close)
	tasks := evAddApp(t, fake, "/a", 10001, 3)
	evAddApp(t, fake, "/b", 10002, 1)
	src, sink := evRun(t, Config{URLs: []string{fake.URL()}}, evOptions())
	waitTruth(t, sink, fake)

	t.Run("disconnected", func(t *testing.T) {
		// Changes while no stream is open are only seen by the resync.
		fake.SetBehaviour(fakemarathon.Unavailable)
		fake.DisconnectEventStreams()
		if err := fake.WaitSubscribersAtMost(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		if err := fake.KillTask("/a", tasks[0]); err != nil {
			t.Fatal(err)
		}
		if err := fake.RemoveApp("/b"); err != nil {
			t.Fatal(err)
		}
		evAddApp(t, fake, "/c", 10003, 2)
		fake.SetBehaviour(fakemarathon.Normal)
		waitTruth(t, sink, fake)
	})
	t.Run("server restarted", func(t *testing.T) {
		fake.Stop()
		if err := fake.KillTask("/a", tasks[1]); err != nil {
			t.Fatal(err)
		}
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		waitTruth(t, sink, fake)
	})
	if got := testutil.ToFloat64(src.metrics.resyncs.WithLabelValues("connect")); got < 3 {
		t.Errorf("connect resyncs = %v, want at least 3", got)
	}
	if got := testutil.ToFloat64(src.metrics.reconnects.WithLabelValues("eof")) +
		testutil.ToFloat64(src.metrics.reconnects.WithLabelValues("error")); got < 2 {
		t.Errorf("stream ends = %v, want at least 2", got)
	}
}

func TestEventsSilentStream(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fake.Close)
	tasks := evAddApp(t, fake, "/a", 10001, 3)
	opts := evOptions()
	opts.IdleTimeout = 40 * time.Millisecond
	opts.ProbeTimeout = 200 * time.Millisecond
	src, sink := evRun(t, Config{URLs: []string{fake.URL()}}, opts)
	waitTruth(t, sink, fake)

	t.Run("quiet but alive is kept", func(t *testing.T) {
		statetest.WaitFor(t, 10*time.Second, "three probes", func() bool {
			return testutil.ToFloat64(src.metrics.requests.WithLabelValues("probe")) >= 3
		})
		// Every probe so far was answered down the stream.
		if got := testutil.ToFloat64(src.metrics.reconnects.WithLabelValues("silent")); got != 0 {
			t.Errorf("%v silent reconnects of a live stream", got)
		}
		if n := fake.Requests("/v2/apps"); n != 2 { // the connect resync and truth
			t.Errorf("%d full fetches, want 2", n)
		}
	})
	t.Run("silent is reconnected", func(t *testing.T) {
		fake.SetEventsPaused(true)
		if err := fake.KillTask("/a", tasks[0]); err != nil { // its event is lost
			t.Fatal(err)
		}
		waitTruth(t, sink, fake)
		if got := testutil.ToFloat64(src.metrics.reconnects.WithLabelValues("silent")); got < 1 {
			t.Errorf("silent reconnects = %v, want at least 1", got)
		}
		fake.SetEventsPaused(false)
	})
	t.Run("hanging marathon", func(t *testing.T) {
		fake.SetBehaviour(fakemarathon.Hang)
		statetest.WaitFor(t, 10*time.Second, "a failed probe", func() bool {
			return testutil.ToFloat64(src.metrics.reconnects.WithLabelValues("probe_failed")) >= 1
		})
		fake.SetBehaviour(fakemarathon.Normal)
		if err := fake.KillTask("/a", tasks[1]); err != nil {
			t.Fatal(err)
		}
		waitTruth(t, sink, fake)
	})
}

func TestEventsFailover(t *testing.T) {
	first := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(first.Close)
	second := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(second.Close)
	for _, f := range []*fakemarathon.Server{first, second} {
		evAddApp(t, f, "/a", 10001, 2)
	}
	src, sink := evRun(t, Config{URLs: []string{first.URL(), second.URL()}}, evOptions())
	set := waitTruth(t, sink, first)
	if set.Source != first.URL() {
		t.Fatalf("first set from %s", set.Source)
	}
	first.Stop()
	if err := second.WaitSubscribers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := second.AddTask("/a", fakemarathon.Task{Host: "127.0.0.50", Ports: []int{31050}}); err != nil {
		t.Fatal(err)
	}
	set = waitTruth(t, sink, second)
	if set.Source != second.URL() || src.Current() != second.URL() {
		t.Errorf("following %s (set from %s), want %s", src.Current(), set.Source, second.URL())
	}
	if len(set.Apps[0].Tasks) != 3 {
		t.Errorf("tasks = %d, want 3", len(set.Apps[0].Tasks))
	}
}

func TestEventsRefresh(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fake.Close)
	evAddApp(t, fake, "/a", 10001, 1)
	src, sink := evRun(t, Config{URLs: []string{fake.URL()}}, evOptions())
	waitTruth(t, sink, fake)
	// A change Marathon announces nothing for: only a resync finds it.
	fake.SetEventsPaused(true)
	evAddApp(t, fake, "/quiet", 10002, 2)
	fake.SetEventsPaused(false)
	src.Refresh()
	waitTruth(t, sink, fake)
	if got := testutil.ToFloat64(src.metrics.resyncs.WithLabelValues("refresh")); got != 1 {
		t.Errorf("refresh resyncs = %v, want 1", got)
	}
}

func TestEventsPeriodicResync(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fake.Close)
	evAddApp(t, fake, "/a", 10001, 1)
	opts := evOptions()
	opts.ResyncInterval = 20 * time.Millisecond
	_, sink := evRun(t, Config{URLs: []string{fake.URL()}}, opts)
	waitTruth(t, sink, fake)
	fake.SetEventsPaused(true)
	evAddApp(t, fake, "/quiet", 10002, 2)
	waitTruth(t, sink, fake)
}

// TestEventsFlood floods the stream with thousands of task changes on a
// few apps: the view must end equal to the fake's, with far fewer refetches
// than events. With a small event buffer the fake drops the slow stream, as
// Marathon does: the view must still converge, through reconnects.
func TestEventsFlood(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int
	}{{"kept up", 1 << 20}, {"dropped by marathon", 64}} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakemarathon.New(fakemarathon.Options{EventBuffer: tc.buffer})
			t.Cleanup(fake.Close)
			const napps = 10
			apps := make([]string, napps)
			tasks := map[string][]string{}
			for i := range apps {
				apps[i] = fmt.Sprintf("/flood/app-%d", i)
				tasks[apps[i]] = evAddApp(t, fake, apps[i], 10000+i, 3)
			}
			reg := prometheus.NewRegistry()
			opts := evOptions()
			opts.Registerer = reg
			src, sink := evRun(t, Config{URLs: []string{fake.URL()}}, opts)
			waitTruth(t, sink, fake)
			before := appRequests(fake, apps...)

			rng := rand.New(rand.NewPCG(1, 2))
			const ops = 3000
			for i := range ops {
				id := apps[rng.IntN(napps)]
				ts := tasks[id]
				switch op := rng.IntN(4); {
				case op == 0 || len(ts) == 0:
					tid, err := fake.AddTask(id, fakemarathon.Task{Host: fmt.Sprintf("127.0.1.%d", i%250+1), Ports: []int{32000 + i%1000}})
					if err != nil {
						t.Fatal(err)
					}
					tasks[id] = append(ts, tid)
				case op == 1:
					k := rng.IntN(len(ts))
					if err := fake.KillTask(id, ts[k]); err != nil {
						t.Fatal(err)
					}
					tasks[id] = append(ts[:k:k], ts[k+1:]...)
				case op == 2:
					if err := fake.SetTaskHealth(id, ts[rng.IntN(len(ts))], rng.IntN(2) == 0); err != nil {
						t.Fatal(err)
					}
				default:
					state := []string{"TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"}[rng.IntN(3)]
					if err := fake.SetTaskState(id, ts[rng.IntN(len(ts))], state); err != nil {
						t.Fatal(err)
					}
				}
			}
			waitTruth(t, sink, fake)
			events := func() float64 {
				n := 0.0
				for _, typ := range []string{"status_update_event", "health_status_changed_event"} {
					n += testutil.ToFloat64(src.metrics.events.WithLabelValues(typ))
				}
				return n
			}
			if tc.buffer > ops*2 {
				// Every change emits an event the source asked for; once all
				// are read, the view must still be the truth.
				statetest.WaitFor(t, 10*time.Second, "every event read", func() bool { return events() >= ops })
				waitTruth(t, sink, fake)
			}
			refetches := 0
			for id, n := range appRequests(fake, apps...) {
				refetches += n - before[id]
			}
			t.Logf("%d changes, %v events read, %d app refetches, %d full fetches, %v reconnects",
				ops, events(), refetches, fake.Requests("/v2/apps")-2, testutil.ToFloat64(src.metrics.resyncs.WithLabelValues("connect"))-1)
			if tc.buffer > ops*2 && refetches*3 > ops {
				t.Errorf("%d refetches for %d changes: not coalesced", refetches, ops)
			}
		})
	}
}

func TestEventsAuthAndFilters(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{User: "lb", Password: "s3cret"})
	t.Cleanup(fake.Close)
	truthUser, truthPassword = "lb", "s3cret"
	t.Cleanup(func() { truthUser, truthPassword = "", "" })
	evAddApp(t, fake, "/a", 10001, 1)
	_, sink := evRun(t, Config{URLs: []string{fake.URL()}, Credentials: "lb:s3cret"}, evOptions())
	waitTruth(t, sink, fake)
	// Events the source did not ask for never reach it; the ones it did do.
	fake.Emit("framework_message_event", map[string]any{"eventType": "framework_message_event"})
	if _, err := fake.AddTask("/a", fakemarathon.Task{Host: "127.0.0.7", Ports: []int{31007}}); err != nil {
		t.Fatal(err)
	}
	waitTruth(t, sink, fake)
}

func TestEventsBadEventResyncs(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fake.Close)
	evAddApp(t, fake, "/a", 10001, 1)
	opts := evOptions()
	opts.MaxEventBytes = 4096
	src, sink := evRun(t, Config{URLs: []string{fake.URL()}}, opts)
	waitTruth(t, sink, fake)
	for _, tt := range []struct {
		name string
		emit func()
	}{
		// An event naming no app: only a resync can tell what changed.
		{"no app id", func() {
			fake.Emit("status_update_event", map[string]any{"eventType": "status_update_event", "taskStatus": "TASK_RUNNING"})
		}},
		{"not JSON", func() { fake.Emit("api_post_event", "{") }},
		// Too large to read: skipped, the stream kept.
		{"oversize", func() {
			fake.Emit("api_post_event", map[string]any{"eventType": "api_post_event", "uri": "/v2/apps/x",
				"appDefinition": map[string]any{"id": "/x", "cmd": strings.Repeat("x", 10000)}})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resyncs := testutil.ToFloat64(src.metrics.resyncs.WithLabelValues("event"))
			fake.SetEventsPaused(true)
			evAddApp(t, fake, "/b-"+strings.ReplaceAll(tt.name, " ", "-"), 10002, 1)
			fake.SetEventsPaused(false)
			tt.emit()
			waitTruth(t, sink, fake)
			if got := testutil.ToFloat64(src.metrics.resyncs.WithLabelValues("event")); got != resyncs+1 {
				t.Errorf("event resyncs = %v, want %v", got, resyncs+1)
			}
		})
	}
	if got := testutil.ToFloat64(src.metrics.decodeErrors); got != 3 {
		t.Errorf("decode errors = %v, want 3", got)
	}
	if n := fake.Requests("/v2/events"); n != 1 {
		t.Errorf("%d event stream requests: the stream was not kept", n)
	}
}

func TestNewEventSourceValidation(t *testing.T) {
	if _, err := NewEventSource(Config{}, EventOptions{}, nil); err == nil {
		t.Error("no URLs accepted")
	}
	if _, err := NewEventSource(Config{URLs: []string{"http://127.0.0.1:1"}}, EventOptions{IdleTimeout: -1}, nil); err == nil {
		t.Error("negative idle timeout accepted")
	}
	reg := prometheus.NewRegistry()
	cfg := Config{URLs: []string{"http://127.0.0.1:1"}}
	if _, err := NewEventSource(cfg, EventOptions{Registerer: reg}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewEventSource(cfg, EventOptions{Registerer: reg}, nil); err == nil || !strings.Contains(err.Error(), "registering") {
		t.Errorf("second registration: %v", err)
	}
	names := map[string]bool{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"discovery_marathon_stream_connected"} {
		if !names[want] {
			t.Errorf("metric %s not registered (have %v)", want, maps.Keys(names))
		}
	}
}

// TestEventsWithoutAStreamPoll: behind a proxy that does not pass
// /v2/events (404, 405), the source follows the apps by polling /v2/apps
// every Interval, says so (note, gauge, log) and keeps trying the stream;
// once it opens, polling stops.
func TestEventsWithoutAStreamPoll(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			fake := fakemarathon.New(fakemarathon.Options{})
			t.Cleanup(fake.Close)
			fake.BlockEvents(code)
			evAddApp(t, fake, "/a", 10001, 1)
			src, sink := evRun(t, Config{URLs: []string{fake.URL()}, Interval: 50 * time.Millisecond}, evOptions())
			waitTruth(t, sink, fake)
			v := sink.Wait(t, 10*time.Second, "a note that the source polls", func(v statetest.View) bool { return v.Notes[fake.URL()] != "" })
			if note := v.Notes[fake.URL()]; !strings.Contains(note, fmt.Sprint(code)) || !strings.Contains(note, "polling /v2/apps every 50ms") {
				t.Errorf("note = %q", note)
			}
			if got := testutil.ToFloat64(src.metrics.polling); got != 1 {
				t.Errorf("polling gauge = %v", got)
			}
			// Changes arrive by polling, with no event to announce them.
			if _, err := fake.AddTask("/a", fakemarathon.Task{Host: "127.0.0.9", Ports: []int{31009}}); err != nil {
				t.Fatal(err)
			}
			waitTruth(t, sink, fake)

			fake.BlockEvents(0)
			sink.Wait(t, 10*time.Second, "the note cleared once the stream opens", func(v statetest.View) bool { return v.Notes[fake.URL()] == "" })
			if got := testutil.ToFloat64(src.metrics.polling); got != 0 {
				t.Errorf("polling gauge = %v after the stream opened", got)
			}
			// Polling stopped: with the stream open and its connect resync
			// done, five poll intervals pass without a /v2/apps fetch (an
			// absence needs a window to be seen in).
			// An event after the stream opened, settled, means the loop was
			// idle after it: the connect resync is over.
			statetest.WaitFor(t, 10*time.Second, "the stream open", func() bool { return testutil.ToFloat64(src.metrics.connected) == 1 })
			if _, err := fake.AddTask("/a", fakemarathon.Task{Host: "127.0.0.10", Ports: []int{31010}}); err != nil {
				t.Fatal(err)
			}
			waitTruth(t, sink, fake)
			waitSettled(t, src, fake)
			polls := fake.Requests("/v2/apps")
			time.Sleep(5 * 50 * time.Millisecond)
			if n := fake.Requests("/v2/apps") - polls; n != 0 {
				t.Errorf("%d /v2/apps fetches in five poll intervals after the stream opened, want 0", n)
			}
		})
	}
}

// An app that becomes invalid (a port of 70000) after an event is left out
// of the view and listed in LeftOut, from its own refetch, without a full
// resync; fixed, it comes back.
func TestEventsInvalidAppLeftOut(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fake.Close)
	evAddApp(t, fake, "/a", 10001, 1)
	evAddApp(t, fake, "/b", 10002, 1)
	src, sink := evRun(t, Config{URLs: []string{fake.URL()}}, evOptions())
	waitTruth(t, sink, fake)
	if err := fake.WaitSubscribers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, src, fake)
	resyncs := fake.Requests("/v2/apps")
	put := func(port int) {
		a, _ := fake.App("/b")
		a.Tasks = nil
		a.PortDefinitions = []fakemarathon.PortDefinition{{Port: port, Protocol: "tcp"}}
		fake.PutApp(a)
	}
	put(70000)
	set := waitApps(t, sink, "/b left out", func(s *state.AppSet) bool {
		return len(s.Apps) == 1 && s.Apps[0].ID == "/a" && len(s.LeftOut) == 1 && s.LeftOut[0].ID == "/b"
	})
	if !strings.Contains(set.LeftOut[0].Reason, "port 70000 out of range") {
		t.Errorf("reason %q", set.LeftOut[0].Reason)
	}
	waitSettled(t, src, fake)
	if n := fake.Requests("/v2/apps") - resyncs; n != 0 {
		t.Errorf("%d full resyncs, want none", n)
	}
	put(10002)
	waitApps(t, sink, "/b back", func(s *state.AppSet) bool { return len(s.Apps) == 2 && len(s.LeftOut) == 0 })
}
