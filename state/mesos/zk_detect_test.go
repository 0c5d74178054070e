package mesos

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/internal/zktest"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

func TestParseZKURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    ZKURL
		wantErr string
	}{
		{raw: "zk://127.0.0.1:2181/mesos", want: ZKURL{Servers: []string{"127.0.0.1:2181"}, Path: "/mesos"}},
		{raw: "zk://h1:2181,h2:2182,h3/mesos/", want: ZKURL{Servers: []string{"h1:2181", "h2:2182", "h3:2181"}, Path: "/mesos"}},
		{raw: "zk://[::1]:2181,[fd00::2]/a/b", want: ZKURL{Servers: []string{"[::1]:2181", "[fd00::2]:2181"}, Path: "/a/b"}},
		{raw: "zk://dns:p%40ss@127.0.0.1:2181/mesos", want: ZKURL{Servers: []string{"127.0.0.1:2181"}, Path: "/mesos", User: "dns", Password: "p@ss"}},
		{raw: "http://127.0.0.1:2181/mesos", wantErr: "zk://"},
		{raw: "zk:///mesos", wantErr: "no ZooKeeper server"},
		{raw: "zk://127.0.0.1:2181", wantErr: "no path"},
		{raw: "zk://127.0.0.1:2181/", wantErr: "no path"},
		{raw: "zk://h1:2181,,h2:2181/mesos", wantErr: "empty server"},
		{raw: "zk://h1:99999/mesos", wantErr: "bad port"},
		{raw: "zk://h1:x/mesos", wantErr: "bad port"},
		{raw: "zk://h1:2181/mesos/../x", wantErr: "bad path"},
		{raw: "zk://nopass@h1:2181/mesos", wantErr: "user:password"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseZKURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Servers, ",") != strings.Join(tt.want.Servers, ",") || got.Path != tt.want.Path ||
				got.User != tt.want.User || got.Password != tt.want.Password {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestZKURLHidesPassword(t *testing.T) {
	u, err := ParseZKURL("zk://dns:s3cret@127.0.0.1:2181/mesos")
	if err != nil {
		t.Fatal(err)
	}
	if s := u.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "dns:***@") {
		t.Errorf("String() = %q", s)
	}
	_, err = ParseZKURL("zk://dns:s3cret@127.0.0.1:99999/mesos")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v shows the password", err)
	}
}

