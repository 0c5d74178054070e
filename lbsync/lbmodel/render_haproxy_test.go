package lbmodel

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state"
)

// loopbackConfig is a default configuration for the "external" group with
// its files in dir (a certificate written there) and the stats, HTTP, HTTPS and
// app-ID listeners on free ports of 127.0.0.1.
func loopbackConfig(t *testing.T, dir string) *Config {
	t.Helper()
	free := func() int { return haproxytest.FreePort(t, "127.0.0.1") }
	cfg := DefaultConfig()
	cfg.Groups = []string{"external"}
	cfg.HAProxyConfig = filepath.Join(dir, "haproxy.cfg")
	cfg.StatsSocket = filepath.Join(dir, "stats.sock")
	cfg.SSLCerts = []string{filepath.Join(dir, "cert.pem")}
	cfg.StatsBindAddr, cfg.StatsPort = "127.0.0.1", free()
	cfg.HTTPBindAddr, cfg.HTTPPort = "127.0.0.1", free()
	cfg.HTTPSBindAddr, cfg.HTTPSPort = "127.0.0.1", free()
	cfg.AppIDBindAddr, cfg.AppIDPort = "127.0.0.1", free()
	if err := os.WriteFile(cfg.SSLCerts[0], testCertPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDefaultTemplatesRouteTraffic runs a real HAProxy on the config our
// default templates render and checks that requests get where marathon-lb
// would send them: vhosts (with a port in the Host header), paths before plain
// vhosts, SNI on the HTTPS frontend, the X-Marathon-App-Id frontend, per
// service port frontends in HTTP and TCP mode, HTTPS redirects and the stats
// listener's health check. Everything listens on 127.0.0.x.
func TestDefaultTemplatesRouteTraffic(t *testing.T) {
	bin := haproxyBinary(t)
	dir := haproxytest.Dir(t)
	web1 := haproxytest.StartBackend(t, "127.0.0.2")
	web2 := haproxytest.StartBackend(t, "127.0.0.3")
	api := haproxytest.StartBackend(t, "127.0.0.4")
	tcp := haproxytest.StartBackend(t, "127.0.0.5")
	free := func() int { return haproxytest.FreePort(t, "127.0.0.1") }

	cfg := loopbackConfig(t, dir)
	webPort, tcpPort := free(), free()
	bind := "HAPROXY_0_BIND_ADDR"
	apps := []state.App{
		app("/web", vhostLabels("HAPROXY_0_VHOST", "web.example.com", bind, "127.0.0.1"), []int{webPort}, web1.Addr(), web2.Addr()),
		app("/api", vhostLabels("HAPROXY_0_VHOST", "web.example.com", "HAPROXY_0_PATH", "/api", bind, "127.0.0.1"), []int{free()}, api.Addr()),
		app("/tcp", vhostLabels(bind, "127.0.0.1"), []int{tcpPort}, tcp.Addr()),
		app("/secure", vhostLabels("HAPROXY_0_VHOST", "secure.example.com", "HAPROXY_0_REDIRECT_TO_HTTPS", "true", bind, "127.0.0.1"), []int{free()}, web1.Addr()),
	}
	m := mustBuild(t, apps, cfg, mustTemplates(t, cfg, "", nil), nil)
	if len(m.Errors) > 0 {
		t.Fatalf("apps left out: %v", m.Errors)
	}
	text := mustRender(t, m)

	client := runHAProxy(t, bin, cfg, text)

	get := func(url string, header ...string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Host" {
				req.Host = header[i+1]
			} else {
				req.Header.Set(header[i], header[i+1])
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		var body strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&body)
		return resp.StatusCode, body.String(), resp.Header
	}
	webs := map[string]bool{web1.Addr(): true, web2.Addr(): true}
	httpURL := "http://127.0.0.1:" + strconv.Itoa(cfg.HTTPPort)
	tests := []struct {
		name   string
		url    string
		header []string
		status int
		want   func(body string) bool
	}{
		{"vhost", httpURL + "/", []string{"Host", "web.example.com"}, 200, func(b string) bool { return webs[b] }},
		{"vhost any case with port", httpURL + "/", []string{"Host", "WEB.example.com:80"}, 200, func(b string) bool { return webs[b] }},
		{"path before vhost", httpURL + "/api/v1", []string{"Host", "web.example.com"}, 200, func(b string) bool { return b == api.Addr() }},
		{"unknown vhost", httpURL + "/", []string{"Host", "nope.example.com"}, 503, nil},
		{"redirect to https", httpURL + "/x", []string{"Host", "secure.example.com"}, 301, nil},
		{"https by sni", "https://web.example.com:" + strconv.Itoa(cfg.HTTPSPort) + "/", nil, 200, func(b string) bool { return webs[b] }},
		{"https path", "https://web.example.com:" + strconv.Itoa(cfg.HTTPSPort) + "/api", nil, 200, func(b string) bool { return b == api.Addr() }},
		{"app id", "http://127.0.0.1:" + strconv.Itoa(cfg.AppIDPort) + "/", []string{"X-Marathon-App-Id", "/api"}, 200, func(b string) bool { return b == api.Addr() }},
		{"app id unknown", "http://127.0.0.1:" + strconv.Itoa(cfg.AppIDPort) + "/", []string{"X-Marathon-App-Id", "/nope"}, 503, nil},
		{"service port", "http://127.0.0.1:" + strconv.Itoa(webPort) + "/", nil, 200, func(b string) bool { return webs[b] }},
		{"tcp service port", "http://127.0.0.1:" + strconv.Itoa(tcpPort) + "/", nil, 200, func(b string) bool { return b == tcp.Addr() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, header := get(tt.url, tt.header...)
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %q)", status, tt.status, body)
			}
			if tt.want != nil && !tt.want(body) {
				t.Errorf("answered by %q", body)
			}
			if tt.status == 301 && !strings.HasPrefix(header.Get("Location"), "https://secure.example.com") {
				t.Errorf("Location %q", header.Get("Location"))
			}
		})
	}
	// Both tasks of /web get traffic.
	seen := map[string]bool{}
	for range 8 {
		_, body, _ := get(httpURL+"/", "Host", "web.example.com")
		seen[body] = true
	}
	if !seen[web1.Addr()] || !seen[web2.Addr()] {
		t.Errorf("round robin reached %v", seen)
	}
}

