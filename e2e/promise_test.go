package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A promise is a bound the product makes on how long the daemon takes to act
// once something the test observed has happened (HAProxy killed, a master
// answering again, a leader change). On a busy machine the daemon's threads
// wait for a CPU, and so do HAProxy's and the test's own; that wait is the
// machine's doing, not the daemon's, so it is taken off before the bound is
// compared: the longest run-queue wait any one thread of the daemon (and its
// children) or of this test had in the interval, from
// /proc/PID/task/TID/schedstat. On a quiet machine that wait is near zero and
// the bound is compared as it is.
type promise struct {
	what   string
	bound  time.Duration
	roots  []int
	start  time.Time
	waits0 map[int]time.Duration
}

// newPromise starts measuring what from start (the observed event) for the
// processes under root (the daemon) and this test process.
func newPromise(what string, bound time.Duration, root int, start time.Time) *promise {
	p := &promise{what: what, bound: bound, roots: []int{root, os.Getpid()}, start: start}
	p.waits0 = p.waits()
	return p
}

// check fails t when the time from start to end, less the CPU wait, is over
// the bound. It returns the time taken and the wait taken off.
func (p *promise) check(t *testing.T, end time.Time) (took, waited time.Duration) {
	t.Helper()
	took = end.Sub(p.start)
	for tid, w := range p.waits() {
		waited = max(waited, w-p.waits0[tid]) // a thread that began meanwhile counts whole
	}
	waited = min(waited, took)
	if took-waited > p.bound {
		t.Errorf("%s took %v (%v of it waiting for a CPU); the product promises %v", p.what, took.Round(time.Millisecond), waited.Round(time.Millisecond), p.bound)
	}
	return took, waited
}

// waits returns the run-queue wait of every thread of the roots and their
// descendants, by thread id.
func (p *promise) waits() map[int]time.Duration {
	out := map[int]time.Duration{}
	for _, pid := range descendants(p.roots) {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			fields := strings.Fields(string(b))
			if len(fields) < 2 {
				continue
			}
			ns, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				continue
			}
			tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out[tid] = time.Duration(ns)
		}
	}
	return out
}

// descendants returns roots and every process below them.
func descendants(roots []int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := append([]int(nil), roots...)
	seen := map[int]bool{}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}

func TestPromiseTakesOffCPUWait(t *testing.T) {
	// A busy child of this process waits for a CPU only if the machine is
	// busy; what is checked here is that the bookkeeping sees this process
	// and its threads, and never excuses more than the time taken.
	p := newPromise("nothing", time.Hour, os.Getpid(), time.Now())
	if len(p.waits0) == 0 {
		t.Fatal("no thread of this test process found in /proc")
	}
	took, waited := p.check(t, time.Now().Add(10*time.Millisecond))
	if waited > took {
		t.Fatalf("excused %v of %v", waited, took)
	}
}
