package dnsserver

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// hsCluster is a small cluster for the handler and server tests: one leading
// master, two agents, marathon running "web" (3 tasks with container addresses
// and two ports each) and "db" (1 task, IPv6 only).
func hsCluster() *state.Cluster {
	c := &state.Cluster{
		Source:    "test",
		FetchedAt: time.Unix(1700000000, 0),
		Leader:    state.Master{ID: "m1", Hostname: "master1", PID: "master@127.0.0.5:5050", Host: "127.0.0.5", Port: 5050},
		Masters:   []state.Master{{ID: "m1", Hostname: "master1", PID: "master@127.0.0.5:5050", Host: "127.0.0.5", Port: 5050}},
		Agents: []state.Agent{
			{ID: "agent-S1", Hostname: "127.0.1.1", PID: "slave(1)@127.0.1.1:5051", Host: "127.0.1.1", Port: 5051, Active: true},
			{ID: "agent-S2", Hostname: "127.0.1.2", PID: "slave(1)@127.0.1.2:5051", Host: "127.0.1.2", Port: 5051, Active: true},
		},
		Frameworks: []state.Framework{
			{ID: "fw-marathon", Name: "marathon", Hostname: "127.0.3.1", PID: "scheduler-1@127.0.3.1:15101", Host: "127.0.3.1", Port: 15101, Active: true},
		},
	}
	for i := range 3 {
		c.Tasks = append(c.Tasks, &state.Task{
			ID:          fmt.Sprintf("web.%d", i),
			Name:        "web",
			FrameworkID: "fw-marathon",
			AgentID:     fmt.Sprintf("agent-S%d", 1+i%2),
			State:       state.TaskRunning,
			NetInfo:     []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 2, byte(1 + i)})},
			Ports:       []state.PortRange{{Begin: uint32(31000 + 2*i), End: uint32(31001 + 2*i)}},
		})
	}
	c.Tasks = append(c.Tasks, &state.Task{
		ID:          "db.0",
		Name:        "db",
		FrameworkID: "fw-marathon",
		AgentID:     "agent-S1",
		State:       state.TaskRunning,
		NetInfo:     []netip.Addr{netip.MustParseAddr("fd00::7")},
		Ports:       []state.PortRange{{Begin: 31500, End: 31500}},
	})
	return c.Seal()
}

// hsConfig is the record config of the tests: mesos-dns defaults with a fixed
// name server address and serial.
func hsConfig() Config {
	cfg := DefaultConfig()
	cfg.NameServerAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.53")}
	cfg.SOASerial = 42
	return cfg
}

// hsTables returns a table source holding the table of c.
func hsTables(t testing.TB, c *state.Cluster, cfg Config) *atomic.Pointer[Table] {
	t.Helper()
	var p atomic.Pointer[Table]
	p.Store(Build(c, cfg))
	return &p
}

// loopback is the client address of queries handed to handlePacket directly.
var loopback = netip.MustParseAddr("127.0.0.1")
