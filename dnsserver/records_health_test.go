package dnsserver

import (
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// withHealth returns smallCluster with its two nginx tasks' health set: the
// first has no health check (nil), the second the health given.
func withHealth(second *bool) *state.Cluster {
	c := smallCluster()
	tasks := slices.Clone(c.Tasks)
	for i := range tasks {
		if tasks[i].ID == "nginx.58dccce7-90bc-11e6-ae70-70b3d5800001" {
			statetest.OwnTask(tasks, i).Healthy = second
		}
	}
	return withTasks(c, tasks)
}

// answers returns the rcode and the sorted values (see values) of name.
func answers(tab *Table, name string, qtype uint16) (int, []string) {
	var s Scratch
	return tab.Lookup(name, qtype, &s).Rcode, values(tab, name, qtype)
}

// With healthAwareAnswers, a task Mesos reports unhealthy has no A, AAAA or
// SRV record; a task without a health check, or reported healthy, keeps its
// records; off (the default, as mesos-dns), every running task is answered.
func TestHealthAwareAnswers(t *testing.T) {
	healthy, unhealthy := true, false
	on := testConfig()
	on.HealthAwareAnswers = true
	unhealthyName := "nginx-" + hash5("nginx.58dccce7-90bc-11e6-ae70-70b3d5800001") + "-s2.marathon.mesos."
	tests := []struct {
		name   string
		cfg    Config
		second *bool
		a      []string // nginx.marathon.mesos A
		aaaa   []string // nginx.marathon.mesos AAAA
		srv    int      // _nginx._tcp.marathon.mesos SRV records
		gone   bool     // the unhealthy task's own name is NXDOMAIN
	}{
		{"off, unhealthy", testConfig(), &unhealthy, []string{"127.0.1.1", "127.0.3.2"}, []string{"fd00::2"}, 3, false},
		{"on, unhealthy", on, &unhealthy, []string{"127.0.1.1"}, []string{}, 2, true},
		{"on, healthy", on, &healthy, []string{"127.0.1.1", "127.0.3.2"}, []string{"fd00::2"}, 3, false},
		{"on, no health check", on, nil, []string{"127.0.1.1", "127.0.3.2"}, []string{"fd00::2"}, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := Build(withHealth(tt.second), tt.cfg)
			if rc, got := answers(tab, "nginx.marathon.mesos.", dns.TypeA); rc != dns.RcodeSuccess || !slices.Equal(got, tt.a) {
				t.Errorf("A: rcode %d %v, want %v", rc, got, tt.a)
			}
			if rc, got := answers(tab, "nginx.marathon.mesos.", dns.TypeAAAA); rc != dns.RcodeSuccess || !slices.Equal(got, tt.aaaa) {
				t.Errorf("AAAA: rcode %d %v, want %v", rc, got, tt.aaaa)
			}
			if _, got := answers(tab, "_nginx._tcp.marathon.mesos.", dns.TypeSRV); len(got) != tt.srv {
				t.Errorf("SRV: %v, want %d records", got, tt.srv)
			}
			if rc, _ := answers(tab, unhealthyName, dns.TypeA); (rc == dns.RcodeNameError) != tt.gone {
				t.Errorf("%s: rcode %d, want NXDOMAIN %v", unhealthyName, rc, tt.gone)
			}
		})
	}
}

// An update whose only change is a task's health adds or withdraws that
// task's records, answering as a fresh build does.
func TestHealthAwareUpdate(t *testing.T) {
	cfg := testConfig()
	cfg.HealthAwareAnswers = true
	healthy, unhealthy := true, false
	tab := Build(withHealth(&healthy), cfg)
	for i, h := range []*bool{&unhealthy, &healthy, nil, &unhealthy} {
		next := withHealth(h)
		got := tab.Update(next)
		if k := updateKind(tab, got); k == "built" {
			t.Fatalf("step %d: the update built afresh", i)
		}
		sameAnswers(t, got, Build(next, cfg))
		want := 2
		if h != nil && !*h {
			want = 1
		}
		if _, a := answers(got, "nginx.marathon.mesos.", dns.TypeA); len(a) != want {
			t.Errorf("step %d: A %v, want %d addresses", i, a, want)
		}
		tab = got
	}
}
