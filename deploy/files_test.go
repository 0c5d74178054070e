package deploy

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestJSONFilesParse decodes every JSON file under deploy/ (one value, nothing
// after it).
func TestJSONFilesParse(t *testing.T) {
	var n int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		n++
		t.Run(path, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if dec.More() {
				t.Fatalf("%s: data after the JSON value", path)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("found %d JSON files under deploy/, want the examples, the sample and the Marathon app", n)
	}
}

// marathonApp is the part of a Marathon app definition the test checks.
type marathonApp struct {
	ID           string                  `json:"id"`
	Instances    int                     `json:"instances"`
	Constraints  [][]string              `json:"constraints"`
	Networks     []struct{ Mode string } `json:"networks"`
	RequirePorts bool                    `json:"requirePorts"`
	Ports        []struct {
		Port     int    `json:"port"`
		Protocol string `json:"protocol"`
		Name     string `json:"name"`
	} `json:"portDefinitions"`
	Container struct {
		Type   string `json:"type"`
		Docker struct {
			Image string `json:"image"`
		} `json:"docker"`
	} `json:"container"`
	Args         []string `json:"args"`
	HealthChecks []struct {
		Protocol  string `json:"protocol"`
		Path      string `json:"path"`
		PortIndex int    `json:"portIndex"`
	} `json:"healthChecks"`
	ReadinessChecks []struct {
		Protocol string `json:"protocol"`
		Path     string `json:"path"`
		PortName string `json:"portName"`
	} `json:"readinessChecks"`
	UpgradeStrategy struct {
		MinimumHealthCapacity *float64 `json:"minimumHealthCapacity"`
		MaximumOverCapacity   *float64 `json:"maximumOverCapacity"`
	} `json:"upgradeStrategy"`
}

// TestMarathonApp checks that the Marathon app runs one discovery per agent on
// the host's network, with the ports of both roles, health checks on the HTTP
// port, and an upgrade that replaces instances in place.
func TestMarathonApp(t *testing.T) {
	b, err := os.ReadFile("marathon/discovery.json")
	if err != nil {
		t.Fatal(err)
	}
	var app marathonApp
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(app.Constraints, func(c []string) bool {
		return len(c) >= 2 && c[0] == "hostname" && c[1] == "UNIQUE"
	}) {
		t.Errorf("constraints %v: want [hostname UNIQUE] (one instance per agent)", app.Constraints)
	}
	if len(app.Networks) != 1 || app.Networks[0].Mode != "host" {
		t.Errorf("networks %v: want host networking", app.Networks)
	}
	if !app.RequirePorts {
		t.Error("requirePorts is false: the ports are fixed well-known ports")
	}
	want := map[int]string{53: "udp,tcp", 8123: "tcp", 80: "tcp", 443: "tcp", 9090: "tcp", 9091: "tcp"}
	httpIndex := -1
	for i, p := range app.Ports {
		if proto, ok := want[p.Port]; ok && proto == p.Protocol {
			delete(want, p.Port)
		}
		if p.Port == 8123 {
			httpIndex = i
		}
	}
	if len(want) > 0 {
		t.Errorf("portDefinitions miss %v", want)
	}
	if len(app.HealthChecks) == 0 {
		t.Fatal("no health check")
	}
	for _, hc := range app.HealthChecks {
		if hc.Path != "/health" && hc.Path != "/ready" || hc.PortIndex != httpIndex || !strings.HasSuffix(hc.Protocol, "HTTP") {
			t.Errorf("health check %+v: want HTTP /health or /ready on port index %d (8123)", hc, httpIndex)
		}
	}
	for _, rc := range app.ReadinessChecks {
		if rc.Path != "/ready" || rc.PortName != app.Ports[httpIndex].Name {
			t.Errorf("readiness check %+v: want /ready on port %q", rc, app.Ports[httpIndex].Name)
		}
	}
	us := app.UpgradeStrategy
	if us.MaximumOverCapacity == nil || *us.MaximumOverCapacity != 0 {
		t.Error("upgradeStrategy.maximumOverCapacity must be 0: a new instance cannot start beside the old one on its host (fixed ports, UNIQUE hostname)")
	}
	if us.MinimumHealthCapacity == nil || *us.MinimumHealthCapacity >= 1 || *us.MinimumHealthCapacity <= 0 {
		t.Error("upgradeStrategy.minimumHealthCapacity must be between 0 and 1: some instances must stop for their replacements to start, not all at once")
	}
	if !slices.Contains(app.Args, "-config") {
		t.Errorf("args %v: want -config with the host's config file", app.Args)
	}
}

// unitRole says what each unit must have.
var unitRoles = []struct {
	file    string
	env     string
	haproxy bool
}{
	{"discovery-dns.service", "/etc/default/discovery-dns", false},
	{"discovery-lb.service", "/etc/default/discovery-lb", true},
	{"discovery.service", "/etc/default/discovery", true},
}

// TestUnits checks the hardening and the settings HAProxy needs in every unit,
// and has systemd-analyze verify them when it is installed.
func TestUnits(t *testing.T) {
	bin := needBinary(t)
	for _, r := range unitRoles {
		t.Run(r.file, func(t *testing.T) {
			path := filepath.Join("systemd", r.file)
			u := readUnit(t, path)
			for key, value := range map[string]string{
				"NoNewPrivileges":       "yes",
				"ProtectSystem":         "strict",
				"Restart":               "always",
				"AmbientCapabilities":   "CAP_NET_BIND_SERVICE",
				"CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
				"EnvironmentFile":       "-" + r.env,
				"DynamicUser":           "yes",
			} {
				if got := u.directives[key]; !slices.Contains(got, value) {
					t.Errorf("%s=%v, want %s", key, got, value)
				}
			}
			if !slices.Contains(u.directives["LoadCredential"], "config.json:/etc/discovery/config.json") {
				t.Errorf("config.json is not passed as a credential: %v", u.directives["LoadCredential"])
			}
			exec := u.one(t, "ExecStart")
			for _, secret := range []string{"--auth-credentials", "mesosCredentials", "secret"} {
				if strings.Contains(exec, secret) {
					t.Errorf("ExecStart carries %s: credentials never go on the command line", secret)
				}
			}
			nofile, err := strconv.Atoi(u.one(t, "LimitNOFILE"))
			if err != nil {
				t.Fatal(err)
			}
			if r.haproxy {
				if nofile < 100000 {
					t.Errorf("LimitNOFILE=%d: HAProxy needs at least 100000", nofile)
				}
				if !slices.Contains(u.directives["RuntimeDirectory"], "haproxy") {
					t.Error("no RuntimeDirectory=haproxy: the master and stats sockets live in /run/haproxy")
				}
				if !slices.Contains(u.directives["KillMode"], "mixed") {
					t.Error("KillMode is not mixed: systemd would SIGTERM HAProxy itself, cutting connections instead of a soft stop")
				}
				// -lb-templates-dir names it, and a templates directory
				// given that does not exist stops discovery.
				if strings.Contains(exec, "-lb-templates-dir /etc/discovery/templates") &&
					!slices.Contains(u.directives["ConfigurationDirectory"], "discovery/templates") {
					t.Error("no ConfigurationDirectory=discovery/templates: the unit fails to start on a host without the directory")
				}
				if !strings.Contains(u.one(t, "Conflicts"), "haproxy.service") {
					t.Error("does not conflict with Debian's haproxy.service, which binds the same ports")
				}
			}
			verifyUnit(t, path, bin)
		})
	}
}

// verifyUnit runs systemd-analyze verify on a copy of the unit whose binary is
// the one just built (verify checks that ExecStart's command exists).
func verifyUnit(t *testing.T, path, bin string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: units not verified")
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), filepath.Base(path))
	text := strings.ReplaceAll(string(b), "/usr/local/bin/discovery", bin)
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
}

// TestContainerfile checks the container build: a Go build stage, Debian 12
// slim with Debian's HAProxy, the binary as entry point, and nothing fetched
// but Go modules and Debian packages.
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var froms []string
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "FROM" {
			froms = append(froms, f[1])
		}
	}
	if len(froms) != 2 || !strings.Contains(froms[0], "golang:") || froms[1] != "docker.io/library/debian:12-slim" {
		t.Errorf("stages %v: want a golang build stage, then debian:12-slim", froms)
	}
	for _, want := range []string{
		"apt-get install", " haproxy ", "CGO_ENABLED=0 go build",
		`ENTRYPOINT ["/usr/local/bin/discovery"]`, "USER discovery",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
	for _, banned := range []string{"curl ", "wget ", "ADD http"} {
		if strings.Contains(text, banned) {
			t.Errorf("Containerfile downloads with %q: only Go modules and Debian packages may be fetched", banned)
		}
	}
}
