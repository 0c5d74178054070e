package fakemarathon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Scheduler starts and stops the tasks of apps changed through Marathon's
// write API (POST /v2/apps, PUT /v2/apps/{id} with instances, DELETE
// /v2/apps/{id}, POST /v2/tasks/delete), as Mesos does for Marathon: a client
// such as marathon-lb's zdd.py deploys, scales and deletes apps, and the test
// runs real task processes.
type Scheduler struct {
	// Launch starts one task of app and returns it (Host and Ports at least;
	// the rest is filled as AddTask fills it). A task of an app with health
	// checks is reported healthy once launched.
	Launch func(app App) (Task, error)
	// Kill stops a task that was killed or whose app was deleted; nil when
	// there is nothing to stop.
	Kill func(t Task)
}

// SetScheduler turns the write API on with s; without one it answers 405.
func (s *Server) SetScheduler(sch Scheduler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sched = &sch
}

func (s *Server) scheduler() *Scheduler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sched
}

// maxWriteBody bounds a write request's body.
const maxWriteBody = 1 << 20

// serveCreateApp is POST /v2/apps: the app is created and its instances
// launched in a deployment.
func (s *Server) serveCreateApp(w http.ResponseWriter, r *http.Request, sch *Scheduler) {
	var a App
	if err := json.NewDecoder(io.LimitReader(r.Body, maxWriteBody)).Decode(&a); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid JSON: " + err.Error()})
		return
	}
	if a.ID == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Object is not valid: id is missing"})
		return
	}
	if !strings.HasPrefix(a.ID, "/") {
		a.ID = "/" + a.ID
	}
	if _, ok := s.App(a.ID); ok {
		writeJSON(w, http.StatusConflict, map[string]string{"message": fmt.Sprintf("An app with id [%s] already exists.", a.ID)})
		return
	}
	a.Tasks, a.Version, a.VersionInfo = nil, "", VersionInfo{}
	// Marathon answers with both forms of the service ports whichever was
	// given (zdd.py reads "ports").
	if len(a.PortDefinitions) == 0 && a.Container == nil {
		for _, p := range a.Ports {
			a.PortDefinitions = append(a.PortDefinitions, PortDefinition{Port: p, Protocol: "tcp", Labels: map[string]string{}})
		}
	}
	if len(a.Ports) == 0 {
		a.Ports = servicePorts(&a)
	}
	s.PutApp(a)
	dep, err := s.scale(sch, a.ID, a.Instances, "StartApplication")
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	created, _ := s.App(a.ID)
	created.Tasks = nil
	s.mu.Lock()
	body, err := json.Marshal(appInfo{App: created, Deployments: []deploymentRef{{ID: dep}}})
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

// serveUpdateApp is PUT /v2/apps/{id}; only scaling ({"instances": N}) is
// modelled.
func (s *Server) serveUpdateApp(w http.ResponseWriter, r *http.Request, sch *Scheduler, id string) {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, maxWriteBody)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid JSON: " + err.Error()})
		return
	}
	var n int
	raw, ok := body["instances"]
	if len(body) != 1 || !ok || json.Unmarshal(raw, &n) != nil || n < 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "fakemarathon: PUT /v2/apps/{id} takes only {\"instances\": N}"})
		return
	}
	if _, ok := s.App(id); !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": fmt.Sprintf("App '%s' does not exist", id)})
		return
	}
	dep, err := s.scale(sch, id, n, "ScaleApplication")
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": s.nowString(), "deploymentId": dep})
}

