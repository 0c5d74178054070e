// Package sim is a simulated Mesos + Marathon cluster for tests, benchmarks,
// the demo (discovery -dev) and the mesos-sim binary.
//
// A Cluster holds one truth — agents on 127.1.x.y, the Marathon framework, apps
// labelled for the load balancer (HAPROXY_GROUP, HAPROXY_0_PORT,
// HAPROXY_0_VHOST) and their tasks with host ports — and renders every change
// of it, in the real wire formats, to fake Mesos masters (/master/state and the
// v1 operator API's SUBSCRIBE stream, internal/fakemaster) and a fake Marathon
// (/v2/apps and the /v2/events stream, internal/fakemarathon). A DNS server
// following Mesos and a load balancer following Marathon (or Mesos) therefore
// see the same cluster, and Truth says what both must converge to.
//
// Changes are made one by one (StartTask, KillTask, FailTask, MoveTask,
// SetHealth, ScaleApp, AddApp, RemoveApp, ChangeLeader) or at random (Step,
// Churn). Each is recorded with its time, so that a benchmark can measure the
// time from a change to its effect. With Config.Backends every task is a real
// HTTP server listening on its address and host port, started and stopped with
// the task, so that HAProxy can route to it. Everything listens on loopback;
// the same seed makes the same cluster and the same sequence of random changes.
package sim

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/internal/fakemaster"
)

// frameworkName is the Mesos framework name of the simulated Marathon.
const frameworkName = "marathon"

// Config describes the cluster New builds. Zero values take the defaults.
type Config struct {
	// Apps is the number of apps to start with (default 3; -1 for none).
	Apps int
	// TasksPerApp is the number of instances of each app (default 2).
	TasksPerApp int
	// Agents is the number of agents; by default enough for about 200 tasks
	// each, and at least 3.
	Agents int
	// Masters is the number of Mesos masters (default 1); the first leads.
	Masters int
	// Group is the Marathon group of the apps ("/group/app-000"), default "sim".
	Group string
	// HAProxyGroup is the apps' HAPROXY_GROUP label, default "external".
	HAProxyGroup string
	// ServicePortBase is the first app's service port (HAPROXY_0_PORT), the
	// next app getting the next port; default 10000.
	ServicePortBase int
	// VHostDomain is appended to the app name for HAPROXY_0_VHOST
	// ("app-000.sim.localhost"), default "sim.localhost".
	VHostDomain string
	// AppLabels are added to every app's labels (and so to its tasks'), over
	// the simulator's own: HAPROXY_0_BIND_ADDR=127.0.0.1 keeps the load
	// balancer's service ports on loopback.
	AppLabels map[string]string
	// VIPPort, when positive, gives every app's port a DC/OS VIP label,
	// VIP_0 = "<app id>:<VIPPort>" (on its Marathon port definition and its
	// tasks' DiscoveryInfo port), as DC/OS users label apps for named VIPs.
	VIPPort int
	// Backends makes every task a real HTTP server on its address and port.
	Backends bool
	// BackendApps, when positive, limits Backends to the tasks of the first
	// BackendApps apps created (a 10,000-task cluster need not hold 10,000
	// listeners to measure routing to a few apps).
	BackendApps int
	// Seed makes ids, placement and random churn reproducible.
	Seed uint64
	// MasterListen also serves the first master on this loopback host:port
	// (mesos-sim's -listen). The masters still name themselves by their own
	// ports in their state and redirects; both addresses serve the same
	// master.
	MasterListen string
	// MarathonListen is the fake Marathon's address, a free port when empty.
	MarathonListen string
	// Heartbeat is the operator API's heartbeat interval (Mesos's 15 s when
	// zero).
	Heartbeat time.Duration
	// ZK, when set, is a ZooKeeper connection under whose ZKPath (default
	// "/mesos") the masters register as Mesos masters do, the leader's node
	// lowest.
	ZK     *zk.Conn
	ZKPath string
	// OnChange, when set, is called with every change as it is recorded, with
	// the cluster's lock held: it must not call the Cluster.
	OnChange func(Change)
	// Log receives the simulator's log; discarded when nil.
	Log *slog.Logger
}

// Cluster is a running simulated cluster. Its methods are safe for concurrent
// use; changes are applied one at a time.
type Cluster struct {
	cfg      Config
	log      *slog.Logger
	start    time.Time
	fwID     string
	onChange func(Change)

	masters  []*fakemaster.Master
	apis     []*fakemaster.OperatorAPI
	extra    *http.Server // MasterListen
	extraURL string
	marathon *fakemarathon.Server
	stopping sync.WaitGroup // backends finishing requests

	mu        sync.Mutex
	rng       *rand.Rand
	closed    bool
	leader    int
	zkNodes   []string
	agents    []*agent // sorted by id
	apps      []*app   // sorted by id
	appByID   map[string]*app
	taskByID  map[string]*task
	nextApp   int
	terminals int // terminal tasks since the completed lists were trimmed
	seq       uint64
	changes   []Change
}

