package vips

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/state"
)

// VIP is one virtual IP and port and the tasks behind it.
type VIP struct {
	// Name is the name as the labels wrote it ("/group/app"); empty for a VIP
	// asked for by address.
	Name string `json:"name,omitempty"`
	// DNSName is the part of its DNS names before the zone, "groupapp.marathon"
	// (DNSName); empty for an address VIP.
	DNSName string     `json:"dns_name,omitempty"`
	Addr    netip.Addr `json:"address"`
	Port    uint16     `json:"port"`
	// Protocol is "tcp" (the only one balanced).
	Protocol string `json:"protocol"`
	// Mode is "http" when every app on the VIP says HAPROXY_{n}_MODE=http,
	// else "tcp".
	Mode string `json:"mode"`
	// Apps are the ids of the apps whose tasks are behind it, sorted.
	Apps []string `json:"apps"`
	// Backends are the running (and, where checked, healthy) tasks, sorted by
	// address and port.
	Backends []Backend `json:"backends"`
}

// Key identifies a VIP: "tcp/127.200.0.7:80".
func (v *VIP) Key() string {
	return v.Protocol + "/" + netip.AddrPortFrom(v.Addr, v.Port).String()
}

// Backend is one task behind a VIP.
type Backend struct {
	Host   netip.Addr `json:"host"`
	Port   uint16     `json:"port"`
	TaskID string     `json:"task"`
	AppID  string     `json:"app"`
}

// Set is the VIPs of one snapshot.
type Set struct {
	// VIPs are sorted by address, then port.
	VIPs []VIP
	// Collisions are the named VIPs that did not get their hashed address.
	Collisions []Collision
	// LeftOut are the VIP labels not honoured, and why.
	LeftOut []state.LeftOut
}

// Config is what Build needs besides the snapshot.
type Config struct {
	// Range holds the named VIPs' addresses; DefaultRange when invalid.
	Range netip.Prefix
	// Resolve turns an agent's host name into an address; nil accepts IP
	// literals only.
	Resolve func(host string) (netip.Addr, bool)
	// AppID names the app a Mesos task belongs to (for the reports and the
	// load balancer's per-app exclusions); nil uses the task's name.
	AppID func(t *state.Task) string
	// Exclude are app ids whose tasks are left out (an app whose config
	// HAProxy refused).
	Exclude map[string]bool
}

// marathonFramework is the framework name of Marathon's tasks: with a
// Marathon source they are read from its apps, not from Mesos.
const marathonFramework = "marathon"

// entry is one task port's VIP label, before addresses are assigned.
type entry struct {
	target  Target
	dnsName string
	mode    string
	appID   string
	backend *Backend // nil when the task is not (yet) a backend
}

// Build computes the VIPs of snap: from the Marathon apps' port labels when a
// Marathon source runs (and from the Mesos tasks of other frameworks), else
// from the Mesos tasks' DiscoveryInfo port labels, whatever their
// HAPROXY_GROUP. A task is a backend while it runs and, when it has a health
// check, is healthy. It is a pure function of snap and cfg.
func Build(snap *state.Snapshot, cfg Config) *Set {
	return build(snap, cfg, nil, nil)
}

// build is Build reading only the apps at appIdx and the tasks at taskIdx
// (ascending indexes into snap's apps and tasks) where they are not nil: the
// ones carrying VIP labels, as Builder keeps them. Nothing else contributes.
func build(snap *state.Snapshot, cfg Config, appIdx, taskIdx []int32) *Set {
	if !cfg.Range.IsValid() || CheckRange(cfg.Range) != nil {
		cfg.Range = DefaultRange
	}
	if cfg.Resolve == nil {
		cfg.Resolve = literal
	}
	var es []entry
	var left []state.LeftOut
	if snap != nil && snap.Apps != nil {
		if appIdx == nil {
			for i := range snap.Apps.Apps {
				es, left = fromApp(&snap.Apps.Apps[i], cfg, es, left)
			}
		} else {
			for _, i := range appIdx {
				es, left = fromApp(&snap.Apps.Apps[i], cfg, es, left)
			}
		}
	}
	if snap != nil && snap.Cluster != nil {
		c := snap.Cluster
		var marathonIDs map[string]bool
		if taskIdx == nil {
			for i := range c.Tasks {
				es, left = fromTask(c, c.Tasks[i], snap.Apps, &marathonIDs, cfg, es, left)
			}
		} else {
			for _, i := range taskIdx {
				es, left = fromTask(c, c.Tasks[i], snap.Apps, &marathonIDs, cfg, es, left)
			}
		}
	}
	return assemble(es, left, cfg.Range)
}