// serveDeleteApp is DELETE /v2/apps/{id}: its tasks are killed, the app goes.
func (s *Server) serveDeleteApp(w http.ResponseWriter, sch *Scheduler, id string) {
	a, ok := s.App(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": fmt.Sprintf("App '%s' does not exist", id)})
		return
	}
	if err := s.RemoveApp(id); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	for _, t := range a.Tasks {
		if sch.Kill != nil {
			sch.Kill(t)
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": s.nowString(), "deploymentId": NewTaskID("deployment")[len("deployment.marathon-"):]})
}

// serveKillTasks is POST /v2/tasks/delete {"ids": [...]}: with scale=true
// the apps shrink by the tasks killed, otherwise each is replaced.
func (s *Server) serveKillTasks(w http.ResponseWriter, r *http.Request, sch *Scheduler) {
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxWriteBody)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid JSON: " + err.Error()})
		return
	}
	scale := r.URL.Query().Get("scale") == "true"
	for _, id := range body.IDs {
		t, appID, ok := s.findTask(id)
		if !ok {
			continue // Marathon ignores unknown ids
		}
		if err := s.KillTask(appID, id); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
			return
		}
		if sch.Kill != nil {
			sch.Kill(t)
		}
		a, _ := s.App(appID)
		n := a.Instances
		if scale {
			n = max(0, n-1)
		}
		if _, err := s.scale(sch, appID, n, "ScaleApplication"); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": s.nowString(), "deploymentId": NewTaskID("deployment")[len("deployment.marathon-"):]})
}

// findTask returns a task and the id of its app.
func (s *Server) findTask(taskID string) (Task, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, st := range s.apps {
		if i := taskIndex(&st.app, taskID); i >= 0 {
			return st.app.Tasks[i], id, true
		}
	}
	return Task{}, "", false
}

// scale sets an app's instances (and lastScalingAt) and launches or kills
// tasks until it runs that many, inside a deployment it returns the id of.
func (s *Server) scale(sch *Scheduler, appID string, instances int, action string) (string, error) {
	s.mu.Lock()
	st, ok := s.apps[appID]
	if !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("fakemarathon: no app %s", appID)
	}
	if st.app.Instances != instances {
		st.app.Instances = instances
		st.app.VersionInfo.LastScalingAt = s.nowString()
	}
	s.mu.Unlock()
	dep, err := s.StartDeployment(action, appID)
	if err != nil {
		return "", err
	}
	defer func() { _ = s.FinishDeployment(dep, err == nil) }()
	for {
		a, ok := s.App(appID)
		if !ok {
			return dep, fmt.Errorf("fakemarathon: app %s went away while scaling", appID)
		}
		switch {
		case len(a.Tasks) < a.Instances:
			t, lerr := sch.Launch(a)
			if lerr != nil {
				err = fmt.Errorf("fakemarathon: launching a task of %s: %w", appID, lerr)
				return dep, err
			}
			id, aerr := s.AddTask(appID, t)
			if aerr != nil {
				err = aerr
				return dep, err
			}
			if len(a.HealthChecks) > 0 {
				if err = s.SetTaskHealth(appID, id, true); err != nil {
					return dep, err
				}
			}
		case len(a.Tasks) > a.Instances:
			// Marathon kills the newest tasks first when it scales down.
			last := slices.MaxFunc(a.Tasks, func(x, y Task) int { return strings.Compare(x.StagedAt+x.ID, y.StagedAt+y.ID) })
			if err = s.KillTask(appID, last.ID); err != nil {
				return dep, err
			}
			if sch.Kill != nil {
				sch.Kill(last)
			}
		default:
			return dep, nil
		}
	}
}

// serveWrite serves the write API's requests; false when r is not one.
func (s *Server) serveWrite(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	isApps := p == "/v2/apps" || p == "/v2/apps/"
	isApp := strings.HasPrefix(p, "/v2/apps/") && !isApps
	isKill := p == "/v2/tasks/delete"
	if !isApps && !isApp && !isKill {
		return false
	}
	sch := s.scheduler()
	if sch == nil || sch.Launch == nil {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "HTTP 405 Method Not Allowed"})
		return true
	}
	id := strings.TrimSuffix(strings.TrimPrefix(p, "/v2/apps"), "/")
	switch {
	case isApps && r.Method == http.MethodPost:
		s.serveCreateApp(w, r, sch)
	case isApp && r.Method == http.MethodPut:
		s.serveUpdateApp(w, r, sch, id)
	case isApp && r.Method == http.MethodDelete:
		s.serveDeleteApp(w, sch, id)
	case isKill && r.Method == http.MethodPost:
		s.serveKillTasks(w, r, sch)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "HTTP 405 Method Not Allowed"})
	}
	return true
}