type agent struct {
	id    string
	ip    netip.Addr
	since time.Time
	used  map[int]bool
	next  int
}

type app struct {
	index       int // creation order
	id          string
	name        string
	taskName    string
	servicePort int
	vhost       string
	labels      map[string]string
	portLabels  map[string]string // of its port (VIP_0)
	instances   int
	tasks       []*task // in start order
}

type task struct {
	id      string
	app     *app
	agent   *agent
	ports   []int
	healthy bool
	started time.Time
	backend *backend
}

// ErrClosed is returned by changes made after Close.
var ErrClosed = errors.New("sim: cluster closed")

// New builds and starts a cluster: its masters, its Marathon, its agents,
// apps and running tasks (and their backends). Close stops it all.
func New(cfg Config) (*Cluster, error) {
	cfg = withDefaults(cfg)
	c := &Cluster{
		cfg:      cfg,
		log:      cfg.Log,
		start:    time.Now(),
		onChange: cfg.OnChange,
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed5eed5eed5eed)),
		appByID:  map[string]*app{},
		taskByID: map[string]*task{},
	}
	c.fwID = c.uuid() + "-0000"
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()

	mar, err := fakemarathon.Open(fakemarathon.Options{Addr: cfg.MarathonListen})
	if err != nil {
		return nil, fmt.Errorf("starting fake marathon: %w", err)
	}
	c.marathon = mar

	for i := range cfg.Agents {
		c.agents = append(c.agents, &agent{
			id:    fmt.Sprintf("%s-S%d", c.fwID[:36], i),
			ip:    agentIP(i),
			since: c.start,
			used:  map[int]bool{},
			next:  agentPortFirst,
		})
	}
	for range max(cfg.Apps, 0) {
		a := c.newAppLocked("", cfg.TasksPerApp)
		for range a.instances {
			if _, err := c.placeTaskLocked(a, nil); err != nil {
				return nil, err
			}
		}
	}

	doc, err := c.mesosDocumentLocked()
	if err != nil {
		return nil, fmt.Errorf("rendering master state: %w", err)
	}
	for i := range cfg.Masters {
		m, err := fakemaster.New(doc, fakemaster.Options{ID: fmt.Sprintf("%s-master-%d", c.fwID[:8], i)})
		if err != nil {
			return nil, fmt.Errorf("starting fake master %d: %w", i, err)
		}
		c.masters = append(c.masters, m)
		api := m.EnableOperatorAPI()
		if cfg.Heartbeat > 0 {
			api.SetHeartbeat(cfg.Heartbeat)
		}
		c.apis = append(c.apis, api)
	}
	for _, m := range c.masters[1:] {
		m.SetLeader(c.masters[0].Addr())
	}
	if cfg.MasterListen != "" {
		ln, err := net.Listen("tcp", cfg.MasterListen)
		if err != nil {
			return nil, fmt.Errorf("listening for the master on %s: %w", cfg.MasterListen, err)
		}
		c.extraURL = "http://" + ln.Addr().String()
		c.extra = &http.Server{Handler: c.masters[0], ErrorLog: log.New(io.Discard, "", 0)}
		go func() { _ = c.extra.Serve(ln) }()
	}

	apps := make([]fakemarathon.App, len(c.apps))
	for i, a := range c.apps {
		apps[i] = marathonApp(a)
		apps[i].Tasks = make([]fakemarathon.Task, 0, len(a.tasks))
		for _, t := range a.tasks {
			apps[i].Tasks = append(apps[i].Tasks, marathonTask(t))
		}
	}
	c.marathon.SetApps(apps)

	if cfg.ZK != nil {
		for _, m := range c.masters {
			node, err := c.zkRegister(m)
			if err != nil {
				return nil, err
			}
			c.zkNodes = append(c.zkNodes, node)
		}
	}
	ok = true
	c.log.Info("simulated cluster started", "masters", c.masterAddrs(), "marathon", c.marathon.URL(),
		"agents", len(c.agents), "apps", len(c.apps), "tasks", len(c.taskByID), "backends", cfg.Backends)
	return c, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Apps == 0 {
		cfg.Apps = 3
	}
	if cfg.TasksPerApp <= 0 {
		cfg.TasksPerApp = 2
	}
	if cfg.Agents <= 0 {
		cfg.Agents = max(3, (max(cfg.Apps, 0)*cfg.TasksPerApp+199)/200)
	}
	cfg.Masters = max(cfg.Masters, 1)
	cfg.Group = cmp.Or(strings.Trim(cfg.Group, "/"), "sim")
	cfg.HAProxyGroup = cmp.Or(cfg.HAProxyGroup, "external")
	cfg.ServicePortBase = cmp.Or(cfg.ServicePortBase, 10000)
	cfg.VHostDomain = cmp.Or(cfg.VHostDomain, "sim.localhost")
	cfg.ZKPath = cmp.Or(cfg.ZKPath, "/mesos")
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Log = cfg.Log.With("component", "sim")
	return cfg
}

