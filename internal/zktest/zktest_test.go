package zktest

import (
	"syscall"
	"testing"
	"time"
)

func TestStartStopRestart(t *testing.T) {
	start := time.Now()
	s := Start(t)
	t.Logf("zookeeper answered after %v", time.Since(start))
	if !ruok(s.Addr()) {
		t.Fatal("server does not answer ruok after Start")
	}
	conn := s.Connect(t)
	node := RegisterMaster(t, conn, "/mesos/nested", []byte(`{"id":"m1"}`))
	if want := "/mesos/nested/json.info_0000000000"; node != want {
		t.Errorf("registered %q, want %q", node, want)
	}
	children, _, err := conn.Children("/mesos/nested")
	if err != nil || len(children) != 1 {
		t.Fatalf("children %v, %v", children, err)
	}

	pid := s.cmd.Process.Pid
	s.Stop()
	if ruok(s.Addr()) {
		t.Fatal("server still answers after Stop")
	}
	if processAlive(pid) {
		t.Fatalf("zookeeper process %d still alive after Stop", pid)
	}
	s.Stop() // idempotent

	s.Restart()
	if !ruok(s.Addr()) {
		t.Fatal("server does not answer after Restart")
	}
	// The data survives a restart: the persistent parent is still there.
	conn2 := s.Connect(t)
	if ok, _, err := conn2.Exists("/mesos/nested"); err != nil || !ok {
		t.Errorf("/mesos/nested after restart: exists=%v err=%v", ok, err)
	}
	if ok, _, _ := conn2.Exists("/zookeeper"); !ok {
		t.Error("no /zookeeper node")
	}
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}
