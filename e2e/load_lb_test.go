package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"

	"github.com/discovery-mesos/discovery/internal/sim"
)

// churnDuration is how long traffic runs through churn: the issue's
// "several minutes" (3) with E2E_LONG, 20 s otherwise.
func churnDuration() time.Duration {
	if os.Getenv("E2E_LONG") != "" {
		return 3 * time.Minute
	}
	return 20 * time.Second
}

// Traffic through HAProxy while the simulator churns tasks every 100 ms
// (fail, kill, move, scale, health): zero failed requests (every request
// answered 200 by a task of the app it was sent to) and every task started
// during the run that was healthy for a second or more received traffic.
func TestLoadTrafficThroughChurn(t *testing.T) {
	skipShort(t)
	gaps := newTaskGaps()
	c := newCluster(t, sim.Config{Apps: 3, TasksPerApp: 3, Seed: 101, OnChange: gaps.record, Backends: true})
	lb := newLB(t)
	d := startDaemon(t, true, append([]string{"-masters=" + c.Masters()[0].Addr()}, lb.args...)...)
	waitLB(t, lb.cfg, c, 30*time.Second)
	waitTraffic(t, c, 15*time.Second)
	apps := c.Truth().Apps
	gaps.start(c.Truth())
	initial := map[string]bool{}
	for _, tk := range c.Truth().Tasks() {
		initial[tk.ID] = true
	}

	ctx, cancel := context.WithTimeout(context.Background(), churnDuration())
	defer cancel()
	var sent, failed, excused atomic.Int64
	type reqRecord struct {
		app    string
		began  time.Time
		took   time.Duration
		failed string
	}
	var reqMu sync.Mutex
	var reqs []reqRecord
	type failure struct {
		app        string
		began, end time.Time
		why        string
	}
	var failMu sync.Mutex
	var failing []failure
	var wg sync.WaitGroup
	// Three workers per app, so that an app whose requests wait (no task
	// for a moment) does not hold up the others' traffic.
	for w := range 3 * len(apps) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			a := apps[w%len(apps)]
			for ctx.Err() == nil {
				began := time.Now()
				res, err := client.Get("http://127.0.0.1:" + strconv.Itoa(a.ServicePort) + "/")
				sent.Add(1)
				why := ""
				if err != nil {
					why = err.Error()
				} else {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						why = res.Status
					} else if got := res.Header.Get("X-App-Id"); got != a.ID {
						why = "answered by a task of " + got
					}
				}
				reqMu.Lock()
				reqs = append(reqs, reqRecord{a.ID, began, time.Since(began), why})
				reqMu.Unlock()
				if why != "" {
					running, healthy := 0, 0
					if ta, ok := c.Truth().App(a.ID); ok {
						running = len(ta.Tasks)
						for _, tk := range ta.Tasks {
							if tk.Healthy {
								healthy++
							}
						}
					}
					failMu.Lock()
					failing = append(failing, failure{a.ID, began, time.Now(), fmt.Sprintf("%s (now %d tasks, %d healthy)", why, running, healthy)})
					failMu.Unlock()
				}
			}
		}()
	}

	// Watch every task's hits while it runs.
	type seen struct {
		first, last time.Time
		healthy     time.Duration // time seen healthy
		hits        int64
		addr, app   string
		evidence    string // what HAProxy said of a task without traffic
	}
	tasks := map[string]*seen{}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ctx.Err() == nil {
			now := time.Now()
			for _, tk := range c.Truth().Tasks() {
				s := tasks[tk.ID]
				if s == nil {
					s = &seen{first: now, last: now}
					tasks[tk.ID] = s
				}
				if tk.Healthy && !s.last.IsZero() {
					s.healthy += now.Sub(s.last)
				}
				s.last = now
				if h, ok := c.BackendHits(tk.ID); ok {
					s.hits = max(s.hits, h)
				}
				s.addr, s.app = tk.Addr().String(), tk.AppID
				if s.hits == 0 && s.healthy >= time.Second && s.evidence == "" && !initial[tk.ID] {
					s.evidence = serverEvidence(lb.statsSock, s.addr)
					if ta, ok := c.Truth().App(tk.AppID); ok {
						for _, o := range ta.Tasks {
							s.evidence += fmt.Sprintf("; truth: %s at %s", o.ID[len(o.ID)-8:], o.Addr())
						}
						if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(ta.ServicePort), time.Second); err != nil {
							s.evidence += fmt.Sprintf("; connecting to its service port %d: %v", ta.ServicePort, err)
						} else {
							conn.Close()
							s.evidence += fmt.Sprintf("; its service port %d accepts connections", ta.ServicePort)
						}
						cfg, _ := os.ReadFile(lb.cfg)
						if !strings.Contains(string(cfg), fmt.Sprintf("bind *:%d", ta.ServicePort)) {
							s.evidence += "; the config on disk has no frontend for it"
						}
					}
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	seq := c.Seq()
	churnErr := make(chan error, 1)
	go func() { churnErr <- c.Churn(ctx, 10, 7) }()
	wg.Wait()
	<-watched
	if err := <-churnErr; err != nil {
		t.Fatal(err)
	}
	changes := len(c.Changes(seq))

	// Failures are judged once every change is known: a request that failed
	// while (or just after) its app had no running task could not be served.
	var failures []string
	kinds := map[string]int{}
	firstOf := map[string]time.Time{}
	for _, f := range failing {
		if gaps.emptyWithin(f.app, f.end, f.end.Sub(f.began)+time.Second) {
			excused.Add(1)
			continue
		}
		kind := f.why
		switch {
		case strings.Contains(f.why, "refused"):
			kind = "connection refused"
		case strings.Contains(f.why, "EOF"):
			kind = "EOF"
		case strings.Contains(f.why, "reset"):
			kind = "connection reset"
		case strings.Contains(f.why, "timeout") || strings.Contains(f.why, "deadline"):
			kind = "timeout"
		case strings.HasPrefix(f.why, "answered by"):
			kind = "wrong app"
		case strings.HasPrefix(f.why, "503"):
			kind = "503 Service Unavailable"
		}
		failed.Add(1)
		if kinds[kind] == 0 {
			firstOf[kind] = f.end
		}
		kinds[kind]++
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf("%s %s: %s", f.end.Format("15:04:05.000"), f.app, f.why))
		}
	}

	// servedWhile counts the requests to app that began in [from, to] and
	// were answered (by some task of the app).
	servedWhile := func(app string, from, to time.Time) int {
		n := 0
		for _, r := range reqs {
			if r.app == app && r.failed == "" && !r.began.Before(from) && !r.began.After(to) {
				n++
			}
		}
		return n
	}
	// A task proves something when, while it was healthy, its app was
	// served: at least 20 answered requests began then.
	started, proven, starved := 0, 0, []string{}
	for id, s := range tasks {
		if initial[id] {
			continue
		}
		started++
		if s.healthy < time.Second {
			continue
		}
		ta := s.app
		served := servedWhile(ta, s.first, s.last)
		if served < 20 {
			continue
		}
		proven++
		if s.hits == 0 {
			starved = append(starved, fmt.Sprintf("%s at %s (healthy %v; %d requests to %s answered by others meanwhile); HAProxy: %s",
				id, s.addr, s.healthy.Round(time.Millisecond), served, ta, s.evidence))
		}
	}
	t.Logf("%v: %d changes, %d requests (%.0f/s), %d failed (and %d while the app had no task); %d tasks started, %d healthy ≥1s while their app was served, %d of those without traffic",
		churnDuration(), changes, sent.Load(), float64(sent.Load())/churnDuration().Seconds(), failed.Load(), excused.Load(), started, proven, len(starved))
	t.Logf("reloads: %v; runtime ops: %v", d.metric(t, "discovery_lb_reloads_total"), d.metric(t, "discovery_lb_runtime_ops_total"))
	// A worker serving traffic must never crash. A former worker (one a
	// reload replaced) crashing as it exits, once its last connection has
	// ended, is HAProxy 2.6.12's deinit bug (fd_updt freed before the
	// listeners are unbound); it costs no request, and is only counted.
	logs := d.logText()
	if n := countCrashes(logs, "Current worker"); n > 0 {
		t.Errorf("BUG: the serving HAProxy worker crashed %d times under this churn (HAProxy %s)", n, haproxyVersion(t))
	}
	if n := countCrashes(logs, "Former worker"); n > 0 {
		t.Logf("%d former workers crashed while exiting after their last connection (HAProxy %s deinit bug; no request affected)", n, haproxyVersion(t))
	}
	switch paused := strings.Count(logs, "reloading to listen again"); {
	case failed.Load() > 0 && paused > 0 && kinds["connection refused"] == int(failed.Load()):
		// Debian 12's HAProxy 2.6.12 can leave its listeners paused after a
		// reload (the old worker pausing the shared sockets late); the daemon
		// noticed and reloaded. Those refusals are HAProxy's.
		t.Logf("%d connections refused while HAProxy had paused its listeners after a reload (%d reloads mended it)",
			failed.Load(), paused)
	case failed.Load() > 0:
		t.Errorf("%d of %d requests failed while their app had a task, by kind %v; first: %v",
			failed.Load(), sent.Load(), kinds, failures)
	}
	if len(starved) > 0 {
		t.Errorf("new tasks that never received traffic: %v", starved)
	}
	for _, kind := range []string{"connection refused", "503 Service Unavailable"} {
		at, ok := firstOf[kind]
		if !ok || kinds[kind] < 20 {
			continue
		}
		// What HAProxy and the daemon were doing then.
		for _, line := range d.LogLines() {
			var e struct {
				Time time.Time `json:"time"`
			}
			if json.Unmarshal([]byte(line), &e) != nil || e.Time.Before(at.Add(-1500*time.Millisecond)) || e.Time.After(at.Add(500*time.Millisecond)) {
				continue
			}
			for _, key := range []string{"exited with code", "exit-on-failure", "haproxy started", "haproxy ready", "runtime change failed", "haproxy reloaded"} {
				if strings.Contains(line, key) {
					t.Logf("around the first %s (%s): %.300s", kind, at.Format("15:04:05.000"), line)
					break
				}
			}
		}
	}
}

