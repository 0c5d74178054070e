package dnsserver

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// Updating a table from the next snapshot without rebuilding it.
//
// On a cluster of 100,000 tasks a full Build interns some 250,000 names and
// generates 800,000 records; a snapshot from the Mesos event stream usually
// differs from the previous one by a task or two. Update does work in
// proportion to that change:
//
//   - The tasks that changed are found by comparing the two clusters' task
//     digests in one walk (a uint64 compare per task, the only step that
//     visits every task) and are the only ones generated.
//   - Each task's records and the names it uses are kept by task ID, so a
//     task that went gives back its own records without a search.
//   - Every name counts the tasks that use it and its live children: a name
//     whose count drops to zero is dead (it does not exist, NXDOMAIN), one
//     that comes back is alive again, and only these names are visited.
//   - A name whose records changed gets them anew from the tasks that use it
//     (and the records of everything but the tasks), in the order a build
//     gives them, in a new run appended to the record pages; the old run is
//     left as garbage.
//   - The arrays a lookup reads are paged (table_pages.go): the new table
//     shares every page but the few it writes with the table it came from,
//     which goes on serving.
//
// The table it returns answers exactly as Build's would (records in the same
// order per name); only the node numbering, and so the order in which All
// and the HTTP API list names, differs.
//
// Garbage accumulates: runs no name refers to, dead names, the kept records
// of tasks that went. Once the garbage runs are half as many records as the
// live ones, the update copies the live runs to new pages (compact: at
// 100,000 tasks of 100 per app some 600 records of garbage per changed task,
// so every 700 to 1,000 changes, some 6 MB copied). When dead names are a
// quarter of the names, or the records of tasks gone outnumber the kept
// ones, Update builds afresh (a dead name is left by a task whose canonical
// name no other task has: some 2 per killed task, so tens of thousands of
// changes apart at 100,000 tasks). The first update after a build makes the
// bookkeeping (prepare: 27 ms at 100,000 tasks).
//
// The bookkeeping by task and name (incremental) is not copied per update:
// it belongs to the newest table made from it and is changed in place. Only
// that table updates from it; Update on an older table (or two Updates on
// one table) builds afresh instead, which gives the same answers.

// incremental is what a table keeps for Update.
type incremental struct {
	// owner is the only table whose Update may use (and change) this.
	owner atomic.Pointer[Table]

	// As a build leaves them: the records of everything but the tasks (the
	// first infraEntries entries, on the first infraNodes nodes) and of
	// each task, each node's parent, and per task of the cluster built
	// where its records and the nodes it uses are in entries and tnodes.
	entries      []entry
	a6           [][16]byte
	parents      []uint32
	tnodes       []uint32
	infraEntries int
	infraNodes   int
	spans        []taskSpan // nil once prepared

	// What prepare makes of them, kept up to date by each Update.
	prepared   bool
	agentAddrs map[string][]netip.Addr
	// tasks finds the record of each task with records or names by ID;
	// recs are those records (free lists the unused ones).
	tasks map[string]uint32
	recs  []taskRec
	free  []uint32
	// count is, per node, the uses by tasks, plus its live children, plus
	// one for the names of everything but the tasks: zero means dead.
	count []uint32
	// first is, per node, a task (record number + 1) that uses it, 0 when
	// none; more holds the other uses of nodes several tasks use.
	first []uint32
	more  map[uint32][]uint32
	// infra are the records of everything but the tasks, by node.
	infra map[uint32][]entry

	deadNodes int // nodes that are dead
	garbage   int // records in the ranges that no node refers to
	// compactions counts the updates that compacted the records.
	compactions int
	scratch     scratch
	// garbageEntries counts the entries and tnodes of tasks gone.
	garbageEntries int
}

// taskRec is where one task's records and the nodes it uses sit in
// incremental's entries and tnodes.
// Task IDs are unique within a framework only: tasks with the same ID are
// chained (next is another's record number + 1) and told apart by digest.
type taskRec struct {
	id             string
	digest         uint64
	next           uint32
	e0, e1, n0, n1 uint32
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
	d := diffTasks(t.cluster, c)
	return t.updateDiff(c, hosts, &d)
}

