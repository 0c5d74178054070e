package mesos

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime/debug"
	"strconv"
	"unsafe"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/master"

	"github.com/discovery-mesos/discovery/state"
)

// The SUBSCRIBED event carries the master's whole state (GET_STATE) in v1
// JSON: 130 MB at 100,000 tasks, twice what the same cluster's /master/state
// takes, and 2.6 s for encoding/json to decode into mesos-go's types, which
// then hold several times what the model keeps. So it is decoded as it
// arrives, straight from the RecordIO body into the slim model, as
// /master/state is: its size in bytes bounds nothing, only what it decodes
// into counts against maxStateBytes.

// subscribedState is what the stream keeps of a SUBSCRIBED event.
type subscribedState struct {
	// heartbeat is heartbeat_interval_seconds; 0 when the master names none.
	heartbeat float64
	// hasState: get_state was there (a SUBSCRIBED without it carries no
	// cluster, and must not replace the view with an empty one).
	hasState   bool
	agents     []state.Agent
	frameworks []masterFramework
	// tasks are the pending tasks, then the launched ones, terminal ones left
	// out; their keys are set by streamModel.reset.
	tasks       []*modelTask
	unreachable []*modelTask
}

// subscribedFromV1 converts a SUBSCRIBED event mesos-go decoded (a record
// that did not look like SUBSCRIBED from its first bytes; see
// looksSubscribed).
func subscribedFromV1(e *master.Event_Subscribed) *subscribedState {
	ss := &subscribedState{heartbeat: e.GetHeartbeatIntervalSeconds()}
	st := e.GetState
	if st == nil {
		return ss
	}
	ss.hasState = true
	if ga := st.GetAgents; ga != nil {
		for i := range ga.Agents {
			ss.agents = append(ss.agents, agentFromV1(&ga.Agents[i]))
		}
	}
	if gf := st.GetFrameworks; gf != nil {
		ss.frameworks = gf.Frameworks
	}
	if gt := st.GetTasks; gt != nil {
		for _, list := range [][]mesos.Task{gt.PendingTasks, gt.Tasks} {
			for i := range list {
				t := &list[i]
				if t.State != nil && terminalTaskState(*t.State) {
					continue
				}
				task, hist := taskFromV1(t)
				ss.tasks = append(ss.tasks, &modelTask{t: &task, hist: hist})
			}
		}
		for i := range gt.UnreachableTasks {
			task, hist := taskFromV1(&gt.UnreachableTasks[i])
			ss.unreachable = append(ss.unreachable, &modelTask{t: &task, hist: hist})
		}
	}
	return ss
}

// errSubscribedRefused is a SUBSCRIBED event that cannot be taken: malformed,
// or decoding into more than maxStateBytes. Subscribing again would read the
// same state again; the source polls /master/state instead.
var errSubscribedRefused = errors.New("SUBSCRIBED event refused")

// looksSubscribed tells from the first bytes of a record whether it is a
// SUBSCRIBED event: its first member is "type":"SUBSCRIBED" (as Mesos writes
// it, fields in protobuf order) or "subscribed" (as an encoder that sorts
// keys writes it). Any other record, or one this cannot tell, is read whole
// and decoded by decodeEvent.
func looksSubscribed(head []byte) bool {
	r := jsonReader{data: head}
	if r.ws() != '{' {
		return false
	}
	r.pos++
	if r.ws() != '"' {
		return false
	}
	key, err := r.rawString()
	if err != nil {
		return false
	}
	switch string(key) {
	case "subscribed":
		return true
	case "type":
		if r.ws() != ':' {
			return false
		}
		r.pos++
		if r.ws() != '"' {
			return false
		}
		v, err := r.rawString()
		return err == nil && string(v) == "SUBSCRIBED"
	}
	return false
}

// subscribedHead is how many bytes of a record looksSubscribed is shown.
const subscribedHead = 256

// subscribedWindow is the window the SUBSCRIBED decoder reads through.
const subscribedWindow = 256 << 10

// decodeSubscribed decodes a SUBSCRIBED event from src, which yields the
// record and then io.EOF, as it reads it. budget bounds the memory what it
// keeps takes (approximately; 0: none). An error reading src is returned
// wrapped (errors.Is finds it); any other error wraps errSubscribedRefused.
func decodeSubscribed(src io.Reader, budget int64) (ss *subscribedState, err error) {
	d := subscribedDecoder{r: newStreamReader(src, subscribedWindow), budget: int(budget), ss: &subscribedState{}}
	d.r.maxToken = int(budget)
	defer func() {
		if p := recover(); p != nil {
			ss, err = nil, fmt.Errorf("%w: decoder panic: %v\n%s", errSubscribedRefused, p, debug.Stack())
		}
	}()
	err = d.event()
	if errors.Is(d.r.err, ErrStateTooLarge) {
		return nil, fmt.Errorf("%w: %w", errSubscribedRefused, d.r.err)
	}
	if d.r.err != nil {
		return nil, fmt.Errorf("reading the SUBSCRIBED event: %w", d.r.err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSubscribedRefused, err)
	}
	return d.ss, nil
}

