// Package zktest runs a real ZooKeeper server for tests: Debian's zookeeper
// package, standalone, in a temporary directory on a free loopback port.
//
// Leader detection has to be tested against the real thing: session expiry,
// watches re-armed after a reconnect and a server that goes away are where ZooKeeper
// clients break, and no fake reproduces them faithfully. The server starts in
// about a second (one JVM, no quorum, no admin server, no fsync), serves clients
// before Start returns, and is killed by PID when the test ends — no process is
// left behind.
//
// Without ZooKeeper installed the test is skipped, unless CI=true, where a missing
// dependency must fail loudly instead of silently testing less.
package zktest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/discovery-mesos/discovery/internal/freeport"
)

// Where Debian's zookeeper package puts the server. The jar's manifest carries
// the class path of its dependencies.
const (
	zookeeperJar   = "/usr/share/java/zookeeper.jar"
	slf4jSimpleJar = "/usr/share/java/slf4j-simple.jar"
)

// startTimeout bounds how long Start waits for the server to serve.
const startTimeout = 20 * time.Second

// Server is one standalone ZooKeeper server.
type Server struct {
	t    testing.TB
	java string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has been waited for
	log  *os.File
}

// Start starts a ZooKeeper server and stops it when the test ends. It skips the
// test when ZooKeeper is not installed (fails it when CI=true).
func Start(t testing.TB) *Server {
	t.Helper()
	java, err := findZooKeeper()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("zookeeper is required in CI: %v", err)
		}
		t.Skipf("zookeeper not available: %v", err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatalf("finding a port for zookeeper: %v", err)
	}
	s := &Server{t: t, java: java, dir: t.TempDir(), port: port}
	cfg := fmt.Sprintf(`tickTime=200
minSessionTimeout=400
maxSessionTimeout=30000
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
`, filepath.Join(s.dir, "data"), port)
	if err := os.WriteFile(filepath.Join(s.dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatalf("writing zoo.cfg: %v", err)
	}
	t.Cleanup(s.Stop)
	s.start()
	return s
}

func findZooKeeper() (string, error) {
	if _, err := os.Stat(zookeeperJar); err != nil {
		return "", fmt.Errorf("%s: %w (apt-get install zookeeper)", zookeeperJar, err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("java: %w", err)
	}
	return java, nil
}

// FreePort returns a loopback TCP port that was free a moment ago and was not
// handed out before in this process (see package freeport).
func FreePort() (int, error) { return freeport.Take("127.0.0.1") }

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's client port.
func (s *Server) Port() int { return s.port }

func (s *Server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatalf("zookeeper on %s is already running", s.Addr())
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("zookeeper log: %v", err)
	}
	cmd := exec.Command(s.java,
		// A small, quick-starting JVM: tests need seconds, not throughput.
		"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
		"-Dzookeeper.admin.enableServer=false",
		// No fsync and no 64 MB log preallocation: on a busy test machine an
		// fsync can stall session creation for seconds, and the data is
		// throwaway anyway.
		"-Dzookeeper.forceSync=no",
		"-Dzookeeper.preAllocSize=512",
		"-Dzookeeper.4lw.commands.whitelist=ruok,srvr",
		"-cp", s.classpath(),
		"org.apache.zookeeper.server.ZooKeeperServerMain",
		filepath.Join(s.dir, "zoo.cfg"),
	)
	cmd.Dir = s.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Kill the server if the test binary dies without running its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("starting zookeeper: %v", err)
	}
	exit := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exit)
	}()
	s.cmd, s.exit, s.log = cmd, exit, logf

	deadline := time.Now().Add(startTimeout)
	for {
		if serving(s.Addr()) {
			return
		}
		select {
		case <-exit:
			s.cmd = nil
			logf.Close()
			s.t.Fatalf("zookeeper exited during start-up: %s", s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			s.t.Fatalf("zookeeper on %s was not serving within %v: %s", s.Addr(), startTimeout, s.logTail())
		}
	}
}

