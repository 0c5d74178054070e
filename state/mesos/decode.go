package mesos

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/discovery-mesos/discovery/state"
)

// FetchMeta is what a source knows about a fetch besides the document itself.
type FetchMeta struct {
	// Source names where the document came from (a master URL, a file path).
	Source string
	// FetchedAt is when the document was read.
	FetchedAt time.Time
	// Masters are the masters the source knows of (static list, ZooKeeper), in
	// order; they become Cluster.Masters.
	Masters []state.Master
	// Size is the document's size in bytes when the source knows it ahead
	// (Content-Length, file size), else 0. DecodeStateFrom sizes its task
	// slice from it and the size of the first tasks, so that the tasks of a
	// large first state are not decoded into chunks and then copied together.
	Size int64
	// MaxDecoded bounds the memory the decoded agents, frameworks and tasks may
	// take (approximately: their structs, and the room slices grow into); 0
	// means no bound. Sources set it to maxStateBytes: decoding from a stream,
	// a document of small objects under the byte limit could otherwise decode
	// into many times its size ({"id":"x"} is 10 bytes, a Task 240).
	MaxDecoded int64
}

// ErrStateTooLarge is returned when decoding a state would take more memory
// than FetchMeta.MaxDecoded.
var ErrStateTooLarge = errors.New("state too large")

// ErrNoLeader is returned for a state document that names no leading master: a
// master that has not been elected (or lost its leader) serves such a document,
// and it carries no cluster to speak of. A caller may try another master.
var ErrNoLeader = errors.New(`state names no leading master (no "leader" or "leader_info")`)

// Status labels that carry a container's address (mesos-dns's "docker" and
// "mesos" IP sources).
const (
	dockerIPLabel = "Docker.NetworkSettings.IPAddress"
	mesosIPLabel  = "MesosContainerizer.NetworkSettings.IPAddress"
)

// appendLabelIP adds the address a status label carries under dockerIPLabel
// or mesosIPLabel to docker or mesos.
func appendLabelIP(k, v []byte, docker, mesos *[]netip.Addr) {
	var to *[]netip.Addr
	switch string(k) {
	case dockerIPLabel:
		to = docker
	case mesosIPLabel:
		to = mesos
	default:
		return
	}
	if a, ok := parseTaskIP(v); ok {
		*to = append(*to, a)
	}
}

// Shared values for Task.Healthy: a Cluster is read-only, so every task can point
// at the same two booleans.
var (
	healthyTrue  = true
	healthyFalse = false
)

// DecodeState parses a Mesos master state document (/master/state or
// /master/state.json, Mesos 0.28 to 1.x, and the older shapes mesos-dns reads) into
// a sealed Cluster, with Source, FetchedAt and Masters taken from meta.
//
// It keeps what discovery uses, following mesos-dns where the format leaves room:
//   - the leader from "leader" (a libprocess pid) and "leader_info"; a document
//     naming no leader is ErrNoLeader;
//   - agents and frameworks with the host and port of their pids (IPv6 pids in
//     brackets; a framework without a pid has empty Host and Port);
//   - the tasks of "frameworks" in every state, each filed under the framework it
//     is listed in; "completed_frameworks", "orphan_tasks" and the frameworks'
//     completed and unreachable tasks are left out, as mesos-dns leaves them out;
//   - task addresses from the newest TASK_RUNNING status by timestamp (the first
//     one on a tie), health from the newest status that reports it;
//   - port range strings, with malformed ranges skipped.
//
// Unknown fields are ignored and null reads as absent. A document that is not
// JSON, is truncated, is not an object, or has a known field of the wrong type is
// an error: a source keeps its last good view rather than publish an empty one.
//
// Each call starts afresh; a source that decodes one master's state after
// another uses a Decoder, which sizes each decode from the last.
func DecodeState(data []byte, meta FetchMeta) (*state.Cluster, error) {
	return new(Decoder).Decode(data, meta)
}

