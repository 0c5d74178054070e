package mesos

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/discovery-mesos/discovery/state"
)

const mesosFixture = "testdata/mesos/state-mesos-dns-fixture.json"

// clusterOpts compare clusters by their exported content.
var clusterOpts = cmp.Options{
	cmpopts.EquateComparable(netip.Addr{}),
	cmpopts.IgnoreUnexported(state.Cluster{}),
	cmpopts.IgnoreFields(state.Cluster{}, "Digest"),
	cmpopts.EquateEmpty(),
}

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeOK(t *testing.T, doc string) *state.Cluster {
	t.Helper()
	c, err := DecodeState([]byte(doc), FetchMeta{Source: "test"})
	if err != nil {
		t.Fatalf("DecodeState: %v", err)
	}
	return c
}

func ips(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func ts(f float64) time.Time { return mesosTime(f) }

func boolPtr(b bool) *bool { return &b }

func TestDecodeStateFixture(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	masters := []state.Master{{Host: "127.0.0.1", Port: 5050}}
	c, err := DecodeState(readFixture(t, mesosFixture), FetchMeta{Source: "file fixture", FetchedAt: at, Masters: masters})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("meta", func(t *testing.T) {
		if c.Source != "file fixture" || !c.FetchedAt.Equal(at) {
			t.Errorf("Source, FetchedAt = %q, %v", c.Source, c.FetchedAt)
		}
		if diff := cmp.Diff(masters, c.Masters); diff != "" {
			t.Errorf("Masters (-want +got):\n%s", diff)
		}
		if c.Digest == 0 {
			t.Error("cluster not sealed: zero digest")
		}
	})

	t.Run("leader", func(t *testing.T) {
		want := state.Master{ID: "20140916-194712-631065744-5050-4798", Hostname: "localhost",
			PID: "master@127.0.0.1:5050", Host: "127.0.0.1", Port: 5050}
		if diff := cmp.Diff(want, c.Leader); diff != "" {
			t.Errorf("Leader (-want +got):\n%s", diff)
		}
	})

	t.Run("agents", func(t *testing.T) {
		agent := func(id, host, attr string) state.Agent {
			pidHost := host
			if strings.Contains(host, ":") {
				pidHost = "[" + host + "]"
			}
			return state.Agent{ID: id, Hostname: host, PID: "slave(1)@" + pidHost + ":5051", Host: host, Port: 5051,
				Ports: []state.PortRange{{Begin: 31000, End: 32000}}, Attributes: map[string]string{"host": attr}, Active: true}
		}
		want := []state.Agent{
			agent("20140803-125133-3041283216-5050-2410-0", "127.0.1.11", "dev-123-1e.c.mesos.internal"),
			agent("20140803-194712-3041283216-5050-2116-3", "2001:db8::1", "dev-123-1g.c.mesos.internal"),
			agent("20140827-000744-3041283216-5050-2116-1", "127.0.1.12", "dev-123-1f.c.mesos.internal"),
			agent("20140916-194712-631065744-5050-4798-2", "127.0.1.10", "dev-123-1d.c.mesos.internal"),
		}
		if diff := cmp.Diff(want, c.Agents, clusterOpts); diff != "" {
			t.Errorf("Agents (-want +got):\n%s", diff)
		}
		if a := c.Agent("20140803-194712-3041283216-5050-2116-3"); a == nil || a.Host != "2001:db8::1" {
			t.Errorf("Agent lookup by ID = %+v", a)
		}
	})

	t.Run("frameworks", func(t *testing.T) {
		want := []state.Framework{
			{ID: "20140703-014514-3041283216-5050-5348-0000", Name: "marathon", Hostname: "localhost",
				PID: "scheduler(1)@127.0.1.11:25501", Host: "127.0.1.11", Port: 25501, Active: true},
			{ID: "20140703-014514-3041283216-5050-5348-0001", Name: "chronos with a space AND MIXED CASE-2.0.1", Hostname: "localhost",
				PID: "scheduler(2)@127.0.1.12:25501", Host: "127.0.1.12", Port: 25501, Active: true},
			{ID: "20140703-014514-3041283216-5050-5348-0002", Name: "no pid", Hostname: "localhost", Active: true},
			{ID: "20140703-014514-3041283216-5050-5349-0001", Name: "ipv6-framework", Hostname: "localhost",
				PID: "scheduler(1)@[2001:db8::1]:25501", Host: "2001:db8::1", Port: 25501, Active: true},
		}
		if diff := cmp.Diff(want, c.Frameworks, clusterOpts); diff != "" {
			t.Errorf("Frameworks (-want +got):\n%s", diff)
		}
	})

	t.Run("tasks", func(t *testing.T) {
		const (
			marathon = "20140703-014514-3041283216-5050-5348-0000"
			chronos  = "20140703-014514-3041283216-5050-5348-0001"
			ipv6fw   = "20140703-014514-3041283216-5050-5349-0001"
			agent0   = "20140803-125133-3041283216-5050-2410-0"
			agent1   = "20140827-000744-3041283216-5050-2116-1"
			agent3   = "20140803-194712-3041283216-5050-2116-3"
		)
		liquorDiscovery := func(name, canary string) *state.Discovery {
			return &state.Discovery{Visibility: "CLUSTER", Name: name,
				Ports:  []state.DiscoveryPort{{Number: 80, Name: "http", Protocol: "tcp"}, {Number: 443, Name: "https", Protocol: "tcp"}},
				Labels: []state.Label{{Key: "dc", Value: "de1"}, {Key: "canary", Value: canary}}}
		}
		want := []*state.Task{
			{ID: "car-store.43758382-562f-11e4-a088-c20493233aa5", Name: "car.store", FrameworkID: marathon, AgentID: agent0,
				State: state.TaskRunning, Ports: []state.PortRange{{Begin: 31364, End: 31364}, {Begin: 31365, End: 31365}}, RunningSince: ts(1413572123.04321)},
			{ID: "chronos.49b91a9a-3dda-11e4-a088-c20493233aa5", Name: "chronos", FrameworkID: marathon, AgentID: agent0,
				State: state.TaskRunning, Ports: []state.PortRange{{Begin: 31332, End: 31332}}, RunningSince: ts(1410896855.5742)},
			// The newest TASK_RUNNING status (by timestamp, not position) carries .1.
			{ID: "liquor-store.b71166c1-562f-11e4-a088-c20493233aa5", Name: "non-human-readable-liquor-store", FrameworkID: marathon, AgentID: agent1,
				State: state.TaskRunning, Docker: ips("127.10.3.2"), Ports: []state.PortRange{{Begin: 31737, End: 31738}},
				Discovery: liquorDiscovery("liquor.store", "Lanzarote"), RunningSince: ts(1413572383.04559)},
			// Two tasks share an ID in the fixture; both are kept, in document order.
			{ID: "liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5", Name: "liquor.store", FrameworkID: marathon, AgentID: agent0,
				State: state.TaskRunning, Docker: ips("127.10.3.1"), Ports: []state.PortRange{{Begin: 31354, End: 31354}, {Begin: 31355, End: 31355}},
				Discovery: liquorDiscovery("liquor.store", "Teneriffa"), RunningSince: ts(1413572390.09275)},
			{ID: "liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5", Name: "big.dog2", FrameworkID: marathon, AgentID: agent0,
				State: state.TaskRunning, Docker: ips("127.10.3.1"), Ports: []state.PortRange{{Begin: 31354, End: 31354}, {Begin: 31355, End: 31355}},
				Discovery: liquorDiscovery("big.dog", "Teneriffa"), RunningSince: ts(1413572390.09275)},
			// "[]" is no ports; the address is the MesosContainerizer label.
			{ID: "nginx.1bc32344-3dda-11e4-a088-c20493233aa5", Name: "nginx", FrameworkID: marathon, AgentID: agent0,
				State: state.TaskRunning, Mesos: ips("127.10.3.3"), RunningSince: ts(1410896855.5742)},
			{ID: "poseidon.bc4e3796-2d7a-11e4-b8df-d43d7edb01cd", Name: "poseidon.bc4e3796-2d7a-11e4-b8df-d43d7edb01cd", FrameworkID: marathon, AgentID: agent0,
				State: "TASK_KILLED", Ports: []state.PortRange{{Begin: 31112, End: 31112}}, RunningSince: ts(1409096598.68885)},
			{ID: "reviewbot.8c9b3434-615a-11e4-a088-c20493233aa5", Name: "reviewbot", FrameworkID: marathon, AgentID: agent1,
				State: state.TaskRunning, Ports: []state.PortRange{{Begin: 31744, End: 31744}}, RunningSince: ts(1414800227.3456)},
			// Its own framework_id names no framework: it is filed under the
			// framework that lists it.
			{ID: "some-box.b8db9f73-562f-11e4-a088-c20493233aa5", Name: "some-box", FrameworkID: chronos, AgentID: agent0,
				State: state.TaskRunning, Ports: []state.PortRange{{Begin: 31354, End: 31354}}, RunningSince: ts(1413572390.09275)},
			// network_infos: every address of every network, IPv4 and IPv6, in order.
			{ID: "toy-store.b8db9f73-562f-11e4-a088-c20493233aa5", Name: "toy-store", FrameworkID: ipv6fw, AgentID: agent3,
				State: state.TaskRunning, NetInfo: ips("127.12.1.3", "127.12.1.2", "fd01:b::1:8000:2"),
				Ports: []state.PortRange{{Begin: 31354, End: 31354}, {Begin: 31355, End: 31355}}, RunningSince: ts(1507139816.34576)},
		}
		if diff := cmp.Diff(want, c.Tasks, clusterOpts); diff != "" {
			t.Errorf("Tasks (-want +got):\n%s", diff)
		}
	})

	t.Run("running since", func(t *testing.T) {
		want := time.Date(2017, 10, 4, 17, 56, 56, 345760000, time.UTC)
		got := c.Tasks[len(c.Tasks)-1].RunningSince
		if !got.Equal(want) {
			t.Errorf("RunningSince = %v, want %v", got, want)
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		again, err := DecodeState(readFixture(t, mesosFixture), FetchMeta{Source: "elsewhere", Masters: masters})
		if err != nil {
			t.Fatal(err)
		}
		if again.Digest != c.Digest {
			t.Errorf("Digest differs between decodes of the same document")
		}
	})
}

// A Mesos 0.28-era document: no leader_info, agents without "active", the 0.25
// single ip_address form next to ip_addresses, health checks.
const mesos028 = `{
  "version": "0.28.2",
  "id": "m1", "pid": "master@127.0.0.2:5050", "hostname": "m1.local",
  "leader": "master@127.0.0.1:5050",
  "slaves": [
    {"id": "S0", "hostname": "a0.local", "pid": "slave(1)@127.0.1.1:5051",
     "resources": {"cpus": 4, "ports": "[31000-31099]"}, "attributes": {}},
    {"id": "S1", "hostname": "a1.local", "pid": "slave(1)@127.0.1.2:5051", "active": false,
     "resources": {"cpus": 4}}
  ],
  "frameworks": [
    {"id": "F0", "name": "marathon", "hostname": "127.0.2.1", "pid": "scheduler-abc@127.0.2.1:33000",
     "tasks": [
      {"id": "web.1", "name": "web", "framework_id": "F0", "slave_id": "S0", "state": "TASK_RUNNING",
       "resources": {"ports": "[31000-31000]"},
       "labels": [{"key": "HAPROXY_GROUP", "value": "external"}, {"key": "owner", "value": "team \"a\""}],
       "statuses": [
        {"state": "TASK_STARTING", "timestamp": 100.5},
        {"state": "TASK_RUNNING", "timestamp": 101.25, "healthy": false,
         "container_status": {"network_infos": [{"ip_address": "127.20.0.1"}]}},
        {"state": "TASK_RUNNING", "timestamp": 102.5, "healthy": true,
         "container_status": {"network_infos": [
           {"ip_address": "127.20.0.9", "ip_addresses": [{"ip_address": "127.20.0.2"}, {"ip_address": "not-an-ip"}]},
           {"ip_address": "127.20.0.3"},
           {"ip_addresses": [{"protocol": "IPv6", "ip_address": "::1"}]}
         ]}}
       ]},
      {"id": "web.2", "name": "web", "framework_id": "F0", "slave_id": "S0", "state": "TASK_STAGING",
       "resources": {"ports": "[31001-31001]"}, "statuses": []}
     ]}
  ],
  "completed_frameworks": [
    {"id": "F9", "name": "gone", "tasks": [
      {"id": "old.1", "name": "old", "framework_id": "F9", "slave_id": "S0", "state": "TASK_RUNNING", "statuses": []}
    ]}
  ],
  "orphan_tasks": [
    {"id": "orphan.1", "name": "orphan", "framework_id": "F8", "slave_id": "S0", "state": "TASK_RUNNING"}
  ]
}`

// A Mesos 1.x document: leader_info, attributes of every kind, health reported
// out of order, IP sources side by side, DiscoveryInfo with port labels, and the
// fields Mesos adds that discovery ignores.
const mesos1x = `{
  "version": "1.11.0", "git_sha": "x", "build_time": 1.5e9,
  "id": "leader-id", "pid": "master@127.0.0.1:5050", "hostname": "127.0.0.1",
  "leader": "master@127.0.0.1:5050",
  "leader_info": {"id": "leader-id", "pid": "master@127.0.0.1:5050", "port": 5050, "ip": 16777343,
    "hostname": "master-a", "version": "1.11.0",
    "address": {"hostname": "master-a", "ip": "127.0.0.1", "port": 5050},
    "domain": {"fault_domain": {"region": {"name": "r"}, "zone": {"name": "z"}}}},
  "flags": {"port": "5050", "quorum": "1"},
  "slaves": [
    {"id": "A-S1", "hostname": "agent-1", "pid": "slave(1)@127.0.1.1:5051", "active": true,
     "resources": {"cpus": 8, "gpus": 0, "mem": 1024, "disk": 10, "ports": "[31000-31005, 32000-32000]"},
     "used_resources": {"ports": "[31000-31000]"},
     "attributes": {"rack": "r1", "cores": 8, "load": 0.5, "ports": "[1-2]", "zones": "{a,b}", "gpu": null},
     "reserved_resources": {}, "capabilities": ["MULTI_ROLE"], "version": "1.11.0"}
  ],
  "frameworks": [
    {"id": "F-1", "name": "marathon", "hostname": "127.0.2.1", "pid": "scheduler-1@127.0.2.1:15101",
     "active": true, "roles": ["*"], "capabilities": ["PARTITION_AWARE"],
     "tasks": [
      {"id": "db.1", "name": "db", "framework_id": "F-1", "executor_id": "", "slave_id": "A-S1",
       "agent_id": "slave_id-wins", "state": "TASK_RUNNING",
       "resources": {"cpus": 1, "ports": "[31002-31003]"},
       "labels": [{"key": "HAPROXY_GROUP", "value": "internal"}, {"key": "HAPROXY_0_PORT", "value": "10001"},
                  {"key": "HAPROXY_0_VHOST", "value": "db.example.com"}, {"key": "empty"}],
       "statuses": [
        {"state": "TASK_RUNNING", "timestamp": 200.0, "healthy": true,
         "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.30.0.2"},
                    {"key": "MesosContainerizer.NetworkSettings.IPAddress", "value": "127.31.0.2"}],
         "container_status": {"container_id": {"value": "c1"},
           "network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": "127.32.0.2"},
                                               {"protocol": "IPv6", "ip_address": "::ffff:127.32.0.3"}],
                              "name": "overlay", "labels": {"labels": []}}]}},
        {"state": "TASK_RUNNING", "timestamp": 150.0, "healthy": false,
         "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.30.0.1"}]},
        {"state": "TASK_KILLING", "timestamp": 250.0}
       ],
       "discovery": {"visibility": "EXTERNAL", "name": "db",
         "ports": {"ports": [{"number": 5432, "name": "pg", "protocol": "tcp",
                              "labels": {"labels": [{"key": "network-scope", "value": "container"}]}},
                             {"number": 5433, "protocol": "udp"}]},
         "labels": {"labels": [{"key": "tier", "value": "data"}]}},
       "container": {"type": "DOCKER", "docker": {"image": "postgres"}}},
      {"id": "cache.1", "name": "cach\u00e9", "framework_id": "F-1", "slave_id": "A-S1", "state": "TASK_RUNNING",
       "resources": {"ports": null}, "labels": null, "discovery": null,
       "statuses": [{"state": "TASK_RUNNING", "timestamp": 300, "healthy": false}]}
     ],
     "completed_tasks": [
      {"id": "db.0", "name": "db", "framework_id": "F-1", "slave_id": "A-S1", "state": "TASK_FINISHED"}
     ],
     "unreachable_tasks": [],
     "executors": []}
  ],
  "completed_frameworks": [],
  "unregistered_frameworks": []
}`

func TestDecodeStateShapes(t *testing.T) {
	t.Run("0.28", func(t *testing.T) {
		c := decodeOK(t, mesos028)
		want := &state.Cluster{
			Source: "test",
			// The served state comes from m1, which is not the leader: the leader
			// is known only by its pid.
			Leader: state.Master{PID: "master@127.0.0.1:5050", Host: "127.0.0.1", Port: 5050},
			Agents: []state.Agent{
				{ID: "S0", Hostname: "a0.local", PID: "slave(1)@127.0.1.1:5051", Host: "127.0.1.1", Port: 5051,
					Ports: []state.PortRange{{Begin: 31000, End: 31099}}, Active: true},
				{ID: "S1", Hostname: "a1.local", PID: "slave(1)@127.0.1.2:5051", Host: "127.0.1.2", Port: 5051},
			},
			Frameworks: []state.Framework{{ID: "F0", Name: "marathon", Hostname: "127.0.2.1",
				PID: "scheduler-abc@127.0.2.1:33000", Host: "127.0.2.1", Port: 33000, Active: true}},
			Tasks: []*state.Task{
				{ID: "web.1", Name: "web", FrameworkID: "F0", AgentID: "S0", State: state.TaskRunning,
					Labels:  []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "owner", Value: `team "a"`}},
					Healthy: boolPtr(true),
					// ip_addresses wins over ip_address in the same network_info;
					// the 0.25 form is used where it is the only one.
					NetInfo:      ips("127.20.0.2", "127.20.0.3", "::1"),
					Ports:        []state.PortRange{{Begin: 31000, End: 31000}},
					RunningSince: ts(102.5)},
				{ID: "web.2", Name: "web", FrameworkID: "F0", AgentID: "S0", State: state.TaskStaging,
					Ports: []state.PortRange{{Begin: 31001, End: 31001}}},
			},
		}
		if diff := cmp.Diff(want, c, clusterOpts); diff != "" {
			t.Errorf("cluster (-want +got):\n%s", diff)
		}
	})

	t.Run("1.x", func(t *testing.T) {
		c := decodeOK(t, mesos1x)
		want := &state.Cluster{
			Source: "test",
			Leader: state.Master{ID: "leader-id", Hostname: "master-a", PID: "master@127.0.0.1:5050", Host: "127.0.0.1", Port: 5050},
			Agents: []state.Agent{{ID: "A-S1", Hostname: "agent-1", PID: "slave(1)@127.0.1.1:5051", Host: "127.0.1.1", Port: 5051,
				Ports:      []state.PortRange{{Begin: 31000, End: 31005}, {Begin: 32000, End: 32000}},
				Attributes: map[string]string{"rack": "r1", "cores": "8", "load": "0.5", "ports": "[1-2]", "zones": "{a,b}"},
				Active:     true}},
			Frameworks: []state.Framework{{ID: "F-1", Name: "marathon", Hostname: "127.0.2.1",
				PID: "scheduler-1@127.0.2.1:15101", Host: "127.0.2.1", Port: 15101, Active: true}},
			Tasks: []*state.Task{
				{ID: "cache.1", Name: "caché", FrameworkID: "F-1", AgentID: "A-S1", State: state.TaskRunning,
					Healthy: boolPtr(false), RunningSince: ts(300)},
				{ID: "db.1", Name: "db", FrameworkID: "F-1", AgentID: "A-S1", State: state.TaskRunning,
					Labels: []state.Label{{Key: "HAPROXY_GROUP", Value: "internal"}, {Key: "HAPROXY_0_PORT", Value: "10001"},
						{Key: "HAPROXY_0_VHOST", Value: "db.example.com"}, {Key: "empty", Value: ""}},
					// The newest status with a health report (200) is healthy; the
					// newest one (250) has none.
					Healthy: boolPtr(true),
					NetInfo: ips("127.32.0.2", "127.32.0.3"),
					Docker:  ips("127.30.0.2"),
					Mesos:   ips("127.31.0.2"),
					Ports:   []state.PortRange{{Begin: 31002, End: 31003}},
					Discovery: &state.Discovery{Visibility: "EXTERNAL", Name: "db",
						Ports: []state.DiscoveryPort{
							{Number: 5432, Name: "pg", Protocol: "tcp", Labels: []state.Label{{Key: "network-scope", Value: "container"}}},
							{Number: 5433, Protocol: "udp"},
						},
						Labels: []state.Label{{Key: "tier", Value: "data"}}},
					RunningSince: ts(200)},
			},
		}
		if diff := cmp.Diff(want, c, clusterOpts); diff != "" {
			t.Errorf("cluster (-want +got):\n%s", diff)
		}
		if got := c.Framework("F-1"); got == nil || got.Name != "marathon" {
			t.Errorf("Framework lookup = %+v", got)
		}
		if v, ok := c.Tasks[1].Label("HAPROXY_0_VHOST"); !ok || v != "db.example.com" {
			t.Errorf("Label(HAPROXY_0_VHOST) = %q, %v", v, ok)
		}
	})
}

