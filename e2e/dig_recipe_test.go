package e2e

import (
	"encoding/json"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/sim"
)

// TestDigCurlRecipe runs the commands of docs/clients.md's "dig and curl"
// section, as written there, against an app of 60 tasks: more SRV records
// than a 1,232-byte UDP answer holds.
func TestDigCurlRecipe(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Skip("dig is not installed (scripts/install-deps.sh installs dnsutils)")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (scripts/install-deps.sh installs it)")
	}
	const tasks = 60
	c := newCluster(t, sim.Config{Apps: 1, TasksPerApp: tasks, Seed: 142})
	d := startDaemon(t, true, "-masters="+c.Masters()[0].Addr())
	tr := c.Truth()
	app := tr.Apps[0]
	srvName := "_" + app.TaskName + "._tcp." + tr.Framework + "." + domain
	aName := strings.TrimSuffix(tr.TaskDNSName(app, domain), ".")
	waitAgree(t, 30*time.Second, "DNS did not serve the app's SRV records", func() (bool, string) {
		return srvAgrees(d, c.Truth(), srvName)
	})
	host, port, err := net.SplitHostPort(d.DNSAddr)
	if err != nil {
		t.Fatal(err)
	}
	run := func(bin string, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	digArgs := func(args ...string) []string { return append([]string{"@" + host, "-p", port}, args...) }
	wantPorts := func() []string {
		var ps []string
		for _, ap := range tr.DNSSRV(domain)[srvName+"."] {
			ps = append(ps, strconv.Itoa(int(ap.Port())))
		}
		slices.Sort(ps)
		return ps
	}()
	// srvPorts reads the ports of dig's answer section (priority, weight,
	// port, target), sorted.
	srvPorts := func(out string) []string {
		var ps []string
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) == 8 && f[3] == "SRV" {
				ps = append(ps, f[6])
			}
		}
		slices.Sort(ps)
		return ps
	}

	// Over TCP: every record.
	out := run(dig, digArgs("+tcp", srvName, "SRV")...)
	if got := srvPorts(out); !slices.Equal(got, wantPorts) {
		t.Errorf("dig +tcp: %d SRV records (ports %v), want the %d tasks' %v\n%s", len(got), got, tasks, wantPorts, out)
	}
	// A larger buffer than the daemon's dnsMaxUDPSize (1,232 by default): the
	// UDP answer is cut and says so...
	out = run(dig, digArgs("+bufsize=8192", "+ignore", srvName, "SRV")...)
	if got := srvPorts(out); !strings.Contains(out, " tc") || len(got) == 0 || len(got) >= tasks {
		t.Errorf("dig +bufsize=8192 +ignore: %d records, flags line %q: want a cut answer (tc) with some of the %d", len(got), flagsLine(out), tasks)
	}
	// ...and dig, without +ignore, asks again over TCP: every record.
	out = run(dig, digArgs("+bufsize=8192", srvName, "SRV")...)
	if got := srvPorts(out); !slices.Equal(got, wantPorts) {
		t.Errorf("dig +bufsize=8192: %d SRV records, want %d\n%s", len(got), tasks, out)
	}
	// Addresses only.
	out = run(dig, digArgs(aName, "A", "+short")...)
	var addrs []string
	for _, l := range strings.Fields(out) {
		if _, err := netip.ParseAddr(l); err == nil {
			addrs = append(addrs, l)
		}
	}
	slices.Sort(addrs)
	if want := addrStrings(tr.DNSA(domain)[aName+"."]); !slices.Equal(addrs, want) {
		t.Errorf("dig %s A: %v, want %v", aName, addrs, want)
	}
	// The same over HTTP, as JSON.
	body := run(curl, "-s", "http://"+d.HTTPAddr+"/v1/services/"+srvName+".")
	var svcs []struct {
		Service, Host, IP, Port string
	}
	if err := json.Unmarshal([]byte(body), &svcs); err != nil {
		t.Fatalf("curl /v1/services: %v\n%s", err, body)
	}
	var ports []string
	for _, s := range svcs {
		ports = append(ports, s.Port)
	}
	slices.Sort(ports)
	if !slices.Equal(ports, wantPorts) {
		t.Errorf("curl /v1/services: ports %v, want %v", ports, wantPorts)
	}
}

// flagsLine returns dig's ";; flags:" line.
func flagsLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, ";; flags:") {
			return l
		}
	}
	return ""
}
