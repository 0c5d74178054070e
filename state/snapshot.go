// Package state is the one view of the cluster that both consumers share: the
// immutable Snapshot (a Mesos Cluster and a Marathon AppSet), its seal and
// digests, the Source and Sink contract every source follows, and the Hub that
// hands the latest snapshot on.
//
// It speaks no wire format. The sources live in one package per program we
// talk to, state/mesos and state/marathon, which never refer to each other and
// share only what is here; everything downstream (the DNS record table, the
// load balancer model) sees only the slim types declared here, which keep what
// discovery uses: a 100,000-task master state is tens of megabytes of JSON,
// and keeping the whole document alive would dominate our memory.
//
// A snapshot is built whole by a source and never mutated after it is
// published; consumers derive their own immutable structures from it and swap
// them in atomically. A failed or malformed fetch never replaces a good
// snapshot.
package state

import (
	"net/netip"
	"time"
)

// Snapshot is the latest view of the cluster from every running source: the Mesos
// view (from a master or a state file) and, when a Marathon source runs, its apps.
// Either part may be nil until its source has delivered once. A Snapshot and
// everything it points to is read-only.
type Snapshot struct {
	// Cluster is the Mesos view: masters, agents, frameworks and tasks.
	Cluster *Cluster
	// Apps is the Marathon view, nil when no Marathon source runs.
	Apps *AppSet
	// Seq numbers the snapshots a hub delivers, starting at 1.
	Seq uint64
}

// Cluster is one fetch of the Mesos master's state, reduced to what discovery uses.
// Slices are sorted (agents, frameworks and tasks by ID) so that equal states give
// equal clusters.
type Cluster struct {
	// Source names the source that built the view, e.g. "mesos" or
	// "file deploy/sample/state.json": the name the hub keys source status by.
	// The master that served it is Leader.
	Source string
	// FetchedAt is when the source finished reading the state.
	FetchedAt time.Time
	// Digest identifies the content (everything but Source and FetchedAt): equal
	// digests mean consumers have nothing to rebuild.
	Digest uint64

	// Leader is the master that served the state, as it names itself.
	Leader Master
	// Masters are the masters we know of, in the order they were configured or
	// found in ZooKeeper (mesos-dns's masterN records come from this order).
	Masters []Master

	Agents     []Agent
	Frameworks []Framework
	// Tasks are shared between views: a source that builds a view from the
	// last one keeps the tasks that did not change, and the work of a view
	// is that of the change (a pointer per task aside). Like the rest, each
	// is read-only.
	Tasks []*Task

	// LeftOut are the tasks (or task ports) left out for invalid data.
	LeftOut []LeftOut

	agentIndex     map[string]int
	frameworkIndex map[string]int
	// taskDigests are taskDigest of each of Tasks, in order, set by Seal:
	// consumers that derive something per task (lbmodel.MesosApps) tell the tasks
	// that changed between two views without hashing them again.
	taskDigests []uint64
	// taskSum is the sum of taskDigests, wrapping: what Digest covers of
	// the tasks.
	taskSum uint64
	// membersDigest is what Digest covers of the agents and frameworks.
	membersDigest uint64
}

// Master is a Mesos master.
type Master struct {
	ID       string
	Hostname string
	// PID is the libprocess id, "master@10.0.0.1:5050"; empty when unknown.
	PID string
	// Host and Port come from the PID (or from the configured address when there is
	// no PID). Host is usually an IP literal but may be a hostname (the DNS
	// side resolves it, as mesos-dns did).
	Host string
	Port int
}

// Agent is a Mesos agent (a "slave" in older APIs and in mesos-dns names).
type Agent struct {
	ID       string
	Hostname string
	// PID is "slave(1)@10.0.0.1:5051"; Host and Port are taken from it.
	PID  string
	Host string
	Port int
	// Ports are the agent's port resources.
	Ports []PortRange
	// Attributes are the agent's attributes, rendered as strings.
	Attributes map[string]string
	Active     bool
}

// Framework is a Mesos framework (Marathon, Chronos, …).
type Framework struct {
	ID       string
	Name     string
	Hostname string
	// PID is "scheduler(1)@10.0.0.1:25501"; empty for frameworks without one
	// (HTTP API frameworks). Host and Port are taken from it.
	PID    string
	Host   string
	Port   int
	Active bool
}

// TaskState is the Mesos task state name, e.g. "TASK_RUNNING".
type TaskState string

// Task states discovery branches on.
const (
	TaskStaging  TaskState = "TASK_STAGING"
	TaskStarting TaskState = "TASK_STARTING"
	TaskRunning  TaskState = "TASK_RUNNING"
	TaskKilling  TaskState = "TASK_KILLING"
)

// Task is a Mesos task with the addresses it can be reached at.
type Task struct {
	ID          string
	Name        string
	FrameworkID string
	AgentID     string
	State       TaskState
	Labels      []Label
	// Healthy is the health of the newest status that reported one; nil when the
	// task has no health check.
	Healthy *bool

	// Addresses of the newest TASK_RUNNING status, one field per mesos-dns
	// IPSources name. The "host" source is the agent's address (look the agent up).
	//
	// NetInfo ("netinfo"): container_status.network_infos[].ip_addresses[] and
	// the Mesos 0.25-era network_infos[].ip_address, IPv4 and IPv6, in order.
	NetInfo []netip.Addr
	// Docker ("docker"): the Docker.NetworkSettings.IPAddress status label.
	Docker []netip.Addr
	// Mesos ("mesos"): the MesosContainerizer.NetworkSettings.IPAddress status label.
	Mesos []netip.Addr

	// Ports are the task's port resources ("[31000-31001, 31005-31005]").
	Ports []PortRange
	// Discovery is the task's DiscoveryInfo, nil when it has none.
	Discovery *Discovery
	// RunningSince is the timestamp of the newest TASK_RUNNING status; zero when
	// the task never ran.
	RunningSince time.Time
}

// Label is a key/value pair as Mesos carries them (keys may repeat).
type Label struct {
	Key   string
	Value string
}

// PortRange is an inclusive range of ports, Begin <= End.
type PortRange struct {
	Begin, End uint32
}

// Discovery is a task's DiscoveryInfo.
type Discovery struct {
	Visibility string
	Name       string
	Ports      []DiscoveryPort
	Labels     []Label
}

// DiscoveryPort is one named port of a DiscoveryInfo.
type DiscoveryPort struct {
	Number   uint32
	Name     string
	Protocol string
	Labels   []Label
}

// Agent returns the agent with the given ID, or nil.
func (c *Cluster) Agent(id string) *Agent {
	if i, ok := c.agentIndex[id]; ok {
		return &c.Agents[i]
	}
	return nil
}

// Framework returns the framework with the given ID, or nil.
func (c *Cluster) Framework(id string) *Framework {
	if i, ok := c.frameworkIndex[id]; ok {
		return &c.Frameworks[i]
	}
	return nil
}

// TaskPointers returns a pointer to each of ts, in order (nil for none): the
// Tasks of a Cluster whose tasks were built in one slice.
func TaskPointers(ts []Task) []*Task {
	if len(ts) == 0 {
		return nil
	}
	ps := make([]*Task, len(ts))
	for i := range ts {
		ps[i] = &ts[i]
	}
	return ps
}

// Label returns the value of the first label with the given key.
func (t *Task) Label(key string) (string, bool) {
	return findLabel(t.Labels, key)
}

func findLabel(labels []Label, key string) (string, bool) {
	for _, l := range labels {
		if l.Key == key {
			return l.Value, true
		}
	}
	return "", false
}
