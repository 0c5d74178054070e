package dnsserver

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/discovery-mesos/discovery/state"
)

// generator walks a cluster and feeds the records mesos-dns would generate to a
// builder. Names are assembled in reusable byte buffers; the builder interns them.
type generator struct {
	b    *builder
	spec labelSpec
	zone string // "mesos."

	// fnames holds each framework's sanitised (and if need be shortened) name.
	fnames map[string]string
	// agentAddrs holds each agent's address(es): mesos-dns's SlaveIPs.
	agentAddrs map[string][]netip.Addr

	nb, tb, lb, lb2, sb []byte // name, target and label scratch
	pb, db              []byte // DiscoveryInfo protocol and port name scratch

	// memo holds the shared names of the last two labels seen: a task with a
	// DiscoveryInfo name that has dots ("app.group") is named twice, as given
	// and sanitised, so one slot would miss on every task.
	memo [2]sharedNames
	// memoNext is the slot the next miss overwrites.
	memoNext int
}

// generate adds every record for c (which may be nil) to b, in mesos-dns's
// order: frameworks, agents, the name server, masters, tasks.
func generate(b *builder, c *state.Cluster) {
	g := newGenerator(b)
	if c != nil {
		g.frameworks(c)
		g.agents(c)
	}
	g.nameServer()
	if c == nil {
		b.infraEntries, b.infraNodes = len(b.entries), b.names.count()
		return
	}
	g.masters(c)
	b.infraEntries, b.infraNodes = len(b.entries), b.names.count()
	g.tasks(c)
}

// newGenerator returns a generator feeding b.
func newGenerator(b *builder) *generator {
	return &generator{
		b:    b,
		spec: specFor(&b.cfg),
		zone: b.zone,
		nb:   make([]byte, 0, 256),
		tb:   make([]byte, 0, 256),
		lb:   make([]byte, 0, 256),
		lb2:  make([]byte, 0, 256),
		sb:   make([]byte, 0, 256),
	}
}

