package lbsync

import (
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// A structural change (a new app) and a server change (another app scaled up)
// in one apply: the server change is made through the Runtime API before the
// reload, and after it HAProxy runs both.
func TestServerChangesRunAheadOfAReload(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	b3 := haproxytest.StartBackend(t, "127.0.0.4")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	reloads := e.masterReloads()
	adds := e.counter("discovery_lb_runtime_ops_total", "add")

	web.Servers = []*haproxytest.Backend{b1, b2}
	api := testApp{ID: "/api", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b3}}
	e.apply(web, api)
	if got := e.masterReloads(); got != reloads+1 {
		t.Fatalf("master reloads %d, want %d", got, reloads+1)
	}
	if got := e.counter("discovery_lb_runtime_ops_total", "add"); got != adds+1 {
		t.Fatalf("runtime adds %v, want %v: the new web server was not added ahead of the reload", got, adds+1)
	}
	got := spread(t, web, 20)
	if got[b1.Addr()] == 0 || got[b2.Addr()] == 0 {
		t.Fatalf("web after the reload: %v, want both servers", got)
	}
	if got := spread(t, api, 3); got[b3.Addr()] != 3 {
		t.Fatalf("api after the reload: %v", got)
	}
	// The file on disk is the reloaded config, and it has everything.
	if cfg := string(e.s.Config()); !strings.Contains(cfg, b2.Addr()) || !strings.Contains(cfg, b3.Addr()) {
		t.Fatalf("config lacks a server:\n%s", cfg)
	}
}
