package lbmodel

import (
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// appLinger keeps, for a grace period, the apps that vanished from a Mesos view
// because their last task ended, as apps with no task.
//
// Why: an app known only from its tasks' labels (no Marathon source) exists in
// the Mesos view only while it has a task. A single-instance app restarting, or
// any app briefly at zero, would otherwise drop its frontend and backend and add
// them back a moment later: two reloads, each loading a config written before
// the changes that come meanwhile, so that traffic meets stale servers until
// the next one. Marathon keeps an app scaled to zero in /v2/apps, and
// marathon-lb keeps its frontend; lingering gives the Mesos-derived view the
// same shape. A lingering app whose service port another app now claims is
// dropped at once, so a port moving between apps never makes an invalid config.
type appLinger struct {
	grace time.Duration
	now   func() time.Time

	// prev is the previous output (sorted by ID), lingering apps included.
	prev []state.App
	// since is when each lingering app vanished.
	since map[string]time.Time
}

// lingerLabel marks a lingering app: its services are kept with no server
// (marathon-lb, and BuildModel otherwise, leave out a service without one).
const lingerLabel = "DISCOVERY_LINGERING"

func lingering(app *state.App) bool { return app.Labels[lingerLabel] != "" }

func newAppLinger(grace time.Duration) *appLinger {
	return &appLinger{grace: grace, now: time.Now, since: map[string]time.Time{}}
}

// Apply returns apps (sorted by ID) with the lingering apps merged in, and their
// digests. digests are those of apps, in order.
//
// An app still in the view whose tasks have all stopped serving (its only
// task staging, or killing) lingers too, once it has served: under the event
// stream a replacement task is seen as TASK_STAGING before TASK_RUNNING, and
// an app with no running task for that moment would otherwise lose its
// frontend just as its replacement arrives.
func (l *appLinger) Apply(apps []state.App, digests []uint64) ([]state.App, []uint64) {
	if l == nil || l.grace <= 0 {
		return apps, digests
	}
	now := l.now()
	var keep []state.App
	var replaced map[int]state.App // by index in apps: present, lingering
	var ports map[int]bool
	i, j := 0, 0
	for i < len(l.prev) {
		switch {
		case j < len(apps) && apps[j].ID < l.prev[i].ID:
			j++
		case j < len(apps) && apps[j].ID == l.prev[i].ID:
			served := serving(&l.prev[i]) || lingering(&l.prev[i])
			if serving(&apps[j]) || !served {
				delete(l.since, apps[j].ID) // back, never gone, or never served
			} else if app, ok := l.hold(apps[j], now); ok {
				if replaced == nil {
					replaced = map[int]state.App{}
				}
				replaced[j] = app
			}
			i++
			j++
		default:
			// Gone from the view: linger unless its time is up or its port is
			// taken.
			gone := l.prev[i]
			i++
			if ports == nil {
				ports = servicePorts(apps)
			}
			if claimed(gone, ports) {
				delete(l.since, gone.ID)
				continue
			}
			gone.Tasks = nil
			if app, ok := l.hold(gone, now); ok {
				keep = append(keep, app)
			}
		}
	}
	if len(keep) == 0 && len(replaced) == 0 {
		l.remember(apps)
		return apps, digests
	}
	out := make([]state.App, 0, len(apps)+len(keep))
	outD := make([]uint64, 0, len(apps)+len(keep))
	j = 0
	add := func(j int) {
		if app, ok := replaced[j]; ok {
			out, outD = append(out, app), append(outD, state.AppDigest(&app))
			return
		}
		out, outD = append(out, apps[j]), append(outD, digests[j])
	}
	for k := range keep {
		for j < len(apps) && apps[j].ID < keep[k].ID {
			add(j)
			j++
		}
		out, outD = append(out, keep[k]), append(outD, state.AppDigest(&keep[k]))
	}
	for ; j < len(apps); j++ {
		add(j)
	}
	l.remember(out)
	return out, outD
}

// hold returns app marked as lingering, unless the grace period since it
// stopped serving is over.
func (l *appLinger) hold(app state.App, now time.Time) (state.App, bool) {
	at, ok := l.since[app.ID]
	if !ok {
		at = now
		l.since[app.ID] = at
	}
	if now.Sub(at) >= l.grace {
		delete(l.since, app.ID)
		return app, false
	}
	if app.Labels[lingerLabel] == "" {
		labels := make(map[string]string, len(app.Labels)+1)
		maps.Copy(labels, app.Labels)
		labels[lingerLabel] = "true"
		app.Labels = labels
	}
	return app, true
}

// serving reports whether any of app's tasks can be a server: one that is
// running (or whose state the source does not say).
func serving(app *state.App) bool {
	for k := range app.Tasks {
		if routable(app.Tasks[k].State, true) {
			return true
		}
	}
	return false
}

// routable reports whether a task in state st may be a server: running (or
// a state the source does not say) and, unless skipLost, unreachable or lost
// as marathon-lb routes them: Mesos may only have lost sight of the agent,
// and health checks, when enabled, decide.
func routable(st state.TaskState, skipLost bool) bool {
	switch st {
	case state.TaskRunning, "":
		return true
	case "TASK_UNREACHABLE", "TASK_LOST":
		return !skipLost
	}
	return false
}

// remember copies the output: the caller's slice may be reused for the next
// view.
func (l *appLinger) remember(apps []state.App) {
	l.prev = append(l.prev[:0], apps...)
}

// Lingering returns the number of apps kept after their last task ended.
func (l *appLinger) Lingering() int {
	if l == nil {
		return 0
	}
	return len(l.since)
}

// servicePorts are the service ports apps claim: their ports' service ports
// and HAPROXY_{n}_PORT labels.
func servicePorts(apps []state.App) map[int]bool {
	ports := make(map[int]bool, len(apps))
	for a := range apps {
		for _, p := range claimedPorts(&apps[a]) {
			ports[p] = true
		}
	}
	return ports
}

func claimed(app state.App, ports map[int]bool) bool {
	for _, p := range claimedPorts(&app) {
		if ports[p] {
			return true
		}
	}
	return false
}

func claimedPorts(app *state.App) []int {
	var out []int
	for _, p := range app.Ports {
		if p.ServicePort > 0 {
			out = append(out, p.ServicePort)
		}
	}
	for k, v := range app.Labels {
		if !strings.HasPrefix(k, "HAPROXY_") || !strings.HasSuffix(k, "_PORT") {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}