// hostAddr turns a host as Mesos reports it into an address when it is an IP
// literal. Host names are looked up by the Updater, off the build (see
// HostAddrs), and read with HostAddrs.addrs.
func hostAddr(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// name sets g.nb to the concatenation of parts followed by the zone.
func (g *generator) name(buf []byte, parts ...string) []byte {
	buf = buf[:0]
	for _, p := range parts {
		buf = append(buf, p...)
	}
	return append(buf, g.zone...)
}

// frameworkName returns the framework's name as a domain fragment: mesos-dns's
// DomainFrag.
func (g *generator) frameworkName(f *state.Framework) string {
	if g.fnames == nil {
		g.fnames = make(map[string]string)
	}
	if n, ok := g.fnames[f.ID]; ok {
		return n
	}
	// Not shortened: every label of it is at most 63 octets, and a name
	// built on it that is over 253 octets could not be asked for anyway
	// (intern drops it), so the names that fit are mesos-dns's.
	frag := string(appendDomainFrag(g.lb[:0], f.Name, g.spec))
	g.fnames[f.ID] = frag
	return frag
}

// frameworkHost is where a framework's scheduler is, as mesos-dns takes it:
// its PID's host and port, or without a PID (an HTTP API scheduler) its host
// name and no port.
func frameworkHost(f *state.Framework) (string, int) {
	if f.PID != "" {
		return f.Host, f.Port
	}
	return f.Hostname, 0
}

// frameworks adds "framework.domain." A/AAAA for each framework's scheduler and
// "_framework._tcp.framework.domain." SRV to its port.
func (g *generator) frameworks(c *state.Cluster) {
	for i := range c.Frameworks {
		f := &c.Frameworks[i]
		host, port := frameworkHost(f)
		addrs := g.b.hosts.addrs(host)
		if len(addrs) == 0 {
			continue
		}
		fname := g.frameworkName(f)
		if fname == "" {
			continue
		}
		g.nb = g.name(g.nb, fname, ".")
		for _, addr := range addrs {
			g.b.addAddr(g.nb, addr)
		}
		if port > 0 && port <= 0xffff {
			g.tb = g.name(g.tb, fname, ".")
			g.nb = g.name(g.nb, "_framework._tcp.", fname, ".")
			g.b.addSRV(g.nb, g.tb, uint16(port))
		}
	}
}

// agents adds "slave.domain." A/AAAA for each agent and "_slave._tcp.domain."
// SRV to its port, and remembers each agent's address for its tasks.
func (g *generator) agents(c *state.Cluster) {
	g.agentAddrs = g.agentAddrMap(c)
	slave := g.name(nil, "slave.")
	srvName := g.name(nil, "_slave._tcp.")
	for i := range c.Agents {
		a := &c.Agents[i]
		addrs := g.agentAddrs[a.ID]
		if len(addrs) == 0 {
			continue
		}
		for _, addr := range addrs {
			g.b.addAddr(slave, addr)
		}
		if a.Port > 0 && a.Port <= 0xffff {
			g.b.addSRV(srvName, slave, uint16(a.Port))
		}
	}
}

// interfaceAddrs lists this host's addresses; a variable for tests.
var interfaceAddrs = net.InterfaceAddrs

// nameServer adds the A/AAAA records of SOAMname: the listener address, or with
// an unspecified listener every non-loopback address of this host.
func (g *generator) nameServer() {
	name := []byte(g.b.cfg.soaMname())
	if len(g.b.cfg.NameServerAddrs) > 0 {
		for _, a := range g.b.cfg.NameServerAddrs {
			g.b.addAddr(name, a)
		}
		return
	}
	l := g.b.cfg.Listener
	if l != "" {
		a, err := netip.ParseAddr(l)
		if err != nil {
			return
		}
		if !a.IsUnspecified() {
			g.b.addAddr(name, a)
			return
		}
	}
	addrs, err := interfaceAddrs()
	if err != nil {
		return
	}
	for _, ia := range addrs {
		var ip net.IP
		switch v := ia.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		a = a.Unmap()
		// Link-local addresses need a zone to be used: no use to a client.
		if a.IsLoopback() || a.IsLinkLocalUnicast() {
			continue
		}
		g.b.addAddr(name, a)
	}
}

// masters adds "leader.domain.", "master.domain." and "masterN.domain." A/AAAA,
// "_leader._tcp|_udp.domain." SRV to the leader, and "_master._tcp|_udp.domain."
// SRV to each masterN. masterN numbers follow the order of c.Masters; a leader
// missing from that list gets the next number, as in mesos-dns.
func (g *generator) masters(c *state.Cluster) {
	leader, ok := hostAddr(c.Leader.Host)
	if !ok {
		return
	}
	leaderName := g.name(nil, "leader.")
	master := g.name(nil, "master.")
	g.b.addAddr(leaderName, leader)
	g.b.addAddr(master, leader)
	lport := c.Leader.Port
	if lport > 0 && lport <= 0xffff {
		for _, proto := range []string{"_leader._tcp.", "_leader._udp."} {
			g.nb = g.name(g.nb, proto)
			g.b.addSRV(g.nb, leaderName, uint16(lport))
		}
	}

	addN := func(idx int, addr netip.Addr, port int) {
		g.tb = g.name(g.tb, "master", itoa(idx), ".")
		g.b.addAddr(g.tb, addr)
		if port > 0 && port <= 0xffff {
			for _, proto := range []string{"_master._tcp.", "_master._udp."} {
				g.nb = g.name(g.nb, proto)
				g.b.addSRV(g.nb, g.tb, uint16(port))
			}
		}
	}
	type hp struct {
		host string
		port int
	}
	seen := make(map[netip.Addr]bool)
	seen[leader] = true
	leaderAt := hp{c.Leader.Host, c.Leader.Port}
	addedLeader := false
	idx := 0
	for _, m := range c.Masters {
		addr, ok := hostAddr(m.Host)
		if !ok {
			continue
		}
		isLeader := hp{m.Host, m.Port} == leaderAt
		if !isLeader {
			if seen[addr] {
				continue // a duplicate master
			}
			seen[addr] = true
			g.b.addAddr(master, addr)
		} else if addedLeader {
			continue // the leader listed twice
		}
		addN(idx, addr, m.Port)
		idx++
		if isLeader {
			addedLeader = true
		}
	}
	if !addedLeader {
		addN(idx, leader, lport)
	}
}

// tasks adds the records of every running task on a known agent.
func (g *generator) tasks(c *state.Cluster) {
	g.b.spans = make([]taskSpan, len(c.Tasks))
	for i := range c.Tasks {
		g.b.spans[i] = g.taskIn(c, c.Tasks[i])
	}
}

// taskSpan is where one task's records and the nodes it uses sit in the
// builder's entries and tnodes.
type taskSpan struct {
	e0, e1, n0, n1 uint32
}

// taskIn adds the records of t, a task of c, if it is running on a known
// agent (and, with HealthAwareAnswers, not reported unhealthy), and returns
// where they went.
func (g *generator) taskIn(c *state.Cluster, t *state.Task) (sp taskSpan) {
	b := g.b
	sp = taskSpan{e0: uint32(len(b.entries)), n0: uint32(len(b.tnodes))}
	defer func() { sp.e1, sp.n1 = uint32(len(b.entries)), uint32(len(b.tnodes)) }()
	if t.State != state.TaskRunning || b.cfg.HealthAwareAnswers && t.Healthy != nil && !*t.Healthy {
		return sp
	}
	agent, ok := g.agentAddrs[t.AgentID]
	if !ok {
		return sp
	}
	f := c.Framework(t.FrameworkID)
	if f == nil {
		return sp
	}
	fname := g.frameworkName(f)
	if b.rec != nil {
		if r, ok := b.rec.(taskRecorder); ok {
			r.beginTask(f, t)
		}
	}
	g.task(t, fname, agent)
	return sp
}

// taskRecorder is a recorder that groups records by task (enumeration).
type taskRecorder interface {
	beginTask(f *state.Framework, t *state.Task)
}

// task adds one task's records. With a DiscoveryInfo name, mesos-dns generates
// them twice: under the name as given (legacy) and under its sanitised label.
// We keep the legacy names only where they are valid DNS names.
func (g *generator) task(t *state.Task, fname string, agent []netip.Addr) {
	ips := g.taskAddrs(t, agent)
	hasDI := t.Discovery != nil && t.Discovery.Name != ""
	if !hasDI {
		g.lb = g.spec(g.lb[:0], t.Name)
		g.taskNamed(t, g.lb, fname, ips, agent, false)
		return
	}
	g.lb = g.spec(g.lb[:0], t.Discovery.Name)
	if legacy := t.Discovery.Name; legacy != string(g.lb) && legacyNameOK(legacy) {
		sanitised := g.lb
		g.lb2 = append(g.lb2[:0], legacy...)
		g.taskNamed(t, g.lb2, fname, ips, agent, true)
		g.lb = sanitised
	}
	g.taskNamed(t, g.lb, fname, ips, agent, true)
}

// legacyNameOK reports whether a DiscoveryInfo name used as is gives names a
// client can ask for and mesos-dns answers: labels of 1 to 63 octets of
// lowercase letters, digits, "-" and "_" ("my_service", "api.v2"). mesos-dns
// lowercases the question, so a raw name with capitals never matched there.
func legacyNameOK(name string) bool {
	if name == "" {
		return false
	}
	l := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '.':
			if l == 0 {
				return false
			}
			l = 0
			continue
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		if l++; l > maxLabel {
			return false
		}
	}
	return l > 0
}

