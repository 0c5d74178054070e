package sim

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
)

// The changes. Each one edits the model, then publishes the edit to the
// leading master (one batch: one rewrite of its state document, the operator
// API events of a real master) and to Marathon (its own events), and records a
// Change. Only the leading master is kept current; ChangeLeader hands the
// state to the next one.

// completedKept is how many completed tasks the master's document keeps per
// framework, as Mesos's max_completed_tasks_per_framework bounds them.
const completedKept = 1000

// newAppLocked adds an app to the model (name "app-NNN" when empty).
func (c *Cluster) newAppLocked(name string, instances int) *app {
	n := c.nextApp
	c.nextApp++
	if name == "" {
		name = fmt.Sprintf("app-%03d", n)
	}
	id := "/" + c.cfg.Group + "/" + name
	sp := c.cfg.ServicePortBase + n
	a := &app{
		index:       n,
		id:          id,
		name:        name,
		taskName:    taskName(id),
		servicePort: sp,
		vhost:       name + "." + c.cfg.VHostDomain,
		instances:   instances,
	}
	a.labels = map[string]string{
		"HAPROXY_GROUP":   c.cfg.HAProxyGroup,
		"HAPROXY_0_PORT":  strconv.Itoa(sp),
		"HAPROXY_0_VHOST": a.vhost,
	}
	for k, v := range c.cfg.AppLabels {
		a.labels[k] = v
	}
	a.portLabels = map[string]string{}
	if c.cfg.VIPPort > 0 {
		a.portLabels["VIP_0"] = id + ":" + strconv.Itoa(c.cfg.VIPPort)
	}
	i, _ := slices.BinarySearchFunc(c.apps, id, func(x *app, id string) int { return cmp.Compare(x.id, id) })
	c.apps = slices.Insert(c.apps, i, a)
	c.appByID[id] = a
	return a
}

// taskName is the Mesos task name Marathon gives an app's tasks: the path
// segments of its id, last first, joined with dots ("/sim/app-000" →
// "app-000.sim").
func taskName(appID string) string {
	segs := strings.Split(strings.Trim(appID, "/"), "/")
	slices.Reverse(segs)
	return strings.Join(segs, ".")
}

// marathonTaskID is a task id in Marathon's form for an app:
// "group_app.marathon-<uuid>".
func (c *Cluster) marathonTaskID(a *app) string {
	return strings.ReplaceAll(strings.Trim(a.id, "/"), "/", "_") + ".marathon-" + c.uuid()
}

// placeTaskLocked adds a running, healthy task of a to the model on a random
// agent other than avoid (when there is another), with a free host port (and
// its backend listening on it). It publishes nothing.
func (c *Cluster) placeTaskLocked(a *app, avoid *agent) (*task, error) {
	ag := c.agents[c.rng.IntN(len(c.agents))]
	if ag == avoid && len(c.agents) > 1 {
		k := c.rng.IntN(len(c.agents) - 1)
		if c.agents[k] == avoid {
			k = len(c.agents) - 1
		}
		ag = c.agents[k]
	}
	t := &task{id: c.marathonTaskID(a), app: a, agent: ag, healthy: true, started: time.Now()}
	port, err := c.allocPortLocked(t)
	if err != nil {
		return nil, err
	}
	t.ports = []int{port}
	a.tasks = append(a.tasks, t)
	c.taskByID[t.id] = t
	return t, nil
}

