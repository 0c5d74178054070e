package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func testCluster(source string, taskIDs ...string) *Cluster {
	c := &Cluster{Source: source, FetchedAt: time.Now()}
	for _, id := range taskIDs {
		c.Tasks = append(c.Tasks, &Task{ID: id, Name: "t", State: TaskRunning})
	}
	return c.Seal()
}

func startHub(t *testing.T, quiet, maxDelay time.Duration) *Hub {
	t.Helper()
	h := NewHub(quiet, maxDelay, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func recv(t *testing.T, ch <-chan *Snapshot) *Snapshot {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no snapshot delivered")
		return nil
	}
}

func TestHubDeliversAndDropsUnchanged(t *testing.T) {
	h := startHub(t, 0, 0)
	sub := h.Subscribe()
	h.PublishCluster(testCluster("m1", "a", "b"))
	s := recv(t, sub)
	if s.Seq != 1 || len(s.Cluster.Tasks) != 2 {
		t.Fatalf("got seq %d with %d tasks", s.Seq, len(s.Cluster.Tasks))
	}
	// Same content from another master: nothing to rebuild, but the source is fresh.
	h.PublishCluster(testCluster("m2", "b", "a"))
	h.PublishCluster(testCluster("m1", "a", "b", "c"))
	s = recv(t, sub)
	if s.Seq != 2 || len(s.Cluster.Tasks) != 3 {
		t.Fatalf("after change: seq %d with %d tasks, want seq 2 with 3", s.Seq, len(s.Cluster.Tasks))
	}
	var m2 bool
	for _, st := range h.Sources() {
		if st.Name == "m2" && !st.LastGood.IsZero() {
			m2 = true
		}
	}
	if !m2 {
		t.Errorf("unchanged publish from m2 not recorded as good: %+v", h.Sources())
	}
}

func TestHubLatestWinsForSlowSubscriber(t *testing.T) {
	h := startHub(t, 0, 0)
	fast := h.Subscribe()
	slow := h.Subscribe()
	for i, ids := range [][]string{{"a"}, {"a", "b"}, {"a", "b", "c"}} {
		h.PublishCluster(testCluster("m", ids...))
		if s := recv(t, fast); s.Seq != uint64(i+1) {
			t.Fatalf("fast subscriber got seq %d, want %d", s.Seq, i+1)
		}
	}
	s := recv(t, slow)
	if s.Seq != 3 || len(s.Cluster.Tasks) != 3 {
		t.Fatalf("slow subscriber got seq %d, want only the latest (3)", s.Seq)
	}
	select {
	case s := <-slow:
		t.Fatalf("slow subscriber got a stale extra snapshot seq %d", s.Seq)
	default:
	}
}

func TestHubCoalescesBursts(t *testing.T) {
	h := startHub(t, 300*time.Millisecond, 10*time.Second)
	sub := h.Subscribe()
	for i := 0; i < 20; i++ {
		ids := make([]string, i+1)
		for j := range ids {
			ids[j] = string(rune('a' + j))
		}
		h.PublishCluster(testCluster("m", ids...))
	}
	s := recv(t, sub)
	if s.Seq != 1 || len(s.Cluster.Tasks) != 20 {
		t.Fatalf("burst gave seq %d with %d tasks, want one snapshot (seq 1) with the last view (20)", s.Seq, len(s.Cluster.Tasks))
	}
}

func TestHubMaxDelayBoundsQuiet(t *testing.T) {
	// A quiet period that never comes: the max delay must still deliver.
	h := startHub(t, time.Hour, 50*time.Millisecond)
	sub := h.Subscribe()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				h.PublishCluster(testCluster("m", string(rune('a'+i%26)), "x"))
			}
		}
	}()
	if s := recv(t, sub); s.Cluster == nil {
		t.Fatal("delivered an empty snapshot")
	}
}

func TestHubCombinesParts(t *testing.T) {
	h := startHub(t, 0, 0)
	sub := h.Subscribe()
	h.PublishCluster(testCluster("mesos", "a"))
	recv(t, sub)
	h.PublishApps(&AppSet{Source: "marathon", Digest: 7, Apps: []App{{ID: "/x"}}})
	s := recv(t, sub)
	if s.Cluster == nil || s.Apps == nil || s.Apps.Apps[0].ID != "/x" || len(s.Cluster.Tasks) != 1 {
		t.Fatalf("combined snapshot = %+v", s)
	}
	if late := h.Subscribe(); recv(t, late) != s {
		t.Fatal("a late subscriber does not get the current snapshot at once")
	}
}

