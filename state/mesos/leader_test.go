package mesos

import (
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

func TestParseMasterAddr(t *testing.T) {
	tests := []struct {
		in   string
		want state.Master
		err  bool
	}{
		{in: "10.0.0.1:5050", want: state.Master{Host: "10.0.0.1", Port: 5050}},
		{in: "[fd00::1]:5050", want: state.Master{Host: "fd00::1", Port: 5050}},
		{in: "m1.example:5050", want: state.Master{Host: "m1.example", Port: 5050}},
		{in: "10.0.0.1", err: true},
		{in: ":5050", err: true},
		{in: "10.0.0.1:0", err: true},
		{in: "10.0.0.1:65536", err: true},
		{in: "zk://10.0.0.1:2181/mesos", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMasterAddr(tt.in)
			if tt.err {
				if err == nil {
					t.Errorf("got %+v, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMasterTracker(t *testing.T) {
	m := func(addr string) state.Master {
		t.Helper()
		mm, err := ParseMasterAddr(addr)
		if err != nil {
			t.Fatal(err)
		}
		return mm
	}
	static := []state.Master{m("10.0.0.1:5050"), m("10.0.0.2:5050"), m("10.0.0.3:5050")}
	zkView := []state.Master{m("10.0.0.3:5050"), m("10.0.0.4:5050")}
	addrs := func(ms []state.Master) string {
		var s []string
		for _, x := range ms {
			s = append(s, masterAddr(x))
		}
		return strings.Join(s, " ")
	}

	tr := newMasterTracker(static)
	if got, want := strings.Join(tr.candidates(), " "), "10.0.0.1:5050 10.0.0.2:5050 10.0.0.3:5050"; got != want {
		t.Errorf("static only: candidates %q, want %q", got, want)
	}

	// The master that served moves to the front.
	tr.served("10.0.0.2:5050")
	if got, want := strings.Join(tr.candidates(), " "), "10.0.0.2:5050 10.0.0.1:5050 10.0.0.3:5050"; got != want {
		t.Errorf("after serving: candidates %q, want %q", got, want)
	}

	// ZooKeeper names a leader: it goes first, its masters before the static
	// list, and Masters are ZooKeeper's.
	if !tr.setZK(zkView, true) {
		t.Error("setZK with a new leader reported no change")
	}
	if tr.setZK(zkView, true) {
		t.Error("setZK with the same leader reported a change")
	}
	if got, want := strings.Join(tr.candidates(), " "), "10.0.0.3:5050 10.0.0.4:5050 10.0.0.1:5050 10.0.0.2:5050"; got != want {
		t.Errorf("with zookeeper: candidates %q, want %q", got, want)
	}
	if got, want := addrs(tr.known()), "10.0.0.3:5050 10.0.0.4:5050"; got != want {
		t.Errorf("with zookeeper: known %q, want %q", got, want)
	}

	// A stale view: the static list is what we know; ZooKeeper's masters are
	// asked last.
	tr.setZK(zkView, false)
	if got, want := addrs(tr.known()), "10.0.0.1:5050 10.0.0.2:5050 10.0.0.3:5050"; got != want {
		t.Errorf("stale zookeeper: known %q, want %q", got, want)
	}
	if got, want := strings.Join(tr.candidates(), " "), "10.0.0.3:5050 10.0.0.1:5050 10.0.0.2:5050 10.0.0.4:5050"; got != want {
		t.Errorf("stale zookeeper: candidates %q, want %q", got, want)
	}

	// Without a static list a stale view is still better than nothing.
	zonly := newMasterTracker(nil)
	zonly.setZK(zkView, false)
	if got, want := addrs(zonly.known()), "10.0.0.3:5050 10.0.0.4:5050"; got != want {
		t.Errorf("stale zookeeper, no static list: known %q, want %q", got, want)
	}
}
