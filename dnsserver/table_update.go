package dnsserver

import (
	"encoding/binary"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// Updating a table from the next snapshot without rebuilding it.
//
// On a cluster of 10,000 tasks a full Build interns some 50,000 names and
// generates 150,000 records; a snapshot from the Mesos event stream usually
// differs from the previous one by a task or two. Update keeps the previous
// table's names (their node numbers stay) and the records of every task that
// did not change, generates the records of the tasks that did, and only
// regroups the records by name (finish), which is a few times cheaper than
// generating them. The table it returns answers exactly as Build's would
// (records in the same order per name); only the node numbering, and so the
// order in which All and the HTTP API list names, differs.
//
// Names that no current task uses any more are marked dead (they do not
// exist) rather than removed, so node numbers stay valid; once they are a
// quarter of the names, Update builds afresh.

// incremental is what a table keeps for Update: the builder's records before
// grouping, each node's parent, and per task of its cluster where its records
// and the nodes it uses are.
type incremental struct {
	entries      []entry
	a6           [][16]byte
	parents      []uint32
	infraEntries int
	infraNodes   int
	spans        []taskSpan
	tnodes       []uint32
	// deadNodes counts the table's dead nodes.
	deadNodes int
	// garbage counts the records in the table's a4, a6 and srv that no node
	// refers to any more (patch leaves them behind).
	garbage int
}

// parentOf returns the node of the parent of node n's name, or noNode when n
// is noNode.
func (b *builder) parentOf(n uint32) uint32 {
	if n == noNode {
		return noNode
	}
	return b.parents[n]
}

// uses records that the task being generated uses nodes ns (names it
// created or shares with other tasks); noNode entries are skipped.
func (b *builder) uses(ns ...uint32) {
	for _, n := range ns {
		if n != noNode {
			b.tnodes = append(b.tnodes, n)
		}
	}
}

// Update returns the table for c, built with t's configuration: the same
// table Build(c, t.Config()) returns, made from t where c differs from the
// cluster t was built from only in its tasks, and by Build otherwise. t is
// not changed and may go on serving.
func (t *Table) Update(c *state.Cluster) *Table {
	return t.update(c, t.hosts)
}

// update is Update with the addresses of c's host names: when they differ
// from those t was built with, the agents' and frameworks' records change,
// and it builds afresh.
func (t *Table) update(c *state.Cluster, hosts HostAddrs) *Table {
	inc := t.inc
	if inc == nil || c == nil || t.cluster == nil || 4*inc.deadNodes > len(t.refs) || !sameInfra(t.cluster, c) ||
		!hosts.equal(t.hosts) {
		return build(c, t.cfg, hosts)
	}
	match, changed := t.matchTasks(c)
	if !changed {
		return t.retarget(c, match)
	}
	// The records and nodes kept become the next table's (never appended to
	// again): room for a few changed tasks, not for a growing cluster.
	b := &builder{
		cfg:          t.cfg,
		zone:         t.zone,
		cluster:      c,
		hosts:        t.hosts,
		borrowed:     true, // see own
		base:         t.arena,
		refs:         t.refs,
		parents:      inc.parents,
		index:        t.index,
		entries:      make([]entry, 0, len(inc.entries)+len(inc.entries)/64+256),
		a6:           slices.Clip(inc.a6), // appended to: never in place
		infraEntries: inc.infraEntries,
		infraNodes:   inc.infraNodes,
		spans:        make([]taskSpan, len(c.Tasks)),
		tnodes:       make([]uint32, 0, len(inc.tnodes)+len(inc.tnodes)/64+256),
	}
	b.entries = append(b.entries, inc.entries[:inc.infraEntries]...)
	g := newGenerator(b)
	g.agentAddrs = g.agentAddrMap(c)
	for j := 0; j < len(c.Tasks); {
		if match[j] < 0 {
			b.spans[j] = g.taskIn(c, c.Tasks[j])
			j++
			continue
		}
		// A run of kept tasks that were next to each other in t, records
		// and nodes too (as a build lays them out): copied at once.
		k := j + 1
		for k < len(c.Tasks) && match[k] == match[k-1]+1 &&
			inc.spans[match[k]].e0 == inc.spans[match[k-1]].e1 && inc.spans[match[k]].n0 == inc.spans[match[k-1]].n1 {
			k++
		}
		first, last := inc.spans[match[j]], inc.spans[match[k-1]]
		// Offsets move by the difference (modulo 2^32, which the sums undo).
		de, dn := uint32(len(b.entries))-first.e0, uint32(len(b.tnodes))-first.n0
		b.entries = append(b.entries, inc.entries[first.e0:last.e1]...)
		b.tnodes = append(b.tnodes, inc.tnodes[first.n0:last.n1]...)
		for ; j < k; j++ {
			sp := inc.spans[match[j]]
			b.spans[j] = taskSpan{e0: sp.e0 + de, e1: sp.e1 + de, n0: sp.n0 + dn, n1: sp.n1 + dn}
		}
	}

	// The names that exist: those of everything but the tasks, those the
	// tasks use, and their ancestors.
	live := make([]bool, len(b.refs))
	for n := range b.infraNodes {
		live[n] = true
	}
	for _, n := range b.tnodes {
		for n != noNode && !live[n] {
			live[n] = true
			n = b.parents[n]
		}
	}
	nt := b.patch(t, match)
	if nt == nil {
		nt = b.finish()
	}
	var dead []bool
	deadNodes := 0
	for n, l := range live {
		if !l {
			if dead == nil {
				dead = make([]bool, len(live))
			}
			dead[n] = true
			deadNodes++
		}
	}
	nt.dead = dead
	nt.inc.deadNodes = deadNodes
	return nt
}

// agentAddrMap returns each agent's address(es) by agent ID: mesos-dns's
// SlaveIPs, the "host" address of its tasks.
func (g *generator) agentAddrMap(c *state.Cluster) map[string][]netip.Addr {
	m := make(map[string][]netip.Addr, len(c.Agents))
	for i := range c.Agents {
		// An agent whose host name does not resolve is still known: its
		// tasks get their records, all but the A/AAAA under .slave.
		m[c.Agents[i].ID] = g.b.hosts.addrs(c.Agents[i].Host)
	}
	return m
}

// sameInfra reports whether a and b agree on everything but their tasks.
func sameInfra(a, b *state.Cluster) bool {
	return a.Leader == b.Leader &&
		slices.Equal(a.Masters, b.Masters) &&
		slices.EqualFunc(a.Agents, b.Agents, sameAgent) &&
		slices.Equal(a.Frameworks, b.Frameworks) &&
		sameFrameworkIndex(a, b)
}

// sameFrameworkIndex reports whether a and b find the same frameworks by ID
// (an unsealed cluster finds none).
func sameFrameworkIndex(a, b *state.Cluster) bool {
	for i := range a.Frameworks {
		id := a.Frameworks[i].ID
		if (a.Framework(id) == nil) != (b.Framework(id) == nil) {
			return false
		}
	}
	return true
}

func sameAgent(a, b state.Agent) bool {
	return a.ID == b.ID && a.Hostname == b.Hostname && a.PID == b.PID && a.Host == b.Host &&
		a.Port == b.Port && a.Active == b.Active && slices.Equal(a.Ports, b.Ports) &&
		maps.Equal(a.Attributes, b.Attributes)
}

// sameTask reports whether a and b are equal in every field.
func sameTask(a, b *state.Task) bool {
	if a.ID != b.ID || a.Name != b.Name || a.FrameworkID != b.FrameworkID || a.AgentID != b.AgentID ||
		a.State != b.State || !a.RunningSince.Equal(b.RunningSince) ||
		!slices.Equal(a.Labels, b.Labels) || !slices.Equal(a.Ports, b.Ports) ||
		!slices.Equal(a.NetInfo, b.NetInfo) || !slices.Equal(a.Docker, b.Docker) || !slices.Equal(a.Mesos, b.Mesos) {
		return false
	}
	if (a.Healthy == nil) != (b.Healthy == nil) || a.Healthy != nil && *a.Healthy != *b.Healthy {
		return false
	}
	return sameDiscovery(a.Discovery, b.Discovery)
}

func sameDiscovery(a, b *state.Discovery) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.Visibility != b.Visibility || a.Name != b.Name || !slices.Equal(a.Labels, b.Labels) {
		return false
	}
	return slices.EqualFunc(a.Ports, b.Ports, func(x, y state.DiscoveryPort) bool {
		return x.Number == y.Number && x.Name == y.Name && x.Protocol == y.Protocol && slices.Equal(x.Labels, y.Labels)
	})
}

