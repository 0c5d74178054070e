package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/discovery-mesos/discovery/lbsync"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/marathon"
)

// refresher is a source that can be asked to fetch now (/_mlb_signal/hup).
type refresher interface{ Refresh() }

// loadBalancer is the daemon's HAProxy side: a supervised (or external) HAProxy,
// the syncer that keeps it in step with the snapshots, and the templates, which
// a watcher swaps when their files change.
type loadBalancer struct {
	// base is the daemon's logger, for the load balancer's parts that log as
	// their own component; log is lbsync's.
	base      *slog.Logger
	opts      *lbOptions
	log       *slog.Logger
	templates atomic.Pointer[lbmodel.Templates]
	haproxy   *lbsync.HAProxy
	syncer    *lbsync.Syncer
	refresh   []refresher
}

// newLoadBalancer builds the load balancer and its Marathon source (if any);
// nothing runs until run.
func newLoadBalancer(o *lbOptions, d *daemon) (*loadBalancer, []state.Source, error) {
	log := d.log
	lb := &loadBalancer{opts: o, base: log, log: log.With("component", "lbsync")}
	o.cfg.FromEnv(os.Getenv)
	o.cfg.EndpointsAddr = endpointsAddr(d.cfg.HTTPListener, d.cfg.HTTPPort)
	ts, err := lbmodel.LoadTemplates(o.cfg, o.cfg.TemplatesDir, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range ts.Warnings(o.cfg) {
		lb.log.Warn(w)
		d.warnings = append(d.warnings, w)
	}
	if unknown, _ := lbmodel.UserTemplateFiles(o.cfg.TemplatesDir); len(unknown) > 0 {
		lb.log.Warn("files in the templates directory match no template name", "files", unknown)
		d.warnings = append(d.warnings, fmt.Sprintf("files in the templates directory match no template name: %s", strings.Join(unknown, ", ")))
	}
	lb.templates.Store(ts)

	var sources []state.Source
	if len(o.marathon) > 0 {
		mc := marathon.Config{
			URLs:               o.marathon,
			Credentials:        o.authCreds,
			CredentialFile:     o.authCredsFile,
			DCOSCredentials:    o.dcosCreds,
			CACertFile:         o.marathonCACert,
			InsecureSkipVerify: o.marathonInsecure,
			Interval:           time.Duration(o.marathonPollSeconds) * time.Second,
		}
		mlog := log.With("component", "marathon")
		// render and --dry need one /v2/apps fetch: no event stream.
		if o.marathonFollow == "poll" || o.dry {
			p, err := marathon.NewPoller(mc, mlog)
			if err != nil {
				return nil, nil, fmt.Errorf("marathon source: %w", err)
			}
			sources = append(sources, p)
			lb.refresh = append(lb.refresh, p)
		} else {
			s, err := marathon.NewEventSource(mc, marathon.EventOptions{Registerer: d.reg}, mlog)
			if err != nil {
				return nil, nil, fmt.Errorf("marathon source: %w", err)
			}
			sources = append(sources, s)
			lb.refresh = append(lb.refresh, s)
		}
	}
	if o.dry {
		return lb, sources, nil
	}
	if !o.cfg.DontBindHTTPHTTPS {
		if err := ensureSSLCerts(o.cfg, os.Getenv, lb.log); err != nil {
			return nil, nil, err
		}
	}

	if o.cfg.HAProxyConfig == "" {
		return nil, nil, errors.New("flag -haproxy-config: empty")
	}
	if o.cfg.HAProxyUser, o.cfg.HAProxyGroup, err = resolveHAProxyUser(o.haproxyUser, os.Geteuid(), systemUserGroup); err != nil {
		return nil, nil, err
	}
	lb.haproxy = lbsync.NewHAProxy(lbsync.HAProxyOptions{
		Binary:       o.haproxyBinary,
		ConfigPath:   o.cfg.HAProxyConfig,
		MasterSocket: o.masterSocket,
		External:     o.external,
		Env:          lbsync.HAProxyEnv(o.haproxyEnv, os.Getenv),
		Logger:       log.With("component", "haproxy"),
	})
	archive := o.archiveDir
	if archive == "" && o.archiveVersion > 0 {
		archive = filepath.Join(filepath.Dir(o.cfg.HAProxyConfig), "archive")
	}
	lb.syncer, err = lbsync.NewSyncer(lbsync.SyncerOptions{
		HAProxy:      lb.haproxy,
		StatsSocket:  o.cfg.StatsSocket,
		Build:        lbmodel.ModelBuilder(o.cfg, lb.templates.Load, nil),
		ArchiveDir:   archive,
		ArchiveKeep:  o.archiveVersion,
		DrainTimeout: time.Duration(o.drainSeconds) * time.Second,
		Registerer:   d.reg,
		Logger:       lb.log,
	})
	if err != nil {
		return nil, nil, err
	}
	return lb, sources, nil
}

// endpointsAddr is where HAProxy's stats listener reaches discovery's HTTP
// listener (listener:port) on this machine.
func endpointsAddr(listener string, port int) string {
	return net.JoinHostPort(lbmodel.EndpointsHost(listener), strconv.Itoa(port))
}

// listening tells the load balancer where discovery's HTTP listener listens
// (its port is known only now when the configuration asks for port 0): the
// templates are loaded again with it. Called before start.
func (lb *loadBalancer) listening(addr net.Addr) error {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil
	}
	want := endpointsAddr(tcp.IP.String(), tcp.Port)
	if want == lb.opts.cfg.EndpointsAddr {
		return nil
	}
	lb.opts.cfg.EndpointsAddr = want
	ts, err := lbmodel.LoadTemplates(lb.opts.cfg, lb.opts.cfg.TemplatesDir, os.Getenv)
	if err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	lb.templates.Store(ts)
	return nil
}

