package fakemaster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"unsafe"
)

// truth is the parsed form of the state document's "frameworks" and "slaves",
// which the operator API's mutations edit one task at a time. It is parsed from
// the document when the document changed under it (SetState, EditState) and
// written back into the document after every mutation, so that /master/state
// and the event stream always tell the same story.
type truth struct {
	// fwSeen and slSeen identify the raw values parsed or last written.
	fwSeen, slSeen rawID

	frameworks []*fakeFramework
	fwByID     map[string]*fakeFramework
	taskByID   map[string]*fakeTask
	slaves     []obj
}

// rawID identifies a json.RawMessage by its backing array, to notice that the
// document was replaced.
type rawID struct {
	p *byte
	n int
}

func idOf(r json.RawMessage) rawID {
	if len(r) == 0 {
		return rawID{}
	}
	return rawID{unsafe.SliceData(r), len(r)}
}

type fakeFramework struct {
	id     string
	fields obj // without "tasks" and "completed_tasks"
	tasks  []*fakeTask
	done   []json.RawMessage // completed tasks
}

type fakeTask struct {
	id  string
	fw  *fakeFramework
	v0  obj
	raw json.RawMessage // v0 encoded; nil when it must be encoded again
	// v1 is the task as GET_STATE renders it, encoded; nil when it must be
	// rendered again. Kept so that a SUBSCRIBED of a large cluster (130 MB
	// at 100,000 tasks) costs concatenation, not encoding every task.
	v1 json.RawMessage
}

// encodedV1 is the task as GET_STATE renders it.
func (t *fakeTask) encodedV1() json.RawMessage {
	if t.v1 == nil {
		b, err := json.Marshal(v1Task(t.v0, t.fw.id))
		if err != nil {
			panic(fmt.Sprintf("fake master: encoding task: %v", err))
		}
		t.v1 = b
	}
	return t.v1
}

func (t *fakeTask) encoded() json.RawMessage {
	if t.raw == nil {
		b, err := json.Marshal(t.v0)
		if err != nil {
			panic(fmt.Sprintf("fake master: encoding task: %v", err))
		}
		t.raw = b
	}
	return t.raw
}