// DecodeStateFrom is DecodeState for a document read from rd as it is
// decoded, which is how sources should decode a fetched state: the document
// (64 MB at 100,000 tasks, several times what the Cluster made of it costs) is
// never held whole, only a window of it of a few hundred kilobytes.
//
// rd is read to its end (io.EOF): what follows the document must be
// whitespace. An error reading it fails the decode, even when what was read is
// a complete document, and is returned wrapped (errors.Is finds it) in place of
// the truncated document it leaves. Once the document proves malformed, rd is
// read no further.
func DecodeStateFrom(rd io.Reader, meta FetchMeta) (*state.Cluster, error) {
	return new(Decoder).DecodeFrom(rd, meta)
}

// A Decoder decodes the state documents of one source, one after another. A
// master's state changes little from one fetch to the next, so each decode
// sizes its task slice from the number of tasks the last one found: at
// 100,000 tasks that saves growing (and copying, and leaving for the garbage
// collector) a 26 MB slice on every fetch. The zero Decoder is ready to use,
// as in a process's first decode; it is safe for concurrent use.
type Decoder struct {
	// taskHint is how many tasks the last decode found.
	taskHint atomic.Int64
}

// Decode is DecodeState, sized from the last decode.
func (dec *Decoder) Decode(data []byte, meta FetchMeta) (*state.Cluster, error) {
	return dec.decode(jsonReader{data: data}, meta)
}

// DecodeFrom is DecodeStateFrom, sized from the last decode.
func (dec *Decoder) DecodeFrom(rd io.Reader, meta FetchMeta) (*state.Cluster, error) {
	r := newStreamReader(rd, stateWindow)
	r.maxToken = int(meta.MaxDecoded)
	return dec.decode(r, meta)
}

// stateWindow is the window DecodeStateFrom starts with: a few hundred
// kilobytes, so that reading costs a call per few thousand tasks.
const stateWindow = 256 << 10

func (dec *Decoder) decode(r jsonReader, meta FetchMeta) (*state.Cluster, error) {
	d := mesosDecoder{r: r, size: int(meta.Size), firstTask: -1, budget: int(meta.MaxDecoded)}
	d.tasks = dec.newTaskSlice()
	if d.budget > 0 && cap(d.tasks)*taskBytes > d.budget/2 {
		d.tasks = nil // the last state's size would spend the budget: grow in chunks
	}
	err := d.charge(cap(d.tasks) * taskBytes)
	if err == nil {
		err = d.document()
	}
	if d.r.err != nil {
		return nil, fmt.Errorf("reading mesos state: %w", d.r.err)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding mesos state: %w", err)
	}
	// A new Cluster, not a pointer into d: the decoder's scratch space must not
	// live as long as the cluster does.
	c := &state.Cluster{
		Source:     meta.Source,
		FetchedAt:  meta.FetchedAt,
		Leader:     d.c.Leader,
		Masters:    slices.Clone(meta.Masters),
		Agents:     d.c.Agents,
		Frameworks: d.c.Frameworks,
		Tasks:      state.TaskPointers(sortTaskChunks(append(d.full, d.tasks))),
		LeftOut:    d.c.LeftOut,
	}
	dec.taskHint.Store(int64(len(c.Tasks)))
	return c.Seal(), nil
}

// mesosDecoder walks a state document once, building the Cluster as it goes.
type mesosDecoder struct {
	r    jsonReader
	strs stringInterner

	labels slabAlloc[state.Label]
	addrs  slabAlloc[netip.Addr]
	ranges slabAlloc[state.PortRange]
	dports slabAlloc[state.DiscoveryPort]
	discos slabAlloc[state.Discovery]

	c state.Cluster
	// tasks is the chunk tasks are appended to; full are the chunks filled
	// before it, in document order. Chunks, rather than one growing slice,
	// because growing copies: a 100,000-task state would copy (and leave for
	// the collector) tens of megabytes of tasks before it is sorted.
	tasks []state.Task
	full  [][]state.Task
	// ntasks counts the tasks in full.
	ntasks int
	// size is FetchMeta.Size; firstTask the document offset of the first
	// task, -1 until it is seen.
	size, firstTask int
	// budget is FetchMeta.MaxDecoded (0: none); spent what charge counted.
	budget, spent int

	// What the top level says about masters, resolved into c.Leader at the end.
	leaderPID     string
	self          state.Master
	leaderInfo    mesosLeaderInfo
	hasLeaderInfo bool

	// Scratch space reused from task to task.
	key, val   []byte
	taskLabels []state.Label
	portLabels []state.Label
	discLabels []state.Label
	taskRanges []state.PortRange
	discPorts  []state.DiscoveryPort
	// badPorts are the discovery port numbers of the current task that are
	// not ports (-1, 70000): those ports are left out, the task kept.
	badPorts  []string
	netAddrs  []netip.Addr
	cur, best statusScratch
}

