package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// checkLBArgs are load balancer flags whose files and ports are the test's own.
func checkLBArgs(t *testing.T, templates string) []string {
	t.Helper()
	return []string{"--group", "*", "-lb-templates-dir", templates,
		"-lb-stats-bind", "127.0.0.1:" + strconv.Itoa(haproxytest.FreePort(t, "127.0.0.1")),
		"-lb-haproxy-binary", haproxytest.Binary(t),
		"-listener", "127.0.0.1", "-httpListener", "127.0.0.1"}
}

func runCheckT(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(append([]string{"check"}, args...), &stdout, &stderr)
	return code, stdout.String()
}

// TestCheckAllIsWell: a config that works passes, with the cluster fetched
// and the config rendered from it through haproxy -c.
func TestCheckAllIsWell(t *testing.T) {
	args := append([]string{"-stateFile", "../../deploy/sample/state.json"}, checkLBArgs(t, t.TempDir())...)
	code, out := runCheckT(t, args...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"ok       mesos: 11 tasks", "through haproxy -c", "all is well"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestCheckFindsEveryProblem: one run reports all of them, each on its own
// line: an unknown key with the key meant, a listener that is not this
// host's, an unreachable master, a template HAProxy rejects.
func TestCheckFindsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	master := closedPort(t)
	cfgPath := filepath.Join(dir, "config.json")
	// 192.0.2.1 (TEST-NET-1) is only bound to, never reached: it is not this host's.
	writeFileT(t, cfgPath, `{"masters":["`+master+`"],"refreshSecond":5,"listener":"192.0.2.1","httpListener":"127.0.0.1","mesosFollow":"poll"}`)
	templates := filepath.Join(dir, "templates")
	if err := os.Mkdir(templates, 0o755); err != nil {
		t.Fatal(err)
	}
	// A user's HAPROXY_HEAD, literal as marathon-lb's were, with a line
	// HAProxy rejects.
	writeFileT(t, filepath.Join(templates, "HAPROXY_HEAD"), `global
  stats socket /var/run/haproxy/socket mode 600 level admin expose-fd listeners
  no-such-directive here
defaults
  mode http
  timeout connect 3s
  timeout client 30s
  timeout server 30s
`)
	args := append([]string{"-config", cfgPath}, checkLBArgs(t, templates)...)
	// The file's listener, not the helper's.
	for i := range args {
		if args[i] == "-listener" {
			args = append(args[:i], args[i+2:]...)
			break
		}
	}
	code, out := runCheckT(t, args...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		`PROBLEM  configuration: unknown config key "refreshSecond"`, `did you mean "refreshSeconds"?`,
		"PROBLEM  dns listener: 192.0.2.1 is not an address of this host",
		"PROBLEM  unreachable: mesos", master,
		"PROBLEM  rendered config", "no-such-directive",
		"4 problem(s) found",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	t.Run("offline skips the sources", func(t *testing.T) {
		code, out := runCheckT(t, append([]string{"-offline"}, args...)...)
		if code != 1 || strings.Contains(out, "unreachable") || !strings.Contains(out, "3 problem(s) found") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

// TestCheckBadValueAndHelp: a bad value is one problem naming its key; -h and
// help check exit 0 and show -offline.
func TestCheckBadValueAndHelp(t *testing.T) {
	code, out := runCheckT(t, "-stateFile", "../../deploy/sample/state.json", "-ttl", "-5")
	if code != 1 || !strings.Contains(out, `key "ttl"`) || !strings.Contains(out, "1 problem(s) found") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"help", "check"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-offline") {
		t.Errorf("help check: exit %d\n%s", code, stdout.String())
	}
}
