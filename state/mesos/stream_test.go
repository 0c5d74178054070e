package mesos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/internal/zktest"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// runStream starts a stream source for cfg with test-sized timings and stops it
// when the test ends.
func runStream(t *testing.T, cfg StreamConfig) (*Stream, *statetest.Sink) {
	t.Helper()
	if cfg.StateTimeout == 0 {
		// Generous: under a loaded CI machine a 10,000-task SUBSCRIBED can take
		// seconds; the bound only limits how long a failure takes to show.
		cfg.StateTimeout = 15 * time.Second
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 5 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 50 * time.Millisecond
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = 20 * time.Millisecond
	}
	s, err := NewStream(cfg, statetest.Log(t))
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	sink := statetest.NewLatestSink()
	statetest.Run(t, s, sink)
	return s, sink
}

// startAPIMaster starts a fake master with the operator API and a short
// heartbeat.
func startAPIMaster(t *testing.T, doc []byte, hb time.Duration) (*fakemaster.Master, *fakemaster.OperatorAPI) {
	t.Helper()
	m := fakemaster.Start(t, doc, fakemaster.Options{})
	api := m.EnableOperatorAPI()
	api.SetHeartbeat(hb)
	return m, api
}

// pollView is what polling m's /master/state gives, as the stream names it
// (source "mesos", the static masters), without the terminal tasks that
// /master/state lists until their frameworks acknowledge them and the stream
// drops at once.
func pollView(t *testing.T, m *fakemaster.Master, masters ...*fakemaster.Master) *state.Cluster {
	t.Helper()
	data := m.State()
	if len(masters) == 0 {
		masters = []*fakemaster.Master{m}
	}
	var known []state.Master
	for _, km := range masters {
		mm, _ := ParseMasterAddr(km.Addr())
		known = append(known, mm)
	}
	c, err := DecodeState(data, FetchMeta{Source: "mesos", Masters: known})
	if err != nil {
		t.Fatalf("decoding the fake's state: %v", err)
	}
	return withoutTerminal(c)
}

func withoutTerminal(c *state.Cluster) *state.Cluster {
	out := *c
	out.Tasks = nil
	for _, task := range c.Tasks {
		if !isTerminalName(task.State) {
			out.Tasks = append(out.Tasks, task)
		}
	}
	return out.Seal()
}

func isTerminalName(s state.TaskState) bool {
	switch s {
	case "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
		"TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNREACHABLE":
		return true
	}
	return false
}

// converge waits until the stream's view equals the poll view of m.
func converge(t *testing.T, sink *statetest.Sink, within time.Duration, what string, m *fakemaster.Master, masters ...*fakemaster.Master) *state.Cluster {
	t.Helper()
	want := pollView(t, m, masters...)
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		changed := sink.Changed()
		c := sink.View().Cluster
		if c != nil && c.Digest == want.Digest {
			if diff := cmp.Diff(want, c, clusterOpts, cmpIgnoreFetch); diff != "" {
				t.Fatalf("%s: digests equal but clusters differ (-poll +stream):\n%s", what, diff)
			}
			return c
		}
		select {
		case <-changed:
		case <-deadline.C:
			v := sink.View()
			c, fails := v.Cluster, v.Failures
			if c == nil {
				t.Fatalf("%s: no view within %v (failures: %v)", what, within, fails)
			}
			t.Fatalf("%s: the stream's view did not converge to /master/state's within %v (-poll +stream):\n%s\nfailures: %v",
				what, within, cmp.Diff(want, c, clusterOpts, cmpIgnoreFetch), fails)
			return nil
		}
	}
}

var cmpIgnoreFetch = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.String()
	return s == "FetchedAt" || s == "Source"
}, cmp.Ignore())

func staticCfg(ms ...*fakemaster.Master) StreamConfig {
	var addrs []string
	for _, m := range ms {
		addrs = append(addrs, m.Addr())
	}
	return StreamConfig{PollConfig: PollConfig{Masters: addrs}}
}

