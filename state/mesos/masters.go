package mesos

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// masters is how a Mesos source reaches the masters: the checked
// configuration, the HTTP client, the leader follower and the fetch metrics.
// Each source holds one; the stream shares its own with its fallback poller,
// so that one follower decides whom both ask.
type masters struct {
	cfg     PollConfig
	log     *slog.Logger
	client  *mesosClient
	leader  *leaderFollower
	metrics *pollMetrics
}

// newMasters checks cfg, fills in its defaults and builds what the sources
// share. An error names the configuration key at fault.
func newMasters(cfg PollConfig, log *slog.Logger) (*masters, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = "mesos"
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	static := make([]state.Master, 0, len(cfg.Masters))
	seen := map[string]bool{}
	for i, s := range cfg.Masters {
		m, err := ParseMasterAddr(s)
		if err != nil {
			bad("masters[%d]: %v", i, err)
			continue
		}
		if seen[masterAddr(m)] {
			bad("masters[%d]: %q is listed twice", i, s)
		}
		seen[masterAddr(m)] = true
		static = append(static, m)
	}
	var zkURL ZKURL
	if cfg.ZK != "" {
		var err error
		if zkURL, err = ParseZKURL(cfg.ZK); err != nil {
			bad("zk: %v", err)
		}
	}
	if cfg.ZK == "" && len(cfg.Masters) == 0 {
		bad("masters, zk: give the masters, a zk:// URL or both")
	}
	durations := []struct {
		key string
		d   *time.Duration
		def time.Duration
	}{
		{"refreshSeconds", &cfg.RefreshInterval, DefaultRefreshInterval},
		{"stateTimeoutSeconds", &cfg.StateTimeout, DefaultStateTimeout},
		{"zkDetectionTimeout", &cfg.ZKDetectionTimeout, DefaultZKTimeout},
		{"ZKSessionTimeout", &cfg.ZKSessionTimeout, 10 * time.Second},
	}
	for _, d := range durations {
		switch {
		case *d.d < 0:
			bad("%s: must not be negative, got %v", d.key, *d.d)
		case *d.d == 0:
			*d.d = d.def
		}
	}
	switch {
	case cfg.MaxStateBytes < 0:
		bad("MaxStateBytes: must not be negative, got %d", cfg.MaxStateBytes)
	case cfg.MaxStateBytes == 0:
		cfg.MaxStateBytes = DefaultMaxStateBytes
	}
	switch {
	case cfg.MaxRedirects < 0:
		bad("MaxRedirects: must not be negative, got %d", cfg.MaxRedirects)
	case cfg.MaxRedirects == 0:
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	client, err := newMesosClient(cfg.HTTPConfig, clientOptions{name: cfg.Name, log: log.With("source", cfg.Name), reg: cfg.Registerer})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mesos source: %w", err)
	}
	metrics, err := newPollMetrics(cfg.Name, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("mesos source: %w", err)
	}

	log = log.With("source", cfg.Name)
	h := cfg.HTTPConfig
	if !h.HTTPS && (h.CACertFile != "" || h.CertFile != "" || h.InsecureSkipVerify) {
		log.Warn("TLS settings are ignored: mesosHTTPSOn is off")
	}
	if h.HTTPS && h.InsecureSkipVerify {
		log.Warn("master certificates are not verified")
	}
	if h.Authentication == AuthNone && h.Principal != "" {
		log.Warn(`mesosCredentials are set but mesosAuthentication is not "basic": they are not sent`)
	}
	var zk *ZKDetector
	if cfg.ZK != "" {
		zk = NewZKDetector(zkURL, cfg.ZKSessionTimeout, log)
	}
	return &masters{
		cfg:     cfg,
		log:     log,
		client:  client,
		leader:  newLeaderFollower(static, zk, cfg.ZKDetectionTimeout, metrics.zkConnected, log),
		metrics: metrics,
	}, nil
}
