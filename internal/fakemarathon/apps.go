package fakemarathon

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
)

type appState struct {
	app   App // Tasks holds the app's tasks
	ready map[string]bool
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func (s *Server) nowString() string { return s.opts.Now().UTC().Format(timeLayout) }

// SetAppsJSON replaces every app with those of a /v2/apps document (such as the
// fixtures under state/marathon/testdata/marathon), tasks included. It emits no events.
func (s *Server) SetAppsJSON(doc []byte) error {
	var d struct {
		Apps []App `json:"apps"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("fakemarathon: decoding apps: %w", err)
	}
	s.SetApps(d.Apps)
	return nil
}

// SetApps replaces every app (with its Tasks) at once. It emits no events.
func (s *Server) SetApps(apps []App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps = map[string]*appState{}
	for _, a := range apps {
		s.apps[a.ID] = &appState{app: s.normalise(a.clone()), ready: map[string]bool{}}
	}
}

// Apps returns a copy of every app with its tasks, sorted by ID.
func (s *Server) Apps() []App {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]App, 0, len(s.apps))
	for _, st := range s.apps {
		out = append(out, st.app.clone())
	}
	slices.SortFunc(out, func(a, b App) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// App returns a copy of one app with its tasks.
func (s *Server) App(id string) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.apps[id]
	if !ok {
		return App{}, false
	}
	return st.app.clone(), true
}

// normalise fills what Marathon always fills: labels, version, task app ids and
// versions.
func (s *Server) normalise(a App) App {
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if a.HealthChecks == nil {
		a.HealthChecks = []HealthCheck{}
	}
	if a.Version == "" {
		a.Version = s.nowString()
	}
	if a.VersionInfo.LastConfigChangeAt == "" {
		a.VersionInfo.LastConfigChangeAt = a.Version
	}
	if a.VersionInfo.LastScalingAt == "" {
		a.VersionInfo.LastScalingAt = a.Version
	}
	for i := range a.Tasks {
		if a.Tasks[i].AppID == "" {
			a.Tasks[i].AppID = a.ID
		}
	}
	return a
}

// PutApp creates or replaces an app's definition, as POST/PUT /v2/apps does, and
// emits api_post_event. The app keeps its current tasks unless a.Tasks is set.
func (s *Server) PutApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a = s.normalise(a.clone())
	if old, ok := s.apps[a.ID]; ok && a.Tasks == nil {
		a.Tasks = old.app.Tasks
	}
	ready := map[string]bool{}
	if old, ok := s.apps[a.ID]; ok {
		ready = old.ready
	}
	s.apps[a.ID] = &appState{app: a, ready: ready}
	def := a
	def.Tasks = nil
	s.emitLocked(newEvent("api_post_event", map[string]any{
		"clientIp":      "127.0.0.1",
		"uri":           "/v2/apps" + a.ID,
		"appDefinition": def,
		"eventType":     "api_post_event",
		"timestamp":     s.nowString(),
	}))
}

// RemoveApp deletes an app: its tasks are killed (status_update_event TASK_KILLED
// and instance_changed_event each), then app_terminated_event.
func (s *Server) RemoveApp(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.apps[id]
	if !ok {
		return fmt.Errorf("fakemarathon: no app %s", id)
	}
	for _, t := range st.app.Tasks {
		t.State = "TASK_KILLED"
		s.emitTaskLocked(&st.app, t)
	}
	delete(s.apps, id)
	s.emitLocked(newEvent("app_terminated_event", map[string]any{
		"appId": id, "eventType": "app_terminated_event", "timestamp": s.nowString(),
	}))
	return nil
}

// SetLabels replaces an app's labels (a new app version) and emits api_post_event.
func (s *Server) SetLabels(appID string, labels map[string]string) error {
	a, ok := s.App(appID)
	if !ok {
		return fmt.Errorf("fakemarathon: no app %s", appID)
	}
	a.Labels = labels
	a.Version = ""
	a.VersionInfo.LastConfigChangeAt = ""
	s.PutApp(a)
	return nil
}

// NewTaskID returns a task id in Marathon 1.5's form for an app:
// "group_app.marathon-<uuid>".
func NewTaskID(appID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	name := strings.ReplaceAll(strings.TrimPrefix(appID, "/"), "/", "_")
	return fmt.Sprintf("%s.marathon-%s-%s-%s-%s-%s", name, h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// AddTask adds a task to an app and emits its status_update_event and
// instance_changed_event. Empty fields are filled as Marathon would: ID (see
// NewTaskID), State (TASK_RUNNING), StagedAt and StartedAt (now), Version (the
// app's), SlaveID, and IPAddresses (the host's address when it is an IP). It
// returns the task's ID.
func (s *Server) AddTask(appID string, t Task) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.apps[appID]
	if !ok {
		return "", fmt.Errorf("fakemarathon: no app %s", appID)
	}
	now := s.nowString()
	if t.ID == "" {
		t.ID = NewTaskID(appID)
	}
	t.AppID = appID
	if t.State == "" {
		t.State = "TASK_RUNNING"
	}
	if t.StagedAt == "" {
		t.StagedAt = now
	}
	if t.StartedAt == nil && t.State == "TASK_RUNNING" {
		t.StartedAt = &now
	}
	if t.Version == "" {
		t.Version = st.app.Version
	}
	if t.SlaveID == "" {
		t.SlaveID = "fake-agent-" + t.Host
	}
	if t.IPAddresses == nil && net.ParseIP(t.Host) != nil {
		proto := "IPv4"
		if strings.Contains(t.Host, ":") {
			proto = "IPv6"
		}
		t.IPAddresses = []IPAddr{{IPAddress: t.Host, Protocol: proto}}
	}
	if t.ServicePorts == nil {
		t.ServicePorts = servicePorts(&st.app)
	}
	if t.Ports == nil {
		t.Ports = []int{}
	}
	if i := taskIndex(&st.app, t.ID); i >= 0 {
		return "", fmt.Errorf("fakemarathon: app %s already has task %s", appID, t.ID)
	}
	st.app.Tasks = append(st.app.Tasks, t)
	s.emitTaskLocked(&st.app, t)
	return t.ID, nil
}

func servicePorts(a *App) []int {
	var out []int
	switch {
	case a.Container != nil && a.Container.Docker != nil && len(a.Container.Docker.PortMappings) > 0:
		for _, m := range a.Container.Docker.PortMappings {
			out = append(out, m.ServicePort)
		}
	case a.Container != nil && len(a.Container.PortMappings) > 0:
		for _, m := range a.Container.PortMappings {
			out = append(out, m.ServicePort)
		}
	case len(a.PortDefinitions) > 0:
		for _, p := range a.PortDefinitions {
			out = append(out, p.Port)
		}
	default:
		out = append(out, a.Ports...)
	}
	if out == nil {
		out = []int{}
	}
	return out
}

func taskIndex(a *App, taskID string) int {
	return slices.IndexFunc(a.Tasks, func(t Task) bool { return t.ID == taskID })
}

// terminal are the Mesos task states after which Marathon drops a task from the
// app. TASK_LOST, TASK_UNREACHABLE and TASK_UNKNOWN tasks stay listed.
var terminal = map[string]bool{
	"TASK_FINISHED": true, "TASK_FAILED": true, "TASK_KILLED": true, "TASK_ERROR": true,
	"TASK_DROPPED": true, "TASK_GONE": true, "TASK_GONE_BY_OPERATOR": true,
}

// SetTaskState moves a task to a Mesos task state (TASK_RUNNING, TASK_KILLING,
// TASK_FAILED, …) and emits status_update_event and instance_changed_event. A
// terminal state removes the task from the app, as Marathon does.
func (s *Server) SetTaskState(appID, taskID, state string) error {
	return s.withTask(appID, taskID, func(st *appState, i int) {
		t := &st.app.Tasks[i]
		t.State = state
		if state == "TASK_RUNNING" && t.StartedAt == nil {
			now := s.nowString()
			t.StartedAt = &now
		}
		ev := *t
		if terminal[state] {
			st.app.Tasks = slices.Delete(st.app.Tasks, i, i+1)
			delete(st.ready, taskID)
		}
		s.emitTaskLocked(&st.app, ev)
	})
}

// KillTask kills a task (TASK_KILLED): it leaves the app.
func (s *Server) KillTask(appID, taskID string) error {
	return s.SetTaskState(appID, taskID, "TASK_KILLED")
}

// FailTask fails a task (TASK_FAILED): it leaves the app.
func (s *Server) FailTask(appID, taskID string) error {
	return s.SetTaskState(appID, taskID, "TASK_FAILED")
}

// MoveTask kills a task and starts its replacement on another host with other
// ports, as Marathon does when a task is lost or an agent is drained. It returns
// the new task's ID.
func (s *Server) MoveTask(appID, taskID, host string, ports []int) (string, error) {
	if err := s.KillTask(appID, taskID); err != nil {
		return "", err
	}
	return s.AddTask(appID, Task{Host: host, Ports: ports})
}

// SetTaskHealth sets the result of every health check of a task (one result per
// health check of the app, at least one) and emits health_status_changed_event
// and instance_health_changed_event.
func (s *Server) SetTaskHealth(appID, taskID string, alive bool) error {
	return s.withTask(appID, taskID, func(st *appState, i int) {
		t := &st.app.Tasks[i]
		now := s.nowString()
		n := max(1, len(st.app.HealthChecks))
		t.HealthCheckResults = make([]HealthCheckResult, n)
		for k := range t.HealthCheckResults {
			r := HealthCheckResult{Alive: alive, InstanceID: taskID}
			if alive {
				r.FirstSuccess, r.LastSuccess = &now, &now
			} else {
				cause := "503 Service Unavailable"
				r.LastFailure, r.LastFailureCause = &now, &cause
				r.ConsecutiveFailures = 1
			}
			t.HealthCheckResults[k] = r
		}
		s.emitLocked(newEvent("health_status_changed_event", map[string]any{
			"appId": appID, "instanceId": taskID, "version": t.Version, "alive": alive,
			"eventType": "health_status_changed_event", "timestamp": now,
		}))
		s.emitLocked(newEvent("instance_health_changed_event", map[string]any{
			"instanceId": taskID, "runSpecId": appID, "runSpecVersion": t.Version, "healthy": alive,
			"eventType": "instance_health_changed_event", "timestamp": now,
		}))
	})
}

// SetTaskReady sets a task's readiness check result (served with
// embed=apps.readiness). Readiness results carry no event of their own in
// Marathon; they travel with deployment events.
func (s *Server) SetTaskReady(appID, taskID string, ready bool) error {
	return s.withTask(appID, taskID, func(st *appState, _ int) { st.ready[taskID] = ready })
}

// ClearTaskReady removes a task's readiness check result.
func (s *Server) ClearTaskReady(appID, taskID string) error {
	return s.withTask(appID, taskID, func(st *appState, _ int) { delete(st.ready, taskID) })
}

// withTask calls f under the lock with the app of taskID and the task's index
// in it, or fails when either is missing.
func (s *Server) withTask(appID, taskID string, f func(st *appState, i int)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, i, err := s.taskLocked(appID, taskID)
	if err != nil {
		return err
	}
	f(st, i)
	return nil
}

func (s *Server) taskLocked(appID, taskID string) (*appState, int, error) {
	st, ok := s.apps[appID]
	if !ok {
		return nil, 0, fmt.Errorf("fakemarathon: no app %s", appID)
	}
	i := taskIndex(&st.app, taskID)
	if i < 0 {
		return nil, 0, fmt.Errorf("fakemarathon: app %s has no task %s", appID, taskID)
	}
	return st, i, nil
}

// conditions maps Mesos task states to Marathon instance conditions.
var conditions = map[string]string{
	"TASK_STAGING": "Staging", "TASK_STARTING": "Starting", "TASK_RUNNING": "Running",
	"TASK_KILLING": "Killing", "TASK_FINISHED": "Finished", "TASK_FAILED": "Failed",
	"TASK_KILLED": "Killed", "TASK_ERROR": "Error", "TASK_DROPPED": "Dropped",
	"TASK_GONE": "Gone", "TASK_GONE_BY_OPERATOR": "GoneByOperator", "TASK_LOST": "Unreachable",
	"TASK_UNREACHABLE": "Unreachable", "TASK_UNKNOWN": "Unknown",
}

func (s *Server) emitTaskLocked(a *App, t Task) {
	now := s.nowString()
	ips := t.IPAddresses
	if ips == nil {
		ips = []IPAddr{}
	}
	s.emitLocked(newEvent("status_update_event", map[string]any{
		"slaveId": t.SlaveID, "taskId": t.ID, "taskStatus": t.State, "message": "",
		"appId": a.ID, "host": t.Host, "ipAddresses": ips, "ports": t.Ports,
		"version": t.Version, "eventType": "status_update_event", "timestamp": now,
	}))
	cond := conditions[t.State]
	if cond == "" {
		cond = "Unknown"
	}
	s.emitLocked(newEvent("instance_changed_event", map[string]any{
		"instanceId": t.ID, "condition": cond, "runSpecId": a.ID, "agentId": t.SlaveID,
		"host": t.Host, "runSpecVersion": t.Version, "timestamp": now,
		"eventType": "instance_changed_event",
	}))
}

// info renders an app as /v2/apps serves it. The result shares st's slices and
// maps: encode it before releasing the server's lock.
func (st *appState) info(deploys map[string]*deployment, tasks, readiness bool) appInfo {
	a := st.app
	ai := appInfo{App: a, Deployments: []deploymentRef{}}
	ai.App.Tasks = nil
	for _, t := range a.Tasks {
		switch t.State {
		case "TASK_STAGING", "TASK_STARTING":
			ai.TasksStaged++
		case "TASK_RUNNING":
			ai.TasksRunning++
		}
		if len(t.HealthCheckResults) > 0 {
			healthy := true
			for _, r := range t.HealthCheckResults {
				healthy = healthy && r.Alive
			}
			if healthy {
				ai.TasksHealthy++
			} else {
				ai.TasksUnhealthy++
			}
		}
	}
	if tasks {
		ts := a.Tasks
		if ts == nil {
			ts = []Task{}
		}
		ai.Tasks = &ts
	}
	ids := make([]string, 0, len(deploys))
	for id, d := range deploys {
		if slices.Contains(d.apps, a.ID) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		ai.Deployments = append(ai.Deployments, deploymentRef{ID: id})
	}
	if readiness {
		rs := []readinessResult{}
		taskIDs := make([]string, 0, len(st.ready))
		for id := range st.ready {
			taskIDs = append(taskIDs, id)
		}
		slices.Sort(taskIDs)
		for _, id := range taskIDs {
			name := "readiness"
			if len(a.ReadinessChecks) > 0 {
				name = a.ReadinessChecks[0].Name
			}
			rs = append(rs, readinessResult{Name: name, TaskID: id, Ready: st.ready[id]})
		}
		ai.ReadinessCheckResults = &rs
	}
	return ai
}

func embeds(r *http.Request) map[string]bool {
	out := map[string]bool{}
	for _, e := range r.URL.Query()["embed"] {
		for _, v := range strings.Split(e, ",") {
			out[strings.TrimSpace(v)] = true
		}
	}
	return out
}

func (s *Server) serveApps(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "HTTP 405 Method Not Allowed"})
		return
	}
	emb := embeds(r)
	s.mu.Lock()
	ids := make([]string, 0, len(s.apps))
	for id := range s.apps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	apps := make([]appInfo, 0, len(ids))
	for _, id := range ids {
		apps = append(apps, s.apps[id].info(s.deploys, emb["apps.tasks"], emb["apps.readiness"]))
	}
	body, err := json.Marshal(map[string]any{"apps": apps})
	s.mu.Unlock()
	writeBody(w, body, err)
}

func (s *Server) serveApp(w http.ResponseWriter, r *http.Request, path string) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "HTTP 405 Method Not Allowed"})
		return
	}
	id, wantTasks := strings.CutSuffix(path, "/tasks")
	s.mu.Lock()
	st, ok := s.apps[id]
	if !ok && wantTasks {
		// An app may itself be called "tasks".
		id, wantTasks = path, false
		st, ok = s.apps[id]
	}
	if !ok {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"message": fmt.Sprintf("App '%s' does not exist", id)})
		return
	}
	ai := st.info(s.deploys, true, true)
	var doc any = map[string]any{"app": ai}
	if wantTasks {
		doc = map[string]any{"tasks": ai.Tasks}
	}
	body, err := json.Marshal(doc)
	s.mu.Unlock()
	writeBody(w, body, err)
}

// writeBody answers with a JSON document marshalled under the lock, or with
// the error marshalling it.
func writeBody(w http.ResponseWriter, body []byte, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request) {
	host, port, _ := net.SplitHostPort(s.addr)
	httpPort, httpsPort := port, "8443"
	if s.opts.TLS {
		httpPort, httpsPort = "8080", port
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":        "marathon",
		"version":     "1.6.0-fake",
		"buildref":    "fakemarathon",
		"elected":     true,
		"leader":      s.addr,
		"frameworkId": "fake-marathon-framework-0000",
		"marathon_config": map[string]any{
			"master":              "zk://127.0.0.1:2181/mesos",
			"hostname":            host,
			"https_port":          httpsPort,
			"mesos_role":          nil,
			"task_launch_timeout": 300000,
		},
		"http_config": map[string]any{
			"http_port":  httpPort,
			"https_port": httpsPort,
		},
		"zookeeper_config": map[string]any{
			"zk": "zk://127.0.0.1:2181/marathon",
		},
		"event_subscriber": nil,
	})
}

func (s *Server) serveLeader(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"leader": s.addr})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
