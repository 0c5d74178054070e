package fakemarathon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testApp() App {
	return App{
		ID:              "/web",
		Instances:       2,
		Labels:          map[string]string{"HAPROXY_GROUP": "external"},
		PortDefinitions: []PortDefinition{{Port: 10000, Protocol: "tcp", Name: "http", Labels: map[string]string{}}},
		HealthChecks:    []HealthCheck{{Protocol: "HTTP", Path: "/", IntervalSeconds: 3, TimeoutSeconds: 2, MaxConsecutiveFailures: 3}},
	}
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

type sseEvent struct {
	typ  string
	data map[string]any
}

// openStream opens /v2/events and returns a channel of parsed events; lines not
// in the `event: T\ndata: JSON\n\n` shape fail the test.
func openStream(t *testing.T, s *Server, query string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/v2/events"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		for {
			l1, err := r.ReadString('\n')
			if err != nil {
				return
			}
			l2, _ := r.ReadString('\n')
			l3, _ := r.ReadString('\n')
			typ, ok1 := strings.CutPrefix(strings.TrimSuffix(l1, "\n"), "event: ")
			data, ok2 := strings.CutPrefix(strings.TrimSuffix(l2, "\n"), "data: ")
			if !ok1 || !ok2 || l3 != "\n" {
				t.Errorf("bad SSE frame %q %q %q", l1, l2, l3)
				return
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				t.Errorf("bad event data %q: %v", data, err)
				return
			}
			if m["eventType"] != typ {
				t.Errorf("eventType %v in a %q event", m["eventType"], typ)
			}
			ch <- sseEvent{typ, m}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return sseEvent{}
}

func TestAppsShapeAndEmbeds(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.PutApp(testApp())
	id, err := s.AddTask("/web", Task{Host: "127.0.0.5", Ports: []int{31000}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTaskHealth("/web", id, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTaskReady("/web", id, false); err != nil {
		t.Fatal(err)
	}
	dep, err := s.StartDeployment("RestartApplication", "/web")
	if err != nil {
		t.Fatal(err)
	}

	_, body := get(t, s.Client(), s.URL()+"/v2/apps")
	var plain struct {
		Apps []map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(body, &plain); err != nil || len(plain.Apps) != 1 {
		t.Fatalf("apps: %v %s", err, body)
	}
	if _, ok := plain.Apps[0]["tasks"]; ok {
		t.Error("tasks served without embed=apps.tasks")
	}
	if _, ok := plain.Apps[0]["readinessCheckResults"]; ok {
		t.Error("readiness served without embed=apps.readiness")
	}
	if string(plain.Apps[0]["deployments"]) != `[{"id":"`+dep+`"}]` {
		t.Errorf("deployments = %s", plain.Apps[0]["deployments"])
	}

	_, body = get(t, s.Client(), s.URL()+"/v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness")
	var full struct {
		Apps []struct {
			ID           string `json:"id"`
			TasksRunning int    `json:"tasksRunning"`
			TasksHealthy int    `json:"tasksHealthy"`
			Tasks        []struct {
				ID                 string   `json:"id"`
				AppID              string   `json:"appId"`
				Host               string   `json:"host"`
				Ports              []int    `json:"ports"`
				ServicePorts       []int    `json:"servicePorts"`
				State              string   `json:"state"`
				IPAddresses        []IPAddr `json:"ipAddresses"`
				HealthCheckResults []struct {
					Alive bool `json:"alive"`
				} `json:"healthCheckResults"`
			} `json:"tasks"`
			ReadinessCheckResults []struct {
				TaskID string `json:"taskId"`
				Ready  bool   `json:"ready"`
			} `json:"readinessCheckResults"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(body, &full); err != nil {
		t.Fatal(err)
	}
	a := full.Apps[0]
	if a.ID != "/web" || a.TasksRunning != 1 || a.TasksHealthy != 1 || len(a.Tasks) != 1 {
		t.Fatalf("app = %+v", a)
	}
	tk := a.Tasks[0]
	if tk.ID != id || tk.AppID != "/web" || tk.Host != "127.0.0.5" || tk.Ports[0] != 31000 || tk.ServicePorts[0] != 10000 ||
		tk.State != "TASK_RUNNING" || tk.IPAddresses[0].IPAddress != "127.0.0.5" || !tk.HealthCheckResults[0].Alive {
		t.Errorf("task = %+v", tk)
	}
	if len(a.ReadinessCheckResults) != 1 || a.ReadinessCheckResults[0].TaskID != id || a.ReadinessCheckResults[0].Ready {
		t.Errorf("readiness = %+v", a.ReadinessCheckResults)
	}

	resp, body := get(t, s.Client(), s.URL()+"/v2/apps/web")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"app":{"id":"/web"`) || !strings.Contains(string(body), id) {
		t.Errorf("/v2/apps/web: %s %s", resp.Status, body)
	}
	resp, _ = get(t, s.Client(), s.URL()+"/v2/apps/nope")
	if resp.StatusCode != 404 {
		t.Errorf("/v2/apps/nope: %s", resp.Status)
	}
	resp, body = get(t, s.Client(), s.URL()+"/v2/info")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"marathon"`) {
		t.Errorf("/v2/info: %s %s", resp.Status, body)
	}
}

func TestSetAppsJSONRoundTrip(t *testing.T) {
	doc, err := os.ReadFile("../../state/marathon/testdata/marathon/apps-blue-green.json")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	defer s.Close()
	if err := s.SetAppsJSON(doc); err != nil {
		t.Fatal(err)
	}
	apps := s.Apps()
	if len(apps) != 2 || apps[0].ID != "/nginx-blue" || len(apps[1].Tasks) != 3 {
		t.Fatalf("apps = %+v", apps)
	}
	if apps[1].Container.Docker.Network != "BRIDGE" || apps[1].Container.Docker.PortMappings[0].ServicePort != 10000 {
		t.Errorf("container = %+v", apps[1].Container.Docker)
	}
}

func TestEventStream(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.PutApp(testApp())

	resp, _ := get(t, s.Client(), s.URL()+"/v2/events")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("without Accept: %s", resp.Status)
	}

	all := openStream(t, s, "?plan-format=light")
	if ev := next(t, all); ev.typ != "event_stream_attached" || ev.data["remoteAddress"] != "127.0.0.1" {
		t.Fatalf("first event = %+v", ev)
	}
	filtered := openStream(t, s, "?event_type=status_update_event&event_type=health_status_changed_event")
	if err := s.WaitSubscribers(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, all); ev.typ != "event_stream_attached" {
		t.Fatalf("second attach = %+v", ev)
	}

	id, err := s.AddTask("/web", Task{Host: "127.0.0.6", Ports: []int{31001}})
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, all)
	if ev.typ != "status_update_event" || ev.data["taskId"] != id || ev.data["taskStatus"] != "TASK_RUNNING" ||
		ev.data["appId"] != "/web" || ev.data["host"] != "127.0.0.6" || ev.data["ports"].([]any)[0] != 31001.0 {
		t.Errorf("status update = %+v", ev)
	}
	if ev := next(t, all); ev.typ != "instance_changed_event" || ev.data["condition"] != "Running" || ev.data["instanceId"] != id {
		t.Errorf("instance changed = %+v", ev)
	}
	if ev := next(t, filtered); ev.typ != "status_update_event" {
		t.Errorf("filtered got %+v", ev)
	}

	if err := s.SetTaskHealth("/web", id, false); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, all); ev.typ != "health_status_changed_event" || ev.data["alive"] != false || ev.data["instanceId"] != id {
		t.Errorf("health = %+v", ev)
	}
	if ev := next(t, all); ev.typ != "instance_health_changed_event" || ev.data["healthy"] != false {
		t.Errorf("instance health = %+v", ev)
	}
	if ev := next(t, filtered); ev.typ != "health_status_changed_event" {
		t.Errorf("filtered got %+v", ev)
	}

	dep, err := s.StartDeployment("ScaleApplication", "/web")
	if err != nil {
		t.Fatal(err)
	}
	ev = next(t, all)
	plan, _ := ev.data["plan"].(map[string]any)
	if ev.typ != "deployment_info" || plan["id"] != dep || plan["original"] != nil || ev.data["currentStep"] == nil {
		t.Errorf("deployment info (light) = %+v", ev)
	}
	if err := s.FinishDeployment(dep, true); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, all); ev.typ != "deployment_step_success" {
		t.Errorf("got %+v", ev)
	}
	if ev := next(t, all); ev.typ != "deployment_success" || ev.data["id"] != dep {
		t.Errorf("got %+v", ev)
	}

	newID, err := s.MoveTask("/web", id, "127.0.0.7", []int{31002})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, filtered); ev.data["taskStatus"] != "TASK_KILLED" || ev.data["taskId"] != id {
		t.Errorf("kill = %+v", ev)
	}
	if ev := next(t, filtered); ev.data["taskStatus"] != "TASK_RUNNING" || ev.data["taskId"] != newID || ev.data["host"] != "127.0.0.7" {
		t.Errorf("replacement = %+v", ev)
	}
	if a, _ := s.App("/web"); len(a.Tasks) != 1 || a.Tasks[0].ID != newID {
		t.Errorf("tasks after move = %+v", a.Tasks)
	}

	s.DisconnectEventStreams()
	for range filtered {
	}
	if err := s.WaitSubscribersAtMost(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestBehaviours(t *testing.T) {
	s := New(Options{User: "marathon", Password: "s3cret"})
	defer s.Close()
	s.PutApp(testApp())
	c := s.Client()

	resp, _ := get(t, c, s.URL()+"/v2/apps")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no auth: %s", resp.Status)
	}
	req, _ := http.NewRequest("GET", s.URL()+"/v2/apps", nil)
	req.SetBasicAuth("marathon", "s3cret")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("auth: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	s.SetBasicAuth("", "")

	s.SetBehaviour(Unavailable)
	if resp, _ := get(t, c, s.URL()+"/v2/apps"); resp.StatusCode != 503 {
		t.Errorf("unavailable: %s", resp.Status)
	}
	s.SetBehaviour(Garbage)
	if resp, body := get(t, c, s.URL()+"/v2/apps"); resp.StatusCode != 200 || json.Valid(body) {
		t.Errorf("garbage: %s %s", resp.Status, body)
	}
	s.SetBehaviour(Normal)

	s.Stop()
	_, err := c.Get(s.URL() + "/v2/apps")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("stopped: err = %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, c, s.URL()+"/v2/apps"); resp.StatusCode != 200 {
		t.Errorf("restarted: %s", resp.Status)
	}
	if n := s.Requests("/v2/apps"); n != 5 {
		t.Errorf("requests = %d", n)
	}
}

func TestTLS(t *testing.T) {
	s := New(Options{TLS: true})
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") || len(s.CACertPEM()) == 0 {
		t.Fatalf("url %s", s.URL())
	}
	if resp, _ := get(t, s.Client(), s.URL()+"/v2/apps"); resp.StatusCode != 200 {
		t.Errorf("tls: %s", resp.Status)
	}
	if _, err := http.DefaultClient.Get(s.URL() + "/v2/apps"); err == nil {
		t.Error("an untrusting client connected")
	}
}