func literal(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

func portHasVIP(p state.DiscoveryPort) bool {
	return slices.ContainsFunc(p.Labels, func(l state.Label) bool { return IsLabelKey(l.Key) })
}

func appPortHasVIP(p state.AppPort) bool {
	for k := range p.Labels {
		if IsLabelKey(k) {
			return true
		}
	}
	return false
}

// labelsOf returns the VIP labels of one port, sorted by key.
func labelsOf(get func(yield func(k, v string) bool)) [][2]string {
	var out [][2]string
	get(func(k, v string) bool {
		if IsLabelKey(k) {
			out = append(out, [2]string{k, v})
		}
		return true
	})
	slices.SortFunc(out, func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) })
	return out
}

func fromApp(app *state.App, cfg Config, es []entry, left []state.LeftOut) ([]entry, []state.LeftOut) {
	if cfg.Exclude[app.ID] || !appHasVIP(app) {
		return es, left
	}
	healthChecked := len(app.HealthChecks) > 0
	for pi := range app.Ports {
		p := &app.Ports[pi]
		labels := labelsOf(func(yield func(k, v string) bool) {
			for k, v := range p.Labels {
				if !yield(k, v) {
					return
				}
			}
		})
		if len(labels) == 0 {
			continue
		}
		if bad := protocolProblem(p.Protocol); bad != "" {
			left = append(left, state.LeftOut{ID: app.ID, Reason: "port " + strconv.Itoa(pi) + " VIP: " + bad})
			continue
		}
		mode := modeOf(app.Labels, pi)
		for _, kv := range labels {
			t, err := ParseLabel(kv[1])
			if err != nil {
				left = append(left, state.LeftOut{ID: app.ID, Reason: "port " + strconv.Itoa(pi) + " " + kv[0] + ": " + err.Error()})
				continue
			}
			base := entry{target: t, mode: mode, appID: app.ID}
			if t.Name != "" {
				base.dnsName = DNSName(t.Name, marathonFramework)
			}
			es = append(es, base) // the VIP exists with or without running tasks
			for ti := range app.Tasks {
				if b, ok := appBackend(app, &app.Tasks[ti], pi, healthChecked, cfg.Resolve); ok {
					e := base
					e.backend = &b
					es = append(es, e)
				}
			}
		}
	}
	return es, left
}

// appBackend is task's address and port for app port pi, when it is to
// receive traffic.
func appBackend(app *state.App, t *state.AppTask, pi int, healthChecked bool, resolve func(string) (netip.Addr, bool)) (Backend, bool) {
	if t.State != state.TaskRunning || t.Draining || (t.Ready != nil && !*t.Ready) {
		return Backend{}, false
	}
	if healthChecked {
		if len(t.Health) == 0 {
			return Backend{}, false
		}
		for _, alive := range t.Health {
			if !alive {
				return Backend{}, false
			}
		}
	}
	var host netip.Addr
	var port int
	if app.Network == state.NetworkContainer {
		if len(t.IPs) == 0 || app.Ports[pi].ContainerPort <= 0 {
			return Backend{}, false
		}
		host, port = t.IPs[0], app.Ports[pi].ContainerPort
	} else {
		if pi >= len(t.Ports) {
			return Backend{}, false
		}
		a, ok := resolve(t.Host)
		if !ok {
			return Backend{}, false
		}
		host, port = a, t.Ports[pi]
	}
	if port < 1 || port > 65535 {
		return Backend{}, false
	}
	return Backend{Host: host.Unmap(), Port: uint16(port), TaskID: t.ID, AppID: app.ID}, true
}

