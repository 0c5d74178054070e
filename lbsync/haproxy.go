package lbsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/discovery-mesos/discovery/internal/backoff"
)

// ErrNotRunning is returned by HAProxy.Reload when the supervised HAProxy is not
// up (not started yet, or between a crash and its restart). The config on disk is
// what it loads when it comes up, so a caller that has written it need not retry.
var ErrNotRunning = errors.New("haproxy is not running")

// HAProxyOptions configure an HAProxy.
type HAProxyOptions struct {
	// Binary is the haproxy executable, "haproxy" (looked up in PATH) when empty.
	Binary string
	// ConfigPath is the config file HAProxy loads (-f), and that reloads re-read.
	ConfigPath string
	// MasterSocket is the master CLI socket (-S PATH,mode,600).
	MasterSocket string
	// External drives an HAProxy started by someone else (systemd, a container)
	// through MasterSocket only: Run starts nothing and restarts nothing.
	External bool
	// ReloadTimeout bounds how long a reload may take to show in "show proc";
	// 10s when zero.
	ReloadTimeout time.Duration
	// StartTimeout bounds how long a started HAProxy may take to answer on its
	// master socket with a worker; 10s when zero.
	StartTimeout time.Duration
	// RestartBackoff is the first delay before restarting a HAProxy that died; it
	// doubles on each crash in a row up to MaxRestartBackoff (100ms and 5s when
	// zero), jittered as internal/backoff does. A HAProxy that ran for a minute
	// resets it.
	RestartBackoff, MaxRestartBackoff time.Duration
	// StopTimeout is how long Run lets HAProxy finish its connections after ctx
	// ends (a soft stop, SIGUSR1) before stopping it hard; 5s when zero.
	StopTimeout time.Duration
	// OnRestart is called (from Run's goroutine) each time a supervised HAProxy
	// has been restarted after dying and answers again. The syncer re-applies
	// its current config then, since runtime-only state died with the process.
	OnRestart func()
	// Logger receives HAProxy's own output and the supervisor's events.
	Logger *slog.Logger
	// Env is the environment HAProxy and haproxy -c run with (NAME=VALUE);
	// nil is HAProxyEnv(nil, nil), PATH only. Never the daemon's whole
	// environment: see haproxy_env.go.
	Env []string
}

// HAProxy runs HAProxy in master-worker mode as a supervised child, restarting it
// when it dies, or drives an externally managed one through its master socket.
// Reloads go through the master CLI so that the listening sockets pass from the
// old worker to the new one and no connection is refused.
type HAProxy struct {
	opts HAProxyOptions
	log  *slog.Logger

	startOnce sync.Once
	start     chan struct{}

	reloadMu sync.Mutex

	mu      sync.Mutex
	running bool          // a supervised master is up and answered
	ready   chan struct{} // closed while running is true
	pid     int
	output  []string // HAProxy's latest output lines, for error reports

	restarts  atomic.Int64
	onRestart func() // set by the syncer that drives this HAProxy
}

// setOnRestart installs the hook called after a restart, in addition to
// HAProxyOptions.OnRestart.
func (h *HAProxy) setOnRestart(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onRestart = f
}

// NewHAProxy returns a controller; nothing runs until Run (and, when supervised,
// Start).
func NewHAProxy(opts HAProxyOptions) *HAProxy {
	if opts.Binary == "" {
		opts.Binary = "haproxy"
	}
	if opts.ReloadTimeout <= 0 {
		opts.ReloadTimeout = 10 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = 100 * time.Millisecond
	}
	if opts.MaxRestartBackoff < opts.RestartBackoff {
		opts.MaxRestartBackoff = max(5*time.Second, opts.RestartBackoff)
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HAProxy{opts: opts, log: log, start: make(chan struct{}), ready: make(chan struct{})}
}

// setRunning records whether the supervised master is up.
func (h *HAProxy) setRunning(up bool, pid int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pid = pid
	if up == h.running {
		return
	}
	h.running = up
	if up {
		close(h.ready)
	} else {
		h.ready = make(chan struct{})
	}
}

// WaitRunning waits until a supervised HAProxy answers (at once for an external
// one) or ctx ends.
func (h *HAProxy) WaitRunning(ctx context.Context) error {
	if h.opts.External {
		return nil
	}
	h.mu.Lock()
	ch := h.ready
	h.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for haproxy to run: %w", ctx.Err())
	}
}

