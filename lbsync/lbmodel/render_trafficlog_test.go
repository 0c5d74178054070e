package lbmodel

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/state"
)

// TestTrafficLogsReachTheSyslogSocket: with --syslog-socket, HAProxy's
// request logs (info level, which the stderr target leaves out) reach that
// syslog socket, as marathon-lb's head sent them to /dev/log; a user
// template's "option httplog" makes them HTTP logs.
func TestTrafficLogsReachTheSyslogSocket(t *testing.T) {
	bin := haproxyBinary(t)
	dir := haproxytest.Dir(t)
	sock := filepath.Join(dir, "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	web := haproxytest.StartBackend(t, "127.0.0.2")
	cfg := loopbackConfig(t, dir)
	cfg.TrafficLog = sock
	port := haproxytest.FreePort(t, "127.0.0.1")
	apps := []state.App{app("/web", vhostLabels("HAPROXY_0_MODE", "http", "HAPROXY_0_BIND_ADDR", "127.0.0.1",
		"HAPROXY_0_FRONTEND_HEAD", "\nfrontend {backend}\n  bind {bindAddr}:{servicePort}{sslCert}{bindOptions}\n  mode {mode}\n  option httplog\n"),
		[]int{port}, web.Addr())}
	m := mustBuild(t, apps, cfg, mustTemplates(t, cfg, "", nil), nil)
	if len(m.Errors) > 0 {
		t.Fatalf("left out: %v", m.Errors)
	}
	text := mustRender(t, m)
	if !strings.Contains(text, "log "+sock+" local0 info") {
		t.Fatalf("no traffic log target in:\n%s", text)
	}
	client := runHAProxy(t, bin, cfg, text)
	if _, err := haproxytest.Get(client, "http://127.0.0.1:"+strconv.Itoa(port)+"/traffic-log-probe"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no request log on the syslog socket: %v", err)
		}
		if line := string(buf[:n]); strings.Contains(line, "GET /traffic-log-probe") {
			if !strings.Contains(line, web.Addr()) && !strings.Contains(line, "web_") {
				t.Errorf("request log names neither the backend nor the server: %q", line)
			}
			return
		}
	}
}
