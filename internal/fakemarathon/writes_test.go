package fakemarathon

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// The write API as a deployment client uses it: create, scale, kill with
// scale, delete; every task launched or killed goes through the scheduler.
func TestWriteAPI(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	c := s.Client()
	do := func(method, path, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("POST", "/v2/apps", `{"id":"/web","instances":1}`); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST without a scheduler: %d, want 405", code)
	}

	var mu sync.Mutex
	launched, killed := 0, map[string]bool{}
	s.SetScheduler(Scheduler{
		Launch: func(a App) (Task, error) {
			mu.Lock()
			defer mu.Unlock()
			launched++
			return Task{Host: "127.0.0.2", Ports: []int{31000 + launched}}, nil
		},
		Kill: func(task Task) {
			mu.Lock()
			defer mu.Unlock()
			killed[task.ID] = true
		},
	})
	if code := do("POST", "/v2/apps", `{"id":"web","instances":2,"ports":[10000],"healthChecks":[{"protocol":"HTTP"}]}`); code != http.StatusCreated {
		t.Fatalf("POST: %d", code)
	}
	if code := do("POST", "/v2/apps", `{"id":"/web","instances":1}`); code != http.StatusConflict {
		t.Fatalf("POST of an existing app: %d, want 409", code)
	}
	a, ok := s.App("/web")
	if !ok || len(a.Tasks) != 2 || a.Tasks[0].Ports[0] != 31001 || !a.Tasks[0].HealthCheckResults[0].Alive ||
		len(a.PortDefinitions) != 1 || a.PortDefinitions[0].Port != 10000 {
		t.Fatalf("after POST: %+v", a)
	}
	scaledAt := a.VersionInfo.LastScalingAt

	if code := do("PUT", "/v2/apps/web", `{"instances":3}`); code != http.StatusOK {
		t.Fatalf("PUT: %d", code)
	}
	if code := do("PUT", "/v2/apps/web", `{"cmd":"x"}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("PUT of anything but instances: %d, want 422", code)
	}
	a, _ = s.App("/web")
	if a.Instances != 3 || len(a.Tasks) != 3 || a.VersionInfo.LastScalingAt < scaledAt {
		t.Fatalf("after scaling to 3: instances %d, %d tasks, lastScalingAt %s", a.Instances, len(a.Tasks), a.VersionInfo.LastScalingAt)
	}

	gone := a.Tasks[0].ID
	if code := do("POST", "/v2/tasks/delete?scale=true", `{"ids":["`+gone+`","no-such-task"]}`); code != http.StatusOK {
		t.Fatalf("tasks/delete: %d", code)
	}
	a, _ = s.App("/web")
	if a.Instances != 2 || len(a.Tasks) != 2 || taskIndex(&a, gone) >= 0 || !killed[gone] {
		t.Fatalf("after killing %s with scale: instances %d, tasks %v, killed %v", gone, a.Instances, a.Tasks, killed)
	}

	if code := do("DELETE", "/v2/apps/web", ""); code != http.StatusOK {
		t.Fatalf("DELETE: %d", code)
	}
	if _, ok := s.App("/web"); ok || len(killed) != 3 || launched != 3 {
		t.Fatalf("after DELETE: app still there %v, killed %d, launched %d", ok, len(killed), launched)
	}
	if code := do("DELETE", "/v2/apps/web", ""); code != http.StatusNotFound {
		t.Fatalf("DELETE of a deleted app: %d, want 404", code)
	}
	if len(s.Deployments()) != 0 {
		t.Errorf("deployments left open: %v", s.Deployments())
	}
}
