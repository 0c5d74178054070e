package e2e

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/sim"
	"github.com/discovery-mesos/discovery/vips"
)

// vipAddrs waits until the daemon answers every name and returns their
// addresses, checking that each listens: a connection is accepted there.
func vipAddrs(t *testing.T, d *daemon, port int, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		waitFor(t, 30*time.Second, "VIP name "+n+" answered", func() bool {
			r, err := d.query(n, dns.TypeA)
			if err != nil || len(r.Answer) != 1 {
				return false
			}
			out[n] = r.Answer[0].(*dns.A).A.String()
			return true
		})
		c, err := net.DialTimeout("tcp", net.JoinHostPort(out[n], itoa(port)), 2*time.Second)
		if err != nil {
			t.Fatalf("%s answered %s, but nothing listens on port %d there: %v", n, out[n], port, err)
		}
		c.Close()
	}
	return out
}

// TestVIPAddressSameAcrossDaemonsAndRestarts: two daemons following
// different clusters (other tasks, agents, VIP ports) whose apps carry the
// same VIP names give every name the same address; so does a daemon
// restarted. /v1/vips lists the VIPs with their backends.
func TestVIPAddressSameAcrossDaemonsAndRestarts(t *testing.T) {
	names := []string{
		"simapp-000.marathon.l4lb.thisdcos.directory",
		"simapp-001.marathon.vip.mesos",
	}
	portA, portB := servicePortBase(t, 1), servicePortBase(t, 1)
	for portB == portA {
		portB = servicePortBase(t, 1)
	}
	cA, lbA, dA := lbCluster(t, sim.Config{Apps: 2, TasksPerApp: 1, Seed: 1, VIPPort: portA})
	_, _, dB := lbCluster(t, sim.Config{Apps: 2, TasksPerApp: 3, Agents: 5, Seed: 2, VIPPort: portB})
	a := vipAddrs(t, dA, portA, names...)
	b := vipAddrs(t, dB, portB, names...)
	for _, n := range names {
		if a[n] != b[n] {
			t.Errorf("%s: %s on one daemon, %s on the other", n, a[n], b[n])
		}
	}
	if a[names[0]] == a[names[1]] {
		t.Errorf("two names share %s", a[names[0]])
	}

	// /v1/vips: both VIPs, with their names and A's single task.
	var doc struct {
		VIPs []struct {
			Address  string   `json:"address"`
			Port     int      `json:"port"`
			Names    []string `json:"names"`
			Answered bool     `json:"answered"`
			Backends []struct {
				Host string `json:"host"`
				Port int    `json:"port"`
			} `json:"backends"`
		} `json:"vips"`
	}
	if err := json.Unmarshal([]byte(dA.mustGet(t, "/v1/vips", 200)), &doc); err != nil {
		t.Fatal(err)
	}
	tr := cA.Truth()
	if len(doc.VIPs) != 2 {
		t.Fatalf("/v1/vips lists %d VIPs, want 2: %+v", len(doc.VIPs), doc)
	}
	for _, v := range doc.VIPs {
		if v.Port != portA || !v.Answered || len(v.Backends) != 1 || len(v.Names) != 2 {
			t.Errorf("/v1/vips entry %+v", v)
		}
		if !slices.Contains(v.Names, names[0]+".") && !slices.Contains(v.Names, names[1]+".") {
			continue
		}
		if slices.Contains(v.Names, names[0]+".") && v.Address != a[names[0]] {
			t.Errorf("/v1/vips gives %s %s, DNS %s", names[0], v.Address, a[names[0]])
		}
	}
	if got := tr.Apps[0].Tasks[0].Addr().Port(); doc.VIPs[0].Backends[0].Port != int(got) && doc.VIPs[1].Backends[0].Port != int(got) {
		t.Errorf("/v1/vips backends %+v lack app-000's task port %d", doc.VIPs, got)
	}

	// The status page lists them too.
	page := dA.mustGet(t, "/", 200)
	for _, want := range []string{"Named VIPs", a[names[0]] + ":" + itoa(portA), names[1] + "."} {
		if !strings.Contains(page, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
	var st struct {
		LB struct {
			VIPs []json.RawMessage `json:"vips"`
		} `json:"lb"`
	}
	if err := json.Unmarshal([]byte(dA.mustGet(t, "/status.json", 200)), &st); err != nil || len(st.LB.VIPs) != 2 {
		t.Errorf("/status.json lb.vips: %d entries (%v)", len(st.LB.VIPs), err)
	}

	// A restart: the same addresses.
	dA.stop()
	dA2 := startDaemon(t, true, append([]string{"-masters=" + cA.Masters()[0].Addr()}, lbA.args...)...)
	again := vipAddrs(t, dA2, portA, names...)
	for _, n := range names {
		if again[n] != a[n] {
			t.Errorf("%s: %s before the restart, %s after", n, a[n], again[n])
		}
	}

	// The app goes: its name is withdrawn, and by then nothing listens.
	if _, err := cA.RemoveApp(tr.Apps[1].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "VIP name withdrawn", func() bool {
		r, err := dA2.query(names[1], dns.TypeA)
		return err == nil && r.Rcode == dns.RcodeNameError
	})
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(a[names[1]], itoa(portA)), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("VIP name withdrawn while %s:%d still listens", a[names[1]], portA)
	}
	if r, err := dA2.query(names[0], dns.TypeA); err != nil || len(r.Answer) != 1 {
		t.Errorf("the other VIP's name: %v %v", r, err)
	}
}

// TestVIPsOff: with vipsOn false, no listener and no name.
func TestVIPsOff(t *testing.T) {
	port := servicePortBase(t, 1)
	c, _, d := lbCluster(t, sim.Config{Apps: 1, TasksPerApp: 1, VIPPort: port}, "-vipsOn=false")
	waitDNS(t, d, c, 30*time.Second)
	r, err := d.query("simapp-000.marathon.vip.mesos", dns.TypeA)
	if err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("VIP name with vipsOn=false: %v %v", r, err)
	}
	if code, _, _ := d.get("/v1/vips"); code == 200 {
		t.Errorf("/v1/vips answers 200 with VIPs off")
	}
}

