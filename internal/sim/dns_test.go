package sim

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/dnsserver"
)

// Truth's DNS names are the names discovery's DNS table gives the tasks of
// the master's state: the A and SRV records agree, before and after churn.
func TestTruthDNSMatchesTable(t *testing.T) {
	c := start(t, Config{Apps: 5, TasksPerApp: 3, Seed: 12})
	check := func() {
		t.Helper()
		cfg := dnsserver.DefaultConfig()
		cfg.NameServerAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		table := dnsserver.Build(fetchMesos(t, c), cfg)
		a := map[string][]netip.Addr{}
		srv := map[string][]*dns.SRV{}
		for rr := range table.All() {
			name := strings.ToLower(rr.Header().Name)
			switch r := rr.(type) {
			case *dns.A:
				ip, _ := netip.AddrFromSlice(r.A.To4())
				a[name] = append(a[name], ip)
			case *dns.SRV:
				srv[name] = append(srv[name], r)
			}
		}
		tr := c.Truth()
		for name, want := range tr.DNSA("mesos") {
			got := slices.Clone(a[name])
			slices.SortFunc(got, netip.Addr.Compare)
			if !slices.Equal(got, want) {
				t.Errorf("A %s: table %v, truth %v", name, got, want)
			}
		}
		for name, want := range tr.DNSSRV("mesos") {
			var got []netip.AddrPort
			for _, s := range srv[name] {
				targets := a[strings.ToLower(s.Target)]
				if len(targets) != 1 {
					t.Fatalf("SRV %s target %s has addresses %v", name, s.Target, targets)
				}
				got = append(got, netip.AddrPortFrom(targets[0], s.Port))
			}
			slices.SortFunc(got, netip.AddrPort.Compare)
			got = slices.Compact(got)
			if !slices.Equal(got, want) {
				t.Errorf("SRV %s: table %v, truth %v", name, got, want)
			}
		}
	}
	check()
	r := NewRand(4)
	for range 30 {
		if _, err := c.Step(r); err != nil {
			t.Fatal(err)
		}
	}
	check()
}
