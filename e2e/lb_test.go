package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/sim"
)

// lbCluster is a cluster whose tasks are real HTTP servers, and a daemon
// load-balancing them (following Mesos) through a real HAProxy, once every
// app's traffic flows to its tasks.
func lbCluster(t *testing.T, cfg sim.Config, extra ...string) (*sim.Cluster, *lbSetup, *daemon) {
	t.Helper()
	cfg.Backends = true
	c := newCluster(t, cfg)
	lb := newLB(t)
	args := append([]string{"-masters=" + c.Masters()[0].Addr()}, lb.args...)
	d := startDaemon(t, true, append(args, extra...)...)
	waitLB(t, lb.cfg, c, 30*time.Second)
	waitTraffic(t, c, 15*time.Second)
	return c, lb, d
}

// noKeepAlive makes every request a new connection, so that HAProxy's
// balancing (TCP mode by default) shows.
var noKeepAlive = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// through sends one request to an app's service port; it returns the backend
// that answered (its address).
func through(port int) (string, error) {
	res, err := noKeepAlive.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != 200 {
		return "", &httpError{res.StatusCode}
	}
	return string(b), nil
}

type httpError struct{ code int }

func (e *httpError) Error() string { return "HTTP " + strconv.Itoa(e.code) }

// trafficFlows reports whether a request to every app's service port is
// answered by one of its running tasks.
func trafficFlows(tr sim.Truth) (bool, string) {
	for _, a := range tr.Apps {
		if len(a.Tasks) == 0 {
			continue
		}
		got, err := through(a.ServicePort)
		if err != nil {
			return false, a.ID + ": " + err.Error()
		}
		ok := false
		for _, tk := range a.Tasks {
			ok = ok || tk.Addr().String() == got
		}
		if !ok {
			return false, a.ID + ": answered by " + got + ", not one of its tasks"
		}
	}
	return true, ""
}

func waitTraffic(t *testing.T, c *sim.Cluster, timeout time.Duration) time.Duration {
	t.Helper()
	return waitAgree(t, timeout, "no traffic through HAProxy", func() (bool, string) {
		return trafficFlows(c.Truth())
	})
}

// haproxyMasterPID asks HAProxy's master CLI ("show proc") for the master's
// PID, for up to 2 s (the master re-executes itself on every reload, and
// refuses connections meanwhile); 0 when it does not answer.
func haproxyMasterPID(sock string) int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if pid := showProcMaster(sock); pid != 0 || time.Now().After(deadline) {
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func showProcMaster(sock string) int {
	conn, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return 0
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show proc\n"); err != nil {
		return 0
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 1 && f[1] == "master" {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
	}
	return 0
}
