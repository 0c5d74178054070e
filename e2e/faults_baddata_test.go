package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/internal/sim"
)

// A master answering garbage, truncated JSON, a 100 MB body or very slowly:
// the last good view is kept (DNS answers as before), memory stays bounded,
// the error is visible on /status.json and /metrics, and the first good
// answer afterwards is taken. The daemon polls /master/state (where the
// fake master's faults are) every second, with a 2 s bound on one fetch.
func TestFaultMasterBadAnswers(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 3, TasksPerApp: 2, Seed: 31})
	m := c.Masters()[0]
	m.SetDelay(time.Minute)
	d := startDaemon(t, true, "-masters="+m.Addr(), "-mesosFollow=poll", "-stateTimeoutSeconds=2")
	waitDNS(t, d, c, 20*time.Second)
	for _, tc := range []struct {
		mode  fakemaster.Mode
		fails int // failed fetches to wait for
	}{
		{fakemaster.Garbage, 3},
		{fakemaster.Truncated, 3},
		{fakemaster.Slow, 2},
		{fakemaster.Huge, 4},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			before := c.Truth()
			baseRSS := d.rssKB(t)
			failed := d.metric(t, "discovery_mesos_fetches_total", `result="error"`)
			m.SetMode(tc.mode)
			peak := int64(0)
			start := time.Now()
			waitFor(t, 30*time.Second, "failed fetches counted on /metrics", func() bool {
				peak = max(peak, d.rssKB(t))
				if ok, diff := dnsAgrees(d, before); !ok {
					t.Fatalf("the last good view was not kept: %s", diff)
				}
				return d.metric(t, "discovery_mesos_fetches_total", `result="error"`) >= failed+float64(tc.fails)
			})
			st := d.status(t)
			if st.sourceErrors() == "" {
				t.Error("/status.json shows no source error")
			}
			t.Logf("%d failed fetches in %v; status: %.200s; RSS %d KiB → peak %d KiB",
				tc.fails, time.Since(start).Round(time.Millisecond), st.sourceErrors(), baseRSS, peak)
			// The 64 MiB state bound (maxStateBytes), at most twice over
			// while a buffer grows; a 100 MB body read whole would pass it.
			if peak-baseRSS > 128<<10 {
				t.Errorf("BUG: RSS grew from %d KiB to %d KiB under %s answers, over twice the 64 MiB body limit", baseRSS, peak, tc.mode)
			}
			if tc.mode == fakemaster.Huge {
				// Bounded: more of the same does not grow it further.
				failed := d.metric(t, "discovery_mesos_fetches_total", `result="error"`)
				peak2 := int64(0)
				waitFor(t, 30*time.Second, "4 more failed fetches", func() bool {
					peak2 = max(peak2, d.rssKB(t))
					return d.metric(t, "discovery_mesos_fetches_total", `result="error"`) >= failed+4
				})
				t.Logf("4 more 100 MB answers: peak RSS %d KiB", peak2)
				// A leak of what a refused answer decoded would add up to
				// 64 MiB per answer; the collector's timing (later under CPU
				// contention) moves the peak by less than half of one.
				if peak2-peak > 32<<10 || peak2-baseRSS > 128<<10 {
					t.Errorf("RSS keeps growing under 100 MB answers: peak %d KiB, then %d KiB (base %d KiB)", peak, peak2, baseRSS)
				}
			}
			if ok, diff := dnsAgrees(d, before); !ok {
				t.Fatalf("the last good view was not kept: %s", diff)
			}

			m.SetMode(fakemaster.Leading)
			if _, err := c.StartTask(before.Apps[0].ID); err != nil {
				t.Fatal(err)
			}
			took := waitDNS(t, d, c, 10*time.Second)
			t.Logf("recovered in %v once the master answered well again (polling every 1s)", took.Round(time.Millisecond))
		})
	}
	if !d.Alive() {
		t.Fatalf("the daemon exited: %v", d.Err())
	}
}

// streamFault starts a cluster of 3 apps of 2 tasks (heartbeat 100 ms) with one
// master and a daemon following its event stream, and waits for DNS. It then
// applies fault to the master's streams and starts a task of app (a change
// only new streams see), and waits for the daemon to subscribe again after
// what happened and for DNS to show the change.
func streamFault(t *testing.T, seed uint64, app int, what string, fault func(*fakemaster.OperatorAPI)) *daemon {
	t.Helper()
	c := newCluster(t, sim.Config{Apps: 3, TasksPerApp: 2, Seed: seed, Heartbeat: 100 * time.Millisecond})
	api := c.OperatorAPIs()[0]
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr())
	waitDNS(t, d, c, 20*time.Second)
	subs := api.Subscriptions()
	fault(api)
	// Changes made now reach only new streams.
	if _, err := c.StartTask(c.Truth().Apps[app].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new subscription after "+what, func() bool {
		return api.Subscriptions() > subs
	})
	waitDNS(t, d, c, 10*time.Second)
	return d
}

// An event stream that goes silent without closing (no events, no
// heartbeats) is detected and the daemon subscribes again; a change made
// while it was silent reaches DNS.
func TestFaultEventStreamSilent(t *testing.T) {
	var silenced time.Time
	d := streamFault(t, 41, 1, "the stream went silent", func(api *fakemaster.OperatorAPI) {
		api.SilenceStreams()
		silenced = time.Now()
	})
	t.Logf("silent stream detected and resubscribed; DNS current %v after it went silent (heartbeat 100ms, 5 missed allowed)", time.Since(silenced).Round(time.Millisecond))
	if v := d.metric(t, "discovery_mesos_stream_heartbeat_timeouts_total"); v < 1 {
		t.Errorf("discovery_mesos_stream_heartbeat_timeouts_total = %v after a silent stream", v)
	}
}

// A stream that sends a record that is not an event is dropped and
// subscribed again; the view is kept meanwhile.
func TestFaultEventStreamGarbage(t *testing.T) {
	d := streamFault(t, 43, 2, "a garbled record", (*fakemaster.OperatorAPI).GarbleStreams)
	// The error is cleared by the next good view; when it happened stays.
	st := d.status(t)
	if len(st.Sources) == 0 || st.Sources[0].LastErrorAt.IsZero() {
		t.Errorf("/status.json does not say when the stream last failed: %+v", st.Sources)
	}
	if v := d.metric(t, "discovery_mesos_stream_reconnects_total"); v < 1 {
		t.Errorf("discovery_mesos_stream_reconnects_total = %v after a garbled record", v)
	}
	if !strings.Contains(d.logText(), "decoding event") {
		t.Error("the log does not say why the stream was dropped")
	}
}
