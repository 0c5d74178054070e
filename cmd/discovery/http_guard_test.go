package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The HTTP server's timeouts are the ones docs/security.md states.
func TestHTTPServerBounds(t *testing.T) {
	srv := newHTTPServer(DefaultConfig(), http.NotFoundHandler(), discardLog())
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, 10 * time.Second},
		{"ReadTimeout", srv.ReadTimeout, 30 * time.Second},
		{"WriteTimeout", srv.WriteTimeout, 60 * time.Second},
		{"IdleTimeout", srv.IdleTimeout, 30 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestHostGuard(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HTTPAllowedHosts = []string{"Dash.Example.org."}
	g := newHostGuard(cfg, func() {})
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	short, _, _ := strings.Cut(host, ".")
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"", true},
		{"127.0.0.1", true},
		{"10.1.2.3:8123", true},
		{"[::1]:8123", true},
		{"[fe80::1%25eth0]:8123", true}, // an address with a zone
		{"localhost", true},
		{"LOCALHOST:8123", true},
		{"app.localhost", true},
		{host, true},
		{strings.ToUpper(host) + ":8123", true},
		{short, true},
		{"mesos", true},
		{"leader.mesos:8123", true},
		{"leader.mesos.", true},
		{"dash.example.org", true},
		{"dash.example.org:80", true},
		{"evil.example", false},
		{"mesos.evil.example", false},
		{"evilmesos", false},
		{"example.org", false},
	} {
		if got := g.allowed(tc.host); got != tc.want {
			t.Errorf("allowed(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

func TestCrossSite(t *testing.T) {
	for _, tc := range []struct {
		header map[string]string
		want   bool
	}{
		{nil, false},
		{map[string]string{"Sec-Fetch-Site": "none"}, false},
		{map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8123"}, false},
		{map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{map[string]string{"Origin": "http://evil.example"}, true},
		{map[string]string{"Origin": "http://127.0.0.1:8124"}, true},
		{map[string]string{"Origin": "null"}, true},
	} {
		r, _ := http.NewRequest("GET", "http://127.0.0.1:8123/_mlb_signal/usr1", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := crossSite(r); got != tc.want {
			t.Errorf("crossSite(%v) = %v, want %v", tc.header, got, tc.want)
		}
	}
}