// classpath is the server's class path: the jar (its manifest names its
// dependencies) and, when installed, slf4j-simple so that the server's log
// lands in zookeeper.log for failure messages.
func (s *Server) classpath() string {
	cp := zookeeperJar
	if _, err := os.Stat(slf4jSimpleJar); err == nil {
		cp += ":" + slf4jSimpleJar
	}
	return cp
}

// ruok asks the server whether it is running ("imok").
func ruok(addr string) bool {
	return fourLetter(addr, "ruok") == "imok"
}

// serving asks the server whether it serves clients. "ruok" answers "imok"
// while the server is still loading, and a session requested then is dropped
// (the client retries a second later); "srvr" tells the truth.
func serving(addr string) bool {
	return strings.Contains(fourLetter(addr, "srvr"), "Mode: ")
}

// fourLetter sends a four-letter-word command and returns the answer.
func fourLetter(addr, cmd string) string {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return ""
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "zookeeper.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// Stop kills the server (SIGKILL, by PID: a crash, not a clean shutdown) and
// waits for it to exit. Its data directory is kept for Restart. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	// Kill the process group: the JVM is its leader and has no children, but
	// this also catches anything it might have spawned.
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Process.Kill()
	<-s.exit
	s.log.Close()
	s.cmd = nil
}

// Restart starts a stopped server again on the same port with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Connect opens a client session to the server, closed when the test ends, and
// waits until it has a session.
func (s *Server) Connect(t testing.TB) *zk.Conn {
	t.Helper()
	logger := &testLogger{t: t}
	// As the product's detector does: a server that accepts the connection
	// but does not answer yet (ZooKeeper still starting after a restart) must
	// not hold the handshake for the client's ten receive timeouts (67 s).
	var inSession atomic.Bool
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &handshakeConn{Conn: c, limit: 3 * time.Second, inSession: &inSession}, nil
	}
	conn, events, err := zk.Connect([]string{s.Addr()}, 10*time.Second,
		zk.WithLogger(logger), zk.WithLogInfo(false), zk.WithDialer(dial),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type == zk.EventSession {
				inSession.Store(ev.State == zk.StateHasSession)
			}
		}))
	if err != nil {
		t.Fatalf("connecting to zookeeper %s: %v", s.Addr(), err)
	}
	t.Cleanup(conn.Close)
	t.Cleanup(logger.stop) // runs first: the client may log after the test ends
	timeout := time.After(startTimeout)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-timeout:
			t.Fatalf("no zookeeper session with %s within %v; server log: %s", s.Addr(), startTimeout, s.logTail())
		}
	}
}

// handshakeConn bounds the connection's deadlines to limit while the client
// has no session.
type handshakeConn struct {
	net.Conn
	limit     time.Duration
	inSession *atomic.Bool
}

func (c *handshakeConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.bound(t)) }
func (c *handshakeConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.bound(t))
}

func (c *handshakeConn) bound(t time.Time) time.Time {
	if c.inSession.Load() {
		return t
	}
	if most := time.Now().Add(c.limit); t.IsZero() || t.After(most) {
		return most
	}
	return t
}

// RegisterMaster creates an ephemeral sequential "json.info_" node under path
// (creating path as needed) holding info — what a Mesos master does to take part
// in leader election — and returns the node's full path.
func RegisterMaster(t testing.TB, conn *zk.Conn, path string, info []byte) string {
	t.Helper()
	if err := CreatePath(conn, path, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("creating %s: %v", path, err)
	}
	node, err := conn.Create(strings.TrimSuffix(path, "/")+"/json.info_", info,
		zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatalf("registering master under %s: %v", path, err)
	}
	return node
}

// CreatePath creates path and its missing parents with the given ACL.
func CreatePath(conn *zk.Conn, path string, acl []zk.ACL) error {
	cur := ""
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		if part == "" {
			continue
		}
		cur += "/" + part
		_, err := conn.Create(cur, nil, 0, acl)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("creating %s: %w", cur, err)
		}
	}
	return nil
}

// testLogger sends the ZooKeeper client's log lines to the test log until the
// test ends (logging to a finished test panics).
type testLogger struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (l *testLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("zk client: "+format, args...)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}
