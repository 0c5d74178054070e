package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/internal/zktest"
)

// mesosDNSConfig writes a config.json in mesos-dns's own format (its keys, its
// spelling) for masters and/or zk, on loopback ports chosen by the test.
func mesosDNSConfig(t *testing.T, masters []string, zkURL string, refresh int) Config {
	t.Helper()
	doc := map[string]any{
		"refreshSeconds":      refresh,
		"stateTimeoutSeconds": 5,
		"ttl":                 60,
		"domain":              "mesos",
		"port":                0,
		"resolvers":           []string{"127.0.0.1"},
		"timeout":             5,
		"httpon":              true,
		"dnson":               true,
		"httpport":            0,
		"externalon":          false,
		"listener":            "127.0.0.1",
		"httpListener":        "127.0.0.1",
		"SOAMname":            "ns1.mesos",
		"SOARname":            "root.ns1.mesos",
		"SOARefresh":          60,
		"SOARetry":            600,
		"SOAExpire":           86400,
		"SOAMinttl":           60,
		"IPSources":           []string{"netinfo", "mesos", "host"},
	}
	if len(masters) > 0 {
		doc["masters"] = masters
	}
	if zkURL != "" {
		doc["zk"] = zkURL
		doc["zkDetectionTimeout"] = 30
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseArgs([]string{"-config", writeConfig(t, string(b))}, io.Discard)
	if err != nil {
		t.Fatalf("mesos-dns config rejected: %v", err)
	}
	return o.cfg
}

func renameTask(t *testing.T, m *fakemaster.Master, from, to string) {
	t.Helper()
	err := m.EditState(func(doc map[string]any) error {
		for _, f := range doc["frameworks"].([]any) {
			for _, tk := range f.(map[string]any)["tasks"].([]any) {
				task := tk.(map[string]any)
				if task["name"] == from {
					task["name"] = to
					return nil
				}
			}
		}
		return fmt.Errorf("no task %q", from)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func resolves(t *testing.T, addr, name string) bool {
	return len(aRecords(query(t, "udp", addr, name, dns.TypeA))) > 0
}

func leaderPort(t *testing.T, addr string) uint16 {
	r := query(t, "udp", addr, "_leader._tcp.mesos", dns.TypeSRV)
	for _, rr := range r.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			return srv.Port
		}
	}
	return 0
}

// The promise: an unchanged mesos-dns config.json starts the daemon, which
// follows the leader through a static list and survives a master answering garbage.
func TestDaemonFollowsLeaderThroughStaticMasters(t *testing.T) {
	a := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	b := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	b.SetLeader(a.Addr())
	b.SetMode(fakemaster.NotLeading) // the first master listed is not the leader

	d := startDaemon(t, mesosDNSConfig(t, []string{b.Addr(), a.Addr()}, "", 1))
	addr := d.dns.Addr()
	waitFor(t, 10*time.Second, "tasks served from the leader", func() bool { return resolves(t, addr, "nginx.marathon.mesos") })
	if got := leaderPort(t, addr); got != uint16(a.Port()) {
		t.Fatalf("_leader._tcp port %d, want leader a's %d", got, a.Port())
	}

	// The leader moves to b, whose state differs.
	renameTask(t, b, "nginx", "fresh")
	b.SetMode(fakemaster.Leading)
	a.SetLeader(b.Addr())
	a.SetMode(fakemaster.NotLeading)
	waitFor(t, 5*time.Second, "new leader's tasks", func() bool { return resolves(t, addr, "fresh.marathon.mesos") })
	if got := leaderPort(t, addr); got != uint16(b.Port()) {
		t.Fatalf("_leader._tcp port %d after failover, want b's %d", got, b.Port())
	}

	// Both masters answer garbage: the last good view keeps answering, the
	// failure is visible.
	a.SetMode(fakemaster.Garbage)
	b.SetMode(fakemaster.Garbage)
	waitFor(t, 5*time.Second, "garbage reported", func() bool {
		for _, s := range d.hub.Sources() {
			if s.LastError != nil && strings.Contains(s.LastError.Error(), "127.0.0.1") {
				return true
			}
		}
		return false
	})
	if !resolves(t, addr, "fresh.marathon.mesos") {
		t.Fatal("a master answering garbage emptied the view")
	}
	b.SetMode(fakemaster.Leading)
	renameTask(t, b, "fresh", "recovered")
	waitFor(t, 5*time.Second, "recovery", func() bool { return resolves(t, addr, "recovered.marathon.mesos") })
}

// The promise: the leader is followed through ZooKeeper (a real one).
func TestDaemonFollowsLeaderThroughZooKeeper(t *testing.T) {
	zks := zktest.Start(t)
	conn := zks.Connect(t)
	a := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	b := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	b.SetLeader(a.Addr())
	b.SetMode(fakemaster.NotLeading)
	nodeA := zktest.RegisterMaster(t, conn, "/mesos", a.MasterInfo())
	zktest.RegisterMaster(t, conn, "/mesos", b.MasterInfo())

	// refreshSeconds is long: only ZooKeeper's leader change can make the daemon
	// fetch from the new leader in time.
	d := startDaemon(t, mesosDNSConfig(t, nil, "zk://"+zks.Addr()+"/mesos", 60))
	addr := d.dns.Addr()
	waitFor(t, 10*time.Second, "tasks served from the ZooKeeper leader", func() bool { return resolves(t, addr, "nginx.marathon.mesos") })

	renameTask(t, b, "nginx", "fresh")
	b.SetMode(fakemaster.Leading)
	a.SetLeader(b.Addr())
	a.SetMode(fakemaster.NotLeading)
	start := time.Now()
	if err := conn.Delete(nodeA, -1); err != nil && err != zk.ErrNoNode {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "new ZooKeeper leader followed", func() bool { return resolves(t, addr, "fresh.marathon.mesos") })
	t.Logf("new leader's state served %v after the old leader's znode went away", time.Since(start))
	if got := leaderPort(t, addr); got != uint16(b.Port()) {
		t.Fatalf("_leader._tcp port %d, want b's %d", got, b.Port())
	}
}
