package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/vips"
)

// vipPublisher hands DNS the names of the VIPs whose listeners run: the VIPs
// of the model HAProxy runs (after each apply of the syncer), each once a
// connection to its address and port was accepted. A VIP leaves DNS as soon
// as it leaves the running model. Names are thus never answered before their
// listener is up (dcos-net answered some before its balancer was ready), nor
// while nothing listens; with the load balancer off no VIP name is answered.
type vipPublisher struct {
	domain string
	log    *slog.Logger
	// every is how often VIPs whose probe failed are probed again.
	every time.Duration

	table atomic.Pointer[dnsserver.VIPTable]

	mu         sync.Mutex
	running    []vips.VIP // the running model's VIPs
	collisions []vips.Collision
	published  map[string]bool // keys of the VIPs answered
}

func newVIPPublisher(domain string, log *slog.Logger) *vipPublisher {
	return &vipPublisher{domain: domain, log: log, every: 2 * time.Second, published: map[string]bool{}}
}

// LoadVIPs is what the DNS server reads (dnsserver.VIPSource).
func (p *vipPublisher) LoadVIPs() *dnsserver.VIPTable { return p.table.Load() }

// run follows the syncer until ctx ends.
func (p *vipPublisher) run(ctx context.Context, model func() *lbmodel.Model, changed func() <-chan struct{}) error {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		ch := changed()
		p.update(ctx, model())
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		case <-t.C:
		}
	}
}

// update publishes the VIPs of m whose listeners accept connections.
func (p *vipPublisher) update(ctx context.Context, m *lbmodel.Model) {
	var running []vips.VIP
	var collisions []vips.Collision
	if m != nil {
		running, collisions = m.VIPs, m.VIPCollisions
	}
	p.mu.Lock()
	was := p.published
	oldCollisions := p.collisions
	p.mu.Unlock()
	now := make(map[string]bool, len(running))
	var answered []vips.VIP
	for i := range running {
		v := &running[i]
		k := v.Key()
		if was[k] || listening(ctx, v) {
			now[k] = true
			answered = append(answered, *v)
		}
	}
	for k := range now {
		if !was[k] {
			p.log.Info("VIP answered in DNS: its listener accepts connections", "vip", k)
		}
	}
	for k := range was {
		if !now[k] {
			p.log.Info("VIP withdrawn from DNS: no longer in the load balancer", "vip", k)
		}
	}
	if !slices.Equal(collisions, oldCollisions) {
		for _, c := range collisions {
			p.log.Warn("named VIP moved off the address its name hashes to (a wider vipRange avoids it)",
				"vip", c.Name, "wanted", c.Wanted, "got", c.Got, "holder", c.Holder)
		}
	}
	changed := len(now) != len(was)
	for k := range now {
		changed = changed || !was[k]
	}
	p.mu.Lock()
	p.running, p.collisions, p.published = running, collisions, now
	p.mu.Unlock()
	if changed || p.table.Load() == nil {
		p.table.Store(dnsserver.NewVIPTable(answered, p.domain))
	}
}

// listening reports whether v's listener accepts a connection. The
// connection is closed at once: HAProxy may have opened one to a backend,
// which sees it closed.
func listening(ctx context.Context, v *vips.VIP) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(v.Addr.String(), strconv.Itoa(int(v.Port))))
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// vipView is one VIP as /v1/vips and the status page show it.
type vipView struct {
	vips.VIP
	// Names are its DNS names, empty for an address VIP.
	Names []string `json:"names"`
	// Answered is true once its name is answered in DNS.
	Answered bool `json:"answered"`
}

// vipsView is the /v1/vips document.
type vipsView struct {
	Range      string           `json:"range"`
	VIPs       []vipView        `json:"vips"`
	Collisions []vips.Collision `json:"collisions"`
}

func (p *vipPublisher) view(r string) vipsView {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := vipsView{Range: r, VIPs: make([]vipView, 0, len(p.running)), Collisions: slices.Clone(p.collisions)}
	if out.Collisions == nil {
		out.Collisions = []vips.Collision{}
	}
	for _, v := range p.running {
		vv := vipView{VIP: v, Names: []string{}, Answered: p.published[v.Key()]}
		if vv.Backends == nil {
			vv.Backends = []vips.Backend{}
		}
		if v.DNSName != "" {
			vv.Names = []string{v.DNSName + "." + vips.Zone, v.DNSName + "." + dnsserver.VIPSubdomain + "." + p.domain + "."}
		}
		out.VIPs = append(out.VIPs, vv)
	}
	return out
}

// serveVIPs answers /v1/vips: the VIPs the load balancer listens on, their
// names, addresses and backends.
func (p *vipPublisher) serveVIPs(r string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p.view(r))
	}
}