// subscribedDecoder walks a SUBSCRIBED event once, building subscribedState.
type subscribedDecoder struct {
	r      jsonReader
	ss     *subscribedState
	strs   stringInterner
	budget int
	spent  int

	labelSlab slabAlloc[state.Label]
	addrs     slabAlloc[netip.Addr]

	// Scratch space reused from task to task.
	hist    []slimStatus
	ranges  []state.PortRange
	scratch []state.Label
}

// Sizes of what the decoder keeps, for its budget: as DecodeState's, the
// structures per task (the model's task and its status history), not the
// strings they share with the document's other tasks.
const (
	modelTaskBytes  = int(unsafe.Sizeof(modelTask{})+unsafe.Sizeof(state.Task{})) + 8 // and its pointer in the order
	slimStatusBytes = int(unsafe.Sizeof(slimStatus{}))
)

func (d *subscribedDecoder) charge(n int) error {
	d.spent += n
	if d.budget > 0 && d.spent > d.budget {
		return fmt.Errorf("%w: decoding it takes more than %d bytes of memory (maxStateBytes)", ErrStateTooLarge, d.budget)
	}
	return nil
}

// str copies a string out of the window.
func (d *subscribedDecoder) str() (string, error) {
	b, err := d.r.str()
	return string(b), err
}

// shared is str for a value many objects repeat (IDs of agents and
// frameworks, states).
func (d *subscribedDecoder) shared() (string, error) {
	b, err := d.r.str()
	return d.strs.get(b), err
}

func (d *subscribedDecoder) event() error {
	r := &d.r
	if c := r.ws(); c != '{' {
		if r.pos >= len(r.data) {
			return errors.New("an empty record")
		}
		return fmt.Errorf("not an event: %s", describeNonState(c))
	}
	typ := ""
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "type":
			var b []byte
			if b, err = r.str(); err == nil && string(b) != "SUBSCRIBED" {
				err = fmt.Errorf("a %q event shaped as SUBSCRIBED", b)
			}
			typ = "SUBSCRIBED"
		case "subscribed":
			err = r.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "get_state":
					d.ss.hasState = true
					err = d.getState()
				case "heartbeat_interval_seconds":
					d.ss.heartbeat, _, err = r.float()
				default:
					err = r.skip()
				}
				return inKey(err, key)
			})
		default:
			err = r.skip()
		}
		return inKey(err, key)
	})
	if err != nil {
		return err
	}
	if typ == "" {
		return errors.New(`no "type"`)
	}
	return r.end()
}

func (d *subscribedDecoder) getState() error {
	r := &d.r
	return r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "get_agents":
			err = d.member("agents", func() error {
				return r.array(func(i int) error { return inIndex(d.agent(), i) })
			})
		case "get_frameworks":
			err = d.member("frameworks", func() error {
				return r.array(func(i int) error { return inIndex(d.framework(), i) })
			})
		case "get_tasks":
			err = r.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "tasks", "pending_tasks":
					err = r.array(func(i int) error { return inIndex(d.task(false), i) })
				case "unreachable_tasks":
					err = r.array(func(i int) error { return inIndex(d.task(true), i) })
				default:
					err = r.skip()
				}
				return inKey(err, key)
			})
		default:
			err = r.skip()
		}
		return inKey(err, key)
	})
}

// member reads an object, calling fn for its member name and skipping the
// others.
func (d *subscribedDecoder) member(name string, fn func() error) error {
	return d.r.object(func(key []byte) error {
		if string(key) != name {
			return d.r.skip()
		}
		return inKey(fn(), key)
	})
}

// value reads {"value": "…"}, the shape of every v1 ID.
func (d *subscribedDecoder) value(shared bool) (string, error) {
	v := ""
	err := d.member("value", func() error {
		var err error
		if shared {
			v, err = d.shared()
		} else {
			v, err = d.str()
		}
		return err
	})
	return v, err
}

