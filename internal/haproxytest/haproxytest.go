// Package haproxytest helps tests run against a real HAProxy: real HTTP backends
// listening on 127.0.0.x loopback addresses (Linux routes all of 127/8 to lo),
// free ports, short socket directories and a minimal config head. Nothing here
// ever connects off the machine.
package haproxytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/freeport"
)

// Binary returns the haproxy executable, skipping the test when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("HAPROXY_BIN"); p != "" {
		return p
	}
	p, err := exec.LookPath("haproxy")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
			return "/usr/sbin/haproxy"
		}
		t.Skip("haproxy is not installed")
	}
	return p
}

// Dir returns a short temporary directory (unix socket paths are limited to
// about 100 bytes, and t.TempDir can be longer), removed when the test ends.
func Dir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "hap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// FreePort returns a TCP port free on ip at the time of the call, never one
// handed out before in this process (see package freeport).
func FreePort(t testing.TB, ip string) int {
	t.Helper()
	p, err := freeport.Take(ip)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Head returns a global and defaults section for tests: the worker stats socket
// at statsSocket, hitless-reload settings, and short timeouts.
func Head(statsSocket string) string {
	return "global\n" +
		"  stats socket " + statsSocket + " mode 600 level admin\n" +
		"  hard-stop-after 10s\n" +
		"defaults\n" +
		"  mode http\n" +
		"  timeout connect 2s\n" +
		"  timeout client 30s\n" +
		"  timeout server 30s\n" +
		"  timeout http-keep-alive 5s\n" +
		"  retries 3\n" +
		"  option redispatch\n" +
		"  option idle-close-on-response\n"
}

// Backend is a real HTTP server on a loopback address. It answers every
// request with its address and counts the requests it served; a request for
// /slow/MS is answered after MS milliseconds.
type Backend struct {
	// Host and Port are where it listens, Host being 127.0.0.x.
	Host string
	Port int
	srv  *http.Server
	hits atomic.Int64
}

// StartBackend starts a Backend on ip (127.0.0.x) and a port from :0, closed
// when the test ends.
func StartBackend(t testing.TB, ip string) *Backend {
	t.Helper()
	b, err := NewBackend(ip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// NewBackend is StartBackend for code off the test's goroutine (a fake
// scheduler launching tasks): the caller closes it.
func NewBackend(ip string) (*Backend, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", ip, err)
	}
	b := &Backend{Host: ip, Port: l.Addr().(*net.TCPAddr).Port}
	id := b.Addr()
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.hits.Add(1)
			// /slow/MS answers after MS milliseconds: a long request in flight.
			if ms, ok := strings.CutPrefix(r.URL.Path, "/slow/"); ok {
				if n, err := strconv.Atoi(ms); err == nil {
					select {
					case <-time.After(time.Duration(n) * time.Millisecond):
					case <-r.Context().Done():
						return
					}
				}
			}
			w.Header().Set("X-Backend", id)
			_, _ = io.WriteString(w, id)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

// Addr is "HOST:PORT".
func (b *Backend) Addr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// Hits counts the requests served.
func (b *Backend) Hits() int64 { return b.hits.Load() }

// Close stops the backend.
func (b *Backend) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
}

// Get requests url and returns the body (the backend's address) or an error
// for a transport failure or a non-200 answer.
func Get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// WaitFor polls cond every few milliseconds until it holds or the timeout
// passes, and reports whether it held.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Load sends GET requests to url from n goroutines until stop is closed or
// max requests were sent, and counts successes and failures.
type Load struct {
	OK, Failed atomic.Int64
	// Refused counts the failures that were refused connections.
	Refused  atomic.Int64
	errs     atomic.Pointer[[]string]
	stopWait func()
}

// StartLoad begins a bounded request loop; call Stop to end it and wait.
func StartLoad(url string, workers int, max int64) *Load {
	l := &Load{}
	stop := make(chan struct{})
	var sent atomic.Int64
	finished := make(chan struct{}, workers)
	for range workers {
		go func() {
			defer func() { finished <- struct{}{} }()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if sent.Add(1) > max {
					return
				}
				if _, err := Get(c, url); err != nil {
					l.Failed.Add(1)
					if errors.Is(err, syscall.ECONNREFUSED) {
						l.Refused.Add(1)
					}
					l.addErr(err)
				} else {
					l.OK.Add(1)
				}
			}
		}()
	}
	l.stopWait = func() {
		close(stop)
		for range workers {
			<-finished
		}
	}
	return l
}

func (l *Load) addErr(err error) {
	for {
		old := l.errs.Load()
		var n []string
		if old != nil {
			if len(*old) >= 10 {
				return
			}
			n = append(n, *old...)
		}
		n = append(n, err.Error())
		if l.errs.CompareAndSwap(old, &n) {
			return
		}
	}
}

// Errors returns the first few failures.
func (l *Load) Errors() []string {
	if p := l.errs.Load(); p != nil {
		return *p
	}
	return nil
}

// Stop ends the loop and waits for the workers.
func (l *Load) Stop() { l.stopWait() }