func TestStreamSubscribedMatchesPolling(t *testing.T) {
	for _, tt := range []struct {
		name string
		doc  []byte
	}{
		{"mesos-dns fixture", fakemaster.Fixture()},
		{"generated 500 tasks", genMesosState(500)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := startAPIMaster(t, tt.doc, time.Second)
			_, sink := runStream(t, staticCfg(m))
			c := converge(t, sink, 10*time.Second, "SUBSCRIBED", m)
			if c.Leader.ID != m.ID() || c.Leader.PID != m.PID() {
				t.Errorf("Leader = %+v, want the fake master %s", c.Leader, m.PID())
			}
			if len(c.Tasks) == 0 || len(c.Frameworks) == 0 || len(c.Agents) == 0 {
				t.Errorf("view is %s", statetest.DescribeCluster(c))
			}
		})
	}
}

// newTask is a running task in /master/state shape.
func newTask(id, fw, agent, ip string, port int, ts float64) map[string]any {
	return map[string]any{
		"id": id, "name": strings.SplitN(id, ".", 2)[0], "framework_id": fw, "slave_id": agent,
		"state":     "TASK_RUNNING",
		"resources": map[string]any{"cpus": 0.1, "mem": 32, "ports": fmt.Sprintf("[%d-%d]", port, port)},
		"labels":    []any{map[string]any{"key": "HAPROXY_GROUP", "value": "external"}},
		"statuses": []any{map[string]any{
			"state": "TASK_RUNNING", "timestamp": ts,
			"container_status": map[string]any{"network_infos": []any{map[string]any{
				"ip_addresses": []any{map[string]any{"ip_address": ip}},
			}}},
		}},
		"discovery": map[string]any{"visibility": "FRAMEWORK", "name": "web",
			"ports": map[string]any{"ports": []any{map[string]any{"number": port, "name": "http", "protocol": "tcp"}}}},
	}
}

const (
	genFramework = "fw-0000-marathon"
	genAgent     = "a1b2c3d4-0000-4000-8000-000000000003-S3"
)

