package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/sim"
)

// HAProxy killed (its master process, SIGKILL): the daemon starts it again
// and re-applies the configuration within a second (a promise: see promise);
// nothing is lost.
func TestFaultHAProxyKilled(t *testing.T) {
	c, lb, d := lbCluster(t, sim.Config{Apps: 3, TasksPerApp: 2, Seed: 51})
	cfgBefore, err := os.ReadFile(lb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		pid := haproxyMasterPID(lb.masterSock)
		if pid == 0 {
			t.Fatal("HAProxy's master CLI does not name its PID")
		}
		restarts := d.metric(t, "discovery_lb_haproxy_restarts_total")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("killing HAProxy %d: %v", pid, err)
		}
		killed := time.Now()
		// Product promise: HAProxy serves again within a second of dying.
		prom := newPromise("a new HAProxy serving every app after the old one was killed", time.Second, d.Cmd.Process.Pid, killed)
		waitFor(t, 10*time.Second, "a new HAProxy master", func() bool {
			p := haproxyMasterPID(lb.masterSock)
			return p != 0 && p != pid
		})
		waitTraffic(t, c, 10*time.Second)
		took, waited := prom.check(t, time.Now())
		t.Logf("round %d: HAProxy %d killed; a new one serves every app after %v (%v of it waiting for a CPU)", round, pid, took.Round(time.Millisecond), waited.Round(time.Millisecond))
		if ok, diff := lbAgrees(lb.cfg, c.Truth(), false); !ok {
			t.Errorf("config after the restart: %s", diff)
		}
		if now, _ := os.ReadFile(lb.cfg); !bytes.Equal(now, cfgBefore) {
			t.Error("the config on disk changed across the restart")
		}
		if v := d.metric(t, "discovery_lb_haproxy_restarts_total"); v != restarts+1 {
			t.Errorf("discovery_lb_haproxy_restarts_total = %v, want %v", v, restarts+1)
		}
	}
	if st := d.status(t); st.LB == nil || st.LB.Restarts != 2 {
		t.Errorf("/status.json lb.restarts: %+v, want 2", st.LB)
	}
}

// A label that breaks the HAProxy config (it passes label parsing, fails
// `haproxy -c`): only that app is left out, visible on /status.json; every
// other app keeps its traffic and a later change still applies.
func TestFaultBadLabelLeavesOnlyThatAppOut(t *testing.T) {
	c := newCluster(t, sim.Config{Apps: 3, TasksPerApp: 2, Seed: 61, Backends: true})
	lb := newLB(t)
	d := startDaemon(t, false, append([]string{"--marathon", c.MarathonURL()}, lb.args...)...)
	waitTraffic(t, c, 30*time.Second)
	tr := c.Truth()
	bad := tr.Apps[1]
	labels := map[string]string{}
	for k, v := range bad.Labels {
		labels[k] = v
	}
	labels["HAPROXY_0_BALANCE"] = "no-such-algorithm"
	if err := c.Marathon().SetLabels(bad.ID, labels); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the broken app left out on /status.json", func() bool {
		st := d.status(t)
		return st.LB != nil && len(st.LB.LeftOut) > 0
	})
	st := d.status(t)
	for _, lo := range st.LB.LeftOut {
		t.Logf("left out: %s port %d: %.200s", lo.AppID, lo.Port, lo.Reason)
		if lo.AppID != bad.ID {
			t.Errorf("%s left out too; only %s breaks the config", lo.AppID, bad.ID)
		}
	}
	cfg, _ := os.ReadFile(lb.cfg)
	if strings.Contains(string(cfg), "no-such-algorithm") {
		t.Error("the breaking label reached the config on disk")
	}
	for _, a := range tr.Apps {
		if a.ID == bad.ID {
			continue
		}
		got, err := through(a.ServicePort)
		if err != nil {
			t.Errorf("%s lost its traffic: %v", a.ID, err)
			continue
		}
		t.Logf("%s still served by %s", a.ID, got)
	}
	if v := d.metric(t, "discovery_lb_apps_left_out"); v < 1 {
		t.Errorf("discovery_lb_apps_left_out = %v", v)
	}
	// A later change to a good app still applies.
	if _, err := c.StartTask(tr.Apps[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new task of a good app in the config", func() bool {
		cfg, _ := os.ReadFile(lb.cfg)
		return len(backendServers(string(cfg), tr.Apps[0].ServicePort)) == len(c.Truth().Apps[0].Tasks)
	})
}

