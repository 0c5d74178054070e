package lbsync

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

func TestServerStatePath(t *testing.T) {
	for _, tc := range []struct{ head, want string }{
		{"global\n  server-state-file /var/lib/haproxy/state\ndefaults\n", "/var/lib/haproxy/state"},
		// marathon-lb's head: a base and a relative name.
		{"global\n  server-state-file global\n  server-state-base /var/state/haproxy/\ndefaults\n  load-server-state-from-file global\n", "/var/state/haproxy/global"},
		{"global\n  # server-state-file /commented\n  maxconn 10\n", ""},
		// Only the global section's keyword counts.
		{"global\n  maxconn 10\nbackend b\n  server-state-file-name x\n", ""},
		{"", ""},
	} {
		if got := serverStatePath(tc.head); got != tc.want {
			t.Errorf("serverStatePath(%q) = %q, want %q", tc.head, got, tc.want)
		}
	}
}

func TestServerStateWithout(t *testing.T) {
	out := "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n" +
		"3 web 1 a 127.0.0.2 0 1 1\n" + // maintenance the syncer set (draining): cleared
		"3 web 2 b 127.0.0.3 0 1 1\n" + // an operator's: kept
		"3 web 3 c 127.0.0.4 0 5 1\n" + // the syncer's, with config maintenance: only the CLI bit goes
		"3 web 4 d 127.0.0.5 2 0 1\n\n"
	ours := map[serverKey]bool{{"web", "a"}: true, {"web", "c"}: true, {"web", "d"}: true}
	got, err := serverStateWithout(out, ours)
	if err != nil {
		t.Fatal(err)
	}
	want := "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n" +
		"3 web 1 a 127.0.0.2 0 0 1\n" +
		"3 web 2 b 127.0.0.3 0 1 1\n" +
		"3 web 3 c 127.0.0.4 0 4 1\n" +
		"3 web 4 d 127.0.0.5 2 0 1\n\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := serverStateWithout("2\n", nil); err == nil {
		t.Error("an unknown format version was accepted")
	}
	if got, err := serverStateWithout("", nil); err != nil || string(got) != lbmodel.EmptyServerState {
		t.Errorf("empty answer: %q, %v", got, err)
	}
}

// stateEnv runs an lbEnv whose head keeps server states in a file, with one
// app of two servers applied.
func stateEnv(t *testing.T) (e *lbEnv, head, stateFile string, web testApp) {
	e = newLBEnv(t)
	stateFile = filepath.Join(e.dir, "server-state")
	head = strings.Replace(haproxytest.Head(e.stats), "global\n", "global\n  server-state-file "+stateFile+"\n", 1) +
		"  load-server-state-from-file global\n"
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	web = testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1, b2}}
	e.wait(e.pushHead(head, web))
	return e, head, stateFile, web
}

// A server an operator put in maintenance through the stats socket stays in
// maintenance across a reload (a structural change), with the states kept
// in the server-state file the global section names.
func TestOperatorMaintenanceSurvivesReload(t *testing.T) {
	e, head, stateFile, web := stateEnv(t)
	b1, b2 := web.Servers[0], web.Servers[1]
	if b, err := os.ReadFile(stateFile); err != nil || string(b) != lbmodel.EmptyServerState {
		t.Fatalf("server-state file at start: %q, %v; want an empty one", b, err)
	}

	maint := backendName(web) + "/127_0_0_2_" + strconv.Itoa(b1.Port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := unixCommand(ctx, e.stats, "set server "+maint+" state maint"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("set server state maint: %q, %v", out, err)
	}
	reloads := e.masterReloads()
	api := testApp{ID: "/api", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b2}}
	e.wait(e.pushHead(head, web, api))
	if got := e.masterReloads(); got != reloads+1 {
		t.Fatalf("master reloads %d, want %d: the new app must reload", got, reloads+1)
	}
	out, err := unixCommand(ctx, e.stats, "show stat")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, ",127_0_0_2_"+strconv.Itoa(b1.Port)+",") || !strings.Contains(statusOf(out, "127_0_0_2_"+strconv.Itoa(b1.Port)), "MAINT") {
		t.Errorf("after the reload, %s is %q, want MAINT:\n%s", maint, statusOf(out, "127_0_0_2_"+strconv.Itoa(b1.Port)), out)
	}
	if got := spread(t, web, 6); got[b1.Addr()] != 0 || got[b2.Addr()] != 6 {
		t.Errorf("traffic after the reload: %v, want none to the server in maintenance", got)
	}
}

// A server the syncer put in maintenance at runtime (draining for a
// blue/green deployment) is back in service after a reload whose config no
// longer drains it, when that reload carries the change (its backend changed
// too, so the change is not made at runtime first): the server-state file
// keeps only maintenance the syncer did not set itself.
func TestSyncerMaintenanceEndsWithTheReload(t *testing.T) {
	e, head, _, web := stateEnv(t)
	sv := "127_0_0_2_" + strconv.Itoa(web.Servers[0].Port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status := func() string {
		out, err := unixCommand(ctx, e.stats, "show stat")
		if err != nil {
			t.Fatal(err)
		}
		return statusOf(out, sv)
	}

	reloads := e.masterReloads()
	draining := web
	draining.Draining = []int{0}
	e.wait(e.pushHead(head, draining))
	if got := status(); got != "MAINT" || e.masterReloads() != reloads {
		t.Fatalf("draining at runtime: %s is %q after %d reloads, want MAINT and none", sv, got, e.masterReloads()-reloads)
	}
	changed := web
	changed.Extra = "  timeout server 29s\n"
	e.wait(e.pushHead(head, changed))
	if got := e.masterReloads(); got != reloads+1 {
		t.Fatalf("master reloads %d, want %d", got, reloads+1)
	}
	if got := status(); strings.Contains(got, "MAINT") {
		t.Errorf("after the reload that ends its draining, %s is %q, want back in service", sv, got)
	}
}

// statusOf returns the status column of server sv in a "show stat" answer.
func statusOf(csv, sv string) string {
	lines := strings.Split(csv, "\n")
	col := -1
	for i, h := range strings.Split(strings.TrimPrefix(lines[0], "# "), ",") {
		if h == "status" {
			col = i
		}
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) > col && col >= 0 && f[1] == sv {
			return f[col]
		}
	}
	return ""
}

// A task that starts while a removed task's server is parked (kept in
// maintenance until the next reload, with its id) and whose stable server id
// is that same id is added at runtime all the same: no reload.
func TestRuntimeAddBesideAParkedServerWithItsID(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	// Both servers carry id 7, as two task names whose hashes meet would.
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}, ServerOptions: "check inter 1s id 7"}
	e.wait(e.push(web))
	reloads := e.masterReloads()
	moved := web
	moved.Servers = []*haproxytest.Backend{b2}
	e.wait(e.push(moved))
	if got := e.masterReloads(); got != reloads {
		t.Fatalf("master reloads %d, want %d: the new server must be added at runtime", got, reloads)
	}
	if !haproxytest.WaitFor(10*time.Second, func() bool { return spread(t, moved, 4)[b2.Addr()] == 4 }) {
		t.Fatalf("traffic does not reach the added server %s: %v", b2.Addr(), spread(t, moved, 4))
	}
}
