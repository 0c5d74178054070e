package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/mesos"
)

// daemon is the running discovery process: sources feed the hub, the hub feeds
// the DNS table's updater (and the load balancer's syncer), and the servers
// answer from what the consumers built. Everything that can fail on a bad configuration is
// built by newDaemon, before anything starts.
type daemon struct {
	cfg Config
	log *slog.Logger
	reg *prometheus.Registry

	hub     *state.Hub
	sources []state.Source

	// dnsTable keeps the DNS record table in step with the snapshots; the
	// DNS server, /v1 and the status page read from it.
	dnsTable *dnsserver.Updater
	dns      *dnsserver.Server

	httpLn      net.Listener
	httpSrv     *http.Server
	httpMetrics *httpMetrics

	lb *loadBalancer // nil when the load balancer is off
	// vips publishes the VIP names to DNS; nil when the load balancer or
	// VIPs are off.
	vips *vipPublisher

	snapshotAge prometheus.GaugeFunc

	// started is closed once the servers listen (tests read their addresses).
	started chan struct{}

	// signals delivers SIGHUP (refetch, resync) and SIGUSR1 (reload HAProxy).
	signals <-chan os.Signal

	// warnings are what start-up had to say about the configuration (an
	// unknown key, certificates not verified, …): logged once, and shown on
	// the status page for as long as the daemon runs.
	warnings []string
}

// newDaemon builds the daemon for cfg (and the load balancer for lbo, nil when
// off); warnings are start-up's configuration warnings, already logged, for the
// status page.
func newDaemon(cfg Config, lbo *lbOptions, warnings []string, log *slog.Logger) (*daemon, error) {
	d := &daemon{
		cfg:      cfg,
		log:      log,
		reg:      prometheus.NewRegistry(),
		started:  make(chan struct{}),
		warnings: slices.Clone(warnings),
	}
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.hub = state.NewHub(time.Duration(cfg.SnapshotQuietMillis)*time.Millisecond,
		time.Duration(cfg.SnapshotMaxDelayMillis)*time.Millisecond, log.With("component", "hub"))

	masters, err := configuredMasters(cfg.Masters)
	if err != nil {
		return nil, err
	}
	switch {
	case !cfg.hasMesosSource():
		// The load balancer alone, following Marathon.
	case cfg.StateFile != "":
		d.sources = append(d.sources, mesos.NewFileSource(cfg.StateFile, masters, log.With("component", "file-source")))
	default:
		src, err := mesosSource(cfg, d.reg, log)
		if err != nil {
			return nil, err // the source's errors say "mesos source:" already
		}
		d.sources = append(d.sources, src)
	}

	if lbo != nil && lbo.enabled() {
		lbo.cfg.VIPsOff, lbo.cfg.VIPRange, lbo.cfg.VIPListenCheck = !cfg.VIPsOn, cfg.vipRange(), vipListenCheck
		lb, srcs, err := newLoadBalancer(lbo, d)
		if err != nil {
			return nil, fmt.Errorf("load balancer: %w", err)
		}
		d.lb = lb
		d.sources = append(d.sources, srcs...)
		if cfg.VIPsOn && lb.syncer != nil {
			d.vips = newVIPPublisher(cfg.Domain, log.With("component", "vips"))
		}
	}

	// No table until the first view of the cluster: queries get SERVFAIL, which
	// resolvers retry, not an NXDOMAIN they would cache for SOAMinttl.
	d.dnsTable = dnsserver.NewUpdater(dnsserver.UpdaterOptions{
		Config: dnsConfig(cfg), Registerer: d.reg, Logger: log.With("component", "dns-table"),
		// Host names in the state are looked up again as often as mesos-dns
		// did: on every refresh.
		HostRefresh: time.Duration(cfg.RefreshSeconds) * time.Second,
	})
	d.registerMetrics()

	if cfg.DNSOn {
		forwardFrom, err := dnsserver.ParseClientNetworks(cfg.ExternalFrom)
		if err != nil {
			return nil, fmt.Errorf("externalFrom: %w", err)
		}
		var vipSource dnsserver.VIPSource
		if d.vips != nil {
			vipSource = d.vips
		}
		srv, err := dnsserver.NewServer(dnsserver.ServerConfig{
			Addr:           net.JoinHostPort(cfg.Listener, strconv.Itoa(cfg.Port)),
			VIPs:           vipSource,
			RecurseOn:      cfg.RecurseOn,
			NoTruncateBit:  !cfg.SetTruncateBit,
			RateLimit:      cfg.DNSRateLimit,
			RateLimitBurst: cfg.DNSRateLimitBurst,
			MaxUDPSize:     cfg.DNSMaxUDPSize,
			// -1 (no cap) passes through: the server's own "no cap".
			MaxTCPConnsPerClient: cfg.DNSTCPMaxConnsPerClient,
			Forward: dnsserver.ForwardConfig{
				Enabled:       cfg.ExternalOn,
				Resolvers:     cfg.Resolvers,
				ZoneResolvers: cfg.ZoneResolvers,
				Timeout:       time.Duration(cfg.Timeout) * time.Second,
				From:          forwardFrom,
			},
		}, d.dnsTable, log.With("component", "dns"), d.reg)
		if err != nil {
			return nil, err
		}
		d.dns = srv
	}
	if cfg.HTTPOn {
		d.httpMetrics = newHTTPMetrics(d.reg)
		d.httpSrv = newHTTPServer(cfg, d.httpHandler(), log.With("component", "http"))
	}
	return d, nil
}

