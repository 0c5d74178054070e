package lbsync

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state"
)

// BenchmarkServerChangeLatency measures how long a server-level change takes
// from the snapshot's arrival at the syncer until HAProxy runs it (Runtime API
// operations done), with 1,000 apps of 3 servers each configured. Each
// iteration adds or removes one server of one app.
//
//	go test ./lbsync -run '^$' -bench ServerChangeLatency -benchtime 200x
func BenchmarkServerChangeLatency(b *testing.B) {
	e := newLBEnv(b, func(o *SyncerOptions) { o.ArchiveKeep = 0 })
	backends := []*haproxytest.Backend{
		haproxytest.StartBackend(b, "127.0.0.2"),
		haproxytest.StartBackend(b, "127.0.0.3"),
		haproxytest.StartBackend(b, "127.0.0.4"),
		haproxytest.StartBackend(b, "127.0.0.5"),
	}
	const napps = 1000
	// Frontends on an address of their own, away from the ephemeral ports
	// that connections on 127.0.0.1 use.
	const bindIP = "127.0.1.1"
	base := 20000 + haproxytest.FreePort(b, bindIP)%20000
	apps := make([]testApp, napps)
	for i := range apps {
		apps[i] = testApp{ID: "/app" + strconv.Itoa(i), Port: base + i, Servers: backends[:3], BindIP: bindIP}
	}
	e.apply(apps...)
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		next := slices.Clone(apps)
		a := &next[i%napps]
		if len(a.Servers) == 3 {
			a.Servers = backends[:4]
		} else {
			a.Servers = backends[:3]
		}
		e.apply(next...)
		lat = append(lat, runtimeTook(b, e.s, i))
		apps = next
	}
	b.StopTimer()
	reportLatencies(b, lat)
}

// BenchmarkServerChangeLatencyRealModel is BenchmarkServerChangeLatency through
// the whole pipeline: Marathon apps, BuildModel with the default templates,
// plan, Runtime API. LBSYNC_BENCH_APPS sets the number of apps (1,000).
//
//	LBSYNC_BENCH_APPS=3000 go test ./lbsync -run '^$' -bench ServerChangeLatencyRealModel -benchtime 100x
func BenchmarkServerChangeLatencyRealModel(b *testing.B) {
	napps := 1000
	if v := os.Getenv("LBSYNC_BENCH_APPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		napps = n
	}
	rm := &realModel{}
	e := newLBEnv(b, withRealModel(b, rm), func(o *SyncerOptions) { o.ArchiveKeep = 0 })
	backends := []*haproxytest.Backend{
		haproxytest.StartBackend(b, "127.0.0.2"),
		haproxytest.StartBackend(b, "127.0.0.3"),
		haproxytest.StartBackend(b, "127.0.0.4"),
		haproxytest.StartBackend(b, "127.0.0.5"),
	}
	const bindIP = "127.0.1.1"
	base := 20000 + haproxytest.FreePort(b, bindIP)%(45000-napps-20000)
	apps := make([]state.App, napps)
	for i := range apps {
		apps[i] = marathonApp("/app"+strconv.Itoa(i), base+i, map[string]string{"HAPROXY_0_BIND_ADDR": bindIP}, backends[:3]...)
	}
	e.wait(rm.push(e, apps...))
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		next := slices.Clone(apps)
		k := i % napps
		tasks := backends[:4]
		if len(next[k].Tasks) == 4 {
			tasks = backends[:3]
		}
		next[k] = marathonApp(next[k].ID, base+k, map[string]string{"HAPROXY_0_BIND_ADDR": bindIP}, tasks...)
		e.wait(rm.push(e, next...))
		lat = append(lat, runtimeTook(b, e.s, i))
		apps = next
	}
	b.StopTimer()
	reportLatencies(b, lat)
}

// reportLatencies reports the p50, p99 and maximum of lat, in milliseconds.
func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// runtimeTook is how long iteration i's apply took, failing the benchmark
// unless it went through the Runtime API.
func runtimeTook(b *testing.B, s *Syncer, i int) time.Duration {
	b.Helper()
	st := s.Status()
	if st.Via != "runtime" {
		b.Fatalf("iteration %d applied via %q", i, st.Via)
	}
	return st.Took
}
