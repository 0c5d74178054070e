package lbmodel

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/peers"
)

func TestTranslateLegacyDirectives(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, note string
	}{
		{"HAPROXY_BACKEND_HTTP_OPTIONS", `  reqadd X-Forwarded-Proto:\ https if { ssl_fc }`,
			`  http-request add-header X-Forwarded-Proto https if { ssl_fc }`, "reqadd translated"},
		{"HAPROXY_BACKEND_HSTS_OPTIONS", `  rspadd  Strict-Transport-Security:\ max-age=15768000`,
			`  http-response add-header Strict-Transport-Security max-age=15768000`, "rspadd translated"},
		{"HAPROXY_HTTP_BACKEND_PROXYPASS_GLUE", `  reqirep  "^([^ :]*)\ {proxypath}/?(.*)" "\1\ /\2"`,
			`  http-request replace-uri (?i)^{proxypath}/?(.*) /\1`, "reqirep translated"},
		{"HAPROXY_HTTP_BACKEND_REVPROXY_GLUE", "  rspirep \"^Location: (https?://{hostname}(:[0-9]+)?)?(/.*)\" \"Location: \\\n  {rootpath}\" if hdr_location",
			`  http-response replace-header Location (?i)^(https?://{hostname}(:[0-9]+)?)?(/.*) {rootpath} if hdr_location`, "rspirep translated"},
		{"HAPROXY_BACKEND_HEAD", `  reqdel ^X-Secret:.*`, `  http-request del-header X-Secret`, "reqdel translated"},
		{"HAPROXY_BACKEND_HEAD", `  rspidel ^Server:`, `  http-response del-header Server`, "rspidel translated"},
		{"HAPROXY_BACKEND_HEAD", `  reqrep ^Host:\ (.*) Host:\ new.example.com`, `  http-request replace-header Host ^(.*) new.example.com`, "reqrep translated"},
		{"HAPROXY_BACKEND_HEAD", `  reqideny ^User-Agent:\ .*bot`, ``, "HAProxy 2.x removed reqideny"},
		{"HAPROXY_BACKEND_HEAD", `  reqirep ^GET\ /old(.*) GET\ /new\1`, ``, "dropped: no automatic 2.x equivalent"},
		{"HAPROXY_HEAD", `  lua-load /marathon-lb/getpids.lua`, ``, "discovery serves /_haproxy_getpids itself"},
		{"HAPROXY_HEAD", `  lua-load /etc/haproxy/mine.lua`, `  lua-load /etc/haproxy/mine.lua`, ""},
		{"HAPROXY_HEAD", `  http-request use-service lua.getpids if getpid`, ``, "serves marathon-lb's endpoints itself"},
		{"HAPROXY_HEAD", `  daemon`, ``, `"daemon" dropped`},
		{"HAPROXY_HEAD", `  stats socket /run/s.sock expose-fd listeners`, `  stats socket /run/s.sock expose-fd listeners mode 600 level admin`, `gets "level admin"`},
		{"HAPROXY_HEAD", `  stats socket /run/s.sock level operator`, `  stats socket /run/s.sock level admin mode 600`, `gets "level admin"`},
		{"HAPROXY_BACKEND_HEAD", `  # reqadd X-A:\ b is a comment`, `  # reqadd X-A:\ b is a comment`, ""},
	} {
		got, notes := translateLegacy(tc.name, "file x", tc.in, "/run/s.sock")
		want := strings.TrimSuffix(tc.want, "\n")
		if got != want {
			t.Errorf("%s %q:\n got %q\nwant %q", tc.name, tc.in, got, want)
		}
		switch {
		case tc.note == "" && len(notes) > 0:
			t.Errorf("%q: unexpected notes %q", tc.in, notes)
		case tc.note != "" && (len(notes) != 1 || !strings.Contains(notes[0], tc.note) || !strings.Contains(notes[0], tc.name+" (file x) line 1")):
			t.Errorf("%q: notes %q, want one naming the template, the line and %q", tc.in, notes, tc.note)
		}
	}
}

// marathonLBTemplates reads every default template from marathon-lb's
// Longhelp.md (the reference its --longhelp prints), as a user who dumped
// them into a templates directory has them.
func marathonLBTemplates(t *testing.T) map[string]string {
	t.Helper()
	dir := os.Getenv("MARATHON_LB_DIR")
	if dir == "" {
		dir = peers.Path("marathon-lb")
	}
	b, err := os.ReadFile(filepath.Join(dir, "Longhelp.md"))
	if err != nil {
		t.Skipf("marathon-lb's Longhelp.md is not here (%v): set MARATHON_LB_DIR", err)
	}
	re := regexp.MustCompile("(?s)\\*\\*Default template for `(HAPROXY_[A-Z0-9_]+)`:\\*\\*\n```\n(.*?)```")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		if _, ok := templateIndex[strings.TrimPrefix(m[1], "HAPROXY_")]; ok {
			out[m[1]] = m[2]
		}
	}
	if len(out) < 30 {
		t.Fatalf("read only %d templates from Longhelp.md", len(out))
	}
	return out
}

// TestMarathonLBTemplateFilesWork: every template of marathon-lb, put
// unchanged in the templates directory, yields configs HAProxy 2.x accepts
// for every label case of the golden set, with a note for each line that was
// translated or dropped.
func TestMarathonLBTemplateFilesWork(t *testing.T) {
	files := marathonLBTemplates(t)
	for _, gc := range goldenCases() {
		if gc.files != nil || gc.env != nil {
			continue // cases about templates of their own
		}
		t.Run(gc.name, func(t *testing.T) {
			gc.files = files
			m := buildGolden(t, gc)
			// marathon-lb's HAPROXY_HEAD loads a server-state file that is
			// there only after a first reload saved it.
			checkHAProxyAllowing(t, m, mustRender(t, m), "Can't open global server state file")
		})
	}
	cfg := testConfig()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ts := mustTemplates(t, cfg, dir, nil)
	notes := strings.Join(ts.Warnings(cfg), "\n")
	for _, want := range []string{"HAPROXY_HEAD", "lua-load /marathon-lb/getpids.lua", "HAPROXY_HTTP_BACKEND_PROXYPASS_GLUE", "reqirep translated",
		"HAPROXY_HTTP_BACKEND_REVPROXY_GLUE", "rspirep translated", "HAPROXY_BACKEND_HSTS_OPTIONS", "rspadd translated"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}
