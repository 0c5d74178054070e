package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/lbsync"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/marathon"
	"github.com/discovery-mesos/discovery/state/mesos"
)

// The status page is what an operator opens first: is discovery following the
// cluster (leader, sources, how stale), what does it answer for each task, and
// what does HAProxy run and why did it last reload. It is rendered on the server
// from one read of the daemon's state, needs no JavaScript, and stays fast on a
// 10,000-task cluster by showing the first rows of long lists with a plain GET
// filter. /status.json serves the same view for scripts.

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Parse(statusHTML))

// Limits of the status page's long lists.
const (
	statusDefaultLimit = 200
	statusMaxLimit     = 10000
	// statusServersPerBackend caps the servers listed under one backend.
	statusServersPerBackend = 50
	statusMaxReloads        = 20
	statusMaxChanges        = 30
	statusMaxQuery          = 200
	statusMaxRefresh        = 3600
)

// statusHub is what the page reads from the hub.
type statusHub interface {
	Current() *state.Snapshot
	Sources() []state.SourceStatus
}

// statusLB is what the page reads from the load balancer's syncer.
type statusLB interface {
	Status() lbsync.Status
	Model() *lbmodel.Model
	// ServerHealth is HAProxy's own view of each server, "backend/server";
	// an error leaves the page without it.
	ServerHealth(ctx context.Context) (map[string]lbsync.ServerHealth, error)
}

// statusPage serves the status page and /status.json.
type statusPage struct {
	version string
	domain  string
	// mesos is false when discovery follows Marathon alone (no Mesos view).
	mesos bool
	hub   statusHub
	table func() *dnsserver.Table
	// lb is nil when the load balancer is off; lbNote says why it shows
	// nothing when it is on without a syncer (a dry run).
	lb     statusLB
	lbOn   bool
	lbNote string
	// vips lists the VIPs (/v1/vips's document); nil when VIPs are off.
	vips func() vipsView
	// warnings are the daemon's start-up warnings (see daemon.warnings).
	warnings []string
	// staleAfter gives the age past which a source's view counts as stale, 0
	// for sources that are quiet when nothing changes (a file, Marathon events).
	staleAfter func(source string) time.Duration
	now        func() time.Time
	log        *slog.Logger

	tasksMu sync.Mutex
	tasks   atomic.Pointer[taskIndex]
}

// statusHandler returns the status page (GET /) and its JSON (GET
// /status.json); every other path under it is a 404.
func (d *daemon) statusHandler() http.Handler {
	p := &statusPage{
		version:  version,
		domain:   d.cfg.Domain,
		mesos:    d.cfg.hasMesosSource(),
		hub:      d.hub,
		table:    d.dnsTable.Load,
		warnings: d.warnings,
		now:      time.Now,
		log:      d.log.With("component", "status"),
	}
	stale := map[string]time.Duration{}
	for _, src := range d.sources {
		switch src.(type) {
		case *mesos.Poller, *mesos.Stream:
			// A poller delivers every refresh; the stream confirms its view at
			// every master heartbeat (15s) and polls every refresh when the
			// master has no operator API.
			stale[src.Name()] = 2 * time.Duration(d.cfg.RefreshSeconds) * time.Second
		case *marathon.Poller:
			if d.lb != nil {
				stale[src.Name()] = 2 * time.Duration(d.lb.opts.marathonPollSeconds) * time.Second
			}
		}
	}
	p.staleAfter = func(name string) time.Duration { return stale[name] }
	if d.lb != nil {
		p.lbOn = true
		if d.lb.syncer != nil {
			p.lb = d.lb.syncer
		} else {
			p.lbNote = "dry run: HAProxy is not driven"
		}
	}
	if d.vips != nil {
		r := d.cfg.vipRange().String()
		p.vips = func() vipsView { return d.vips.view(r) }
	}
	return p.handler()
}

func (p *statusPage) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.serveHTML)
	mux.HandleFunc("GET /status.json", p.serveJSON)
	return mux
}

func (p *statusPage) serveHTML(w http.ResponseWriter, r *http.Request) {
	v := p.view(r)
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, v); err != nil {
		p.log.Error("rendering the status page", "err", err)
		http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// No script runs on this page, whatever a task name holds.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	_, _ = w.Write(buf.Bytes())
}

func (p *statusPage) serveJSON(w http.ResponseWriter, r *http.Request) {
	v := p.view(r)
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		p.log.Error("encoding the status", "err", err)
		http.Error(w, "encoding the status failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

func normalizeQuery(q string) string {
	q = strings.ToLower(strings.TrimSpace(q))
	if len(q) > statusMaxQuery {
		q = strings.ToValidUTF8(q[:statusMaxQuery], "")
	}
	return q
}

// clampInt parses s, falling back to def when it is not a number, and keeps
// the result within [lo, hi].
func clampInt(s string, def, lo, hi int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return min(max(n, lo), hi)
}

func hostPort(host string, port int) string {
	if host == "" {
		return ""
	}
	if port == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// Template helpers: the page shows times as ages, with the time itself in a
// tooltip and a <time> element.

// Ago is "12s ago", "3m4s ago", or "never" for the zero time.
func (v *statusView) Ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := v.Now.Sub(t)
	if d < 0 {
		return "just now"
	}
	return humanDuration(d) + " ago"
}

// HealthClass is the badge class of an HAProxy server state: ok when it
// takes traffic, bad when its checks fail, warn otherwise (maintenance,
// drain, no check).
func (v *statusView) HealthClass(status string) string {
	switch {
	case status == "UP" || strings.HasPrefix(status, "UP "):
		return "ok"
	case strings.HasPrefix(status, "DOWN"):
		return "bad"
	}
	return "warn"
}

// Stamp is t as "2006-01-02 15:04:05 UTC".
func (v *statusView) Stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Seconds formats a duration in seconds for a person: "1.2s", "340ms".
func (v *statusView) Seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return humanDuration(d)
}

// Link is the page's URL with q changed, keeping the refresh and the limit.
func (v *statusView) Link(q string, refresh int) string {
	vals := make([]string, 0, 3)
	if q != "" {
		vals = append(vals, "q="+url.QueryEscape(q))
	}
	if refresh > 0 {
		vals = append(vals, "refresh="+strconv.Itoa(refresh))
	}
	if v.Limit != statusDefaultLimit {
		vals = append(vals, "limit="+strconv.Itoa(v.Limit))
	}
	if len(vals) == 0 {
		return "/"
	}
	return "/?" + strings.Join(vals, "&")
}

// PortName is the HAPROXY_{n} index of a left-out app, or "all ports".
func (v *statusView) PortName(n int) string {
	if n < 0 {
		return "all ports"
	}
	return "port " + strconv.Itoa(n)
}

func humanDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	days := int(d / (24 * time.Hour))
	return strconv.Itoa(days) + "d" + strconv.Itoa(int(d%(24*time.Hour)/time.Hour)) + "h"
}
