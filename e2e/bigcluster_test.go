package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A cluster of 100,000 tasks in the default mode: the first event of the
// stream (SUBSCRIBED, 130 MB of v1 JSON here) is decoded as it arrives, and
// the daemon serves the names from the stream, without falling back to
// polling. Shortened: DNS only, a sample of apps; bench/bigcluster measures
// time and memory. The simulator runs as its own (uninstrumented) process:
// under the race detector, building and rendering 100,000 tasks in the
// test's process took minutes.
func TestBigClusterDefaultMode(t *testing.T) {
	if testing.Short() {
		t.Skip("a 100,000-task cluster: not in -short")
	}
	simBin := filepath.Join(t.TempDir(), "mesos-sim")
	if out, err := exec.Command("go", "build", "-o", simBin, "../cmd/mesos-sim").CombinedOutput(); err != nil {
		t.Fatalf("building mesos-sim: %v\n%s", err, out)
	}
	began := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	sim := exec.CommandContext(ctx, simBin, "-apps", "1000", "-tasks", "100", "-churn", "0", "-seed", "301",
		"-listen", "", "-marathon-listen", "")
	stdout, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = sim.Wait() })
	master := ""
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if f := strings.Fields(lines.Text()); len(f) >= 2 && f[0] == "master" && master == "" {
			master = strings.TrimPrefix(f[1], "http://")
		}
		if strings.Contains(lines.Text(), "100000 tasks") {
			break
		}
	}
	if master == "" {
		t.Fatalf("mesos-sim printed no master URL: %v", lines.Err())
	}
	go func() {
		for lines.Scan() { // the rest of its output, unread otherwise
		}
	}()
	built := time.Since(began)

	d := startDaemon(t, true, "-masters="+master)
	apps := []string{"app-000", "app-123", "app-500", "app-777", "app-999"}
	served := waitAgree(t, 3*time.Minute, "DNS does not serve every task of the sampled apps", func() (bool, string) {
		for _, app := range apps {
			r, err := exchange("tcp", d.DNSAddr, "_"+app+".sim._tcp.marathon."+domain+".", dns.TypeSRV)
			if err != nil {
				return false, err.Error()
			}
			if n := len(r.Answer); n != 100 {
				return false, fmt.Sprintf("%s: %d SRV records, want 100", app, n)
			}
		}
		return true, ""
	})
	t.Logf("simulator up in %v; the sampled apps' 100 tasks each served %v after the daemon started", built.Round(time.Millisecond), served.Round(time.Millisecond))
	if !strings.Contains(d.logText(), `"tasks":100000`) || !strings.Contains(d.logText(), "subscribed to the mesos event stream") {
		t.Error("the log does not say the stream was subscribed to with 100,000 tasks")
	}
	if v := d.metric(t, "discovery_mesos_stream_polling_fallback"); v != 0 {
		t.Errorf("polling fallback = %v, want 0: the stream serves this cluster", v)
	}
	if v := d.metric(t, "discovery_mesos_stream_connected"); v != 1 {
		t.Errorf("stream connected = %v, want 1", v)
	}
}