// updateDiff is update given the tasks that differ, d = diffTasks(t.cluster, c).
func (t *Table) updateDiff(c *state.Cluster, hosts HostAddrs, d *taskDiff) *Table {
	inc := t.inc
	if inc == nil || c == nil || t.cluster == nil || !d.digested || !sameInfra(t.cluster, c) ||
		!hosts.equal(t.hosts) || inc.full(t) || !inc.owner.CompareAndSwap(t, nil) {
		return build(c, t.cfg, hosts)
	}
	inc.prepare(t)
	if !inc.affects(t.cluster, c, d) {
		nt := t.retarget(c)
		inc.owner.Store(nt)
		return nt
	}
	b := &builder{
		cfg:          t.cfg,
		zone:         t.zone,
		cluster:      c,
		hosts:        t.hosts,
		names:        forkNames(&t.names),
		parents:      inc.parents,
		a6:           inc.a6,
		infraEntries: inc.infraEntries,
		infraNodes:   inc.infraNodes,
	}
	u := &updating{
		inc:       inc,
		names:     &b.names,
		nodes:     forkPaged(t.nodes),
		a4:        forkRanges(t.a4),
		a6:        forkRanges(t.a6),
		srv:       forkRanges(t.srv),
		set:       make(map[uint32]bool),
		c:         c,
		digests:   c.TaskDigests(),
		records:   t.records - 2,
		nameCount: t.nameCount,
	}
	g := newGenerator(b)
	g.agentAddrs = inc.agentAddrs
	od, nd := t.cluster.TaskDigests(), c.TaskDigests()
	for _, i := range d.gone {
		u.remove(t.cluster.Tasks[i].ID, od[i])
	}
	for _, j := range d.came {
		task := c.Tasks[j]
		b.entries, b.tnodes = b.entries[:0], b.tnodes[:0]
		g.taskIn(c, task)
		inc.parents, inc.a6 = b.parents, b.a6
		u.grow(b.names.count())
		u.add(task.ID, nd[j], b.entries, b.tnodes)
	}
	u.settle()
	if 2*inc.garbage > u.records+compactSlack {
		u.compact()
	}
	nt := b.table(u.nodes.paged, u.a4.ranges, u.a6.ranges, u.srv.ranges, u.records, u.nameCount)
	nt.inc = inc
	inc.owner.Store(nt)
	return nt
}

// compactSlack is garbage any table may keep: in a small table a build would
// cost more than the garbage. A variable for tests.
var compactSlack = 4096

// full reports whether t's garbage calls for a fresh build.
func (inc *incremental) full(t *Table) bool {

	return 4*inc.deadNodes > t.nodeCount()+compactSlack ||
		inc.garbageEntries > len(inc.entries)+len(inc.tnodes)-inc.garbageEntries+compactSlack
}

// Prepare readies t for its next Update: the bookkeeping by task and by name
// that the first Update after a full build would otherwise set up itself
// (tens of milliseconds at 100,000 tasks), so that the first change after a
// build is answered as quickly as the next ones. It does nothing on a table
// that is prepared already or that another Update has taken over, and is
// meant for the goroutine that updates t, between updates.
func (t *Table) Prepare() {
	inc := t.inc
	if inc == nil || inc.prepared || t.cluster == nil ||
		t.cluster.TaskDigests() == nil && len(t.cluster.Tasks) > 0 || !inc.owner.CompareAndSwap(t, nil) {
		return // Update would build afresh anyway
	}
	inc.prepare(t)
	inc.owner.Store(t)
}

// prepare makes the bookkeeping by task and name from what the build of t
// left (once per build: the first Update after it).
func (inc *incremental) prepare(t *Table) {
	if inc.prepared {
		return
	}
	c := t.cluster
	g := newGenerator(&builder{cfg: t.cfg, zone: t.zone, hosts: t.hosts})
	inc.agentAddrs = g.agentAddrMap(c)
	n := len(inc.parents)
	inc.tasks = make(map[string]uint32, len(inc.spans))
	inc.recs = make([]taskRec, 0, len(inc.spans))
	ds := c.TaskDigests()
	for i, sp := range inc.spans {
		if sp.e1 > sp.e0 || sp.n1 > sp.n0 {
			id := c.Tasks[i].ID
			no := uint32(len(inc.recs))
			inc.recs = append(inc.recs, taskRec{id: id, digest: ds[i], e0: sp.e0, e1: sp.e1, n0: sp.n0, n1: sp.n1})
			inc.link(id, no)
		}
	}
	inc.spans = nil
	inc.count = make([]uint32, n)
	for _, nd := range inc.tnodes {
		inc.count[nd]++
	}
	// The lists of nodes several tasks use, carved from one array.
	extra := 0
	for _, k := range inc.count {
		extra += int(max(k, 1) - 1)
	}
	lists := make([]uint32, 0, extra)
	inc.first = make([]uint32, n)
	inc.more = make(map[uint32][]uint32)
	for no, r := range inc.recs {
		for _, nd := range inc.tnodes[r.n0:r.n1] {
			if inc.first[nd] == 0 {
				inc.first[nd] = uint32(no) + 1
				continue
			}
			l, ok := inc.more[nd]
			if !ok {
				k := int(inc.count[nd]) - 1
				l, lists = lists[len(lists):len(lists):len(lists)+k], lists[:len(lists)+k]
			}
			inc.more[nd] = append(l, uint32(no))
		}
	}
	alive := make([]bool, n)
	for i := range inc.infraNodes {
		alive[i] = true
		inc.count[i]++
	}
	for i := range n {
		for m := uint32(i); m != noNode && inc.count[i] > 0 && !alive[m]; m = inc.parents[m] {
			alive[m] = true
		}
	}
	for i, a := range alive {
		if p := inc.parents[i]; a && p != noNode {
			inc.count[p]++
		}
	}
	inc.infra = make(map[uint32][]entry)
	for _, e := range inc.entries[:inc.infraEntries] {
		inc.infra[e.node] = append(inc.infra[e.node], e)
	}
	inc.prepared = true
}

