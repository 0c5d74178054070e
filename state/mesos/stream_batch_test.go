package mesos

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// TestStreamAppliesRecordsThatCameTogether: a task's TASK_ADDED and its
// TASK_UPDATED (running) that reach the daemon in one read make one view,
// not a view with the task staging that the next replaces at once; a record
// that came alone is published alone.
func TestStreamAppliesRecordsThatCameTogether(t *testing.T) {
	m, _ := startAPIMaster(t, genMesosState(20), time.Minute)
	s, err := NewStream(staticCfg(m), statetest.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(m.URL()+"/api/v1", "application/json", bytes.NewReader([]byte(`{"type":"GET_STATE"}`)))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		GetState json.RawMessage `json:"get_state"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || len(st.GetState) == 0 {
		t.Fatalf("GET_STATE: %v", err)
	}
	added := func(id string) string {
		return `{"type":"TASK_ADDED","task_added":{"task":{"name":"web","task_id":{"value":"` + id + `"},` +
			`"framework_id":{"value":"` + genFramework + `"},"agent_id":{"value":"` + genAgent + `"},"state":"TASK_STAGING",` +
			`"resources":[],"statuses":[{"task_id":{"value":"` + id + `"},"state":"TASK_STAGING","timestamp":1700000000.0}]}}}`
	}
	running := func(id string) string {
		return `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"` + genFramework + `"},"state":"TASK_RUNNING",` +
			`"status":{"task_id":{"value":"` + id + `"},"state":"TASK_RUNNING","timestamp":1700000001.0,` +
			`"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"127.9.0.1"}]}]}}}}`
	}
	taskState := func(c *state.Cluster, id string) state.TaskState {
		for i := range c.Tasks {
			if c.Tasks[i].ID == id {
				return c.Tasks[i].State
			}
		}
		return ""
	}

	pr, pw := io.Pipe()
	sink := statetest.NewLatestSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan mesosSessionResult, 1)
	go func() { done <- s.follow(ctx, sink, pr, m.Addr(), nil) }()
	t.Cleanup(func() { cancel(); pw.Close(); <-done })

	if _, err := pw.Write(recordIO(`{"type":"SUBSCRIBED","subscribed":{"get_state":` + string(st.GetState) + `}}`)); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "subscribed", func(v statetest.View) bool { return v.Cluster != nil })
	n0 := sink.View().Clusters

	// Together: one view, with the task running.
	if _, err := pw.Write(recordIO(added("web.together"), running("web.together"))); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 5*time.Second, "web.together running", func(v statetest.View) bool { return taskState(v.Cluster, "web.together") == state.TaskRunning })
	if n := sink.View().Clusters; n != n0+1 {
		t.Errorf("two records that came together made %d views, want 1", n-n0)
	}

	// Apart: a view each.
	if _, err := pw.Write(recordIO(added("web.apart"))); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 5*time.Second, "web.apart staging", func(v statetest.View) bool { return taskState(v.Cluster, "web.apart") == state.TaskStaging })
	if _, err := pw.Write(recordIO(running("web.apart"))); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 5*time.Second, "web.apart running", func(v statetest.View) bool { return taskState(v.Cluster, "web.apart") == state.TaskRunning })
	if n := sink.View().Clusters; n != n0+3 {
		t.Errorf("%d views in all, want 3", n-n0)
	}
}

// TestStreamReaderSaysMoreCame: the reader marks a record whose
// successor's bytes had arrived with it, which is what lets the session
// apply both before publishing.
func TestStreamReaderSaysMoreCame(t *testing.T) {
	s, err := NewStream(StreamConfig{PollConfig: PollConfig{Masters: []string{"127.0.0.1:5050"}}}, statetest.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	hb := `{"type":"HEARTBEAT"}`
	rec := strconv.Itoa(len(hb)) + "\n" + hb
	pr, pw := io.Pipe()
	items := make(chan mesosStreamItem, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.read(ctx, pr, items)
	go func() {
		_, _ = pw.Write([]byte(rec + rec)) // two in one read
		_, _ = pw.Write([]byte(rec))       // then one alone
		pw.Close()
	}()
	var more []bool
	for it := range items {
		if it.err != nil {
			break
		}
		more = append(more, it.more)
	}
	if len(more) != 3 || !more[0] || more[1] || more[2] {
		t.Errorf("more flags %v, want [true false false]", more)
	}
}
