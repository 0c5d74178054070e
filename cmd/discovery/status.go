package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/lbsync"
	"github.com/discovery-mesos/discovery/state"
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
	Model() *lbsync.Model
}

// statusPage serves the status page and /status.json.
type statusPage struct {
	version string
	domain  string
	hub     statusHub
	table   func() *dnsserver.Table
	// lb is nil when the load balancer is off; lbNote says why it shows
	// nothing when it is on without a syncer (a dry run).
	lb     statusLB
	lbOn   bool
	lbNote string
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
		version: version,
		domain:  d.cfg.Domain,
		hub:     d.hub,
		table:   d.tables.Load,
		now:     time.Now,
		log:     d.log.With("component", "status"),
	}
	stale := map[string]time.Duration{}
	for _, src := range d.sources {
		switch src.(type) {
		case *state.MesosPoller:
			stale[src.Name()] = 2 * time.Duration(d.cfg.RefreshSeconds) * time.Second
		case *state.MarathonPoller:
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
}

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
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Framework string       `json:"framework"`
	State     string       `json:"state"`
	Health    string       `json:"health,omitempty"`
	Agent     string       `json:"agent,omitempty"`
	Addresses []string     `json:"addresses"`
	Ports     []string     `json:"ports"`
	Labels    []labelView  `json:"labels"`
	Records   []recordView `json:"records"`
}

