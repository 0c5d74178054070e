package dnsserver

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/mesos"
)

// fixtureTable builds a table from mesos-dns's own test state (factories/fake.json,
// addresses rewritten to loopback) the way mesos-dns's TestInsertState does:
// RFC 952 labels, the leader as the only configured master.
func fixtureTable(t *testing.T, ipSources ...string) *Table {
	t.Helper()
	cfg := testConfig()
	cfg.EnforceRFC952 = true
	cfg.IPSources = ipSources
	return Build(fixtureCluster(t), cfg)
}

// fixtureCluster decodes testdata/state-mesos-dns-fixture.json.
func fixtureCluster(t *testing.T) *state.Cluster {
	t.Helper()
	data, err := os.ReadFile("testdata/state-mesos-dns-fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mesos.DecodeState(data, mesos.FetchMeta{
		Source:  "testdata",
		Masters: []state.Master{{Host: "127.0.0.1", Port: 5050}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// values returns the sorted record values of name: addresses, or
// "target:port" for SRV.
func values(tab *Table, name string, qtype uint16) []string {
	var s Scratch
	res := tab.Lookup(name, qtype, &s)
	out := []string{}
	for _, rr := range res.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.SRV:
			out = append(out, rr.Target+":"+strconv.Itoa(int(rr.Port)))
		}
	}
	slices.Sort(out)
	return out
}

// TestFixtureMatchesMesosDNS replays mesos-dns's TestInsertState expectations
// (records/generator_test.go) over the same state: 10.3.0.x became 127.10.3.x,
// 1.2.3.x became 127.0.1.x, the leader 127.0.0.1.
func TestFixtureMatchesMesosDNS(t *testing.T) {
	all := fixtureTable(t, "netinfo", "docker", "mesos", "host")
	docker := fixtureTable(t, "docker", "host")
	mesos := fixtureTable(t, "mesos", "host")
	host := fixtureTable(t, "host")
	netinfo := fixtureTable(t, "netinfo")
	A, AAAA, SRV := dns.TypeA, dns.TypeAAAA, dns.TypeSRV
	for _, tc := range []struct {
		tab   *Table
		tname string
		name  string
		qtype uint16
		want  []string
	}{
		{all, "all", "big-dog.marathon.mesos.", A, []string{"127.10.3.1"}},
		{all, "all", "liquor-store.marathon.mesos.", A, []string{"127.10.3.1", "127.10.3.2"}},
		{all, "all", "liquor-store.marathon.slave.mesos.", A, []string{"127.0.1.11", "127.0.1.12"}},
		{all, "all", "car-store.marathon.slave.mesos.", A, []string{"127.0.1.11"}},
		{all, "all", "nginx.marathon.mesos.", A, []string{"127.10.3.3"}},
		{all, "all", "poseidon.marathon.mesos.", A, []string{}},
		{all, "all", "poseidon.marathon.slave.mesos.", A, []string{}},
		{all, "all", "master.mesos.", A, []string{"127.0.0.1"}},
		{all, "all", "master0.mesos.", A, []string{"127.0.0.1"}},
		{all, "all", "leader.mesos.", A, []string{"127.0.0.1"}},
		{all, "all", "slave.mesos.", A, []string{"127.0.1.10", "127.0.1.11", "127.0.1.12"}},
		{all, "all", "some-box.chronoswithaspaceandmixe.mesos.", A, []string{"127.0.1.11"}},
		{all, "all", "marathon.mesos.", A, []string{"127.0.1.11"}},

		{all, "all", "toy-store.ipv6-framework.mesos.", AAAA, []string{"fd01:b::1:8000:2"}},
		{all, "all", "toy-store.ipv6-framework.slave.mesos.", AAAA, []string{"2001:db8::1"}},
		{all, "all", "ipv6-framework.mesos.", AAAA, []string{"2001:db8::1"}},
		{all, "all", "slave.mesos.", AAAA, []string{"2001:db8::1"}},

		{all, "all", "_big-dog._tcp.marathon.mesos.", SRV, []string{
			"big-dog-4dfjd-0.marathon.mesos.:443", "big-dog-4dfjd-0.marathon.mesos.:80"}},
		{all, "all", "_poseidon._tcp.marathon.mesos.", SRV, []string{}},
		{all, "all", "_leader._tcp.mesos.", SRV, []string{"leader.mesos.:5050"}},
		{all, "all", "_liquor-store._tcp.marathon.mesos.", SRV, []string{
			"liquor-store-4dfjd-0.marathon.mesos.:443", "liquor-store-4dfjd-0.marathon.mesos.:80",
			"liquor-store-zasmd-1.marathon.mesos.:443", "liquor-store-zasmd-1.marathon.mesos.:80"}},
		{all, "all", "_liquor-store._udp.marathon.mesos.", SRV, []string{}},
		{all, "all", "_liquor-store.marathon.mesos.", SRV, []string{}},
		{all, "all", "_https._liquor-store._tcp.marathon.mesos.", SRV, []string{
			"liquor-store-4dfjd-0.marathon.mesos.:443", "liquor-store-zasmd-1.marathon.mesos.:443"}},
		{all, "all", "_http._liquor-store._tcp.marathon.mesos.", SRV, []string{
			"liquor-store-4dfjd-0.marathon.mesos.:80", "liquor-store-zasmd-1.marathon.mesos.:80"}},
		{all, "all", "_car-store._tcp.marathon.mesos.", SRV, []string{
			"car-store-zinaz-0.marathon.slave.mesos.:31364", "car-store-zinaz-0.marathon.slave.mesos.:31365"}},
		{all, "all", "_car-store._udp.marathon.mesos.", SRV, []string{
			"car-store-zinaz-0.marathon.slave.mesos.:31364", "car-store-zinaz-0.marathon.slave.mesos.:31365"}},
		{all, "all", "_slave._tcp.mesos.", SRV, []string{"slave.mesos.:5051"}},
		{all, "all", "_framework._tcp.marathon.mesos.", SRV, []string{"marathon.mesos.:25501"}},

		{host, "host", "liquor-store.marathon.mesos.", A, []string{"127.0.1.11", "127.0.1.12"}},
		{host, "host", "liquor-store.marathon.slave.mesos.", A, []string{"127.0.1.11", "127.0.1.12"}},
		{host, "host", "nginx.marathon.mesos.", A, []string{"127.0.1.11"}},
		{host, "host", "car-store.marathon.slave.mesos.", A, []string{"127.0.1.11"}},
		{host, "host", "toy-store.ipv6-framework.mesos.", AAAA, []string{"2001:db8::1"}},
		{host, "host", "toy-store.ipv6-framework.slave.mesos.", AAAA, []string{"2001:db8::1"}},

		{mesos, "mesos", "liquor-store.marathon.mesos.", A, []string{"127.0.1.11", "127.0.1.12"}},
		{mesos, "mesos", "liquor-store.marathon.slave.mesos.", A, []string{"127.0.1.11", "127.0.1.12"}},
		{mesos, "mesos", "nginx.marathon.mesos.", A, []string{"127.10.3.3"}},
		{mesos, "mesos", "car-store.marathon.slave.mesos.", A, []string{"127.0.1.11"}},
		{mesos, "mesos", "toy-store.ipv6-framework.mesos.", AAAA, []string{"2001:db8::1"}},
		{mesos, "mesos", "toy-store.ipv6-framework.slave.mesos.", AAAA, []string{"2001:db8::1"}},

		// This fixture's task has two network_infos; like mesos-dns (upstream
		// master) we take every address of all of them.
		{netinfo, "netinfo", "toy-store.ipv6-framework.mesos.", A, []string{"127.12.1.2", "127.12.1.3"}},
		{netinfo, "netinfo", "toy-store.ipv6-framework.mesos.", AAAA, []string{"fd01:b::1:8000:2"}},
		{netinfo, "netinfo", "toy-store.ipv6-framework.slave.mesos.", AAAA, []string{"2001:db8::1"}},

		{docker, "docker", "liquor-store.marathon.mesos.", A, []string{"127.10.3.1", "127.10.3.2"}},
		{docker, "docker", "liquor-store.marathon.slave.mesos.", A, []string{"127.0.1.11", "127.0.1.12"}},
		{docker, "docker", "nginx.marathon.mesos.", A, []string{"127.0.1.11"}},
		{docker, "docker", "car-store.marathon.slave.mesos.", A, []string{"127.0.1.11"}},
		{docker, "docker", "toy-store.ipv6-framework.mesos.", AAAA, []string{"2001:db8::1"}},
		{docker, "docker", "toy-store.ipv6-framework.slave.mesos.", AAAA, []string{"2001:db8::1"}},
	} {
		t.Run(tc.tname+"/"+strings.TrimSuffix(tc.name, ".")+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			if got := values(tc.tab, tc.name, tc.qtype); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