// withInfo reads an object whose member infoKey is an object read by info,
// and whose other members other reads; both name the member in errors.
func (d *subscribedDecoder) withInfo(infoKey string, info, other func(key []byte) error) error {
	r := &d.r
	return r.object(func(key []byte) error {
		if string(key) == infoKey {
			return inKey(r.object(func(key []byte) error { return inKey(info(key), key) }), key)
		}
		return inKey(other(key), key)
	})
}

// agent reads a GET_AGENTS agent, as agentFromV1 converts it.
func (d *subscribedDecoder) agent() error {
	r := &d.r
	var a masterAgent
	info := &a.AgentInfo
	err := d.withInfo("agent_info", func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			var id string
			if id, err = d.value(true); err == nil {
				info.ID = &mesos.AgentID{Value: id}
			}
		case "hostname":
			info.Hostname, err = d.str()
		case "port":
			var p uint32
			var ok bool
			if p, ok, err = r.uint32(); ok && err == nil {
				port := int32(p)
				info.Port = &port
			}
		case "resources":
			info.Resources, err = d.resources()
		case "attributes":
			err = r.array(func(i int) error {
				at, err := d.attribute()
				info.Attributes = append(info.Attributes, at)
				return inIndex(err, i)
			})
		default:
			err = r.skip()
		}
		return err
	}, func(key []byte) error {
		var err error
		switch string(key) {
		case "active":
			a.Active, _, err = r.boolean()
		case "pid":
			var pid string
			if pid, err = d.str(); err == nil {
				a.PID = &pid
			}
		case "total_resources":
			a.TotalResources, err = d.resources()
		default:
			err = r.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := d.charge(agentBytes); err != nil {
		return err
	}
	d.ss.agents = append(d.ss.agents, agentFromV1(&a))
	return nil
}

// resources reads a Resource list, keeping the ranges of "ports".
func (d *subscribedDecoder) resources() ([]mesos.Resource, error) {
	r := &d.r
	var out []mesos.Resource
	err := r.array(func(i int) error {
		var res mesos.Resource
		err := r.object(func(key []byte) error {
			var err error
			switch string(key) {
			case "name":
				res.Name, err = d.shared()
			case "ranges":
				res.Ranges, err = d.valueRanges()
			default:
				err = r.skip()
			}
			return inKey(err, key)
		})
		if res.Name == "ports" {
			out = append(out, res)
		}
		return inIndex(err, i)
	})
	return out, err
}

// valueRanges reads {"range": [{"begin": b, "end": e}…]}. A bound that is
// not an unsigned integer leaves its range out (portsFromResources leaves
// out those that are no port range).
func (d *subscribedDecoder) valueRanges() (*mesos.Value_Ranges, error) {
	r := &d.r
	if r.ws() == 'n' {
		return nil, r.literal("null")
	}
	out := &mesos.Value_Ranges{}
	err := d.member("range", func() error {
		return r.array(func(i int) error {
			var rg mesos.Value_Range
			good := 0
			err := r.object(func(key []byte) error {
				var bound *uint64
				switch string(key) {
				case "begin":
					bound = &rg.Begin
				case "end":
					bound = &rg.End
				default:
					return inKey(r.skip(), key)
				}
				b, err := r.number()
				if err != nil {
					return inKey(err, key)
				}
				if n, perr := strconv.ParseUint(string(b), 10, 64); perr == nil {
					*bound = n
					good++
				}
				return nil
			})
			if good == 2 {
				out.Range = append(out.Range, rg)
			}
			return inIndex(err, i)
		})
	})
	return out, err
}

// attribute reads an agent Attribute.
func (d *subscribedDecoder) attribute() (mesos.Attribute, error) {
	r := &d.r
	var at mesos.Attribute
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "name":
			at.Name, err = d.shared()
		case "text":
			var v string
			if v, err = d.value(false); err == nil {
				at.Text = &mesos.Value_Text{Value: v}
			}
		case "scalar":
			err = d.member("value", func() error {
				f, _, err := r.float()
				at.Scalar = &mesos.Value_Scalar{Value: f}
				return err
			})
		case "ranges":
			at.Ranges, err = d.valueRanges()
		case "set":
			at.Set = &mesos.Value_Set{}
			err = d.member("item", func() error {
				return r.array(func(i int) error {
					s, err := d.str()
					at.Set.Item = append(at.Set.Item, s)
					return inIndex(err, i)
				})
			})
		default:
			err = r.skip()
		}
		return inKey(err, key)
	})
	return at, err
}

