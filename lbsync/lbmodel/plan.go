package lbmodel

import (
	"strconv"
	"strings"
)

// Plan is what it takes to bring a running HAProxy from one model to the next. It
// is a value, computed by a pure function, so the decision to reload can be
// tested and logged apart from carrying it out.
type Plan struct {
	// Runtime are server-level operations for the Runtime API, in the order they
	// are to run (additions before removals, so capacity grows before it shrinks).
	Runtime []RuntimeOp
	// Reload lists why a reload is needed; empty means none is. When it is not
	// empty Runtime is irrelevant: the reload brings every server along.
	Reload []Reason
}

// Empty reports whether there is nothing to do.
func (p Plan) Empty() bool { return len(p.Runtime) == 0 && len(p.Reload) == 0 }

// Reason says why a reload happens: a low-cardinality Class for the metric label
// and a Detail for the log.
type Reason struct {
	// Class is one of the Reason* constants.
	Class string
	// Detail names what changed, e.g. "backend nginx_10000: added".
	Detail string
}

func (r Reason) String() string { return r.Class + ": " + r.Detail }

// Reload reason classes: the values of the reason label of
// discovery_lb_reloads_total.
const (
	ReasonInitial         = "initial"
	ReasonHeadChanged     = "head_changed"
	ReasonFrontendAdded   = "frontend_added"
	ReasonFrontendRemoved = "frontend_removed"
	ReasonFrontendChanged = "frontend_changed"
	ReasonBackendAdded    = "backend_added"
	ReasonBackendRemoved  = "backend_removed"
	ReasonBackendChanged  = "backend_changed"
	ReasonMapChanged      = "map_changed"
	// ReasonStaticServers: servers changed in a backend that cannot take
	// runtime server changes (static balance algorithm, cookie stickiness).
	ReasonStaticServers = "static_backend_servers"
	// ReasonServerOptions: a server's options (other than weight and state)
	// changed, which the Runtime API cannot do.
	ReasonServerOptions = "server_options_changed"
	// ReasonRuntimeFailed: a Runtime API operation failed.
	ReasonRuntimeFailed = "runtime_failed"
	// ReasonRestarted: HAProxy was restarted and the current config is loaded
	// again.
	ReasonRestarted = "haproxy_restarted"
	// ReasonForced: a reload was asked for (the usr1 signal endpoint).
	ReasonForced = "forced"
	// ReasonDrainedRemoved: a server kept in maintenance for a blue/green
	// deployment (HAPROXY_DEPLOYMENT_GROUP) left. A server removed at runtime
	// stays listed, parked in maintenance, until the next reload; zdd.py
	// counts a backend's servers on the stats page and waits until they are
	// the tasks of its two apps, as marathon-lb's reload made them.
	ReasonDrainedRemoved = "drained_server_removed"
)

// RuntimeOpKind is what a RuntimeOp does.
type RuntimeOpKind int

// Runtime operation kinds.
const (
	// OpAdd adds a server ("add server", "enable health", "state ready").
	OpAdd RuntimeOpKind = iota + 1
	// OpRemove drains a server, then deletes it once idle (or after a bound).
	OpRemove
	// OpSetAddr moves a server to a new address ("set server addr … port …").
	OpSetAddr
	// OpSetWeight changes a server's weight.
	OpSetWeight
	// OpSetState puts a server in maintenance (Server.Draining) or back to
	// ready.
	OpSetState
)

var opNames = map[RuntimeOpKind]string{
	OpAdd: "add", OpRemove: "remove", OpSetAddr: "set_addr", OpSetWeight: "set_weight", OpSetState: "set_state",
}

func (k RuntimeOpKind) String() string {
	if n, ok := opNames[k]; ok {
		return n
	}
	return "op(" + strconv.Itoa(int(k)) + ")"
}

// RuntimeOp is one server-level change.
type RuntimeOp struct {
	Kind    RuntimeOpKind
	Backend string
	// Server is the server as it is to be (for OpRemove: as it was).
	Server Server
}

func (op RuntimeOp) String() string {
	s := op.Kind.String() + " " + op.Backend + "/" + op.Server.Name
	switch op.Kind {
	case OpAdd, OpSetAddr:
		s += " " + string(AppendServerAddr(nil, &op.Server))
	case OpSetWeight:
		s += " weight " + strconv.Itoa(op.Server.Weight)
	case OpSetState:
		if op.Server.Draining {
			s += " maint"
		} else {
			s += " ready"
		}
	}
	return s
}

// ComputePlan compares the model HAProxy runs (nil when nothing runs yet) with
// the next one. Everything but backend servers is structural and needs a reload;
// server changes in dynamic backends become runtime operations.
func ComputePlan(running, next *Model) Plan {
	var p Plan
	if running == nil {
		p.Reload = append(p.Reload, Reason{ReasonInitial, "no config applied yet"})
		return p
	}
	if running.Head != next.Head {
		p.Reload = append(p.Reload, Reason{ReasonHeadChanged, "global/defaults section changed"})
	}
	planFrontends(&p, running.Frontends, next.Frontends)
	planMaps(&p, running.Maps, next.Maps)

	var removes []RuntimeOp
	i, j := 0, 0
	for i < len(running.Backends) || j < len(next.Backends) {
		switch {
		case j == len(next.Backends) || (i < len(running.Backends) && running.Backends[i].Name < next.Backends[j].Name):
			p.Reload = append(p.Reload, Reason{ReasonBackendRemoved, "backend " + running.Backends[i].Name + ": removed"})
			i++
		case i == len(running.Backends) || next.Backends[j].Name < running.Backends[i].Name:
			p.Reload = append(p.Reload, Reason{ReasonBackendAdded, "backend " + next.Backends[j].Name + ": added"})
			j++
		default:
			removes = planBackend(&p, &running.Backends[i], &next.Backends[j], removes)
			i++
			j++
		}
	}
	if len(p.Reload) > 0 {
		p.Runtime = nil
		return p
	}
	p.Runtime = append(p.Runtime, removes...)
	return p
}

