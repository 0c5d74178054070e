package lbmodel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/discovery-mesos/discovery/templates"
)

// templateDef describes one marathon-lb template.
type templateDef struct {
	// name without the HAPROXY_ prefix, as the HAPROXY_{n}_<name> label spells it.
	name string
	// perApp: a HAPROXY_{n}_<name> label overrides it for one app port.
	perApp bool
	// literal: marathon-lb inserts it without formatting, so a user's version
	// may hold single braces ("{ ssl_fc }"). Our defaults of these are
	// formatted once, at load time, with the settings placeholders.
	literal bool
}

// templateDefs lists every marathon-lb template, by the name its file, its
// environment variable and (when perApp) its label carry.
var templateDefs = []templateDef{
	{name: "HEAD", literal: true},
	{name: "HTTP_FRONTEND_HEAD", literal: true},
	{name: "HTTP_FRONTEND_APPID_HEAD", literal: true},
	{name: "HTTPS_FRONTEND_HEAD"},
	{name: "HTTPS_GROUPED_FRONTEND_HEAD", literal: true},
	{name: "HTTPS_GROUPED_VHOST_FRONTEND_ACL"},
	{name: "HTTPS_GROUPED_VHOST_FRONTEND_HEAD"},
	{name: "HTTPS_GROUPED_VHOST_BACKEND_HEAD"},
	{name: "HTTP_BACKEND_ACL_ALLOW_DENY", literal: true},
	{name: "TCP_BACKEND_ACL_ALLOW_DENY", literal: true},

	{name: "USERLIST_HEAD", perApp: true},
	{name: "FRONTEND_HEAD", perApp: true},
	{name: "FRONTEND_BACKEND_GLUE", perApp: true},
	{name: "BACKEND_HEAD", perApp: true},
	{name: "BACKEND_REDIRECT_HTTP_TO_HTTPS", perApp: true},
	{name: "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH", perApp: true},
	{name: "BACKEND_HSTS_OPTIONS", perApp: true, literal: true},
	{name: "BACKEND_HTTP_OPTIONS", perApp: true, literal: true},
	{name: "BACKEND_STICKY_OPTIONS", perApp: true, literal: true},
	{name: "BACKEND_HTTP_HEALTHCHECK_OPTIONS", perApp: true},
	{name: "BACKEND_TCP_HEALTHCHECK_OPTIONS", perApp: true},
	{name: "BACKEND_SERVER_OPTIONS", perApp: true},
	{name: "BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS", perApp: true},
	{name: "BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS", perApp: true},
	{name: "HTTP_BACKEND_PROXYPASS_GLUE", perApp: true},
	{name: "HTTP_BACKEND_REVPROXY_GLUE", perApp: true},
	// HAPROXY_{n}_HTTP_BACKEND_REDIR is the redirect path label, so this
	// template has no per-app override (as in marathon-lb).
	{name: "HTTP_BACKEND_REDIR"},
	{name: "HTTP_BACKEND_NETWORK_ALLOWED_ACL", perApp: true},
	{name: "TCP_BACKEND_NETWORK_ALLOWED_ACL", perApp: true},
	{name: "HTTP_FRONTEND_ACL", perApp: true},
	{name: "HTTP_FRONTEND_ACL_ONLY", perApp: true},
	{name: "HTTP_FRONTEND_ROUTING_ONLY", perApp: true},
	{name: "HTTP_FRONTEND_ACL_WITH_AUTH", perApp: true},
	{name: "HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH", perApp: true},
	{name: "HTTP_FRONTEND_ACL_WITH_PATH", perApp: true},
	{name: "HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH", perApp: true},
	{name: "HTTP_FRONTEND_ACL_ONLY_WITH_PATH", perApp: true},
	{name: "HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH", perApp: true},
	{name: "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH", perApp: true},
	{name: "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH", perApp: true},
	{name: "HTTP_FRONTEND_APPID_ACL", perApp: true},
	{name: "HTTPS_FRONTEND_ACL", perApp: true},
	{name: "HTTPS_FRONTEND_ACL_WITH_PATH", perApp: true},
	{name: "HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", perApp: true},
	{name: "HTTPS_FRONTEND_ACL_WITH_AUTH", perApp: true},
	{name: "HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH", perApp: true},
	{name: "HTTPS_FRONTEND_AUTH_ACL_ONLY", perApp: true},
	{name: "HTTPS_FRONTEND_AUTH_REQUEST_ONLY", perApp: true},
	{name: "HTTPS_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH", perApp: true},
	{name: "MAP_HTTP_FRONTEND_ACL", perApp: true},
	{name: "MAP_HTTP_FRONTEND_ACL_ONLY", perApp: true},
	{name: "MAP_HTTP_FRONTEND_APPID_ACL", perApp: true},
	{name: "MAP_HTTPS_FRONTEND_ACL", perApp: true},
}

