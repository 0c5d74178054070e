package dnsserver

import (
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/state"
)

// changeSample is how many task IDs a log line names of each kind; the
// counts say how many there were in all.
const changeSample = 3

// taskChanges is what a new view changed for DNS, in words for the log:
// the tasks that started running and those that stopped, counted, with a few
// IDs of each. An operator reading "dns table built" should see what the
// table changed, not only its size.
//
// Both task lists are sorted by ID (Seal sorts them), so one merge walk
// finds the differences without a map: a few milliseconds at 100,000 tasks,
// next to the tens of milliseconds the table update takes. A list that is
// not sorted gives wrong counts in the log, nothing worse.
type taskChanges struct {
	started, stopped       int
	startedIDs, stoppedIDs []string
}

func diffTasks(prev, next *state.Cluster) taskChanges {
	var ch taskChanges
	var old []*state.Task
	if prev != nil {
		old = prev.Tasks
	}
	var cur []*state.Task
	if next != nil {
		cur = next.Tasks
	}
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		switch {
		case j == len(cur) || (i < len(old) && old[i].ID < cur[j].ID):
			ch.stop(old[i])
			i++
		case i == len(old) || cur[j].ID < old[i].ID:
			ch.start(cur[j])
			j++
		default:
			if old[i].State != cur[j].State {
				ch.stop(old[i])
				ch.start(cur[j])
			}
			i++
			j++
		}
	}
	return ch
}

func (ch *taskChanges) start(t *state.Task) { count(t, &ch.started, &ch.startedIDs) }
func (ch *taskChanges) stop(t *state.Task)  { count(t, &ch.stopped, &ch.stoppedIDs) }

// count counts t in n, and names it in ids while there is room, when it is
// running: a task that never ran had no records to gain or lose.
func count(t *state.Task, n *int, ids *[]string) {
	if t.State != state.TaskRunning {
		return
	}
	*n++
	if len(*ids) < changeSample {
		*ids = append(*ids, t.ID)
	}
}

// sample is ids, and how many more there were of n.
func sample(ids []string, n int) string {
	s := strings.Join(ids, " ")
	if n > len(ids) {
		s += " and " + strconv.Itoa(n-len(ids)) + " more"
	}
	return s
}
