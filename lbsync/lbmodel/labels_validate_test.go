package lbmodel

import (
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

// Every label a default template renders is refused when it could be read
// by HAProxy as syntax (a quote, an environment variable, a comment, a second
// address), and accepted in the forms marathon-lb's users write.
func TestPortLabelRoles(t *testing.T) {
	for _, tc := range []struct {
		label, value string
		// wantErr is a part of the error; "" when the value is accepted.
		wantErr string
	}{
		// Environment expansion inside double quotes (the realm is quoted).
		{"AUTH", "${HAPROXY_SSL_CERT}:user:$6$salt$hash", "the realm holds '$'"},
		{"AUTH", `x" if TRUE #:user:hash`, "the realm holds '\"'"},
		{"AUTH", "Private Area:user:$6$salt$hash", ""},
		{"AUTH", "r:us er:hash", "the user is not a user name"},
		{"AUTH", "r:user:ha\"sh", "the password is not a crypt hash"},
		// A redirect location that opens its own quotes.
		{"HTTP_BACKEND_REDIR", `"${HOME}"`, "is not a URL"},
		{"HTTP_BACKEND_REDIR", "https://example.com/x?a=1&b=2", ""},
		{"HTTP_BACKEND_REDIR", "/x if TRUE", "is not a URL"},
		{"HTTP_BACKEND_PROXYPASS_PATH", "/api'", "is not a URL path"},
		{"HTTP_BACKEND_PROXYPASS_PATH", "/api/v1", ""},
		{"HTTP_BACKEND_REVPROXY_PATH", "api", "starts with /"},
		// Comments and extra arguments.
		{"PATH", "/a #comment", "each item is a path"},
		{"PATH", "/a#comment", "is not a URL path"},
		{"PATH", "-f /etc/passwd", "each item is a path"},
		{"PATH", "-i /a /b", ""},
		{"PATH", "/a$b", "is not a URL path"},
		{"PATH", `/a\b`, "is not a URL path"},
		{"HTTP_BACKEND_REDIR", "/a#b", "is not a URL"},
		{"HTTP_BACKEND_REDIR", "/a$b", "is not a URL"},
		{"VHOST", "a.com'", "is not a host name list"},
		{"AUTH", "r`x:user:hash", "the realm holds '`'"},
		{"VHOST", "a.com,b.com", ""},
		{"VHOST", "a.com$", "is not a host name list"},
		{"BALANCE", "hdr(Host)", ""},
		{"BALANCE", "roundrobin # x", "is not a balance algorithm"},
		// One address, one bind.
		{"BIND_ADDR", "127.0.0.1:80,127.0.0.1", "is not one IP address"},
		{"BIND_ADDR", "127.0.0.1 ssl crt /etc/x", "is not one IP address"},
		{"BIND_ADDR", "my-host", "is not one IP address"},
		{"BIND_ADDR", "10.0.0.42", ""},
		{"BIND_ADDR", "::1", ""},
		{"BIND_ADDR", "*", ""},
		// Bind options from an allow-list.
		{"BIND_OPTIONS", "ssl crt-list /etc/ssl/list", `bind option "crt-list" is not one an app may set`},
		{"BIND_OPTIONS", "user root", `bind option "user" is not one`},
		{"BIND_OPTIONS", "group root", `bind option "group" is not one`},
		{"BIND_OPTIONS", "mode 777", `bind option "mode" is not one`},
		{"BIND_OPTIONS", "process 1", `bind option "process" is not one`},
		{"BIND_OPTIONS", "namespace x", `bind option "namespace" is not one`},
		{"BIND_OPTIONS", "ciphers", `bind option "ciphers" wants an argument`},
		{"BIND_OPTIONS", "ciphers ${X}", "is not a bind option argument"},
		{"BIND_OPTIONS", "ssl crt /etc/ssl/a.pem alpn h2,http/1.1 no-tlsv10 ciphers ECDHE+AESGCM:!aNULL", ""},
		{"SSL_CERT", "/etc/ssl/../shadow", "not an absolute, clean file path"},
		{"SSL_CERT", "relative.pem", "not an absolute, clean file path"},
		{"SSL_CERT", "/etc/ssl/a.pem", ""},
		{"BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8 1.2.3.4", ""},
		{"BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8 if TRUE", `"if" is not an address or network`},
	} {
		t.Run(tc.label+"="+tc.value, func(t *testing.T) {
			_, err := ParsePortLabels(labels("HAPROXY_0_"+tc.label, tc.value), 0, false)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("accepted, want an error containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q, want one containing %q", err, tc.wantErr)
			}
			if tc.label == "AUTH" && err != nil && strings.Contains(err.Error(), "hash") && strings.Contains(err.Error(), "$6$") {
				t.Errorf("the error quotes the password hash: %v", err)
			}
		})
	}
}