// taskAddrs picks the task's addresses as mesos-dns (upstream master) does:
// every address of the first of IPSources that has any, IPv4 and IPv6 alike,
// never addresses of two sources together.
func (g *generator) taskAddrs(t *state.Task, agent []netip.Addr) []netip.Addr {
	for _, src := range g.b.cfg.IPSources {
		var addrs []netip.Addr
		switch src {
		case "netinfo":
			addrs = t.NetInfo
		case "mesos":
			addrs = t.Mesos
		case "docker":
			addrs = t.Docker
		case "host":
			addrs = agent
		}
		for _, a := range addrs {
			if a.IsValid() {
				return addrs
			}
		}
	}
	return nil
}

// sharedNames are the nodes of the names a task shares with the other
// instances of its app. Tasks come sorted by ID, and Mesos task IDs start with
// the app's name, so instances of one app are neighbours: remembering the last
// app's nodes saves most name lookups.
type sharedNames struct {
	valid    bool
	hasDI    bool
	tname    string
	fname    string
	fb       []byte    // fname
	a        uint32    // task.framework.domain.
	slaveA   uint32    // task.framework.slave.domain.
	srvSlave [2]uint32 // _task._tcp|_udp.framework.slave.domain.
	srvFw    [2]uint32 // _task._tcp|_udp.framework.domain. (no DiscoveryInfo)
	diPorts  []diPortKey
	diNodes  [][4]uint32 // per DiscoveryInfo port: SRV names in mesos-dns's order
}