// start runs HAProxy, the syncer and the template watcher until ctx is done.
func (lb *loadBalancer) start(ctx context.Context, hub *state.Hub, spawn func(name string, f func(context.Context) error)) {
	sub := hub.Subscribe()
	spawn("haproxy", lb.haproxy.Run)
	spawn("lbsync", func(ctx context.Context) error { return lb.syncer.Run(ctx, sub) })
	spawn("templates", func(ctx context.Context) error {
		return lbsync.WatchTemplates(ctx, lb.opts.cfg, lb.opts.cfg.TemplatesDir, os.Getenv, func(ts *lbmodel.Templates) {
			lb.templates.Store(ts)
			lb.syncer.Resync()
		}, lb.log)
	})
}

// mount adds marathon-lb's endpoints to mux; changesState wraps the ones
// that act (the signals).
func (lb *loadBalancer) mount(mux *http.ServeMux, httpListener string, changesState func(http.Handler) http.Handler) {
	signals := signalsOn(lb.opts.signals, httpListener)
	statsSignals := signalsOn(lb.opts.signals, lb.opts.cfg.StatsBindAddr)
	h := lbsync.HTTPHandler(lb.syncer, lbsync.HTTPOptions{
		SignalsEnabled:      signals,
		StatsSignalsEnabled: statsSignals,
		Refetch: func(context.Context) error {
			for _, r := range lb.refresh {
				r.Refresh()
			}
			return nil
		},
		Logger: lb.base.With("component", "lbsync-http"),
	})
	for _, p := range lbsync.HTTPPaths {
		if strings.HasPrefix(p, "/_mlb_signal/") {
			mux.Handle(p, changesState(h))
		} else {
			mux.Handle(p, h)
		}
	}
}

// signalsOn says whether the /_mlb_signal/* endpoints answer on a listener
// bound to addr: -lb-signal-endpoints on, or auto and addr is loopback.
func signalsOn(mode, addr string) bool {
	return mode == "on" || mode == "auto" && addrIsLoopback(addr)
}

// refetch asks the sources that can to fetch now, then resyncs HAProxy (the
// hup signal).
func (lb *loadBalancer) refetch() {
	for _, r := range lb.refresh {
		r.Refresh()
	}
	lb.syncer.Resync()
}

// logLeftOut logs every app the load balancer leaves out (a bad label, a
// template that fails, a config HAProxy rejects) when it is first left out, and
// when it comes back: the status page and metrics show the current set, the log
// keeps the history.
func (lb *loadBalancer) logLeftOut(ctx context.Context) {
	seen := map[string]string{}
	for {
		changed := lb.syncer.Changed()
		now := map[string]string{}
		for _, e := range lb.syncer.Status().LeftOut {
			key := e.AppID + " port " + strconv.Itoa(e.Port)
			now[key] = e.Reason
			if seen[key] != e.Reason {
				lb.log.Warn("app left out of the HAProxy config", "app", e.AppID, "port", e.Port, "reason", e.Reason)
			}
		}
		for key := range seen {
			if _, ok := now[key]; !ok {
				lb.log.Info("app back in the HAProxy config", "app", key)
			}
		}
		seen = now
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// notReady says why the load balancer is not ready, or "".
func (lb *loadBalancer) notReady(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if !lb.haproxy.Running(ctx) {
		return "haproxy is not running"
	}
	if lb.syncer.Status().Seq == 0 {
		return "no config applied to haproxy yet"
	}
	return ""
}
