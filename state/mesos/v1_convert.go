package mesos

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/discovery-mesos/discovery/state"
)

// Conversion of the Mesos v1 operator API types (mesos-go) into the slim types
// of this package. For the same cluster it must give exactly what
// DecodeState gives for /master/state: the two sources are
// interchangeable, and a consumer must not see a difference when the daemon
// falls back from one to the other.

// agentFromV1 converts a GET_AGENTS agent. Host and Port come from the agent's
// libprocess pid, as /master/state gives them; an agent without a pid (which
// /master/state never shows) takes agent_info's hostname and port.
func agentFromV1(a *masterAgent) state.Agent {
	info := &a.AgentInfo
	out := state.Agent{
		Hostname: info.Hostname,
		Active:   a.Active,
	}
	if info.ID != nil {
		out.ID = info.ID.Value
	}
	if a.PID != nil {
		out.PID = *a.PID
	}
	if h, p, ok := splitPID(out.PID); ok {
		out.Host, out.Port = h, p
	} else if out.PID == "" {
		out.Host, out.Port = info.Hostname, int(info.GetPort())
	}
	out.Ports = portsFromResources(a.TotalResources)
	if out.Ports == nil {
		out.Ports = portsFromResources(info.Resources)
	}
	out.Attributes = attributesFromV1(info.Attributes)
	return out
}

// attributesFromV1 renders agent attributes as /master/state does: scalars as
// numbers, ranges as "[1-2, 5-6]", sets as "{a, b}", text as it is.
func attributesFromV1(attrs []mesos.Attribute) map[string]string {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]string, len(attrs))
	for i := range attrs {
		a := &attrs[i]
		var v string
		switch {
		case a.Text != nil:
			v = a.Text.Value
		case a.Scalar != nil:
			v = strconv.FormatFloat(a.Scalar.Value, 'f', -1, 64)
		case a.Ranges != nil:
			var b strings.Builder
			b.WriteByte('[')
			for k, r := range a.Ranges.Range {
				if k > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.FormatUint(r.Begin, 10))
				b.WriteByte('-')
				b.WriteString(strconv.FormatUint(r.End, 10))
			}
			b.WriteByte(']')
			v = b.String()
		case a.Set != nil:
			v = "{" + strings.Join(a.Set.Item, ", ") + "}"
		default:
			continue
		}
		out[a.Name] = v
	}
	return out
}

// frameworkFromV1 converts a GET_FRAMEWORKS framework. The v1 API does not
// carry a framework's libprocess pid; pid is what the source learnt from
// /master/state-summary ("" when unknown).
func frameworkFromV1(f *masterFramework, pid string) state.Framework {
	info := &f.FrameworkInfo
	out := state.Framework{
		Name:     info.Name,
		Hostname: info.GetHostname(),
		PID:      pid,
		Active:   f.Active,
	}
	if info.ID != nil {
		out.ID = info.ID.Value
	}
	out.Host, out.Port, _ = splitPID(pid)
	return out
}