// diPortKey is what a DiscoveryInfo port's SRV names depend on.
type diPortKey struct{ name, protocol string }

func (m *sharedNames) matches(tname []byte, fname string, t *state.Task, hasDI bool) bool {
	if !m.valid || m.hasDI != hasDI || m.tname != string(tname) || m.fname != fname {
		return false
	}
	if !hasDI {
		return true
	}
	ports := t.Discovery.Ports
	if len(ports) != len(m.diPorts) {
		return false
	}
	for i := range ports {
		if ports[i].Name != m.diPorts[i].name || ports[i].Protocol != m.diPorts[i].protocol {
			return false
		}
	}
	return true
}

// appendName appends the labels and then the zone to dst.
func (g *generator) appendName(dst []byte, parts ...[]byte) []byte {
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return append(dst, g.zone...)
}

var (
	dotB    = []byte(".")
	slaveB  = []byte(".slave.")
	protosB = [2][]byte{[]byte("._tcp."), []byte("._udp.")}
)

// shared returns the shared nodes for an instance of app tname in fname.
func (g *generator) shared(t *state.Task, tname []byte, fname string, hasDI bool) *sharedNames {
	for i := range g.memo {
		if g.memo[i].matches(tname, fname, t, hasDI) {
			return &g.memo[i]
		}
	}
	m := &g.memo[g.memoNext]
	g.memoNext = (g.memoNext + 1) % len(g.memo)
	m.fb = append(m.fb[:0], fname...)
	fb := m.fb
	m.valid, m.hasDI, m.tname, m.fname = true, hasDI, string(tname), fname
	m.a = g.b.node(g.appendName(g.nb[:0], tname, dotB, fb, dotB))
	m.slaveA = g.b.node(g.appendName(g.nb[:0], tname, dotB, fb, slaveB))

	var ub [maxLabel + 1]byte
	srvLabel := appendShortLabel(ub[:0], append(append(g.sb[:0], '_'), tname...))
	for i, proto := range protosB {
		m.srvSlave[i] = g.b.node(g.appendName(g.nb[:0], srvLabel, proto, fb, slaveB))
		m.srvFw[i] = noNode
		if !hasDI {
			m.srvFw[i] = g.b.node(g.appendName(g.nb[:0], srvLabel, proto, fb, dotB))
		}
	}
	m.diPorts = m.diPorts[:0]
	m.diNodes = m.diNodes[:0]
	if !hasDI {
		return m
	}
	for _, dp := range t.Discovery.Ports {
		m.diPorts = append(m.diPorts, diPortKey{dp.Name, dp.Protocol})
		nodes := [4]uint32{noNode, noNode, noNode, noNode}
		protos := protosB
		nprotos := 2
		g.pb = g.spec(append(g.pb[:0], '_'), dp.Protocol)
		if under := g.pb; len(under) > 1 {
			// "._proto.", with "_proto" shortened like any label.
			var lb [maxLabel + 2]byte
			l := append(lb[:0], '.')
			l = appendShortLabel(l, under)
			protos[0] = append(l, '.')
			nprotos = 1
		}
		for i := range nprotos {
			nodes[i] = g.b.node(g.appendName(g.nb[:0], srvLabel, protos[i], fb, dotB))
		}
		// The same names prefixed with "_" and the port's name, when it has one.
		g.db = g.spec(append(g.db[:0], '_'), dp.Name)
		if pname := g.db; len(pname) > 1 {
			pname[0] = '_'
			var lb [maxLabel + 1]byte
			named := appendShortLabel(lb[:0], pname)
			for i := range nprotos {
				nodes[2+i] = g.b.node(g.appendName(g.nb[:0], named, dotB, srvLabel, protos[i], fb, dotB))
			}
		}
		m.diNodes = append(m.diNodes, nodes)
	}
	return m
}

