package main

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/state"
)

// taskIndex is the task rows of one DNS table, sorted for display, built on
// the first request that needs them: a task's records come from regenerating
// the whole table's records (Table.Enumerate), too slow to repeat on every
// request of a large cluster (about 180ms and 15MB kept for 10,000 tasks).
type taskIndex struct {
	table      *dnsserver.Table
	frameworks []frameworkView
	rows       []taskView
}

// taskIndex returns the index of t, building it once per table.
func (p *statusPage) taskIndex(t *dnsserver.Table) *taskIndex {
	if idx := p.tasks.Load(); idx != nil && idx.table == t {
		return idx
	}
	p.tasksMu.Lock()
	defer p.tasksMu.Unlock()
	if idx := p.tasks.Load(); idx != nil && idx.table == t {
		return idx
	}
	idx := buildTaskIndex(t)
	p.tasks.Store(idx)
	return idx
}

func buildTaskIndex(t *dnsserver.Table) *taskIndex {
	c := t.Cluster()
	idx := &taskIndex{table: t}
	records := map[string][]dnsserver.EnumRecord{}
	for _, f := range t.Enumerate().Frameworks {
		for _, et := range f.Tasks {
			records[et.ID] = append(records[et.ID], et.Records...)
		}
	}
	perFramework := map[string]int{}
	idx.rows = make([]taskView, 0, len(c.Tasks))
	for i := range c.Tasks {
		task := c.Tasks[i]
		perFramework[task.FrameworkID]++
		tv := taskView{ID: task.ID, Name: task.Name, Framework: task.FrameworkID, State: string(task.State),
			Records: records[task.ID], Addresses: taskAddresses(task),
			Labels: make([]labelView, 0, len(task.Labels)), Ports: make([]string, 0, len(task.Ports))}
		if tv.Records == nil {
			tv.Records = []dnsserver.EnumRecord{}
		}
		if f := c.Framework(task.FrameworkID); f != nil && f.Name != "" {
			tv.Framework = f.Name
		}
		if task.Healthy != nil {
			tv.Health = "unhealthy"
			if *task.Healthy {
				tv.Health = "healthy"
			}
		}
		if a := c.Agent(task.AgentID); a != nil {
			tv.Agent = a.Hostname
			if tv.Agent == "" {
				tv.Agent = a.Host
			}
		}
		for _, pr := range task.Ports {
			s := strconv.FormatUint(uint64(pr.Begin), 10)
			if pr.End != pr.Begin {
				s += "-" + strconv.FormatUint(uint64(pr.End), 10)
			}
			tv.Ports = append(tv.Ports, s)
		}
		for _, l := range task.Labels {
			tv.Labels = append(tv.Labels, labelView(l))
		}
		idx.rows = append(idx.rows, tv)
	}
	slices.SortStableFunc(idx.rows, func(a, b taskView) int {
		if c := strings.Compare(a.Framework, b.Framework); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	idx.frameworks = make([]frameworkView, 0, len(c.Frameworks))
	for _, f := range c.Frameworks {
		fv := frameworkView{ID: f.ID, Name: f.Name, PID: f.PID, Active: f.Active, Tasks: perFramework[f.ID]}
		if f.Host != "" {
			fv.Address = hostPort(f.Host, f.Port)
		}
		idx.frameworks = append(idx.frameworks, fv)
	}
	return idx
}

// taskAddresses lists a task's own addresses (every IP source, without
// repeats); a task on its agent's network has none of its own.
func taskAddresses(t *state.Task) []string {
	out := []string{}
	seen := map[netip.Addr]bool{}
	for _, list := range [][]netip.Addr{t.NetInfo, t.Docker, t.Mesos} {
		for _, a := range list {
			if !seen[a] {
				seen[a] = true
				out = append(out, a.String())
			}
		}
	}
	return out
}

// filter returns the first limit tasks that match q, and how many match.
func (idx *taskIndex) filter(q string, limit int) taskList {
	l := taskList{Total: len(idx.rows), Items: []taskView{}}
	for i := range idx.rows {
		if q != "" && !taskMatches(&idx.rows[i], q) {
			continue
		}
		l.Matched++
		if len(l.Items) < limit {
			l.Items = append(l.Items, idx.rows[i])
		}
	}
	return l
}

// taskMatches reports whether q (lowercase) is in any of the task's texts:
// id, name, framework, state, agent, addresses, DNS names and labels.
func taskMatches(t *taskView, q string) bool {
	if anyHasFold(q, t.ID, t.Name, t.Framework, t.State, t.Health, t.Agent) {
		return true
	}
	for _, a := range t.Addresses {
		if strings.Contains(a, q) {
			return true
		}
	}
	for i := range t.Records {
		if hasFold(t.Records[i].Name, q) {
			return true
		}
	}
	for _, l := range t.Labels {
		if hasFold(l.Key, q) || hasFold(l.Value, q) || strings.IndexByte(q, '=') >= 0 && hasFold(l.Key+"="+l.Value, q) {
			return true
		}
	}
	return false
}

// anyHasFold reports whether any of fields contains q (lowercase).
func anyHasFold(q string, fields ...string) bool {
	for _, f := range fields {
		if hasFold(f, q) {
			return true
		}
	}
	return false
}

// hasFold reports whether s contains q (lowercase), ignoring case, without
// allocating when q is ASCII.
func hasFold(s, q string) bool {
	for i := 0; i < len(q); i++ {
		if q[i] >= 0x80 {
			return strings.Contains(strings.ToLower(s), q)
		}
	}
	if len(q) == 0 {
		return true
	}
	lo, up := q[0], q[0]
	if 'a' <= lo && lo <= 'z' {
		up = lo - ('a' - 'A')
	}
	for i := 0; i+len(q) <= len(s); i++ {
		// Skip to the next place q's first byte (in either case) could start.
		c := s[i]
		if c != lo && c != up {
			k := strings.IndexByte(s[i:], lo)
			if up != lo {
				if ku := strings.IndexByte(s[i:], up); ku >= 0 && (k < 0 || ku < k) {
					k = ku
				}
			}
			if k < 0 {
				return false
			}
			i += k
			if i+len(q) > len(s) {
				return false
			}
		}
		j := 1
		for ; j < len(q); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != q[j] {
				break
			}
		}
		if j == len(q) {
			return true
		}
	}
	return false
}