// affects reports whether the tasks that differ between a and b (d) can
// change any record or name: whether a task that went had any, or one that
// came may get some.
func (inc *incremental) affects(a, b *state.Cluster, d *taskDiff) bool {
	ds := a.TaskDigests()
	for _, i := range d.gone {
		if inc.find(a.Tasks[i].ID, ds[i]) != noNode {
			return true
		}
	}
	for _, j := range d.came {
		if mayHaveRecords(b, b.Tasks[j]) {
			return true
		}
	}
	return false
}

// link makes record no findable by its task's ID.
func (inc *incremental) link(id string, no uint32) {
	if head, ok := inc.tasks[id]; ok {
		inc.recs[no].next = head + 1
	}
	inc.tasks[id] = no
}

// find returns the record of the task with this ID and digest, or noNode.
func (inc *incremental) find(id string, digest uint64) uint32 {
	no, ok := inc.tasks[id]
	for ok {
		r := &inc.recs[no]
		if r.digest == digest {
			return no
		}
		no, ok = r.next-1, r.next != 0
	}
	return noNode
}

// unlink makes record no (of the task with this ID) unfindable.
func (inc *incremental) unlink(id string, no uint32) {
	next := inc.recs[no].next
	head := inc.tasks[id]
	if head == no {
		if next == 0 {
			delete(inc.tasks, id)
		} else {
			inc.tasks[id] = next - 1
		}
		return
	}
	for p := head; ; {
		r := &inc.recs[p]
		if r.next == no+1 {
			r.next = next
			return
		}
		p = r.next - 1
	}
}

func (inc *incremental) addUser(n, no uint32) {
	if inc.first[n] == 0 {
		inc.first[n] = no + 1
		return
	}
	inc.more[n] = append(inc.more[n], no)
}

func (inc *incremental) removeUser(n, no uint32) {
	more := inc.more[n]
	if inc.first[n] == no+1 {
		if len(more) == 0 {
			inc.first[n] = 0
			return
		}
		inc.first[n] = more[len(more)-1] + 1
		more = more[:len(more)-1]
	} else if i := slices.Index(more, no); i >= 0 {
		more[i] = more[len(more)-1]
		more = more[:len(more)-1]
	}
	if len(more) == 0 {
		delete(inc.more, n)
	} else {
		inc.more[n] = more
	}
}

// updating is one Update at work.
type updating struct {
	inc   *incremental
	names *namesW
	nodes pagedW[node]
	a4    rangesW[[4]byte]
	a6    rangesW[[16]byte]
	srv   rangesW[srvTarget]
	// set holds the nodes to settle: true for those whose records may
	// have changed, false for those whose liveness may have.
	set                map[uint32]bool
	records, nameCount int
	c                  *state.Cluster // the cluster updated to
	digests            []uint64       // its tasks'
}

// scratch is space regen reuses from update to update.
type scratch struct {
	users []uint32     // the tasks using one node
	cs    [3][]contrib // one node's records by kind
	v4    [][4]byte
	v6    [][16]byte
	vsrv  []srvTarget
}

// contrib is one record of a node as generated: by a task (id) or by
// everything but the tasks, which comes first.
type contrib struct {
	id     string
	digest uint64
	task   bool
	e      entry
}