// statusScratch is what one task status contributes.
type statusScratch struct {
	running    bool
	timestamp  float64
	healthy    bool
	hasHealthy bool
	netInfo    []netip.Addr
	docker     []netip.Addr
	mesos      []netip.Addr
}

func (s *statusScratch) reset() {
	*s = statusScratch{netInfo: s.netInfo[:0], docker: s.docker[:0], mesos: s.mesos[:0]}
}

// mesosLeaderInfo is a Mesos MasterInfo ("leader_info").
type mesosLeaderInfo struct {
	id, pid, hostname string
	ip                uint32
	hasIP             bool
	port              int
	addrIP, addrHost  string
	addrPort          int
}

// mesosPathError places an error inside the document: "frameworks[2].tasks[7].state".
type mesosPathError struct {
	path string
	err  error
}

func (e *mesosPathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *mesosPathError) Unwrap() error { return e.err }

// inPath prefixes err's path with elem.
func inPath(err error, elem string) error {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*mesosPathError); ok {
		if strings.HasPrefix(pe.path, "[") {
			pe.path = elem + pe.path
		} else {
			pe.path = elem + "." + pe.path
		}
		return pe
	}
	return &mesosPathError{path: elem, err: err}
}

// inKey marks err, returned by an object member's callback, as one to place
// under the member's key: jsonReader.object adds the key to its path. The key
// the callback was given may be gone by then (the window moved on while the
// value was read); the reader keeps it for this.
func inKey(err error, _ []byte) error {
	if err == nil {
		return nil
	}
	return &keyedError{err}
}

// inIndex is inPath for an array element.
func inIndex(err error, i int) error {
	if err == nil {
		return nil
	}
	return inPath(err, "["+strconv.Itoa(i)+"]")
}

// describeNonState names what a document starts with, for "not a state" errors.
func describeNonState(c byte) string {
	switch {
	case c == '<':
		return "HTML or XML, not JSON"
	case jsonKind(c) != "no value":
		return jsonKind(c) + ", not an object"
	}
	return fmt.Sprintf("not JSON (starts with %s)", jsonQuoteByte(c))
}

func (d *mesosDecoder) document() error {
	r := &d.r
	if c := r.ws(); c != '{' {
		if r.pos >= len(r.data) {
			return errors.New("not a Mesos state: an empty document")
		}
		return fmt.Errorf("not a Mesos state: %s", describeNonState(c))
	}
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "leader":
			d.leaderPID, err = d.str()
		case "leader_info":
			d.hasLeaderInfo = true
			err = d.leaderInfoObject(&d.leaderInfo)
		case "pid":
			d.self.PID, err = d.str()
		case "id":
			d.self.ID, err = d.str()
		case "hostname":
			d.self.Hostname, err = d.str()
		case "slaves":
			err = r.array(func(i int) error { return inIndex(d.agent(), i) })
		case "frameworks":
			err = r.array(func(i int) error { return inIndex(d.framework(), i) })
		default:
			return r.skip()
		}
		return inKey(err, key)
	})
	if err != nil {
		return err
	}
	if err := r.end(); err != nil {
		return err
	}
	return d.resolveLeader()
}