// agentIP is the address of agent i: 127.1.x.y, y from 1 to 250.
func agentIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)})
}

// uuid returns a random UUID-shaped string from the cluster's seeded source.
func (c *Cluster) uuid() string {
	a, b := c.rng.Uint64(), c.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// Close stops the masters, Marathon and every backend.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for _, a := range c.apps {
		for _, t := range a.tasks {
			if t.backend != nil {
				t.backend.stop(&c.stopping)
				t.backend = nil
			}
		}
	}
	c.mu.Unlock()
	if c.extra != nil {
		_ = c.extra.Close()
	}
	for _, m := range c.masters {
		m.Close()
	}
	if c.marathon != nil {
		c.marathon.Close()
	}
	if c.cfg.ZK != nil {
		for _, n := range c.zkNodes {
			_ = c.cfg.ZK.Delete(n, -1)
		}
	}
	c.stopping.Wait()
}

// Masters returns the fake masters, in creation order, for fault injection
// (fakemaster modes, operator API faults) and counters.
func (c *Cluster) Masters() []*fakemaster.Master { return slices.Clone(c.masters) }

// OperatorAPIs returns the masters' v1 operator APIs, in the same order.
func (c *Cluster) OperatorAPIs() []*fakemaster.OperatorAPI { return slices.Clone(c.apis) }

// Marathon returns the fake Marathon, for fault injection and counters.
func (c *Cluster) Marathon() *fakemarathon.Server { return c.marathon }

// MasterURLs returns every master's base URL, in creation order.
func (c *Cluster) MasterURLs() []string {
	out := make([]string, len(c.masters))
	for i, m := range c.masters {
		out[i] = m.URL()
	}
	return out
}

func (c *Cluster) masterAddrs() []string {
	out := make([]string, len(c.masters))
	for i, m := range c.masters {
		out[i] = m.Addr()
	}
	return out
}

// MasterListenURL is the base URL of Config.MasterListen, where the first
// master is served too; "" without it.
func (c *Cluster) MasterListenURL() string { return c.extraURL }

// MarathonURL is the fake Marathon's base URL.
func (c *Cluster) MarathonURL() string { return c.marathon.URL() }

// FrameworkID is the Marathon framework's Mesos ID.
func (c *Cluster) FrameworkID() string { return c.fwID }

// Leader returns the leading master.
func (c *Cluster) Leader() *fakemaster.Master {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.masters[c.leader]
}

// Truth returns a copy of the cluster as it is now.
func (c *Cluster) Truth() Truth {
	c.mu.Lock()
	defer c.mu.Unlock()
	tr := Truth{
		Seq:         c.seq,
		Leader:      c.masters[c.leader].Addr(),
		Masters:     c.masterAddrs(),
		Framework:   frameworkName,
		FrameworkID: c.fwID,
		Agents:      make([]Agent, len(c.agents)),
		Apps:        make([]App, len(c.apps)),
	}
	for i, a := range c.agents {
		tr.Agents[i] = Agent{ID: a.id, IP: a.ip}
	}
	for i, a := range c.apps {
		ta := App{
			ID: a.id, TaskName: a.taskName, ServicePort: a.servicePort, VHost: a.vhost,
			Labels: cloneMap(a.labels), Instances: a.instances, Tasks: make([]Task, len(a.tasks)),
		}
		for k, t := range a.tasks {
			ta.Tasks[k] = t.view()
		}
		slices.SortFunc(ta.Tasks, func(x, y Task) int { return cmp.Compare(x.ID, y.ID) })
		tr.Apps[i] = ta
	}
	return tr
}

func (t *task) view() Task {
	return Task{
		ID: t.id, AppID: t.app.id, AgentID: t.agent.id, IP: t.agent.ip,
		Ports: slices.Clone(t.ports), Healthy: t.healthy, StartedAt: t.started,
	}
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// BackendHits is the number of requests the task's backend has served; false
// when the task has no backend (it is not running, or Backends is off).
func (c *Cluster) BackendHits(taskID string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.taskByID[taskID]
	if !ok || t.backend == nil {
		return 0, false
	}
	return t.backend.hits.Load(), true
}