var templateIndex = func() map[string]int {
	m := make(map[string]int, len(templateDefs))
	for i, d := range templateDefs {
		m[d.name] = i
	}
	return m
}()

// TemplateNames returns the full name of every template (HAPROXY_HEAD, …),
// in a fixed order.
func TemplateNames() []string {
	names := make([]string, len(templateDefs))
	for i, d := range templateDefs {
		names[i] = "HAPROXY_" + d.name
	}
	return names
}

// Templates is the set of templates a model is built with: our defaults,
// overridden by files in a templates directory and by environment variables.
// Per-app label overrides are applied at build time (see Config.IgnoreTemplateLabels).
// A Templates is read-only once loaded and may be shared.
type Templates struct {
	byIndex []*Template
	// legacy are the notes of translateLegacy on the user's templates.
	legacy []string
}

// Get returns the template with the given full name ("HAPROXY_BACKEND_HEAD"),
// or nil.
func (ts *Templates) Get(name string) *Template {
	i, ok := templateIndex[strings.TrimPrefix(name, "HAPROXY_")]
	if !ok {
		return nil
	}
	return ts.byIndex[i]
}

// All returns every template, in TemplateNames order.
func (ts *Templates) All() []*Template {
	return append([]*Template(nil), ts.byIndex...)
}

// LoadTemplates loads every template the way marathon-lb does: from the
// environment variable of its name when set and non-empty (with "\n" written
// as the two characters backslash-n), else from the file of its name in dir
// when it exists, else our default. getenv may be nil (no environment); dir
// may be empty (no directory). cfg supplies the settings placeholders of our
// default texts.
func LoadTemplates(cfg *Config, dir string, getenv func(string) string) (*Templates, error) {
	ts := &Templates{byIndex: make([]*Template, len(templateDefs))}
	settings := cfg.settingsVars()
	var errs []error
	for i, d := range templateDefs {
		full := "HAPROXY_" + d.name
		text, source, fromUser, err := findTemplate(full, dir, getenv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if fromUser {
			var notes []string
			text, notes = translateLegacy(full, source, text, cfg.StatsSocket)
			ts.legacy = append(ts.legacy, notes...)
		}
		if !fromUser && d.literal {
			// Our default of a template marathon-lb inserts verbatim: expand
			// the settings now, so the verbatim text binds where cfg says.
			t, err := newTemplate(full, text, source, false)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			b, err := t.execute(nil, fmtScope{settings: settings})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			text = string(b)
		}
		t, err := newTemplate(full, text, source, d.literal)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ts.byIndex[i] = t
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("loading templates: %w", errors.Join(errs...))
	}
	return ts, nil
}

func findTemplate(full, dir string, getenv func(string) string) (text, source string, fromUser bool, err error) {
	if getenv != nil {
		if v := getenv(full); v != "" {
			return strings.ReplaceAll(v, `\n`, "\n"), "env", true, nil
		}
	}
	if dir != "" {
		p := filepath.Join(dir, full)
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			return string(b), "file " + p, true, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", "", false, fmt.Errorf("reading template %s: %w", full, err)
		}
	}
	text, ok := templates.Default(full)
	if !ok {
		return "", "", false, fmt.Errorf("no default for template %s", full)
	}
	return text, "default", false, nil
}

// UserTemplateFiles lists the names in dir that look like template files
// (HAPROXY_*) but match no template: most likely typos, worth a warning.
func UserTemplateFiles(dir string) (unknown []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading templates directory: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, "HAPROXY_") || e.IsDir() {
			continue
		}
		if _, ok := templateIndex[strings.TrimPrefix(n, "HAPROXY_")]; !ok {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	return unknown, nil
}

// Warnings lists what in the loaded templates defeats hitless operation
// without stopping a config from being built, for the operator's log: a
// HAPROXY_HEAD (often a marathon-lb one) that daemonizes, or that opens no
// admin stats socket at cfg.StatsSocket, so that server changes cannot go
// through the Runtime API and every change becomes a reload.
func (ts *Templates) Warnings(cfg *Config) []string {
	warnings := slices.Clone(ts.legacy)
	head := ts.Get("HAPROXY_HEAD")
	socketOK := false
	for line := range strings.Lines(head.Text) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "daemon":
			warnings = append(warnings, fmt.Sprintf("HAPROXY_HEAD (%s) says \"daemon\": under a supervisor HAProxy must stay in the foreground", head.Source))
		case len(f) >= 3 && f[0] == "stats" && f[1] == "socket" && f[2] == cfg.StatsSocket:
			socketOK = slices.Contains(f, "admin")
		}
	}
	if !socketOK {
		warnings = append(warnings, fmt.Sprintf("HAPROXY_HEAD (%s) has no \"stats socket %s … level admin\": server changes will need reloads", head.Source, cfg.StatsSocket))
	}
	return warnings
}