func decodeUseNumber(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// sync parses the document's frameworks and slaves if they are not what the
// truth was built from. Callers hold m.mu.
func (t *truth) sync(doc map[string]json.RawMessage) error {
	fw, sl := doc["frameworks"], doc["slaves"]
	if t.fwByID != nil && idOf(fw) == t.fwSeen && idOf(sl) == t.slSeen {
		return nil
	}
	var fws []obj
	if len(fw) > 0 {
		if err := decodeUseNumber(fw, &fws); err != nil {
			return fmt.Errorf("fake master: frameworks: %w", err)
		}
	}
	var slaves []obj
	if len(sl) > 0 {
		if err := decodeUseNumber(sl, &slaves); err != nil {
			return fmt.Errorf("fake master: slaves: %w", err)
		}
	}
	*t = truth{fwSeen: idOf(fw), slSeen: idOf(sl), fwByID: map[string]*fakeFramework{}, taskByID: map[string]*fakeTask{}, slaves: slaves}
	for _, f := range fws {
		ff := &fakeFramework{id: asString(f["id"]), fields: obj{}}
		for k, v := range f {
			switch k {
			case "tasks":
				list, _ := v.([]any)
				for _, x := range list {
					if to, ok := x.(obj); ok {
						ft := &fakeTask{id: asString(to["id"]), fw: ff, v0: to}
						ff.tasks = append(ff.tasks, ft)
						t.taskByID[ft.id] = ft
					}
				}
			case "completed_tasks":
				list, _ := v.([]any)
				for _, x := range list {
					b, _ := json.Marshal(x)
					ff.done = append(ff.done, b)
				}
			default:
				ff.fields[k] = v
			}
		}
		t.frameworks = append(t.frameworks, ff)
		t.fwByID[ff.id] = ff
	}
	return nil
}

// writeBack renders the truth into the document. Callers hold m.mu.
func (t *truth) writeBack(doc map[string]json.RawMessage) {
	var b bytes.Buffer
	b.Grow(t.fwSeen.n + t.fwSeen.n/8 + 4096) // about last time's size
	b.WriteByte('[')
	for i, f := range t.frameworks {
		if i > 0 {
			b.WriteByte(',')
		}
		fields, err := json.Marshal(f.fields)
		if err != nil {
			panic(fmt.Sprintf("fake master: encoding framework: %v", err))
		}
		// fields is "{…}": reopen it to add the task lists.
		b.Write(fields[:len(fields)-1])
		if len(fields) > 2 {
			b.WriteByte(',')
		}
		b.WriteString(`"tasks":[`)
		for k, task := range f.tasks {
			if k > 0 {
				b.WriteByte(',')
			}
			b.Write(task.encoded())
		}
		b.WriteString(`],"completed_tasks":[`)
		for k, d := range f.done {
			if k > 0 {
				b.WriteByte(',')
			}
			b.Write(d)
		}
		b.WriteString("]}")
	}
	b.WriteByte(']')
	fw := json.RawMessage(b.Bytes())
	sl, err := json.Marshal(orEmptyObjs(t.slaves))
	if err != nil {
		panic(fmt.Sprintf("fake master: encoding slaves: %v", err))
	}
	doc["frameworks"] = fw
	doc["slaves"] = sl
	t.fwSeen, t.slSeen = idOf(fw), idOf(sl)
}

func orEmptyObjs(v []obj) []obj {
	if v == nil {
		return []obj{}
	}
	return v
}

// getState renders the truth as the v1 GET_STATE response body, encoded as
// json.Marshal would encode it as a map (keys sorted).
func (t *truth) getState() json.RawMessage {
	var agents, frameworks []any
	n := 0
	for _, f := range t.frameworks {
		frameworks = append(frameworks, v1Framework(f.fields))
		for _, task := range f.tasks {
			n += len(task.encodedV1()) + 1
		}
	}
	for _, a := range t.slaves {
		agents = append(agents, v1Agent(a))
	}
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("fake master: encoding GET_STATE: %v", err))
		}
		return b
	}
	ag, fw := enc(obj{"agents": orEmpty(agents)}), enc(obj{"frameworks": orEmpty(frameworks)})
	b := make([]byte, 0, n+len(ag)+len(fw)+256)
	b = append(b, `{"get_agents":`...)
	b = append(b, ag...)
	b = append(b, `,"get_executors":{"executors":[]},"get_frameworks":`...)
	b = append(b, fw...)
	b = append(b, `,"get_tasks":{"tasks":[`...)
	first := true
	for _, f := range t.frameworks {
		for _, task := range f.tasks {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, task.encodedV1()...)
		}
	}
	return append(b, "]}}"...)
}

// summary renders /master/state-summary: frameworks and agents without tasks.
func (t *truth) summary() obj {
	var fws, slaves []any
	for _, f := range t.frameworks {
		o := obj{}
		for _, k := range []string{"id", "name", "pid", "hostname", "active"} {
			if v, ok := f.fields[k]; ok {
				o[k] = v
			}
		}
		fws = append(fws, o)
	}
	for _, a := range t.slaves {
		o := obj{}
		for _, k := range []string{"id", "pid", "hostname", "active", "attributes", "resources"} {
			if v, ok := a[k]; ok {
				o[k] = v
			}
		}
		slaves = append(slaves, o)
	}
	return obj{"frameworks": orEmpty(fws), "slaves": orEmpty(slaves)}
}

func (t *truth) removeTaskAt(f *fakeFramework, id string) *fakeTask {
	i := slices.IndexFunc(f.tasks, func(x *fakeTask) bool { return x.id == id })
	if i < 0 {
		return nil
	}
	task := f.tasks[i]
	f.tasks = slices.Delete(f.tasks, i, i+1)
	delete(t.taskByID, id)
	return task
}

func keysSorted(m obj) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
