package sim

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state/marathon"
	"github.com/discovery-mesos/discovery/state/mesos"
)

func start(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// newStream is a Mesos event stream following c's masters, reconnecting fast.
func newStream(t *testing.T, c *Cluster, log *slog.Logger) *mesos.Stream {
	t.Helper()
	s, err := mesos.NewStream(mesos.StreamConfig{
		PollConfig: mesos.PollConfig{Masters: c.Truth().Masters, RefreshInterval: time.Hour},
		BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestViewsAgreeWithTruth(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
		{"two masters", Config{Masters: 2, Apps: 5, TasksPerApp: 3, Seed: 7}},
		{"no apps", Config{Apps: -1}},
		{"many agents", Config{Apps: 4, TasksPerApp: 2, Agents: 300, Group: "team/web", Seed: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, tc.cfg)
			checkAgree(t, c)
			tr := c.Truth()
			if got := len(tr.Tasks()); got != max(tc.cfg.Apps, 0)*max(tc.cfg.TasksPerApp, 2) && tc.cfg.Apps != 0 {
				t.Errorf("%d tasks, want %d", got, tc.cfg.Apps*max(tc.cfg.TasksPerApp, 2))
			}
			cl := fetchMesos(t, c)
			if cl.Leader.Host+":"+strconv.Itoa(cl.Leader.Port) != tr.Leader {
				t.Errorf("state names leader %+v, truth says %s", cl.Leader, tr.Leader)
			}
			if len(cl.Agents) != len(tr.Agents) {
				t.Errorf("%d agents in the state, %d in the truth", len(cl.Agents), len(tr.Agents))
			}
			for _, a := range tr.Apps {
				if a.Labels["HAPROXY_GROUP"] != "external" || a.Labels["HAPROXY_0_PORT"] != strconv.Itoa(a.ServicePort) || a.Labels["HAPROXY_0_VHOST"] != a.VHost {
					t.Errorf("app %s labels %v", a.ID, a.Labels)
				}
				for _, tk := range a.Tasks {
					if !strings.HasPrefix(tk.IP.String(), "127.1.") || tk.Ports[0] < agentPortFirst || tk.Ports[0] > agentPortLast {
						t.Errorf("task %s at %v", tk.ID, tk.Addr())
					}
				}
			}
			set := fetchMarathon(t, c)
			for _, a := range set.Apps {
				ta, ok := tr.App(a.ID)
				if !ok || len(a.Ports) != 1 || a.Ports[0].ServicePort != ta.ServicePort {
					t.Errorf("marathon app %s ports %+v, truth %+v", a.ID, a.Ports, ta)
				}
			}
		})
	}
}

func TestChangesKeepViewsConsistent(t *testing.T) {
	c := start(t, Config{Apps: 4, TasksPerApp: 3, Seed: 1})
	tr := c.Truth()
	app := tr.Apps[0]
	victim := app.Tasks[0]

	steps := []struct {
		name string
		do   func() error
	}{
		{"start", func() error { _, err := c.StartTask(app.ID); return err }},
		{"unhealthy", func() error { _, err := c.SetHealth(victim.ID, false); return err }},
		{"healthy", func() error { _, err := c.SetHealth(victim.ID, true); return err }},
		{"move", func() error {
			chs, err := c.MoveTask(victim.ID)
			if err == nil && (len(chs) != 2 || chs[0].Kind != TaskKilled || chs[1].Kind != TaskStarted || chs[1].Addr.Addr() == victim.IP) {
				t.Errorf("move changes %+v", chs)
			}
			return err
		}},
		{"fail", func() error { _, err := c.FailTask(c.Truth().Apps[1].Tasks[0].ID); return err }},
		{"kill", func() error { _, err := c.KillTask(c.Truth().Apps[1].Tasks[0].ID); return err }},
		{"scale up", func() error { _, err := c.ScaleApp(tr.Apps[2].ID, 6); return err }},
		{"scale down", func() error { _, err := c.ScaleApp(tr.Apps[2].ID, 1); return err }},
		{"add app", func() error { _, err := c.AddApp("fresh", 2); return err }},
		{"remove app", func() error { _, err := c.RemoveApp(tr.Apps[3].ID); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		checkAgree(t, c)
	}
	after := c.Truth()
	if a, _ := after.App(tr.Apps[2].ID); len(a.Tasks) != 1 || a.Instances != 1 {
		t.Errorf("scaled app has %d tasks, %d instances; want 1", len(a.Tasks), a.Instances)
	}
	if a, ok := after.App("/sim/fresh"); !ok || len(a.Tasks) != 2 || a.ServicePort != 10004 {
		t.Errorf("added app: %+v", a)
	}
	if _, ok := after.App(tr.Apps[3].ID); ok {
		t.Errorf("removed app still there")
	}
	if _, err := c.KillTask("no-such-task"); err == nil {
		t.Errorf("killing a task that does not exist: no error")
	}
	chs := c.Changes(0)
	if len(chs) == 0 || chs[len(chs)-1].Seq != c.Seq() {
		t.Fatalf("change log %v, seq %d", len(chs), c.Seq())
	}
	for i, ch := range chs {
		if ch.Seq != uint64(i+1) || ch.At.IsZero() || ch.Done.Before(ch.At) {
			t.Errorf("change %d: %+v", i, ch)
		}
	}
	if got := c.Changes(chs[len(chs)-2].Seq); len(got) != 1 {
		t.Errorf("Changes(since last-1) = %d changes, want 1", len(got))
	}
}

func TestChurnConvergesThroughStreams(t *testing.T) {
	c := start(t, Config{Apps: 6, TasksPerApp: 3, Masters: 2, Seed: 42, Heartbeat: time.Second})
	log := slog.New(slog.DiscardHandler)
	mesosSrc := newStream(t, c, log)
	marathonSrc, err := marathon.NewEventSource(marathon.Config{URLs: []string{c.MarathonURL()}},
		marathon.EventOptions{CoalesceDelay: -1, ReconnectMin: 5 * time.Millisecond, ReconnectMax: 50 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	ms, mar := runSource(t, mesosSrc), runSource(t, marathonSrc)
	ms.waitAgree(t, c, 10*time.Second)
	mar.waitAgree(t, c, 10*time.Second)

	r := NewRand(9)
	kinds := map[ChangeKind]int{}
	for i := range 300 {
		chs, err := c.Step(r)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, ch := range chs {
			kinds[ch.Kind]++
		}
		if i%50 == 49 {
			checkAgree(t, c)
			ms.waitAgree(t, c, 10*time.Second)
			mar.waitAgree(t, c, 10*time.Second)
		}
	}
	for _, k := range []ChangeKind{TaskStarted, TaskKilled, TaskFailed, TaskHealth, AppScaled, LeaderChanged} {
		if kinds[k] == 0 {
			t.Errorf("300 steps made no %s change: %v", k, kinds)
		}
	}
}

func TestSameSeedSameCluster(t *testing.T) {
	run := func() ([]string, []ChangeKind) {
		c := start(t, Config{Apps: 3, TasksPerApp: 2, Seed: 5})
		r := NewRand(6)
		var kinds []ChangeKind
		for range 40 {
			chs, err := c.Step(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range chs {
				kinds = append(kinds, ch.Kind)
			}
		}
		var ids []string
		for _, tk := range c.Truth().Tasks() {
			ids = append(ids, tk.ID+"@"+tk.Addr().String())
		}
		return ids, kinds
	}
	ids1, kinds1 := run()
	ids2, kinds2 := run()
	if !slices.Equal(ids1, ids2) || !slices.Equal(kinds1, kinds2) {
		t.Errorf("same seeds, different clusters:\n%v %v\n%v %v", ids1, kinds1, ids2, kinds2)
	}
}

func TestBackendsFollowTasks(t *testing.T) {
	c := start(t, Config{Apps: 2, TasksPerApp: 2, Backends: true, Seed: 11})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	answer := func(tk Task) (string, error) {
		resp, err := client.Get("http://" + tk.Addr().String() + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.Header.Get("X-Task-Id") != tk.ID {
			return "", errors.New("answered for task " + resp.Header.Get("X-Task-Id"))
		}
		return string(b), err
	}
	for _, tk := range c.Truth().Tasks() {
		body, err := answer(tk)
		if err != nil || body != tk.Addr().String() {
			t.Fatalf("task %s at %v answered %q, %v", tk.ID, tk.Addr(), body, err)
		}
		if n, ok := c.BackendHits(tk.ID); !ok || n != 1 {
			t.Errorf("task %s: %d hits, %v", tk.ID, n, ok)
		}
	}

	victim := c.Truth().Tasks()[0]
	chs, err := c.MoveTask(victim.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := answer(victim); err == nil {
		t.Errorf("the moved task's old address still answers")
	}
	moved, ok := c.Truth().Task(chs[1].Task)
	if !ok {
		t.Fatalf("new task %s not in the truth", chs[1].Task)
	}
	if body, err := answer(moved); err != nil || body != moved.Addr().String() {
		t.Errorf("the moved task's new address answered %q, %v", body, err)
	}
	if _, err := c.RemoveApp(moved.AppID); err != nil {
		t.Fatal(err)
	}
	if _, err := answer(moved); err == nil {
		t.Errorf("a task of a removed app still answers")
	}
	rest := c.Truth().Tasks()
	c.Close()
	for _, tk := range rest {
		if _, err := answer(tk); err == nil {
			t.Errorf("task %s still answers after Close", tk.ID)
		}
	}
}

func TestChangeLeader(t *testing.T) {
	c := start(t, Config{Masters: 3, Seed: 2})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	masters := c.Masters()
	for round := range 4 {
		old := c.Leader()
		ch, err := c.ChangeLeader()
		if err != nil {
			t.Fatal(err)
		}
		leader := c.Leader()
		if leader == old || ch.Leader != leader.Addr() || leader != masters[(round+1)%3] {
			t.Fatalf("round %d: leader %s after %s (change says %s)", round, leader.Addr(), old.Addr(), ch.Leader)
		}
		for _, path := range []string{"/master/state", "/api/v1"} {
			req, _ := http.NewRequest(http.MethodGet, old.URL()+path, nil)
			if path == "/api/v1" {
				req, _ = http.NewRequest(http.MethodPost, old.URL()+path, strings.NewReader(`{"type":"SUBSCRIBE"}`))
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//"+leader.Addr()+path {
				t.Errorf("old leader %s%s: %d Location %q", old.Addr(), path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		checkAgree(t, c)
		if _, err := c.StartTask(c.Truth().Apps[0].ID); err != nil {
			t.Fatal(err)
		}
		checkAgree(t, c)
	}
	one := start(t, Config{})
	if _, err := one.ChangeLeader(); !errors.Is(err, ErrOneMaster) {
		t.Errorf("one master: %v, want ErrOneMaster", err)
	}
}

func TestClosedClusterRefusesChanges(t *testing.T) {
	c := start(t, Config{})
	app := c.Truth().Apps[0].ID
	c.Close()
	if _, err := c.StartTask(app); !errors.Is(err, ErrClosed) {
		t.Errorf("StartTask after Close: %v", err)
	}
	if _, err := c.Step(NewRand(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Step after Close: %v", err)
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		bad  bool
	}{
		{"2/s", 2, false}, {"30/m", 0.5, false}, {"0.5", 0.5, false}, {"0", 0, false},
		{"3600/h", 1, false}, {"x/s", 0, true}, {"2/d", 0, true}, {"-1", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("ParseRate(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func TestBackendAppsLimitsBackends(t *testing.T) {
	var seen []Change
	c := start(t, Config{Apps: 3, TasksPerApp: 2, Backends: true, BackendApps: 1, OnChange: func(ch Change) { seen = append(seen, ch) }})
	for _, a := range c.Truth().Apps {
		for _, tk := range a.Tasks {
			_, has := c.BackendHits(tk.ID)
			if want := a.ID == "/sim/app-000"; has != want {
				t.Errorf("task %s of %s: backend %t, want %t", tk.ID, a.ID, has, want)
			}
		}
	}
	ch, err := c.StartTask("/sim/app-000")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.BackendHits(ch.Task); !ok {
		t.Errorf("new task of a backend app has no backend")
	}
	if len(seen) != 1 || seen[0] != ch {
		t.Errorf("OnChange saw %+v, want %+v", seen, ch)
	}
	if ch.MarathonAt.Before(ch.At) || ch.Done.Before(ch.MarathonAt) {
		t.Errorf("change times out of order: %+v", ch)
	}
}