// registerMetrics registers the sources' staleness; the consumers register
// their own (dnsserver.Updater, lbsync.Syncer).
func (d *daemon) registerMetrics() {
	d.snapshotAge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "discovery_snapshot_age_seconds",
		Help: "Time since a source last delivered a good view of the cluster (-1 before the first).",
	}, d.snapshotAgeSeconds)
	d.reg.MustRegister(d.snapshotAge, sourceCollector{d.hub})
}

// sourceCollector exports each source's staleness, so that a stale Mesos view
// cannot hide behind a fresh Marathon one in discovery_snapshot_age_seconds.
type sourceCollector struct{ hub *state.Hub }

var (
	sourceAgeDesc = prometheus.NewDesc("discovery_source_age_seconds",
		"Time since the source last delivered a good view (changed or not).", []string{"source"}, nil)
	sourceFailuresDesc = prometheus.NewDesc("discovery_source_consecutive_failures",
		"Failed fetches since the source's last good view.", []string{"source"}, nil)
	sourceLeftOutDesc = prometheus.NewDesc("discovery_source_left_out",
		"Apps and tasks (or their ports) the source's last good view left out for invalid data.", []string{"source"}, nil)
)

func (c sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sourceAgeDesc
	ch <- sourceFailuresDesc
	ch <- sourceLeftOutDesc
}

func (c sourceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.hub.Sources() {
		if !s.LastGood.IsZero() {
			ch <- prometheus.MustNewConstMetric(sourceAgeDesc, prometheus.GaugeValue, time.Since(s.LastGood).Seconds(), s.Name)
		}
		ch <- prometheus.MustNewConstMetric(sourceFailuresDesc, prometheus.GaugeValue, float64(s.Failures), s.Name)
		ch <- prometheus.MustNewConstMetric(sourceLeftOutDesc, prometheus.GaugeValue, float64(len(s.LeftOut)), s.Name)
	}
}

// snapshotAgeSeconds is the age of the freshest good view of any source.
func (d *daemon) snapshotAgeSeconds() float64 {
	var newest time.Time
	for _, s := range d.hub.Sources() {
		if s.LastGood.After(newest) {
			newest = s.LastGood
		}
	}
	if newest.IsZero() {
		return -1
	}
	return time.Since(newest).Seconds()
}

// mesosSource follows the leading master: through its event stream by default
// (falling back to polling on masters without the operator API), or by polling.
func mesosSource(cfg Config, reg prometheus.Registerer, log *slog.Logger) (state.Source, error) {
	pc := mesos.PollConfig{
		Masters:            cfg.Masters,
		ZK:                 cfg.Zk,
		ZKDetectionTimeout: zkDetectionTimeout(cfg.ZkDetectionTimeout),
		RefreshInterval:    time.Duration(cfg.RefreshSeconds) * time.Second,
		StateTimeout:       time.Duration(cfg.StateTimeoutSeconds) * time.Second,
		MaxStateBytes:      int64(cfg.MaxStateBytes),
		Registerer:         reg,
		HTTPConfig: mesos.HTTPConfig{
			HTTPS:              cfg.MesosHTTPSOn,
			CACertFile:         cfg.CACertFile,
			CertFile:           cfg.CertFile,
			KeyFile:            cfg.KeyFile,
			InsecureSkipVerify: cfg.MesosHTTPSInsecure,
			Authentication:     cfg.MesosAuthentication,
			Principal:          cfg.MesosCredentials.Principal,
			Secret:             cfg.MesosCredentials.Secret,
			IAMConfigFile:      cfg.IAMConfigFile,
		},
	}
	if cfg.MesosFollow == "poll" {
		return mesos.NewPoller(pc, log.With("component", "mesos-poll"))
	}
	return mesos.NewStream(mesos.StreamConfig{PollConfig: pc}, log.With("component", "mesos-stream"))
}

