package dnsserver

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/discovery-mesos/discovery/state"
)

// changeSample is how many task IDs a log line names of each kind; the
// counts say how many there were in all.
const changeSample = 3

// taskChanges is what a new view changed for DNS, in words for the log:
// the tasks that started running and those that stopped, counted, with a few
// IDs of each. An operator reading "dns table built" should see what the
// table changed, not only its size. diffTasks finds them with the tasks the
// table update regenerates.
type taskChanges struct {
	started, stopped       int
	startedIDs, stoppedIDs []string
}

// taskDiff is what differs between the tasks of two clusters: the indices of
// the tasks that went (in the first) and came (in the second); a task that
// changed did both. digested reports that both clusters are sealed: their
// tasks are sorted by ID, and were compared by digest.
type taskDiff struct {
	taskChanges
	gone, came []int32
	digested   bool
}

// diffTasks compares the tasks of prev and next (either may be nil) in one
// merge walk over both lists, sorted by ID (Seal sorts them): a task whose
// digest is the same as the one at the same point of the other list is the
// same task, found without comparing IDs. Unsealed clusters are compared
// field by field; if their lists are not sorted, the log's counts are wrong,
// nothing else (update builds afresh).
func diffTasks(prev, next *state.Cluster) taskDiff {
	var d taskDiff
	var old, cur []*state.Task
	var od, nd []uint64
	if prev != nil {
		old, od = prev.Tasks, prev.TaskDigests()
	}
	if next != nil {
		cur, nd = next.Tasks, next.TaskDigests()
	}
	// An empty list has no digests, and needs none.
	d.digested = prev != nil && next != nil && (od != nil || len(old) == 0) && (nd != nil || len(cur) == 0)
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		if d.digested {
			k := sameRun(od[i:], nd[j:])
			i, j = i+k, j+k
			if i == len(old) && j == len(cur) {
				break
			}
		}
		switch {
		case i < len(old) && j < len(cur) && (d.digested && od[i] == nd[j] || !d.digested && sameTask(old[i], cur[j])):
			i++
			j++
		case j == len(cur) || i < len(old) && old[i].ID < cur[j].ID:
			d.gone = append(d.gone, int32(i))
			d.stop(old[i])
			i++
		case i == len(old) || cur[j].ID < old[i].ID:
			d.came = append(d.came, int32(j))
			d.start(cur[j])
			j++
		default: // the same ID, changed
			d.gone = append(d.gone, int32(i))
			d.came = append(d.came, int32(j))
			if old[i].State != cur[j].State {
				d.stop(old[i])
				d.start(cur[j])
			}
			i++
			j++
		}
	}
	return d
}

// sameRun returns how many digests a and b have equal from the start. This
// is the walk's only work per task, so it compares blocks of them as bytes
// (a vectorised compare) before finding the first that differs.
func sameRun(a, b []uint64) int {
	n := min(len(a), len(b))
	const block = 64
	k := 0
	for k+block <= n && bytesOf(a[k:k+block]) == bytesOf(b[k:k+block]) {
		k += block
	}
	for k < n && a[k] == b[k] {
		k++
	}
	return k
}

// bytesOf is the memory of ds as a string, to compare (no copy).
func bytesOf(ds []uint64) string {
	return unsafe.String((*byte)(unsafe.Pointer(unsafe.SliceData(ds))), 8*len(ds))
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
