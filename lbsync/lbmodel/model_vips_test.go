package lbmodel

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

func vipSnapshot(seq uint64, port uint32, labels ...state.Label) *state.Snapshot {
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "a1", Host: "127.0.1.1"}},
		Frameworks: []state.Framework{{ID: "m", Name: "marathon"}},
		Tasks: []*state.Task{{ID: "svc.marathon-1", Name: "svc", FrameworkID: "m", AgentID: "a1", State: state.TaskRunning,
			Ports: []state.PortRange{{Begin: port, End: port}},
			Discovery: &state.Discovery{Name: "svc", Ports: []state.DiscoveryPort{{Number: port, Protocol: "tcp",
				Labels: labels}}}}},
	}).Seal()
	return &state.Snapshot{Seq: seq, Cluster: c}
}

// TestModelBuilderVIPs: a task with a VIP label and no HAPROXY_GROUP gets a
// frontend on the VIP and a dynamic backend; the same VIPs give back the same
// model; a task move is a server change only; VIPsOff leaves them out.
func TestModelBuilderVIPs(t *testing.T) {
	cfg := testConfig()
	ts := mustTemplates(t, cfg, "", nil)
	build := ModelBuilder(cfg, func() *Templates { return ts }, nil)
	vip := state.Label{Key: "VIP_0", Value: "/svc:8080"}
	m1, err := build(vipSnapshot(1, 31000, vip), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m1.VIPs) != 1 {
		t.Fatalf("VIPs %+v, want one", m1.VIPs)
	}
	name := VIPProxyName(&m1.VIPs[0])
	be := m1.Backend(name)
	if be == nil || !be.Dynamic || len(be.Servers) != 1 || be.Servers[0].Host != "127.0.1.1" || be.Servers[0].Port != 31000 {
		t.Fatalf("backend %s: %+v", name, be)
	}
	cfgText, err := Render(m1)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\n  bind " + m1.VIPs[0].Addr.String() + ":8080\n  mode tcp\n"; !strings.Contains(string(cfgText), want) {
		t.Fatalf("config lacks %q:\n%s", want, cfgText)
	}
	m1b, err := build(vipSnapshot(2, 31000, vip), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m1b != m1 {
		t.Error("an unchanged snapshot gave a new model")
	}
	m2, err := build(vipSnapshot(3, 31001, vip), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := ComputePlan(m1, m2); len(p.Reload) != 0 || len(p.Runtime) == 0 {
		t.Fatalf("a task move: plan %+v, want runtime ops only", p)
	}

	// HTTP mode from the app's labels; a label written as HAProxy syntax is
	// refused, nothing of it reaches the config.
	httpSnap := vipSnapshot(4, 31001, vip)
	httpSnap.Cluster.Tasks[0].Labels = []state.Label{{Key: "HAPROXY_0_MODE", Value: "http"}}
	m3, err := build(httpSnap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m3.Backend(name).Mode != "http" {
		t.Errorf("mode %q, want http", m3.Backend(name).Mode)
	}
	evil := state.Label{Key: "VIP_1", Value: "x\n  bind 0.0.0.0:22\n:80"}
	m4, err := build(vipSnapshot(5, 31001, vip, evil), nil)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := Render(m4)
	if strings.Contains(string(text), "0.0.0.0:22") {
		t.Fatalf("label text reached the config:\n%s", text)
	}

	off := testConfig()
	off.VIPsOff = true
	m5, err := ModelBuilder(off, func() *Templates { return ts }, nil)(vipSnapshot(1, 31000, vip), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m5.VIPs) != 0 || len(m5.Backends) != 0 {
		t.Errorf("VIPsOff: VIPs %v, backends %v", m5.VIPs, backendNames(m5))
	}
}

// TestModelBuilderVIPListenCheck: a VIP HAProxy could not listen on is left
// out and reported on its app; a VIP HAProxy runs already is not checked.
func TestModelBuilderVIPListenCheck(t *testing.T) {
	cfg := testConfig()
	ts := mustTemplates(t, cfg, "", nil)
	refuse := true
	var checked []netip.AddrPort
	cfg.VIPListenCheck = func(ap netip.AddrPort) error {
		checked = append(checked, ap)
		if refuse {
			return errors.New("port 8080 is in use")
		}
		return nil
	}
	build := ModelBuilder(cfg, func() *Templates { return ts }, nil)
	vip := state.Label{Key: "VIP_0", Value: "/svc:8080"}
	m1, err := build(vipSnapshot(1, 31000, vip), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m1.VIPs) != 0 || len(m1.Errors) != 1 || !strings.Contains(m1.Errors[0].Reason, "could not listen") {
		t.Fatalf("VIPs %v, errors %+v: want the VIP left out and reported", m1.VIPs, m1.Errors)
	}
	refuse = false
	m2, err := build(vipSnapshot(2, 31000, vip), &BuildOptions{Previous: m1})
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.VIPs) != 1 {
		t.Fatalf("VIPs %v once the port is free", m2.VIPs)
	}
	checked = nil
	refuse = true
	m3, err := build(vipSnapshot(3, 31001, vip), &BuildOptions{Previous: m2})
	if err != nil {
		t.Fatal(err)
	}
	if len(m3.VIPs) != 1 || len(checked) != 0 {
		t.Fatalf("a running VIP was checked again (%v) or dropped (%v)", checked, m3.VIPs)
	}
}

// TestModelBuilderAddressVIPOnAServicePort: an app author's address VIP on
// the port of another app's frontend would, as the more specific bind, take
// that app's connections: it is left out and reported on its own app; an
// address VIP on a free port and a named VIP on the same port are kept.
func TestModelBuilderAddressVIPOnAServicePort(t *testing.T) {
	cfg := testConfig()
	ts := mustTemplates(t, cfg, "", nil)
	build := ModelBuilder(cfg, func() *Templates { return ts }, nil)
	task := func(id string, port uint32, labels []state.Label, vip ...state.Label) *state.Task {
		return &state.Task{ID: id, Name: id, FrameworkID: "m", AgentID: "a1", State: state.TaskRunning, Labels: labels,
			Ports:     []state.PortRange{{Begin: port, End: port}},
			Discovery: &state.Discovery{Name: id, Ports: []state.DiscoveryPort{{Number: port, Protocol: "tcp", Labels: vip}}}}
	}
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "a1", Host: "127.0.1.1"}},
		Frameworks: []state.Framework{{ID: "m", Name: "marathon"}},
		Tasks: []*state.Task{
			task("web.marathon-1", 31000, []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}, {Key: "HAPROXY_0_PORT", Value: "10080"}}),
			task("thief.marathon-1", 31001, nil, state.Label{Key: "VIP_0", Value: "127.0.0.1:10080"}),
			task("free.marathon-1", 31002, nil, state.Label{Key: "VIP_0", Value: "127.0.0.1:10090"}),
			task("named.marathon-1", 31003, nil, state.Label{Key: "VIP_0", Value: "/named:10080"}),
		},
	}).Seal()
	m, err := build(&state.Snapshot{Seq: 1, Cluster: c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, v := range m.VIPs {
		kept = append(kept, netip.AddrPortFrom(v.Addr, v.Port).String()+" "+v.Name)
	}
	if len(m.VIPs) != 2 {
		t.Fatalf("VIPs %v: want the free address VIP and the named one", kept)
	}
	for _, v := range m.VIPs {
		if v.Name == "" && v.Port == 10080 {
			t.Fatalf("VIPs %v: the address VIP on the service port 10080 was kept", kept)
		}
	}
	reported := false
	for _, e := range m.Errors {
		if strings.Contains(e.Reason, "127.0.0.1:10080") && strings.Contains(e.Reason, "load balancer's own") {
			reported = true
		}
	}
	if !reported {
		t.Errorf("errors %+v: want the address VIP on 10080 reported", m.Errors)
	}
	if !strings.Contains(frontendNames(m), ":10080") {
		t.Errorf("frontends %s: the service port's frontend is gone", frontendNames(m))
	}
}

func frontendNames(m *Model) string {
	var n []string
	for _, f := range m.Frontends {
		n = append(n, f.Name+":"+strconv.Itoa(f.Port))
	}
	return strings.Join(n, " ")
}