// framework reads a GET_FRAMEWORKS framework: what frameworkFromV1 uses.
func (d *subscribedDecoder) framework() error {
	r := &d.r
	var f masterFramework
	info := &f.FrameworkInfo
	err := d.withInfo("framework_info", func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			var id string
			if id, err = d.value(true); err == nil {
				info.ID = &mesos.FrameworkID{Value: id}
			}
		case "name":
			info.Name, err = d.str()
		case "hostname":
			var h string
			if h, err = d.str(); err == nil {
				info.Hostname = &h
			}
		default:
			err = r.skip()
		}
		return err
	}, func(key []byte) error {
		if string(key) != "active" {
			return r.skip()
		}
		var err error
		f.Active, _, err = r.boolean()
		return err
	})
	if err != nil {
		return err
	}
	if err := d.charge(frameworkBytes); err != nil {
		return err
	}
	d.ss.frameworks = append(d.ss.frameworks, f)
	return nil
}

// taskState reads a TaskState, by name or number, as mesos-go does.
func (d *subscribedDecoder) taskState() (mesos.TaskState, bool, error) {
	r := &d.r
	if c := r.ws(); c == '-' || jsonDigit(c) {
		b, err := r.number()
		if err != nil {
			return 0, false, err
		}
		n, perr := strconv.ParseInt(string(b), 10, 32)
		if perr != nil {
			return 0, false, fmt.Errorf("task state %s: not a TaskState", b)
		}
		return mesos.TaskState(n), true, nil
	}
	b, err := r.str()
	if err != nil || b == nil {
		return 0, false, err
	}
	v, ok := mesos.TaskState_value[string(b)]
	if !ok {
		return 0, false, fmt.Errorf("unknown task state %q", b)
	}
	return mesos.TaskState(v), true, nil
}

// task reads a Task into the slim model, as taskFromV1 converts it; parked
// files it with the unreachable tasks.
func (d *subscribedDecoder) task(parked bool) error {
	r := &d.r
	var t state.Task
	var st mesos.TaskState
	hasState := false
	d.hist = d.hist[:0]
	d.ranges = d.ranges[:0]
	portResources := 0
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "task_id":
			t.ID, err = d.value(false)
		case "name":
			t.Name, err = d.str()
		case "framework_id":
			t.FrameworkID, err = d.value(true)
		case "agent_id":
			t.AgentID, err = d.value(true)
		case "state":
			st, hasState, err = d.taskState()
		case "labels":
			t.Labels, err = d.labels()
		case "resources":
			err = r.array(func(i int) error {
				name, start, hasRanges := "", len(d.ranges), false
				err := r.object(func(key []byte) error {
					var err error
					switch string(key) {
					case "name":
						name, err = d.shared()
					case "ranges":
						var rs *mesos.Value_Ranges
						if rs, err = d.valueRanges(); err == nil && rs != nil {
							hasRanges = true
							for _, v := range rs.Range {
								if v.Begin <= v.End && v.End <= 65535 {
									d.ranges = append(d.ranges, state.PortRange{Begin: uint32(v.Begin), End: uint32(v.End)})
								}
							}
						}
					default:
						err = r.skip()
					}
					return inKey(err, key)
				})
				if name != "ports" {
					d.ranges = d.ranges[:start]
				} else if hasRanges {
					portResources++
				}
				return inIndex(err, i)
			})
		case "discovery":
			t.Discovery, err = d.discovery()
		case "statuses":
			err = r.array(func(i int) error {
				s, err := d.status()
				d.hist = append(d.hist, s)
				return inIndex(err, i)
			})
		default:
			err = r.skip()
		}
		return inKey(err, key)
	})
	if err != nil {
		return err
	}
	if !parked && hasState && terminalTaskState(st) {
		return nil
	}
	if hasState {
		t.State = state.TaskState(d.strs.get([]byte(st.String())))
	}
	if len(d.ranges) > 0 {
		rs := d.ranges
		if portResources > 1 {
			rs = coalesceRanges(rs)
		}
		t.Ports = append([]state.PortRange(nil), rs...)
	}
	hist := append([]slimStatus(nil), pruneStatuses(d.hist)...)
	applyStatuses(&t, hist)
	if err := d.charge(modelTaskBytes + len(hist)*slimStatusBytes); err != nil {
		return err
	}
	mt := &modelTask{t: &t, hist: hist}
	if parked {
		d.ss.unreachable = append(d.ss.unreachable, mt)
	} else {
		d.ss.tasks = append(d.ss.tasks, mt)
	}
	return nil
}

// labels reads {"labels": [{"key": k, "value": v}…]}; nil for none.
func (d *subscribedDecoder) labels() ([]state.Label, error) {
	d.scratch = d.scratch[:0]
	err := d.eachLabel(func(k, v []byte) {
		d.scratch = append(d.scratch, state.Label{Key: d.strs.get(k), Value: d.strs.share(v)})
	})
	return d.labelSlab.copy(d.scratch), err
}

