package mesos

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/master"

	"github.com/discovery-mesos/discovery/state"
)

// recordIO frames JSON events as a Mesos master streams them.
func recordIO(events ...string) []byte {
	var b []byte
	for _, e := range events {
		b = strconv.AppendInt(b, int64(len(e)), 10)
		b = append(b, '\n')
		b = append(b, e...)
	}
	return b
}

const (
	fuzzSubscribed = `{"type":"SUBSCRIBED","subscribed":{"heartbeat_interval_seconds":15,"get_state":{` +
		`"get_agents":{"agents":[{"agent_info":{"hostname":"127.0.0.2","id":{"value":"A"},"port":5051},"active":true,"version":"1","pid":"slave(1)@127.0.0.2:5051"}]},` +
		`"get_frameworks":{"frameworks":[{"framework_info":{"user":"u","name":"marathon","id":{"value":"F"}},"active":true,"connected":true,"recovered":false}]},` +
		`"get_tasks":{"tasks":[{"name":"web","task_id":{"value":"web.1"},"framework_id":{"value":"F"},"agent_id":{"value":"A"},"state":"TASK_RUNNING",` +
		`"resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31001}]}}],` +
		`"statuses":[{"task_id":{"value":"web.1"},"state":"TASK_RUNNING","timestamp":1700000000.5,"healthy":true,` +
		`"labels":{"labels":[{"key":"Docker.NetworkSettings.IPAddress","value":"127.0.9.1"}]},` +
		`"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"fd00::1"}]}]}}],` +
		`"discovery":{"visibility":"FRAMEWORK","name":"web","ports":{"ports":[{"number":80,"name":"http","protocol":"tcp"}]}}}]}}}}`
	fuzzTaskAdded = `{"type":"TASK_ADDED","task_added":{"task":{"name":"db","task_id":{"value":"db.1"},"framework_id":{"value":"F"},` +
		`"agent_id":{"value":"A"},"state":"TASK_STAGING","resources":[],"statuses":[]}}}`
	fuzzTaskUpdated = `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"F"},"state":"TASK_RUNNING",` +
		`"status":{"task_id":{"value":"db.1"},"state":"TASK_RUNNING","timestamp":1700000001}}}`
	fuzzTaskKilled = `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"F"},"state":"TASK_KILLED",` +
		`"status":{"task_id":{"value":"web.1"},"state":"TASK_KILLED","timestamp":1700000002}}}`
	fuzzAgentRemoved = `{"type":"AGENT_REMOVED","agent_removed":{"agent_id":{"value":"A"}}}`
	fuzzFwRemoved    = `{"type":"FRAMEWORK_REMOVED","framework_removed":{"framework_info":{"user":"u","name":"marathon","id":{"value":"F"}}}}`
	fuzzHeartbeat    = `{"type":"HEARTBEAT"}`
)

// FuzzStreamDecode feeds arbitrary bytes through the stream's decoding
// path — RecordIO framing, event decoding, the model — as the source does. No
// input may panic or hang; a stream that ends inside a record must say so; and
// whatever is applied must give a sealed, sorted view.
func FuzzStreamDecode(f *testing.F) {
	f.Add(recordIO(fuzzSubscribed, fuzzHeartbeat, fuzzTaskAdded, fuzzTaskUpdated, fuzzTaskKilled, fuzzAgentRemoved, fuzzFwRemoved))
	f.Add(recordIO(fuzzSubscribed, fuzzTaskAdded)[:40])
	f.Add(recordIO(fuzzHeartbeat, `{"type":"OPERATION_UPDATED"}`, `{"type":]`, `{}`))
	f.Add([]byte("99999999999999999999999\n"))
	f.Add([]byte("12\n{\"type\":\"HE"))
	f.Add([]byte("x\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rr := newRecordIOReader(bytes.NewReader(data), 1<<20)
		model := newStreamModel()
		subscribed := false
		for {
			rec, err := rr.next()
			if err != nil {
				break
			}
			e, _, err := decodeEventGuarded(rec)
			if err != nil {
				if strings.Contains(err.Error(), "panic") {
					t.Fatalf("decoder panicked: %v", err)
				}
				break
			}
			if e == nil {
				continue
			}
			switch e.Type {
			case master.Event_SUBSCRIBED:
				if e.Subscribed != nil {
					model.reset(e.Subscribed.GetState, map[string]string{})
					subscribed = true
				}
			case master.Event_HEARTBEAT:
			default:
				if subscribed {
					model.apply(e)
				}
			}
		}
		c := model.build("fuzz", time.Time{}, nil)
		if !slices.IsSortedFunc(c.Tasks, func(a, b *state.Task) int { return strings.Compare(a.ID, b.ID) }) {
			t.Fatal("tasks not sorted")
		}
		for _, task := range c.Tasks {
			if c.Framework(task.FrameworkID) == nil {
				t.Fatalf("task %q of unknown framework %q in the view", task.ID, task.FrameworkID)
			}
		}
		if len(model.order) != len(model.tasks) {
			t.Fatalf("model index out of step: %d ordered, %d keyed", len(model.order), len(model.tasks))
		}
	})
}

func TestRecordIOReader(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		records []string
		err     string
	}{
		{"two records", "2\n{}3\nabc", []string{"{}", "abc"}, "EOF"},
		{"empty stream", "", nil, "EOF"},
		{"cut in the body", "10\n{\"type\"", nil, "unexpected EOF"},
		{"cut in the length", "12", nil, "unexpected EOF"},
		{"not a length", "x\n{}", nil, "unexpected byte"},
		{"empty length", "\n{}", nil, "empty"},
		{"too large", "2000\n", nil, "record too large"},
		{"length overflow", "99999999999999999999999\n", nil, "record too large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rr := newRecordIOReader(strings.NewReader(tt.in), 1000)
			var got []string
			for {
				rec, err := rr.next()
				if err != nil {
					if !strings.Contains(err.Error(), tt.err) {
						t.Errorf("error %q, want %q", err, tt.err)
					}
					break
				}
				got = append(got, string(rec))
			}
			if !slices.Equal(got, tt.records) {
				t.Errorf("records %q, want %q", got, tt.records)
			}
		})
	}
}

func TestDecodeEvent(t *testing.T) {
	e, typ, err := decodeEvent([]byte(fuzzTaskUpdated))
	if err != nil || typ != "TASK_UPDATED" || e.TaskUpdated == nil || e.TaskUpdated.Status.TaskID.Value != "db.1" {
		t.Fatalf("TASK_UPDATED: %v %q %+v", err, typ, e)
	}
	// A type this mesos-go does not know (a newer master's) is skipped, not
	// an error that would end the stream.
	e, typ, err = decodeEvent([]byte(`{"type":"OPERATION_UPDATED","operation_updated":{}}`))
	if err != nil || e != nil || typ != "OPERATION_UPDATED" {
		t.Fatalf("unknown type: %v %q %+v", err, typ, e)
	}
	for _, bad := range []string{`{"type":]`, `{}`, `[]`, `{"type":"TASK_ADDED","task_added":{"task":{"state":"NOT_A_STATE"}}}`} {
		if _, _, err := decodeEvent([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