// grow makes room for the nodes new names made (dead until used).
func (u *updating) grow(n int) {
	for len(u.inc.count) < n {
		u.inc.count = append(u.inc.count, 0)
		u.inc.first = append(u.inc.first, 0)
		u.names.setDead(u.nodes.push(deadNode), true)
		u.inc.deadNodes++
	}
}

// remove forgets the records of the task with this ID and digest.
func (u *updating) remove(id string, digest uint64) {
	inc := u.inc
	no := inc.find(id, digest)
	if no == noNode {
		return
	}
	inc.unlink(id, no)
	r := inc.recs[no]
	for _, e := range inc.entries[r.e0:r.e1] {
		u.set[e.node] = true
	}
	for _, n := range inc.tnodes[r.n0:r.n1] {
		inc.removeUser(n, no)
		u.unuse(n)
	}
	inc.garbageEntries += int(r.e1 - r.e0 + r.n1 - r.n0)
	inc.recs[no] = taskRec{}
	inc.free = append(inc.free, no)
}

// add keeps the records es of the task with this ID and digest and the
// nodes ns it uses.
func (u *updating) add(id string, digest uint64, es []entry, ns []uint32) {
	if len(es) == 0 && len(ns) == 0 {
		return
	}
	inc := u.inc
	r := taskRec{id: id, digest: digest, e0: uint32(len(inc.entries)), n0: uint32(len(inc.tnodes))}
	inc.entries = append(inc.entries, es...)
	inc.tnodes = append(inc.tnodes, ns...)
	r.e1, r.n1 = uint32(len(inc.entries)), uint32(len(inc.tnodes))
	var no uint32
	if k := len(inc.free); k > 0 {
		no = inc.free[k-1]
		inc.free = inc.free[:k-1]
		inc.recs[no] = r
	} else {
		no = uint32(len(inc.recs))
		inc.recs = append(inc.recs, r)
	}
	inc.link(id, no)
	for _, e := range es {
		u.set[e.node] = true
	}
	for _, n := range ns {
		inc.addUser(n, no)
		u.use(n)
	}
}

// use counts one more use of n; a node that comes alive counts for its parent.
func (u *updating) use(n uint32) {
	for n != noNode {
		u.inc.count[n]++
		if u.inc.count[n] > 1 {
			return
		}
		u.flip(n)
		n = u.inc.parents[n]
	}
}

// unuse counts one use of n less; a node that dies counts no more for its
// parent.
func (u *updating) unuse(n uint32) {
	for n != noNode {
		u.inc.count[n]--
		if u.inc.count[n] > 0 {
			return
		}
		u.flip(n)
		n = u.inc.parents[n]
	}
}

func (u *updating) flip(n uint32) {
	if _, ok := u.set[n]; !ok {
		u.set[n] = false
	}
}

// settle gives every node in u.set its records and liveness now.
func (u *updating) settle() {
	for n, touched := range u.set {
		nd := *u.nodes.at(n)
		wasDead := nd.dead()
		if u.inc.count[n] == 0 {
			if !wasDead {
				u.drop(&nd)
				*u.nodes.ptr(n) = deadNode
				u.names.setDead(n, true)
				u.inc.deadNodes++
			}
			continue
		}
		if wasDead {
			nd = node{}
			u.names.setDead(n, false)
			u.inc.deadNodes--
		} else if !touched {
			continue
		}
		if touched {
			u.drop(&nd)
			nd = u.regen(n)
			if k := nd.records(); k > 0 {
				u.records += k
				u.nameCount++
			}
		}
		*u.nodes.ptr(n) = nd
	}
}

// drop leaves the records of nd as garbage.
func (u *updating) drop(nd *node) {
	if k := nd.records(); k > 0 {
		u.records -= k
		u.inc.garbage += k
		u.nameCount--
	}
}

