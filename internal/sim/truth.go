package sim

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Truth is a copy of the simulated cluster as it is at one change: what a
// discovery daemon that follows the masters or Marathon must converge to.
// It shares nothing with the Cluster.
type Truth struct {
	// Seq is the sequence number of the last change included.
	Seq uint64
	// Leader is the leading master's host:port.
	Leader string
	// Masters are every master's host:port, in the order they were created.
	Masters []string
	// Framework is the Mesos framework name the apps run under ("marathon").
	Framework string
	// FrameworkID is that framework's ID.
	FrameworkID string
	// Agents are sorted by ID.
	Agents []Agent
	// Apps are sorted by ID, their tasks by ID.
	Apps []App
}

// Agent is a simulated Mesos agent. Its hostname is its address.
type Agent struct {
	ID string
	IP netip.Addr
}

// App is a Marathon app of the simulated cluster.
type App struct {
	// ID is the Marathon app id, "/group/name".
	ID string
	// TaskName is the Mesos task name Marathon gives the app's tasks
	// ("name.group"): the first labels of their DNS names.
	TaskName string
	// ServicePort is the app's service port (its HAPROXY_0_PORT label too).
	ServicePort int
	// VHost is the app's HAPROXY_0_VHOST label.
	VHost string
	// Labels are the app's labels, which its Mesos tasks carry too.
	Labels map[string]string
	// Instances is the number of instances the app asks for.
	Instances int
	// Tasks are the app's running tasks.
	Tasks []Task
}

// Task is a running task of the simulated cluster.
type Task struct {
	ID      string
	AppID   string
	AgentID string
	// IP is the task's address: its agent's (host networking).
	IP netip.Addr
	// Ports are its host ports, one per app port (one).
	Ports []int
	// Healthy is the result of the app's health check.
	Healthy bool
	// StartedAt is when the task was started.
	StartedAt time.Time
}

// Addr is the task's first host port on its address: where HAProxy routes to
// and where its backend (if any) listens.
func (t Task) Addr() netip.AddrPort {
	if len(t.Ports) == 0 {
		return netip.AddrPortFrom(t.IP, 0)
	}
	return netip.AddrPortFrom(t.IP, uint16(t.Ports[0]))
}

// App returns the app with the given ID.
func (tr Truth) App(id string) (App, bool) {
	i, ok := slices.BinarySearchFunc(tr.Apps, id, func(a App, id string) int { return cmp.Compare(a.ID, id) })
	if !ok {
		return App{}, false
	}
	return tr.Apps[i], true
}

// Task returns the running task with the given ID.
func (tr Truth) Task(id string) (Task, bool) {
	for _, a := range tr.Apps {
		for _, t := range a.Tasks {
			if t.ID == id {
				return t, true
			}
		}
	}
	return Task{}, false
}

// Tasks returns every running task, sorted by ID.
func (tr Truth) Tasks() []Task {
	var out []Task
	for _, a := range tr.Apps {
		out = append(out, a.Tasks...)
	}
	slices.SortFunc(out, func(a, b Task) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// TaskDNSName is the mesos-dns name of an app's tasks under domain ("mesos"):
// "name.group.marathon.mesos.". The simulator's names need no sanitising.
func (tr Truth) TaskDNSName(a App, domain string) string {
	return a.TaskName + "." + tr.Framework + "." + strings.Trim(domain, ".") + "."
}

// DNSA returns the A records DNS must serve for the running tasks: each app's
// task name under domain, to the sorted, distinct addresses of its tasks.
func (tr Truth) DNSA(domain string) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, a := range tr.Apps {
		if len(a.Tasks) == 0 {
			continue
		}
		name := tr.TaskDNSName(a, domain)
		for _, t := range a.Tasks {
			out[name] = append(out[name], t.IP)
		}
		slices.SortFunc(out[name], netip.Addr.Compare)
		out[name] = slices.Compact(out[name])
	}
	return out
}

// DNSSRV returns the SRV targets DNS must serve for the running tasks:
// "_name.group._tcp.marathon.domain." to the sorted address:port of each task.
func (tr Truth) DNSSRV(domain string) map[string][]netip.AddrPort {
	out := map[string][]netip.AddrPort{}
	for _, a := range tr.Apps {
		if len(a.Tasks) == 0 {
			continue
		}
		name := "_" + a.TaskName + "._tcp." + tr.Framework + "." + strings.Trim(domain, ".") + "."
		for _, t := range a.Tasks {
			out[name] = append(out[name], t.Addr())
		}
		slices.SortFunc(out[name], netip.AddrPort.Compare)
	}
	return out
}

// LBServers returns the servers the load balancer must route each app's
// service port to: the address:port of its running tasks, only the healthy
// ones when healthyOnly is set (marathon-lb's behaviour for apps with health
// checks). Apps without such tasks are left out.
func (tr Truth) LBServers(healthyOnly bool) map[string][]netip.AddrPort {
	out := map[string][]netip.AddrPort{}
	for _, a := range tr.Apps {
		for _, t := range a.Tasks {
			if healthyOnly && !t.Healthy {
				continue
			}
			out[a.ID] = append(out[a.ID], t.Addr())
		}
		slices.SortFunc(out[a.ID], netip.AddrPort.Compare)
		if len(out[a.ID]) == 0 {
			delete(out, a.ID)
		}
	}
	return out
}
