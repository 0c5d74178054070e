package sim

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/marathon"
	"github.com/discovery-mesos/discovery/state/mesos"
)

// Helpers that read the simulator through the wire, as discovery does, and
// reduce what they read to the shapes Truth gives.

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return body
}

// fetchMesos reads the leading master's /master/state.
func fetchMesos(t *testing.T, c *Cluster) *state.Cluster {
	t.Helper()
	cl, err := mesos.DecodeState(get(t, c.Leader().URL()+"/master/state"), mesos.FetchMeta{Source: "test", FetchedAt: time.Now()})
	if err != nil {
		t.Fatalf("decoding the master's state: %v", err)
	}
	return cl
}

// fetchMarathon reads Marathon's apps with their tasks.
func fetchMarathon(t *testing.T, c *Cluster) *state.AppSet {
	t.Helper()
	set, err := marathon.DecodeApps(get(t, c.MarathonURL()+"/v2/apps?embed=apps.tasks"), "test", time.Now())
	if err != nil {
		t.Fatalf("decoding marathon's apps: %v", err)
	}
	return set
}

// view is what a follower's view says about the running tasks.
type view struct {
	dns     map[string][]netip.Addr      // A records
	servers map[string][]netip.AddrPort  // app → all running tasks
	healthy map[string][]netip.AddrPort  // app → healthy running tasks
	labels  map[string]map[string]string // app → labels
}

func truthView(tr Truth) view {
	v := view{dns: tr.DNSA("mesos"), servers: tr.LBServers(false), healthy: tr.LBServers(true), labels: map[string]map[string]string{}}
	for _, a := range tr.Apps {
		if len(a.Tasks) > 0 {
			v.labels[a.ID] = a.Labels
		}
	}
	return v
}

// clusterDNS is the A records a mesos-dns reading of cl gives the marathon
// framework's running tasks (the simulator's names need no sanitising).
func clusterDNS(cl *state.Cluster) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, tk := range cl.Tasks {
		f := cl.Framework(tk.FrameworkID)
		if tk.State != state.TaskRunning || f == nil || f.Name != frameworkName {
			continue
		}
		name := tk.Name + "." + f.Name + ".mesos."
		ip := netip.Addr{}
		if len(tk.NetInfo) > 0 {
			ip = tk.NetInfo[0]
		} else if a := cl.Agent(tk.AgentID); a != nil {
			ip, _ = netip.ParseAddr(a.Host)
		}
		out[name] = append(out[name], ip)
	}
	for k := range out {
		slices.SortFunc(out[k], netip.Addr.Compare)
		out[k] = slices.Compact(out[k])
	}
	return out
}

func appsView(apps []state.App) view {
	v := view{servers: map[string][]netip.AddrPort{}, healthy: map[string][]netip.AddrPort{}, labels: map[string]map[string]string{}}
	for _, a := range apps {
		for _, tk := range a.Tasks {
			if tk.State != state.TaskRunning || len(tk.Ports) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(tk.Host)
			if err != nil {
				continue
			}
			ap := netip.AddrPortFrom(ip, uint16(tk.Ports[0]))
			v.servers[a.ID] = append(v.servers[a.ID], ap)
			alive := len(tk.Health) > 0
			for _, h := range tk.Health {
				alive = alive && h
			}
			if alive {
				v.healthy[a.ID] = append(v.healthy[a.ID], ap)
			}
			v.labels[a.ID] = a.Labels
		}
	}
	for _, m := range []map[string][]netip.AddrPort{v.servers, v.healthy} {
		for k := range m {
			slices.SortFunc(m[k], netip.AddrPort.Compare)
		}
	}
	return v
}

func mesosView(cl *state.Cluster) view {
	v := appsView(lbmodel.AppsFromMesos(cl))
	v.dns = clusterDNS(cl)
	return v
}

// diff describes how got differs from want ("" when it does not); DNS is
// compared only when got has it.
func (want view) diff(got view) string {
	if got.dns != nil && !maps.EqualFunc(want.dns, got.dns, slices.Equal) {
		return fmt.Sprintf("dns: got %v, want %v", got.dns, want.dns)
	}
	if !maps.EqualFunc(want.servers, got.servers, slices.Equal) {
		return fmt.Sprintf("servers: got %v, want %v", got.servers, want.servers)
	}
	if !maps.EqualFunc(want.healthy, got.healthy, slices.Equal) {
		return fmt.Sprintf("healthy servers: got %v, want %v", got.healthy, want.healthy)
	}
	if !maps.EqualFunc(want.labels, got.labels, maps.Equal) {
		return fmt.Sprintf("labels: got %v, want %v", got.labels, want.labels)
	}
	return ""
}

// checkAgree fails the test unless the master's state and Marathon's apps,
// read now, agree with the truth.
func checkAgree(t *testing.T, c *Cluster) {
	t.Helper()
	want := truthView(c.Truth())
	if d := want.diff(mesosView(fetchMesos(t, c))); d != "" {
		t.Fatalf("master state disagrees with the truth: %s", d)
	}
	if d := want.diff(appsView(fetchMarathon(t, c).Apps)); d != "" {
		t.Fatalf("marathon disagrees with the truth: %s", d)
	}
}

// sink keeps the latest views a source publishes and signals each one.
type sink struct {
	mu      sync.Mutex
	cluster *state.Cluster
	apps    *state.AppSet
	changed chan struct{}
}

func newSink() *sink { return &sink{changed: make(chan struct{}, 1)} }

func (s *sink) PublishCluster(c *state.Cluster) {
	s.mu.Lock()
	s.cluster = c
	s.mu.Unlock()
	s.poke()
}

func (s *sink) PublishApps(a *state.AppSet) {
	s.mu.Lock()
	s.apps = a
	s.mu.Unlock()
	s.poke()
}

func (s *sink) FetchFailed(string, error) {}

func (s *sink) poke() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// waitAgree waits until the source's latest view agrees with the truth, or
// fails the test at the deadline.
func (s *sink) waitAgree(t *testing.T, c *Cluster, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	last := "no view yet"
	for {
		want := truthView(c.Truth())
		s.mu.Lock()
		cl, apps := s.cluster, s.apps
		s.mu.Unlock()
		switch {
		case cl != nil:
			last = want.diff(mesosView(cl))
		case apps != nil:
			last = want.diff(appsView(apps.Apps))
		}
		if last == "" && (cl != nil || apps != nil) {
			return
		}
		select {
		case <-s.changed:
		case <-deadline.C:
			t.Fatalf("view did not converge to the truth in %v: %s", timeout, last)
		}
	}
}

// runSource runs src into a new sink until the test ends.
func runSource(t *testing.T, src state.Source) *sink {
	t.Helper()
	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = src.Run(ctx, s)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return s
}
