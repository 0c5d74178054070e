package marathon

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/state"
)

// marGenApps builds n apps with k running tasks each, in the spirit of
// ../shared/tools/genapps.py: every third app has a vhost, every fifth a health
// check, all hosts on 127.0.0.0/8.
func marGenApps(n, k int) []fakemarathon.App {
	apps := make([]fakemarathon.App, n)
	started := "2026-11-01T00:00:00.000Z"
	for i := range apps {
		sp := 10000 + i
		labels := map[string]string{"HAPROXY_GROUP": "internal"}
		if i%2 == 1 {
			labels["HAPROXY_GROUP"] = "external"
		}
		if i%3 == 0 {
			labels["HAPROXY_0_VHOST"] = fmt.Sprintf("app%d.example.com", i)
		}
		a := fakemarathon.App{
			ID:              fmt.Sprintf("/app-%d", i),
			Instances:       k,
			Cpus:            0.1,
			Mem:             64,
			Labels:          labels,
			PortDefinitions: []fakemarathon.PortDefinition{{Port: sp, Protocol: "tcp", Name: "http", Labels: map[string]string{}}},
			Version:         started,
		}
		if i%5 == 0 {
			zero := 0
			a.HealthChecks = []fakemarathon.HealthCheck{{Protocol: "HTTP", Path: "/health", PortIndex: &zero, IntervalSeconds: 10, TimeoutSeconds: 5, GracePeriodSeconds: 30, MaxConsecutiveFailures: 3}}
		}
		for j := range k {
			n := i*k + j
			host := fmt.Sprintf("127.1.%d.%d", n/250%250, 1+n%250)
			t := fakemarathon.Task{
				ID: fmt.Sprintf("app-%d.%016x", i, n), AppID: a.ID, Host: host,
				IPAddresses: []fakemarathon.IPAddr{{IPAddress: host, Protocol: "IPv4"}},
				Ports:       []int{31000 + n%1000}, ServicePorts: []int{sp}, SlaveID: fmt.Sprintf("agent-%d", j),
				State: "TASK_RUNNING", StagedAt: started, StartedAt: &started, Version: started,
			}
			if i%5 == 0 {
				t.HealthCheckResults = []fakemarathon.HealthCheckResult{{Alive: true, InstanceID: t.ID}}
			}
			a.Tasks = append(a.Tasks, t)
		}
		apps[i] = a
	}
	return apps
}

// marServedDoc returns the /v2/apps document the fake Marathon serves for apps.
func marServedDoc(tb testing.TB, apps []fakemarathon.App) []byte {
	tb.Helper()
	fake := fakemarathon.New(fakemarathon.Options{})
	defer fake.Close()
	fake.SetApps(apps)
	req, err := http.NewRequest(http.MethodGet, fake.URL()+AppsPath, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return marBody(tb, http.DefaultClient, req)
}

// marBody sends req with c and returns the answer's body, failing the test
// when either fails.
func marBody(tb testing.TB, c *http.Client, req *http.Request) []byte {
	tb.Helper()
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

func TestDecodeAppsGenerated(t *testing.T) {
	set, err := DecodeApps(marServedDoc(t, marGenApps(300, 3)), "s", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Apps) != 300 {
		t.Fatalf("%d apps", len(set.Apps))
	}
	for _, a := range set.Apps {
		if len(a.Tasks) != 3 || a.Network != state.NetworkHost || len(a.Ports) != 1 || a.Tasks[0].State != state.TaskRunning {
			t.Fatalf("app %+v", a)
		}
	}
	a := set.Apps[0] // /app-0: vhost, health check
	if a.Labels["HAPROXY_0_VHOST"] != "app0.example.com" || len(a.HealthChecks) != 1 || a.Tasks[0].Health[0] != true {
		t.Errorf("app-0 = %+v", a)
	}
}

// BenchmarkDecodeApps decodes a 10,000-app, 30,000-task /v2/apps document
// held whole, as it is read (the poller and the event source's resync), and
// with encoding/json into the wire structs, for comparison.
func BenchmarkDecodeApps(b *testing.B) {
	doc := marServedDoc(b, marGenApps(10000, 3))
	for _, way := range []struct {
		name   string
		decode func() (*state.AppSet, error)
	}{
		{"bytes", func() (*state.AppSet, error) { return DecodeApps(doc, "bench", time.Time{}) }},
		{"reader", func() (*state.AppSet, error) { return DecodeAppsFrom(bytes.NewReader(doc), "bench", time.Time{}) }},
		{"encoding-json", func() (*state.AppSet, error) { return decodeAppsReference(doc) }},
	} {
		b.Run(way.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := way.decode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