// regen returns node n with its records now, in new runs: those of
// everything but the tasks and those of the tasks that use it, grouped and
// ordered as finish does.
func (u *updating) regen(n uint32) node {
	inc := u.inc
	s := &inc.scratch
	for k := range s.cs {
		s.cs[k] = s.cs[k][:0]
	}
	for _, e := range inc.infra[n] {
		s.cs[e.kind] = append(s.cs[e.kind], contrib{e: e})
	}
	s.users = s.users[:0]
	if f := inc.first[n]; f != 0 {
		s.users = append(s.users, f-1)
	}
	s.users = append(s.users, inc.more[n]...)
	slices.Sort(s.users)
	for i, no := range s.users {
		if i > 0 && s.users[i-1] == no {
			continue // a task using the name twice
		}
		r := &inc.recs[no]
		for _, e := range inc.entries[r.e0:r.e1] {
			if e.node == n {
				s.cs[e.kind] = append(s.cs[e.kind], contrib{id: r.id, digest: r.digest, task: true, e: e})
			}
		}
	}
	var nd node
	s.v4 = settleRecords(s.v4[:0], s.cs[kindA], u.byOwner, func(e entry) (v [4]byte) {
		v[0], v[1], v[2], v[3] = byte(e.val>>24), byte(e.val>>16), byte(e.val>>8), byte(e.val)
		return v
	}, cmpBytes4)
	nd.a4Off, nd.a4Len = putRun(&u.a4, s.v4)
	s.v6 = settleRecords(s.v6[:0], s.cs[kindAAAA], u.byOwner, func(e entry) [16]byte { return inc.a6[e.val] }, cmpBytes16)
	nd.a6Off, nd.a6Len = putRun(&u.a6, s.v6)
	s.vsrv = settleRecords(s.vsrv[:0], s.cs[kindSRV], u.byOwner, func(e entry) srvTarget {
		return srvTarget{target: e.val, port: e.port}
	}, cmpSRV)
	nd.srvOff, nd.srvLen = putRun(&u.srv, s.vsrv)
	return nd
}

// compact copies the records of every live node to new pages, leaving the
// garbage behind: O(records), once the garbage is half as many records as
// there are live ones (at 100,000 tasks some 6 MB copied, every thousand or
// so changed tasks).
func (u *updating) compact() {
	n := u.nodes.n
	flat := make([]node, n)
	var a4 rangesW[[4]byte]
	var a6 rangesW[[16]byte]
	var srv rangesW[srvTarget]
	for i := range n {
		nd := *u.nodes.at(i)
		if !nd.dead() {
			nd.a4Off, nd.a4Len = putRun(&a4, u.a4.get(nd.a4Off, nd.a4Len))
			nd.a6Off, nd.a6Len = putRun(&a6, u.a6.get(nd.a6Off, nd.a6Len))
			nd.srvOff, nd.srvLen = putRun(&srv, u.srv.get(nd.srvOff, nd.srvLen))
		}
		flat[i] = nd
	}
	u.nodes = pagedW[node]{paged: pagedCopy(flat)} // and written no more
	u.a4, u.a6, u.srv = a4, a6, srv
	u.inc.garbage = 0
	u.inc.compactions++
}

// settleRecords appends to out the values of one node's records of one kind,
// cs, as finish leaves them: up to 16 records keep the order of a build
// (everything but the tasks first, then by task ID, each task's in the
// order generated) without repeats; more are sorted and without repeats.
func settleRecords[T comparable](out []T, cs []contrib, byOwner func(a, b contrib) int, val func(entry) T, cmpV func(a, b T) int) []T {
	if len(cs) <= 16 {
		slices.SortStableFunc(cs, byOwner)
		for _, c := range cs {
			if v := val(c.e); !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	for _, c := range cs {
		out = append(out, val(c.e))
	}
	slices.SortFunc(out, cmpV)
	return slices.Compact(out)
}

// byOwner orders records as a build generates them: everything but the
// tasks first, then by task in the order of the cluster's tasks (by ID, and
// tasks of the same ID as the cluster lists them).
func (u *updating) byOwner(a, b contrib) int {
	if a.task != b.task {
		if a.task {
			return 1
		}
		return -1
	}
	if c := strings.Compare(a.id, b.id); c != 0 || a.digest == b.digest {
		return c
	}
	return cmp.Compare(u.position(a.id, a.digest), u.position(b.id, b.digest))
}

// position returns the index in the cluster's tasks of the task with this
// ID and digest (a binary search: the tasks are sorted by ID).
func (u *updating) position(id string, digest uint64) int {
	tasks := u.c.Tasks
	i, _ := slices.BinarySearchFunc(tasks, id, func(t *state.Task, id string) int { return strings.Compare(t.ID, id) })
	for ; i < len(tasks) && tasks[i].ID == id; i++ {
		if u.digests[i] == digest {
			return i
		}
	}
	return i
}

// putRun writes vs as a new run and returns its offset and length.
func putRun[T any](w *rangesW[T], vs []T) (uint32, uint32) {
	if len(vs) == 0 {
		return 0, 0
	}
	off, dst := w.alloc(len(vs))
	copy(dst, vs)
	return off, uint32(len(vs))
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

// retarget returns t for cluster c, whose tasks give the same records as
// t's: the names and records are shared, only the cluster is new.
func (t *Table) retarget(c *state.Cluster) *Table {
	nt := *t
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
