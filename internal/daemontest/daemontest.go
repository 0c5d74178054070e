// Package daemontest starts a discovery process for the tests that drive the
// binary from outside (e2e/, deploy/): it keeps the process's log lines, reads
// its listeners' addresses from its JSON log and tells when it has exited.
// Each test keeps its own policy for stopping the process and reporting its
// log; this package only owns what both would otherwise write twice.
package daemontest

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sync"
	"time"
)

// listenLine is the daemon's JSON log line for a listener that is serving.
var listenLine = regexp.MustCompile(`"msg":"(dns|http) serving".*?"addr":"([^"]+)"`)

// Process is a started discovery process, observed through its output.
type Process struct {
	Cmd      *exec.Cmd
	HTTPAddr string // set by WaitListeners
	DNSAddr  string // set by WaitListeners when asked for

	addrs  chan [2]string // logged listeners: kind ("dns", "http"), address
	exited chan struct{}  // closed when the process has been waited for
	err    error          // its exit, once exited is closed

	mu   sync.Mutex
	logs []string
}

// Start starts cmd with its stdout and stderr read line by line into its log.
// The process is waited for once its output ends.
func Start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{Cmd: cmd, addrs: make(chan [2]string, 4), exited: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs = append(p.logs, line)
			p.mu.Unlock()
			if m := listenLine.FindStringSubmatch(line); m != nil {
				select {
				case p.addrs <- [2]string{m[1], m[2]}:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-scanned
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// WaitListeners waits up to timeout for the HTTP listener, and the DNS listener
// when wantDNS, to be logged, and sets HTTPAddr and DNSAddr.
func (p *Process) WaitListeners(wantDNS bool, timeout time.Duration) error {
	deadline := time.After(timeout)
	for p.HTTPAddr == "" || wantDNS && p.DNSAddr == "" {
		select {
		case a := <-p.addrs:
			if a[0] == "http" {
				p.HTTPAddr = a[1]
			} else {
				p.DNSAddr = a[1]
			}
		case <-p.exited:
			return fmt.Errorf("exited before listening: %v", p.err)
		case <-deadline:
			return fmt.Errorf("did not log its listeners within %v", timeout)
		}
	}
	return nil
}

// Exited is closed once the process has exited and been waited for.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is how the process exited; it is meaningful once Exited is closed.
func (p *Process) Err() error { return p.err }

// Alive reports whether the process is still running.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// LogLines is a copy of the log so far.
func (p *Process) LogLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.logs...)
}
