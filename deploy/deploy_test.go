// Package deploy holds no code: only the deployment files (systemd units,
// example configs, the Marathon app, the container build) and these tests,
// which check that the files are what they claim to be. The units and the
// image cannot run here (no systemd as PID 1, no container engine), so the
// tests run what can run: every JSON file parses, systemd-analyze verifies the
// units, and each role's real command line (the unit's ExecStart with its
// example config and environment file) renders a config and starts the daemon
// on loopback addresses, with a real HAProxy for the load balancer roles.
//
// Run them with deploy/check.sh or go test ./deploy/.
package deploy

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// discoveryBin is the daemon built from ../cmd/discovery by TestMain, or ""
// when it could not be built (the tests that need it then fail).
var discoveryBin string

// buildErr says why discoveryBin is empty.
var buildErr error

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deploy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	discoveryBin, buildErr = buildDiscovery(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildDiscovery(dir string) (string, error) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out := filepath.Join(dir, "discovery")
	cmd := exec.Command(goBin, "build", "-o", out, "../cmd/discovery")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building ../cmd/discovery: %v\n%s", err, b)
	}
	return out, nil
}

// needBinary returns the built daemon or fails the test.
func needBinary(t *testing.T) string {
	t.Helper()
	if discoveryBin == "" {
		t.Fatal(buildErr)
	}
	return discoveryBin
}

// unit is the part of a systemd unit file the tests read.
type unit struct {
	path string
	// directives maps a key of the [Service] and [Unit] sections to its
	// values, in order (keys may repeat).
	directives map[string][]string
}

// readUnit parses a unit file: sections are ignored, continuation lines
// (ending in a backslash) are joined, comments dropped.
func readUnit(t *testing.T, path string) *unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := &unit{path: path, directives: map[string][]string{}}
	sc := bufio.NewScanner(f)
	var pending string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "[")) {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		line = pending + line
		pending = ""
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not key=value", path, line)
		}
		u.directives[key] = append(u.directives[key], value)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// one returns the single value of key, failing when there is not exactly one.
func (u *unit) one(t *testing.T, key string) string {
	t.Helper()
	v := u.directives[key]
	if len(v) != 1 {
		t.Fatalf("%s: want one %s=, have %d", u.path, key, len(v))
	}
	return v[0]
}

// envFile reads a systemd EnvironmentFile: KEY=VALUE lines, values optionally
// in double quotes, comments and blank lines ignored.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", path, line)
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	return env
}

// commandLine expands a unit's ExecStart as systemd would for these units:
// %d is the credentials directory and $DISCOVERY_ARGS splits into words; the
// arguments after the binary are returned.
func commandLine(t *testing.T, u *unit, credDir string, env map[string]string) []string {
	t.Helper()
	words := strings.Fields(u.one(t, "ExecStart"))
	if len(words) == 0 || words[0] != "/usr/local/bin/discovery" {
		t.Fatalf("%s: ExecStart does not run /usr/local/bin/discovery: %v", u.path, words)
	}
	var args []string
	for _, w := range words[1:] {
		switch {
		case w == "$DISCOVERY_ARGS":
			args = append(args, strings.Fields(env["DISCOVERY_ARGS"])...)
		case strings.Contains(w, "$"):
			t.Fatalf("%s: ExecStart uses %s, which the test does not expand", u.path, w)
		default:
			args = append(args, strings.ReplaceAll(w, "%d", credDir))
		}
	}
	return args
}

// withoutMarathon drops --marathon/-m and the URLs after it: the examples name
// Marathons that are not on this machine.
func withoutMarathon(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch strings.TrimLeft(args[i], "-") {
		case "marathon", "m":
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
			}
			continue
		}
		if name, _, ok := strings.Cut(strings.TrimLeft(args[i], "-"), "="); ok && (name == "marathon" || name == "m") {
			continue
		}
		out = append(out, args[i])
	}
	return out
}
