package lbmodel

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state"
)

// TestProxyPassAndRevProxyAsMarathonLB: HAPROXY_{n}_HTTP_BACKEND_PROXYPASS_PATH
// strips the prefix only from paths that start with it (any case), as
// marathon-lb's anchored reqirep did, and REVPROXY_PATH replaces a Location
// that points at the app's host with the root path, as its rspirep did. A
// real HAProxy, a backend that echoes the path it got.
func TestProxyPassAndRevProxyAsMarathonLB(t *testing.T) {
	bin := haproxyBinary(t)
	dir := haproxytest.Dir(t)
	ln, err := net.Listen("tcp", "127.0.0.6:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			w.Header().Set("Location", "http://web.example.com/inner/elsewhere")
			w.WriteHeader(http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	cfg := loopbackConfig(t, dir)
	port := haproxytest.FreePort(t, "127.0.0.1")
	apps := []state.App{app("/web", vhostLabels("HAPROXY_0_VHOST", "web.example.com", "HAPROXY_0_BIND_ADDR", "127.0.0.1",
		"HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH", "/foo", "HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH", "/outer"),
		[]int{port}, ln.Addr().String())}
	m := mustBuild(t, apps, cfg, mustTemplates(t, cfg, "", nil), nil)
	if len(m.Errors) > 0 {
		t.Fatalf("apps left out: %v", m.Errors)
	}
	client := runHAProxy(t, bin, cfg, mustRender(t, m))

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for _, tc := range []struct{ path, backendSaw string }{
		{"/foo/test/x", "/test/x"},
		{"/foo", "/"},
		{"/FOO/upper", "/upper"},
		{"/bar/foo/x", "/bar/foo/x"}, // not a prefix: untouched
		{"/food", "/d"},              // marathon-lb's regex has "/?" after the prefix
	} {
		body, err := haproxytest.Get(client, base+tc.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		if body != tc.backendSaw {
			t.Errorf("GET %s: the backend saw %q, want %q", tc.path, body, tc.backendSaw)
		}
	}
	resp, err := client.Get(base + "/foo/moved")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/outer" {
		t.Errorf("redirect: %s, Location %q, want 302 to /outer", resp.Status, loc)
	}
}
