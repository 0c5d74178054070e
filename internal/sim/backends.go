package sim

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// backend is the real HTTP server behind a task: it listens on the task's
// address and first host port and answers every request with that address
// (and X-Backend, X-Task-Id and X-App-Id headers), so that a request through
// HAProxy shows which task served it. A request for /slow/MS is answered
// after MS milliseconds (at most a minute), to keep a request in flight.
type backend struct {
	ln   net.Listener
	srv  *http.Server
	hits atomic.Int64
}

func startBackend(ln net.Listener, appID, taskID string) *backend {
	b := &backend{ln: ln}
	addr := ln.Addr().String()
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.hits.Add(1)
			if ms, ok := strings.CutPrefix(r.URL.Path, "/slow/"); ok {
				if n, err := strconv.Atoi(ms); err == nil && n > 0 {
					t := time.NewTimer(min(time.Duration(n)*time.Millisecond, time.Minute))
					select {
					case <-t.C:
					case <-r.Context().Done():
						t.Stop()
						return
					}
				}
			}
			h := w.Header()
			h.Set("X-Backend", addr)
			h.Set("X-Task-Id", taskID)
			h.Set("X-App-Id", appID)
			h.Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, addr)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = b.srv.Serve(ln) }()
	return b
}

// stop closes the listener at once (new connections are refused from now
// on, as when the task's process is gone) and lets requests in flight finish
// in the background, tracked by wg.
func (b *backend) stop(wg *sync.WaitGroup) {
	_ = b.ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.srv.Shutdown(ctx); err != nil {
			_ = b.srv.Close()
		}
	}()
}

// listenTaskPort listens on ip:port for a task's backend; it reports whether
// the port is taken (by something outside the simulator) so that the caller
// tries the next one.
func listenTaskPort(ip string, port int) (ln net.Listener, taken bool, err error) {
	ln, err = net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, errors.Is(err, syscall.EADDRINUSE), err
	}
	return ln, false, nil
}
