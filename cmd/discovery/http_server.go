package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/internal/connlimit"
)

// The HTTP server's bounds. Every handler answers from memory in well under
// a second, except /_mlb_signal/hup, which may wait up to 30 s for a refetch;
// nothing streams. So a client gets 10 s to send its headers, 30 s for the
// whole request and 60 s to read the answer, and an idle keep-alive connection
// is closed after httpIdleTimeoutSeconds.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 30 * time.Second
	httpWriteTimeout      = 60 * time.Second
	httpMaxHeaderBytes    = 64 << 10

	defaultHTTPMaxConns           = 256
	defaultHTTPMaxConnsPerClient  = 16
	defaultHTTPIdleTimeoutSeconds = 30
)

// httpMetrics count what the HTTP server refused.
type httpMetrics struct {
	refusedConns    prometheus.Counter
	refusedRequests *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		refusedConns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "discovery_http_refused_connections_total",
			Help: "HTTP connections closed at once because their client already held httpMaxConnsPerClient.",
		}),
		refusedRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "discovery_http_refused_requests_total",
			Help: "HTTP requests refused: reason host (a Host header not allowed, DNS rebinding) or cross-site (a browser request from another site to an endpoint that changes state).",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.refusedConns, m.refusedRequests)
	return m
}

// newHTTPServer is the server for handler with the bounds of cfg.
func newHTTPServer(cfg Config, handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       time.Duration(cfg.HTTPIdleTimeoutSeconds) * time.Second,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// limitHTTPListener applies httpMaxConns and httpMaxConnsPerClient (-1: no
// cap) to ln.
func limitHTTPListener(cfg Config, ln net.Listener, m *httpMetrics) net.Listener {
	return connlimit.Listen(ln, max(cfg.HTTPMaxConns, 0), max(cfg.HTTPMaxConnsPerClient, 0),
		func(netip.Prefix) { m.refusedConns.Inc() })
}