// External reports whether HAProxy is managed by someone else.
func (h *HAProxy) External() bool { return h.opts.External }

// ConfigPath is the config file HAProxy loads.
func (h *HAProxy) ConfigPath() string { return h.opts.ConfigPath }

// Restarts counts the times a supervised HAProxy died and was started again.
func (h *HAProxy) Restarts() int64 { return h.restarts.Load() }

// PID returns the supervised master's process id, 0 when none runs.
func (h *HAProxy) PID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pid
}

// Running reports whether HAProxy answers: a supervised master that is up, or,
// for an external one, a master socket that answers "show proc".
func (h *HAProxy) Running(ctx context.Context) bool {
	if !h.opts.External {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.running
	}
	_, err := h.ShowProc(ctx)
	return err == nil
}

// Start lets Run start the supervised HAProxy: the caller has written a valid
// config to ConfigPath. Later calls do nothing.
func (h *HAProxy) Start() { h.startOnce.Do(func() { close(h.start) }) }

// Run supervises HAProxy until ctx ends, then stops it. For an external HAProxy
// it only waits for ctx.
func (h *HAProxy) Run(ctx context.Context) error {
	if h.opts.External {
		<-ctx.Done()
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case <-h.start:
	}
	// A HAProxy left running by a previous daemon (killed without stopping
	// it) still answers on the master socket. Ours binds the same ports beside
	// it (HAProxy uses SO_REUSEPORT), then the old one is told to finish its
	// connections and leave: a handover without refused connections.
	// A master that is still starting refuses connections for a moment, and
	// so does a socket file left by a crash: a second tells them apart.
	var stale ProcInfo
	err := errors.New("no master socket")
	if _, serr := os.Stat(h.opts.MasterSocket); serr == nil {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		stale, err = h.showProcRetry(sctx)
		cancel()
	}
	if err != nil {
		h.log.Debug("no previous haproxy on the master socket", "err", err)
		stale = ProcInfo{}
	} else {
		h.log.Warn("a haproxy from a previous run answers on the master socket, taking over", "pid", stale.MasterPID)
	}
	restartDelay := backoff.New(h.opts.RestartBackoff, h.opts.MaxRestartBackoff)
	for restarted := false; ; restarted = true {
		began := time.Now()
		err := h.runOnce(ctx, restarted, stale.MasterPID)
		stale.MasterPID = 0
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(began) > time.Minute {
			restartDelay.Reset()
		}
		d := restartDelay.Next()
		h.log.Error("haproxy exited, restarting", "err", err, "after", d,
			"output", strings.Join(h.recentOutput(5), " | "))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		h.restarts.Add(1)
	}
}

