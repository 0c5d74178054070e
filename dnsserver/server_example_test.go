package dnsserver_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/state"
)

// How the daemon wires the DNS server: one table pointer, swapped after every
// snapshot; the server reads it on every query and never waits for a rebuild.
func ExampleNewServer() {
	log := slog.Default().With("component", "dns")
	cfg := dnsserver.DefaultConfig() // from mesos-dns's config.json keys

	// Leave the pointer empty until the first snapshot: queries get SERVFAIL
	// (retried soon) rather than an NXDOMAIN that resolvers would cache.
	var tables atomic.Pointer[dnsserver.Table]

	srv, err := dnsserver.NewServer(dnsserver.ServerConfig{
		Addr:      "127.0.0.1:8053", // listener:port
		RecurseOn: true,             // recurseon
		Forward: dnsserver.ForwardConfig{
			Enabled:   true,                       // externalon
			Resolvers: []string{"127.0.0.1:5300"}, // resolvers
			ZoneResolvers: map[string][]string{ // zoneResolvers
				"consul": {"127.0.0.1:8600"},
			},
			Timeout: 5 * time.Second, // timeout
		},
	}, &tables, log, prometheus.NewRegistry())
	if err != nil {
		log.Error("dns", "err", err)
		return
	}
	if err := srv.Start(); err != nil {
		log.Error("dns", "err", err)
		return
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	// For every snapshot that changed the Mesos view:
	var snap state.Snapshot
	tables.Store(dnsserver.Build(snap.Cluster, cfg))
}
