package lbsync

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// A listener that stops accepting (here paused with "disable frontend", as
// HAProxy 2.6's late pause of a shared socket leaves it after a reload) is
// noticed, and a reload makes HAProxy listen again.
func TestPausedListenerIsReloaded(t *testing.T) {
	e := newLBEnv(t, func(o *SyncerOptions) { o.ListenerCheck = 200 * time.Millisecond })
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	if _, err := haproxytest.Get(newClient(), url(web)); err != nil {
		t.Fatal(err)
	}
	reloads := e.masterReloads()

	conn, err := net.DialTimeout("unix", e.stats, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "disable frontend "+backendName(web)+"\n")
	out, _ := io.ReadAll(conn)
	conn.Close()
	if !refused(t.Context(), "127.0.0.1:"+strconv.Itoa(web.Port)) {
		t.Fatalf("the disabled frontend still accepts connections (%q)", strings.TrimSpace(string(out)))
	}
	if !haproxytest.WaitFor(10*time.Second, func() bool {
		_, err := haproxytest.Get(newClient(), url(web))
		return err == nil
	}) {
		t.Fatalf("the listener was not brought back: %+v", e.s.Status())
	}
	if !haproxytest.WaitFor(5*time.Second, func() bool {
		return e.masterReloads() > reloads && e.counter("discovery_lb_reloads_total", ReasonListenersPaused) >= 1
	}) {
		t.Fatalf("master reloads %d → %d, listeners_paused reloads %v", reloads, e.masterReloads(),
			e.counter("discovery_lb_reloads_total", ReasonListenersPaused))
	}
}

func TestListenerProbe(t *testing.T) {
	for _, tt := range []struct {
		m    *lbmodel.Model
		want string
	}{
		{&lbmodel.Model{Head: "global\nlisten stats\n  bind 0.0.0.0:9090\n  mode http\n"}, "127.0.0.1:9090"},
		{&lbmodel.Model{Head: "global\n", Frontends: []lbmodel.Frontend{
			{Text: "frontend a\n  bind *:10000\n  mode tcp\n"},
			{Text: "frontend b\n  bind 127.0.0.5:10001\n  mode http\n"}}}, "127.0.0.5:10001"},
		{&lbmodel.Model{Head: "global\n  stats socket /x level admin\n", Frontends: []lbmodel.Frontend{
			{Text: "frontend c\n  bind [::]:10002\n"}}}, "127.0.0.1:10002"},
		{&lbmodel.Model{Head: "global\n", Frontends: []lbmodel.Frontend{{Text: "frontend d\n  bind unix@/tmp/x.sock\n"}}}, ""},
		{nil, ""},
	} {
		got, ok := listenerProbe(tt.m)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("listenerProbe = %q, %v; want %q", got, ok, tt.want)
		}
	}
}