// runOnce starts one master and waits for it to exit or for ctx to end. Once
// it is ready, staleMaster (when not 0) is soft-stopped.
func (h *HAProxy) runOnce(ctx context.Context, restarted bool, staleMaster int) error {
	cmd := exec.Command(h.opts.Binary, "-W", "-S", h.opts.MasterSocket+",mode,600", "-f", h.opts.ConfigPath)
	// Its own process group, so that workers orphaned by a dead master can be
	// told to stop with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = h.env()
	// A pipe of our own rather than cmd.StdoutPipe: workers inherit its write
	// end and may outlive the master, and Wait must not wait for them.
	out, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("haproxy output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, outW
	err = cmd.Start()
	outW.Close()
	if err != nil {
		out.Close()
		return fmt.Errorf("starting %s: %w", h.opts.Binary, err)
	}
	pid := cmd.Process.Pid
	h.mu.Lock()
	h.pid = pid
	h.mu.Unlock()
	h.log.Info("haproxy started", "pid", pid, "config", h.opts.ConfigPath, "restart", restarted)

	go func() {
		defer out.Close()
		h.copyOutput(out)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	readyCtx, cancelReady := context.WithCancel(ctx)
	readyDone := make(chan error, 1)
	go func() { readyDone <- h.waitReady(readyCtx, pid) }()

	defer func() {
		cancelReady()
		h.setRunning(false, 0)
		// Workers normally leave with their master; make sure none is left
		// serving a config nobody manages. SIGUSR1 is a soft stop: they
		// finish their connections first.
		_ = syscall.Kill(-pid, syscall.SIGUSR1)
	}()

	for {
		select {
		case err := <-readyDone:
			readyDone = nil
			if err != nil {
				if ctx.Err() == nil {
					h.log.Warn("haproxy did not become ready", "pid", pid, "err", err)
				}
				continue
			}
			h.setRunning(true, pid)
			h.log.Info("haproxy ready", "pid", pid)
			if staleMaster > 0 && staleMaster != pid {
				if err := syscall.Kill(staleMaster, syscall.SIGUSR1); err == nil {
					h.log.Info("previous haproxy told to finish and leave", "pid", staleMaster)
				}
			}
			if restarted {
				h.mu.Lock()
				f := h.onRestart
				h.mu.Unlock()
				if f != nil {
					f()
				}
				if h.opts.OnRestart != nil {
					h.opts.OnRestart()
				}
			}
		case err := <-exited:
			if err == nil {
				err = errors.New("exited with status 0")
			}
			return fmt.Errorf("haproxy master %d: %w", pid, err)
		case <-ctx.Done():
			// Soft stop first: listeners close, requests in flight finish.
			_ = cmd.Process.Signal(syscall.SIGUSR1)
			select {
			case <-exited:
			case <-time.After(h.opts.StopTimeout):
				h.log.Warn("haproxy still finishing connections, stopping it hard", "pid", pid, "after", h.opts.StopTimeout)
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(time.Second):
					_ = syscall.Kill(-pid, syscall.SIGKILL)
					<-exited
				}
			}
			h.log.Info("haproxy stopped", "pid", pid)
			return ctx.Err()
		}
	}
}

// waitReady polls the master socket until master pid answers with a worker
// (not a previous HAProxy still holding the socket path).
func (h *HAProxy) waitReady(ctx context.Context, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, h.opts.StartTimeout)
	defer cancel()
	var last error
	for {
		p, err := h.showProcWithin(ctx, 500*time.Millisecond)
		if err == nil {
			if _, ok := p.CurrentWorker(); ok && p.MasterPID == pid {
				return nil
			}
			err = fmt.Errorf("no worker of master %d yet", pid)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for haproxy: %w", last)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (h *HAProxy) recentOutput(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	from := max(0, len(h.output)-n)
	return append([]string(nil), h.output[from:]...)
}

// outputMark returns a position in HAProxy's output, for alertsSince.
func (h *HAProxy) outputMark() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.output)
}

// alertsSince returns the ALERT lines HAProxy printed after mark (best effort:
// the buffer is trimmed now and then).
func (h *HAProxy) alertsSince(mark int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if mark > len(h.output) {
		mark = 0
	}
	var out []string
	for _, l := range h.output[mark:] {
		if strings.HasPrefix(l, "[ALERT]") {
			out = append(out, l)
		}
	}
	return out
}

// MasterCommand sends one command to the master CLI and returns its answer.
func (h *HAProxy) MasterCommand(ctx context.Context, command string) (string, error) {
	return unixCommand(ctx, h.opts.MasterSocket, command)
}

// ShowProc asks the master for its processes.
func (h *HAProxy) ShowProc(ctx context.Context) (ProcInfo, error) {
	out, err := h.MasterCommand(ctx, "show proc")
	if err != nil {
		return ProcInfo{}, err
	}
	return parseShowProc(out)
}