// Files named by labels must lie in the certificate directories: the
// directories of -ssl-certs by default, -lb-cert-dirs when set. The error
// names the label and the directories, nothing of the file.
func TestLabelFilesInCertDirs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SSLCerts = []string{"/etc/haproxy/certs/default.pem"}
	for _, tc := range []struct {
		labels  map[string]string
		dirs    []string
		wantErr string
	}{
		{labels: labels("HAPROXY_0_SSL_CERT", "/etc/haproxy/certs/app.pem")},
		{labels: labels("HAPROXY_0_SSL_CERT", "/etc/haproxy/certs/sub/app.pem")},
		{labels: labels("HAPROXY_0_SSL_CERT", "/etc/marathon/credentials"), wantErr: "HAPROXY_0 certificate file \"/etc/marathon/credentials\" is outside the certificate directories (/etc/haproxy/certs)"},
		{labels: labels("HAPROXY_0_SSL_CERT", "/etc/haproxy/certs"), wantErr: "outside the certificate directories"},
		{labels: labels("HAPROXY_0_BIND_OPTIONS", "ssl crt /etc/haproxy/certs/a.pem ca-file /etc/shadow"), wantErr: "\"/etc/shadow\" is outside"},
		{labels: labels("HAPROXY_0_BIND_OPTIONS", "ssl crt /srv/certs/a.pem"), dirs: []string{"/srv/certs"}},
		{labels: labels("HAPROXY_0_SSL_CERT", "/etc/haproxy/certs/a.pem"), dirs: []string{"/srv/certs"}, wantErr: "outside the certificate directories (/srv/certs)"},
	} {
		c := *cfg
		c.CertDirs = tc.dirs
		l, err := ParsePortLabels(tc.labels, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		err = checkLabelFiles(&l, 0, c.certDirs())
		if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v with dirs %v: error %v, want %q", tc.labels, c.certDirs(), err, tc.wantErr)
		}
	}
}

// An app whose label is refused is left out with the label named; the other
// apps are built. A health check path and an app id are data too.
func TestRefusedLabelsLeaveOnlyThatAppOut(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Groups = []string{"external"}
	good := app("/good", labels("HAPROXY_GROUP", "external"), []int{10000}, "10.0.0.1:31000")
	bad := app("/bad", labels("HAPROXY_GROUP", "external", "HAPROXY_0_AUTH", "${HAPROXY_SSL_CERT}:u:h"), []int{10001}, "10.0.0.2:31001")
	hc := app("/hc", labels("HAPROXY_GROUP", "external", "HAPROXY_0_MODE", "http"), []int{10002}, "10.0.0.3:31002")
	hc.HealthChecks = []state.HealthCheck{{Protocol: "HTTP", Path: `/h "${HOME}"`, PortIndex: 0}}
	badID := app("/x y", labels("HAPROXY_GROUP", "external"), []int{10003}, "10.0.0.4:31003")
	m, err := BuildModel([]state.App{good, bad, hc, badID}, cfg, mustTemplates(t, cfg, "", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Backends) != 1 || m.Backends[0].AppID != "/good" {
		t.Errorf("backends %v, want /good's only", backendNames(m))
	}
	reasons := map[string]string{}
	for _, e := range m.Errors {
		reasons[e.AppID] = e.Reason
	}
	if !strings.Contains(reasons["/bad"], "HAPROXY_0_AUTH") || !strings.Contains(reasons["/hc"], "health check path") ||
		!strings.Contains(reasons["/x y"], "is not an app id") {
		t.Errorf("reasons %q", reasons)
	}
	text, err := Render(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(text), "${") {
		t.Errorf("an environment variable reached the config:\n%s", text)
	}
}