// TestVIPOnABusyPortIsLeftOut: a VIP whose address and port another program
// holds is left out and reported; HAProxy, which would refuse the whole
// config for one bind, keeps serving the other VIPs.
func TestVIPOnABusyPortIsLeftOut(t *testing.T) {
	port := servicePortBase(t, 1)
	addrs, _, _ := vips.Assign([]string{"simapp-000.marathon", "simapp-001.marathon"}, vips.DefaultRange)
	busy, err := net.Listen("tcp", net.JoinHostPort(addrs["simapp-000.marathon"].String(), itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, _, d := lbCluster(t, sim.Config{Apps: 2, TasksPerApp: 1, VIPPort: port})
	got := vipAddrs(t, d, port, "simapp-001.marathon.vip.mesos")
	if got["simapp-001.marathon.vip.mesos"] != addrs["simapp-001.marathon"].String() {
		t.Errorf("simapp-001 at %v, want %v", got, addrs["simapp-001.marathon"])
	}
	if r, err := d.query("simapp-000.marathon.vip.mesos", dns.TypeA); err != nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("the VIP on a busy port is answered: %v %v", r, err)
	}
	waitFor(t, 10*time.Second, "the busy VIP reported", func() bool {
		st := d.status(t)
		if st.LB == nil {
			return false
		}
		for _, l := range st.LB.LeftOut {
			if l.AppID == "/sim/app-000" && strings.Contains(l.Reason, "could not listen") {
				return true
			}
		}
		return false
	})
}

// TestVIPFromMarathonApps: with Marathon as the load balancer's source, the
// VIP labels of its apps' port definitions give the same names and
// addresses, and a request to the VIP reaches the app's tasks.
func TestVIPFromMarathonApps(t *testing.T) {
	port := servicePortBase(t, 1)
	c := newCluster(t, sim.Config{Apps: 2, TasksPerApp: 2, VIPPort: port, Backends: true})
	lb := newLB(t)
	d := startDaemon(t, true, append([]string{"-masters=" + c.Masters()[0].Addr(), "--marathon", c.MarathonURL()}, lb.args...)...)
	name := "simapp-001.marathon.l4lb.thisdcos.directory"
	got := vipAddrs(t, d, port, name)
	addrs, _, _ := vips.Assign([]string{"simapp-000.marathon", "simapp-001.marathon"}, vips.DefaultRange)
	if got[name] != addrs["simapp-001.marathon"].String() {
		t.Errorf("%s at %s, want %s (the name's address in Mesos mode too)", name, got[name], addrs["simapp-001.marathon"])
	}
	app := c.Truth().Apps[1]
	for range 10 {
		res, err := noKeepAlive.Get("http://" + net.JoinHostPort(got[name], itoa(port)) + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-App-Id") != app.ID {
			t.Fatalf("through the VIP: %s from %q, want 200 from %s", res.Status, res.Header.Get("X-App-Id"), app.ID)
		}
	}
}
