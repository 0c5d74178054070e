package marathon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// Poller is the Source that follows Marathon by fetching the whole app
// list (AppsPath) every Interval, and at once when Refresh is called.
// It fails over across the configured URLs and sticks with the one that
// answers. A failed or malformed fetch is reported to the sink for every URL that
// failed; it never replaces the last good app set.
type Poller struct {
	c       *client
	log     *slog.Logger
	refresh chan struct{}
}

// NewPoller checks cfg, reads its credential and CA files, and returns a
// poller ready to Run. log may be nil.
func NewPoller(cfg Config, log *slog.Logger) (*Poller, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := newClient(cfg, log, nil)
	if err != nil {
		return nil, err
	}
	return &Poller{
		c:       c,
		log:     log.With("via", "poll"),
		refresh: make(chan struct{}, 1),
	}, nil
}

// Name implements Source.
func (p *Poller) Name() string { return "marathon" }

// Refresh makes the running poller fetch now (for /_mlb_signal/hup and SIGHUP)
// instead of waiting for the interval. It never blocks; refreshes asked for while
// a fetch is under way are merged into one more fetch.
func (p *Poller) Refresh() {
	select {
	case p.refresh <- struct{}{}:
	default:
	}
}

// Current returns the URL (without credentials) the poller asks first: the one
// that last answered.
func (p *Poller) Current() string { return p.c.Current() }

// Run implements Source: it fetches at once, then every Interval and on Refresh,
// until ctx is done.
func (p *Poller) Run(ctx context.Context, sink state.Sink) error {
	p.log.Info("following marathon", "config", p.c.cfg)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-p.refresh:
			timer.Stop()
		}
		set, err := p.fetch(ctx, sink.FetchFailed)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			p.log.Error("no marathon answered; keeping the last good apps", "error", err)
		} else {
			sink.PublishApps(set)
		}
		timer.Reset(p.c.cfg.Interval)
	}
}

// Fetch fetches the app list once, with failover, and returns it sealed. It is
// what `discovery render` uses; Run calls the same code.
func (p *Poller) Fetch(ctx context.Context) (*state.AppSet, error) {
	return p.fetch(ctx, func(string, error) {})
}

func (p *Poller) fetch(ctx context.Context, failed func(source string, err error)) (*state.AppSet, error) {
	var errs []error
	for _, i := range p.c.order() {
		ep := &p.c.endpoints[i]
		began := time.Now()
		set, err := p.fetchOne(ctx, ep)
		if err == nil {
			if from, moved := p.c.answered(i); moved {
				p.log.Warn("marathon failover", "from", from.name, "to", ep.name)
			}
			p.log.Debug("fetched marathon apps", "url", ep.name, "apps", len(set.Apps), "took", time.Since(began))
			return set, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = fmt.Errorf("fetching apps from %s: %w", ep.name, err)
		p.log.Warn("marathon fetch failed", "url", ep.name, "error", err)
		failed(ep.name, err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (p *Poller) fetchOne(ctx context.Context, ep *endpoint) (*state.AppSet, error) {
	set, _, err := p.c.getApps(ctx, ep)
	return set, err
}