// The config path unwritable (its directory immutable) or its disk full (a
// full tmpfs): a change that needs a reload fails with a clear error on
// /status.json and /metrics, the running HAProxy keeps its config and
// traffic, and once the path is writable again the change applies.
func TestFaultConfigPathUnwritable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: chattr +i and a tmpfs mount")
	}
	for _, tc := range []struct {
		name         string
		break_, heal func(t *testing.T, dir string)
	}{
		{"immutable-dir",
			func(t *testing.T, dir string) { runCmd(t, "chattr", "+i", dir) },
			func(t *testing.T, dir string) { runCmd(t, "chattr", "-i", dir) }},
		{"disk-full",
			func(t *testing.T, dir string) {
				// dd stops with ENOSPC, which is the point.
				_ = exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(dir, "filler"), "bs=4k").Run()
			},
			func(t *testing.T, dir string) { _ = os.Remove(filepath.Join(dir, "filler")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, sim.Config{Apps: 2, TasksPerApp: 2, Seed: 71, Backends: true})
			lb := newLB(t)
			dir := filepath.Join(lb.dir, "cfg")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.name == "disk-full" {
				if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
					t.Skipf("cannot mount a tmpfs: %v %s", err, out)
				}
				t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
			}
			healed := false
			t.Cleanup(func() {
				if !healed {
					tc.heal(t, dir)
				}
			})
			lb.cfg = filepath.Join(dir, "haproxy.cfg")
			for i, a := range lb.args {
				if a == "--haproxy-config" {
					lb.args[i+1] = lb.cfg
				}
			}
			d := startDaemon(t, true, append([]string{"-masters=" + c.Masters()[0].Addr()}, lb.args...)...)
			waitLB(t, lb.cfg, c, 30*time.Second)
			waitTraffic(t, c, 15*time.Second)
			cfgBefore, _ := os.ReadFile(lb.cfg)
			before := c.Truth()

			tc.break_(t, dir)
			if _, err := c.AddApp("", 2); err != nil { // a new backend: a reload
				t.Fatal(err)
			}
			var lbErr string
			waitFor(t, 15*time.Second, "the failed write on /status.json", func() bool {
				st := d.status(t)
				if st.LB == nil {
					return false
				}
				lbErr = st.LB.Err
				for _, r := range st.LB.Reloads {
					lbErr += r.Err
				}
				return lbErr != ""
			})
			t.Logf("/status.json: %.300s", lbErr)
			if !strings.Contains(lbErr, dir) && !strings.Contains(lbErr, "haproxy.cfg") {
				t.Errorf("the error does not name the config path: %q", lbErr)
			}
			if now, _ := os.ReadFile(lb.cfg); !bytes.Equal(now, cfgBefore) {
				t.Error("the config on disk changed")
			}
			if ok, why := trafficFlows(before); !ok {
				t.Errorf("the running config lost traffic: %s", why)
			}
			if !d.Alive() {
				t.Fatal("the daemon exited")
			}

			tc.heal(t, dir)
			healed = true
			took := waitLB(t, lb.cfg, c, 30*time.Second)
			waitTraffic(t, c, 10*time.Second)
			t.Logf("writable again: the new app applied %v later", took.Round(time.Millisecond))
		})
	}
}

func runCmd(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, out)
	}
}