func planFrontends(p *Plan, old, cur []Frontend) {
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		switch {
		case j == len(cur) || (i < len(old) && old[i].Name < cur[j].Name):
			p.Reload = append(p.Reload, Reason{ReasonFrontendRemoved, "frontend " + old[i].Name + ": removed"})
			i++
		case i == len(old) || cur[j].Name < old[i].Name:
			p.Reload = append(p.Reload, Reason{ReasonFrontendAdded, "frontend " + cur[j].Name + ": added"})
			j++
		default:
			if old[i].Text != cur[j].Text {
				p.Reload = append(p.Reload, Reason{ReasonFrontendChanged, "frontend " + cur[j].Name + ": changed"})
			}
			i++
			j++
		}
	}
}

func planMaps(p *Plan, old, cur []MapFile) {
	byPath := make(map[string]string, len(old))
	for _, m := range old {
		byPath[m.Path] = string(m.Content)
	}
	for _, m := range cur {
		c, ok := byPath[m.Path]
		if !ok || c != string(m.Content) {
			p.Reload = append(p.Reload, Reason{ReasonMapChanged, "map " + m.Path + ": changed"})
		}
		delete(byPath, m.Path)
	}
	for path := range byPath {
		p.Reload = append(p.Reload, Reason{ReasonMapChanged, "map " + path + ": removed"})
	}
}

// planBackend adds the server changes of one backend present in both models:
// runtime operations (additions and updates to p, removals to the returned
// slice, so that they run last) or reload reasons.
func planBackend(p *Plan, old, cur *Backend, removes []RuntimeOp) []RuntimeOp {
	if old.Text != cur.Text || old.Dynamic != cur.Dynamic {
		p.Reload = append(p.Reload, Reason{ReasonBackendChanged, "backend " + cur.Name + ": options changed"})
		return removes
	}
	if len(old.Servers) == len(cur.Servers) && (len(cur.Servers) == 0 || &old.Servers[0] == &cur.Servers[0]) {
		// The same servers (models built incrementally share those of the
		// backends that did not change): nothing to compare.
		return removes
	}
	var ops []RuntimeOp
	var rm []RuntimeOp
	drainedGone := ""
	i, j := 0, 0
	for i < len(old.Servers) || j < len(cur.Servers) {
		switch {
		case j == len(cur.Servers) || (i < len(old.Servers) && old.Servers[i].Name < cur.Servers[j].Name):
			rm = append(rm, RuntimeOp{Kind: OpRemove, Backend: cur.Name, Server: old.Servers[i]})
			if old.Servers[i].Draining && drainedGone == "" {
				drainedGone = old.Servers[i].Name
			}
			i++
		case i == len(old.Servers) || cur.Servers[j].Name < old.Servers[i].Name:
			ops = append(ops, RuntimeOp{Kind: OpAdd, Backend: cur.Name, Server: cur.Servers[j]})
			j++
		default:
			a, b := &old.Servers[i], &cur.Servers[j]
			if ServerOptionsKey(a.Options) != ServerOptionsKey(b.Options) {
				p.Reload = append(p.Reload, Reason{ReasonServerOptions,
					"backend " + cur.Name + " server " + b.Name + ": options changed"})
				return removes
			}
			if a.Host != b.Host || a.Port != b.Port {
				ops = append(ops, RuntimeOp{Kind: OpSetAddr, Backend: cur.Name, Server: *b})
			}
			if a.Weight != b.Weight {
				ops = append(ops, RuntimeOp{Kind: OpSetWeight, Backend: cur.Name, Server: *b})
			}
			if a.Draining != b.Draining {
				ops = append(ops, RuntimeOp{Kind: OpSetState, Backend: cur.Name, Server: *b})
			}
			i++
			j++
		}
	}
	if len(ops) == 0 && len(rm) == 0 {
		return removes
	}
	if drainedGone != "" {
		p.Reload = append(p.Reload, Reason{ReasonDrainedRemoved,
			"backend " + cur.Name + " server " + drainedGone + ": drained for a deployment, removed"})
		return removes
	}
	if !cur.Dynamic {
		p.Reload = append(p.Reload, Reason{ReasonStaticServers,
			"backend " + cur.Name + ": servers changed, backend takes no runtime changes"})
		return removes
	}
	p.Runtime = append(p.Runtime, ops...)
	return append(removes, rm...)
}

// serverOptionsKey is a server's options without the parts the Runtime API
// changes (weight, and the disabled/enabled state), for comparison.
func ServerOptionsKey(opts string) string {
	if !strings.Contains(opts, "weight") && !strings.Contains(opts, "abled") {
		return opts
	}
	f := strings.Fields(opts)
	out := f[:0]
	for k := 0; k < len(f); k++ {
		switch f[k] {
		case "disabled", "enabled":
			continue
		case "weight":
			k++
			continue
		}
		out = append(out, f[k])
	}
	return strings.Join(out, " ")
}