// eachLabel calls fn with the key and value of each label of a Labels
// object; the bytes are valid only during the call.
func (d *subscribedDecoder) eachLabel(fn func(k, v []byte)) error {
	r := &d.r
	return d.member("labels", func() error {
		return r.array(func(i int) error {
			var key, val []byte
			err := r.object(func(k []byte) error {
				var err error
				var b []byte
				switch string(k) {
				case "key":
					if b, err = r.str(); err == nil {
						key = append(key[:0], b...)
					}
				case "value":
					if b, err = r.str(); err == nil {
						val = append(val[:0], b...)
					}
				default:
					err = r.skip()
				}
				return inKey(err, k)
			})
			if err == nil {
				fn(key, val)
			}
			return inIndex(err, i)
		})
	})
}

// discovery reads a DiscoveryInfo, as discoveryFromV1 converts it.
func (d *subscribedDecoder) discovery() (*state.Discovery, error) {
	r := &d.r
	var vis mesos.DiscoveryInfo_Visibility
	out := &state.Discovery{}
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "visibility":
			if c := r.ws(); c == '-' || jsonDigit(c) {
				var n uint32
				n, _, err = r.uint32()
				vis = mesos.DiscoveryInfo_Visibility(n)
			} else {
				var b []byte
				if b, err = r.str(); err == nil && b != nil {
					v, ok := mesos.DiscoveryInfo_Visibility_value[string(b)]
					if !ok {
						err = fmt.Errorf("unknown visibility %q", b)
					}
					vis = mesos.DiscoveryInfo_Visibility(v)
				}
			}
		case "name":
			out.Name, err = d.str()
		case "labels":
			out.Labels, err = d.labels()
		case "ports":
			err = d.member("ports", func() error {
				return r.array(func(i int) error {
					p, ok, err := d.discoveryPort()
					if ok {
						out.Ports = append(out.Ports, p)
					}
					return inIndex(err, i)
				})
			})
		default:
			err = r.skip()
		}
		return inKey(err, key)
	})
	out.Visibility = vis.String()
	return out, err
}

// discoveryPort reads a Port. A number that is not a port (-1, 70000: an app
// author's) refuses the event, as mesos-go refuses it: /master/state, which
// the source then polls, names the task it leaves the port out of.
func (d *subscribedDecoder) discoveryPort() (state.DiscoveryPort, bool, error) {
	r := &d.r
	var p state.DiscoveryPort
	ok := false
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "number":
			var b []byte
			if b, err = r.number(); err == nil {
				n, perr := strconv.ParseUint(string(b), 10, 32)
				if perr != nil {
					return inKey(fmt.Errorf("discovery port number %s: not a port", b), key)
				}
				p.Number, ok = uint32(n), true
			}
		case "name":
			p.Name, err = d.str()
		case "protocol":
			p.Protocol, err = d.shared()
		case "labels":
			p.Labels, err = d.labels()
		default:
			err = r.skip()
		}
		return inKey(err, key)
	})
	return p, ok, err
}

// status reads a TaskStatus, as slimStatusFromV1 converts it.
func (d *subscribedDecoder) status() (slimStatus, error) {
	r := &d.r
	var s slimStatus
	var netInfo, docker, mesosIPs []netip.Addr
	err := r.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "state":
			var st mesos.TaskState
			var ok bool
			if st, ok, err = d.taskState(); ok {
				s.state = d.strs.get([]byte(st.String()))
			}
		case "timestamp":
			s.timestamp, _, err = r.float()
		case "healthy":
			s.healthy, s.hasHealthy, err = r.boolean()
		case "labels":
			err = d.eachLabel(func(k, v []byte) { appendLabelIP(k, v, &docker, &mesosIPs) })
		case "container_status":
			err = d.member("network_infos", func() error {
				return r.array(func(i int) error {
					err := d.member("ip_addresses", func() error {
						return r.array(func(j int) error {
							err := d.member("ip_address", func() error {
								b, err := r.str()
								if a, ok := parseTaskIP(b); ok && err == nil {
									netInfo = append(netInfo, a)
								}
								return err
							})
							return inIndex(err, j)
						})
					})
					return inIndex(err, i)
				})
			})
		default:
			err = r.skip()
		}
		return inKey(err, key)
	})
	s.netInfo = d.addrs.copy(netInfo)
	s.docker = d.addrs.copy(docker)
	s.mesos = d.addrs.copy(mesosIPs)
	return s, err
}
