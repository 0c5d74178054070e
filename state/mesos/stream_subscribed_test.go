package mesos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mesos/mesos-go/api/v1/lib/master"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
)

// subscribedRecord wraps a GET_STATE object as a SUBSCRIBED event, with the
// type first (as Mesos writes it) or last (as an encoder sorting keys does).
func subscribedRecord(getState []byte, typeFirst bool) []byte {
	sub := `"subscribed":{"get_state":` + string(getState) + `,"heartbeat_interval_seconds":7.5}`
	if typeFirst {
		return []byte(`{"type":"SUBSCRIBED",` + sub + `}`)
	}
	return []byte(`{` + sub + `,"type":"SUBSCRIBED"}`)
}

// getStateJSON is a fake master's GET_STATE object, as SUBSCRIBED carries it.
func getStateJSON(t testing.TB, doc []byte) []byte {
	t.Helper()
	m, err := fakemaster.New(doc, fakemaster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.EnableOperatorAPI()
	st := getStateV1(t, m)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// modelOpts compare models: tasks with their status histories.
var modelOpts = cmp.Options{
	cmp.AllowUnexported(modelTask{}, slimStatus{}, modelFramework{}),
	cmpopts.EquateComparable(netip.Addr{}),
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreFields(modelFramework{}, "raw"),
}

// The SUBSCRIBED decoder gives the model mesos-go's decoding gives, for the
// rich fixture (IPv6 pids, split port reservations, attributes, labels
// without values, discovery port labels, several network infos, health on a
// later status, pending, unreachable, completed and orphan tasks) and a
// generated 500-task state, with the type first or last.
func TestDecodeSubscribedMatchesMesosGo(t *testing.T) {
	states := map[string][]byte{
		"fixture":   bytes.TrimSpace(readFixture(t, "testdata/mesos_v1/get_state.json")),
		"500 tasks": getStateJSON(t, genMesosState(500)),
	}
	pids := map[string]string{"F1": "scheduler-1@127.0.2.1:15101"}
	for name, st := range states {
		for _, typeFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/type first %v", name, typeFirst), func(t *testing.T) {
				rec := subscribedRecord(st, typeFirst)
				if !looksSubscribed(rec[:min(len(rec), subscribedHead)]) {
					t.Fatal("looksSubscribed: false")
				}
				ss, err := decodeSubscribed(bytes.NewReader(rec), 0)
				if err != nil {
					t.Fatal(err)
				}
				if ss.heartbeat != 7.5 || !ss.hasState {
					t.Errorf("heartbeat %v, hasState %v", ss.heartbeat, ss.hasState)
				}
				var e master.Event
				if err := json.Unmarshal(rec, &e); err != nil {
					t.Fatal(err)
				}
				got, want := newStreamModel(), newStreamModel()
				got.resetTo(ss, pids)
				want.resetTo(subscribedFromV1(e.Subscribed), pids)
				if len(want.order) == 0 {
					t.Fatal("no tasks")
				}
				if diff := cmp.Diff(want.order, got.order, modelOpts); diff != "" {
					t.Errorf("tasks differ (-mesos-go +streamed):\n%s", diff)
				}
				if diff := cmp.Diff(want.parked, got.parked, modelOpts); diff != "" {
					t.Errorf("unreachable tasks differ (-mesos-go +streamed):\n%s", diff)
				}
				if diff := cmp.Diff(want.agents, got.agents, modelOpts); diff != "" {
					t.Errorf("agents differ (-mesos-go +streamed):\n%s", diff)
				}
				if diff := cmp.Diff(want.frameworks, got.frameworks, modelOpts); diff != "" {
					t.Errorf("frameworks differ (-mesos-go +streamed):\n%s", diff)
				}
				at := time.Unix(1, 0)
				if g, w := got.build("mesos", at, nil), want.build("mesos", at, nil); g.Digest != w.Digest {
					t.Errorf("digests differ: %x vs %x", g.Digest, w.Digest)
				}
			})
		}
	}
}

// A record is taken for SUBSCRIBED from its first member only.
func TestLooksSubscribed(t *testing.T) {
	for in, want := range map[string]bool{
		`{"type":"SUBSCRIBED","subscribed":{}}`:    true,
		` { "type" : "SUBSCRIBED"`:                 true,
		`{"subscribed":{"get_state":{}`:            true,
		`{"type":"TASK_ADDED","task_added":{}}`:    false,
		`{"task_added":{},"type":"TASK_ADDED"}`:    false,
		`{"type":"HEARTBEAT"}`:                     false,
		`{"typ\u0065":"SUBSCRIBED"}`:               true,
		`{"type":"SUBSCRIB`:                        false,
		`[`:                                        false,
		``:                                         false,
		`{"heartbeat":1,"subscribed":{"get_state"`: false,
	} {
		if got := looksSubscribed([]byte(in)); got != want {
			t.Errorf("looksSubscribed(%q) = %v, want %v", in, got, want)
		}
	}
}