// matchTasks pairs each task of c with the equal task of t's cluster, whose
// records it can reuse: match[j] is the index of c.Tasks[j] in t's cluster,
// or -1 when it must be generated. changed reports whether the records can
// differ from t's: a task with records or names left, or a task that may have
// some came.
//
// Both task lists are sorted by ID (Seal sorts them); a list that is not only
// costs reuse, not correctness: an unmatched task is generated.
func (t *Table) matchTasks(c *state.Cluster) (match []int32, changed bool) {
	old, spans := t.cluster.Tasks, t.inc.spans
	hadRecords := func(i int) bool { return spans[i].e1 > spans[i].e0 || spans[i].n1 > spans[i].n0 }
	// Sealed clusters carry their tasks' digests: an equal one is an equal
	// task (both lists sorted by ID), found without comparing IDs or fields.
	od, nd := t.cluster.TaskDigests(), c.TaskDigests()
	digested := od != nil && nd != nil
	same := func(i, j int) bool {
		if digested {
			return od[i] == nd[j]
		}
		return sameTask(old[i], c.Tasks[j])
	}
	match = make([]int32, len(c.Tasks))
	i := 0
	for j := range c.Tasks {
		if digested && i < len(old) && od[i] == nd[j] {
			match[j] = int32(i)
			i++
			continue
		}
		nt := c.Tasks[j]
		match[j] = -1
		for i < len(old) && old[i].ID < nt.ID {
			changed = changed || hadRecords(i) // gone
			i++
		}
		if i < len(old) && old[i].ID == nt.ID {
			if same(i, j) {
				match[j] = int32(i)
				i++
				continue
			}
			changed = changed || hadRecords(i) // replaced
			i++
		}
		changed = changed || mayHaveRecords(c, nt)
	}
	for ; i < len(old); i++ {
		changed = changed || hadRecords(i)
	}
	return match, changed
}

