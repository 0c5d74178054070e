package fakemarathon

import (
	"fmt"
	"slices"
)

type deployment struct {
	id      string
	action  string
	apps    []string
	version string
}

// StartDeployment starts a deployment of the given apps with one step of one
// action per app ("ScaleApplication", "RestartApplication", "StartApplication",
// "StopApplication", …): the apps list it under deployments, and deployment_info
// is emitted. It returns the deployment id.
func (s *Server) StartDeployment(action string, appIDs ...string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range appIDs {
		if _, ok := s.apps[id]; !ok {
			return "", fmt.Errorf("fakemarathon: no app %s", id)
		}
	}
	id := NewTaskID("deployment")[len("deployment.marathon-"):]
	d := &deployment{id: id, action: action, apps: slices.Clone(appIDs), version: s.nowString()}
	s.deploys[id] = d
	s.emitLocked(s.deploymentEventLocked("deployment_info", d, false))
	return id, nil
}

// FinishDeployment ends a deployment: deployment_step_success and
// deployment_success, or deployment_step_failure and deployment_failed. The apps
// no longer list it.
func (s *Server) FinishDeployment(id string, success bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deploys[id]
	if !ok {
		return fmt.Errorf("fakemarathon: no deployment %s", id)
	}
	delete(s.deploys, id)
	step, end := "deployment_step_success", "deployment_success"
	if !success {
		step, end = "deployment_step_failure", "deployment_failed"
	}
	s.emitLocked(s.deploymentEventLocked(step, d, false))
	s.emitLocked(s.deploymentEventLocked(end, d, true))
	return nil
}

// Deployments returns the ids of the deployments in progress, sorted.
func (s *Server) Deployments() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.deploys))
	for id := range s.deploys {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// deploymentEventLocked builds a deployment event in both plan formats: the full
// one carries the original and target root groups, the light one does not.
// Ending events (deployment_success, deployment_failed) carry the deployment id
// and plan; the others the plan and current step.
func (s *Server) deploymentEventLocked(typ string, d *deployment, ending bool) event {
	type action struct {
		Action                string `json:"action"`
		App                   string `json:"app"`
		ReadinessCheckResults []any  `json:"readinessCheckResults"`
	}
	type step struct {
		Actions []action `json:"actions"`
	}
	var st step
	for _, id := range d.apps {
		st.Actions = append(st.Actions, action{Action: d.action, App: id, ReadinessCheckResults: []any{}})
	}
	var apps []App
	for _, id := range d.apps {
		if a, ok := s.apps[id]; ok {
			def := a.app.clone()
			def.Tasks = nil
			apps = append(apps, def)
		}
	}
	group := map[string]any{"id": "/", "apps": apps, "groups": []any{}, "pods": []any{}, "dependencies": []any{}, "version": d.version}
	plan := func(full bool) map[string]any {
		p := map[string]any{"id": d.id, "steps": []step{st}, "version": d.version}
		if full {
			p["original"], p["target"] = group, group
		}
		return p
	}
	payload := func(full bool) map[string]any {
		m := map[string]any{"plan": plan(full), "eventType": typ, "timestamp": s.nowString()}
		if ending {
			m["id"] = d.id
		} else {
			m["currentStep"] = st
		}
		return m
	}
	ev := newEvent(typ, payload(true))
	ev.light = newEvent(typ, payload(false)).data
	return ev
}