// resolveLeader fills c.Leader from "leader", "leader_info" and, when the master
// that served the state is the leader, its own "id" and "hostname".
func (d *mesosDecoder) resolveLeader() error {
	info := &d.leaderInfo
	pid := d.leaderPID
	if pid == "" {
		pid = info.pid
	}
	if pid == "" && info.addrIP == "" && !info.hasIP {
		return ErrNoLeader
	}
	m := state.Master{PID: pid}
	switch {
	case d.hasLeaderInfo:
		m.ID = info.id
		m.Hostname = nonEmpty(info.hostname, info.addrHost)
	case d.self.PID != "" && d.self.PID == pid:
		m.ID = d.self.ID
		m.Hostname = d.self.Hostname
	}
	if host, port, ok := splitPID(pid); ok {
		m.Host, m.Port = host, port
	} else {
		switch {
		case info.addrIP != "":
			m.Host = info.addrIP
		case info.hasIP:
			m.Host = mesosInfoIP(info.ip).String()
		default:
			m.Host = m.Hostname
		}
		m.Port = info.port
		if info.addrPort != 0 {
			m.Port = info.addrPort
		}
	}
	d.c.Leader = m
	return nil
}

// nonEmpty returns the first non-empty string.
func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (d *mesosDecoder) leaderInfoObject(mi *mesosLeaderInfo) error {
	r := &d.r
	return r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			mi.id, err = d.str()
		case "pid":
			mi.pid, err = d.str()
		case "hostname":
			mi.hostname, err = d.str()
		case "ip":
			mi.ip, mi.hasIP, err = r.uint32()
		case "port":
			mi.port, err = d.port()
		case "address":
			err = r.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "ip":
					mi.addrIP, err = d.str()
				case "hostname":
					mi.addrHost, err = d.str()
				case "port":
					mi.addrPort, err = d.port()
				default:
					return r.skip()
				}
				return inKey(err, key)
			})
		default:
			return r.skip()
		}
		return inKey(err, key)
	})
}

// str reads a string and interns it: for strings with few distinct values.
func (d *mesosDecoder) str() (string, error) {
	b, err := d.r.str()
	if err != nil || len(b) == 0 {
		return "", err
	}
	return d.strs.get(b), nil
}

// shared reads a string that repeats in runs but has many distinct values (task
// names, label values): it shares recent copies without interning for good.
func (d *mesosDecoder) shared() (string, error) {
	b, err := d.r.str()
	if err != nil || len(b) == 0 {
		return "", err
	}
	return d.strs.share(b), nil
}

// port reads a TCP port number.
func (d *mesosDecoder) port() (int, error) {
	n, _, err := d.r.uint32()
	if err == nil && n > 65535 {
		err = fmt.Errorf("port %d out of range", n)
	}
	return int(n), err
}

func (d *mesosDecoder) agent() error {
	r := &d.r
	a := state.Agent{Active: true}
	d.taskRanges = d.taskRanges[:0]
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			a.ID, err = d.str()
		case "hostname":
			a.Hostname, err = d.str()
		case "pid":
			a.PID, err = d.str()
		case "active":
			if v, ok, e := r.boolean(); ok {
				a.Active = v
			} else {
				err = e
			}
		case "resources":
			err = d.resources()
		case "attributes":
			a.Attributes, err = d.attributes()
		default:
			return r.skip()
		}
		return inKey(err, key)
	})
	if err != nil {
		return err
	}
	a.Host, a.Port, _ = splitPID(a.PID)
	a.Ports = d.ranges.copy(d.taskRanges)
	if len(d.c.Agents) == cap(d.c.Agents) {
		// append doubles: the new array, and the old one left to the collector
		if err := d.charge(2 * max(cap(d.c.Agents), 4) * agentBytes); err != nil {
			return err
		}
	}
	d.c.Agents = append(d.c.Agents, a)
	return nil
}

// resources reads a resources object, keeping its port ranges in d.taskRanges.
func (d *mesosDecoder) resources() error {
	r := &d.r
	return r.object(func(key []byte) error {
		if string(key) != "ports" {
			return r.skip()
		}
		b, err := r.str()
		if err != nil {
			return inPath(err, "ports")
		}
		d.taskRanges = appendPortRanges(d.taskRanges[:0], b)
		return nil
	})
}

