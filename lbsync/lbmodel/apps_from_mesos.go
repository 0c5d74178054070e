package lbmodel

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/discovery-mesos/discovery/state"
)

// LabelMarathonAppID names the task label that, when present, gives a task's
// Marathon app id directly (otherwise it is read from the task id).
const LabelMarathonAppID = "MARATHON_APP_ID"

// AppSetFromMesos derives the load balancer's apps from the Mesos view, for
// clusters where discovery does not talk to Marathon: Marathon copies an app's
// labels to its tasks, so the tasks carrying HAPROXY_* labels (HAPROXY_GROUP,
// or a per-port HAPROXY_{n}_GROUP) are grouped into apps by framework and
// Marathon app id. The result is sealed; it shares nothing mutable with c.
//
// What Mesos does not know is approximated: an app port's service port is the
// DiscoveryInfo port number when every task of the app agrees on it (fixed
// host ports, or container ports with IP-per-task), else 0, so that only a
// HAPROXY_{n}_PORT label serves it; there are no Marathon health check
// definitions, only each task's Mesos health (used under --health-check).
func AppSetFromMesos(c *state.Cluster) *state.AppSet {
	set := &state.AppSet{Source: c.Source, FetchedAt: c.FetchedAt, Apps: AppsFromMesos(c)}
	return set.Seal()
}

// AppsFromMesos is AppSetFromMesos without the set: the apps, sorted by ID.
func AppsFromMesos(c *state.Cluster) []state.App {
	type key struct{ framework, app string }
	byKey := map[key][]*state.Task{}
	var keys []key
	for i := range c.Tasks {
		t := c.Tasks[i]
		if !hasHAProxyLabel(t.Labels) {
			continue
		}
		id := marathonAppID(t)
		if id == "" {
			continue
		}
		k := key{t.FrameworkID, id}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], t)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.app, b.app), cmp.Compare(a.framework, b.framework)) })

	apps := make([]state.App, 0, len(keys))
	for i, k := range keys {
		id := k.app
		if i > 0 && keys[i-1].app == k.app {
			// The same app id under a second framework (two Marathons):
			// keep both, the later one under its framework's name.
			fw := k.framework
			if f := c.Framework(k.framework); f != nil && f.Name != "" {
				fw = f.Name
			}
			id = "/" + sanitizeIDSegment(fw) + id
		}
		apps = append(apps, appFromTasks(c, id, byKey[k]))
	}
	slices.SortStableFunc(apps, func(a, b state.App) int { return cmp.Compare(a.ID, b.ID) })
	return apps
}

func hasHAProxyLabel(ls []state.Label) bool {
	for _, l := range ls {
		if strings.HasPrefix(l.Key, "HAPROXY_") {
			return true
		}
	}
	return false
}

// marathonAppID returns the Marathon app id of a task: its MARATHON_APP_ID
// label, else the id Marathon encodes in the task id ("group_app.<uuid>",
// "group_app.marathon-<uuid>", "group_app.instance-<uuid>._app.1"), else the
// task name.
func marathonAppID(t *state.Task) string {
	if v, ok := t.Label(LabelMarathonAppID); ok && v != "" {
		if !strings.HasPrefix(v, "/") {
			v = "/" + v
		}
		return v
	}
	id := t.ID
	end := -1
	for _, marker := range []string{".marathon-", ".instance-"} {
		if i := strings.Index(id, marker); i > 0 {
			end = i
			break
		}
	}
	if end < 0 {
		end = strings.LastIndexByte(id, '.')
	}
	if end <= 0 {
		if t.Name == "" {
			return ""
		}
		return "/" + strings.ReplaceAll(strings.Trim(t.Name, "/"), "_", "/")
	}
	return "/" + strings.ReplaceAll(id[:end], "_", "/")
}

func sanitizeIDSegment(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// appFromTasks builds one app from its tasks.
func appFromTasks(c *state.Cluster, id string, tasks []*state.Task) state.App {
	slices.SortFunc(tasks, func(a, b *state.Task) int { return cmp.Compare(a.ID, b.ID) })
	// The newest running task speaks for the app's labels and ports (during a
	// deployment the old tasks still carry the old labels).
	ref := tasks[0]
	for _, t := range tasks[1:] {
		if t.RunningSince.After(ref.RunningSince) {
			ref = t
		}
	}
	app := state.App{ID: id, Labels: map[string]string{}, Network: state.NetworkHost, Instances: len(tasks)}
	for _, l := range ref.Labels {
		if _, dup := app.Labels[l.Key]; !dup {
			app.Labels[l.Key] = l.Value
		}
	}
	if len(ref.Ports) == 0 && len(taskIPs(ref)) > 0 {
		app.Network = state.NetworkContainer
	}

	portLists := make([][]int, len(tasks))
	for i, t := range tasks {
		portLists[i] = taskPortNumbers(t)
	}
	refPorts := taskPortNumbers(ref)
	for n, p := range refPorts {
		ap := state.AppPort{Protocol: "tcp"}
		if ref.Discovery != nil && n < len(ref.Discovery.Ports) {
			dp := ref.Discovery.Ports[n]
			ap.Name, ap.Protocol = dp.Name, cmp.Or(dp.Protocol, "tcp")
			if len(dp.Labels) > 0 {
				ap.Labels = map[string]string{}
				for _, l := range dp.Labels {
					ap.Labels[l.Key] = l.Value
				}
			}
		}
		agree := true
		for _, ps := range portLists {
			if n >= len(ps) || ps[n] != p {
				agree = false
				break
			}
		}
		if agree && ref.Discovery != nil {
			ap.ServicePort = p
		}
		if app.Network == state.NetworkContainer {
			ap.ContainerPort = p
		} else if agree {
			ap.HostPort = p
		}
		app.Ports = append(app.Ports, ap)
	}

	for i, t := range tasks {
		at := state.AppTask{
			ID:        t.ID,
			AgentID:   t.AgentID,
			State:     t.State,
			StartedAt: t.RunningSince,
			IPs:       slices.Clone(taskIPs(t)),
		}
		if a := c.Agent(t.AgentID); a != nil {
			at.Host = cmp.Or(a.Host, a.Hostname)
		}
		if app.Network != state.NetworkContainer {
			at.Ports = portLists[i]
		}
		if t.Healthy != nil {
			at.Health = []bool{*t.Healthy}
		}
		app.Tasks = append(app.Tasks, at)
	}
	return app
}

// taskIPs are the task's own addresses, in mesos-dns's preference order.
func taskIPs(t *state.Task) []netip.Addr {
	switch {
	case len(t.NetInfo) > 0:
		return t.NetInfo
	case len(t.Docker) > 0:
		return t.Docker
	}
	return t.Mesos
}

// taskPortNumbers are the task's ports in app port order: the DiscoveryInfo
// ports when it has them (Marathon lists them in port definition order), else
// its port resources.
func taskPortNumbers(t *state.Task) []int {
	if t.Discovery != nil && len(t.Discovery.Ports) > 0 {
		ps := make([]int, len(t.Discovery.Ports))
		for i, p := range t.Discovery.Ports {
			ps[i] = int(p.Number)
		}
		return ps
	}
	var ps []int
	for _, r := range t.Ports {
		for p := r.Begin; p <= r.End && len(ps) < 1024; p++ {
			ps = append(ps, int(p))
			if p == ^uint32(0) {
				break
			}
		}
	}
	return ps
}
