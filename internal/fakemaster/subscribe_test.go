package fakemaster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stream is a test client of SUBSCRIBE: records come in on a channel.
type stream struct {
	resp    *http.Response
	records chan []byte
	err     chan error
}

func post(t *testing.T, m *Master, call string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/api/v1", strings.NewReader(`{"type":"`+call+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	// The transport: it shows redirects instead of following them.
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST %s: %v", call, err)
	}
	return resp
}

func subscribe(t *testing.T, m *Master) *stream {
	t.Helper()
	resp := post(t, m, "SUBSCRIBE")
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SUBSCRIBE: %s", resp.Status)
	}
	if resp.ContentLength != -1 {
		t.Errorf("Content-Length %d: a stream has none (clients tell a stream from a single answer by it)", resp.ContentLength)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	s := &stream{resp: resp, records: make(chan []byte, 1000), err: make(chan error, 1)}
	go func() {
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				s.err <- err
				return
			}
			n, err := strconv.Atoi(strings.TrimSuffix(line, "\n"))
			if err != nil {
				s.err <- fmt.Errorf("record length %q: %w", line, err)
				return
			}
			rec := make([]byte, n)
			if _, err := io.ReadFull(r, rec); err != nil {
				s.err <- fmt.Errorf("record of %d bytes: %w", n, err)
				return
			}
			s.records <- rec
		}
	}()
	return s
}

// next returns the next record that is not a heartbeat (unless want is
// HEARTBEAT), decoded, failing if its type is not want.
func (s *stream) next(t *testing.T, want string) map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case rec := <-s.records:
			var e map[string]any
			if err := json.Unmarshal(rec, &e); err != nil {
				t.Fatalf("record %q: %v", rec, err)
			}
			if e["type"] == "HEARTBEAT" && want != "HEARTBEAT" {
				continue
			}
			if e["type"] != want {
				t.Fatalf("got a %v event, want %s: %s", e["type"], want, rec)
			}
			return e
		case err := <-s.err:
			t.Fatalf("stream ended waiting for %s: %v", want, err)
		case <-deadline:
			t.Fatalf("no %s event within 5s", want)
		}
	}
}

func dig(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, _ := strconv.Atoi(p)
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func stateTaskIDs(t *testing.T, m *Master) map[string]string {
	t.Helper()
	var doc struct {
		Frameworks []struct {
			Tasks []struct{ ID, State string } `json:"tasks"`
		} `json:"frameworks"`
	}
	if err := json.Unmarshal(m.State(), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range doc.Frameworks {
		for _, task := range f.Tasks {
			out[task.ID] = task.State
		}
	}
	return out
}

const fixtureFramework = "20140703-014514-3041283216-5050-5348-0000"

func TestSubscribeStreamsStateThenEvents(t *testing.T) {
	m := Start(t, Fixture(), Options{})
	api := m.EnableOperatorAPI()
	api.SetHeartbeat(20 * time.Millisecond)
	s := subscribe(t, m)

	e := s.next(t, "SUBSCRIBED")
	if hb := dig(e, "subscribed", "heartbeat_interval_seconds"); hb != 0.02 {
		t.Errorf("heartbeat_interval_seconds = %v", hb)
	}
	tasks, _ := dig(e, "subscribed", "get_state", "get_tasks", "tasks").([]any)
	// The fixture lists one task ID twice: count entries, not IDs.
	var doc struct {
		Frameworks []struct {
			Tasks []any `json:"tasks"`
		} `json:"frameworks"`
	}
	_ = json.Unmarshal(m.State(), &doc)
	n := 0
	for _, f := range doc.Frameworks {
		n += len(f.Tasks)
	}
	if len(tasks) != n {
		t.Errorf("SUBSCRIBED has %d tasks, /master/state %d", len(tasks), n)
	}
	if dig(e, "subscribed", "get_state", "get_agents", "agents", "0", "agent_info", "id", "value") == nil {
		t.Error("no agent in SUBSCRIBED")
	}
	s.next(t, "HEARTBEAT")
	if api.Subscribers() != 1 {
		t.Errorf("Subscribers = %d", api.Subscribers())
	}

	task := map[string]any{"id": "new.1", "name": "new", "framework_id": fixtureFramework, "slave_id": "A", "state": "TASK_STAGING",
		"resources": map[string]any{"ports": "[31000-31001, 31005-31005]"}}
	if err := api.AddTask(task); err != nil {
		t.Fatal(err)
	}
	e = s.next(t, "TASK_ADDED")
	if got := dig(e, "task_added", "task", "resources", "0", "ranges", "range", "1", "begin"); got != 31005.0 {
		t.Errorf("port ranges not rendered as v1 resources: %v", dig(e, "task_added", "task", "resources"))
	}
	if stateTaskIDs(t, m)["new.1"] != "TASK_STAGING" {
		t.Error("/master/state does not show the added task")
	}

	if err := api.UpdateTask("new.1", "TASK_RUNNING", map[string]any{"healthy": true}); err != nil {
		t.Fatal(err)
	}
	e = s.next(t, "TASK_UPDATED")
	if dig(e, "task_updated", "state") != "TASK_RUNNING" || dig(e, "task_updated", "status", "healthy") != true ||
		dig(e, "task_updated", "framework_id", "value") != fixtureFramework {
		t.Errorf("TASK_UPDATED = %v", e)
	}
	if stateTaskIDs(t, m)["new.1"] != "TASK_RUNNING" {
		t.Error("/master/state does not show the update")
	}

	if err := api.UpdateTask("new.1", "TASK_FINISHED", nil); err != nil {
		t.Fatal(err)
	}
	s.next(t, "TASK_UPDATED")
	if _, ok := stateTaskIDs(t, m)["new.1"]; ok {
		t.Error("a finished task is still among /master/state's tasks")
	}

	for _, step := range []struct {
		do   func() error
		want string
	}{
		{func() error {
			return api.AddAgent(map[string]any{"id": "A9", "hostname": "h", "pid": "slave(1)@127.0.0.9:5051"})
		}, "AGENT_ADDED"},
		{func() error { return api.RemoveAgent("A9") }, "AGENT_REMOVED"},
		{func() error { return api.AddFramework(map[string]any{"id": "F9", "name": "f9"}) }, "FRAMEWORK_ADDED"},
		{func() error { return api.UpdateFramework("F9", func(f map[string]any) { f["active"] = false }) }, "FRAMEWORK_UPDATED"},
		{func() error { return api.RemoveFramework("F9") }, "FRAMEWORK_REMOVED"},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		s.next(t, step.want)
	}
}

// subscribed starts a master with the operator API (heartbeat every hb when
// not 0) and a subscription to it that has received SUBSCRIBED.
func subscribed(t *testing.T, hb time.Duration) (*OperatorAPI, *stream) {
	t.Helper()
	m := Start(t, Fixture(), Options{})
	api := m.EnableOperatorAPI()
	if hb != 0 {
		api.SetHeartbeat(hb)
	}
	s := subscribe(t, m)
	s.next(t, "SUBSCRIBED")
	return api, s
}

func TestSubscribeFaults(t *testing.T) {
	t.Run("cut", func(t *testing.T) {
		api, s := subscribed(t, 0)
		api.CutStreams()
		select {
		case err := <-s.err:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("stream ended with %v, want a record cut short", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("stream not cut")
		}
	})
	t.Run("garbage", func(t *testing.T) {
		api, s := subscribed(t, 0)
		api.GarbleStreams()
		select {
		case rec := <-s.records:
			if json.Valid(rec) {
				t.Errorf("record %q is valid JSON", rec)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no garbage record")
		}
	})
	t.Run("silent", func(t *testing.T) {
		api, s := subscribed(t, 10*time.Millisecond)
		s.next(t, "HEARTBEAT")
		api.SilenceStreams()
		if err := api.AddTask(map[string]any{"id": "quiet.1", "framework_id": fixtureFramework}); err != nil {
			t.Fatal(err)
		}
		// Drain what was in flight, then expect nothing for 20 intervals (a
		// wait for an absence has no event to wait on).
		deadline := time.After(200 * time.Millisecond)
	drain:
		for {
			select {
			case rec := <-s.records:
				if bytes.Contains(rec, []byte("TASK_ADDED")) {
					t.Fatal("a silenced stream sent an event")
				}
			case <-deadline:
				break drain
			}
		}
		select {
		case rec := <-s.records:
			t.Fatalf("a silenced stream sent %s", rec)
		case err := <-s.err:
			t.Fatalf("a silenced stream closed: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if api.Subscribers() != 1 {
			t.Error("the silenced stream is not open")
		}
	})
}

func TestOperatorAPIAvailabilityAndLeadership(t *testing.T) {
	leader := Start(t, Fixture(), Options{})
	m := Start(t, Fixture(), Options{})

	resp := post(t, m, "SUBSCRIBE")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("without the operator API: %s, want 404", resp.Status)
	}

	api := m.EnableOperatorAPI()
	if m.EnableOperatorAPI() != api {
		t.Error("a second EnableOperatorAPI made a new API")
	}
	resp = post(t, m, "GET_MASTER")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var gm map[string]any
	if err := json.Unmarshal(body, &gm); err != nil || dig(gm, "get_master", "master_info", "pid") != m.PID() {
		t.Errorf("GET_MASTER = %s (%v)", body, err)
	}

	m.SetLeader(leader.Addr())
	resp = post(t, m, "SUBSCRIBE")
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//"+leader.Addr()+"/api/v1" {
		t.Errorf("non-leader: %s Location %q, want 307 to //%s/api/v1", resp.Status, resp.Header.Get("Location"), leader.Addr())
	}

	m.SetMode(Leading)
	api.SetAvailable(false)
	resp = post(t, m, "SUBSCRIBE")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("API switched off: %s, want 404", resp.Status)
	}
	api.SetAvailable(true)
	s := subscribe(t, m)
	s.next(t, "SUBSCRIBED")

	// The summary carries the framework pids the v1 API leaves out.
	r, sum := get(t, noRedirect, m.URL()+"/master/state-summary")
	if r.StatusCode != http.StatusOK || !bytes.Contains(sum, []byte(`"pid":"scheduler(1)@127.0.1.11:25501"`)) {
		t.Errorf("state-summary: %s %s", r.Status, sum)
	}
}
