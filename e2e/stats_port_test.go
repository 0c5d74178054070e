package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// statsGet fetches path from the stats listener (marathon-lb's :9090).
func statsGet(t *testing.T, lb *lbSetup, path string) (int, string, http.Header) {
	t.Helper()
	res, err := noKeepAlive.Get("http://" + lb.statsAddr + path)
	if err != nil {
		t.Fatalf("GET %s on the stats port: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b), res.Header
}

// The stats port serves what marathon-lb's served: the stats page and CSV,
// HAProxy's own Prometheus metrics, the health check, and marathon-lb's
// endpoints (discovery answers them, through HAProxy, whichever address its
// HTTP listener has: here every address, 0.0.0.0). marathon_http_in and
// marathon_https_in listen from the start, with no app yet.
func TestStatsPortServesMarathonLBEndpoints(t *testing.T) {
	fm := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fm.Close)
	lb := newLB(t)
	httpPort := haproxytest.FreePort(t, "127.0.0.1")
	httpsPort := haproxytest.FreePort(t, "127.0.0.1")
	var args []string
	for _, a := range lb.args {
		if a != "--dont-bind-http-https" {
			args = append(args, a)
		}
	}
	args = append(args, "--marathon", fm.URL(), "-httpListener=0.0.0.0",
		"-lb-http-bind", "127.0.0.1:"+strconv.Itoa(httpPort), "-lb-https-bind", "127.0.0.1:"+strconv.Itoa(httpsPort),
		"-lb-signal-endpoints", "auto")
	d := startDaemon(t, false, args...)
	// Listening on every address; the test connects over loopback only.
	_, port, err := net.SplitHostPort(d.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	d.HTTPAddr = net.JoinHostPort("127.0.0.1", port)
	waitFor(t, 30*time.Second, "the load balancer ready", func() bool {
		code, _, err := d.get("/ready")
		return err == nil && code == 200
	})

	// The vhost frontends, with no app at all: HAProxy answers (503, no
	// backend), it does not refuse the connection.
	if res, err := noKeepAlive.Get("http://127.0.0.1:" + strconv.Itoa(httpPort) + "/"); err != nil {
		t.Errorf("marathon_http_in with no app: %v", err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("marathon_http_in with no app: %d, want 503", res.StatusCode)
		}
	}
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // discovery's self-signed certificate
	}}
	if res, err := insecure.Get("https://127.0.0.1:" + strconv.Itoa(httpsPort) + "/"); err != nil {
		t.Errorf("marathon_https_in with no app: %v", err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("marathon_https_in with no app: %d, want 503", res.StatusCode)
		}
	}

	// A Prometheus scrape of HAProxy's own exporter.
	code, body, _ := statsGet(t, lb, "/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if code != 200 || err != nil {
		t.Fatalf("/metrics on the stats port: %d %v:\n%.2000s", code, err, body)
	}
	found := false
	for _, m := range families["haproxy_frontend_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			found = found || l.GetName() == "proxy" && l.GetValue() == "marathon_http_in"
		}
	}
	if families["haproxy_process_nbthread"] == nil || !found {
		t.Errorf("/metrics on the stats port: want HAProxy's process metrics and marathon_http_in's requests, got %d families", len(families))
	}
	if code, _, _ := statsGet(t, lb, "/_haproxy_health_check"); code != 200 {
		t.Errorf("/_haproxy_health_check: %d", code)
	}
	if code, body, h := statsGet(t, lb, "/haproxy?stats"); code != 200 || !strings.Contains(h.Get("Content-Type"), "text/html") {
		t.Errorf("/haproxy?stats: %d %s %.200s", code, h.Get("Content-Type"), body)
	}
	code, body, _ = statsGet(t, lb, "/haproxy?stats;csv")
	if first, _, _ := strings.Cut(body, "\n"); code != 200 || !strings.HasPrefix(first, "# pxname,svname,") || strings.Contains(first, ",-,") ||
		!strings.Contains(body, "\nmarathon_http_in,FRONTEND,") {
		t.Errorf("/haproxy?stats;csv: %d\n%.500s", code, body)
	}

	// Other CSV URLs are HAProxy's own, its "-" heading kept.
	if code, body, _ := statsGet(t, lb, "/haproxy?stats;csv;norefresh"); code != 200 || !strings.Contains(body, ",-,") {
		t.Errorf("/haproxy?stats;csv;norefresh: %d, want HAProxy's own CSV\n%.300s", code, body)
	}
	if code, body, err := d.get("/haproxy?stats;csv"); err != nil || code != 200 || !strings.Contains(body, "\nmarathon_http_in,FRONTEND,") {
		t.Errorf("/haproxy?stats;csv on the HTTP port: %d %v\n%.300s", code, err, body)
	}

	cfg, err := os.ReadFile(lb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := statsGet(t, lb, "/_haproxy_getconfig"); code != 200 || body != string(cfg) {
		t.Errorf("/_haproxy_getconfig on the stats port: %d, not the config HAProxy runs:\n%.300s", code, body)
	}
	for _, p := range []string{"/_haproxy_getvhostmap", "/_haproxy_getappmap"} {
		if code, body, _ := statsGet(t, lb, p); code != 200 || body != "" {
			t.Errorf("%s without --haproxy-map: %d %q, want 200 and nothing", p, code, body)
		}
	}
	code, pids, _ := statsGet(t, lb, "/_haproxy_getpids")
	master := haproxyMasterPID(lb.masterSock)
	if f := strings.Fields(pids); code != 200 || len(f) != 2 || f[0] != strconv.Itoa(master) {
		t.Errorf("/_haproxy_getpids: %d %q, want the master (%d) and its one worker", code, pids, master)
	}
	if code, body, err := d.get("/_haproxy_getpids"); err != nil || code != 200 || body != pids {
		t.Errorf("/_haproxy_getpids on the HTTP port: %d %q %v, want %q", code, body, err, pids)
	}

	// Signals: the HTTP listener is on every address, so its signal
	// endpoints are off (auto); the stats port is on loopback, so its are on.
	if code, _, err := d.get("/_mlb_signal/usr1"); err != nil || code != http.StatusForbidden {
		t.Errorf("/_mlb_signal/usr1 on the HTTP port (0.0.0.0): %d %v, want 403", code, err)
	}
	reloads := d.metric(t, "discovery_lb_reloads_total", `reason="forced"`)
	if code, body, _ := statsGet(t, lb, "/_mlb_signal/usr1"); code != 200 || !strings.Contains(body, "SIGUSR1") {
		t.Errorf("/_mlb_signal/usr1 on the stats port (loopback): %d %q", code, body)
	}
	waitFor(t, 15*time.Second, "the forced reload", func() bool {
		return d.metric(t, "discovery_lb_reloads_total", `reason="forced"`) > max(reloads, 0)
	})
}
