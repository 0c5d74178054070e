package lbmodel

import (
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

func formatVars() fmtScope {
	hc := state.HealthCheck{Protocol: "HTTP", Path: "/h", IntervalSeconds: 5}
	return fmtScope{
		own: append(fmtVars{
			{"a", strVal("x")},
			{"q", strVal("it's")},
			{"qq", strVal(`say "hi" it's`)},
			{"word", strVal("hello")},
			{"n", intVal(42)},
			{"neg", intVal(-42)},
			{"none", noneVal},
			{"yes", boolVal(true)},
		}, healthVars(&hc, 0)...),
		settings: fmtVars{{"a", strVal("shadowed")}, {"statsPort", intVal(9090)}},
	}
}

// TestFormat checks the str.format subset against what Python prints.
func TestFormat(t *testing.T) {
	tests := []struct {
		tmpl, want, wantErr string
	}{
		{tmpl: "", want: ""},
		{tmpl: "plain text", want: "plain text"},
		{tmpl: "{a}", want: "x"},
		{tmpl: "{a}-{n}-{none}-{yes}", want: "x-42-None-True"},
		{tmpl: "{statsPort}", want: "9090"},
		{tmpl: "{{a}}", want: "{a}"},
		{tmpl: "{{ ssl_fc }}", want: "{ ssl_fc }"},
		{tmpl: "}}{{", want: "}{"},
		{tmpl: "{{{a}}}", want: "{x}"},
		{tmpl: "{a!s}", want: "x"},
		{tmpl: "{a!r}", want: "'x'"},
		{tmpl: "{q!r}", want: `"it's"`},
		{tmpl: "{qq!r}", want: `'say "hi" it\'s'`},
		{tmpl: "{n!r}", want: "42"},
		{tmpl: "{a:>5}|", want: "    x|"},
		{tmpl: "{a:<3}|", want: "x  |"},
		{tmpl: "{a:*^5}", want: "**x**"},
		{tmpl: "{a:3}|", want: "x  |"},
		{tmpl: "{word:.2}", want: "he"},
		{tmpl: "{word:>7.3s}", want: "    hel"},
		{tmpl: "{n:5}", want: "   42"},
		{tmpl: "{n:<5}|", want: "42   |"},
		{tmpl: "{n:05d}", want: "00042"},
		{tmpl: "{neg:05d}", want: "-0042"},
		{tmpl: "{n:+d}", want: "+42"},
		{tmpl: "{n:d}", want: "42"},
		{tmpl: "{a!r:>5}", want: "  'x'"},
		{tmpl: "{healthCheck[path]}", want: "/h"},
		{tmpl: "{healthCheck[intervalSeconds]}", want: "5"},
		{tmpl: "{healthCheckPort}{healthCheckPortOptions}|", want: "None|"},
		{tmpl: "{healthCheckPortIndex} {healthCheckFalls}", want: "0 1"},
		{tmpl: "{healthCheck[port]}", wantErr: `no key "port"`},
		{tmpl: "{healthCheck[nope]}", wantErr: `no key "nope"`},
		{tmpl: "{healthCheck.path}", wantErr: "no attribute"},
		{tmpl: "{a[0]}", wantErr: "not subscriptable"},
		{tmpl: "{missing}", wantErr: "unknown placeholder {missing}"},
		{tmpl: "{}", wantErr: "positional field"},
		{tmpl: "{0}", wantErr: "positional field"},
		{tmpl: "a}", wantErr: "single '}'"},
		{tmpl: "{a", wantErr: "single '{'"},
		{tmpl: "{a!x}", wantErr: "unknown conversion"},
		{tmpl: "{a!}", wantErr: "conversion specifier"},
		{tmpl: "{a!rr}", wantErr: "expected ':'"},
		{tmpl: "{a:d}", wantErr: "format code 'd'"},
		{tmpl: "{n:s}", wantErr: "format code 's'"},
		{tmpl: "{a:{n}}", wantErr: "nested"},
		{tmpl: "{a:,}", wantErr: "thousands"},
		{tmpl: "{a:.}", wantErr: "missing precision"},
		{tmpl: "{a:x}", wantErr: "unsupported format type"},
		{tmpl: "{a:99999}", wantErr: "too large"},
		{tmpl: "{healthCheck[path}", wantErr: "missing ']'"},
		{tmpl: "{a[]}", wantErr: "empty element index"},
		{tmpl: "{a.}", wantErr: "empty attribute"},
		{tmpl: "{a[x]y}", wantErr: "only '.' or '['"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tp, err := newTemplate("T", tt.tmpl, "test", false)
			var out []byte
			if err == nil {
				out, err = tp.execute(nil, formatVars())
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q (output %q)", err, tt.wantErr, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if string(out) != tt.want {
				t.Errorf("got %q, want %q", out, tt.want)
			}
		})
	}
}

func TestLiteralTemplate(t *testing.T) {
	tp, err := newTemplate("T", "if { ssl_fc } {a}", "test", true)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tp.execute(nil, formatVars())
	if err != nil || string(out) != "if { ssl_fc } {a}" {
		t.Errorf("literal template renders %q, %v", out, err)
	}
	if tp.uses("a") {
		t.Error("a literal template has no placeholders")
	}
}

func TestServerHealthCheckTemplatesAreTrimmed(t *testing.T) {
	for text, want := range map[string]string{"  check inter 1s\n": " check inter 1s", "\n\n": "", "": ""} {
		tp, err := newTemplate("HAPROXY_BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS", text, "test", false)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := tp.execute(nil, formatVars())
		if string(out) != want {
			t.Errorf("%q renders %q, want %q", text, out, want)
		}
	}
}

// escapeFormat makes s a format string that renders as s.
func escapeFormat(s string) string {
	return strings.NewReplacer("{", "{{", "}", "}}").Replace(s)
}

// FuzzTemplateRender: any template text compiles or fails cleanly, renders or
// fails cleanly, and escaped text renders back to itself.
func FuzzTemplateRender(f *testing.F) {
	for _, s := range []string{"{a}", "{{a}}", "{a!r:>5}", "{healthCheck[path]}", "{n:05d}", "}", "{", "{a:{b}}", "{0}", "{a.b[c]}", "é{a:é^9}"} {
		f.Add(s, "value")
	}
	cfg := testConfig()
	ts := mustTemplates(f, cfg, "", nil)
	f.Fuzz(func(t *testing.T, text, value string) {
		vars := formatVars()
		vars.own = append(vars.own, fmtVar{"v", strVal(value)})
		if tp, err := newTemplate("T", text, "fuzz", false); err == nil {
			_, _ = tp.execute(nil, vars)
		}
		tp, err := newTemplate("T", escapeFormat(text), "fuzz", false)
		if err != nil {
			t.Fatalf("escaped %q does not compile: %v", text, err)
		}
		out, err := tp.execute(nil, vars)
		if err != nil || string(out) != text {
			t.Fatalf("escaped %q renders %q, %v", text, out, err)
		}
		// A label template of any text leaves at most its own app out.
		apps := []state.App{
			app("/fuzz", vhostLabels("HAPROXY_0_BACKEND_HEAD", text, "HAPROXY_0_VHOST", value), []int{10000}, "127.0.0.2:31000"),
			app("/good", vhostLabels(), []int{10001}, "127.0.0.3:31000"),
		}
		m := mustBuild(t, apps, cfg, ts, nil)
		if m.Backend("good_10001") == nil {
			t.Fatalf("the good app is left out: %v", m.Errors)
		}
		for _, e := range m.Errors {
			if e.AppID != "/fuzz" {
				t.Fatalf("error for another app: %v", e)
			}
		}
	})
}