// RedactZK is the one redactor of zk:// URLs (the daemon's configuration
// page uses it too): no credential it is given comes out.
func TestRedactZK(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"zk://dns:s3cret@127.0.0.1:2181/mesos", "zk://dns:***@127.0.0.1:2181/mesos"},
		{"zk://dns:s3:cret@h1:2181,h2:2181/mesos", "zk://dns:***@h1:2181,h2:2181/mesos"},
		{"zk://s3cret@127.0.0.1:2181/mesos", "zk://***@127.0.0.1:2181/mesos"},
		{"zk://dns:s3cret@127.0.0.1:2181", "zk://dns:***@127.0.0.1:2181"},
		{"zk://127.0.0.1:2181/mesos", "zk://127.0.0.1:2181/mesos"},
		{"zk://127.0.0.1:2181/mesos@x", "zk://127.0.0.1:2181/mesos@x"},
		{"http://dns:s3cret@h/mesos", "http://dns:s3cret@h/mesos"},
		{"", ""},
	} {
		if got := RedactZK(tt.raw); got != tt.want {
			t.Errorf("RedactZK(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestMasterFromInfo(t *testing.T) {
	tests := []struct {
		name, info string
		want       state.Master
		wantErr    bool
	}{
		{
			name: "mesos 1.x",
			info: `{"address":{"hostname":"m1.example","ip":"10.0.0.1","port":5050},"hostname":"m1.example","id":"id1","ip":16777226,"pid":"master@10.0.0.1:5050","port":5050,"version":"1.11.0"}`,
			want: state.Master{ID: "id1", Hostname: "m1.example", PID: "master@10.0.0.1:5050", Host: "10.0.0.1", Port: 5050},
		},
		{
			name: "pid only",
			info: `{"id":"id2","pid":"master@[fd00::1]:5051"}`,
			want: state.Master{ID: "id2", PID: "master@[fd00::1]:5051", Host: "fd00::1", Port: 5051},
		},
		{
			name: "packed ip only",
			info: `{"id":"id3","ip":16777343,"port":5050}`,
			want: state.Master{ID: "id3", Host: "127.0.0.1", Port: 5050},
		},
		{name: "no address", info: `{"id":"x"}`, wantErr: true},
		{name: "not json", info: `master@1.2.3.4:5050`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := masterFromInfo([]byte(tt.info))
			if tt.wantErr {
				if err == nil {
					t.Errorf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// zkCluster is a real ZooKeeper with fake masters registered in it.
type zkCluster struct {
	zk      *zktest.Server
	conn    *zk.Conn
	masters []*fakemaster.Master
	nodes   []string
}

func startZKCluster(t *testing.T, n int) *zkCluster {
	t.Helper()
	c := &zkCluster{zk: zktest.Start(t)}
	c.conn = c.zk.Connect(t)
	for range n {
		m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
		c.masters = append(c.masters, m)
		c.nodes = append(c.nodes, zktest.RegisterMaster(t, c.conn, "/mesos", m.MasterInfo()))
	}
	return c
}

func TestZKFollowsLeaderFailover(t *testing.T) {
	c := startZKCluster(t, 2)
	m1, m2 := c.masters[0], c.masters[1]
	// An hour between polls: only ZooKeeper can make the poller fetch again.
	_, sink := runPoller(t, PollConfig{
		ZK:              "zk://" + c.zk.Addr() + "/mesos",
		RefreshInterval: time.Hour,
	})
	cl := sink.NextCluster(t, 10*time.Second, "from the first leader", servedBy(m1))
	if len(cl.Masters) != 2 || cl.Masters[0].ID != m1.ID() || cl.Masters[1].ID != m2.ID() ||
		cl.Masters[1].Port != m2.Port() || cl.Masters[0].PID != m1.PID() {
		t.Errorf("Masters = %+v, want m1 then m2 as registered", cl.Masters)
	}

	// m1 loses its ZooKeeper node; it keeps serving state (as a master cut off
	// from ZooKeeper might), so only following ZooKeeper finds m2.
	began := time.Now()
	if err := c.conn.Delete(c.nodes[0], -1); err != nil {
		t.Fatal(err)
	}
	cl = sink.NextCluster(t, 2*time.Second, "from the new leader within 2s", servedBy(m2))
	t.Logf("new leader followed %v after the old one's node was deleted", time.Since(began))
	if len(cl.Masters) != 1 || cl.Masters[0].ID != m2.ID() {
		t.Errorf("Masters = %+v, want only m2", cl.Masters)
	}
}

func TestZKMemberDownAtStart(t *testing.T) {
	c := startZKCluster(t, 1)
	for _, order := range []string{"dead first", "dead last"} {
		t.Run(order, func(t *testing.T) {
			servers := []string{deadAddr(t), c.zk.Addr()}
			if order == "dead last" {
				servers[0], servers[1] = servers[1], servers[0]
			}
			_, sink := runPoller(t, PollConfig{
				ZK:              "zk://" + strings.Join(servers, ",") + "/mesos",
				RefreshInterval: time.Hour,
			})
			sink.NextCluster(t, 10*time.Second, "through the live member", servedBy(c.masters[0]))
		})
	}
}

func TestZKUnreachableFallsBackToStaticMasters(t *testing.T) {
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	began := time.Now()
	_, sink := runPoller(t, PollConfig{
		ZK:                 "zk://" + deadAddr(t) + "/mesos",
		ZKDetectionTimeout: 300 * time.Millisecond,
		Masters:            []string{m.Addr()},
	})
	cl := sink.NextCluster(t, 5*time.Second, "from the static master", servedBy(m))
	if waited := time.Since(began); waited < 300*time.Millisecond {
		t.Errorf("fell back after %v, before zkDetectionTimeout", waited)
	}
	if len(cl.Masters) != 1 || masterAddr(cl.Masters[0]) != m.Addr() {
		t.Errorf("Masters = %+v, want the static list", cl.Masters)
	}
}

func TestZKNoMasterAnywhere(t *testing.T) {
	z := zktest.Start(t)
	_, sink := runPoller(t, PollConfig{ZK: "zk://" + z.Addr() + "/mesos"})
	sink.NextFailure(t, 10*time.Second, "no Mesos master known")
}

func TestZKSurvivesZooKeeperRestart(t *testing.T) {
	c := startZKCluster(t, 2)
	m1, m2 := c.masters[0], c.masters[1]
	_, sink := runPoller(t, PollConfig{
		ZK:              "zk://" + c.zk.Addr() + "/mesos",
		RefreshInterval: time.Hour,
	})
	sink.NextCluster(t, 10*time.Second, "from the first leader", servedBy(m1))

	c.zk.Stop()
	c.zk.Restart()
	// The registering session survives a quick restart (sessions are persisted),
	// and so do its nodes; the detector must pick up changes again. A new
	// session (Connect waits for it) takes the old leader's node away. On a
	// slow machine the registering session may have expired meanwhile, which
	// removes the node just the same.
	if err := c.zk.Connect(t).Delete(c.nodes[0], -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		t.Fatal(err)
	}
	sink.NextCluster(t, 20*time.Second, "from the new leader after the restart", servedBy(m2))
}

func TestZKDigestAuth(t *testing.T) {
	z := zktest.Start(t)
	conn := z.Connect(t)
	if err := conn.AddAuth("digest", []byte("dns:s3cret")); err != nil {
		t.Fatal(err)
	}
	acl := zk.DigestACL(zk.PermAll, "dns", "s3cret")
	if err := zktest.CreatePath(conn, "/secure/mesos", acl); err != nil {
		t.Fatal(err)
	}
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	if _, err := conn.Create("/secure/mesos/json.info_0000000001", m.MasterInfo(), zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}

	t.Run("with credentials", func(t *testing.T) {
		_, sink := runPoller(t, PollConfig{ZK: "zk://dns:s3cret@" + z.Addr() + "/secure/mesos"})
		sink.NextCluster(t, 10*time.Second, "through the protected path", servedBy(m))
	})
	t.Run("without", func(t *testing.T) {
		d := NewZKDetector(ZKURL{Servers: []string{z.Addr()}, Path: "/secure/mesos"}, 0, statetest.Log(t))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		defer func() { cancel(); <-done }()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case <-d.Changed():
				if v := d.View(); v.Err != nil {
					if !errors.Is(v.Err, zk.ErrNoAuth) {
						t.Errorf("Err = %v, want ErrNoAuth", v.Err)
					}
					return
				} else if len(v.Masters) > 0 {
					t.Fatalf("read the masters without credentials: %+v", v.Masters)
				}
			case <-deadline:
				t.Fatal("no authentication failure reported")
			}
		}
	})
}

func TestZKStaleViewFallsBackToStaticMasters(t *testing.T) {
	c := startZKCluster(t, 1)
	static := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	_, sink := runPoller(t, PollConfig{
		ZK:                 "zk://" + c.zk.Addr() + "/mesos",
		ZKDetectionTimeout: 300 * time.Millisecond,
		Masters:            []string{static.Addr()},
		RefreshInterval:    50 * time.Millisecond,
	})
	cl := sink.NextCluster(t, 10*time.Second, "through zookeeper", servedBy(c.masters[0]))
	if len(cl.Masters) != 1 || cl.Masters[0].ID != c.masters[0].ID() {
		t.Fatalf("Masters = %+v, want zookeeper's", cl.Masters)
	}

	// ZooKeeper goes away for longer than zkDetectionTimeout: its view is
	// dropped for the static list. The leader it named still serves, so the
	// state keeps coming from it.
	began := time.Now()
	c.zk.Stop()
	sink.NextCluster(t, 5*time.Second, "with the static masters", func(cl *state.Cluster) bool {
		return len(cl.Masters) == 1 && masterAddr(cl.Masters[0]) == static.Addr() && servedBy(c.masters[0])(cl)
	})
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("dropped zookeeper's view after %v, before zkDetectionTimeout", d)
	}

	// ZooKeeper returns: its view is used again.
	c.zk.Restart()
	sink.NextCluster(t, 10*time.Second, "through zookeeper again", func(cl *state.Cluster) bool {
		return len(cl.Masters) == 1 && cl.Masters[0].ID == c.masters[0].ID()
	})
}

// silentFirstProxy accepts connections on 127.0.0.1 and holds the first one
// open without a word, as a ZooKeeper whose port is bound before it serves
// does; later connections are passed through to target.
func silentFirstProxy(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			if n == 0 {
				continue // silent
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			held = append(held, up)
			mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// A server that takes the connection and never answers the handshake does
// not hold the detector for the client's own handshake timeout (ten receive
// timeouts: 20 s with this 3 s session): it gives up after a third of the
// session timeout and connects again.
func TestZKSilentServerDoesNotHoldTheHandshake(t *testing.T) {
	c := startZKCluster(t, 1)
	proxy := silentFirstProxy(t, c.zk.Addr())
	began := time.Now()
	_, sink := runPoller(t, PollConfig{
		ZK:               "zk://" + proxy + "/mesos",
		ZKSessionTimeout: 3 * time.Second,
		RefreshInterval:  time.Hour,
	})
	sink.NextCluster(t, 8*time.Second, "through zookeeper after the silent connection", servedBy(c.masters[0]))
	t.Logf("leader found %v after start", time.Since(began).Round(time.Millisecond))
}
