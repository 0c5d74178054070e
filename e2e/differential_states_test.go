package e2e

import (
	"encoding/json"
	"testing"
)

// edgeState is a Mesos state of the cases where mesos-dns's answers are
// easiest to get wrong: tasks on several networks, IPv6-only tasks, addresses
// in every IP source, a framework without a PID (an HTTP API scheduler),
// agents and frameworks whose PIDs hold a host name ("localhost", which
// /etc/hosts answers), DiscoveryInfo names with "_", dots and capitals, names
// too long for a DNS label, and a task with more ports than a UDP answer holds.
func edgeState(t *testing.T) []byte {
	t.Helper()
	type obj = map[string]any
	status := func(ts float64, netinfos []any, labels ...string) obj {
		s := obj{"state": "TASK_RUNNING", "timestamp": ts}
		if netinfos != nil {
			s["container_status"] = obj{"network_infos": netinfos}
		}
		var ls []any
		for i := 0; i+1 < len(labels); i += 2 {
			ls = append(ls, obj{"key": labels[i], "value": labels[i+1]})
		}
		if ls != nil {
			s["labels"] = ls
		}
		return s
	}
	network := func(ips ...string) obj {
		var as []any
		for _, ip := range ips {
			as = append(as, obj{"ip_address": ip})
		}
		return obj{"ip_addresses": as}
	}
	task := func(id, name, fw, agent, ports string, statuses ...obj) obj {
		ss := make([]any, len(statuses))
		for i, s := range statuses {
			ss[i] = s
		}
		return obj{"id": id, "name": name, "framework_id": fw, "slave_id": agent, "state": "TASK_RUNNING",
			"resources": obj{"cpus": 0.1, "ports": ports}, "statuses": ss}
	}
	withDiscovery := func(t obj, name string, ports ...obj) obj {
		ps := make([]any, len(ports))
		for i, p := range ports {
			ps[i] = p
		}
		t["discovery"] = obj{"visibility": "FRAMEWORK", "name": name, "ports": obj{"ports": ps}}
		return t
	}
	port := func(n int, name, proto string) obj {
		p := obj{"number": n}
		if name != "" {
			p["name"] = name
		}
		if proto != "" {
			p["protocol"] = proto
		}
		return p
	}
	const (
		ipAgent   = "ed6e-0000-S1"
		nameAgent = "ed6e-0000-S2"
		v6Agent   = "ed6e-0000-S3"
	)
	marathon := []any{
		// Two networks, two addresses each: every one of them.
		task("multi.1", "multi", "F1", ipAgent, "[31001-31001]",
			status(10, []any{network("127.20.0.1", "fd00:20::1"), network("127.20.0.2", "fd00:20::2")},
				"Docker.NetworkSettings.IPAddress", "127.21.0.1", "MesosContainerizer.NetworkSettings.IPAddress", "127.22.0.1")),
		// Only IPv6 addresses.
		task("six.1", "six", "F1", v6Agent, "[31002-31002]", status(10, []any{network("fd00:30::1", "fd00:30::2")})),
		// No network info: the Mesos label, then the Docker label, then the agent.
		task("labels.1", "labels", "F1", ipAgent, "[31003-31003]",
			status(10, nil, "MesosContainerizer.NetworkSettings.IPAddress", "127.22.0.3", "Docker.NetworkSettings.IPAddress", "127.21.0.3")),
		task("docker.1", "docker", "F1", ipAgent, "[]", status(10, nil, "Docker.NetworkSettings.IPAddress", "127.21.0.4")),
		// Only the agent's address, on the agent whose PID is a host name.
		task("onname.1", "onname", "F1", nameAgent, "[31005-31006]", status(10, nil)),
		task("onname.2", "onname", "F1", nameAgent, "[31007-31007]", status(11, []any{network("127.20.0.7")})),
		// A newer status's addresses win.
		task("moved.1", "moved", "F1", ipAgent, "[]", status(10, []any{network("127.20.0.8")}), status(12, []any{network("127.20.0.9")})),
		// DiscoveryInfo names: with "_", with dots, with capitals, with
		// named and unnamed ports of either protocol.
		withDiscovery(task("under.1", "under", "F1", ipAgent, "[31010-31010]", status(10, []any{network("127.20.0.10")})),
			"my_service", port(8080, "http", "tcp"), port(8081, "", "udp"), port(8082, "metrics_port", "")),
		withDiscovery(task("dotted.1", "dotted", "F1", ipAgent, "[]", status(10, []any{network("127.20.0.11")})),
			"api.v2", port(9000, "web", "tcp")),
		withDiscovery(task("caps.1", "caps", "F1", ipAgent, "[]", status(10, []any{network("127.20.0.12")})),
			"Web_Front", port(9001, "HTTP", "TCP")),
		withDiscovery(task("plain.1", "plain", "F1", ipAgent, "[]", status(10, []any{network("127.20.0.13")})),
			"plain-svc", port(9002, "", "")),
		// Names over 63 octets: a task name, a DiscoveryInfo name.
		task("long.1", "a-task-name-that-is-much-longer-than-sixty-three-characters-allow-for", "F1", ipAgent, "[31020-31020]",
			status(10, []any{network("127.20.0.20")})),
		task("nearly.1", "a-task-name-of-fifty-eight-characters-that-still-fits-ok", "F1", ipAgent, "[31021-31021]",
			status(10, []any{network("127.20.0.21")})),
		withDiscovery(task("longdi.1", "longdi", "F1", ipAgent, "[]", status(10, []any{network("127.20.0.22")})),
			"a_discovery_name_that_is_much_longer_than_sixty_three_characters_is", port(9003, "p", "tcp")),
		// A task whose SRV answer does not fit in 512 octets.
		task("many.1", "many", "F1", ipAgent, "[32000-32039]", status(10, []any{network("127.20.0.30")})),
		// Not running: no records.
		func() obj {
			o := task("staging.1", "staging", "F1", ipAgent, "[31030-31030]")
			o["state"] = "TASK_STAGING"
			return o
		}(),
	}
	var frameworks []any
	frameworks = append(frameworks,
		obj{"id": "F1", "name": "marathon", "hostname": "localhost", "pid": "scheduler-1@127.0.2.1:15101", "active": true, "tasks": marathon},
		// An HTTP API scheduler: no PID, its host name is resolved.
		obj{"id": "F2", "name": "http-sched", "hostname": "localhost", "active": true, "tasks": []any{
			task("h.1", "hjob", "F2", nameAgent, "[31100-31100]", status(10, []any{network("127.20.1.1")})),
		}},
		// A scheduler whose PID holds a host name.
		obj{"id": "F3", "name": "named.sched", "hostname": "ignored", "pid": "scheduler-2@localhost:15102", "active": true, "tasks": []any{
			task("n.1", "njob", "F3", v6Agent, "[31200-31200]", status(10, nil)),
		}},
		// A framework whose name makes the longest names too long.
		obj{"id": "F4", "name": "a-framework-name-well-over-a-hundred-characters." +
			"that-leaves-no-room-for-the-longest-names-built-on-it-by-mesos-dns-naming", "hostname": "127.0.2.4",
			"pid": "scheduler-4@127.0.2.4:15104", "active": true, "tasks": []any{
				task("lf.1", "lfjob-with-a-rather-long-name-too", "F4", ipAgent, "[31300-31300]", status(10, []any{network("127.20.2.1")})),
			}},
	)
	doc := obj{
		"version": "1.11.0",
		"slaves": []any{
			obj{"id": ipAgent, "hostname": "agent-one", "pid": "slave(1)@127.0.1.1:5051", "active": true,
				"resources": obj{"ports": "[31000-32000]"}},
			obj{"id": nameAgent, "hostname": "agent-two", "pid": "slave(1)@localhost:5051", "active": true,
				"resources": obj{"ports": "[31000-32000]"}},
			obj{"id": v6Agent, "hostname": "agent-three", "pid": "slave(1)@[fd00::3]:5051", "active": true,
				"resources": obj{"ports": "[31000-32000]"}},
		},
		"frameworks": frameworks,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