func TestHubRecordsFailuresUntilGood(t *testing.T) {
	h := startHub(t, 0, 0)
	h.FetchFailed("m", errors.New("connection refused"))
	h.FetchFailed("m", errors.New("connection refused"))
	st := h.Sources()
	if len(st) != 1 || st[0].Failures != 2 || st[0].LastError == nil {
		t.Fatalf("status after failures = %+v", st)
	}
	h.PublishCluster(testCluster("m", "a"))
	st = h.Sources()
	if st[0].Failures != 0 || st[0].LastError != nil || st[0].LastGood.IsZero() {
		t.Fatalf("status after recovery = %+v", st)
	}
	if h.Current() != nil && h.Current().Cluster == nil {
		t.Fatal("failures produced a snapshot without a cluster")
	}
}

// A source's left-out records are its status until its next good view; each
// is logged once when first left out (at most maxLeftOutLogs per view), and
// the log says when records come back.
func TestHubKeepsAndLogsLeftOut(t *testing.T) {
	var buf strings.Builder
	h := NewHub(0, 0, slog.New(slog.NewTextHandler(&buf, nil)))
	apps := func(ids ...string) *AppSet {
		a := &AppSet{Source: "marathon", FetchedAt: time.Now()}
		for _, id := range ids {
			a.LeftOut = append(a.LeftOut, LeftOut{ID: id, Reason: "port 70000 out of range"})
		}
		return a.Seal()
	}
	h.PublishApps(apps("/bad"))
	h.PublishApps(apps("/bad")) // the same: not logged again
	if st := h.Sources(); len(st) != 1 || len(st[0].LeftOut) != 1 || st[0].LeftOut[0].ID != "/bad" {
		t.Fatalf("status = %+v", st)
	}
	if n := strings.Count(buf.String(), "left out of the view: invalid data"); n != 1 {
		t.Errorf("%d log lines for one record left out twice, want 1:\n%s", n, buf.String())
	}
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("/bad-%02d", i)
	}
	buf.Reset()
	h.PublishApps(apps(many...))
	if n := strings.Count(buf.String(), "left out of the view: invalid data"); n != maxLeftOutLogs {
		t.Errorf("%d log lines for 25 new records, want %d", n, maxLeftOutLogs)
	}
	if !strings.Contains(buf.String(), "more=15") {
		t.Errorf("the log does not count the rest:\n%s", buf.String())
	}
	buf.Reset()
	h.PublishApps(apps())
	if st := h.Sources(); len(st[0].LeftOut) != 0 {
		t.Errorf("left out after a clean view: %+v", st[0].LeftOut)
	}
	if !strings.Contains(buf.String(), "records no longer left out") || !strings.Contains(buf.String(), "count=25") {
		t.Errorf("the log does not say the records are back:\n%s", buf.String())
	}
}

func TestSealSortsIndexesAndDigests(t *testing.T) {
	c := &Cluster{
		Agents:     []Agent{{ID: "s2", Host: "127.0.0.2"}, {ID: "s1", Host: "127.0.0.1"}},
		Frameworks: []Framework{{ID: "f2", Name: "b"}, {ID: "f1", Name: "a"}},
		Tasks:      []*Task{{ID: "t2"}, {ID: "t1"}},
	}
	c.Seal()
	if c.Agents[0].ID != "s1" || c.Tasks[0].ID != "t1" || c.Frameworks[0].ID != "f1" {
		t.Fatal("not sorted")
	}
	if a := c.Agent("s2"); a == nil || a.Host != "127.0.0.2" {
		t.Fatalf("Agent(s2) = %+v", a)
	}
	if f := c.Framework("f2"); f == nil || f.Name != "b" || c.Framework("nope") != nil {
		t.Fatal("Framework lookup wrong")
	}
	d := c.Digest
	healthy := true
	c2 := &Cluster{
		Agents:     []Agent{{ID: "s1", Host: "127.0.0.1"}, {ID: "s2", Host: "127.0.0.2"}},
		Frameworks: []Framework{{ID: "f1", Name: "a"}, {ID: "f2", Name: "b"}},
		Tasks:      []*Task{{ID: "t1"}, {ID: "t2", Healthy: &healthy}},
	}
	if c2.Seal().Digest == d {
		t.Fatal("a health change does not change the digest")
	}
	c2.Tasks[1].Healthy = nil
	if c2.Seal().Digest != d {
		t.Fatal("equal content in another order gives another digest")
	}
}
