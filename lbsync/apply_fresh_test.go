package lbsync

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// checkGate runs haproxy through a wrapper whose next "haproxy -c", once the
// gate is armed, says it started and waits to be let through: a reload's check
// held for as long as a test needs to change the cluster under it.
type checkGate struct {
	t   *testing.T
	dir string
	bin string
}

func newCheckGate(t *testing.T) *checkGate {
	t.Helper()
	g := &checkGate{t: t, dir: haproxytest.Dir(t)}
	g.bin = filepath.Join(g.dir, "haproxy")
	if err := syscall.Mkfifo(filepath.Join(g.dir, "started"), 0o600); err != nil {
		t.Fatal(err)
	}
	// mv is atomic: one check takes the gate, the others pass.
	script := "#!/bin/sh\n" +
		"D=" + g.dir + "\n" +
		"if [ \"$1\" = -c ] && mv \"$D/gate\" \"$D/gate.held\" 2>/dev/null; then\n" +
		"  echo checking > \"$D/started\"\n" +
		"  read go < \"$D/gate.held\"\n" +
		"fi\n" +
		"exec " + haproxytest.Binary(t) + " \"$@\"\n"
	if err := os.WriteFile(g.bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return g
}

// arm makes the next check wait.
func (g *checkGate) arm() {
	g.t.Helper()
	if err := syscall.Mkfifo(filepath.Join(g.dir, "gate"), 0o600); err != nil {
		g.t.Fatal(err)
	}
}

// waitHeld waits until a check is held at the gate.
func (g *checkGate) waitHeld() {
	g.t.Helper()
	g.fifo(filepath.Join(g.dir, "started"), os.O_RDONLY)
}

// release lets the held check run.
func (g *checkGate) release() {
	g.t.Helper()
	g.fifo(filepath.Join(g.dir, "gate.held"), os.O_WRONLY)
}

// fifo opens a FIFO (which waits for the other end), reads or writes a line,
// and closes it, failing the test after 20 s.
func (g *checkGate) fifo(path string, flag int) {
	g.t.Helper()
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, flag, 0)
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if flag == os.O_WRONLY {
			_, err = f.WriteString("go\n")
		} else {
			_, err = f.Read(make([]byte, 64))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			g.t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		g.t.Fatalf("%s: nobody at the other end after 20s", path)
	}
}

// archived returns the configs reloads loaded, oldest first.
func (e *lbEnv) archived() []string {
	e.t.Helper()
	files, err := e.s.applier.arch.Files()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// Servers that change while a reload's config is being checked are in the
// config the new worker loads: it starts with the live tasks, not with those
// of a config a check-time old, some of which may be dead by then.
func TestServersChangedDuringCheckAreLoaded(t *testing.T) {
	g := newCheckGate(t)
	e := newLBEnv(t, func(o *HAProxyOptions) { o.Binary = g.bin })
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	b3 := haproxytest.StartBackend(t, "127.0.0.4")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	reloads := e.masterReloads()
	archived := len(e.archived())

	// A new app: a reload, whose check is held while web's task moves from
	// b1 to b2.
	g.arm()
	api := testApp{ID: "/api", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b3}}
	e.push(web, api)
	g.waitHeld()
	web.Servers = []*haproxytest.Backend{b2}
	seq := e.push(web, api)
	g.release()
	e.wait(seq)

	if got := e.masterReloads(); got != reloads+1 {
		t.Fatalf("master reloads %d, want %d", got, reloads+1)
	}
	loaded := e.archived()
	if len(loaded) != archived+1 {
		t.Fatalf("%d configs archived, want %d", len(loaded), archived+1)
	}
	cfg := loaded[len(loaded)-1]
	if !strings.Contains(cfg, b2.Addr()) || strings.Contains(cfg, b1.Addr()) || !strings.Contains(cfg, b3.Addr()) {
		t.Fatalf("the reload loaded a config without web's new server %s, or with its old one %s:\n%s", b2.Addr(), b1.Addr(), cfg)
	}
	if got := spread(t, web, 10); got[b2.Addr()] != 10 {
		t.Fatalf("web after the reload: %v, want all on %s", got, b2.Addr())
	}
	if got := spread(t, api, 3); got[b3.Addr()] != 3 {
		t.Fatalf("api after the reload: %v", got)
	}
	if cfg := string(e.s.Config()); !strings.Contains(cfg, b2.Addr()) || strings.Contains(cfg, b1.Addr()) {
		t.Fatalf("config recorded as running:\n%s", cfg)
	}
}