// attributes reads agent attributes, rendering scalars as their JSON text and
// ranges and sets as Mesos renders them ("[1-2]", "{a,b}"). Nested values, which
// Mesos does not produce, are left out.
func (d *mesosDecoder) attributes() (map[string]string, error) {
	r := &d.r
	var attrs map[string]string
	err := r.object(func(key []byte) error {
		k := d.strs.get(key)
		var v string
		switch c := r.ws(); {
		case c == '"':
			b, err := r.str()
			if err != nil {
				return inPath(err, k)
			}
			v = d.strs.get(b)
		case c == '-' || jsonDigit(c):
			b, err := r.number()
			if err != nil {
				return inPath(err, k)
			}
			v = d.strs.get(b)
		case c == 't' || c == 'f':
			b, _, err := r.boolean()
			if err != nil {
				return inPath(err, k)
			}
			v = strconv.FormatBool(b)
		default:
			return inPath(r.skip(), k)
		}
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs[k] = v
		return nil
	})
	return attrs, err
}

func (d *mesosDecoder) framework() error {
	r := &d.r
	f := state.Framework{Active: true}
	first := d.ntasks + len(d.tasks)
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			f.ID, err = d.str()
		case "name":
			f.Name, err = d.str()
		case "hostname":
			f.Hostname, err = d.str()
		case "pid":
			f.PID, err = d.str()
		case "active":
			if v, ok, e := r.boolean(); ok {
				f.Active = v
			} else {
				err = e
			}
		case "tasks":
			err = r.array(func(i int) error { return inIndex(d.task(), i) })
		default:
			return r.skip()
		}
		return inKey(err, key)
	})
	if err != nil {
		return err
	}
	f.Host, f.Port, _ = splitPID(f.PID)
	// A task belongs to the framework that lists it (mesos-dns names it after
	// that framework), whatever its own framework_id says.
	if f.ID != "" {
		d.setFrameworkID(first, f.ID)
	}
	if len(d.c.Frameworks) == cap(d.c.Frameworks) {
		if err := d.charge(2 * max(cap(d.c.Frameworks), 4) * frameworkBytes); err != nil {
			return err
		}
	}
	d.c.Frameworks = append(d.c.Frameworks, f)
	return nil
}

func (d *mesosDecoder) task() error {
	r := &d.r
	if d.firstTask < 0 {
		d.firstTask = r.offset(r.pos)
	}
	var t state.Task
	d.taskLabels = d.taskLabels[:0]
	d.taskRanges = d.taskRanges[:0]
	d.badPorts = d.badPorts[:0]
	d.best.reset()
	found := false
	var healthTS float64
	var healthKnown, healthy bool
	var agentID string // the newer name, used when slave_id is absent
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			var b []byte
			if b, err = r.str(); err == nil {
				t.ID = d.strs.arena.str(b)
			}
		case "name":
			t.Name, err = d.shared()
		case "framework_id":
			t.FrameworkID, err = d.str()
		case "slave_id":
			t.AgentID, err = d.str()
		case "agent_id":
			agentID, err = d.str()
		case "state":
			var s string
			s, err = d.str()
			t.State = state.TaskState(s)
		case "labels":
			d.taskLabels, err = d.labelList(d.taskLabels[:0])
		case "resources":
			err = d.resources()
		case "discovery":
			t.Discovery, err = d.discovery()
		case "statuses":
			err = r.array(func(i int) error {
				if err := d.status(); err != nil {
					return inIndex(err, i)
				}
				s := &d.cur
				if s.hasHealthy && (!healthKnown || s.timestamp > healthTS) {
					healthKnown, healthy, healthTS = true, s.healthy, s.timestamp
				}
				if s.running && (!found || s.timestamp > d.best.timestamp) {
					found = true
					d.cur, d.best = d.best, d.cur
				}
				return nil
			})
		default:
			return r.skip()
		}
		return inKey(err, key)
	})
	if err != nil {
		return err
	}
	if t.AgentID == "" {
		t.AgentID = agentID
	}
	if len(d.badPorts) > 0 {
		d.c.LeftOut = append(d.c.LeftOut, state.LeftOut{ID: t.ID,
			Reason: fmt.Sprintf("discovery port number %s out of range: port left out", strings.Join(d.badPorts, ", "))})
	}
	t.Labels = d.labels.copy(d.taskLabels)
	t.Ports = d.ranges.copy(d.taskRanges)
	if found {
		t.NetInfo = d.addrs.copy(d.best.netInfo)
		t.Docker = d.addrs.copy(d.best.docker)
		t.Mesos = d.addrs.copy(d.best.mesos)
		t.RunningSince = mesosTime(d.best.timestamp)
	}
	if healthKnown {
		if healthy {
			t.Healthy = &healthyTrue
		} else {
			t.Healthy = &healthyFalse
		}
	}
	if len(d.tasks) == cap(d.tasks) {
		d.newTaskChunk()
		if err := d.charge(cap(d.tasks) * taskBytes); err != nil {
			return err
		}
	}
	d.tasks = append(d.tasks, t)
	return nil
}

