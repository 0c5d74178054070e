package mesos

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mesos/mesos-go/api/v1/lib/master"

	"github.com/discovery-mesos/discovery/state"
)

// TestV1ConversionMatchesStateDecoder builds one cluster both ways — the v0
// /master/state document a poller reads and the v1 GET_STATE (what SUBSCRIBED
// carries) plus GET_MASTER and the framework pids of /master/state-summary —
// and requires the same Cluster: the stream and the poller must be
// interchangeable. The documents cover IPv6 pids, ports split over two
// reservations, attributes, labels without values, discovery port labels,
// several network infos, IPv4-mapped addresses, health on a later status,
// equal timestamps, pending, unreachable, completed and orphan tasks.
func TestV1ConversionMatchesStateDecoder(t *testing.T) {
	masters := []state.Master{{Host: "127.0.0.1", Port: 5050}}
	want, err := DecodeState(readFixture(t, "testdata/mesos_v1/state.json"), FetchMeta{Source: "mesos", Masters: masters})
	if err != nil {
		t.Fatal(err)
	}
	var st master.Response_GetState
	if err := json.Unmarshal(readFixture(t, "testdata/mesos_v1/get_state.json"), &st); err != nil {
		t.Fatal(err)
	}
	var gm master.Response
	if err := json.Unmarshal(readFixture(t, "testdata/mesos_v1/get_master.json"), &gm); err != nil {
		t.Fatal(err)
	}
	model := newStreamModel()
	model.leader = leaderFromMasterInfo(gm.GetMaster.MasterInfo)
	model.reset(&st, map[string]string{"F1": "scheduler-1@127.0.2.1:15101"})
	got := model.build("mesos", want.FetchedAt, masters)
	if diff := cmp.Diff(want, got, clusterOpts); diff != "" {
		t.Fatalf("v1 conversion differs from the state decoder (-v0 +v1):\n%s", diff)
	}
	if got.Digest != want.Digest {
		t.Errorf("digests differ: %x vs %x", got.Digest, want.Digest)
	}
	if len(got.Tasks) != 3 {
		t.Errorf("%d tasks, want web.1, web.2 and job.1", len(got.Tasks))
	}
}

// TestStreamModelStatusHistory checks the model keeps a task's statuses as
// the master does (a repeated state replaces the last status) and derives
// addresses and health as the state decoder would from that history.
func TestStreamModelStatusHistory(t *testing.T) {
	var st master.Response_GetState
	if err := json.Unmarshal(readFixture(t, "testdata/mesos_v1/get_state.json"), &st); err != nil {
		t.Fatal(err)
	}
	model := newStreamModel()
	model.reset(&st, nil)
	update := func(task, state string, ts float64, extra string) {
		t.Helper()
		rec := `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"F2"},"state":"` + state + `",` +
			`"status":{"task_id":{"value":"` + task + `"},"state":"` + state + `","timestamp":` + jsonNum(ts) + extra + `}}}`
		e, _, err := decodeEvent([]byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		model.apply(e)
	}
	task := func(id string) *state.Task {
		c := model.build("mesos", time.Time{}, nil)
		for i := range c.Tasks {
			if c.Tasks[i].ID == id {
				return c.Tasks[i]
			}
		}
		return nil
	}
	// job.1's two running statuses have equal timestamps: the first's address.
	if got := task("job.1"); got == nil || got.NetInfo[0].String() != "127.0.6.1" {
		t.Fatalf("job.1 = %+v", got)
	}
	// A newer TASK_RUNNING replaces the last one (same state).
	update("job.1", "TASK_RUNNING", 1700000200, `,"healthy":true,"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"127.0.6.9"}]}]}`)
	if got := task("job.1"); got == nil || got.NetInfo[0].String() != "127.0.6.9" || got.Healthy == nil || !*got.Healthy ||
		got.RunningSince.Unix() != 1700000200 || len(model.tasks[taskKey("F2", "job.1")].hist) != 2 {
		t.Fatalf("after a new running status: %+v", got)
	}
	// Unreachable: out of the view, back with its history when it runs again.
	update("job.1", "TASK_UNREACHABLE", 1700000300, "")
	if got := task("job.1"); got != nil {
		t.Fatalf("unreachable task still in the view: %+v", got)
	}
	update("job.1", "TASK_RUNNING", 1700000400, "")
	got := task("job.1")
	if got == nil || got.State != state.TaskRunning || len(got.NetInfo) != 0 || got.Healthy == nil || !*got.Healthy {
		t.Fatalf("task back from unreachable: %+v", got)
	}
	// The parked unreachable task of the state comes back too.
	update("job.u", "TASK_RUNNING", 1700000500, "")
	if task("job.u") == nil {
		t.Fatal("job.u did not come back")
	}
	// An update for a task the model never heard of changes nothing.
	update("nope", "TASK_RUNNING", 1, "")
	if model.unknownUpdates != 1 {
		t.Errorf("unknownUpdates = %d", model.unknownUpdates)
	}
}

func jsonNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// A history pruned after every status gives the task what the whole history
// gives: same addresses, start and health, through random statuses with
// repeated states (which replace the last) and tied timestamps.
func TestPruneStatusesKeepsWhatMatters(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	states := []string{"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"}
	for round := range 2000 {
		var whole, pruned []slimStatus
		for i := range 1 + rng.IntN(8) {
			s := slimStatus{state: states[rng.IntN(len(states))], timestamp: float64(rng.IntN(4))}
			if rng.IntN(3) == 0 {
				s.healthy, s.hasHealthy = rng.IntN(2) == 0, true
			}
			s.netInfo = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, byte(round), byte(i)})}
			whole = appendStatus(whole, s)
			pruned = pruneStatuses(appendStatus(pruned, s))
			var a, b state.Task
			applyStatuses(&a, whole)
			applyStatuses(&b, pruned)
			if diff := cmp.Diff(a, b, clusterOpts); diff != "" {
				t.Fatalf("round %d, status %d: pruned history gives another task (-whole +pruned):\n%s\nwhole %+v\npruned %+v", round, i, diff, whole, pruned)
			}
		}
	}
}