// allocPortLocked finds a free host port on the task's agent, and with
// Backends starts the task's backend on it.
func (c *Cluster) allocPortLocked(t *task) (int, error) {
	ag := t.agent
	span := agentPortLast - agentPortFirst + 1
	for range span {
		p := ag.next
		ag.next++
		if ag.next > agentPortLast {
			ag.next = agentPortFirst
		}
		if ag.used[p] {
			continue
		}
		if c.cfg.Backends && (c.cfg.BackendApps <= 0 || t.app.index < c.cfg.BackendApps) {
			ln, taken, err := listenTaskPort(ag.ip.String(), p)
			if taken {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("starting the backend of task %s: %w", t.id, err)
			}
			t.backend = startBackend(ln, t.app.id, t.id)
		}
		ag.used[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("agent %s (%s) has no free port", ag.id, ag.ip)
}

// dropTaskLocked removes a task from the model, frees its port and stops its
// backend.
func (c *Cluster) dropTaskLocked(t *task) {
	a := t.app
	if i := slices.Index(a.tasks, t); i >= 0 {
		a.tasks = slices.Delete(a.tasks, i, i+1)
	}
	delete(c.taskByID, t.id)
	for _, p := range t.ports {
		delete(t.agent.used, p)
	}
	if t.backend != nil {
		t.backend.stop(&c.stopping)
		t.backend = nil
	}
}

// api is the leading master's operator API.
func (c *Cluster) apiLocked() *fakemaster.OperatorAPI { return c.apis[c.leader] }

// publishStartLocked tells the master (TASK_ADDED staging, then
// TASK_UPDATED running with the task's health) and Marathon (the task, then
// its health) about a new task.
func (c *Cluster) publishStartLocked(tx *fakemaster.Tx, t *task) error {
	staging := mesosStatus(t, "TASK_STAGING", t.started)
	if err := tx.AddTask(c.mesosTask(t, "TASK_STAGING", []any{staging})); err != nil {
		return fmt.Errorf("adding task %s to the master: %w", t.id, err)
	}
	if err := tx.UpdateTask(t.id, "TASK_RUNNING", mesosStatus(t, "TASK_RUNNING", t.started)); err != nil {
		return fmt.Errorf("starting task %s at the master: %w", t.id, err)
	}
	return nil
}

func (c *Cluster) publishStartMarathonLocked(t *task) error {
	mt := marathonTask(t)
	mt.HealthCheckResults = nil
	if _, err := c.marathon.AddTask(t.app.id, mt); err != nil {
		return fmt.Errorf("adding task %s to marathon: %w", t.id, err)
	}
	if err := c.marathon.SetTaskHealth(t.app.id, t.id, t.healthy); err != nil {
		return fmt.Errorf("setting the health of task %s in marathon: %w", t.id, err)
	}
	return nil
}

func (c *Cluster) checkOpenLocked() error {
	if c.closed {
		return ErrClosed
	}
	return nil
}

// appLocked is the app appID of an open cluster.
func (c *Cluster) appLocked(appID string) (*app, error) {
	return lookupOpenLocked(c, c.appByID, "app", appID)
}

// taskLocked is the running task taskID of an open cluster.
func (c *Cluster) taskLocked(taskID string) (*task, error) {
	return lookupOpenLocked(c, c.taskByID, "running task", taskID)
}

// lookupOpenLocked is byID[id] of an open cluster; what names it in the
// error when it is missing.
func lookupOpenLocked[T any](c *Cluster, byID map[string]*T, what, id string) (*T, error) {
	if err := c.checkOpenLocked(); err != nil {
		return nil, err
	}
	v, ok := byID[id]
	if !ok {
		return nil, fmt.Errorf("sim: no %s %s", what, id)
	}
	return v, nil
}

// StartTask starts a new instance of an app on a random agent (the app asks
// for one instance more).
func (c *Cluster) StartTask(appID string) (Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.appLocked(appID)
	if err != nil {
		return Change{}, err
	}
	a.instances++
	return c.startTaskLocked(a, nil)
}

func (c *Cluster) startTaskLocked(a *app, avoid *agent) (Change, error) {
	t, err := c.placeTaskLocked(a, avoid)
	if err != nil {
		return Change{}, err
	}
	at := time.Now()
	t.started = at
	if err := c.apiLocked().Batch(func(tx *fakemaster.Tx) error { return c.publishStartLocked(tx, t) }); err != nil {
		c.dropTaskLocked(t)
		return Change{}, err
	}
	mat := time.Now()
	if err := c.publishStartMarathonLocked(t); err != nil {
		return Change{}, err
	}
	return c.recordLocked(Change{Kind: TaskStarted, At: at, MarathonAt: mat, App: a.id, Task: t.id, Addr: t.view().Addr(), Healthy: t.healthy}), nil
}

// KillTask kills a task (TASK_KILLED); the app asks for one instance less.
func (c *Cluster) KillTask(taskID string) (Change, error) {
	return c.endTask(taskID, "TASK_KILLED", true)
}

// FailTask fails a task (TASK_FAILED). The app keeps asking for as many
// instances: Step and Churn start a replacement, as Marathon would.
func (c *Cluster) FailTask(taskID string) (Change, error) {
	return c.endTask(taskID, "TASK_FAILED", false)
}

func (c *Cluster) endTask(taskID, state string, scaleDown bool) (Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.taskLocked(taskID)
	if err != nil {
		return Change{}, err
	}
	if scaleDown {
		t.app.instances = max(0, t.app.instances-1)
	}
	return c.endTaskLocked(t, state)
}

func (c *Cluster) endTaskLocked(t *task, state string) (Change, error) {
	at := time.Now()
	kind := TaskKilled
	if state == "TASK_FAILED" {
		kind = TaskFailed
	}
	ch := Change{Kind: kind, At: at, App: t.app.id, Task: t.id, Addr: t.view().Addr()}
	err := c.apiLocked().Batch(func(tx *fakemaster.Tx) error {
		return tx.UpdateTask(t.id, state, mesosStatus(t, state, at))
	})
	c.dropTaskLocked(t)
	if err != nil {
		return Change{}, fmt.Errorf("ending task %s at the master: %w", t.id, err)
	}
	ch.MarathonAt = time.Now()
	if err := c.marathon.SetTaskState(t.app.id, t.id, state); err != nil {
		return Change{}, fmt.Errorf("ending task %s in marathon: %w", t.id, err)
	}
	c.terminals++
	c.trimCompletedLocked()
	return c.recordLocked(ch), nil
}

// MoveTask kills a task and starts its replacement on another agent, as
// Marathon does when an agent is drained. It returns both changes: the kill,
// then the start.
func (c *Cluster) MoveTask(taskID string) ([]Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.taskLocked(taskID)
	if err != nil {
		return nil, err
	}
	return c.moveTaskLocked(t)
}

func (c *Cluster) moveTaskLocked(t *task) ([]Change, error) {
	from := t.agent
	kill, err := c.endTaskLocked(t, "TASK_KILLED")
	if err != nil {
		return nil, err
	}
	start, err := c.startTaskLocked(t.app, from)
	if err != nil {
		return []Change{kill}, err
	}
	return []Change{kill, start}, nil
}

// SetHealth sets the result of a task's health check, at the master (a new
// TASK_RUNNING status with "healthy") and in Marathon.
func (c *Cluster) SetHealth(taskID string, healthy bool) (Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.taskLocked(taskID)
	if err != nil {
		return Change{}, err
	}
	return c.setHealthLocked(t, healthy)
}

func (c *Cluster) setHealthLocked(t *task, healthy bool) (Change, error) {
	at := time.Now()
	t.healthy = healthy
	err := c.apiLocked().Batch(func(tx *fakemaster.Tx) error {
		return tx.UpdateTask(t.id, "TASK_RUNNING", mesosStatus(t, "TASK_RUNNING", at))
	})
	if err != nil {
		return Change{}, fmt.Errorf("setting the health of task %s at the master: %w", t.id, err)
	}
	mat := time.Now()
	if err := c.marathon.SetTaskHealth(t.app.id, t.id, healthy); err != nil {
		return Change{}, fmt.Errorf("setting the health of task %s in marathon: %w", t.id, err)
	}
	return c.recordLocked(Change{Kind: TaskHealth, At: at, MarathonAt: mat, App: t.app.id, Task: t.id, Addr: t.view().Addr(), Healthy: healthy}), nil
}

// ScaleApp sets an app's instance count inside a Marathon deployment: new
// tasks start, or the newest ones are killed. It returns the task changes,
// then the app-scaled change.
func (c *Cluster) ScaleApp(appID string, instances int) ([]Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.appLocked(appID)
	if err != nil {
		return nil, err
	}
	return c.scaleLocked(a, max(instances, 0), "ScaleApplication", AppScaled)
}

func (c *Cluster) scaleLocked(a *app, instances int, action string, kind ChangeKind) ([]Change, error) {
	at := time.Now()
	a.instances = instances
	c.marathon.PutApp(marathonApp(a))
	dep, err := c.marathon.StartDeployment(action, a.id)
	if err != nil {
		return nil, fmt.Errorf("deploying %s: %w", a.id, err)
	}
	var out []Change
	for len(a.tasks) > instances && err == nil {
		var ch Change
		ch, err = c.endTaskLocked(a.tasks[len(a.tasks)-1], "TASK_KILLED")
		out = append(out, ch)
	}
	for len(a.tasks) < instances && err == nil {
		var ch Change
		ch, err = c.startTaskLocked(a, nil)
		out = append(out, ch)
	}
	if ferr := c.marathon.FinishDeployment(dep, err == nil); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if err != nil {
		return out, err
	}
	out = append(out, c.recordLocked(Change{Kind: kind, At: at, App: a.id, Instances: instances}))
	return out, nil
}

// AddApp adds an app named name (its id "/group/name"; "app-NNN" when empty)
// with the simulator's labels and the next service port, and starts its
// instances. It returns the task changes, then the app-added change.
func (c *Cluster) AddApp(name string, instances int) ([]Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpenLocked(); err != nil {
		return nil, err
	}
	if name != "" {
		if _, dup := c.appByID["/"+c.cfg.Group+"/"+name]; dup {
			return nil, fmt.Errorf("sim: app %s exists", name)
		}
		if strings.ContainsAny(name, "/.") || name != strings.ToLower(name) {
			return nil, fmt.Errorf("sim: app name %q: want lower-case letters, digits and dashes", name)
		}
	}
	a := c.newAppLocked(name, 0)
	return c.scaleLocked(a, max(instances, 0), "StartApplication", AppAdded)
}

// RemoveApp kills an app's tasks and deletes it.
func (c *Cluster) RemoveApp(appID string) (Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.appLocked(appID)
	if err != nil {
		return Change{}, err
	}
	at := time.Now()
	tasks := slices.Clone(a.tasks)
	err = c.apiLocked().Batch(func(tx *fakemaster.Tx) error {
		for _, t := range tasks {
			if err := tx.UpdateTask(t.id, "TASK_KILLED", mesosStatus(t, "TASK_KILLED", at)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, t := range tasks {
		c.dropTaskLocked(t)
	}
	i := slices.Index(c.apps, a)
	c.apps = slices.Delete(c.apps, i, i+1)
	delete(c.appByID, appID)
	if err != nil {
		return Change{}, fmt.Errorf("killing the tasks of %s at the master: %w", appID, err)
	}
	if err := c.marathon.RemoveApp(appID); err != nil {
		return Change{}, err
	}
	c.terminals += len(tasks)
	c.trimCompletedLocked()
	return c.recordLocked(Change{Kind: AppRemoved, At: at, App: appID}), nil
}

// trimCompletedLocked keeps the master's completed task lists bounded, as
// Mesos does: every completedKept terminal tasks, each framework's list is cut
// to its last completedKept. It edits the document without events (completed
// tasks are not part of the operator API's state).
func (c *Cluster) trimCompletedLocked() {
	if c.terminals < completedKept {
		return
	}
	c.terminals = 0
	err := c.masters[c.leader].EditState(func(doc map[string]any) error {
		fws, _ := doc["frameworks"].([]any)
		for _, f := range fws {
			fw, ok := f.(map[string]any)
			if !ok {
				continue
			}
			if done, ok := fw["completed_tasks"].([]any); ok && len(done) > completedKept {
				fw["completed_tasks"] = done[len(done)-completedKept:]
			}
		}
		return nil
	})
	if err != nil {
		c.log.Warn("trimming completed tasks", "err", err)
	}
}