// Sizes of what the decoder keeps, for its budget.
const (
	agentBytes     = int(unsafe.Sizeof(state.Agent{}))
	frameworkBytes = int(unsafe.Sizeof(state.Framework{}))
	taskBytes      = int(unsafe.Sizeof(state.Task{})) + 8 // and its pointer in the view
)

// charge counts n bytes of decoded state against the budget.
func (d *mesosDecoder) charge(n int) error {
	d.spent += n
	if d.budget > 0 && d.spent > d.budget {
		return fmt.Errorf("%w: decoding it takes more than %d bytes of memory (maxStateBytes)", ErrStateTooLarge, d.budget)
	}
	return nil
}

// maxTaskChunk is the most tasks a chunk holds after the first (a megabyte).
const maxTaskChunk = 4096

// sampleTasks is how many tasks the decoder reads before it estimates how many
// the document holds, when it knows the document's size.
const sampleTasks = 256

// newTaskChunk starts a new chunk of tasks, the current one being full.
func (d *mesosDecoder) newTaskChunk() {
	if cap(d.tasks) == 0 {
		d.tasks = make([]state.Task, 0, sampleTasks)
		return
	}
	if len(d.full) == 0 && len(d.tasks) == sampleTasks && d.size > 0 {
		// Estimate the tasks from the size of those read so far, as if the
		// rest of the document were tasks like them, and leave a quarter more
		// room: the first tasks may be larger than most. An estimate too
		// small falls back on chunks; one much too large is trimmed by
		// sortTaskChunks. Tasks are taken to be 256 bytes at least (real ones
		// are several times that), which bounds the estimate by the size of
		// the document.
		span := d.r.offset(d.r.pos) - d.firstTask
		est := (d.size - d.firstTask) / max(span/sampleTasks, 256)
		if d.budget > 0 && (est+est/4+64)*taskBytes > d.budget/2 {
			est = 0 // would spend the budget at once: grow in chunks, each charged
		}
		if est > 2*sampleTasks {
			d.tasks = append(make([]state.Task, 0, est+est/4+64), d.tasks...)
			return
		}
	}
	d.full = append(d.full, d.tasks)
	d.ntasks += len(d.tasks)
	d.tasks = make([]state.Task, 0, min(max(d.ntasks, 64), maxTaskChunk))
}

// setFrameworkID files the tasks from the first'th on under framework id.
func (d *mesosDecoder) setFrameworkID(first int, id string) {
	at := 0 // index of the chunk's first task
	for _, ch := range d.full {
		for i := max(first-at, 0); i < len(ch); i++ {
			ch[i].FrameworkID = id
		}
		at += len(ch)
	}
	for i := max(first-at, 0); i < len(d.tasks); i++ {
		d.tasks[i].FrameworkID = id
	}
}

// mesosTime converts a Mesos timestamp (seconds since the epoch, as a float) to a
// time, to the microsecond. Nonsense timestamps give the zero time.
func mesosTime(ts float64) time.Time {
	if !(ts > 0 && ts < 1e11) {
		return time.Time{}
	}
	sec, frac := math.Modf(ts)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
}

// status reads one task status into d.cur.
func (d *mesosDecoder) status() error {
	r := &d.r
	s := &d.cur
	s.reset()
	return r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "state":
			var b []byte
			b, err = r.str()
			s.running = string(b) == string(state.TaskRunning)
		case "timestamp":
			s.timestamp, _, err = r.float()
		case "healthy":
			s.healthy, s.hasHealthy, err = r.boolean()
		case "labels":
			err = d.eachLabel(func(k, v []byte) { appendLabelIP(k, v, &s.docker, &s.mesos) })
		case "container_status":
			err = r.object(func(key []byte) error {
				if string(key) != "network_infos" {
					return r.skip()
				}
				return inPath(r.array(func(i int) error {
					return inIndex(d.networkInfo(s), i)
				}), "network_infos")
			})
		default:
			return r.skip()
		}
		return inKey(err, key)
	})
}