func TestStreamTaskLifecycle(t *testing.T) {
	m, api := startAPIMaster(t, genMesosState(40), time.Second)
	_, sink := runStream(t, staticCfg(m))
	converge(t, sink, 10*time.Second, "SUBSCRIBED", m)

	steps := []struct {
		name string
		do   func() error
		// check looks at the task "web.new" in the stream's view (nil: absent).
		check func(*state.Task) string
	}{
		{"added", func() error {
			return api.AddTask(newTask("web.new", genFramework, genAgent, "127.9.0.1", 31555, 1700000001))
		}, func(task *state.Task) string {
			if task == nil || task.State != state.TaskRunning || len(task.NetInfo) != 1 || task.NetInfo[0].String() != "127.9.0.1" {
				return fmt.Sprintf("want running at 127.9.0.1, got %+v", task)
			}
			return ""
		}},
		{"moved to a new address, healthy", func() error {
			return api.UpdateTask("web.new", "TASK_RUNNING", map[string]any{
				"timestamp": 1700000002.5, "healthy": true,
				"labels": []any{map[string]any{"key": "Docker.NetworkSettings.IPAddress", "value": "127.9.0.2"}},
				"container_status": map[string]any{"network_infos": []any{map[string]any{
					"ip_addresses": []any{map[string]any{"ip_address": "127.9.0.3"}, map[string]any{"ip_address": "fd00::3"}},
				}}},
			})
		}, func(task *state.Task) string {
			if task == nil || task.Healthy == nil || !*task.Healthy || len(task.NetInfo) != 2 ||
				len(task.Docker) != 1 || task.Docker[0].String() != "127.9.0.2" ||
				task.RunningSince.Unix() != 1700000002 {
				return fmt.Sprintf("want healthy at 127.9.0.3/fd00::3, docker 127.9.0.2, got %+v", task)
			}
			return ""
		}},
		{"unhealthy", func() error {
			return api.UpdateTask("web.new", "TASK_RUNNING", map[string]any{"timestamp": 1700000003.0, "healthy": false})
		}, func(task *state.Task) string {
			if task == nil || task.Healthy == nil || *task.Healthy || len(task.NetInfo) != 0 {
				return fmt.Sprintf("want unhealthy without netinfo (the newest running status has none), got %+v", task)
			}
			return ""
		}},
		{"killing", func() error { return api.UpdateTask("web.new", "TASK_KILLING", nil) }, func(task *state.Task) string {
			if task == nil || task.State != state.TaskKilling || task.RunningSince.Unix() != 1700000003 {
				return fmt.Sprintf("want killing, still with its running status, got %+v", task)
			}
			return ""
		}},
		{"killed", func() error { return api.UpdateTask("web.new", "TASK_KILLED", nil) }, func(task *state.Task) string {
			if task != nil {
				return fmt.Sprintf("want gone, got %+v", task)
			}
			return ""
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		c := converge(t, sink, 5*time.Second, st.name, m)
		var task *state.Task
		for i := range c.Tasks {
			if c.Tasks[i].ID == "web.new" {
				task = c.Tasks[i]
			}
		}
		if msg := st.check(task); msg != "" {
			t.Errorf("%s: %s", st.name, msg)
		}
	}
}

func TestStreamAgentAndFrameworkEvents(t *testing.T) {
	m, api := startAPIMaster(t, genMesosState(40), time.Second)
	_, sink := runStream(t, staticCfg(m))
	converge(t, sink, 10*time.Second, "SUBSCRIBED", m)

	steps := []struct {
		name string
		do   func() error
	}{
		{"agent added", func() error {
			return api.AddAgent(map[string]any{"id": "agent-new", "hostname": "127.8.0.1", "pid": "slave(1)@127.8.0.1:5051",
				"active": true, "resources": map[string]any{"cpus": 4, "ports": "[31000-31999]"},
				"attributes": map[string]any{"rack": "r9"}})
		}},
		{"framework added", func() error {
			return api.AddFramework(map[string]any{"id": "fw-new", "name": "chronos", "hostname": "127.8.0.9",
				"pid": "scheduler-1@127.8.0.9:4400", "active": true})
		}},
		{"task on both", func() error {
			return api.AddTask(newTask("job.1", "fw-new", "agent-new", "127.8.1.1", 31001, 1700000100))
		}},
		{"framework failed over", func() error {
			return api.UpdateFramework("fw-new", func(f map[string]any) {
				f["pid"] = "scheduler-2@127.8.0.10:4400"
				f["hostname"] = "127.8.0.10"
			})
		}},
		{"framework inactive", func() error {
			return api.UpdateFramework("fw-new", func(f map[string]any) { f["active"] = false })
		}},
		{"agent removed", func() error { return api.RemoveAgent("agent-new") }},
		{"task elsewhere", func() error {
			return api.AddTask(newTask("job.2", "fw-new", genAgent, "127.8.1.2", 31002, 1700000200))
		}},
		{"framework removed", func() error { return api.RemoveFramework("fw-new") }},
		{"existing agent removed", func() error { return api.RemoveAgent(genAgent) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		converge(t, sink, 5*time.Second, st.name, m)
	}
}

// streamFaults are the ways a stream breaks that the source must recover from
// with a full resynchronisation.
func TestStreamRecoversAndResyncs(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault func(*fakemaster.OperatorAPI)
	}{
		{"cut mid-record", (*fakemaster.OperatorAPI).CutStreams},
		{"garbage record", (*fakemaster.OperatorAPI).GarbleStreams},
		{"silent", (*fakemaster.OperatorAPI).SilenceStreams},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A 30 ms heartbeat: a silent stream is noticed after 150 ms.
			m, api := startAPIMaster(t, genMesosState(40), 30*time.Millisecond)
			reg := prometheus.NewRegistry()
			cfg := staticCfg(m)
			cfg.Registerer = reg
			s, sink := runStream(t, cfg)
			converge(t, sink, 10*time.Second, "SUBSCRIBED", m)

			// Change the truth without events (as if they were lost), then
			// break the stream: only a full resynchronisation shows the change.
			if err := m.SetState(genMesosState(60)); err != nil {
				t.Fatal(err)
			}
			tt.fault(api)
			converge(t, sink, 10*time.Second, "resynchronised", m)
			if n := api.Subscriptions(); n < 2 {
				t.Errorf("%d subscriptions, want a new one", n)
			}
			if got := testutil.ToFloat64(s.metrics.reconnects); got < 1 {
				t.Errorf("reconnects = %v, want >= 1", got)
			}
			if got := testutil.ToFloat64(s.metrics.events.WithLabelValues("SUBSCRIBED")); got < 2 {
				t.Errorf("SUBSCRIBED events = %v, want >= 2", got)
			}
			if got := testutil.ToFloat64(s.metrics.bytes); got <= 0 || int64(got) != s.BytesReceived() {
				t.Errorf("received bytes metric = %v, BytesReceived = %d", got, s.BytesReceived())
			}
			if tt.name == "silent" {
				if got := testutil.ToFloat64(s.metrics.heartbeatTimeouts); got < 1 {
					t.Errorf("heartbeat timeouts = %v, want >= 1", got)
				}
			}
			// And events flow on the new stream.
			if err := api.AddTask(newTask("web.after", genFramework, genAgent, "127.9.9.9", 31999, 1700000500)); err != nil {
				t.Fatal(err)
			}
			converge(t, sink, 5*time.Second, "event after resubscribing", m)
			fails := sink.View().Failures
			if len(fails) == 0 {
				t.Error("the broken stream was not reported to the sink")
			} else if !strings.Contains(fails[0].Error(), m.Addr()) {
				t.Errorf("failure %q does not name the master %s", fails[0], m.Addr())
			}
		})
	}
}

func TestStreamFollowsLeaderRedirect(t *testing.T) {
	m1, api1 := startAPIMaster(t, genMesosState(20), time.Second)
	m2, _ := startAPIMaster(t, genMesosState(30), time.Second)
	m2.SetLeader(m1.Addr())
	// The non-leader first: its 307 leads to m1.
	_, sink := runStream(t, staticCfg(m2, m1))
	c := converge(t, sink, 10*time.Second, "from m1 through m2's redirect", m1, m2, m1)
	if c.Leader.PID != m1.PID() {
		t.Fatalf("Leader = %+v, want m1", c.Leader)
	}

	// m1 loses the leadership to m2 and closes its streams, as Mesos does.
	m1.SetLeader(m2.Addr())
	m2.SetMode(fakemaster.Leading)
	api1.CutStreams()
	c = converge(t, sink, 10*time.Second, "from m2 after the leader change", m2, m2, m1)
	if c.Leader.PID != m2.PID() {
		t.Fatalf("Leader = %+v, want m2", c.Leader)
	}
}

func TestStreamFollowsZooKeeperLeader(t *testing.T) {
	zks := zktest.Start(t)
	conn := zks.Connect(t)
	m1, _ := startAPIMaster(t, genMesosState(20), time.Second)
	m2, _ := startAPIMaster(t, genMesosState(30), time.Second)
	node1 := zktest.RegisterMaster(t, conn, "/mesos", m1.MasterInfo())
	zktest.RegisterMaster(t, conn, "/mesos", m2.MasterInfo())
	_, sink := runStream(t, StreamConfig{PollConfig: PollConfig{ZK: "zk://" + zks.Addr() + "/mesos"}})
	sink.Wait(t, 10*time.Second, "subscribed to m1", func(v statetest.View) bool {
		c := v.Cluster
		return c != nil && c.Leader.PID == m1.PID() && len(c.Tasks) == 20
	})

	// m1 drops out of the election, still serving (as a master cut off from
	// ZooKeeper might): only ZooKeeper tells the source to move.
	began := time.Now()
	if err := conn.Delete(node1, -1); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 2*time.Second, "subscribed to m2 within 2s", func(v statetest.View) bool {
		c := v.Cluster
		return c != nil && c.Leader.PID == m2.PID() && len(c.Tasks) == 30
	})
	t.Logf("new leader followed %v after the old one's node was deleted", time.Since(began))
}