// portsFromResources collects the ranges of the "ports" resources. One
// resource's ranges are kept as Mesos lists them (coalesced already); several
// resources (reservations for different roles) are merged and coalesced, as
// /master/state renders their sum.
func portsFromResources(rs []mesos.Resource) []state.PortRange {
	var out []state.PortRange
	n := 0
	for i := range rs {
		r := &rs[i]
		if r.Name != "ports" || r.Ranges == nil {
			continue
		}
		n++
		for _, v := range r.Ranges.Range {
			if v.Begin > v.End || v.End > 65535 {
				continue
			}
			out = append(out, state.PortRange{Begin: uint32(v.Begin), End: uint32(v.End)})
		}
	}
	if n > 1 {
		out = coalesceRanges(out)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// coalesceRanges sorts ranges and merges those that overlap or touch.
func coalesceRanges(rs []state.PortRange) []state.PortRange {
	slices.SortFunc(rs, func(a, b state.PortRange) int { return cmp.Compare(a.Begin, b.Begin) })
	out := rs[:0]
	for _, r := range rs {
		if k := len(out) - 1; k >= 0 && r.Begin <= out[k].End+1 {
			out[k].End = max(out[k].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// labelsFromV1 converts labels; nil when there are none.
func labelsFromV1(ls *mesos.Labels) []state.Label {
	if ls == nil || len(ls.Labels) == 0 {
		return nil
	}
	out := make([]state.Label, len(ls.Labels))
	for i, l := range ls.Labels {
		out[i] = state.Label{Key: l.Key, Value: l.GetValue()}
	}
	return out
}

// discoveryFromV1 converts a DiscoveryInfo; nil when there is none.
func discoveryFromV1(d *mesos.DiscoveryInfo) *state.Discovery {
	if d == nil {
		return nil
	}
	out := &state.Discovery{
		Visibility: d.Visibility.String(),
		Name:       d.GetName(),
		Labels:     labelsFromV1(d.Labels),
	}
	if d.Ports != nil && len(d.Ports.Ports) > 0 {
		out.Ports = make([]state.DiscoveryPort, len(d.Ports.Ports))
		for i, p := range d.Ports.Ports {
			out.Ports[i] = state.DiscoveryPort{
				Number:   p.Number,
				Name:     p.GetName(),
				Protocol: p.GetProtocol(),
				Labels:   labelsFromV1(p.Labels),
			}
		}
	}
	return out
}

// slimStatus is what discovery keeps of a TaskStatus: enough to pick the
// newest TASK_RUNNING status and the newest health.
type slimStatus struct {
	state      string
	timestamp  float64
	healthy    bool
	hasHealthy bool
	netInfo    []netip.Addr
	docker     []netip.Addr
	mesos      []netip.Addr
}

func slimStatusFromV1(s *mesos.TaskStatus) slimStatus {
	out := slimStatus{timestamp: s.GetTimestamp()}
	if s.State != nil {
		out.state = s.State.String()
	}
	if s.Healthy != nil {
		out.healthy, out.hasHealthy = *s.Healthy, true
	}
	if s.Labels != nil {
		for _, l := range s.Labels.Labels {
			switch l.Key {
			case dockerIPLabel:
				if a, ok := parseTaskIP([]byte(l.GetValue())); ok {
					out.docker = append(out.docker, a)
				}
			case mesosIPLabel:
				if a, ok := parseTaskIP([]byte(l.GetValue())); ok {
					out.mesos = append(out.mesos, a)
				}
			}
		}
	}
	if cs := s.ContainerStatus; cs != nil {
		for _, ni := range cs.NetworkInfos {
			for _, ip := range ni.IPAddresses {
				if a, ok := parseTaskIP([]byte(ip.GetIPAddress())); ok {
					out.netInfo = append(out.netInfo, a)
				}
			}
		}
	}
	return out
}

// appendStatus adds a status to a task's history as the Mesos master keeps it:
// a status in the same state as the last one replaces it (health checks and
// reconciliation repeat TASK_RUNNING), any other is appended.
func appendStatus(hist []slimStatus, s slimStatus) []slimStatus {
	if n := len(hist); n > 0 && hist[n-1].state == s.state {
		hist[n-1] = s
		return hist
	}
	return append(hist, s)
}

// pruneStatuses drops from a task's history the statuses that can no longer
// matter, in place: applyStatuses reads only TASK_RUNNING statuses and those
// that report health, and appendStatus only the last one. A staging status
// under a running one (every task's history has one) is 100 bytes a task
// the model would keep for nothing.
func pruneStatuses(hist []slimStatus) []slimStatus {
	n := len(hist)
	if n < 2 {
		return hist
	}
	last := hist[n-1]
	kept := slices.DeleteFunc(hist[:n-1], func(s slimStatus) bool {
		return s.state != string(state.TaskRunning) && !s.hasHealthy
	})
	return append(kept, last)
}

// applyStatuses fills the status-derived fields of t from its history, with
// DecodeState's rules: addresses and RunningSince from the newest
// TASK_RUNNING status by timestamp (the first on a tie), health from the newest
// status that reports it.
func applyStatuses(t *state.Task, hist []slimStatus) {
	best, health := -1, -1
	for i := range hist {
		s := &hist[i]
		if s.hasHealthy && (health < 0 || s.timestamp > hist[health].timestamp) {
			health = i
		}
		if s.state == string(state.TaskRunning) && (best < 0 || s.timestamp > hist[best].timestamp) {
			best = i
		}
	}
	t.NetInfo, t.Docker, t.Mesos, t.RunningSince = nil, nil, nil, time.Time{}
	if best >= 0 {
		s := &hist[best]
		t.NetInfo = nilIfNoneV1(s.netInfo)
		t.Docker = nilIfNoneV1(s.docker)
		t.Mesos = nilIfNoneV1(s.mesos)
		t.RunningSince = mesosTime(s.timestamp)
	}
	t.Healthy = nil
	if health >= 0 {
		if hist[health].healthy {
			t.Healthy = &healthyTrue
		} else {
			t.Healthy = &healthyFalse
		}
	}
}

func nilIfNoneV1[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clip(s)
}

// taskFromV1 converts a Task and its status history.
func taskFromV1(t *mesos.Task) (state.Task, []slimStatus) {
	out := state.Task{
		ID:          t.TaskID.Value,
		Name:        t.Name,
		FrameworkID: t.FrameworkID.Value,
		AgentID:     t.AgentID.Value,
		Labels:      labelsFromV1(t.Labels),
		Ports:       portsFromResources(t.Resources),
		Discovery:   discoveryFromV1(t.Discovery),
	}
	if t.State != nil {
		out.State = state.TaskState(t.State.String())
	}
	// The history as the master keeps it; appendStatus's rule is the master's
	// and applies to updates only.
	hist := make([]slimStatus, len(t.Statuses))
	for i := range t.Statuses {
		hist[i] = slimStatusFromV1(&t.Statuses[i])
	}
	hist = pruneStatuses(hist)
	applyStatuses(&out, hist)
	return out, hist
}

// leaderFromMasterInfo turns the leading master's MasterInfo (GET_MASTER) into
// the Master that DecodeState makes of "leader" and "leader_info".
func leaderFromMasterInfo(info *mesos.MasterInfo) state.Master {
	m := state.Master{ID: info.ID, PID: info.GetPID(), Hostname: info.GetHostname()}
	var addrIP, addrHost string
	var addrPort int
	if a := info.Address; a != nil {
		addrIP, addrHost, addrPort = a.GetIP(), a.GetHostname(), int(a.Port)
	}
	m.Hostname = nonEmpty(m.Hostname, addrHost)
	if host, port, ok := splitPID(m.PID); ok {
		m.Host, m.Port = host, port
		return m
	}
	switch {
	case addrIP != "":
		m.Host = addrIP
	case info.IP != 0:
		m.Host = mesosInfoIP(info.IP).String()
	default:
		m.Host = m.Hostname
	}
	m.Port = int(info.GetPort())
	if addrPort != 0 {
		m.Port = addrPort
	}
	return m
}

// terminalTaskState reports whether a task in state s has left the running view:
// /master/state lists it under completed (or unreachable) tasks, not under its
// framework's tasks.
func terminalTaskState(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_LOST,
		mesos.TASK_ERROR, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR,
		mesos.TASK_UNREACHABLE:
		return true
	}
	return false
}