// networkInfo reads one NetworkInfo, appending its addresses to s.netInfo: those
// of "ip_addresses" (Mesos 0.26 on) or, when there are none, the 0.25-era
// "ip_address".
func (d *mesosDecoder) networkInfo(s *statusScratch) error {
	r := &d.r
	d.netAddrs = d.netAddrs[:0]
	listed := 0
	var legacy netip.Addr
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "ip_addresses":
			err = r.array(func(i int) error {
				listed++
				return inIndex(r.object(func(key []byte) error {
					if string(key) != "ip_address" {
						return r.skip()
					}
					b, err := r.str()
					if a, ok := parseTaskIP(b); ok {
						d.netAddrs = append(d.netAddrs, a)
					}
					return inPath(err, "ip_address")
				}), i)
			})
		case "ip_address":
			var b []byte
			if b, err = r.str(); err == nil {
				legacy, _ = parseTaskIP(b)
			}
		default:
			return r.skip()
		}
		return inKey(err, key)
	})
	if err != nil {
		return err
	}
	if listed > 0 {
		s.netInfo = append(s.netInfo, d.netAddrs...)
	} else if legacy.IsValid() {
		s.netInfo = append(s.netInfo, legacy)
	}
	return nil
}

// eachLabel reads a label list, either the array of {"key","value"} objects of the
// state endpoints or the {"labels": [...]} object of the protobuf JSON mapping,
// calling fn with each label. Key and value are valid only during the call.
func (d *mesosDecoder) eachLabel(fn func(k, v []byte)) error {
	r := &d.r
	if r.ws() == '{' {
		return r.object(func(key []byte) error {
			if string(key) != "labels" {
				return r.skip()
			}
			return inPath(d.labelArray(fn), "labels")
		})
	}
	return d.labelArray(fn)
}

func (d *mesosDecoder) labelArray(fn func(k, v []byte)) error {
	r := &d.r
	return r.array(func(i int) error {
		d.key, d.val = d.key[:0], d.val[:0]
		err := r.object(func(key []byte) error {
			var dst *[]byte
			switch string(key) {
			case "key":
				dst = &d.key
			case "value":
				dst = &d.val
			default:
				return r.skip()
			}
			b, err := r.str()
			*dst = append((*dst)[:0], b...)
			return inKey(err, key)
		})
		if err != nil {
			return inIndex(err, i)
		}
		fn(d.key, d.val)
		return nil
	})
}

// labelList reads a label list into dst, interning keys and values.
func (d *mesosDecoder) labelList(dst []state.Label) ([]state.Label, error) {
	err := d.eachLabel(func(k, v []byte) {
		dst = append(dst, state.Label{Key: d.strs.get(k), Value: d.strs.share(v)})
	})
	return dst, err
}

// discovery reads a DiscoveryInfo.
func (d *mesosDecoder) discovery() (*state.Discovery, error) {
	r := &d.r
	if isNull, err := r.null(); isNull || err != nil {
		return nil, err
	}
	var di state.Discovery
	d.discPorts = d.discPorts[:0]
	d.discLabels = d.discLabels[:0]
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "visibility":
			di.Visibility, err = d.str()
		case "name":
			di.Name, err = d.shared()
		case "labels":
			d.discLabels, err = d.labelList(d.discLabels[:0])
		case "ports":
			if r.ws() == '[' {
				err = d.discoveryPorts()
				break
			}
			err = r.object(func(key []byte) error {
				if string(key) != "ports" {
					return r.skip()
				}
				return inPath(d.discoveryPorts(), "ports")
			})
		default:
			return r.skip()
		}
		return inKey(err, key)
	})
	if err != nil {
		return nil, err
	}
	di.Ports = d.dports.copy(d.discPorts)
	di.Labels = d.labels.copy(d.discLabels)
	return d.discos.one(di), nil
}