// taskGaps follows the simulator's changes to know when each app had no
// running task.
type taskGaps struct {
	mu      sync.Mutex
	running map[string]map[string]bool // app → running task ids
	emptyAt map[string][]time.Time     // app → when it went empty, then when it had a task again, …
}

func newTaskGaps() *taskGaps {
	return &taskGaps{running: map[string]map[string]bool{}, emptyAt: map[string][]time.Time{}}
}

func (g *taskGaps) start(tr sim.Truth) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, a := range tr.Apps {
		if g.running[a.ID] == nil {
			g.running[a.ID] = map[string]bool{}
		}
		for _, tk := range a.Tasks {
			g.running[a.ID][tk.ID] = true
		}
	}
}

// record is the cluster's OnChange.
func (g *taskGaps) record(ch sim.Change) {
	g.mu.Lock()
	defer g.mu.Unlock()
	set := g.running[ch.App]
	if set == nil {
		set = map[string]bool{}
		g.running[ch.App] = set
	}
	was := len(set)
	switch ch.Kind {
	case sim.TaskStarted:
		set[ch.Task] = true
	case sim.TaskKilled, sim.TaskFailed:
		delete(set, ch.Task)
	default:
		return
	}
	if (was == 0) != (len(set) == 0) {
		g.emptyAt[ch.App] = append(g.emptyAt[ch.App], ch.At)
	}
}

