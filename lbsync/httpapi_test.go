package lbsync

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
)

func TestHTTPHandler(t *testing.T) {
	newSyncer := func(t *testing.T) *Syncer {
		s, err := NewSyncer(SyncerOptions{
			HAProxy:     NewHAProxy(HAProxyOptions{ConfigPath: "/nonexistent/haproxy.cfg", MasterSocket: "/nonexistent/m.sock"}),
			StatsSocket: "/nonexistent/s.sock",
			Build:       func(*state.Snapshot, *lbmodel.BuildOptions) (*lbmodel.Model, error) { return &lbmodel.Model{}, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		m := &lbmodel.Model{Maps: []lbmodel.MapFile{
			{Path: "/etc/haproxy/app2backend.map", Content: []byte("/web web_10000\n")},
			{Path: "/etc/haproxy/domain2backend.map", Content: []byte("web.example.com web_10000\n")},
		}}
		s.applier.setRunning(m, lbmodel.TextOf([]byte("global\n  maxconn 10\n")))
		return s
	}
	get := func(t *testing.T, h http.Handler, method, path string) (int, string) {
		t.Helper()
		srv := httptest.NewServer(h)
		defer srv.Close()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("state endpoints", func(t *testing.T) {
		h := HTTPHandler(newSyncer(t), HTTPOptions{})
		for path, want := range map[string]string{
			"/_haproxy_getconfig":   "global\n  maxconn 10\n",
			"/_haproxy_getappmap":   "/web web_10000\n",
			"/_haproxy_getvhostmap": "web.example.com web_10000\n",
		} {
			if code, body := get(t, h, "GET", path); code != 200 || body != want {
				t.Errorf("%s: %d %q, want %q", path, code, body, want)
			}
		}
	})
	t.Run("haproxy not running", func(t *testing.T) {
		h := HTTPHandler(newSyncer(t), HTTPOptions{})
		for _, path := range []string{"/_haproxy_health_check", "/_haproxy_getpids", "/haproxy?stats;csv"} {
			if code, _ := get(t, h, "GET", path); code != http.StatusServiceUnavailable {
				t.Errorf("%s: %d, want 503", path, code)
			}
		}
	})
	t.Run("no maps before the first apply", func(t *testing.T) {
		s := newSyncer(t)
		s.applier.setRunning(nil, nil)
		h := HTTPHandler(s, HTTPOptions{})
		if code, body := get(t, h, "GET", "/_haproxy_getvhostmap"); code != 200 || body != "" {
			t.Errorf("%d %q", code, body)
		}
	})
	t.Run("signals disabled", func(t *testing.T) {
		s := newSyncer(t)
		refetched := false
		h := HTTPHandler(s, HTTPOptions{Refetch: func(context.Context) error { refetched = true; return nil }})
		for _, p := range []string{"/_mlb_signal/hup", "/_mlb_signal/usr1"} {
			if code, _ := get(t, h, "POST", p); code != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", p, code)
			}
		}
		if refetched || len(s.force) != 0 || s.dirty {
			t.Error("a disabled signal did something")
		}
	})
	t.Run("hup refetches and resyncs", func(t *testing.T) {
		s := newSyncer(t)
		refetched := false
		h := HTTPHandler(s, HTTPOptions{SignalsEnabled: true, Refetch: func(context.Context) error { refetched = true; return nil }})
		code, body := get(t, h, "GET", "/_mlb_signal/hup")
		if code != 200 || !strings.Contains(body, "SIGHUP") || !refetched || !s.dirty {
			t.Fatalf("hup: %d %q refetched=%v dirty=%v", code, body, refetched, s.dirty)
		}
	})
	t.Run("hup refetch fails", func(t *testing.T) {
		s := newSyncer(t)
		h := HTTPHandler(s, HTTPOptions{SignalsEnabled: true, Refetch: func(context.Context) error { return errors.New("marathon down") }})
		if code, body := get(t, h, "POST", "/_mlb_signal/hup"); code != 500 || !strings.Contains(body, "marathon down") {
			t.Fatalf("hup: %d %q", code, body)
		}
	})
	t.Run("usr1 reloads", func(t *testing.T) {
		s := newSyncer(t)
		h := HTTPHandler(s, HTTPOptions{SignalsEnabled: true})
		if code, _ := get(t, h, "POST", "/_mlb_signal/usr1"); code != 200 {
			t.Fatalf("usr1: %d", code)
		}
		if len(s.force) != 1 || s.force[0].Class != lbmodel.ReasonForced {
			t.Fatalf("forced reasons %v", s.force)
		}
		if code, _ := get(t, h, "DELETE", "/_mlb_signal/usr1"); code != http.StatusMethodNotAllowed {
			t.Fatalf("DELETE: %d", code)
		}
	})
	t.Run("signals through the stats port follow its switch", func(t *testing.T) {
		s := newSyncer(t)
		// The HTTP port's switch is on; a request from this machine
		// marked as coming through the stats port follows that port's.
		h := HTTPHandler(s, HTTPOptions{SignalsEnabled: true})
		srv := httptest.NewServer(h)
		defer srv.Close()
		req, _ := http.NewRequest("POST", srv.URL+"/_mlb_signal/usr1", nil)
		req.Header.Set(StatsPortHeader, "1")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || len(s.force) != 0 {
			t.Fatalf("usr1 through the stats port with its signals off: %d, forced %v", resp.StatusCode, s.force)
		}
	})
	t.Run("signals through the stats port on while the HTTP port's are off", func(t *testing.T) {
		s := newSyncer(t)
		h := HTTPHandler(s, HTTPOptions{StatsSignalsEnabled: true})
		srv := httptest.NewServer(h)
		defer srv.Close()
		for header, want := range map[string]int{"": http.StatusForbidden, "1": http.StatusOK} {
			req, _ := http.NewRequest("POST", srv.URL+"/_mlb_signal/usr1", nil)
			if header != "" {
				req.Header.Set(StatsPortHeader, header)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("usr1 with %s %q: %d, want %d", StatsPortHeader, header, resp.StatusCode, want)
			}
		}
		if len(s.force) != 1 {
			t.Errorf("forced reasons %v, want the one through the stats port", s.force)
		}
	})
}

// The endpoints that ask HAProxy itself, against a real one: getpids lists
// the master and its worker (zdd.py waits while there are more than two),
// the stats CSV is HAProxy's with headings Python takes as identifiers, and
// the health check answers 200.
func TestHTTPHandlerAsksHAProxy(t *testing.T) {
	e := newLBEnv(t)
	b := haproxytest.StartBackend(t, "127.0.0.2")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b}}
	e.apply(web)
	srv := httptest.NewServer(HTTPHandler(e.s, HTTPOptions{}))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := e.h.showProcRetry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(p.MasterPID) + " " + strconv.Itoa(p.Workers[0].PID)
	if code, body := get("/_haproxy_getpids"); code != 200 || body != want || len(p.Workers) != 1 {
		t.Errorf("getpids: %d %q, want %q (show proc: %+v)", code, body, want, p)
	}

	// While an old worker finishes a request after a reload, it is listed too
	// (zdd.py waits while there are more than two).
	slow := make(chan error, 1)
	go func() {
		_, err := haproxytest.Get(newClient(), "http://127.0.0.1:"+strconv.Itoa(web.Port)+"/slow/3000")
		slow <- err
	}()
	if !haproxytest.WaitFor(5*time.Second, func() bool { return b.Hits() > 0 }) {
		t.Fatal("the slow request did not reach the backend")
	}
	reloads := e.masterReloads()
	e.s.Reload()
	if !haproxytest.WaitFor(10*time.Second, func() bool { return e.masterReloads() > reloads }) {
		t.Fatal("no reload")
	}
	if code, body := get("/_haproxy_getpids"); code != 200 || len(strings.Fields(body)) != 3 || !strings.HasPrefix(body, strconv.Itoa(p.MasterPID)+" ") {
		t.Errorf("getpids while an old worker finishes a request: %d %q, want the master and two workers", code, body)
	}
	if err := <-slow; err != nil {
		t.Errorf("the slow request across the reload: %v", err)
	}

	for _, path := range []string{"/haproxy?stats;csv", "/_haproxy_stats_csv"} {
		code, body := get(path)
		lines := strings.Split(body, "\n")
		if code != 200 || len(lines) < 3 || lines[len(lines)-1] != "" || lines[len(lines)-2] == "" {
			t.Fatalf("%s: %d, want a CSV ending in one newline:\n%s", path, code, body)
		}
		heads := strings.Split(strings.TrimSuffix(strings.TrimPrefix(lines[0], "# "), ","), ",")
		for _, h := range heads {
			if !isIdentifier(h) {
				t.Errorf("%s: heading %q is not an identifier", path, h)
			}
		}
		found := false
		for _, l := range lines[1:] {
			f := strings.Split(l, ",")
			if len(f) > 1 && f[0] == backendName(web) && f[1] == "127_0_0_2_"+strconv.Itoa(b.Port) {
				found = len(f) == len(heads)+1
			}
		}
		if !found {
			t.Errorf("%s: no row for the server of %s with every column:\n%s", path, web.ID, body)
		}
	}
	if code, _ := get("/haproxy?stats"); code != http.StatusNotFound {
		t.Errorf("/haproxy?stats: %d, want 404 (the HTML page is HAProxy's, on the stats port)", code)
	}
	if code, body := get("/_haproxy_health_check"); code != 200 {
		t.Errorf("health check: %d %q", code, body)
	}
}

// isIdentifier is what Python's str.isidentifier accepts of ASCII, without
// the leading underscore namedtuple refuses.
func isIdentifier(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' && i > 0 || r >= '0' && r <= '9' && i > 0) {
			return false
		}
	}
	return s != ""
}
