package lbsync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// A config that points HAProxy at a secret file (crt-list, a -f pattern
// file): haproxy -c quotes lines of the file, and the CheckError we publish
// shows none of them, while still naming our config's failing line.
func TestCheckErrorShowsNoFileText(t *testing.T) {
	bin := haproxytest.Binary(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "marathon-credentials")
	const secretText = "lb-user:s3cret-Kq9Wv"
	if err := os.WriteFile(secret, []byte(secretText+"\n(unclosed[\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, lines, want string }{
		{"crt-list", "  bind 127.0.0.1:18081 ssl crt-list " + secret + "\n", "'crt-list'"},
		{"pattern-file", "  acl a hdr(x) -m reg -f " + secret + "\n  http-request deny if a\n", "of file '" + secret + "'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, tc.name+".cfg")
			text := "defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\nfrontend f\n  bind 127.0.0.1:18080\n" + tc.lines
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			h := NewHAProxy(HAProxyOptions{Binary: bin, ConfigPath: cfg})
			err := h.Check(context.Background(), cfg)
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("Check: %v, want a CheckError", err)
			}
			for _, s := range []string{secretText, "lb-user", "(unclosed["} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error quotes the file: %v", err)
				}
			}
			if !strings.Contains(ce.Output, cfg+":") || !strings.Contains(ce.Output, tc.want) {
				t.Errorf("the error no longer says where and why: %s", ce.Output)
			}
		})
	}
}

func TestRedactLine(t *testing.T) {
	cfg := "/etc/haproxy/haproxy.cfg"
	for _, tc := range []struct{ in, want string }{
		{"[ALERT] parsing [/etc/haproxy/haproxy.cfg:9] : 'bind *:80' in section 'frontend' : unknown keyword 'foo'.",
			"[ALERT] parsing [/etc/haproxy/haproxy.cfg:9] : 'bind *:80' in section 'frontend' : unknown keyword 'foo'."},
		{"[ALERT] parsing [/etc/haproxy/haproxy.cfg:9] : 'bind *:80' in section 'frontend' : 'crt-list' : unable to stat SSL certificate from file 'user:pw' : No such file",
			"[ALERT] parsing [/etc/haproxy/haproxy.cfg:9] : 'bind *:80' in section 'frontend' : 'crt-list' : " + notShown},
		{"[ALERT] parsing [/etc/secret:1] : unknown keyword 'token-abc'",
			"[ALERT] parsing [/etc/secret:1] : unknown keyword " + notShown},
	} {
		if got := redactLine(tc.in, cfg); got != tc.want {
			t.Errorf("redactLine(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// The running HAProxy's output (the status page, the log) goes through the
// same redaction.
func TestCopyOutputRedacts(t *testing.T) {
	h := NewHAProxy(HAProxyOptions{ConfigPath: "/etc/haproxy/haproxy.cfg"})
	h.copyOutput(strings.NewReader("[ALERT]    (1) : config : parsing [/etc/haproxy/haproxy.cfg:9] : 'bind *:80' in section 'frontend' : 'crt-list' : unable to stat SSL certificate from file 'user:pw' : No such file\n"))
	out := strings.Join(h.recentOutput(5), "\n")
	if strings.Contains(out, "user:pw") || !strings.Contains(out, notShown) {
		t.Errorf("output kept: %s", out)
	}
}