// emptyWithin reports whether app had no running task at some time in
// [at-window, at].
func (g *taskGaps) emptyWithin(app string, at time.Time, window time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	ts := g.emptyAt[app]
	for i := 0; i < len(ts); i += 2 {
		end := at
		if i+1 < len(ts) {
			end = ts[i+1]
		}
		if !ts[i].After(at) && !end.Before(at.Add(-window)) {
			return true
		}
	}
	return false
}

// serverEvidence returns HAProxy's runtime lines ("show servers state") for
// the servers at addr (host:port).
func serverEvidence(statsSock, addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	conn, err := net.DialTimeout("unix", statsSock, time.Second)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.WriteString(conn, "show servers state\n")
	b, _ := io.ReadAll(conn)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state … srv_port at 18
		if len(f) > 18 && f[4] == host && f[18] == port {
			out = append(out, fmt.Sprintf("%s/%s op_state=%s admin_state=%s uweight=%s iweight=%s", f[1], f[3], f[5], f[6], f[7], f[8]))
		}
	}
	if len(out) == 0 {
		return "no server at " + addr
	}
	// Its session count.
	if conn2, err := net.DialTimeout("unix", statsSock, time.Second); err == nil {
		_ = conn2.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.WriteString(conn2, "show stat\n")
		b, _ := io.ReadAll(conn2)
		conn2.Close()
		name := strings.ReplaceAll(strings.ReplaceAll(addr, ".", "_"), ":", "_")
		be := ""
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ",")
			if len(f) > 17 && f[1] == name {
				be = f[0]
			}
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ",")
			if len(f) > 18 && f[0] == be {
				out = append(out, fmt.Sprintf("%s/%s stot=%s status=%s weight=%s", f[0], f[1], f[7], f[17], f[18]))
			}
		}
	}
	return strings.Join(out, ", ")
}

func haproxyVersion(t *testing.T) string {
	out, _ := osexec.Command(haproxytest.Binary(t), "-v").Output()
	v, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(v)
}

// countCrashes counts HAProxy master lines saying a worker of the kind
// ("Current worker", "Former worker") ended on a signal.
func countCrashes(logs, kind string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, kind+" (") && strings.Contains(line, "exited with code 1") &&
			(strings.Contains(line, "Segmentation fault") || strings.Contains(line, "Aborted") || strings.Contains(line, "code 139") || strings.Contains(line, "code 134")) {
			n++
		}
	}
	return n
}
