package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Settings of the load balancer that cannot work stop the daemon before
// anything starts, exit 2, with one line naming the setting and the fix —
// not a daemon that retries forever or quietly does something else.
func TestLoadBalancerFailsFast(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing-here")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no HAProxy binary", []string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "-lb-haproxy-binary", missing},
			[]string{"flag -lb-haproxy-binary", missing, "apt-get install haproxy"}},
		{"Marathon URL without a scheme", []string{"--marathon", "marathon.mesos:8080", "--group", "*"},
			[]string{"flag -marathon", `"marathon.mesos:8080" has no scheme`, "http://marathon.mesos:8080"}},
		{"Marathon URL without a host", []string{"--marathon", "http://", "--group", "*"},
			[]string{"flag -marathon", `"http://" is not an http:// or https:// URL with a host`}},
		{"templates directory missing", []string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "-lb-templates-dir", missing},
			[]string{"flag -lb-templates-dir", missing, "leave the flag out"}},
		{"templates directory is a file", []string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "-lb-templates-dir", file},
			[]string{"flag -lb-templates-dir", "not a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, io.Discard, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			// The problem is one line (after the header configuration
			// errors share): it names the setting and the fix.
			out := strings.TrimSpace(stderr.String())
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, tc.want[0]) {
					if line != "" {
						t.Errorf("the problem is told twice:\n%s", out)
					}
					line = l
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("the line naming %s lacks %q:\n%s", tc.want[0], w, out)
				}
			}
		})
	}
}

// render (and --dry) need no HAProxy: a missing binary is not their concern.
func TestRenderNeedsNoHAProxy(t *testing.T) {
	o, err := parseArgs([]string{"--marathon", "http://127.0.0.1:8080", "--group", "*", "-lb-haproxy-binary", "/nonexistent/haproxy", "--dry"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.lb.checkRun(); err != nil {
		t.Errorf("--dry: %v", err)
	}
	o.lb.dry = false
	if err := o.lb.checkRun(); err == nil {
		t.Error("a run without HAProxy passed checkRun")
	}
}

// Every way of asking for help succeeds: -h on the daemon and on render, and
// help [render], which prints on stdout (for a pager).
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"render", "-h"}, {"help"}, {"help", "render"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Errorf("%q: exit %d, want 0; stderr:\n%s", args, code, stderr.String())
			continue
		}
		out := stdout.String() + stderr.String()
		for _, want := range []string{"usage: discovery [run] [flags]", "discovery render [flags]", "-config", "-lb-haproxy-binary"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: the help lacks %q", args, want)
			}
		}
		if args[0] == "help" && !strings.Contains(stdout.String(), "usage: discovery") {
			t.Errorf("%q: the help is not on stdout", args)
		}
	}
}