func TestStreamFallsBackToPolling(t *testing.T) {
	// A master without the operator API (before Mesos 1.0): 404 on /api/v1.
	m := fakemaster.Start(t, genMesosState(30), fakemaster.Options{})
	reg := prometheus.NewRegistry()
	cfg := staticCfg(m)
	cfg.Registerer = reg
	cfg.FallbackRetry = 100 * time.Millisecond
	s, sink := runStream(t, cfg)
	converge(t, sink, 10*time.Second, "polled", m)
	if m.RequestsFor("/master/state") == 0 {
		t.Error("the view did not come from /master/state")
	}
	// The source tries the stream again every FallbackRetry (100 ms here),
	// and the gauge is 0 for the instant of each try: wait for a reading
	// between tries rather than take the first.
	statetest.WaitFor(t, 5*time.Second, "fallback gauge 1 while polling", func() bool {
		return testutil.ToFloat64(s.metrics.fallback) == 1
	})

	// The master gains the API (an upgrade): the source goes back to the
	// stream once FallbackRetry has passed.
	api := m.EnableOperatorAPI()
	api.SetHeartbeat(time.Second)
	sink.Wait(t, 10*time.Second, "subscribed after the retry", func(_ statetest.View) bool { return api.Subscribers() > 0 })
	if err := api.AddTask(newTask("web.streamed", genFramework, genAgent, "127.9.1.1", 31222, 1700000900)); err != nil {
		t.Fatal(err)
	}
	converge(t, sink, 5*time.Second, "event through the stream", m)
	if got := testutil.ToFloat64(s.metrics.fallback); got != 0 {
		t.Errorf("fallback gauge = %v, want 0 while streaming", got)
	}
}