func TestDecodeStateLeader(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want state.Master
	}{
		{"leader pid is the serving master", `{"id": "me", "hostname": "h", "pid": "master@127.0.0.1:5050", "leader": "master@127.0.0.1:5050"}`,
			state.Master{ID: "me", Hostname: "h", PID: "master@127.0.0.1:5050", Host: "127.0.0.1", Port: 5050}},
		{"leader elsewhere, no leader_info", `{"id": "me", "hostname": "h", "pid": "master@127.0.0.2:5050", "leader": "master@127.0.0.1:5050"}`,
			state.Master{PID: "master@127.0.0.1:5050", Host: "127.0.0.1", Port: 5050}},
		{"leader_info only", `{"leader_info": {"id": "L", "pid": "master@127.0.0.3:5051", "hostname": "m3"}}`,
			state.Master{ID: "L", Hostname: "m3", PID: "master@127.0.0.3:5051", Host: "127.0.0.3", Port: 5051}},
		{"IPv6 leader", `{"leader": "master@[::1]:5050"}`,
			state.Master{PID: "master@[::1]:5050", Host: "::1", Port: 5050}},
		{"leader_info address without pid", `{"leader_info": {"id": "L", "address": {"ip": "127.0.0.4", "port": 5052, "hostname": "m4"}}}`,
			state.Master{ID: "L", Hostname: "m4", Host: "127.0.0.4", Port: 5052}},
		{"leader_info packed ip without pid", `{"leader_info": {"id": "L", "ip": 83886207, "port": 5053}}`,
			state.Master{ID: "L", Host: "127.0.0.5", Port: 5053}},
		{"malformed leader pid falls back to leader_info", `{"leader": "master-nowhere", "leader_info": {"id": "L", "address": {"ip": "127.0.0.6", "port": 5054}}}`,
			state.Master{ID: "L", PID: "master-nowhere", Host: "127.0.0.6", Port: 5054}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := decodeOK(t, tt.doc)
			if diff := cmp.Diff(tt.want, c.Leader); diff != "" {
				t.Errorf("Leader (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeStatePIDs(t *testing.T) {
	tests := []struct {
		pid  string
		host string
		port int
	}{
		{"scheduler(1)@127.0.1.11:25501", "127.0.1.11", 25501},
		{"scheduler(1)@[2001:db8::1]:25501", "2001:db8::1", 25501},
		{"scheduler-4f1d@host.example:8080", "host.example", 8080},
		{"", "", 0},
		{"no-at-sign:5050", "", 0},
		{"x@127.0.0.1", "", 0},
		{"x@127.0.0.1:99999", "", 0},
		{"x@:5050", "", 0},
		{"x@2001:db8::1:5050", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.pid, func(t *testing.T) {
			doc := `{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "F", "name": "f", "hostname": "fh", "pid": ` +
				quoteJSON(tt.pid) + `}]}`
			f := decodeOK(t, doc).Frameworks[0]
			if f.PID != tt.pid || f.Host != tt.host || f.Port != tt.port {
				t.Errorf("PID, Host, Port = %q, %q, %d; want %q, %q, %d", f.PID, f.Host, f.Port, tt.pid, tt.host, tt.port)
			}
		})
	}
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func TestDecodeStatePortRanges(t *testing.T) {
	tests := []struct {
		in   string
		want []state.PortRange
	}{
		{`"[31000-31001, 31005-31005]"`, []state.PortRange{{Begin: 31000, End: 31001}, {Begin: 31005, End: 31005}}},
		{`"[31000-32000]"`, []state.PortRange{{Begin: 31000, End: 32000}}},
		{`"[]"`, nil},
		{`""`, nil},
		{`null`, nil},
		{`"[31000]"`, []state.PortRange{{Begin: 31000, End: 31000}}},
		{`"[ 1-2 ,3-4 ]"`, []state.PortRange{{Begin: 1, End: 2}, {Begin: 3, End: 4}}},
		{`"[5-4, x-1, 1-y, 70000-70001, 10-11]"`, []state.PortRange{{Begin: 10, End: 11}}},
		{`"[0-65535]"`, []state.PortRange{{Begin: 0, End: 65535}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			doc := `{"leader": "master@127.0.0.1:5050", "slaves": [{"id": "S", "resources": {"ports": ` + tt.in + `}}],
				"frameworks": [{"id": "F", "tasks": [{"id": "T", "resources": {"ports": ` + tt.in + `}}]}]}`
			c := decodeOK(t, doc)
			if diff := cmp.Diff(tt.want, c.Agents[0].Ports, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("agent ports (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, c.Tasks[0].Ports, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("task ports (-want +got):\n%s", diff)
			}
		})
	}
	// An absent resources object is no ports.
	c := decodeOK(t, `{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "F", "tasks": [{"id": "T"}]}]}`)
	if c.Tasks[0].Ports != nil {
		t.Errorf("absent resources: Ports = %v", c.Tasks[0].Ports)
	}
}

func TestDecodeStateAddresses(t *testing.T) {
	task := func(statuses string) string {
		return `{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "F", "tasks": [{"id": "T", "state": "TASK_RUNNING", "statuses": ` +
			statuses + `}]}]}`
	}
	type addrs struct{ netinfo, docker, mesos []netip.Addr }
	tests := []struct {
		name     string
		statuses string
		want     addrs
		since    float64
	}{
		{"no statuses", `[]`, addrs{}, 0},
		{"no running status", `[{"state": "TASK_STAGING", "timestamp": 5, "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.0.0.9"}]}]`, addrs{}, 0},
		{"newest running status by timestamp", `[
			{"state": "TASK_RUNNING", "timestamp": 3, "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.0.0.3"}]},
			{"state": "TASK_RUNNING", "timestamp": 9, "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.0.0.9"}]},
			{"state": "TASK_RUNNING", "timestamp": 5, "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.0.0.5"}]},
			{"state": "TASK_FAILED", "timestamp": 11, "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.0.0.11"}]}]`,
			addrs{docker: ips("127.0.0.9")}, 9},
		{"first of equal timestamps", `[
			{"state": "TASK_RUNNING", "timestamp": 4, "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.0.0.1"}]},
			{"state": "TASK_RUNNING", "timestamp": 4, "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.0.0.2"}]}]`,
			addrs{docker: ips("127.0.0.1")}, 4},
		{"newest running status without addresses hides older ones", `[
			{"state": "TASK_RUNNING", "timestamp": 1, "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "127.0.0.1"}]},
			{"state": "TASK_RUNNING", "timestamp": 2}]`,
			addrs{}, 2},
		{"every source", `[{"state": "TASK_RUNNING", "timestamp": 1,
			"labels": [{"value": "127.0.0.2", "key": "Docker.NetworkSettings.IPAddress"},
			           {"key": "Docker.NetworkSettings.IPAddress", "value": "::1"},
			           {"key": "MesosContainerizer.NetworkSettings.IPAddress", "value": "127.0.0.3"},
			           {"key": "Docker.NetworkSettings.IPAddress", "value": ""},
			           {"key": "Docker.NetworkSettings.IPAddress", "value": "fe80::1%eth0"}],
			"container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "127.0.0.1"}, {"ip_address": "2001:db8::5"}]}]}}]`,
			addrs{netinfo: ips("127.0.0.1", "2001:db8::5"), docker: ips("127.0.0.2", "::1"), mesos: ips("127.0.0.3")}, 1},
		{"0.25-era ip_address", `[{"state": "TASK_RUNNING", "timestamp": 1, "container_status": {"network_infos": [{"ip_address": "127.0.0.7"}]}}]`,
			addrs{netinfo: ips("127.0.0.7")}, 1},
		{"ip_addresses present but unusable hides ip_address", `[{"state": "TASK_RUNNING", "timestamp": 1,
			"container_status": {"network_infos": [{"ip_address": "127.0.0.7", "ip_addresses": [{"ip_address": "bogus"}]}]}}]`,
			addrs{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := decodeOK(t, task(tt.statuses))
			got := c.Tasks[0]
			if diff := cmp.Diff(tt.want, addrs{got.NetInfo, got.Docker, got.Mesos}, cmp.AllowUnexported(addrs{}),
				cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
			if want := ts(tt.since); !got.RunningSince.Equal(want) {
				t.Errorf("RunningSince = %v, want %v", got.RunningSince, want)
			}
		})
	}
}

func TestDecodeStateHealth(t *testing.T) {
	tests := []struct {
		name     string
		statuses string
		want     *bool
	}{
		{"no health check", `[{"state": "TASK_RUNNING", "timestamp": 1}]`, nil},
		{"healthy", `[{"state": "TASK_RUNNING", "timestamp": 1, "healthy": true}]`, boolPtr(true)},
		{"unhealthy", `[{"state": "TASK_RUNNING", "timestamp": 1, "healthy": false}]`, boolPtr(false)},
		{"newest report wins, whatever its position", `[
			{"state": "TASK_RUNNING", "timestamp": 3, "healthy": false},
			{"state": "TASK_RUNNING", "timestamp": 2, "healthy": true},
			{"state": "TASK_RUNNING", "timestamp": 4}]`, boolPtr(false)},
		{"null is no report", `[{"state": "TASK_RUNNING", "timestamp": 1, "healthy": null}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := decodeOK(t, `{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "F", "tasks": [{"id": "T", "state": "TASK_RUNNING", "statuses": `+tt.statuses+`}]}]}`)
			if diff := cmp.Diff(tt.want, c.Tasks[0].Healthy); diff != "" {
				t.Errorf("Healthy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeStateLabelShapes(t *testing.T) {
	// State endpoints render labels as an array; the protobuf JSON mapping (which
	// some tools write to files) as {"labels": [...]}. Both read the same.
	for _, labels := range []string{
		`[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]`,
		`{"labels": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}`,
	} {
		c := decodeOK(t, `{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "F", "tasks": [{"id": "T", "labels": `+labels+`,
			"discovery": {"name": "d", "labels": `+labels+`, "ports": [{"number": 1, "labels": `+labels+`}]}}]}]}`)
		want := []state.Label{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}
		task := c.Tasks[0]
		for what, got := range map[string][]state.Label{"task": task.Labels, "discovery": task.Discovery.Labels, "port": task.Discovery.Ports[0].Labels} {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s labels from %s (-want +got):\n%s", what, labels, diff)
			}
		}
	}
}

func TestDecodeStateStrings(t *testing.T) {
	c := decodeOK(t, `{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "F", "name": "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\udc00x", "tasks": [
		{"id": "bad-utf8-`+"\xff"+`-end", "name": "n"}]}]}`)
	if got, want := c.Frameworks[0].Name, "a\"b\\c/d\b\f\n\r\té😀\uFFFDx"; got != want {
		t.Errorf("escaped name = %q, want %q", got, want)
	}
	if got, want := c.Tasks[0].ID, "bad-utf8-\uFFFD-end"; got != want {
		t.Errorf("invalid UTF-8 = %q, want %q", got, want)
	}
}

func TestDecodeStateErrors(t *testing.T) {
	valid := `{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "F", "tasks": [{"id": "T", "statuses": [{"state": "TASK_RUNNING", "timestamp": 1}]}]}]}`
	if _, err := DecodeState([]byte(valid), FetchMeta{}); err != nil {
		t.Fatalf("the base document must decode: %v", err)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"empty", ``, "empty document"},
		{"whitespace", " \n\t ", "empty document"},
		{"array", `[]`, "an array, not an object"},
		{"string", `"x"`, "a string, not an object"},
		{"number", `42`, "a number, not an object"},
		{"null", `null`, "null, not an object"},
		{"html", "<html><body>503 Service Unavailable</body></html>", "HTML"},
		{"garbage", "\x00\x01", "not JSON"},
		{"no leader", `{}`, ErrNoLeader.Error()},
		{"no leader with content", `{"frameworks": [], "slaves": []}`, ErrNoLeader.Error()},
		{"unterminated object", `{"leader": "master@127.0.0.1:5050"`, "unexpected end of input"},
		{"unterminated string", `{"leader": "master@127.0.0.1:5050`, "unexpected end of input"},
		{"trailing garbage", valid + `x`, "after the document"},
		{"second document", valid + valid, "after the document"},
		{"missing colon", `{"leader" "x"}`, "looking for ':'"},
		{"missing comma", `{"leader": "master@127.0.0.1:5050" "x": 1}`, "looking for ',' or '}'"},
		{"trailing comma", `{"leader": "master@127.0.0.1:5050",}`, "looking for an object key"},
		{"trailing comma in array", `{"leader": "master@127.0.0.1:5050", "x": [1,]}`, "looking for a value"},
		{"single quotes", `{'leader': 1}`, "looking for an object key"},
		{"bad literal", `{"leader": "master@127.0.0.1:5050", "x": tru}`, "in literal true"},
		{"bad number", `{"leader": "master@127.0.0.1:5050", "x": 01}`, "looking for ',' or '}'"},
		{"bad fraction", `{"leader": "master@127.0.0.1:5050", "x": 1.}`, "after '.'"},
		{"bad exponent", `{"leader": "master@127.0.0.1:5050", "x": 1e}`, "exponent"},
		{"lone minus", `{"leader": "master@127.0.0.1:5050", "x": -}`, "looking for a digit"},
		{"bad escape", `{"leader": "master@127.0.0.1:5050", "x": "\q"}`, "string escape"},
		{"bad unicode escape", `{"leader": "master@127.0.0.1:5050", "x": "\u12G4"}`, `\u escape`},
		{"control character", "{\"leader\": \"master@127.0.0.1:5050\", \"x\": \"a\nb\"}", "in a string"},
		{"too deep", `{"leader": "master@127.0.0.1:5050", "x": ` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, "nesting deeper"},
		{"frameworks not an array", `{"leader": "master@127.0.0.1:5050", "frameworks": {}}`, "frameworks: invalid JSON at offset 50: want an array, found an object"},
		{"slaves not an array", `{"leader": "master@127.0.0.1:5050", "slaves": "x"}`, "slaves: "},
		{"task not an object", `{"leader": "master@127.0.0.1:5050", "frameworks": [{"tasks": [1]}]}`, "frameworks[0].tasks[0]: "},
		{"leader not a string", `{"leader": 5}`, "leader: "},
		{"timestamp not a number", `{"leader": "master@127.0.0.1:5050", "frameworks": [{"tasks": [{"statuses": [{"timestamp": "1"}]}]}]}`,
			"frameworks[0].tasks[0].statuses[0].timestamp: "},
		{"timestamp out of range", `{"leader": "master@127.0.0.1:5050", "frameworks": [{"tasks": [{"statuses": [{"timestamp": 1e999}]}]}]}`, "out of range"},
		{"healthy not a bool", `{"leader": "master@127.0.0.1:5050", "frameworks": [{"tasks": [{"statuses": [{"healthy": "yes"}]}]}]}`, "healthy: "},
		{"port number not a number", `{"leader": "master@127.0.0.1:5050", "frameworks": [{"tasks": [{"discovery": {"ports": {"ports": [{"number": "80"}]}}}]}]}`, "number: "},
		{"label not an object", `{"leader": "master@127.0.0.1:5050", "frameworks": [{"tasks": [{"labels": ["a"]}]}]}`, "labels[0]: "},
		{"leader_info port too big", `{"leader_info": {"port": 70000}}`, "leader_info.port: "},
		{"broken value skipped over", `{"leader": "master@127.0.0.1:5050", "flags": {"a": [1, 2}}`, "looking for ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeState([]byte(tt.doc), FetchMeta{})
			if err == nil {
				t.Fatalf("no error; got a cluster with %d tasks", len(c.Tasks))
			}
			if c != nil {
				t.Error("a cluster came back with the error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "decoding mesos state: ") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
}

// A discovery port number that is not a port (app authors write them) leaves
// out that port, reported in LeftOut with its task; the task, its other ports
// and the other tasks are kept.
func TestDecodeStateLeavesOutBadDiscoveryPorts(t *testing.T) {
	for _, bad := range []string{"-1", "70000", "80.5", "4294967296"} {
		t.Run(bad, func(t *testing.T) {
			doc := `{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "f", "tasks": [
				{"id": "bad", "discovery": {"name": "bad", "ports": {"ports": [{"number": ` + bad + `, "name": "x"}, {"number": 8080, "name": "http"}]}}},
				{"id": "good", "discovery": {"name": "good", "ports": {"ports": [{"number": 9090, "name": "http"}]}}}]}]}`
			c, err := DecodeState([]byte(doc), FetchMeta{})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Tasks) != 2 {
				t.Fatalf("%d tasks, want both", len(c.Tasks))
			}
			for _, tk := range c.Tasks {
				want := map[string]uint32{"bad": 8080, "good": 9090}[tk.ID]
				if tk.Discovery == nil || len(tk.Discovery.Ports) != 1 || tk.Discovery.Ports[0].Number != want {
					t.Errorf("task %s: discovery %+v, want only port %d", tk.ID, tk.Discovery, want)
				}
			}
			if len(c.LeftOut) != 1 || c.LeftOut[0].ID != "bad" || !strings.Contains(c.LeftOut[0].Reason, bad) {
				t.Errorf("LeftOut = %+v, want task bad's port %s", c.LeftOut, bad)
			}
		})
	}
}

func TestDecodeStateTruncated(t *testing.T) {
	doc := bytes.TrimSpace(readFixture(t, mesosFixture))
	if _, err := DecodeState(doc, FetchMeta{}); err != nil {
		t.Fatal(err)
	}
	// Every proper prefix of an object is broken. Check a spread of them, and
	// every one near both ends.
	for n := 0; n < len(doc); n++ {
		if n > 64 && n < len(doc)-64 && n%17 != 0 {
			continue
		}
		c, err := DecodeState(doc[:n], FetchMeta{})
		if err == nil {
			t.Fatalf("prefix of %d bytes decoded to %d tasks", n, len(c.Tasks))
		}
		if n > 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix of %d bytes: %v, want an unexpected end of input", n, err)
		}
	}
}

// Decoding keeps no reference to the document: a source may reuse its buffer.
func TestDecodeStateCopiesStrings(t *testing.T) {
	doc := []byte(mesos1x)
	c, err := DecodeState(doc, FetchMeta{})
	if err != nil {
		t.Fatal(err)
	}
	before := c.Digest
	for i := range doc {
		doc[i] = 'x'
	}
	again := *c
	if got := again.Seal().Digest; got != before {
		t.Errorf("the cluster changed when the document buffer was overwritten")
	}
}

func TestDecodeStateGenerated(t *testing.T) {
	const n = 2000
	c, err := DecodeState(genMesosState(n), FetchMeta{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tasks) != n || len(c.Agents) != 50 || len(c.Frameworks) != 3 {
		t.Fatalf("got %d tasks, %d agents, %d frameworks", len(c.Tasks), len(c.Agents), len(c.Frameworks))
	}
	if !slices.IsSortedFunc(c.Tasks, func(a, b *state.Task) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("tasks not sorted by ID")
	}
	lb := 0
	for i := range c.Tasks {
		task := c.Tasks[i]
		if c.Agent(task.AgentID) == nil || c.Framework(task.FrameworkID) == nil {
			t.Fatalf("task %s: unknown agent %q or framework %q", task.ID, task.AgentID, task.FrameworkID)
		}
		if len(task.NetInfo) != 1 || len(task.Ports) != 1 || task.Discovery == nil || len(task.Discovery.Ports) != 1 ||
			task.Discovery.Ports[0].Number != task.Ports[0].Begin {
			t.Fatalf("task %s: %+v", task.ID, task)
		}
		if _, ok := task.Label("HAPROXY_GROUP"); ok {
			lb++
		}
	}
	if lb == 0 {
		t.Error("no task carries HAPROXY_GROUP")
	}
}

// The bundled sample cluster (deploy/sample) is what the README's state-file
// example serves: it must decode and show every feature it promises, on loopback only.
func TestDecodeStateSample(t *testing.T) {
	c, err := DecodeState(readFixture(t, "../../deploy/sample/state.json"), FetchMeta{})
	if err != nil {
		t.Fatal(err)
	}
	loopback := func(what, host string) {
		if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
			t.Errorf("%s address %q is not loopback", what, host)
		}
	}
	loopback("leader", c.Leader.Host)
	for _, a := range c.Agents {
		loopback("agent "+a.ID, a.Host)
	}
	for _, f := range c.Frameworks {
		if f.Host != "" {
			loopback("framework "+f.ID, f.Host)
		}
	}
	var running, unhealthy, notRunning, ipv6, lb, discovery int
	for i := range c.Tasks {
		task := c.Tasks[i]
		for _, a := range slices.Concat(task.NetInfo, task.Docker, task.Mesos) {
			loopback("task "+task.ID, a.String())
			if a.Is6() {
				ipv6++
			}
		}
		if task.State != state.TaskRunning {
			notRunning++
			continue
		}
		running++
		if task.Healthy != nil && !*task.Healthy {
			unhealthy++
		}
		if _, ok := task.Label("HAPROXY_GROUP"); ok {
			lb++
		}
		if task.Discovery != nil && len(task.Discovery.Ports) > 0 {
			discovery++
		}
	}
	if len(c.Frameworks) < 2 || running < 8 || running > 12 || unhealthy < 1 || notRunning < 1 || ipv6 < 1 || lb < 3 || discovery < 3 {
		t.Errorf("sample has %d frameworks, %d running tasks (%d unhealthy, %d with HAPROXY_GROUP, %d with DiscoveryInfo ports), %d not running, %d IPv6 addresses",
			len(c.Frameworks), running, unhealthy, lb, discovery, notRunning, ipv6)
	}
}

func TestSortTasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 3, 10, 100, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			tasks := make([]state.Task, n)
			for i := range tasks {
				// Few distinct IDs, some sharing their first eight bytes, so that
				// prefixes tie and IDs repeat; Name records the document order.
				tasks[i] = state.Task{ID: "task-id-" + strconv.Itoa(rng.IntN(n/2+1)), Name: strconv.Itoa(i)}
			}
			want := slices.Clone(tasks)
			slices.SortStableFunc(want, func(a, b state.Task) int { return strings.Compare(a.ID, b.ID) })
			got := sortTasks(tasks)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("sortTasks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSimpleFloatMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	fast := []string{"0", "0.0", "1", "1.5", "1413572390.09275", "1507139816.34576", "1700000000.0",
		"999999999999999", "0.000000000000001", "123456789.012345"}
	for _, c := range fast {
		if _, ok := simpleFloat([]byte(c)); !ok {
			t.Errorf("simpleFloat(%q) left a simple number to ParseFloat", c)
		}
	}
	cases := fast
	for range 10000 {
		cases = append(cases, strconv.FormatFloat(rng.Float64()*2e9, 'f', rng.IntN(8), 64))
	}
	for _, c := range cases {
		got, ok := simpleFloat([]byte(c))
		want, err := strconv.ParseFloat(c, 64)
		if ok && (err != nil || got != want) {
			t.Fatalf("simpleFloat(%q) = %v; ParseFloat = %v, %v", c, got, want, err)
		}
	}
	for _, c := range []string{"1e5", "-1", "1234567890123456", "1.2.3", ".", "1.", ".5", "0.00000000000000000000001"} {
		if _, ok := simpleFloat([]byte(c)); ok {
			t.Errorf("simpleFloat(%q) took a number it must leave to ParseFloat", c)
		}
	}
}