// zkDetectionTimeout maps mesos-dns's zkDetectionTimeout: seconds, 0 meaning no
// timeout (ZooKeeper's view is never given up for the static masters).
func zkDetectionTimeout(seconds int) time.Duration {
	if seconds == 0 {
		return 100 * 365 * 24 * time.Hour
	}
	return time.Duration(seconds) * time.Second
}

// configuredMasters turns the masters key into the Masters of file-source views.
func configuredMasters(list []string) ([]state.Master, error) {
	var out []state.Master
	for _, m := range list {
		host, port, err := splitHostPort(m)
		if err != nil {
			return nil, fmt.Errorf("masters: %q: %w", m, err)
		}
		out = append(out, state.Master{Host: host, Port: port})
	}
	return out, nil
}

func dnsConfig(cfg Config) dnsserver.Config {
	c := dnsserver.DefaultConfig()
	c.Domain = cfg.Domain
	c.TTL = uint32(cfg.TTL)
	c.SOAMname = cfg.SOAMname
	c.SOARname = cfg.SOARname
	c.SOASerial = cfg.SOASerial
	c.SOARefresh = cfg.SOARefresh
	c.SOARetry = cfg.SOARetry
	c.SOAExpire = cfg.SOAExpire
	c.SOAMinttl = cfg.SOAMinttl
	c.IPSources = cfg.IPSources
	c.EnforceRFC952 = cfg.EnforceRFC952
	c.SRVRecordDefaultWeight = uint16(cfg.SRVRecordDefaultWeight)
	c.HealthAwareAnswers = cfg.HealthAwareAnswers
	c.Listener = cfg.Listener
	return c
}

// run starts everything and blocks until ctx is done, then shuts down.
func (d *daemon) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if d.dns != nil {
		if err := d.dns.Start(); err != nil {
			return fmt.Errorf("starting dns server: %w", err)
		}
		d.log.Info("dns serving", "component", "dns", "addr", d.dns.Addr(), "domain", d.cfg.Domain)
	}
	if d.httpSrv != nil {
		ln, err := net.Listen("tcp", net.JoinHostPort(d.cfg.HTTPListener, strconv.Itoa(d.cfg.HTTPPort)))
		if err != nil {
			d.shutdownDNS()
			return fmt.Errorf("starting http server: %w", err)
		}
		ln = limitHTTPListener(d.cfg, ln, d.httpMetrics)
		d.httpLn = ln
		if d.lb != nil {
			if err := d.lb.listening(ln.Addr()); err != nil {
				ln.Close()
				d.shutdownDNS()
				return err
			}
		}
		go func() {
			if err := d.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("http server failed", "component", "http", "err", err)
				cancel()
			}
		}()
		d.log.Info("http serving", "component", "http", "addr", ln.Addr().String())
	}

	close(d.started)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.hub.Run(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); _ = d.dnsTable.Run(ctx, d.hub.Subscribe()) }()
	errc := make(chan error, len(d.sources)+4)
	spawn := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	if d.lb != nil {
		d.lb.start(ctx, d.hub, spawn)
		wg.Add(1)
		go func() { defer wg.Done(); d.lb.logLeftOut(ctx) }()
		if d.vips != nil {
			spawn("vips", func(ctx context.Context) error { return d.vips.run(ctx, d.lb.syncer.Model, d.lb.syncer.Changed) })
		}
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.handleSignals(ctx) }()
	for _, src := range d.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := src.Run(ctx, d.hub); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("source %s: %w", src.Name(), err)
				cancel()
			}
		}()
	}

	<-ctx.Done()
	d.log.Info("shutting down", "component", "daemon")
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer shutCancel()
	if d.httpSrv != nil {
		_ = d.httpSrv.Shutdown(shutCtx)
	}
	d.shutdownDNS()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// handleSignals acts on SIGHUP and SIGUSR1 as marathon-lb did.
func (d *daemon) handleSignals(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-d.signals:
			switch {
			case d.lb == nil:
				d.log.Info("signal ignored: the load balancer is off", "component", "daemon", "signal", sig.String())
			case sig == syscall.SIGHUP:
				d.log.Info("SIGHUP: refetching and resyncing HAProxy", "component", "daemon")
				d.lb.refetch()
			case sig == syscall.SIGUSR1:
				d.log.Info("SIGUSR1: reloading HAProxy", "component", "daemon")
				d.lb.syncer.Reload()
			}
		}
	}
}

func (d *daemon) shutdownDNS() {
	if d.dns == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.dns.Shutdown(ctx); err != nil {
		d.log.Warn("dns shutdown", "component", "dns", "err", err)
	}
}