// What the SUBSCRIBED decoder refuses, and what it reports as a read error
// (a stream cut short: subscribing again is right then).
func TestDecodeSubscribedErrors(t *testing.T) {
	st := getStateJSON(t, genMesosState(200))
	good := subscribedRecord(st, true)
	for _, tt := range []struct {
		name    string
		rec     []byte
		budget  int64
		refused bool
		want    string
	}{
		{"malformed", bytes.Replace(good, []byte(`"tasks":[`), []byte(`"tasks":[}`), 1), 0, true, "get_state.get_tasks.tasks[0]"},
		{"another type", bytes.Replace(good, []byte(`"SUBSCRIBED"`), []byte(`"TASK_ADDED"`), 1), 0, true, `"TASK_ADDED" event shaped as SUBSCRIBED`},
		{"no type", []byte(`{"subscribed":{"get_state":{}}}`), 0, true, `no "type"`},
		{"bad task state", bytes.Replace(good, []byte(`"state":"TASK_RUNNING"`), []byte(`"state":"TASK_NAPPING"`), 1), 0, true, `unknown task state "TASK_NAPPING"`},
		{"port -1", bytes.Replace(good, []byte(`"number":`), []byte(`"number":-`), 1), 0, true, "not a port"},
		{"over the budget", good, 32 << 10, true, "maxStateBytes"},
		{"one huge token", []byte(`{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[{"name":"` + strings.Repeat("a", 4<<20) + `"}]}}}}`), 1 << 20, true, "one JSON token"},
		{"trailing bytes", append(bytes.Clone(good), '}'), 0, true, "after the document"},
		{"cut short", good[:len(good)/2], 0, false, "unexpected EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var rd io.Reader = bytes.NewReader(tt.rec)
			if tt.name == "cut short" {
				rd = &recordBody{r: bytes.NewReader(tt.rec), left: int64(len(good))}
			}
			_, err := decodeSubscribed(rd, tt.budget)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if got := errors.Is(err, errSubscribedRefused); got != tt.refused {
				t.Errorf("refused = %v, want %v (%v)", got, tt.refused, err)
			}
		})
	}
	if _, err := decodeSubscribed(bytes.NewReader(good), 16<<20); err != nil {
		t.Errorf("a good event within its budget: %v", err)
	}
}

// The stream's reader hands a SUBSCRIBED over the record bound to the
// decoder, and refuses another event over it; events after SUBSCRIBED are
// read as before.
func TestStreamReadSubscribedOverRecordBound(t *testing.T) {
	st := getStateJSON(t, genMesosState(200))
	frame := func(rec []byte) string { return strconv.Itoa(len(rec)) + "\n" + string(rec) }
	big := subscribedRecord(st, false)
	updated := taskUpdatedRecord("fw-0000-marathon", "x", 1)
	read := func(in string) []mesosStreamItem {
		s := &Stream{cfg: StreamConfig{MaxRecordBytes: 4 << 10, PollConfig: PollConfig{MaxStateBytes: 16 << 20}}}
		items := make(chan mesosStreamItem, 10)
		s.read(t.Context(), strings.NewReader(in), items)
		close(items)
		var out []mesosStreamItem
		for it := range items {
			out = append(out, it)
		}
		return out
	}
	got := read(frame(big) + frame(updated))
	if len(got) != 3 || got[0].sub == nil || len(got[0].sub.tasks) != 200 ||
		got[1].e == nil || got[1].e.Type != master.Event_TASK_UPDATED || !errors.Is(got[2].err, io.EOF) {
		t.Fatalf("items: %+v", got)
	}
	got = read(frame(append(bytes.Repeat([]byte(" "), 5<<10), updated...)))
	if len(got) != 1 || !errors.Is(got[0].err, errRecordTooLarge) {
		t.Fatalf("an event over the record bound: %+v", got)
	}
	got = read(frame(bytes.Replace(big, []byte(`"tasks":[`), []byte(`"tasks":{`), 1)))
	if len(got) != 1 || !errors.Is(got[0].err, errSubscribedRefused) {
		t.Fatalf("a malformed SUBSCRIBED: %+v", got)
	}
}
