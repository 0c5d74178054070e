package lbmodel

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/templates"
)

// unusedTemplates are defined by marathon-lb (and loadable here) but never
// used in its config generation; we do the same.
var unusedTemplates = []string{
	"HAPROXY_HTTPS_FRONTEND_AUTH_ACL_ONLY",
	"HAPROXY_HTTPS_FRONTEND_AUTH_REQUEST_ONLY",
	"HAPROXY_HTTPS_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH",
}

func TestEveryTemplateHasADefault(t *testing.T) {
	names := TemplateNames()
	if len(names) != len(templates.Names()) {
		t.Errorf("%d templates known, %d default files", len(names), len(templates.Names()))
	}
	for _, n := range names {
		if _, ok := templates.Default(n); !ok {
			t.Errorf("no default file for %s", n)
		}
	}
	for _, n := range templates.Names() {
		if !slices.Contains(names, n) {
			t.Errorf("default file %s.tmpl names no template", n)
		}
	}
}

// coverageScenarios are configs and apps that, together, use every template
// marathon-lb uses.
func coverageScenarios() []struct {
	name string
	cfg  func(*Config)
	apps []state.App
} {
	v := vhostLabels
	hc := func(a state.App, h state.HealthCheck) state.App { a.HealthChecks = []state.HealthCheck{h}; return a }
	plain := []state.App{
		app("/acl", v("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_USE_HSTS", "true", "HAPROXY_0_STICKY", "true"), []int{10000}, "127.0.0.2:31000"),
		app("/path", v("HAPROXY_0_VHOST", "b.example.com", "HAPROXY_0_PATH", "/p"), []int{10001}, "127.0.0.2:31001"),
		app("/auth", v("HAPROXY_0_VHOST", "c.example.com", "HAPROXY_0_AUTH", "r:u:p"), []int{10002}, "127.0.0.2:31002"),
		app("/pathauth", v("HAPROXY_0_VHOST", "d.example.com", "HAPROXY_0_PATH", "/p", "HAPROXY_0_AUTH", "r:u:p"), []int{10003}, "127.0.0.2:31003"),
		app("/redirect", v("HAPROXY_0_VHOST", "e.example.com", "HAPROXY_0_REDIRECT_TO_HTTPS", "true"), []int{10004}, "127.0.0.2:31004"),
		app("/redirectpath", v("HAPROXY_0_VHOST", "f.example.com", "HAPROXY_0_REDIRECT_TO_HTTPS", "true", "HAPROXY_0_PATH", "/p"), []int{10005}, "127.0.0.2:31005"),
		app("/multi", v("HAPROXY_0_VHOST", "g.example.com,h.example.com"), []int{10006}, "127.0.0.2:31006"),
		app("/multipath", v("HAPROXY_0_VHOST", "i.example.com,j.example.com", "HAPROXY_0_PATH", "/p"), []int{10007}, "127.0.0.2:31007"),
		app("/multiauth", v("HAPROXY_0_VHOST", "k.example.com,l.example.com", "HAPROXY_0_AUTH", "r:u:p"), []int{10008}, "127.0.0.2:31008"),
		app("/multipathauth", v("HAPROXY_0_VHOST", "m.example.com,n.example.com", "HAPROXY_0_PATH", "/p", "HAPROXY_0_AUTH", "r:u:p"), []int{10009}, "127.0.0.2:31009"),
		app("/multiredirect", v("HAPROXY_0_VHOST", "o.example.com,p.example.com", "HAPROXY_0_REDIRECT_TO_HTTPS", "true"), []int{10010}, "127.0.0.2:31010"),
		app("/multiredirectpath", v("HAPROXY_0_VHOST", "q.example.com,r.example.com", "HAPROXY_0_REDIRECT_TO_HTTPS", "true", "HAPROXY_0_PATH", "/p"), []int{10011}, "127.0.0.2:31011"),
		app("/glue", v("HAPROXY_0_VHOST", "s.example.com", "HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH", "/in",
			"HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH", "/out", "HAPROXY_0_HTTP_BACKEND_REDIR", "/home",
			"HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "127.0.0.0/8"), []int{10012}, "127.0.0.2:31012"),
		app("/tcpacl", v("HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "127.0.0.0/8"), []int{10013}, "127.0.0.2:31013"),
		hc(app("/httpcheck", v("HAPROXY_0_MODE", "http"), []int{10014}, "127.0.0.2:31014"), healthHTTP),
		hc(app("/tcpcheck", v(), []int{10015}, "127.0.0.2:31015"), healthTCP),
	}
	// The map ACL is written once, by the first app with a vhost: one
	// scenario where that app has one vhost, one where it has two.
	mapped := []state.App{
		app("/one", v("HAPROXY_0_VHOST", "a.example.com"), []int{10000}, "127.0.0.2:31000"),
		app("/two", v("HAPROXY_0_VHOST", "b.example.com,c.example.com"), []int{10001}, "127.0.0.2:31001"),
	}
	mappedMulti := []state.App{
		app("/two", v("HAPROXY_0_VHOST", "b.example.com,c.example.com"), []int{10001}, "127.0.0.2:31001"),
	}
	grouped := []state.App{
		app("/one", v("HAPROXY_0_VHOST", "a.example.com"), []int{10000}, "127.0.0.2:31000"),
	}
	return []struct {
		name string
		cfg  func(*Config)
		apps []state.App
	}{
		{"plain", nil, plain},
		{"map", func(c *Config) { c.HAProxyMap = true }, mapped},
		{"map-multi", func(c *Config) { c.HAProxyMap = true }, mappedMulti},
		{"grouped", func(c *Config) { c.GroupHTTPSByVHost = true }, grouped},
	}
}

// markedTemplates returns, for every template, an override that renders as
// the default does plus a recognisable marker, and the marker.
func markedTemplates(t *testing.T) (texts, markers map[string]string) {
	defaults := mustTemplates(t, testConfig(), "", nil)
	texts, markers = map[string]string{}, map[string]string{}
	for _, tp := range defaults.All() {
		name := tp.Name
		switch name {
		case "HAPROXY_BACKEND_SERVER_OPTIONS":
			texts[name] = "  server {serverName} {host_ipv4}:{port}{cookieOptions}{healthCheckOptions}{otherOptions} weight 17\n"
			markers[name] = " weight 17\n"
		case "HAPROXY_BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS":
			texts[name] = "check inter 11s"
			markers[name] = "check inter 11s"
		case "HAPROXY_BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS":
			texts[name] = "check inter 13s"
			markers[name] = "check inter 13s"
		default:
			markers[name] = "# marker " + name + "\n"
			texts[name] = tp.Text + markers[name]
		}
	}
	return texts, markers
}

// renderScenarios renders every coverage scenario and returns the texts.
func renderScenarios(t *testing.T, dir string, env map[string]string, appLabels map[string]string, ignoreLabels bool) []string {
	var out []string
	for _, sc := range coverageScenarios() {
		cfg := testConfig()
		cfg.IgnoreTemplateLabels = ignoreLabels
		if sc.cfg != nil {
			sc.cfg(cfg)
		}
		apps := sc.apps
		if appLabels != nil {
			apps = slices.Clone(apps)
			for i := range apps {
				l := map[string]string{}
				for k, v := range apps[i].Labels {
					l[k] = v
				}
				for k, v := range appLabels {
					l[k] = v
				}
				apps[i].Labels = l
			}
		}
		m := mustBuild(t, apps, cfg, mustTemplates(t, cfg, dir, env), nil)
		if len(m.Errors) > 0 {
			t.Fatalf("scenario %s: apps left out: %v", sc.name, m.Errors)
		}
		text := mustRender(t, m)
		checkHAProxy(t, m, text)
		out = append(out, text)
	}
	return out
}

func assertMarkers(t *testing.T, rendered []string, markers map[string]string, names []string) {
	t.Helper()
	all := strings.Join(rendered, "\n")
	for _, name := range names {
		if slices.Contains(unusedTemplates, name) {
			if strings.Contains(all, markers[name]) {
				t.Errorf("%s is rendered, but marathon-lb never uses it", name)
			}
			continue
		}
		if !strings.Contains(all, markers[name]) {
			t.Errorf("the override of %s is not rendered (marker %q)", name, markers[name])
		}
	}
}

// TestTemplateOverrideByFile overrides every template with a file and checks
// each override is rendered somewhere (and that HAProxy accepts the result).
func TestTemplateOverrideByFile(t *testing.T) {
	texts, markers := markedTemplates(t)
	dir := t.TempDir()
	for name, text := range texts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	assertMarkers(t, renderScenarios(t, dir, nil, nil, false), markers, TemplateNames())
}

// TestTemplateOverrideByEnv does the same with environment variables, whose
// line breaks are written as the two characters \n (marathon-lb's escape).
func TestTemplateOverrideByEnv(t *testing.T) {
	texts, markers := markedTemplates(t)
	env := map[string]string{}
	for name, text := range texts {
		env[name] = strings.ReplaceAll(text, "\n", `\n`)
	}
	assertMarkers(t, renderScenarios(t, "", env, nil, false), markers, TemplateNames())
}

// TestTemplateOverrideByLabel overrides every per-app template with a
// HAPROXY_0_<NAME> label; with IgnoreTemplateLabels none of them shows.
func TestTemplateOverrideByLabel(t *testing.T) {
	texts, markers := markedTemplates(t)
	appLabels := map[string]string{}
	var perApp []string
	for _, d := range templateDefs {
		if d.perApp {
			appLabels["HAPROXY_0_"+d.name] = texts["HAPROXY_"+d.name]
			perApp = append(perApp, "HAPROXY_"+d.name)
		}
	}
	assertMarkers(t, renderScenarios(t, "", nil, appLabels, false), markers, perApp)

	t.Run("ignored", func(t *testing.T) {
		for _, text := range renderScenarios(t, "", nil, appLabels, true) {
			for _, name := range perApp {
				if strings.Contains(text, markers[name]) {
					t.Errorf("label override of %s rendered although template labels are ignored", name)
				}
			}
		}
	})
}

// TestTemplatePrecedence: environment over file over default.
func TestTemplatePrecedence(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "HAPROXY_BACKEND_HEAD"), []byte("from file {backend}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "HAPROXY_FRONTEND_HEAD"), []byte("from file"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HAPROXY_FRONTEND_HEAD": `from\nenv`, "HAPROXY_HEAD": ""}
	ts := mustTemplates(t, testConfig(), dir, env)
	tests := []struct{ name, text, source string }{
		{"HAPROXY_BACKEND_HEAD", "from file {backend}", "file " + filepath.Join(dir, "HAPROXY_BACKEND_HEAD")},
		{"HAPROXY_FRONTEND_HEAD", "from\nenv", "env"},
		{"HAPROXY_HEAD", "", "default"}, // empty environment variables do not count
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ts.Get(tt.name)
			if got.Source != tt.source {
				t.Errorf("source %q, want %q", got.Source, tt.source)
			}
			if tt.text != "" && got.Text != tt.text {
				t.Errorf("text %q, want %q", got.Text, tt.text)
			}
		})
	}
	if ts.Get("HAPROXY_NOPE") != nil || ts.Get("BACKEND_HEAD") == nil {
		t.Error("Get accepts full names and names without HAPROXY_, nothing else")
	}
}

func TestLoadTemplatesErrors(t *testing.T) {
	dir := t.TempDir()
	// A formatted template with an unbalanced brace is refused at load time…
	if err := os.WriteFile(filepath.Join(dir, "HAPROXY_BACKEND_HEAD"), []byte("backend {backend"), 0o600); err != nil {
		t.Fatal(err)
	}
	// …but a literal one may hold braces (as marathon-lb's HAPROXY_HEAD does).
	if err := os.WriteFile(filepath.Join(dir, "HAPROXY_HEAD"), []byte("global\n  # { x }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTemplates(testConfig(), dir, nil)
	if err == nil || !strings.Contains(err.Error(), "HAPROXY_BACKEND_HEAD") || strings.Contains(err.Error(), "HAPROXY_HEAD ") {
		t.Errorf("LoadTemplates error = %v, want one about HAPROXY_BACKEND_HEAD only", err)
	}
	// A directory where a template file should be is an error too.
	dir2 := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir2, "HAPROXY_BACKEND_HEAD"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTemplates(testConfig(), dir2, nil); err == nil {
		t.Error("a directory in place of a template file is accepted")
	}
}

func TestUserTemplateFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"HAPROXY_HEAD", "HAPROXY_BACKEND_HAED", "README"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unknown, err := UserTemplateFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(unknown, []string{"HAPROXY_BACKEND_HAED"}) {
		t.Errorf("unknown = %v", unknown)
	}
}

// TestBadLabelTemplateHurtsOnlyItsApp: a per-app template that does not
// render, or renders a broken server line, leaves that app out only.
func TestBadLabelTemplateHurtsOnlyItsApp(t *testing.T) {
	cases := map[string]string{
		"HAPROXY_0_BACKEND_HEAD":                            "backend {backend",
		"HAPROXY_0_FRONTEND_HEAD":                           "frontend {0}",
		"HAPROXY_0_BACKEND_SERVER_OPTIONS":                  "  server {serverName}\n",
		"HAPROXY_0_BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS": "check {healthCheck[nokey]}",
		"HAPROXY_0_FRONTEND_BACKEND_GLUE":                   "  use_backend {backend.attr}\n",
	}
	for label, text := range cases {
		t.Run(label, func(t *testing.T) {
			cfg := testConfig()
			bad := withHealth(app("/bad", vhostLabels(label, text, "HAPROXY_0_MODE", "http"), []int{10000}, "127.0.0.2:31000"), healthHTTP)
			good := app("/good", vhostLabels(), []int{10001}, "127.0.0.3:31000")
			m := mustBuild(t, []state.App{bad, good}, cfg, mustTemplates(t, cfg, "", nil), nil)
			if len(m.Errors) != 1 || m.Errors[0].AppID != "/bad" || m.Errors[0].Port != 0 {
				t.Fatalf("errors = %v, want one for /bad port 0", m.Errors)
			}
			if len(m.Backends) != 1 || m.Backends[0].Name != "good_10001" {
				t.Errorf("backends = %v, want good_10001 only", m.Backends)
			}
			text := mustRender(t, m)
			if strings.Contains(text, "bad_10000") {
				t.Error("the bad app is rendered")
			}
			checkHAProxy(t, m, text)
		})
	}
}

func TestTemplateWarnings(t *testing.T) {
	cfg := testConfig()
	if w := mustTemplates(t, cfg, "", nil).Warnings(cfg); len(w) != 0 {
		t.Errorf("our defaults warn: %v", w)
	}
	dir := t.TempDir()
	head := "global\n  daemon\n  stats socket /var/run/haproxy/socket expose-fd listeners\n"
	if err := os.WriteFile(filepath.Join(dir, "HAPROXY_HEAD"), []byte(head), 0o600); err != nil {
		t.Fatal(err)
	}
	w := mustTemplates(t, cfg, dir, nil).Warnings(cfg)
	if len(w) != 2 || !strings.Contains(w[0], "daemon") || !strings.Contains(w[1], "stats socket "+cfg.StatsSocket) {
		t.Errorf("warnings %q", w)
	}
}

// TestMapTemplateLabelFallback: in --haproxy-map mode, marathon-lb lets the
// plain HAPROXY_{n}_HTTP_FRONTEND_ACL label stand for the map template; the
// map label itself wins over it.
func TestMapTemplateLabelFallback(t *testing.T) {
	cfg := testConfig()
	cfg.HAProxyMap = true
	ts := mustTemplates(t, cfg, "", nil)
	plain := "  use_backend %[req.hdr(host),lower,map({haproxy_dir}/domain2backend.map)] # plain label\n"
	mapped := "  use_backend %[req.hdr(host),lower,map({haproxy_dir}/domain2backend.map)] # map label\n"
	for _, tt := range []struct {
		labels map[string]string
		want   string
	}{
		{vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_HTTP_FRONTEND_ACL", plain), "# plain label"},
		{vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_HTTP_FRONTEND_ACL", plain, "HAPROXY_0_MAP_HTTP_FRONTEND_ACL", mapped), "# map label"},
	} {
		m := mustBuild(t, []state.App{app("/a", tt.labels, []int{10000}, "127.0.0.2:31000")}, cfg, ts, nil)
		if text := mustRender(t, m); !strings.Contains(text, tt.want) || !strings.Contains(text, goldenDir+"/domain2backend.map") {
			t.Errorf("want %q in:\n%s", tt.want, text)
		}
	}
	if _, err := BuildModel(nil, cfg, nil, nil); err == nil {
		t.Error("BuildModel without templates")
	}
}
