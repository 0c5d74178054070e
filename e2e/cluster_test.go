package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/freeport"
	"github.com/discovery-mesos/discovery/internal/sim"
)

// domain is the daemon's DNS domain (the default).
const domain = "mesos"

// newCluster starts a simulated cluster, closed when the test ends. Service
// ports start at servicePortBase unless the config names a base.
func newCluster(t *testing.T, cfg sim.Config) *sim.Cluster {
	t.Helper()
	if cfg.ServicePortBase == 0 {
		cfg.ServicePortBase = servicePortBase(t, 64)
	}
	c, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("starting the simulated cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// dnsAgrees reports whether the daemon's A answers for every app of tr are
// the truth's; the first difference otherwise.
func dnsAgrees(d *daemon, tr sim.Truth) (bool, string) {
	for name, want := range tr.DNSA(domain) {
		got, err := d.aRecords(name)
		if err != nil {
			return false, err.Error()
		}
		slices.Sort(got)
		if !slices.Equal(got, addrStrings(want)) {
			return false, fmt.Sprintf("%s: %v, want %v", name, got, want)
		}
	}
	return true, ""
}

func addrStrings(as []netip.Addr) []string { return sortedStrings(as) }

// sortedStrings is the sorted String of each element of as.
func sortedStrings[T fmt.Stringer](as []T) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	slices.Sort(out)
	return out
}

// waitDNS waits for the daemon's DNS to agree with the cluster's truth.
func waitDNS(t *testing.T, d *daemon, c *sim.Cluster, timeout time.Duration) time.Duration {
	t.Helper()
	return waitAgree(t, timeout, "DNS did not agree with the cluster", func() (bool, string) {
		return dnsAgrees(d, c.Truth())
	})
}

// lbAgrees reports whether the HAProxy config on disk routes every app's
// service port to exactly its running tasks (healthy or not, as Mesos labels
// carry no health) — checked through the server lines' addresses.
func lbAgrees(cfgPath string, tr sim.Truth, healthyOnly bool) (bool, string) {
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return false, err.Error()
	}
	text := string(b)
	for _, a := range tr.Apps {
		want := map[string]bool{}
		for _, s := range tr.LBServers(healthyOnly)[a.ID] {
			want[s.String()] = true
		}
		got := backendServers(text, a.ServicePort)
		if len(got) != len(want) {
			return false, fmt.Sprintf("%s (port %d): servers %v, want %v", a.ID, a.ServicePort, got, want)
		}
		for _, s := range got {
			if !want[s] {
				return false, fmt.Sprintf("%s: server %s is not a running task", a.ID, s)
			}
		}
	}
	return true, ""
}

// backendServers returns the addresses of the enabled server lines of the
// backend whose name ends in _<port> in an HAProxy config.
func backendServers(cfg string, port int) []string {
	var out []string
	in := false
	suffix := "_" + strconv.Itoa(port)
	for _, line := range strings.Split(cfg, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "backend":
			in = len(f) > 1 && strings.HasSuffix(f[1], suffix)
			continue
		case "frontend", "listen", "global", "defaults", "userlist", "resolvers", "peers":
			in = false
			continue
		}
		if in && f[0] == "server" && len(f) > 2 && !slices.Contains(f, "disabled") && f[2] != "0.0.0.0:0" && !strings.HasPrefix(f[2], "127.0.0.0:") {
			out = append(out, f[2])
		}
	}
	return out
}

// waitLB waits for the HAProxy config on disk to agree with the cluster.
func waitLB(t *testing.T, cfgPath string, c *sim.Cluster, timeout time.Duration) time.Duration {
	t.Helper()
	var last string
	start := time.Now()
	for {
		ok, diff := lbAgrees(cfgPath, c.Truth(), false)
		if ok {
			return time.Since(start)
		}
		last = diff
		if time.Since(start) > timeout {
			b, _ := os.ReadFile(cfgPath)
			t.Fatalf("the HAProxy config did not agree with the cluster within %v: %s\n%s", timeout, last, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// servicePortBase returns the first of n consecutive TCP ports free on every
// address, below Linux's ephemeral range (32768 and up), so that no outgoing
// connection is handed one of them before HAProxy binds it, and reserved, so
// that no port the test takes for the daemon falls among them.
func servicePortBase(t *testing.T, n int) int {
	t.Helper()
	base, err := freeport.TakeRange(n)
	if err != nil {
		t.Fatal(err)
	}
	return base
}