// mayHaveRecords reports whether task t of c may get records: whether it is
// running on an agent and in a framework that c knows (see generator.taskIn),
// whether or not the agent's host resolves.
func mayHaveRecords(c *state.Cluster, t *state.Task) bool {
	if t.State != state.TaskRunning || c.Framework(t.FrameworkID) == nil {
		return false
	}
	if c.Agent(t.AgentID) != nil {
		return true
	}
	// An unsealed cluster finds no agent by ID: look.
	return slices.ContainsFunc(c.Agents, func(a state.Agent) bool { return a.ID == t.AgentID })
}

// retarget returns t for cluster c, whose tasks give the same records as t's
// (match as matchTasks returned it, with nothing changed): the names and
// records are shared, only what ties them to c's tasks is new.
func (t *Table) retarget(c *state.Cluster, match []int32) *Table {
	nt := *t
	inc := *t.inc
	inc.spans = make([]taskSpan, len(c.Tasks))
	for j, i := range match {
		if i >= 0 {
			inc.spans[j] = t.inc.spans[i]
		}
	}
	nt.inc = &inc
	nt.cluster = c
	nt.built = time.Now()
	if t.cfg.SOASerial == 0 {
		nt.serial = uint32(nt.built.Unix())
		if nt.serial != t.serial {
			soa := *t.soa
			soa.Serial = nt.serial
			nt.soa = &soa
		}
	}
	return &nt
}

// patch groups b's records by name as finish does, for a builder that Update
// made from t (match as matchTasks returned it): only the names whose records
// changed are regrouped, the others keep their records where t has them
// (copied). It returns nil when finish is as cheap (many names changed) or
// when too many unused records would be left behind.
func (b *builder) patch(t *Table, match []int32) *Table {
	inc := t.inc
	// The names whose records may have changed: those of the tasks that went
	// and of the tasks generated.
	touched := make([]bool, len(b.refs))
	kept := make([]bool, len(t.cluster.Tasks))
	for j, i := range match {
		if i >= 0 {
			kept[i] = true
			continue
		}
		sp := b.spans[j]
		for _, e := range b.entries[sp.e0:sp.e1] {
			touched[e.node] = true
		}
	}
	for i, k := range kept {
		if !k {
			sp := inc.spans[i]
			for _, e := range inc.entries[sp.e0:sp.e1] {
				touched[e.node] = true
			}
		}
	}
	// Their records now, in order.
	lists := map[uint32][]entry{}
	n := 0
	for _, e := range b.entries {
		if touched[e.node] {
			lists[e.node] = append(lists[e.node], e)
			if n++; 8*n > len(b.entries) {
				return nil
			}
		}
	}
	nodes := make([]node, len(b.refs))
	copy(nodes, t.nodes)
	extra := 2 * n
	a4 := append(make([][4]byte, 0, len(t.a4)+extra), t.a4...)
	a6 := append(make([][16]byte, 0, len(t.a6)+extra), t.a6...)
	srv := append(make([]srvTarget, 0, len(t.srv)+extra), t.srv...)
	nameCount, garbage := t.nameCount, inc.garbage
	for nd := range touched {
		if !touched[nd] {
			continue
		}
		old := &nodes[nd]
		if !old.empty() {
			nameCount--
		}
		garbage += int(old.a4Len + old.a6Len + old.srvLen)
		var o4, o6, os = len(a4), len(a6), len(srv)
		for _, e := range lists[uint32(nd)] {
			switch e.kind {
			case kindA:
				var v [4]byte
				binary.BigEndian.PutUint32(v[:], e.val)
				a4 = append(a4, v)
			case kindAAAA:
				a6 = append(a6, b.a6[e.val])
			case kindSRV:
				srv = append(srv, srvTarget{target: e.val, port: e.port})
			}
		}
		a4 = a4[:o4+len(dedup(a4[o4:], cmpBytes4))]
		a6 = a6[:o6+len(dedup(a6[o6:], cmpBytes16))]
		srv = srv[:os+len(dedup(srv[os:], cmpSRV))]
		*old = node{
			a4Off: uint32(o4), a4Len: uint32(len(a4) - o4),
			a6Off: uint32(o6), a6Len: uint32(len(a6) - o6),
			srvOff: uint32(os), srvLen: uint32(len(srv) - os),
		}
		if !old.empty() {
			nameCount++
		}
	}
	if 4*garbage > len(a4)+len(a6)+len(srv) {
		return nil // finish packs them
	}
	nt := b.table(nodes, a4, a6, srv, nameCount)
	nt.records -= garbage
	nt.inc.garbage = garbage
	return nt
}