// runHAProxy starts HAProxy (master-worker, foreground) on the config text,
// written to cfg.HAProxyConfig, waits for its health check and returns an
// HTTP client that dials every name on 127.0.0.1 and does not follow
// redirects. HAProxy is killed when the test ends.
func runHAProxy(t *testing.T, bin string, cfg *Config, text string) *http.Client {
	t.Helper()
	if err := os.WriteFile(cfg.HAProxyConfig, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-W", "-db", "-f", cfg.HAProxyConfig)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			select {
			case logs <- s.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			// Every name resolves to the local HAProxy; SNI comes from the URL.
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // our own test certificate
			DisableKeepAlives: true,
		},
	}
	health := "http://127.0.0.1:" + strconv.Itoa(cfg.StatsPort) + "/_haproxy_health_check"
	if !haproxytest.WaitFor(10*time.Second, func() bool { _, err := haproxytest.Get(client, health); return err == nil }) {
		var lines []string
		for len(logs) > 0 {
			lines = append(lines, <-logs)
		}
		t.Fatalf("HAProxy does not answer its health check:\n%s\n--- config ---\n%s", strings.Join(lines, "\n"), text)
	}

	return client
}

// TestMapAndGroupedHTTPSRouteTraffic does the same with --haproxy-map and
// --group-https-by-vhost, and with basic auth on one vhost.
func TestMapAndGroupedHTTPSRouteTraffic(t *testing.T) {
	bin := haproxyBinary(t)
	dir := haproxytest.Dir(t)
	a := haproxytest.StartBackend(t, "127.0.0.2")
	b := haproxytest.StartBackend(t, "127.0.0.3")
	c := haproxytest.StartBackend(t, "127.0.0.4")
	free := func() int { return haproxytest.FreePort(t, "127.0.0.1") }

	cfg := loopbackConfig(t, dir)
	cfg.HAProxyMap, cfg.GroupHTTPSByVHost = true, true
	// SHA-512 crypt of "s3cret" (openssl passwd -6 -salt discovery s3cret).
	hash := "$6$discovery$/Ju1VPeVgxXIUsPdzhdAu7IOj/7Vg9fI7GQLwxLLT7vx6Cwi0dB9xh5SJNqbnawKu3nxY/viKKj6YLrSQSyR9/"
	bind := "HAPROXY_0_BIND_ADDR"
	apps := []state.App{
		app("/a", vhostLabels("HAPROXY_0_VHOST", "a.example.com", bind, "127.0.0.1"), []int{free()}, a.Addr()),
		app("/b", vhostLabels("HAPROXY_0_VHOST", "b.example.com,c.example.com", bind, "127.0.0.1"), []int{free()}, b.Addr()),
		app("/c", vhostLabels("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_PATH", "/c", bind, "127.0.0.1"), []int{free()}, c.Addr()),
		app("/private", vhostLabels("HAPROXY_0_VHOST", "private.example.com", "HAPROXY_0_AUTH", "Private area:admin:"+hash, bind, "127.0.0.1"), []int{free()}, c.Addr()),
	}
	m := mustBuild(t, apps, cfg, mustTemplates(t, cfg, "", nil), nil)
	if len(m.Errors) > 0 {
		t.Fatalf("apps left out: %v", m.Errors)
	}
	for _, mf := range m.Maps {
		if err := os.WriteFile(mf.Path, mf.Content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	client := runHAProxy(t, bin, cfg, mustRender(t, m))

	httpURL := "http://127.0.0.1:" + strconv.Itoa(cfg.HTTPPort)
	httpsURL := func(host, path string) string { return "https://" + host + ":" + strconv.Itoa(cfg.HTTPSPort) + path }
	tests := []struct {
		name, url, host, appID, user string
		status                       int
		want                         *haproxytest.Backend
	}{
		{name: "map vhost", url: httpURL + "/", host: "a.example.com", status: 200, want: a},
		{name: "map second vhost", url: httpURL + "/", host: "C.example.com:8080", status: 200, want: b},
		{name: "path before map", url: httpURL + "/c/1", host: "a.example.com", status: 200, want: c},
		{name: "map unknown", url: httpURL + "/", host: "x.example.com", status: 503},
		{name: "app id map", url: "http://127.0.0.1:" + strconv.Itoa(cfg.AppIDPort) + "/", appID: "/b", status: 200, want: b},
		{name: "grouped https", url: httpsURL("b.example.com", "/"), status: 200, want: b},
		{name: "grouped https path", url: httpsURL("a.example.com", "/c"), status: 200, want: c},
		{name: "grouped https plain", url: httpsURL("a.example.com", "/"), status: 200, want: a},
		{name: "auth required", url: httpURL + "/", host: "private.example.com", status: 401},
		{name: "auth given", url: httpURL + "/", host: "private.example.com", user: "admin:s3cret", status: 200, want: c},
		{name: "auth wrong", url: httpURL + "/", host: "private.example.com", user: "admin:nope", status: 401},
		{name: "auth over https", url: httpsURL("private.example.com", "/"), user: "admin:s3cret", status: 200, want: c},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.appID != "" {
				req.Header.Set("X-Marathon-App-Id", tt.appID)
			}
			if u, p, ok := strings.Cut(tt.user, ":"); ok {
				req.SetBasicAuth(u, p)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body strings.Builder
			_, _ = bufio.NewReader(resp.Body).WriteTo(&body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tt.status, body.String())
			}
			if tt.want != nil && body.String() != tt.want.Addr() {
				t.Errorf("answered by %q, want %s", body.String(), tt.want.Addr())
			}
		})
	}
}
