package lbmodel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// genApps builds n apps of k tasks each, shaped like
// ../shared/tools/genapps.py: every app one service port (10000+i), a vhost on
// every third, stickiness on every seventh, a path on every eleventh, an HTTPS
// redirect where both meet, an HTTP health check on every fifth; tasks on
// 127.1.x.y with random host ports.
func genApps(n, k int) []state.App {
	r := rand.New(rand.NewPCG(1, 2))
	apps := make([]state.App, n)
	started := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		sp := 10000 + i
		labels := map[string]string{"HAPROXY_GROUP": "internal"}
		if i%2 == 1 {
			labels["HAPROXY_GROUP"] = "external"
		}
		if i%3 == 0 {
			labels["HAPROXY_0_VHOST"] = fmt.Sprintf("app%d.example.com", i)
		}
		if i%7 == 0 {
			labels["HAPROXY_0_STICKY"] = "true"
		}
		if i%11 == 0 {
			labels["HAPROXY_0_PATH"] = fmt.Sprintf("/api/%d", i)
		}
		if i%3 == 0 && i%11 == 0 {
			labels["HAPROXY_0_REDIRECT_TO_HTTPS"] = "true"
		}
		app := state.App{
			ID:        fmt.Sprintf("/app-%d", i),
			Labels:    labels,
			Network:   state.NetworkHost,
			Ports:     []state.AppPort{{ServicePort: sp, Name: "http", Protocol: "tcp"}},
			Instances: k,
		}
		if i%5 == 0 {
			app.HealthChecks = []state.HealthCheck{{Protocol: "HTTP", Path: "/health", IntervalSeconds: 10,
				TimeoutSeconds: 5, GracePeriodSeconds: 30, MaxConsecutiveFailures: 3}}
		}
		for j := range k {
			x := i*k + j
			host := fmt.Sprintf("127.1.%d.%d", x/250%250, 1+x%250)
			t := state.AppTask{
				ID: fmt.Sprintf("app-%d.%016x", i, r.Uint64()), AgentID: fmt.Sprintf("agent-%d", j),
				Host: host, Ports: []int{31000 + r.IntN(1000)}, ServicePorts: []int{sp},
				State: state.TaskRunning, StartedAt: started,
			}
			if i%5 == 0 {
				t.Health = []bool{true}
			}
			app.Tasks = append(app.Tasks, t)
		}
		apps[i] = app
	}
	return apps
}

func benchSetup(b *testing.B) ([]state.App, *Config, *Templates) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Groups = []string{"*"}
	ts, err := LoadTemplates(cfg, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	return genApps(10000, 3), cfg, ts
}

// BenchmarkBuildModel measures deriving the model of 10,000 apps × 3 tasks.
func BenchmarkBuildModel(b *testing.B) {
	apps, cfg, ts := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildModel(apps, cfg, ts, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildModelIncremental measures an incremental build (ModelCache,
// as the daemon's ModelBuilder does) of 10,000 apps × 3 tasks where one app
// changed since the previous build: a task moved to another port. The app
// digests come with the snapshot (state.AppSet.AppDigests, which the Marathon
// source computes); BenchmarkBuildModelIncrementalDigests computes them all in
// each build instead (apps derived from the Mesos state).
func BenchmarkBuildModelIncremental(b *testing.B) {
	benchIncremental(b, false)
}

// BenchmarkBuildModelIncrementalDigests is BenchmarkBuildModelIncremental
// digesting every app in each build.
func BenchmarkBuildModelIncrementalDigests(b *testing.B) {
	benchIncremental(b, true)
}

func benchIncremental(b *testing.B, digestAll bool) {
	apps, cfg, ts := benchSetup(b)
	digests := AppDigests(apps)
	cache := NewModelCache()
	if _, err := cache.Build(apps, digests, cfg, ts, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		k := i * 7919 % len(apps)
		a := &apps[k]
		a.Tasks = slices.Clone(a.Tasks)
		a.Tasks[0].Ports = []int{32000 + i%1000}
		ds := digests
		if digestAll {
			ds = nil
		} else {
			digests[k] = state.AppDigest(a) // done by the source: microseconds
		}
		if _, err := cache.Build(apps, ds, cfg, ts, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender measures writing the config of 10,000 apps × 3 tasks from
// its model.
func BenchmarkRender(b *testing.B) {
	apps, cfg, ts := benchSetup(b)
	m, err := BuildModel(apps, cfg, ts, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildAndRender is the whole path from apps to config bytes, the
// figure to compare with marathon-lb's config generation.
func BenchmarkBuildAndRender(b *testing.B) {
	apps, cfg, ts := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		m, err := BuildModel(apps, cfg, ts, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Render(m); err != nil {
			b.Fatal(err)
		}
	}
}
