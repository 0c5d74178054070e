package lbmodel

import (
	"slices"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

// TestUnreachableAndLostTasksAreRouted: as marathon-lb, tasks Mesos reports
// TASK_UNREACHABLE or TASK_LOST stay servers (their agent may only be cut off
// from the master), with --health-check their checks decide, and
// -lb-skip-unreachable-tasks leaves them out; starting, killing and finished
// tasks never serve.
func TestUnreachableAndLostTasksAreRouted(t *testing.T) {
	states := []state.TaskState{state.TaskRunning, "TASK_UNREACHABLE", "TASK_LOST", state.TaskStaging, state.TaskKilling, "TASK_FINISHED", "TASK_UNKNOWN"}
	var specs []string
	for i := range states {
		specs = append(specs, "127.0.0."+string(rune('2'+i))+":31000")
	}
	base := app("/web", vhostLabels(), []int{10000}, specs...)
	for i, st := range states {
		base.Tasks[i].State = st
	}
	servers := func(cfg *Config, a state.App) []string {
		t.Helper()
		m := mustBuild(t, []state.App{a}, cfg, mustTemplates(t, cfg, "", nil), nil)
		var out []string
		for _, b := range m.Backends {
			for _, s := range b.Servers {
				out = append(out, s.Host)
			}
		}
		slices.Sort(out)
		return out
	}
	if got := servers(testConfig(), base); !slices.Equal(got, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
		t.Errorf("default: servers %v, want the running, unreachable and lost tasks", got)
	}
	cfg := testConfig()
	cfg.SkipUnreachableTasks = true
	if got := servers(cfg, base); !slices.Equal(got, []string{"127.0.0.2"}) {
		t.Errorf("-lb-skip-unreachable-tasks: servers %v, want the running task alone", got)
	}
	// --health-check: the unreachable task's last results failed, the lost
	// one's passed.
	checked := withHealth(base, healthHTTP)
	checked.Tasks = slices.Clone(checked.Tasks)
	checked.Tasks[0].Health = []bool{true}
	checked.Tasks[1].Health = []bool{false}
	checked.Tasks[2].Health = []bool{true}
	cfg = testConfig()
	cfg.HealthCheck = true
	if got := servers(cfg, checked); !slices.Equal(got, []string{"127.0.0.2", "127.0.0.4"}) {
		t.Errorf("--health-check: servers %v, want the healthy running and lost tasks", got)
	}
}