func (d *daemon) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", dnsserver.NewHTTPHandler(dnsserver.HTTPOptions{
		Table:          d.dnsTable.Load,
		Version:        versionString(),
		Config:         func() any { return mesosDNSConfigView(d.cfg) },
		RefreshSeconds: d.cfg.RefreshSeconds,
		EnumerationOn:  d.cfg.EnumerationOn,
		Logger:         d.log.With("component", "http-api"),
	}))
	if d.vips != nil {
		mux.Handle("/v1/vips", d.vips.serveVIPs(d.cfg.vipRange().String()))
	}
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/ready", d.ready)
	mux.Handle("/", d.statusHandler())
	if d.lb != nil {
		d.lb.mount(mux, d.cfg.HTTPListener, func(h http.Handler) http.Handler {
			return refuseCrossSite(h, d.httpMetrics.refusedRequests.WithLabelValues("cross-site").Inc)
		})
	}
	hosts := newHostGuard(d.cfg, d.httpMetrics.refusedRequests.WithLabelValues("host").Inc)
	return hosts.wrap(mux, "/health", "/ready", "/metrics")
}

// ready answers 200 once a view of the cluster is loaded and the DNS table built
// from it is being served; 503 with the reasons otherwise.
func (d *daemon) ready(w http.ResponseWriter, r *http.Request) {
	var reasons []string
	snap := d.hub.Current()
	switch {
	case snap == nil:
		reasons = append(reasons, "no view of the cluster loaded yet")
	case len(d.sources) > 0 && snap.Cluster == nil && snap.Apps == nil:
		reasons = append(reasons, "no view of the cluster loaded yet")
	case d.cfg.DNSOn && d.cfg.hasMesosSource() && snap.Cluster == nil:
		reasons = append(reasons, "no view of the Mesos cluster loaded yet")
	case d.cfg.DNSOn && snap.Cluster != nil:
		if t := d.dnsTable.Load(); t == nil || t.Cluster() != snap.Cluster {
			reasons = append(reasons, "dns table not built from the latest view yet")
		}
	}
	if d.lb != nil && d.lb.haproxy != nil {
		if why := d.lb.notReady(r.Context()); why != "" {
			reasons = append(reasons, why)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(reasons) > 0 {
		// Why nothing was loaded is usually a source's failure (Marathon
		// refusing the credentials, no master answering): say it here too.
		for _, s := range d.hub.Sources() {
			if s.LastError != nil {
				reasons = append(reasons, fmt.Sprintf("%s: %v", s.Name, s.LastError))
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, r := range reasons {
			fmt.Fprintln(w, r)
		}
		return
	}
	fmt.Fprintln(w, "ready")
}

// mesosDNSConfigView is /v1/config: mesos-dns's field names (its Config struct as
// encoding/json wrote it), with the secret left out.
func mesosDNSConfigView(c Config) any {
	type creds struct {
		Principal string `json:"principal"`
	}
	return struct {
		RefreshSeconds         int
		Port                   int
		Timeout                int
		StateTimeoutSeconds    int
		ZkDetectionTimeout     int
		HTTPPort               int `json:"HttpPort"`
		TTL                    int32
		SOASerial              uint32
		SOARefresh             uint32
		SOARetry               uint32
		SOAExpire              uint32
		SOAMinttl              uint32
		SOAMname               string
		SOARname               string
		Masters                []string
		Resolvers              []string
		ZoneResolvers          map[string][]string
		IPSources              []string
		Zk                     string
		Domain                 string
		Listener               string
		HTTPListener           string
		RecurseOn              bool
		DNSOn                  bool `json:"DnsOn"`
		HTTPOn                 bool `json:"HttpOn"`
		ExternalOn             bool
		EnforceRFC952          bool
		EnumerationOn          bool
		MesosHTTPSOn           bool
		CACertFile             string
		MesosCredentials       creds
		MesosAuthentication    string
		SRVRecordDefaultWeight int
	}{
		c.RefreshSeconds, c.Port, c.Timeout, c.StateTimeoutSeconds, c.ZkDetectionTimeout, c.HTTPPort,
		int32(c.TTL), c.SOASerial, c.SOARefresh, c.SOARetry, c.SOAExpire, c.SOAMinttl, c.SOAMname, c.SOARname,
		c.Masters, c.Resolvers, c.ZoneResolvers, c.IPSources, mesos.RedactZK(c.Zk), c.Domain, c.Listener, c.HTTPListener,
		c.RecurseOn, c.DNSOn, c.HTTPOn, c.ExternalOn, c.EnforceRFC952, c.EnumerationOn, c.MesosHTTPSOn, c.CACertFile,
		creds{c.MesosCredentials.Principal}, c.MesosAuthentication, c.SRVRecordDefaultWeight,
	}
}

// addrIsLoopback reports whether a listener address is on loopback (signal
// endpoints are on by default only there).
func addrIsLoopback(a string) bool {
	ip, err := netip.ParseAddr(a)
	return err == nil && ip.IsLoopback()
}
