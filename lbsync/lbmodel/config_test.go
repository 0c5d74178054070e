package lbmodel

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestConfigFlags(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Groups = []string{"default"}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	err := fs.Parse([]string{
		"--group", "external,internal", "-group", "edge", "-strict-mode", "-H",
		"--dont-bind-http-https", "--ssl-certs", "/a.pem, /b.pem", "--group-https-by-vhost",
		"--haproxy-map", "--haproxy-config", "/x/haproxy.cfg",
		"--min-serv-port-ip-per-task", "20000", "--max-serv-port-ip-per-task", "20100",
		"--lb-templates-dir", "/t", "--lb-ignore-template-labels", "--lb-stats-socket", "/s.sock",
		"--lb-stats-bind", "127.0.0.1:19090", "--lb-http-bind", ":18080", "--lb-https-bind", "[::1]:18443",
		"--lb-appid-bind", "*:19091", "--lb-hard-stop-after", "5s",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Groups = []string{"external", "internal", "edge"}
	want.StrictMode, want.HealthCheck, want.DontBindHTTPHTTPS = true, true, true
	want.SSLCerts = []string{"/a.pem", "/b.pem"}
	want.GroupHTTPSByVHost, want.HAProxyMap = true, true
	want.HAProxyConfig = "/x/haproxy.cfg"
	want.MinServPortIPPerTask, want.MaxServPortIPPerTask = 20000, 20100
	want.TemplatesDir, want.IgnoreTemplateLabels, want.StatsSocket = "/t", true, "/s.sock"
	want.StatsBindAddr, want.StatsPort = "127.0.0.1", 19090
	want.HTTPPort = 18080
	want.HTTPSBindAddr, want.HTTPSPort = "::1", 18443
	want.AppIDPort = 19091
	want.HardStopAfter = "5s"
	if got, exp := cfgString(cfg), cfgString(want); got != exp {
		t.Errorf("got  %s\nwant %s", got, exp)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, bad := range [][]string{{"--lb-http-bind", "80"}, {"--lb-http-bind", ":http"}, {"--lb-http-bind", ":0"}} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		DefaultConfig().RegisterFlags(fs)
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func cfgString(c *Config) string {
	return strings.Join([]string{strings.Join(c.Groups, ","), strings.Join(c.SSLCerts, ","),
		c.HAProxyConfig, c.TemplatesDir, c.StatsSocket, c.StatsBindAddr, c.HTTPBindAddr, c.HTTPSBindAddr,
		c.AppIDBindAddr, c.HardStopAfter,
		itoa(c.StatsPort), itoa(c.HTTPPort), itoa(c.HTTPSPort), itoa(c.AppIDPort),
		itoa(c.MinServPortIPPerTask), itoa(c.MaxServPortIPPerTask),
		boolStr(c.StrictMode), boolStr(c.HealthCheck), boolStr(c.DontBindHTTPHTTPS), boolStr(c.GroupHTTPSByVHost),
		boolStr(c.HAProxyMap), boolStr(c.IgnoreTemplateLabels)}, "|")
}

func boolStr(b bool) string {
	if b {
		return "T"
	}
	return "F"
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"ok", func(c *Config) {}, ""},
		{"no group", func(c *Config) { c.Groups = nil }, "at least one group"},
		{"half range", func(c *Config) { c.MaxServPortIPPerTask = 0 }, "or neither"},
		{"no range", func(c *Config) { c.MinServPortIPPerTask, c.MaxServPortIPPerTask = 0, 0 }, ""},
		{"inverted range", func(c *Config) { c.MinServPortIPPerTask = 20000 }, "higher than"},
		{"bad port", func(c *Config) { c.HTTPPort = 70000 }, "HTTP port 70000"},
		{"newline", func(c *Config) { c.StatsSocket = "/a\nb" }, "spans lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Groups = []string{"g"}
			tt.mod(c)
			err := c.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	c := DefaultConfig()
	env := map[string]string{"FRAMEWORK_NAME": "marathon-lb", "HAPROXY_GLOBAL_DEFAULT_OPTIONS": "redispatch, forwardfor"}
	c.FromEnv(func(k string) string { return env[k] })
	if c.FrameworkName != "marathon-lb" || !slices.Equal(c.GlobalDefaultOptions, []string{"redispatch", "forwardfor"}) {
		t.Errorf("%q %v", c.FrameworkName, c.GlobalDefaultOptions)
	}
	if got := c.GlobalDefaultOptionLines(); got != "  option            forwardfor\n  option            redispatch\n" {
		t.Errorf("options lines %q", got)
	}
	if SplitList(" a, ,b", "c") == nil || !slices.Equal(SplitList(" a, ,b", "c"), []string{"a", "b", "c"}) {
		t.Error("SplitList")
	}
}

func TestEndpointsHost(t *testing.T) {
	for addr, want := range map[string]string{
		"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "::": "::1", "[::]": "::1",
		"127.0.0.1": "127.0.0.1", "10.0.0.5": "10.0.0.5", "::1": "::1", "[fd00::5]": "fd00::5",
	} {
		if got := EndpointsHost(addr); got != want {
			t.Errorf("EndpointsHost(%q) = %q, want %q", addr, got, want)
		}
	}
}