func taskHasVIP(t *state.Task) bool {
	return t.Discovery != nil && slices.ContainsFunc(t.Discovery.Ports, portHasVIP)
}

func appHasVIP(app *state.App) bool { return slices.ContainsFunc(app.Ports, appPortHasVIP) }

// fromTask adds the entries of the VIP labels of t, a task of c.
// marathonIDs are the ids of the Marathon apps' tasks, built when a labelled
// task of a framework not named "marathon" needs them.
func fromTask(c *state.Cluster, t *state.Task, apps *state.AppSet, marathonIDs *map[string]bool, cfg Config, es []entry, left []state.LeftOut) ([]entry, []state.LeftOut) {
	if !taskHasVIP(t) {
		return es, left // most tasks: nothing to derive, nothing allocated
	}
	fw := ""
	if f := c.Framework(t.FrameworkID); f != nil {
		fw = f.Name
	}
	if apps != nil && fw != marathonFramework && *marathonIDs == nil {
		*marathonIDs = taskIDs(apps)
	}
	if apps != nil && (fw == marathonFramework || (*marathonIDs)[t.ID]) {
		return es, left // read from Marathon's apps (a Marathon of another name too)
	}
	appID := t.Name
	if cfg.AppID != nil {
		appID = cfg.AppID(t)
	}
	if cfg.Exclude[appID] {
		return es, left
	}
	for pi := range t.Discovery.Ports {
		p := &t.Discovery.Ports[pi]
		labels := labelsOf(func(yield func(k, v string) bool) {
			for _, l := range p.Labels {
				if !yield(l.Key, l.Value) {
					return
				}
			}
		})
		if len(labels) == 0 {
			continue
		}
		if bad := protocolProblem(p.Protocol); bad != "" {
			left = append(left, state.LeftOut{ID: t.ID, App: appID, Reason: "port " + p.Name + " VIP: " + bad})
			continue
		}
		mode := modeOfTask(t, pi)
		for _, kv := range labels {
			tg, err := ParseLabel(kv[1])
			if err != nil {
				left = append(left, state.LeftOut{ID: t.ID, App: appID, Reason: kv[0] + ": " + err.Error()})
				continue
			}
			e := entry{target: tg, mode: mode, appID: appID}
			if tg.Name != "" {
				e.dnsName = DNSName(tg.Name, fw)
			}
			if b, ok := taskBackend(c, t, p.Number, cfg.Resolve); ok {
				b.AppID = appID
				e.backend = &b
			}
			es = append(es, e)
		}
	}
	return es, left
}

func taskIDs(apps *state.AppSet) map[string]bool {
	ids := map[string]bool{}
	for i := range apps.Apps {
		for j := range apps.Apps[i].Tasks {
			ids[apps.Apps[i].Tasks[j].ID] = true
		}
	}
	return ids
}

// taskBackend is a Mesos task's address for a DiscoveryInfo port: the agent's
// when the port is one of the task's port resources (a host port), else the
// task's own address (a container port), as dcos-net decides.
func taskBackend(c *state.Cluster, t *state.Task, port uint32, resolve func(string) (netip.Addr, bool)) (Backend, bool) {
	if t.State != state.TaskRunning || (t.Healthy != nil && !*t.Healthy) || port < 1 || port > 65535 {
		return Backend{}, false
	}
	hostPort := false
	for _, r := range t.Ports {
		hostPort = hostPort || (port >= r.Begin && port <= r.End)
	}
	var host netip.Addr
	switch own := taskIPs(t); {
	case !hostPort && len(own) > 0:
		host = own[0]
	default:
		ag := c.Agent(t.AgentID)
		if ag == nil {
			return Backend{}, false
		}
		a, ok := resolve(ag.Host)
		if !ok {
			if a, ok = resolve(ag.Hostname); !ok {
				return Backend{}, false
			}
		}
		host = a
	}
	return Backend{Host: host.Unmap(), Port: uint16(port), TaskID: t.ID}, true
}

func taskIPs(t *state.Task) []netip.Addr {
	switch {
	case len(t.NetInfo) > 0:
		return t.NetInfo
	case len(t.Docker) > 0:
		return t.Docker
	}
	return t.Mesos
}

