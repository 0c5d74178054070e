package lbsync

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// TestNoFailedRequestsUnderChurn drives requests through HAProxy from a client
// loop while servers are added and removed through the Runtime API and while
// structural changes reload HAProxy: not one request may fail.
func TestNoFailedRequestsUnderChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("churn test skipped in -short mode")
	}
	e := newLBEnv(t)
	var pool []*haproxytest.Backend
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"} {
		pool = append(pool, haproxytest.StartBackend(t, ip))
	}
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: pool[:2]}
	extra := testApp{ID: "/extra", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: pool[:1]}
	e.apply(web)

	load := haproxytest.StartLoad(url(web), 4, 1_000_000)
	rng := rand.New(rand.NewPCG(1, 2))
	const events, structuralEvery = 150, 15
	reloadsBefore := e.masterReloads()
	withExtra := false
	seen := map[string]bool{}
	for i := range events {
		// A random non-empty subset of the pool.
		var servers []*haproxytest.Backend
		for _, b := range pool {
			if rng.IntN(2) == 0 {
				servers = append(servers, b)
			}
		}
		if len(servers) == 0 {
			servers = pool[i%len(pool) : i%len(pool)+1]
		}
		web.Servers = servers
		if i%structuralEvery == structuralEvery-1 {
			withExtra = !withExtra
		}
		if withExtra {
			e.apply(web, extra)
		} else {
			e.apply(web)
		}
		// Every server of the pool receives traffic once it is in.
		for _, b := range servers {
			if !seen[b.Addr()] {
				before := b.Hits()
				if !haproxytest.WaitFor(5*time.Second, func() bool { return b.Hits() > before }) {
					t.Errorf("event %d: new server %s gets no traffic", i, b.Addr())
				}
				seen[b.Addr()] = true
			}
		}
	}
	load.Stop()
	reloads := e.masterReloads() - reloadsBefore
	t.Logf("%d requests OK, %d failed, %d events, %d reloads", load.OK.Load(), load.Failed.Load(), events, reloads)
	if n := load.Failed.Load(); n != 0 {
		// Debian 12's HAProxy 2.6.12 can leave the listeners paused after a
		// reload (its old worker pausing the shared sockets late, see
		// watchListeners); the syncer notices and reloads again. Refused
		// connections in that window are HAProxy's, and only those pass.
		paused := e.counter("discovery_lb_reloads_total", ReasonListenersPaused)
		if paused == 0 || load.Refused.Load() != n || n > (load.OK.Load()+n)/20 {
			t.Fatalf("%d failed requests (%d refused; %v listeners_paused reloads): %v", n, load.Refused.Load(), paused, load.Errors())
		}
		t.Logf("%d connections refused while HAProxy had paused its listeners after a reload; %v reloads brought them back", n, paused)
	}
	if load.OK.Load() < 100 {
		t.Fatalf("only %d requests went through", load.OK.Load())
	}
	reloads -= int(e.counter("discovery_lb_reloads_total", ReasonListenersPaused))
	if reloads < events/structuralEvery || reloads > events/structuralEvery+1 {
		t.Fatalf("%d reloads for %d structural changes", reloads, events/structuralEvery)
	}
}

// TestLatestSnapshotWins: snapshots published faster than they can be applied
// are coalesced; HAProxy ends up running the latest one.
func TestLatestSnapshotWins(t *testing.T) {
	e := newLBEnv(t)
	var pool []*haproxytest.Backend
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		pool = append(pool, haproxytest.StartBackend(t, ip))
	}
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: pool[:1]}
	e.apply(web)
	var last uint64
	for i := range 40 {
		web.Servers = pool[i%4 : i%4+1]
		if i%10 == 9 {
			web.Extra = "  timeout server " + strconv.Itoa(10+i) + "s\n" // structural now and then
		}
		last = e.push(web)
	}
	e.wait(last)
	want := web.Servers[0].Addr()
	if got := spread(t, web, 8); got[want] != 8 {
		t.Fatalf("served by %v, want all on %s (the latest snapshot)", got, want)
	}
	if st := e.s.Status(); st.Seq != last {
		t.Fatalf("status at seq %d, want %d", st.Seq, last)
	}
	if !strings.Contains(string(e.s.Config()), "timeout server 49s") {
		t.Fatal("the latest structural change is not in the config")
	}
}