// TestStreamFlood sends thousands of events as fast as the fake can
// make them; the view must end equal to the truth.
func TestStreamFlood(t *testing.T) {
	m, api := startAPIMaster(t, genMesosState(100), time.Second)
	_, sink := runStream(t, staticCfg(m))
	converge(t, sink, 10*time.Second, "SUBSCRIBED", m)
	before := sink.View().Clusters

	// Batches of back-to-back events (the fake rewrites its document once per
	// batch), then single ones.
	const tasks, updates, perBatch = 1000, 3, 100
	events := 0
	for b := 0; b < tasks; b += perBatch {
		err := api.Batch(func(tx *fakemaster.Tx) error {
			for i := b; i < b+perBatch; i++ {
				id := fmt.Sprintf("flood-%04d.x", i)
				if err := tx.AddTask(newTask(id, genFramework, genAgent, fmt.Sprintf("127.7.%d.%d", i/250, 1+i%250), 31000+i%1000, 1700001000)); err != nil {
					return err
				}
				events++
				for u := range updates {
					taskState := "TASK_RUNNING"
					if i%3 == 0 && u == updates-1 {
						taskState = "TASK_FAILED"
					}
					if err := tx.UpdateTask(id, taskState, map[string]any{"timestamp": 1700001001.0 + float64(u), "healthy": u%2 == 0}); err != nil {
						return err
					}
					events++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < tasks; i += 40 {
		if i%3 == 0 {
			i++ // failed already
		}
		if err := api.UpdateTask(fmt.Sprintf("flood-%04d.x", i), "TASK_KILLED", nil); err != nil {
			t.Fatal(err)
		}
		events++
	}
	c := converge(t, sink, 20*time.Second, fmt.Sprintf("after %d events", events), m)
	after := sink.View().Clusters
	t.Logf("%d events gave %d views (%d tasks)", events, after-before, len(c.Tasks))
}

func TestNewStreamConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  StreamConfig
		want string
	}{
		{"no masters", StreamConfig{}, "masters, zk"},
		{"negative heartbeats", StreamConfig{PollConfig: PollConfig{Masters: []string{"127.0.0.1:5050"}}, MissedHeartbeats: -1}, "MissedHeartbeats"},
		{"negative backoff", StreamConfig{PollConfig: PollConfig{Masters: []string{"127.0.0.1:5050"}}, BackoffMin: -1}, "BackoffMin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewStream(tt.cfg, statetest.Log(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// TestStreamConvergesThroughEverything is the "done when" in one
// run of one source: the stream is killed mid-flight, goes silent, loses its
// leader and is flooded, with events in between, and after each the view
// equals the truth /master/state serves.
func TestStreamConvergesThroughEverything(t *testing.T) {
	doc := genMesosState(200)
	m1, api1 := startAPIMaster(t, doc, 30*time.Millisecond)
	m2, api2 := startAPIMaster(t, doc, 30*time.Millisecond)
	m2.SetLeader(m1.Addr())
	_, sink := runStream(t, staticCfg(m1, m2))
	converge(t, sink, 30*time.Second, "SUBSCRIBED", m1, m1, m2)

	addRunning := func(api *fakemaster.OperatorAPI, id string, n int) {
		t.Helper()
		if err := api.AddTask(newTask(id, genFramework, genAgent, fmt.Sprintf("127.4.0.%d", n), 32000+n, 1700002000)); err != nil {
			t.Fatal(err)
		}
	}

	addRunning(api1, "a.1", 1)
	api1.CutStreams()
	addRunning(api1, "a.2", 2) // while the source reconnects
	converge(t, sink, 30*time.Second, "after the cut", m1, m1, m2)

	api1.SilenceStreams()
	addRunning(api1, "a.3", 3) // lost on the silent stream
	converge(t, sink, 30*time.Second, "after going silent", m1, m1, m2)

	// The leader changes: m2 takes over with the same cluster plus a task,
	// and m1 redirects to it and drops its streams.
	if err := m2.SetState(m1.State()); err != nil {
		t.Fatal(err)
	}
	m1.SetLeader(m2.Addr())
	m2.SetMode(fakemaster.Leading)
	api1.CutStreams()
	addRunning(api2, "b.1", 4)
	c := converge(t, sink, 30*time.Second, "after the leader change", m2, m1, m2)
	if c.Leader.PID != m2.PID() {
		t.Fatalf("Leader = %+v, want m2", c.Leader)
	}

	err := api2.Batch(func(tx *fakemaster.Tx) error {
		for i := range 1000 {
			id := fmt.Sprintf("flood-%d.x", i)
			if err := tx.AddTask(newTask(id, genFramework, genAgent, fmt.Sprintf("127.3.%d.%d", i/250, 1+i%250), 31000+i%1000, 1700003000)); err != nil {
				return err
			}
			if i%2 == 0 {
				if err := tx.UpdateTask(id, "TASK_KILLED", nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	converge(t, sink, 20*time.Second, "after the flood", m2, m1, m2)
}

func TestStreamBasicAuth(t *testing.T) {
	m, api := startAPIMaster(t, genMesosState(20), time.Second)
	m.RequireBasicAuth("discovery", "s3cret")
	cfg := staticCfg(m)
	cfg.Authentication, cfg.Principal, cfg.Secret = AuthBasic, "discovery", "s3cret"
	_, sink := runStream(t, cfg)
	converge(t, sink, 10*time.Second, "SUBSCRIBED with credentials", m)
	if err := api.AddTask(newTask("web.auth", genFramework, genAgent, "127.9.3.1", 31333, 1700000700)); err != nil {
		t.Fatal(err)
	}
	c := converge(t, sink, 5*time.Second, "event with credentials", m)
	for _, f := range c.Frameworks {
		if f.ID == genFramework && f.PID == "" {
			t.Error("framework pid missing: /master/state-summary was not read with the credentials")
		}
	}

	t.Run("wrong secret", func(t *testing.T) {
		cfg.Secret = "wrong"
		_, sink := runStream(t, cfg)
		sink.Wait(t, 10*time.Second, "a failure naming the credentials", func(v statetest.View) bool {
			fails := v.Failures
			return len(fails) > 0 && strings.Contains(fails[0].Error(), "mesosCredentials")
		})
	})
}

// TestStreamHeartbeatsKeepTheViewFresh: a quiet cluster sends only
// heartbeats; each one re-confirms the view (same digest, newer FetchedAt) so
// that the hub does not report the source stale.
func TestStreamHeartbeatsKeepTheViewFresh(t *testing.T) {
	m, _ := startAPIMaster(t, genMesosState(20), 20*time.Millisecond)
	_, sink := runStream(t, staticCfg(m))
	first := converge(t, sink, 10*time.Second, "SUBSCRIBED", m)
	sink.Wait(t, 5*time.Second, "a confirmation after heartbeats", func(v statetest.View) bool {
		c := v.Cluster
		return c != nil && c != first && c.Digest == first.Digest && c.FetchedAt.After(first.FetchedAt)
	})
}

func TestStreamTLSAndSlowStream(t *testing.T) {
	m := fakemaster.Start(t, genMesosState(20), fakemaster.Options{TLS: true})
	api := m.EnableOperatorAPI()
	api.SetHeartbeat(time.Second)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, m.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := staticCfg(m)
	cfg.HTTPS, cfg.CACertFile = true, ca
	_, sink := runStream(t, cfg)
	converge(t, sink, 10*time.Second, "SUBSCRIBED over TLS", m)

	// A slow master (every record late) is slow, not broken: the events
	// arrive and no resubscription is needed.
	api.SetStreamDelay(5 * time.Millisecond)
	for i := range 20 {
		if err := api.AddTask(newTask(fmt.Sprintf("slow-%d.x", i), genFramework, genAgent, fmt.Sprintf("127.2.9.%d", i+1), 31000+i, 1700004000)); err != nil {
			t.Fatal(err)
		}
	}
	converge(t, sink, 10*time.Second, "slow events", m)
	if n := api.Subscriptions(); n != 1 {
		t.Errorf("%d subscriptions, want the first one only", n)
	}
}

// A master whose event stream cannot be decoded for good (a task with a
// discovery port of -1, which mesos-go refuses in every SUBSCRIBED) is
// subscribed to maxUndecodableSessions times, then polled: /master/state
// leaves that port out and the rest of the view, the task included, is used.
func TestStreamUndecodableFallsBackToPolling(t *testing.T) {
	m, api := startAPIMaster(t, genMesosState(30), time.Second)
	cfg := staticCfg(m)
	cfg.Registerer = prometheus.NewRegistry()
	cfg.FallbackRetry = time.Hour
	s, sink := runStream(t, cfg)
	converge(t, sink, 10*time.Second, "SUBSCRIBED", m)
	subs := api.Subscriptions()

	bad := newTask("web.badport", genFramework, genAgent, "127.9.2.1", 31333, 1700000950)
	bad["discovery"] = map[string]any{"visibility": "FRAMEWORK", "name": "web",
		"ports": map[string]any{"ports": []any{map[string]any{"number": -1, "name": "http", "protocol": "tcp"}}}}
	if err := api.AddTask(bad); err != nil {
		t.Fatal(err)
	}
	c := converge(t, sink, 10*time.Second, "polled after the stream failed to decode", m)
	if got := testutil.ToFloat64(s.metrics.fallback); got != 1 {
		t.Errorf("fallback gauge = %v, want 1 while polling", got)
	}
	if n := api.Subscriptions() - subs; n > maxUndecodableSessions {
		t.Errorf("%d subscriptions after the stream became undecodable, want at most %d", n, maxUndecodableSessions)
	}
	if len(c.LeftOut) != 1 || c.LeftOut[0].ID != "web.badport" {
		t.Errorf("LeftOut = %+v, want web.badport's port", c.LeftOut)
	}
	// Polling goes on (every RefreshInterval), subscribing does not.
	polls := m.RequestsFor("/master/state")
	statetest.WaitFor(t, 5*time.Second, "more polls", func() bool { return m.RequestsFor("/master/state") >= polls+5 })
	if n := api.Subscriptions() - subs; n > maxUndecodableSessions {
		t.Errorf("%d subscriptions while polling, want at most %d", n, maxUndecodableSessions)
	}
}

func TestUndecodableRetryDoubles(t *testing.T) {
	for n, want := range []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 40 * time.Minute, 40 * time.Minute} {
		if got := undecodableRetry(DefaultFallbackRetry, n); got != want {
			t.Errorf("after %d fallbacks: %v, want %v", n, got, want)
		}
	}
}

// A SUBSCRIBED event over the record bound (the whole state of a big
// cluster) is decoded as it arrives: the stream serves it, no polling.
func TestStreamSubscribedOverRecordBoundIsServed(t *testing.T) {
	m, api := startAPIMaster(t, genMesosState(200), time.Second)
	cfg := staticCfg(m)
	cfg.Registerer = prometheus.NewRegistry()
	cfg.FallbackRetry = time.Hour
	cfg.MaxRecordBytes = 16 << 10 // the SUBSCRIBED of 200 tasks is larger
	s, sink := runStream(t, cfg)
	c := converge(t, sink, 10*time.Second, "the stream's view", m)
	if len(c.Tasks) != 200 {
		t.Errorf("%d tasks, want 200", len(c.Tasks))
	}
	if got := testutil.ToFloat64(s.metrics.fallback); got != 0 {
		t.Errorf("fallback gauge = %v, want 0", got)
	}
	if n := m.RequestsFor("/master/state"); n != 0 {
		t.Errorf("%d polls of /master/state, want none", n)
	}
	if n := api.Subscriptions(); n != 1 {
		t.Errorf("%d subscriptions, want 1", n)
	}
}

// A SUBSCRIBED event that decodes into more than maxStateBytes is not read
// again and again: the source polls /master/state at once (which the same
// bound refuses here, each poll a failure naming it).
func TestStreamSubscribedOverStateBoundFallsBackToPolling(t *testing.T) {
	m, api := startAPIMaster(t, genMesosState(200), time.Second)
	cfg := staticCfg(m)
	cfg.Registerer = prometheus.NewRegistry()
	cfg.FallbackRetry = time.Hour
	cfg.MaxStateBytes = 32 << 10 // 200 tasks decode into more
	cfg.StateTimeout, cfg.RefreshInterval = 15*time.Second, 20*time.Millisecond
	s, err := NewStream(cfg, statetest.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	sink := statetest.NewSink()
	statetest.Run(t, s, sink)
	sink.NextFailure(t, 10*time.Second, "maxStateBytes")
	statetest.WaitFor(t, 10*time.Second, "polls", func() bool { return m.RequestsFor("/master/state") >= 3 })
	if got := testutil.ToFloat64(s.metrics.fallback); got != 1 {
		t.Errorf("fallback gauge = %v, want 1 while polling", got)
	}
	if n := api.Subscriptions(); n != 1 {
		t.Errorf("%d subscriptions, want 1: a refused state is not read twice", n)
	}
	if n := sink.SkipClusters(); n != 0 {
		t.Errorf("%d views published from a state over the bound", n)
	}
}