// showProcWithin is ShowProc with a bound on one attempt: a master that is
// starting or re-executing may accept a connection long before it answers.
func (h *HAProxy) showProcWithin(ctx context.Context, d time.Duration) (ProcInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return h.ShowProc(ctx)
}

// showProcRetry retries ShowProc until it answers or ctx ends.
func (h *HAProxy) showProcRetry(ctx context.Context) (ProcInfo, error) {
	for {
		p, err := h.showProcWithin(ctx, time.Second)
		if err == nil {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return p, err
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Reload asks the master to reload the config at ConfigPath and confirms it with
// "show proc": the master's reload counter must move and its failure counter
// must not. A failed reload leaves the old workers serving.
func (h *HAProxy) Reload(ctx context.Context) error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	if !h.opts.External {
		h.mu.Lock()
		running := h.running
		h.mu.Unlock()
		if !running {
			return ErrNotRunning
		}
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.ReloadTimeout)
	defer cancel()
	// The master may still be re-executing after an earlier reload or a start.
	before, err := h.showProcRetry(ctx)
	if err != nil {
		return fmt.Errorf("before reload: %w", err)
	}
	mark := h.outputMark()
	// On 2.6 the master answers nothing and closes the connection as it
	// re-executes itself; only "show proc" tells what happened.
	if _, err := h.MasterCommand(ctx, "reload"); err != nil {
		return fmt.Errorf("sending reload: %w", err)
	}
	var after ProcInfo
	for {
		after, err = h.showProcWithin(ctx, time.Second)
		if err == nil && after.MasterPID != before.MasterPID {
			return fmt.Errorf("haproxy master changed during reload (%d → %d)", before.MasterPID, after.MasterPID)
		}
		if err == nil && after.Reloads > before.Reloads {
			break
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("reload counter did not move")
			}
			return fmt.Errorf("confirming reload: %w", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	if after.Failed > before.Failed {
		msg := "haproxy reports the reload failed"
		if alerts := h.alertsSince(mark); len(alerts) > 0 {
			msg += ": " + strings.Join(alerts, "; ")
		}
		return errors.New(msg)
	}
	if _, ok := after.CurrentWorker(); !ok {
		return errors.New("no current worker after reload")
	}
	return nil
}

// Check validates the config file at path with "haproxy -c".
func (h *HAProxy) Check(ctx context.Context, path string) error {
	cmd := exec.CommandContext(ctx, h.opts.Binary, "-c", "-f", path)
	cmd.Env = h.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &CheckError{Output: redactFileText(alertLines(string(out)), path), Err: err}
	}
	return nil
}

// alertLines keeps the [ALERT] lines of haproxy's output (the version NOTICEs
// say nothing about the config), or all of it when there are none.
func alertLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "[ALERT]") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	if len(keep) == 0 {
		return strings.TrimSpace(out)
	}
	return strings.Join(keep, "\n")
}

// CheckError is a config that "haproxy -c" rejected.
type CheckError struct {
	// Output is what haproxy printed (its ALERT lines).
	Output string
	Err    error
}

func (e *CheckError) Error() string {
	if e.Output == "" {
		return "haproxy -c: " + e.Err.Error()
	}
	return "haproxy -c: " + e.Err.Error() + ": " + e.Output
}

func (e *CheckError) Unwrap() error { return e.Err }

// unixCommand sends one command line to a HAProxy CLI socket and reads the answer
// until HAProxy closes the connection (the non-interactive mode).
func unixCommand(ctx context.Context, path, command string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("dialing %s: %w", path, err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, command+"\n"); err != nil {
		return "", fmt.Errorf("writing %q to %s: %w", command, path, err)
	}
	// The master CLI of 2.6 keeps the connection open after answering; closing
	// our side tells it this was the last command.
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	b, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		return string(b), fmt.Errorf("reading answer to %q from %s: %w", command, path, err)
	}
	return string(b), nil
}