type labelView struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type recordView struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
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
		Now:     p.now().UTC(),
		Version: p.version,
		Query:   normalizeQuery(q.Get("q")),
		Limit:   clampInt(q.Get("limit"), statusDefaultLimit, 1, statusMaxLimit),
		Refresh: clampInt(q.Get("refresh"), 0, 0, statusMaxRefresh),
	}
	snap := p.hub.Current()
	if snap != nil {
		v.Snapshot.Seq = snap.Seq
	}
	v.Snapshot.AgeSeconds = -1
	for _, s := range p.hub.Sources() {
		sv := sourceView{Name: s.Name, LastGood: s.LastGood, AgeSeconds: -1, Failures: s.Failures, LastErrorAt: s.LastErrorAt}
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
		v.LB = p.lbView(v.Query, v.Limit)
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

// taskIndex is the task rows of one DNS table, built on first use: the
// records of every task come from regenerating the table's records, which is
// too slow to do on every request of a large cluster.
type taskIndex struct {
	table      *dnsserver.Table
	frameworks []frameworkView
	rows       []taskRow
}

type taskRow struct {
	view taskView
	// hay is the lowercased text the filter searches.
	hay string
}

func (p *statusPage) taskIndex(t *dnsserver.Table) *taskIndex {
	if idx := p.tasks.Load(); idx != nil && idx.table == t {
		return idx
	}
	p.tasksMu.Lock()
	defer p.tasksMu.Unlock()
	if idx := p.tasks.Load(); idx != nil && idx.table == t {
		return idx
	}
	idx := buildTaskIndex(t)
	p.tasks.Store(idx)
	return idx
}

func buildTaskIndex(t *dnsserver.Table) *taskIndex {
	c := t.Cluster()
	idx := &taskIndex{table: t}
	records := map[string][]recordView{}
	for _, f := range t.Enumerate().Frameworks {
		for _, et := range f.Tasks {
			rs := records[et.ID]
			for _, r := range et.Records {
				rs = append(rs, recordView{Name: r.Name, Type: r.Rtype, Value: r.Host})
			}
			records[et.ID] = rs
		}
	}
	perFramework := map[string]int{}
	idx.rows = make([]taskRow, 0, len(c.Tasks))
	var hay strings.Builder
	for i := range c.Tasks {
		task := &c.Tasks[i]
		perFramework[task.FrameworkID]++
		tv := taskView{ID: task.ID, Name: task.Name, Framework: task.FrameworkID, State: string(task.State),
			Records: records[task.ID], Labels: []labelView{}, Addresses: []string{}, Ports: []string{}}
		if tv.Records == nil {
			tv.Records = []recordView{}
		}
		if f := c.Framework(task.FrameworkID); f != nil && f.Name != "" {
			tv.Framework = f.Name
		}
		if task.Healthy != nil {
			tv.Health = "unhealthy"
			if *task.Healthy {
				tv.Health = "healthy"
			}
		}
		if a := c.Agent(task.AgentID); a != nil {
			tv.Agent = a.Hostname
			if tv.Agent == "" {
				tv.Agent = a.Host
			}
		}
		tv.Addresses = taskAddresses(task)
		for _, pr := range task.Ports {
			s := strconv.FormatUint(uint64(pr.Begin), 10)
			if pr.End != pr.Begin {
				s += "-" + strconv.FormatUint(uint64(pr.End), 10)
			}
			tv.Ports = append(tv.Ports, s)
		}
		for _, l := range task.Labels {
			tv.Labels = append(tv.Labels, labelView(l))
		}
		hay.Reset()
		for _, s := range []string{tv.ID, tv.Name, tv.Framework, tv.State, tv.Health, tv.Agent} {
			hay.WriteString(s)
			hay.WriteByte('\n')
		}
		for _, s := range tv.Addresses {
			hay.WriteString(s)
			hay.WriteByte('\n')
		}
		for _, r := range tv.Records {
			hay.WriteString(r.Name)
			hay.WriteByte('\n')
		}
		for _, l := range tv.Labels {
			hay.WriteString(l.Key)
			hay.WriteByte('=')
			hay.WriteString(l.Value)
			hay.WriteByte('\n')
		}
		idx.rows = append(idx.rows, taskRow{view: tv, hay: strings.ToLower(hay.String())})
	}
	slices.SortStableFunc(idx.rows, func(a, b taskRow) int {
		if c := strings.Compare(a.view.Framework, b.view.Framework); c != 0 {
			return c
		}
		if c := strings.Compare(a.view.Name, b.view.Name); c != 0 {
			return c
		}
		return strings.Compare(a.view.ID, b.view.ID)
	})
	idx.frameworks = make([]frameworkView, 0, len(c.Frameworks))
	for _, f := range c.Frameworks {
		fv := frameworkView{ID: f.ID, Name: f.Name, PID: f.PID, Active: f.Active, Tasks: perFramework[f.ID]}
		if f.Host != "" {
			fv.Address = hostPort(f.Host, f.Port)
		}
		idx.frameworks = append(idx.frameworks, fv)
	}
	return idx
}

// taskAddresses lists a task's own addresses (every IP source, without
// repeats); a task on its agent's network has none of its own.
func taskAddresses(t *state.Task) []string {
	out := []string{}
	seen := map[netip.Addr]bool{}
	for _, list := range [][]netip.Addr{t.NetInfo, t.Docker, t.Mesos} {
		for _, a := range list {
			if !seen[a] {
				seen[a] = true
				out = append(out, a.String())
			}
		}
	}
	return out
}

// filter returns the first limit tasks whose text contains q.
func (idx *taskIndex) filter(q string, limit int) taskList {
	l := taskList{Total: len(idx.rows), Items: []taskView{}}
	for i := range idx.rows {
		if q != "" && !strings.Contains(idx.rows[i].hay, q) {
			continue
		}
		l.Matched++
		if len(l.Items) < limit {
			l.Items = append(l.Items, idx.rows[i].view)
		}
	}
	return l
}

func (p *statusPage) lbView(q string, limit int) *lbView {
	v := &lbView{Note: p.lbNote, Frontends: []frontendView{}, LeftOut: []leftOutView{}, Reloads: []reloadView{},
		Backends: backendList{Items: []backendView{}}}
	if p.lb == nil {
		return v
	}
	st := p.lb.Status()
	v.Seq, v.At, v.Via, v.TookSeconds, v.Err = st.Seq, st.At, st.Via, st.Took.Seconds(), st.Err
	v.BackendCount, v.ServerCount, v.Draining, v.Restarts = st.Backends, st.Servers, st.Draining, st.Restarts
	for _, e := range st.LeftOut {
		if q == "" || containsFold(q, e.AppID, e.Reason) {
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
	m := p.lb.Model()
	if m == nil {
		return v
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
		whole := q == "" || containsFold(q, b.Name, b.AppID)
		var servers []serverView
		matched := 0
		for j := range b.Servers {
			s := &b.Servers[j]
			addr := hostPort(s.Host, s.Port)
			if !whole && !containsFold(q, s.Name, addr, s.TaskID, s.AppID) {
				continue
			}
			matched++
			if len(servers) < statusServersPerBackend {
				configured := "ready"
				if s.Draining {
					configured = "drain"
				}
				servers = append(servers, serverView{Name: s.Name, Address: addr, Weight: s.Weight, State: configured, TaskID: s.TaskID, AppID: s.AppID})
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

// containsFold reports whether any of fields contains q (already lowercase).
func containsFold(q string, fields ...string) bool {
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

func normalizeQuery(q string) string {
	q = strings.ToLower(strings.TrimSpace(q))
	if len(q) > statusMaxQuery {
		q = q[:statusMaxQuery]
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