func (d *mesosDecoder) discoveryPorts() error {
	r := &d.r
	d.discPorts = d.discPorts[:0]
	return r.array(func(i int) error {
		var p state.DiscoveryPort
		valid := true
		d.portLabels = d.portLabels[:0]
		err := r.object(func(key []byte) error {
			var err error
			switch string(key) {
			case "number":
				var b []byte
				if b, err = r.number(); err == nil && b != nil {
					n, perr := strconv.ParseUint(string(b), 10, 16)
					p.Number, valid = uint32(n), perr == nil
					if !valid && len(d.badPorts) < 8 {
						d.badPorts = append(d.badPorts, string(b))
					}
				}
			case "name":
				p.Name, err = d.str()
			case "protocol":
				p.Protocol, err = d.str()
			case "labels":
				d.portLabels, err = d.labelList(d.portLabels[:0])
			default:
				return r.skip()
			}
			return inKey(err, key)
		})
		if err != nil {
			return inIndex(err, i)
		}
		if !valid {
			return nil // reported with the task
		}
		p.Labels = d.labels.copy(d.portLabels)
		d.discPorts = append(d.discPorts, p)
		return nil
	})
}

// newTaskSlice returns an empty task slice sized by the last decode.
func (dec *Decoder) newTaskSlice() []state.Task {
	n := dec.taskHint.Load()
	if n <= 0 {
		return nil
	}
	return make([]state.Task, 0, n+n/32+16)
}

// sortTasks sorts tasks by ID, and tasks with equal IDs (some documents repeat
// them) in document order, which leaves Seal's sort with nothing to do.
func sortTasks(tasks []state.Task) []state.Task { return sortTaskChunks([][]state.Task{tasks}) }

// sortTaskChunks is sortTasks for the tasks of chunks, in order. It sorts a
// small index and then moves each task once: from the chunks into one slice of
// the right size, or when there is one chunk, in place, following the cycles
// of the permutation rather than swapping whole tasks around. A single chunk
// much larger than needed (a hint from a bigger cluster, an estimate far off)
// is copied into a slice of the right size.
func sortTaskChunks(chunks [][]state.Task) []state.Task {
	n := 0
	for _, ch := range chunks {
		n += len(ch)
	}
	if n == 0 {
		return nil
	}
	// Most IDs differ in their first eight bytes: compare those as one integer.
	// c and i place the task: chunk and index in it.
	type ref struct {
		prefix uint64
		id     string
		c, i   int32
	}
	refs := make([]ref, n)
	k := 0
	for c, ch := range chunks {
		for i := range ch {
			refs[k] = ref{taskIDPrefix(ch[i].ID), ch[i].ID, int32(c), int32(i)}
			k++
		}
	}
	slices.SortFunc(refs, func(a, b ref) int {
		if a.prefix != b.prefix {
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		if a.c != b.c {
			return int(a.c - b.c)
		}
		return int(a.i - b.i)
	})
	var tasks []state.Task
	for _, ch := range chunks {
		if len(ch) > 0 {
			if len(ch) < n {
				tasks = nil // more than one chunk holds tasks
				break
			}
			tasks = ch
		}
	}
	if tasks == nil {
		out := make([]state.Task, n)
		for k, r := range refs {
			out[k] = chunks[r.c][r.i]
		}
		return out
	}
	if cap(tasks) > n+n/4+64 {
		tasks = slices.Clone(tasks)
	}
	// Position k takes the task at refs[k].i. Follow each cycle from k, moving
	// tasks into place and marking placed positions with -1.
	for k := range refs {
		if refs[k].i < 0 || int(refs[k].i) == k {
			continue
		}
		held := tasks[k]
		j := k
		for {
			src := int(refs[j].i)
			refs[j].i = -1
			if src == k {
				tasks[j] = held
				break
			}
			tasks[j] = tasks[src]
			j = src
		}
	}
	return tasks
}

// taskIDPrefix packs the first eight bytes of id big-endian, zero-padded, so that
// comparing prefixes orders strings as comparing the strings does, ties aside.
func taskIDPrefix(id string) uint64 {
	var p uint64
	for k := 0; k < 8; k++ {
		p <<= 8
		if k < len(id) {
			p |= uint64(id[k])
		}
	}
	return p
}
