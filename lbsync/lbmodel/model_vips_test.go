package lbmodel

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

func vipSnapshot(seq uint64, port uint32, labels ...state.Label) *state.Snapshot {
	c := (&state.Cluster{
		Agents:     []state.Agent{{ID: "a1", Host: "127.0.1.1"}},
		Frameworks: []state.Framework{{ID: "m", Name: "marathon"}},
		Tasks: []state.Task{{ID: "svc.marathon-1", Name: "svc", FrameworkID: "m", AgentID: "a1", State: state.TaskRunning,
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
