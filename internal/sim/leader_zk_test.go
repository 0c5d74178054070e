package sim

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/zktest"
	"github.com/discovery-mesos/discovery/state/mesos"
)

// zkLeader returns the host:port that the lowest json.info_ node under path
// names: the leader, as Mesos clients read ZooKeeper.
func zkLeader(t *testing.T, srv *zktest.Server, path string) (string, int) {
	t.Helper()
	conn := srv.Connect(t)
	kids, _, err := conn.Children(path)
	if err != nil {
		t.Fatalf("listing %s: %v", path, err)
	}
	var infos []string
	for _, k := range kids {
		if strings.HasPrefix(k, "json.info_") {
			infos = append(infos, k)
		}
	}
	slices.Sort(infos)
	if len(infos) == 0 {
		t.Fatalf("no master registered under %s", path)
	}
	data, _, err := conn.Get(path + "/" + infos[0])
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		PID string `json:"pid"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(info.PID, "master@"), len(infos)
}

func TestChangeLeaderThroughZooKeeper(t *testing.T) {
	srv := zktest.Start(t)
	c := start(t, Config{Masters: 3, ZK: srv.Connect(t), ZKPath: "/sim/mesos", Seed: 4})
	src, err := mesos.NewStream(mesos.StreamConfig{
		PollConfig: mesos.PollConfig{ZK: "zk://" + srv.Addr() + "/sim/mesos", RefreshInterval: time.Hour},
		BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := runSource(t, src)
	for round := range 3 {
		leader, n := zkLeader(t, srv, "/sim/mesos")
		if leader != c.Leader().Addr() || n != 3 {
			t.Fatalf("round %d: ZooKeeper names %s of %d masters, the leader is %s", round, leader, n, c.Leader().Addr())
		}
		s.waitAgree(t, c, 10*time.Second)
		if _, err := c.ChangeLeader(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.StartTask(c.Truth().Apps[round].ID); err != nil {
			t.Fatal(err)
		}
	}
}
