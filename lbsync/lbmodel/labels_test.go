package lbmodel

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePortLabels(t *testing.T) {
	defaults := PortLabels{Balance: "roundrobin", BindAddr: "*", HealthCheckPortIndex: -1, Enabled: true}
	with := func(f func(*PortLabels)) PortLabels {
		p := defaults
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		labels  map[string]string
		n       int
		strict  bool
		want    PortLabels
		wantErr string
	}{
		{name: "none", labels: nil, want: defaults},
		{name: "other port ignored", labels: labels("HAPROXY_1_VHOST", "x"), want: defaults},
		{name: "vhost lowercased", labels: labels("HAPROXY_0_VHOST", "A.Example.COM,b"), want: with(func(p *PortLabels) { p.VHost = "a.example.com,b" })},
		{name: "path weighs 1", labels: labels("HAPROXY_0_PATH", "-i /a /b"), want: with(func(p *PortLabels) { p.Path = "-i /a /b"; p.BackendWeight = 1 })},
		{name: "path keeps explicit weight", labels: labels("HAPROXY_0_PATH", "/a", "HAPROXY_0_BACKEND_WEIGHT", "7"), want: with(func(p *PortLabels) { p.Path = "/a"; p.BackendWeight = 7 })},
		{name: "negative weight", labels: labels("HAPROXY_0_BACKEND_WEIGHT", " -3 "), want: with(func(p *PortLabels) { p.BackendWeight = -3 })},
		{name: "auth", labels: labels("HAPROXY_0_AUTH", "realm:user:$6$x"), want: with(func(p *PortLabels) { p.Auth = &BasicAuth{"realm", "user", "$6$x"} })},
		{name: "auth fields", labels: labels("HAPROXY_0_AUTH", "realm:user"), wantErr: "HAPROXY_0_AUTH: want realm:user:password"},
		{name: "auth quote", labels: labels("HAPROXY_0_AUTH", `re"alm:u:p`), wantErr: "the realm holds"},
		{name: "balance", labels: labels("HAPROXY_0_BALANCE", "leastconn"), want: with(func(p *PortLabels) { p.Balance = "leastconn" })},
		{name: "bind", labels: labels("HAPROXY_0_BIND_ADDR", "10.0.0.42", "HAPROXY_0_BIND_OPTIONS", "ciphers X"), want: with(func(p *PortLabels) { p.BindAddr = "10.0.0.42"; p.BindOptions = "ciphers X" })},
		{name: "mode lowercased", labels: labels("HAPROXY_0_MODE", "HTTP"), want: with(func(p *PortLabels) { p.Mode = "http" })},
		{name: "port", labels: labels("HAPROXY_2_PORT", "80"), n: 2, want: with(func(p *PortLabels) { p.Port = 80 })},
		{name: "port blanks", labels: labels("HAPROXY_0_PORT", " 8080\t"), want: with(func(p *PortLabels) { p.Port = 8080 })},
		{name: "port not a number", labels: labels("HAPROXY_0_PORT", "http"), wantErr: `HAPROXY_0_PORT: "http" is not an integer`},
		{name: "port range", labels: labels("HAPROXY_0_PORT", "65536"), wantErr: "65536 is not a port"},
		{name: "port zero", labels: labels("HAPROXY_0_PORT", "0"), wantErr: "0 is not a port"},
		{name: "port huge", labels: labels("HAPROXY_0_PORT", "99999999999999999999"), wantErr: "is not an integer"},
		{name: "bools", labels: labels("HAPROXY_0_REDIRECT_TO_HTTPS", "True", "HAPROXY_0_STICKY", "y", "HAPROXY_0_USE_HSTS", "YES"),
			want: with(func(p *PortLabels) { p.RedirectToHTTPS, p.Sticky, p.UseHSTS = true, true, true })},
		{name: "bool false", labels: labels("HAPROXY_0_STICKY", "1"), want: defaults},
		{name: "ssl cert", labels: labels("HAPROXY_0_SSL_CERT", "/etc/ssl/x.pem"), want: with(func(p *PortLabels) { p.SSLCert = "/etc/ssl/x.pem" })},
		{name: "proxy paths", labels: labels("HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH", "/a", "HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH", "/b", "HAPROXY_0_HTTP_BACKEND_REDIR", "/c"),
			want: with(func(p *PortLabels) { p.ProxyPassPath, p.RevProxyPath, p.RedirPath = "/a", "/b", "/c" })},
		{name: "network allowed", labels: labels("HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8 1.2.3.4"), want: with(func(p *PortLabels) { p.NetworkAllowed = "10.0.0.0/8 1.2.3.4" })},
		{name: "healthcheck port index", labels: labels("HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX", "1"), want: with(func(p *PortLabels) { p.HealthCheckPortIndex = 1 })},
		{name: "healthcheck port index bad", labels: labels("HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX", "one"), wantErr: "HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX"},
		{name: "strict default", strict: true, want: with(func(p *PortLabels) { p.Enabled = false })},
		{name: "strict enabled", strict: true, labels: labels("HAPROXY_0_ENABLED", "true"), want: defaults},
		{name: "disabled", labels: labels("HAPROXY_0_ENABLED", "false"), want: with(func(p *PortLabels) { p.Enabled = false })},
		{name: "group", labels: labels("HAPROXY_0_GROUP", "a,b"), want: with(func(p *PortLabels) { p.Groups = []string{"a", "b"} })},
		{name: "template", labels: labels("HAPROXY_0_BACKEND_HEAD", "backend {backend}\n", "HAPROXY_0_NOT_A_TEMPLATE", "x"),
			want: with(func(p *PortLabels) { p.Templates = map[string]string{"BACKEND_HEAD": "backend {backend}\n"} })},
		{name: "global templates are not per app", labels: labels("HAPROXY_0_HEAD", "x"), want: defaults},
		{name: "vhost blank", labels: labels("HAPROXY_0_VHOST", "a.com if TRUE"), wantErr: "HAPROXY_0_VHOST: \"a.com if TRUE\" is not a host name list"},
		{name: "vhost brace", labels: labels("HAPROXY_0_VHOST", "a.com}"), wantErr: "is not a host name list"},
		{name: "vhost wildcard and port", labels: labels("HAPROXY_0_VHOST", "*.Example.com,b:8080"), want: with(func(p *PortLabels) { p.VHost = "*.example.com,b:8080" })},
		{name: "newline", labels: labels("HAPROXY_0_VHOST", "a\nb"), wantErr: "HAPROXY_0_VHOST: value holds a line break"},
		{name: "carriage return", labels: labels("HAPROXY_0_BIND_OPTIONS", "a\rb"), wantErr: "HAPROXY_0_BIND_OPTIONS: value holds a line break"},
		{name: "nul", labels: labels("HAPROXY_0_PATH", "/a\x00"), wantErr: "HAPROXY_0_PATH: value holds a line break or NUL"},
		{name: "several errors sorted", labels: labels("HAPROXY_0_PORT", "x", "HAPROXY_0_BACKEND_WEIGHT", "y"),
			wantErr: "HAPROXY_0_BACKEND_WEIGHT: \"y\" is not an integer\nHAPROXY_0_PORT: \"x\" is not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePortLabels(tt.labels, tt.n, tt.strict)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestAppGroups(t *testing.T) {
	g, err := appGroups(labels("HAPROXY_GROUP", "external,internal"))
	if err != nil || !reflect.DeepEqual(g, []string{"external", "internal"}) {
		t.Errorf("appGroups = %v, %v", g, err)
	}
	if g, err := appGroups(nil); g != nil || err != nil {
		t.Errorf("appGroups(nil) = %v, %v", g, err)
	}
	if _, err := appGroups(labels("HAPROXY_GROUP", "a\nb")); err == nil {
		t.Error("a HAPROXY_GROUP with a newline is accepted")
	}
}

func TestParseBoolAndInt(t *testing.T) {
	for s, want := range map[string]bool{"true": true, "T": true, "yes": true, "Y": true, "1": false, "on": false, "": false} {
		if got := parseBool(s); got != want {
			t.Errorf("parseBool(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]int{"1": 1, " 12 ": 12, "+5": 5, "-5": -5, "1_000": 1000} {
		if got, err := parseInt(s); err != nil || got != want {
			t.Errorf("parseInt(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "x", "1.5", "0x10", "1__0", "_1", "1_", "1 2"} {
		if _, err := parseInt(s); err == nil {
			t.Errorf("parseInt(%q) accepted", s)
		}
	}
}

// FuzzParsePortLabels: any label values parse or fail cleanly; a value that
// parses never carries a line break into a single-line field.
func FuzzParsePortLabels(f *testing.F) {
	for _, s := range []string{"80", "a.example.com,b", "realm:u:p", "/api", "true", "\n", "-1", "1_0", "é:\x00:x"} {
		f.Add("PORT", s)
		f.Add("VHOST", s)
		f.Add("AUTH", s)
		f.Add("BACKEND_HEAD", s)
	}
	f.Fuzz(func(t *testing.T, suffix, value string) {
		p, err := ParsePortLabels(map[string]string{"HAPROXY_0_" + suffix: value}, 0, false)
		if err != nil {
			return
		}
		single := []string{p.VHost, p.Path, p.Balance, p.BindAddr, p.BindOptions, p.Mode, p.SSLCert,
			p.ProxyPassPath, p.RevProxyPath, p.RedirPath, p.NetworkAllowed}
		if p.Auth != nil {
			single = append(single, p.Auth.Realm, p.Auth.User, p.Auth.Password)
		}
		single = append(single, p.Groups...)
		for _, s := range single {
			if strings.ContainsAny(s, "\n\r\x00") {
				t.Fatalf("%s=%q parsed into a multi-line value %q", suffix, value, s)
			}
		}
		if p.Port < 0 || p.Port > 65535 {
			t.Fatalf("port %d accepted", p.Port)
		}
	})
}