// protocolProblem says why a port's protocol cannot be load balanced, "" when
// it can (TCP, the default).
func protocolProblem(p string) string {
	switch strings.ToLower(p) {
	case "", "tcp":
		return ""
	}
	return "protocol " + strconv.Quote(p) + " is not load balanced (TCP only)"
}

func modeOf(labels map[string]string, pi int) string {
	if strings.EqualFold(labels["HAPROXY_"+strconv.Itoa(pi)+"_MODE"], "http") {
		return "http"
	}
	return "tcp"
}

func modeOfTask(t *state.Task, pi int) string {
	v, _ := t.Label("HAPROXY_" + strconv.Itoa(pi) + "_MODE")
	if strings.EqualFold(v, "http") {
		return "http"
	}
	return "tcp"
}

// assemble assigns the named VIPs their addresses and groups the entries by
// VIP.
func assemble(es []entry, left []state.LeftOut, r netip.Prefix) *Set {
	var names []string
	for i := range es {
		if es[i].dnsName != "" {
			names = append(names, es[i].dnsName)
		}
	}
	addrs, collisions, full := Assign(names, r)
	set := &Set{Collisions: collisions, LeftOut: left}
	for _, n := range full {
		set.LeftOut = append(set.LeftOut, state.LeftOut{ID: n, Reason: "VIP range " + r.String() + " is full"})
	}
	type key struct {
		addr netip.Addr
		port uint16
	}
	byKey := map[key]*VIP{}
	modes := map[key]map[string]bool{}
	for i := range es {
		e := &es[i]
		a := e.target.Addr
		if e.dnsName != "" {
			var ok bool
			if a, ok = addrs[e.dnsName]; !ok {
				continue
			}
		}
		k := key{a, e.target.Port}
		v := byKey[k]
		if v == nil {
			v = &VIP{Name: e.target.Name, DNSName: e.dnsName, Addr: a, Port: e.target.Port, Protocol: "tcp"}
			byKey[k] = v
			modes[k] = map[string]bool{}
		}
		if v.DNSName != e.dnsName {
			// An address VIP on a named VIP's address (or the reverse): the
			// named one keeps it.
			// An address VIP on a named VIP's address and port, or two names
			// on one (impossible unless the range is full): the first keeps it.
			set.LeftOut = appendOnce(set.LeftOut, state.LeftOut{ID: e.appID, Reason: "VIP " + vipLabel(e) + " is taken by " + vipLabel(&entry{dnsName: v.DNSName, target: Target{Addr: v.Addr, Port: v.Port}})})
			continue
		}
		if !slices.Contains(v.Apps, e.appID) {
			v.Apps = append(v.Apps, e.appID)
		}
		modes[k][e.mode] = true
		if e.backend != nil {
			v.Backends = append(v.Backends, *e.backend)
		}
	}
	set.VIPs = make([]VIP, 0, len(byKey))
	for k, v := range byKey {
		v.Mode = "tcp"
		if modes[k]["http"] && !modes[k]["tcp"] {
			v.Mode = "http"
		}
		slices.Sort(v.Apps)
		slices.SortFunc(v.Backends, func(a, b Backend) int {
			return cmp.Or(a.Host.Compare(b.Host), cmp.Compare(a.Port, b.Port), cmp.Compare(a.TaskID, b.TaskID))
		})
		v.Backends = slices.CompactFunc(v.Backends, func(a, b Backend) bool { return a.Host == b.Host && a.Port == b.Port })
		set.VIPs = append(set.VIPs, *v)
	}
	slices.SortFunc(set.VIPs, func(a, b VIP) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
	})
	return set
}

func vipLabel(e *entry) string {
	if e.dnsName != "" {
		return e.dnsName + ":" + strconv.Itoa(int(e.target.Port))
	}
	return netip.AddrPortFrom(e.target.Addr, e.target.Port).String()
}

func appendOnce(s []state.LeftOut, l state.LeftOut) []state.LeftOut {
	if slices.Contains(s, l) {
		return s
	}
	return append(s, l)
}
