package lbsync

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// TestChangeFeedAndServerHealth: the status page's feed lists the reload and
// the runtime changes in order, each saying what it did; HAProxy's own view of
// each server (its health check passing, or failing for a dead task) is read
// from the stats socket.
func TestChangeFeedAndServerHealth(t *testing.T) {
	e := newLBEnv(t)
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	app := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(app)
	app.Servers = []*haproxytest.Backend{b1, b2}
	e.apply(app)

	feed := e.s.Status().Changes
	if len(feed) != 2 {
		t.Fatalf("feed %+v, want the first reload and one runtime change", feed)
	}
	if feed[0].Via != "reload" || !strings.Contains(feed[0].Summary(), "initial") {
		t.Errorf("first change %q: %q", feed[0].Via, feed[0].Summary())
	}
	name := backendName(app)
	if feed[1].Via != "runtime api" || feed[1].Seq == 0 || !strings.Contains(feed[1].Summary(), "add "+name+"/127_0_0_3_") {
		t.Errorf("second change %q seq %d: %q", feed[1].Via, feed[1].Seq, feed[1].Summary())
	}
	if feed[1].At.Before(feed[0].At) {
		t.Errorf("feed not in order: %v then %v", feed[0].At, feed[1].At)
	}

	// b2 dies: its check (inter 1s) fails while b1's passes.
	b2.Close()
	server := func(b *haproxytest.Backend) string {
		return name + "/" + strings.ReplaceAll(b.Host, ".", "_") + "_" + strconv.Itoa(b.Port)
	}
	var health map[string]ServerHealth
	if !haproxytest.WaitFor(15*time.Second, func() bool {
		var err error
		health, err = e.s.ServerHealth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return strings.HasPrefix(health[server(b2)].Status, "DOWN") && health[server(b1)].Status == "UP"
	}) {
		t.Fatalf("health %+v: want %s UP and %s DOWN", health, server(b1), server(b2))
	}
	if c := health[server(b1)].Check; !strings.HasPrefix(c, "L7OK") && !strings.HasPrefix(c, "L4OK") {
		t.Errorf("%s check %q", server(b1), c)
	}
}

func TestParseServerHealthNeedsItsColumns(t *testing.T) {
	if _, err := parseServerHealth("# pxname,svname,scur\nweb,s1,0\n"); err == nil || !strings.Contains(err.Error(), "status") {
		t.Errorf("err = %v", err)
	}
	if _, err := parseServerHealth("garbage"); err == nil {
		t.Error("no header accepted")
	}
}