// taskNamed adds the records of task t under the label tname.
func (g *generator) taskNamed(t *state.Task, tname []byte, fname string, ips, agent []netip.Addr, hasDI bool) {
	if len(tname) == 0 || fname == "" {
		return
	}
	m := g.shared(t, tname, fname, hasDI)
	fb := m.fb

	// Canonical label: name, hash of the task ID, agent ID tail.
	long := append(g.sb[:0], tname...)
	long = append(long, '-')
	long = appendHash5(long, t.ID)
	long = append(long, '-')
	long = appendAgentIDTail(long, t.AgentID)
	g.sb = long
	var cb [maxLabel]byte
	canonical := appendShortLabel(cb[:0], long)
	// The parents of the canonical names exist once the shared names do,
	// unless the name has dots (a DiscoveryInfo name as given, "api.v2"):
	// then the canonical name's parent is its own ("v2-hash-s1.…").
	pa, ps := g.b.parentOf(m.a), g.b.parentOf(m.slaveA)
	if bytes.IndexByte(canonical, '.') >= 0 {
		pa, ps = noNode, noNode
	}
	canon := g.b.intern(g.appendName(g.nb[:0], canonical, dotB, fb, dotB), pa)
	canonSlave := g.b.intern(g.appendName(g.nb[:0], canonical, dotB, fb, slaveB), ps)
	g.b.uses(m.a, m.slaveA, m.srvSlave[0], m.srvSlave[1], m.srvFw[0], m.srvFw[1], canon, canonSlave)
	for _, ns := range m.diNodes {
		g.b.uses(ns[:]...)
	}

	for _, a := range ips {
		if a.IsValid() {
			g.b.addAddrNode(m.a, a)
			g.b.addAddrNode(canon, a)
		}
	}
	for _, a := range agent {
		g.b.addAddrNode(m.slaveA, a)
		g.b.addAddrNode(canonSlave, a)
	}

	// Port resources: SRV to the canonical name under .slave, for tcp and udp,
	// under .slave and (without DiscoveryInfo) also directly under the framework.
	for _, r := range t.Ports {
		for p := r.Begin; p <= r.End && p <= 0xffff; p++ {
			g.b.addSRVNode(m.srvSlave[0], canonSlave, uint16(p))
			g.b.addSRVNode(m.srvSlave[1], canonSlave, uint16(p))
			if !hasDI {
				g.b.addSRVNode(m.srvFw[0], canonSlave, uint16(p))
				g.b.addSRVNode(m.srvFw[1], canonSlave, uint16(p))
			}
			if p == 0xffff {
				break
			}
		}
	}
	if !hasDI {
		return
	}
	// DiscoveryInfo ports: SRV to the canonical name directly under the
	// framework, for the port's protocol (tcp and udp when it has none), and
	// again prefixed with "_" and the port's name when it has one.
	for i, dp := range t.Discovery.Ports {
		if dp.Number > 0xffff {
			continue
		}
		for _, n := range m.diNodes[i] {
			g.b.addSRVNode(n, canon, uint16(dp.Number))
		}
	}
}
