package main

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// dashboardSeries are the metric series the Grafana dashboard queries: every
// discovery_* name in its panels' expressions and variables.
func dashboardSeries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/grafana/discovery.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/discovery.json: %v", err)
	}
	name := regexp.MustCompile(`discovery_[a-z0-9_]+`)
	seen := map[string]bool{}
	add := func(expr string) {
		for _, n := range name.FindAllString(expr, -1) {
			seen[n] = true
		}
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			add(tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		add(v.Definition)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestDashboardQueriesExistingSeries: every series the Grafana dashboard
// (deploy/grafana/discovery.json) queries is on /metrics of a daemon at work
// (-dev: the simulated cluster with churn, HAProxy, DNS queries answered), so
// a renamed metric cannot leave a panel empty.
func TestDashboardQueriesExistingSeries(t *testing.T) {
	want := dashboardSeries(t)
	if len(want) < 15 {
		t.Fatalf("the dashboard queries only %d series: %v", len(want), want)
	}
	r := startDevT(t, devArgs(t, "-dev-churn", "10/s"), devEnv{}, discardLog())
	if r.haproxy == "" {
		t.Skip("haproxy is not installed: the load balancer's series are not there")
	}
	app := r.sim.Truth().Apps[0]
	name := r.sim.Truth().TaskDNSName(app, "mesos")
	var missing []string
	waitFor(t, 30*time.Second, "every series of the dashboard on /metrics", func() bool {
		udpA(r.d.dns.Addr(), name)
		udpA(r.d.dns.Addr(), "no-such-app.marathon.mesos")
		code, _, body := httpGet("http://" + r.d.httpLn.Addr().String() + "/metrics")
		if code != http.StatusOK {
			return false
		}
		missing = missing[:0]
		for _, s := range want {
			if !strings.Contains(body, "\n"+s+"{") && !strings.Contains(body, "\n"+s+" ") {
				missing = append(missing, s)
			}
		}
		return len(missing) == 0
	})
	if len(missing) > 0 {
		t.Errorf("series the dashboard queries that /metrics lacks: %v", missing)
	}
}
