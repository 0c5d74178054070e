package main

import (
	"context"
	"net/http"
	"time"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/vips"
)

// statusView is one consistent read of the daemon's state, as the page and
// /status.json show it.
type statusView struct {
	Now     time.Time `json:"now"`
	Version string    `json:"version"`
	// Query is the filter (?q=), lowercased; Limit caps the long lists (?limit=).
	Query string `json:"query,omitempty"`
	Limit int    `json:"limit"`
	// Refresh is the meta refresh in seconds (?refresh=), 0 for none.
	Refresh int `json:"-"`

	// FollowsMesos is false when discovery follows Marathon alone.
	FollowsMesos bool `json:"followsMesos"`
	// Warnings are what start-up said about the configuration (an unknown
	// key, certificates not verified): shown for as long as the daemon runs,
	// not only in a log line scrolled away.
	Warnings []string `json:"warnings"`

	Snapshot   snapshotView    `json:"snapshot"`
	Leader     *masterView     `json:"leader"`
	Masters    []masterView    `json:"masters"`
	Sources    []sourceView    `json:"sources"`
	DNS        dnsView         `json:"dns"`
	Agents     int             `json:"agents"`
	Frameworks []frameworkView `json:"frameworks"`
	Tasks      taskList        `json:"tasks"`
	// LB is nil when the load balancer is off.
	LB *lbView `json:"lb"`
}

type snapshotView struct {
	// Seq is the latest snapshot delivered, 0 before the first.
	Seq uint64 `json:"seq"`
	// LastGood is the freshest good view of any source; zero before one.
	LastGood time.Time `json:"lastGood,omitzero"`
	// AgeSeconds is the time since LastGood, -1 before one.
	AgeSeconds float64 `json:"ageSeconds"`
	// Stale is true when any source is stale or failing.
	Stale bool `json:"stale"`
}

