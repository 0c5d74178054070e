package lbsync

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
		s.applier.setRunning(m, []byte("global\n  maxconn 10\n"))
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
}
