package lbsync_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/lbsync"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
)

// How the daemon wires the load balancer: a supervised HAProxy, a Syncer fed by
// the hub, and the marathon-lb endpoints on the daemon's HTTP port.
func Example() {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := lbmodel.DefaultConfig()
	cfg.Groups = []string{"external"}
	ts, err := lbmodel.LoadTemplates(cfg, cfg.TemplatesDir, os.Getenv)
	if err != nil {
		panic(err)
	}

	h := lbsync.NewHAProxy(lbsync.HAProxyOptions{
		Binary:       "/usr/sbin/haproxy",
		ConfigPath:   cfg.HAProxyConfig,
		MasterSocket: "/var/run/haproxy/master.sock",
		External:     false, // true: drive a HAProxy started by systemd, through its sockets
		Logger:       log.With("component", "haproxy"),
	})
	s, err := lbsync.NewSyncer(lbsync.SyncerOptions{
		HAProxy:     h,
		StatsSocket: cfg.StatsSocket,
		// Templates from an atomic.Pointer when a watcher swaps them.
		Build:       lbmodel.ModelBuilder(cfg, func() *lbmodel.Templates { return ts }, nil),
		ArchiveDir:  "/var/lib/discovery/haproxy-archive",
		ArchiveKeep: 20,
		Registerer:  prometheus.DefaultRegisterer,
		Logger:      log.With("component", "lbsync"),
	})
	if err != nil {
		panic(err)
	}
	hub := state.NewHub(0, 0, log)
	go func() { _ = h.Run(ctx) }()
	go func() { _ = s.Run(ctx, hub.Subscribe()) }()

	mux := http.NewServeMux()
	api := lbsync.HTTPHandler(s, lbsync.HTTPOptions{
		SignalsEnabled: true, // off by default when the HTTP port is not on loopback
		Refetch:        func(context.Context) error { return nil /* poll the sources now */ },
		Logger:         log.With("component", "lbsync-http"),
	})
	for _, p := range lbsync.HTTPPaths {
		mux.Handle(p, api)
	}
	_ = mux
}