type masterView struct {
	ID       string `json:"id,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Address  string `json:"address"`
	PID      string `json:"pid,omitempty"`
	Leader   bool   `json:"leader"`
}

type sourceView struct {
	Name              string    `json:"name"`
	LastGood          time.Time `json:"lastGood,omitzero"`
	AgeSeconds        float64   `json:"ageSeconds"`
	StaleAfterSeconds float64   `json:"staleAfterSeconds,omitempty"`
	Stale             bool      `json:"stale"`
	Failures          int       `json:"failures"`
	LastError         string    `json:"lastError,omitempty"`
	LastErrorAt       time.Time `json:"lastErrorAt,omitzero"`
	// Note is how the source follows its origin when not the usual way.
	Note string `json:"note,omitempty"`
	// LeftOut are what its view left out for invalid data (the first
	// maxSourceLeftOut; LeftOutCount counts them all).
	LeftOut      []state.LeftOut `json:"leftOut,omitempty"`
	LeftOutCount int             `json:"leftOutCount,omitempty"`
}

// maxSourceLeftOut bounds the left-out records the status page lists per
// source (an app with thousands of bad tasks must not make it huge).
const maxSourceLeftOut = 100

type dnsView struct {
	Domain  string    `json:"domain"`
	Serial  uint32    `json:"serial"`
	Built   time.Time `json:"built,omitzero"`
	Names   int       `json:"names"`
	Records int       `json:"records"`
	// Current is false while the table is being rebuilt from a newer view.
	Current bool `json:"current"`
}

type frameworkView struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	PID     string `json:"pid,omitempty"`
	Active  bool   `json:"active"`
	Tasks   int    `json:"tasks"`
}

// taskList is the first Limit tasks matching Query, of Total.
type taskList struct {
	Total   int        `json:"total"`
	Matched int        `json:"matched"`
	Items   []taskView `json:"items"`
}

type taskView struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Framework string      `json:"framework"`
	State     string      `json:"state"`
	Health    string      `json:"health,omitempty"`
	Agent     string      `json:"agent,omitempty"`
	Addresses []string    `json:"addresses"`
	Ports     []string    `json:"ports"`
	Labels    []labelView `json:"labels"`
	// Records are the DNS records the task contributes, as /v1/enumerate
	// lists them.
	Records []dnsserver.EnumRecord `json:"records"`
}

type labelView struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type lbView struct {
	// Note explains an LB that is on but shows nothing (a dry run).
	Note string `json:"note,omitempty"`
	// Applied describes the latest apply.
	Seq         uint64    `json:"seq"`
	At          time.Time `json:"at,omitzero"`
	Via         string    `json:"via,omitempty"`
	TookSeconds float64   `json:"tookSeconds"`
	Err         string    `json:"error,omitempty"`

	BackendCount int   `json:"backendCount"`
	ServerCount  int   `json:"serverCount"`
	Draining     int   `json:"draining"`
	Restarts     int64 `json:"restarts"`

	Frontends []frontendView `json:"frontends"`
	Backends  backendList    `json:"backends"`
	LeftOut   []leftOutView  `json:"leftOut"`
	// Reloads are the latest reloads, newest first.
	Reloads []reloadView `json:"reloads"`
	// Changes are the latest changes HAProxy took (runtime and reloads),
	// newest first.
	Changes []changeView `json:"changes"`
	// HealthErr says why HAProxy's view of the servers is missing.
	HealthErr string `json:"healthError,omitempty"`
	// VIPs are the VIPs HAProxy listens on, as /v1/vips lists them;
	// VIPCollisions the named VIPs off their hashed address. Nil when VIPs
	// are off.
	VIPs          []vipView        `json:"vips,omitempty"`
	VIPCollisions []vips.Collision `json:"vipCollisions,omitempty"`
}

type changeView struct {
	At          time.Time `json:"at"`
	Seq         uint64    `json:"seq,omitempty"`
	Via         string    `json:"via"`
	Summary     string    `json:"summary"`
	TookSeconds float64   `json:"tookSeconds"`
	Err         string    `json:"error,omitempty"`
}

type frontendView struct {
	Name string   `json:"name"`
	Port int      `json:"port"`
	Apps []string `json:"apps"`
}

// backendList is the backends matching Query until Limit servers are shown.
type backendList struct {
	Total   int           `json:"total"`
	Matched int           `json:"matched"`
	Items   []backendView `json:"items"`
}

type backendView struct {
	Name        string       `json:"name"`
	AppID       string       `json:"appId"`
	Apps        []string     `json:"apps"`
	Mode        string       `json:"mode"`
	ServicePort int          `json:"servicePort"`
	Balance     string       `json:"balance,omitempty"`
	Dynamic     bool         `json:"dynamic"`
	Servers     []serverView `json:"servers"`
	// MoreServers counts servers not listed.
	MoreServers int `json:"moreServers,omitempty"`
}

type serverView struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Weight  int    `json:"weight"`
	// State is what discovery configured: "ready", or "drain" for a task going
	// away (HAProxy MAINT, finishing its connections).
	State  string `json:"state"`
	TaskID string `json:"taskId,omitempty"`
	AppID  string `json:"appId,omitempty"`
	// Health is HAProxy's state of the server (UP, DOWN, MAINT, …) and
	// Check its last health check; empty when HAProxy could not be asked.
	Health string `json:"health,omitempty"`
	Check  string `json:"check,omitempty"`
}

type leftOutView struct {
	AppID string `json:"appId"`
	// Port is the HAPROXY_{n} index, -1 when the whole app is left out.
	Port   int    `json:"port"`
	Reason string `json:"reason"`
}

type reloadView struct {
	At          time.Time    `json:"at"`
	Reasons     []reasonView `json:"reasons"`
	TookSeconds float64      `json:"tookSeconds"`
	Err         string       `json:"error,omitempty"`
}

type reasonView struct {
	Class  string `json:"class"`
	Detail string `json:"detail"`
}

// view reads everything once, for one request.
func (p *statusPage) view(r *http.Request) *statusView {
	q := r.URL.Query()
	v := &statusView{
		Now:      p.now().UTC(),
		Version:  p.version,
		Query:    normalizeQuery(q.Get("q")),
		Limit:    clampInt(q.Get("limit"), statusDefaultLimit, 1, statusMaxLimit),
		Refresh:  clampInt(q.Get("refresh"), 0, 0, statusMaxRefresh),
		Warnings: p.warnings,

		FollowsMesos: p.mesos,
	}
	snap := p.hub.Current()
	if snap != nil {
		v.Snapshot.Seq = snap.Seq
	}
	v.Snapshot.AgeSeconds = -1
	for _, s := range p.hub.Sources() {
		sv := sourceView{Name: s.Name, LastGood: s.LastGood, AgeSeconds: -1, Failures: s.Failures, LastErrorAt: s.LastErrorAt, Note: s.Note,
			LeftOut: s.LeftOut[:min(len(s.LeftOut), maxSourceLeftOut)], LeftOutCount: len(s.LeftOut)}
		if s.LastError != nil {
			sv.LastError = s.LastError.Error()
		}
		if !s.LastGood.IsZero() {
			sv.AgeSeconds = roundSeconds(v.Now.Sub(s.LastGood))
			if s.LastGood.After(v.Snapshot.LastGood) {
				v.Snapshot.LastGood = s.LastGood
			}
		}
		if after := p.staleAfter(s.Name); after > 0 {
			sv.StaleAfterSeconds = after.Seconds()
			sv.Stale = s.LastGood.IsZero() || v.Now.Sub(s.LastGood) > after
		}
		if sv.Stale || s.Failures > 0 {
			v.Snapshot.Stale = true
		}
		v.Sources = append(v.Sources, sv)
	}
	if !v.Snapshot.LastGood.IsZero() {
		v.Snapshot.AgeSeconds = roundSeconds(v.Now.Sub(v.Snapshot.LastGood))
	}

	t := p.table()
	if t != nil {
		v.DNS = dnsView{Domain: p.domain, Serial: t.Serial(), Built: t.Built(), Names: t.Names(), Records: t.Records(),
			Current: snap == nil || snap.Cluster == nil || t.Cluster() == snap.Cluster}
		if c := t.Cluster(); c != nil {
			v.clusterView(c)
			idx := p.taskIndex(t)
			v.Frameworks = idx.frameworks
			v.Tasks = idx.filter(v.Query, v.Limit)
		}
	}
	if v.Frameworks == nil {
		v.Frameworks = []frameworkView{}
	}
	if v.Tasks.Items == nil {
		v.Tasks.Items = []taskView{}
	}
	if p.lbOn {
		v.LB = p.lbView(r.Context(), v.Query, v.Limit)
	}
	return v
}

func (v *statusView) clusterView(c *state.Cluster) {
	v.Agents = len(c.Agents)
	l := c.Leader
	v.Leader = &masterView{ID: l.ID, Hostname: l.Hostname, Address: hostPort(l.Host, l.Port), PID: l.PID, Leader: true}
	for _, m := range c.Masters {
		mv := masterView{ID: m.ID, Hostname: m.Hostname, Address: hostPort(m.Host, m.Port), PID: m.PID}
		mv.Leader = mv.Address == v.Leader.Address
		v.Masters = append(v.Masters, mv)
	}
}

func (p *statusPage) lbView(ctx context.Context, q string, limit int) *lbView {
	v := &lbView{Note: p.lbNote, Frontends: []frontendView{}, LeftOut: []leftOutView{}, Reloads: []reloadView{},
		Changes: []changeView{}, Backends: backendList{Items: []backendView{}}}
	if p.vips != nil {
		doc := p.vips()
		v.VIPs, v.VIPCollisions = doc.VIPs, doc.Collisions
	}
	if p.lb == nil {
		return v
	}
	st := p.lb.Status()
	v.Seq, v.At, v.Via, v.TookSeconds, v.Err = st.Seq, st.At, st.Via, st.Took.Seconds(), st.Err
	v.BackendCount, v.ServerCount, v.Draining, v.Restarts = st.Backends, st.Servers, st.Draining, st.Restarts
	for _, e := range st.LeftOut {
		if q == "" || anyHasFold(q, e.AppID, e.Reason) {
			v.LeftOut = append(v.LeftOut, leftOutView{AppID: e.AppID, Port: e.Port, Reason: e.Reason})
		}
	}
	for i := len(st.Reloads) - 1; i >= 0 && len(v.Reloads) < statusMaxReloads; i-- {
		r := st.Reloads[i]
		rv := reloadView{At: r.At, TookSeconds: r.Took.Seconds(), Err: r.Err, Reasons: []reasonView{}}
		for _, why := range r.Reasons {
			rv.Reasons = append(rv.Reasons, reasonView(why))
		}
		v.Reloads = append(v.Reloads, rv)
	}
	for i := len(st.Changes) - 1; i >= 0 && len(v.Changes) < statusMaxChanges; i-- {
		c := st.Changes[i]
		if q != "" && !anyHasFold(q, c.Summary()) {
			continue
		}
		v.Changes = append(v.Changes, changeView{At: c.At, Seq: c.Seq, Via: c.Via, Summary: c.Summary(), TookSeconds: c.Took.Seconds(), Err: c.Err})
	}
	m := p.lb.Model()
	if m == nil {
		return v
	}
	health, err := p.lb.ServerHealth(ctx)
	if err != nil {
		v.HealthErr = err.Error()
	}
	for _, f := range m.Frontends {
		apps := f.Apps
		if apps == nil {
			apps = []string{}
		}
		v.Frontends = append(v.Frontends, frontendView{Name: f.Name, Port: f.Port, Apps: apps})
	}
	v.Backends.Total = len(m.Backends)
	shown := 0
	for i := range m.Backends {
		b := &m.Backends[i]
		whole := q == "" || anyHasFold(q, b.Name, b.AppID)
		var servers []serverView
		matched := 0
		for j := range b.Servers {
			s := &b.Servers[j]
			addr := hostPort(s.Host, s.Port)
			if !whole && !anyHasFold(q, s.Name, addr, s.TaskID, s.AppID) {
				continue
			}
			matched++
			if len(servers) < statusServersPerBackend {
				configured := "ready"
				if s.Draining {
					configured = "drain"
				}
				h := health[b.Name+"/"+s.Name]
				servers = append(servers, serverView{Name: s.Name, Address: addr, Weight: s.Weight, State: configured, TaskID: s.TaskID, AppID: s.AppID,
					Health: h.Status, Check: h.Check})
			}
		}
		if !whole && matched == 0 {
			continue
		}
		v.Backends.Matched++
		if shown >= limit {
			continue
		}
		if servers == nil {
			servers = []serverView{}
		}
		apps := b.Apps
		if apps == nil {
			apps = []string{}
		}
		v.Backends.Items = append(v.Backends.Items, backendView{Name: b.Name, AppID: b.AppID, Apps: apps, Mode: b.Mode,
			ServicePort: b.ServicePort, Balance: b.Balance, Dynamic: b.Dynamic, Servers: servers, MoreServers: matched - len(servers)})
		shown += max(1, len(servers))
	}
	return v
}