// Servers that change while a reload's config is being checked reach the
// worker that serves meanwhile, through the Runtime API, without waiting for
// the check and the reload.
func TestServersChangedDuringCheckReachTheRunningWorker(t *testing.T) {
	g := newCheckGate(t)
	e := newLBEnv(t, func(o *HAProxyOptions) { o.Binary = g.bin })
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	b3 := haproxytest.StartBackend(t, "127.0.0.4")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	reloads := e.masterReloads()

	g.arm()
	api := testApp{ID: "/api", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b3}}
	e.push(web, api)
	g.waitHeld()
	web.Servers = []*haproxytest.Backend{b2}
	seq := e.push(web, api)
	c := newClient()
	served := haproxytest.WaitFor(10*time.Second, func() bool {
		body, err := haproxytest.Get(c, url(web))
		return err == nil && body == b2.Addr()
	})
	held := e.masterReloads() == reloads
	g.release()
	e.wait(seq)
	if !served {
		t.Fatalf("web's new server %s got no request while the reload's check ran", b2.Addr())
	}
	if !held {
		t.Fatal("the reload was not held by its check")
	}
	if got := spread(t, web, 10); got[b2.Addr()] != 10 {
		t.Fatalf("web after the reload: %v, want all on %s", got, b2.Addr())
	}
}

// A structural change that comes while a reload's config is being checked is
// not loaded unchecked: the reload loads the checked config, and another
// reload, with its own check, brings the change.
func TestStructureChangedDuringCheckIsCheckedFirst(t *testing.T) {
	g := newCheckGate(t)
	e := newLBEnv(t, func(o *HAProxyOptions) { o.Binary = g.bin })
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	b3 := haproxytest.StartBackend(t, "127.0.0.4")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	reloads := e.masterReloads()
	archived := len(e.archived())

	g.arm()
	api := testApp{ID: "/api", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b2}}
	e.push(web, api)
	g.waitHeld()
	db := testApp{ID: "/db", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b3}}
	seq := e.push(web, api, db)
	g.release()
	e.wait(seq)

	if got := e.masterReloads(); got != reloads+2 {
		t.Fatalf("master reloads %d, want %d", got, reloads+2)
	}
	loaded := e.archived()
	if len(loaded) != archived+2 {
		t.Fatalf("%d configs archived, want %d", len(loaded), archived+2)
	}
	if first := loaded[len(loaded)-2]; !strings.Contains(first, b2.Addr()) || strings.Contains(first, b3.Addr()) {
		t.Fatalf("the first reload did not load the checked config:\n%s", first)
	}
	if got := spread(t, db, 3); got[b3.Addr()] != 3 {
		t.Fatalf("db after the second reload: %v", got)
	}
}

// Which newer models a reload may load in place of the checked one: server
// lines only, with options the check saw.
func TestServersOnly(t *testing.T) {
	server := func(name, opts string) lbmodel.Server {
		return lbmodel.Server{Name: name, Host: "127.0.0.2", Port: 8000, Weight: 1, Options: opts}
	}
	model := func(text string, servers ...lbmodel.Server) *lbmodel.Model {
		return &lbmodel.Model{Head: "global\n", Backends: []lbmodel.Backend{
			{Name: "web", Text: text, Dynamic: true, Servers: servers},
			{Name: "api", Text: "backend api\n", Dynamic: true, Servers: []lbmodel.Server{server("a1", "check inter 2s")}},
		}}
	}
	checked := model("backend web\n", server("s1", "check"), server("s2", "check"))
	weighted := server("s3", "check weight 300")
	weighted.Weight = 300
	draining := model("backend web\n", server("s1", "check disabled"), server("s2", "check"))
	draining.Backends[0].Servers[0].Draining = true
	for _, tc := range []struct {
		name string
		next *lbmodel.Model
		ops  int
		ok   bool
	}{
		{"same", model("backend web\n", server("s1", "check"), server("s2", "check")), 0, true},
		{"a server replaced", model("backend web\n", server("s1", "check"), server("s3", "check")), 2, true},
		{"options another backend has", model("backend web\n", server("s3", "check inter 2s")), 3, true},
		{"draining", draining, 1, true},
		{"options the check never saw", model("backend web\n", server("s1", "check"), server("s3", "check port 9000")), 0, false},
		{"a tracking server", model("backend web\n", server("s1", "check"), server("s3", "track api/a1")), 0, false},
		{"a weight HAProxy refuses", model("backend web\n", server("s1", "check"), weighted), 0, false},
		{"a backend changed", model("backend web\n  option forwardfor\n", server("s1", "check"), server("s2", "check")), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, ok := serversOnly(checked, tc.next)
			if ok != tc.ok || (ok && ops != tc.ops) {
				t.Fatalf("serversOnly = %d, %v; want %d, %v", ops, ok, tc.ops, tc.ok)
			}
		})
	}
}
