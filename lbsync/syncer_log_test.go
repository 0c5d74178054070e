package lbsync

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// A change made through the Runtime API is one INFO line that names the
// servers that came and went: the operator sees which task moved without
// debug logging.
func TestRuntimeChangeIsLoggedByServer(t *testing.T) {
	var logs statetest.LogBuffer
	e := newLBEnv(t, func(o *SyncerOptions) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	b1 := haproxytest.StartBackend(t, "127.0.0.2")
	b2 := haproxytest.StartBackend(t, "127.0.0.3")
	web := testApp{ID: "/web", Port: haproxytest.FreePort(t, "127.0.0.1"), Servers: []*haproxytest.Backend{b1}}
	e.apply(web)
	web.Servers = []*haproxytest.Backend{b2}
	e.apply(web)
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `msg="haproxy servers changed"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no INFO line for the runtime change:\n%s", logs.String())
	}
	for _, want := range []string{"level=INFO", "via=\"runtime api\"", "ops=2", "add ", b2.Addr(), "remove "} {
		if !strings.Contains(line, want) {
			t.Errorf("the line lacks %q: %s", want, line)
		}
	}
}

func TestOpsSummary(t *testing.T) {
	op := func(kind lbmodel.RuntimeOpKind, name string) lbmodel.RuntimeOp {
		return lbmodel.RuntimeOp{Kind: kind, Backend: "web_10000", Server: lbmodel.Server{Name: name, Host: "127.0.0.2", Port: 31000, Weight: 1}}
	}
	ops := []lbmodel.RuntimeOp{op(lbmodel.OpAdd, "a"), op(lbmodel.OpRemove, "b"), op(lbmodel.OpAdd, "c"), op(lbmodel.OpAdd, "d"), op(lbmodel.OpAdd, "e")}
	want := "add web_10000/a 127.0.0.2:31000; remove web_10000/b; add web_10000/c 127.0.0.2:31000; and 2 more"
	if got := opsSummary(ops); got != want {
		t.Errorf("opsSummary = %q\nwant          %q", got, want)
	}
	if got := opsSummary(ops[:1]); got != "add web_10000/a 127.0.0.2:31000" {
		t.Errorf("one op: %q", got)
	}
}
