package lbmodel

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenCase is one config to render and compare.
type goldenCase struct {
	name string
	cfg  func(*Config)
	// files are template files (name → text) of a templates directory.
	files map[string]string
	// env are template environment variables.
	env  map[string]string
	apps []state.App
	opts *BuildOptions
}

var (
	tcpAppLabels = labels("HAPROXY_GROUP", "external")
	healthHTTP   = state.HealthCheck{Protocol: "HTTP", Path: "/health", PortIndex: 0, IntervalSeconds: 10, TimeoutSeconds: 5, GracePeriodSeconds: 30, MaxConsecutiveFailures: 3}
	healthTCP    = state.HealthCheck{Protocol: "TCP", PortIndex: 0, IntervalSeconds: 7, TimeoutSeconds: 3, MaxConsecutiveFailures: 2}
	twoTasks     = []string{"127.0.0.2:31000", "127.0.0.3:31001"}
	vhostLabels  = func(kv ...string) map[string]string {
		return labels(append([]string{"HAPROXY_GROUP", "external"}, kv...)...)
	}
	withHealth    = func(a state.App, hc ...state.HealthCheck) state.App { a.HealthChecks = hc; return a }
	withNetwork   = func(a state.App, n state.NetworkMode) state.App { a.Network = n; return a }
	drainingFirst = func(a state.App) state.App {
		a.Tasks = append([]state.AppTask(nil), a.Tasks...)
		a.Tasks[0].Draining = true
		return a
	}
)

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "empty", apps: nil},
		{name: "tcp_basic", apps: []state.App{app("/tcp/redis", tcpAppLabels, []int{10001}, twoTasks...)}},
		{name: "two_ports", apps: []state.App{
			app("/multi", labels("HAPROXY_GROUP", "external", "HAPROXY_1_MODE", "http"), []int{10010, 10011},
				"127.0.0.2:31000,31001", "127.0.0.3:31002,31003")}},
		{name: "vhost", apps: []state.App{app("/web/nginx", vhostLabels("HAPROXY_0_VHOST", "Nginx.Example.com"), []int{10000}, twoTasks...)}},
		{name: "vhost_multi", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com,b.example.com"), []int{10000}, twoTasks...)}},
		{name: "vhost_path", apps: []state.App{
			app("/api", vhostLabels("HAPROXY_0_VHOST", "example.com", "HAPROXY_0_PATH", "/api"), []int{10000}, twoTasks...),
			app("/site", vhostLabels("HAPROXY_0_VHOST", "example.com"), []int{10002}, "127.0.0.4:31000"),
		}},
		{name: "vhost_multi_path", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com,b.example.com", "HAPROXY_0_PATH", "-i /x /y"), []int{10000}, twoTasks...)}},
		{name: "vhost_auth", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_AUTH", "my realm:admin:$6$hash"), []int{10000}, twoTasks...)}},
		{name: "vhost_path_auth", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_PATH", "/admin", "HAPROXY_0_AUTH", "realm:admin:$6$hash"), []int{10000}, twoTasks...)}},
		{name: "vhost_multi_auth", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com,b.example.com", "HAPROXY_0_AUTH", "realm:admin:$6$hash"), []int{10000}, twoTasks...)}},
		{name: "vhost_multi_path_auth", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com,b.example.com", "HAPROXY_0_PATH", "/admin", "HAPROXY_0_AUTH", "realm:admin:$6$hash"), []int{10000}, twoTasks...)}},
		{name: "redirect_https", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_REDIRECT_TO_HTTPS", "true"), []int{10000}, twoTasks...)}},
		{name: "redirect_https_path", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_PATH", "/p", "HAPROXY_0_REDIRECT_TO_HTTPS", "yes"), []int{10000}, twoTasks...)}},
		{name: "redirect_https_multi", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com,b.example.com", "HAPROXY_0_REDIRECT_TO_HTTPS", "t"), []int{10000}, twoTasks...)}},
		{name: "redirect_https_multi_path", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com,b.example.com", "HAPROXY_0_PATH", "/p", "HAPROXY_0_REDIRECT_TO_HTTPS", "Y"), []int{10000}, twoTasks...)}},
		{name: "backend_weight", apps: []state.App{
			app("/a", vhostLabels("HAPROXY_0_VHOST", "example.com"), []int{10000}, "127.0.0.2:31000"),
			app("/b", vhostLabels("HAPROXY_0_VHOST", "example.com", "HAPROXY_0_PATH", "/b"), []int{10001}, "127.0.0.3:31000"),
			app("/c", vhostLabels("HAPROXY_0_VHOST", "example.com", "HAPROXY_0_PATH", "/b/c", "HAPROXY_0_BACKEND_WEIGHT", "5"), []int{10002}, "127.0.0.4:31000"),
		}},
		{name: "haproxy_map", cfg: func(c *Config) { c.HAProxyMap = true }, apps: []state.App{
			app("/a", vhostLabels("HAPROXY_0_VHOST", "a.example.com"), []int{10000}, "127.0.0.2:31000"),
			app("/b", vhostLabels("HAPROXY_0_VHOST", "b.example.com,c.example.com"), []int{10001}, "127.0.0.3:31000"),
			app("/c", vhostLabels("HAPROXY_0_VHOST", "d.example.com", "HAPROXY_0_PATH", "/d"), []int{10002}, "127.0.0.4:31000"),
			app("/e", vhostLabels("HAPROXY_0_MODE", "http"), []int{10003}, "127.0.0.5:31000"),
		}},
		{name: "group_https_by_vhost", cfg: func(c *Config) { c.GroupHTTPSByVHost = true }, apps: []state.App{
			app("/a", vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_SSL_CERT", goldenDir+"/a.pem", "HAPROXY_0_BIND_OPTIONS", "alpn h2,http/1.1"), []int{10000}, "127.0.0.2:31000"),
			app("/b", vhostLabels("HAPROXY_0_VHOST", "b.example.com,a.example.com", "HAPROXY_0_PATH", "/b"), []int{10001}, "127.0.0.3:31000"),
		}},
		{name: "haproxy_map_grouped", cfg: func(c *Config) { c.HAProxyMap, c.GroupHTTPSByVHost = true, true }, apps: []state.App{
			app("/a", vhostLabels("HAPROXY_0_VHOST", "a.example.com"), []int{10000}, "127.0.0.2:31000"),
			app("/b", vhostLabels("HAPROXY_0_VHOST", "b.example.com,c.example.com"), []int{10001}, "127.0.0.3:31000"),
		}},
		{name: "dont_bind_http_https", cfg: func(c *Config) { c.DontBindHTTPHTTPS = true }, apps: []state.App{
			app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com"), []int{10000}, twoTasks...)}},
		{name: "ssl_certs_flag", cfg: func(c *Config) { c.SSLCerts = []string{goldenDir + "/one.pem", goldenDir + "/two.pem"} }, apps: []state.App{
			app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com"), []int{10000}, twoTasks...)}},
		{name: "sticky", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_STICKY", "true", "HAPROXY_0_MODE", "HTTP"), []int{10000}, twoTasks...)}},
		{name: "hsts", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_USE_HSTS", "true"), []int{10000}, twoTasks...)}},
		{name: "balance", apps: []state.App{
			app("/leastconn", vhostLabels("HAPROXY_0_BALANCE", "leastconn"), []int{10000}, twoTasks...),
			app("/source", vhostLabels("HAPROXY_0_BALANCE", "source"), []int{10001}, twoTasks...),
			app("/static", vhostLabels("HAPROXY_0_BALANCE", "static-rr"), []int{10002}, twoTasks...),
		}},
		{name: "bind", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_BIND_ADDR", "127.0.0.1", "HAPROXY_0_BIND_OPTIONS", "maxconn 100", "HAPROXY_0_SSL_CERT", goldenDir+"/app.pem", "HAPROXY_0_PORT", "18443"), []int{10000}, twoTasks...)}},
		{name: "network_allowed", apps: []state.App{
			app("/http", vhostLabels("HAPROXY_0_MODE", "http", "HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "127.0.0.0/8 10.1.55.43"), []int{10000}, twoTasks...),
			app("/tcp", vhostLabels("HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8"), []int{10001}, twoTasks...),
		}},
		{name: "proxypass_revproxy_redir", apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com",
			"HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH", "/inner", "HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH", "/outer", "HAPROXY_0_HTTP_BACKEND_REDIR", "/home"), []int{10000}, twoTasks...)}},
		{name: "healthcheck_http", apps: []state.App{withHealth(app("/nginx", vhostLabels(), []int{10000}, twoTasks...), healthHTTP)}},
		{name: "healthcheck_tcp", apps: []state.App{withHealth(app("/redis", vhostLabels(), []int{10000}, twoTasks...), healthTCP)}},
		{name: "healthcheck_port_index", apps: []state.App{withHealth(
			app("/svc", vhostLabels("HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX", "1"), []int{10000, 10001}, "127.0.0.2:31000,31001", "127.0.0.3:31002,31003"),
			state.HealthCheck{Protocol: "MESOS_HTTP", Path: "/ping", PortIndex: 1, IntervalSeconds: 2, TimeoutSeconds: 1, MaxConsecutiveFailures: 1})}},
		{name: "healthcheck_fixed_port", apps: []state.App{withHealth(app("/nginx", vhostLabels(), []int{10000}, twoTasks...),
			state.HealthCheck{Protocol: "HTTP", Path: "/h", Port: 8081, IntervalSeconds: 3, TimeoutSeconds: 2, MaxConsecutiveFailures: 4})}},
		{name: "draining", apps: []state.App{drainingFirst(app("/nginx", vhostLabels("HAPROXY_0_MODE", "http"), []int{10000}, twoTasks...))}},
		{name: "ip_per_task", apps: []state.App{func() state.App {
			a := withNetwork(app("/ippt", vhostLabels("HAPROXY_0_VHOST", "ippt.example.com"), nil), state.NetworkContainer)
			a.Ports = []state.AppPort{{ContainerPort: 8080}, {ContainerPort: 8443}}
			a.Tasks = []state.AppTask{
				{ID: "ippt.1", Host: "agent1", State: state.TaskRunning, IPs: []netip.Addr{addr("127.0.1.1")}},
				{ID: "ippt.2", Host: "agent2", State: state.TaskRunning, IPs: []netip.Addr{addr("127.0.1.2")}},
			}
			return a
		}()}},
		{name: "bridge", apps: []state.App{func() state.App {
			a := withNetwork(app("/bridge", vhostLabels(), []int{10000}, twoTasks...), state.NetworkBridge)
			a.Ports[0].ContainerPort = 80
			return a
		}()}},
		{name: "ipv6_task", apps: []state.App{app("/v6", vhostLabels(), []int{10000}, "::1:31000")}},
		{name: "strict_mode", cfg: func(c *Config) { c.StrictMode = true }, apps: []state.App{
			app("/on", vhostLabels("HAPROXY_0_ENABLED", "true"), []int{10000}, "127.0.0.2:31000"),
			app("/off", vhostLabels(), []int{10001}, "127.0.0.3:31000"),
		}},
		{name: "groups", cfg: func(c *Config) { c.Groups = []string{"external", "edge"} }, apps: []state.App{
			app("/ext", labels("HAPROXY_GROUP", "external"), []int{10000}, "127.0.0.2:31000"),
			app("/int", labels("HAPROXY_GROUP", "internal"), []int{10001}, "127.0.0.3:31000"),
			app("/mixed", labels("HAPROXY_GROUP", "internal", "HAPROXY_1_GROUP", "edge,other"), []int{10002, 10003}, "127.0.0.4:31000,31001"),
			app("/none", nil, []int{10004}, "127.0.0.5:31000"),
		}},
		{name: "group_star", cfg: func(c *Config) { c.Groups = []string{"*"} }, apps: []state.App{
			app("/ext", labels("HAPROXY_GROUP", "external"), []int{10000}, "127.0.0.2:31000"),
			app("/none", nil, []int{10004}, "127.0.0.5:31000"),
		}},
		{name: "bad_labels", apps: []state.App{
			app("/badport", vhostLabels("HAPROXY_0_PORT", "eighty"), []int{10000}, "127.0.0.2:31000"),
			app("/newline", vhostLabels("HAPROXY_0_VHOST", "a.example.com\n  server evil 1.2.3.4:80"), []int{10001}, "127.0.0.2:31000"),
			app("/badtemplate", vhostLabels("HAPROXY_0_BACKEND_HEAD", "\nbackend {backend}\n  balance {nope}\n"), []int{10002}, "127.0.0.2:31000"),
			app("/badmode", vhostLabels("HAPROXY_0_MODE", "udp"), []int{10003}, "127.0.0.2:31000"),
			app("/dupport", vhostLabels(), []int{10005}, "127.0.0.2:31000"),
			app("/dupport2", vhostLabels(), []int{10005}, "127.0.0.2:31000"),
			app("/good", vhostLabels(), []int{10004}, "127.0.0.3:31000"),
		}},
		{name: "template_labels", apps: []state.App{app("/custom", vhostLabels(
			"HAPROXY_0_VHOST", "a.example.com",
			"HAPROXY_0_BACKEND_HEAD", "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  # from a label\n",
			"HAPROXY_0_FRONTEND_HEAD", "\nfrontend {backend}\n  bind {bindAddr}:{servicePort}\n  mode {mode}\n  # {backend!r:>30}\n",
			"HAPROXY_0_BACKEND_SERVER_OPTIONS", "  server {serverName} {host_ipv4}:{port} id {serverId} weight 42{otherOptions}\n",
			"HAPROXY_0_HTTP_FRONTEND_ACL", "  acl custom_{cleanedUpHostname} hdr(host) -i {hostname}\n  use_backend {backend} if custom_{cleanedUpHostname}\n",
		), []int{10000}, twoTasks...)}},
		{name: "template_labels_ignored", cfg: func(c *Config) { c.IgnoreTemplateLabels = true }, apps: []state.App{app("/custom", vhostLabels(
			"HAPROXY_0_BACKEND_HEAD", "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  # from a label\n",
		), []int{10000}, twoTasks...)}},
		{name: "template_file", files: map[string]string{
			"HAPROXY_HEAD":         "global\n  stats socket " + goldenDir + "/stats.sock mode 600 level admin expose-fd listeners\ndefaults\n  timeout connect 1s\n  timeout client 2s\n  timeout server 2s\n# from a file: { literal braces }\n",
			"HAPROXY_BACKEND_HEAD": "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  # from a file\n",
		}, apps: []state.App{app("/nginx", vhostLabels(), []int{10000}, twoTasks...)}},
		{name: "template_env", env: map[string]string{
			"HAPROXY_BACKEND_HTTP_OPTIONS": `  option forwardfor\n  # from the environment { ssl_fc }\n`,
			"HAPROXY_FRONTEND_HEAD":        `\nfrontend {backend}\n  bind {bindAddr}:{servicePort}\n  mode {mode}\n  # from the environment\n`,
		}, files: map[string]string{
			"HAPROXY_FRONTEND_HEAD": "this file loses to the environment {",
		}, apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_MODE", "http"), []int{10000}, twoTasks...)}},
		{name: "blue_green", apps: blueGreenApps()},
		{name: "framework_name", cfg: func(c *Config) { c.FrameworkName = "marathon-lb" }, apps: []state.App{
			app("/marathon-lb", vhostLabels(), []int{10000}, "127.0.0.2:31000"),
			app("/other", vhostLabels(), []int{10001}, "127.0.0.2:31001"),
		}},
		{name: "settings", cfg: func(c *Config) {
			c.StatsBindAddr, c.StatsPort = "127.0.0.1", 19090
			c.HTTPBindAddr, c.HTTPPort = "127.0.0.1", 18080
			c.HTTPSBindAddr, c.HTTPSPort = "127.0.0.1", 18443
			c.AppIDBindAddr, c.AppIDPort = "127.0.0.1", 19091
			c.HardStopAfter = "5s"
			c.GlobalDefaultOptions = []string{"dontlognull", "redispatch", "dontlognull"}
		}, apps: []state.App{app("/nginx", vhostLabels("HAPROXY_0_VHOST", "a.example.com"), []int{10000}, twoTasks...)}},
	}
}

// blueGreenApps is a HAPROXY_DEPLOYMENT_GROUP pair in the middle of a
// deployment: the new (blue) app has one healthy task of its three.
func blueGreenApps() []state.App {
	common := func(colour, started string) map[string]string {
		return labels("HAPROXY_GROUP", "external", "HAPROXY_DEPLOYMENT_GROUP", "nginx",
			"HAPROXY_DEPLOYMENT_COLOUR", colour, "HAPROXY_DEPLOYMENT_STARTED_AT", started,
			"HAPROXY_DEPLOYMENT_TARGET_INSTANCES", "3", "HAPROXY_DEPLOYMENT_ALT_PORT", "10001",
			"HAPROXY_0_PORT", "10000", "HAPROXY_0_VHOST", "nginx.example.com")
	}
	green := withHealth(app("/nginx-green", common("green", "2016-02-01T14:13:42.499089"), []int{10000},
		"127.0.0.2:31000", "127.0.0.3:31000", "127.0.0.4:31000"), healthHTTP)
	green.Instances = 3
	for i := range green.Tasks {
		green.Tasks[i].Health = []bool{true}
	}
	blue := withHealth(app("/nginx-blue", common("blue", "2016-02-01T14:57:54.371005"), []int{10001},
		"127.0.0.5:31000", "127.0.0.6:31000"), healthHTTP)
	blue.Instances = 1
	blue.Tasks[0].Health = []bool{true}
	blue.Tasks[1].Health = []bool{false}
	return []state.App{blue, green}
}

// goldenText is what a golden file holds: the config, then the map files and
// the model's errors as comments.
func goldenText(t *testing.T, m *Model) string {
	var b strings.Builder
	b.WriteString(mustRender(t, m))
	for _, mf := range m.Maps {
		b.WriteString("# --- map " + mf.Path + " ---\n")
		for line := range strings.Lines(string(mf.Content)) {
			b.WriteString("# " + line)
		}
	}
	if len(m.Errors) > 0 {
		b.WriteString("# --- apps left out ---\n")
		for _, e := range m.Errors {
			b.WriteString("# " + strings.ReplaceAll(e.Error(), "\n", "\\n") + "\n")
		}
	}
	return b.String()
}

func buildGolden(t *testing.T, gc goldenCase) *Model {
	t.Helper()
	cfg := testConfig()
	if gc.cfg != nil {
		gc.cfg(cfg)
	}
	dir := ""
	if gc.files != nil {
		dir = t.TempDir()
		for name, text := range gc.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	ts := mustTemplates(t, cfg, dir, gc.env)
	return mustBuild(t, gc.apps, cfg, ts, gc.opts)
}

// TestGolden renders every case, compares it with testdata/golden/NAME.cfg
// (go test -update rewrites them) and has HAProxy validate it.
func TestGolden(t *testing.T) {
	for _, gc := range goldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			m := buildGolden(t, gc)
			got := goldenText(t, m)
			path := filepath.Join("testdata", "golden", gc.name+".cfg")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run go test -update): %v", err)
			}
			if !bytes.Equal([]byte(got), want) {
				t.Errorf("%s differs from the rendering (go test -update rewrites it); got:\n%s", path, got)
			}
			// Same input, same bytes.
			if again := goldenText(t, buildGolden(t, gc)); again != got {
				t.Errorf("a second build renders differently")
			}
			checkHAProxy(t, m, mustRender(t, m))
		})
	}
}
