package lbmodel

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/state"
)

// BuildOptions are the inputs of BuildModel beyond the apps and the config.
type BuildOptions struct {
	// Exclude lists app ids to leave out (the apps a failed validation was
	// bisected down to). A blue/green group is left out by its group id or by
	// any member's id.
	Exclude map[string]bool
	// Previous is the model currently applied, or nil. With --health-check, a
	// task Marathon reports no health results for keeps the status it had
	// there (marathon-lb keeps a cache for the same purpose).
	Previous *Model
	// Resolve turns a task's host (an agent hostname or address) into an IP.
	// Nil accepts IP literals only; a task whose host does not resolve is
	// left out.
	Resolve func(host string) (netip.Addr, bool)
	// Held are the claims (Model.Claims) to honour when Previous is nil: after
	// a restart, those of the model HAProxy ran before, saved by the syncer.
	Held map[string]string

	// held tells who keeps a port or a route: Previous's claims, else Held
	// (decideClaims).
	held func(key string) string
}

func (o *BuildOptions) resolver() func(string) (netip.Addr, bool) {
	if o != nil && o.Resolve != nil {
		return o.Resolve
	}
	return func(host string) (netip.Addr, bool) {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
}

// wasServer returns a function telling whether a task was a server of
// opts.Previous. The index of the previous model is built on first use: most
// builds never ask (only tasks without health results under --health-check).
func (o *BuildOptions) wasServer() func(taskID string) bool {
	if o == nil || o.Previous == nil {
		return func(string) bool { return false }
	}
	var m map[string]bool
	return func(taskID string) bool {
		if m == nil {
			m = previousServers(o.Previous)
		}
		return m[taskID]
	}
}

// previousServers indexes the task ids of the servers of m.
func previousServers(m *Model) map[string]bool {
	out := map[string]bool{}
	for i := range m.Backends {
		for _, s := range m.Backends[i].Servers {
			if s.TaskID != "" {
				out[s.TaskID] = true
			}
		}
	}
	return out
}

// BuildModel derives the load balancer model from apps, as marathon-lb's
// config generation would, with the given templates. It is a pure function:
// the same inputs give an equal model. An app (or app port) whose labels or
// templates are bad is left out and listed in Model.Errors; the rest is
// built. The error is for what no app can be blamed for: a global template
// that does not render.
func BuildModel(apps []state.App, cfg *Config, ts *Templates, opts *BuildOptions) (*Model, error) {
	opts, err := buildOptions(cfg, ts, opts)
	if err != nil {
		return nil, err
	}
	return assembleModel(selectServices(apps, cfg, opts), cfg, ts, opts.held, nil)
}

// buildOptions is what BuildModel and ModelCache.Build check first: a
// config and templates are required, and opts is what the build reads of
// the given ones (nil is none; without --health-check the previous model
// does not count).
func buildOptions(cfg *Config, ts *Templates, opts *BuildOptions) (*BuildOptions, error) {
	if cfg == nil || ts == nil {
		return nil, errors.New("building the load balancer model: no config or no templates")
	}
	if opts == nil {
		opts = &BuildOptions{}
	}
	held := heldBy(opts.Previous, opts.Held)
	if !cfg.HealthCheck {
		opts = &BuildOptions{Exclude: opts.Exclude, Resolve: opts.Resolve}
	} else {
		o := *opts
		opts = &o
	}
	opts.held = held
	return opts, nil
}

// assembleModel builds the model of the selected services. memo, when not
// nil, holds what the previous assembly computed (ModelCache).
// held tells who holds a claim in the model HAProxy runs (decideClaims).
func assembleModel(sel selection, cfg *Config, ts *Templates, held func(string) string, memo *assemblyMemo) (*Model, error) {
	b := newBuilder(cfg, ts)
	b.memo = memo
	b.model.Errors = sel.errors
	b.backends = make([]*Backend, 0, len(sel.services))
	b.binds.owners = make([]bindOwner, 0, len(sel.services)+4)
	b.frontends = make([]*Frontend, 0, len(sel.services))
	if memo != nil {
		b.http = make([]weighted, 0, memo.httpLen)
		b.https = make([]weighted, 0, memo.httpsLen)
		b.appIDParts = make([]string, 0, memo.appIDLen)
		b.appIDApps = make([]string, 0, memo.appIDLen)
	}
	b.reserveSharedPorts()
	var scratch *claimScratch
	if memo != nil {
		if memo.claims == nil {
			memo.claims = &claimScratch{}
		}
		scratch = memo.claims
	}
	losers := b.decideClaims(sel.services, held, scratch)
	for _, svc := range sel.services {
		if reason, lost := losers[svc]; lost {
			// Not b.fail: the service's memoised outcome is for its context,
			// which a lost claim is no part of.
			b.model.Errors = append(b.model.Errors, AppError{AppID: svc.appID, Port: svc.index, Reason: reason})
			continue
		}
		b.addService(svc)
	}
	if memo != nil {
		memo.httpLen, memo.httpsLen, memo.appIDLen = len(b.http), len(b.https), len(b.appIDParts)
	}
	if err := b.finish(); err != nil {
		return nil, err
	}
	return b.model, nil
}

// builder accumulates one model.
type builder struct {
	cfg      *Config
	ts       *Templates
	settings fmtVars
	model    *Model
	// labelTemplates caches compiled label overrides by name and text.
	labelTemplates map[[2]string]*Template

	bindHTTP bool
	// once records the map templates already written (marathon-lb writes the
	// map ACL a single time).
	once map[string]bool
	// binds records the service ports bound, for conflicts.
	binds     bindTable
	userlists []byte
	http      []weighted
	https     []weighted
	grouped   map[string]*groupedVHost
	// appIDApp is the app whose marathon_http_appid_in line is decided (an
	// earlier port of it is in HTTP mode): services come grouped by app id,
	// so the latest one is all there is to remember.
	appIDApp string
	appIDSet bool
	// appIDParts are the marathon_http_appid_in lines of each app, appIDApps
	// their apps.
	appIDParts []string
	appIDApps  []string
	domainMap  mapLines
	appMap     mapLines
	// frontends and backends are the per-service ones, in service order:
	// they point into the committed contributions.
	frontends []*Frontend
	backends  []*Backend
	seq       int
	memo      *assemblyMemo
	// scratch is reused by every addService: its buffers are copied out on
	// commit.
	scratch contribution
}

type bindOwner struct {
	addr string
	// appID is the app id, or the name of a shared listener when !app.
	appID string
	app   bool
}

// weighted is one app port's lines of a shared frontend.
type weighted struct {
	weight int
	seq    int
	appID  string
	text   string
	// mapACL marks the HAPROXY_MAP_HTTPS_FRONTEND_ACL line of a vhost's
	// TLS frontend (--group-https-by-vhost with --haproxy-map).
	mapACL bool
}

type groupedVHost struct {
	entries  []weighted
	certs    []string
	bindOpts []string
}

type mapLines struct {
	seen  map[[2]string]bool
	lines []byte
}

func (m *mapLines) add(key, value string) {
	if m.seen == nil {
		m.seen = map[[2]string]bool{}
	}
	k := [2]string{key, value}
	if m.seen[k] {
		return
	}
	m.seen[k] = true
	m.lines = append(m.lines, key...)
	m.lines = append(m.lines, ' ')
	m.lines = append(m.lines, value...)
	m.lines = append(m.lines, '\n')
}

func newBuilder(cfg *Config, ts *Templates) *builder {
	return &builder{
		cfg:            cfg,
		ts:             ts,
		settings:       cfg.settingsVars(),
		model:          &Model{},
		labelTemplates: map[[2]string]*Template{},
		bindHTTP:       !cfg.DontBindHTTPHTTPS,
		once:           map[string]bool{},
		grouped:        map[string]*groupedVHost{},
	}
}

// reserveSharedPorts marks the ports of the shared listeners taken.
func (b *builder) reserveSharedPorts() { b.reserveSharedPortsIn(&b.binds) }

func (b *builder) reserveSharedPortsIn(t *bindTable) {
	t.add(b.cfg.StatsPort, bindOwner{b.cfg.StatsBindAddr, "the stats listener", false})
	t.add(b.cfg.AppIDPort, bindOwner{b.cfg.AppIDBindAddr, "marathon_http_appid_in", false})
	if b.bindHTTP {
		t.add(b.cfg.HTTPPort, bindOwner{b.cfg.HTTPBindAddr, "marathon_http_in", false})
		t.add(b.cfg.HTTPSPort, bindOwner{b.cfg.HTTPSBindAddr, "marathon_https_in", false})
	}
}

// bindTable records who binds each port: the first owner of a port by an
// index over every port number (ports outside 0..65535 in a map), more in
// a second map.
type bindTable struct {
	// byPort[p] is 1 + the index in owners of port p's first owner, 0 when
	// nobody binds p.
	byPort [65536]int32
	owners []bindOwner
	odd    map[int]bindOwner
	more   map[int][]bindOwner
}

func (t *bindTable) first(port int) (bindOwner, bool) {
	if port >= 0 && port < len(t.byPort) {
		if i := t.byPort[port]; i > 0 {
			return t.owners[i-1], true
		}
		return bindOwner{}, false
	}
	o, ok := t.odd[port]
	return o, ok
}

func (t *bindTable) add(port int, o bindOwner) {
	if _, ok := t.first(port); !ok {
		if port >= 0 && port < len(t.byPort) {
			t.owners = append(t.owners, o)
			t.byPort[port] = int32(len(t.owners))
			return
		}
		if t.odd == nil {
			t.odd = map[int]bindOwner{}
		}
		t.odd[port] = o
		return
	}
	if t.more == nil {
		t.more = map[int][]bindOwner{}
	}
	t.more[port] = append(t.more[port], o)
}

// conflict returns who binds port on an address that clashes with addr.
func (t *bindTable) conflict(port int, addr string) (bindOwner, bool) {
	o, ok := t.first(port)
	if !ok {
		return bindOwner{}, false
	}
	clash := func(o bindOwner) bool { return o.addr == addr || wildcardAddr(o.addr) || wildcardAddr(addr) }
	if clash(o) {
		return o, true
	}
	for _, o := range t.more[port] {
		if clash(o) {
			return o, true
		}
	}
	return bindOwner{}, false
}

func wildcardAddr(a string) bool {
	return a == "*" || a == "" || a == "0.0.0.0" || a == "::" || a == "[::]"
}

// template returns the template name (without HAPROXY_) for svc: its label
// override when allowed, else the loaded one.
func (b *builder) template(svc *service, name string) (*Template, error) {
	i := templateIndex[name]
	if svc != nil && svc.labels.Templates != nil {
		label := name
		text, ok := svc.labels.Templates[name]
		if !ok && strings.HasPrefix(name, "MAP_") {
			// marathon-lb lets the plain label override the map variant.
			label = strings.TrimPrefix(name, "MAP_")
			text, ok = svc.labels.Templates[label]
		}
		if ok && b.cfg.templateLabelAllowed(label) {
			key := [2]string{name, text}
			if t := b.labelTemplates[key]; t != nil {
				return t, nil
			}
			t, err := newTemplate("HAPROXY_"+name, text,
				"label HAPROXY_"+strconv.Itoa(svc.index)+"_"+label, templateDefs[i].literal)
			if err != nil {
				return nil, err
			}
			b.labelTemplates[key] = t
			return t, nil
		}
	}
	return b.ts.byIndex[i], nil
}

// contribution collects what one service adds to the model, so that a service
// that fails half-way adds nothing.
type contribution struct {
	svc      *service
	backend  string
	err      error
	buf      []byte
	userlist []byte
	frontend []byte
	backHead []byte
	servers  []Server
	http     []byte
	https    []byte
	weight   int
	grouped  map[string]*groupedVHost
	gOrder   []string
	once     map[string]bool
	appID    []byte
	domain   [][2]string
	appMap   [][2]string
}

func (c *contribution) reset(svc *service, backend string) {
	c.svc, c.backend, c.err = svc, backend, nil
	c.buf, c.userlist, c.frontend, c.backHead = c.buf[:0], c.userlist[:0], c.frontend[:0], c.backHead[:0]
	c.http, c.https, c.appID = c.http[:0], c.https[:0], c.appID[:0]
	c.servers, c.weight, c.grouped, c.gOrder = nil, 0, nil, nil
	c.domain, c.appMap = c.domain[:0], c.appMap[:0]
	if c.once == nil {
		c.once = map[string]bool{}
	}
	clear(c.once)
}

// exec formats the template name for the contribution's service with vars
// (and the settings) and appends the text to *dst.
func (b *builder) exec(c *contribution, dst *[]byte, name string, vars ...fmtVar) {
	if c.err != nil {
		return
	}
	t, err := b.template(c.svc, name)
	if err != nil {
		c.err = err
		return
	}
	*dst, err = t.execute(*dst, fmtScope{vars, b.settings})
	if err != nil {
		c.err = err
	}
}

// serviceContext is everything addService reads from what the services
// before it added: a service's outcome is a function of the service, the
// config, the templates and this. An outcome kept from an earlier build (the
// service came from the ModelCache) is replayed when the context is the same.
type serviceContext struct {
	// bound is who already binds the service port, "" when nobody.
	bound string
	// appIDSeen: an earlier port of the app wrote its marathon_http_appid_in line.
	appIDSeen bool
	// once are the map lines written once already (--haproxy-map): the
	// X-Marathon-App-Id, HTTP and HTTPS ones.
	once [3]bool
}

// serviceOutcome is what addService did with a service in a context.
type serviceOutcome struct {
	// set: addService ran for the service (in ctx).
	set bool
	ctx serviceContext
	// reason is why the service was left out; "" when it was committed.
	reason string
	done   *committed
}

// contextOf returns svc's context at this point of the build.
func (b *builder) contextOf(svc *service) serviceContext {
	ctx := serviceContext{bound: b.bindConflict(svc), appIDSeen: b.appIDSet && b.appIDApp == svc.appID}
	if b.cfg.HAProxyMap {
		ctx.once = [3]bool{b.once["appid"], b.once["http"], b.once["https"]}
	}
	return ctx
}

// addService adds svc's frontend, backend and routing lines to the model, or
// its error. A service that went through addService before (kept by a
// ModelCache) in the same context gets the same outcome again, without
// rendering anything.
func (b *builder) addService(svc *service) {
	ctx := b.contextOf(svc)
	if o := &svc.outcome; o.set && o.ctx == ctx {
		if o.done == nil {
			b.fail(svc, o.reason)
		} else {
			b.apply(svc, o.done)
		}
		return
	}
	svc.outcome = serviceOutcome{set: true, ctx: ctx}
	appPath := strings.ReplaceAll(strings.TrimPrefix(svc.appID, "/"), "/", "_")
	c := &b.scratch
	c.reset(svc, appPath+"_"+strconv.Itoa(svc.servicePort))
	if svc.mode != "http" && svc.mode != "tcp" {
		b.fail(svc, fmt.Sprintf("HAPROXY_%d_MODE: %q is neither http nor tcp", svc.index, svc.mode))
		return
	}
	if owner := ctx.bound; owner != "" {
		b.fail(svc, fmt.Sprintf("service port %d is already bound by %s", svc.servicePort, owner))
		return
	}
	l := &svc.labels
	backendV := fmtVar{"backend", strVal(c.backend)}
	modeV := fmtVar{"mode", strVal(svc.mode)}

	if l.Auth != nil {
		b.exec(c, &c.userlist, "USERLIST_HEAD", backendV,
			fmtVar{"user", strVal(l.Auth.User)}, fmtVar{"passwd", strVal(l.Auth.Password)})
	}
	sslCert, bindOptions := "", ""
	if l.SSLCert != "" {
		sslCert = " ssl crt " + l.SSLCert
	}
	if l.BindOptions != "" {
		bindOptions = " " + l.BindOptions
	}
	frontendOptions := ""
	if svc.mode == "http" {
		frontendOptions = httpFrontendOptions
	}
	b.exec(c, &c.frontend, "FRONTEND_HEAD", fmtVar{"bindAddr", strVal(l.BindAddr)}, backendV,
		fmtVar{"servicePort", intVal(svc.servicePort)}, modeV,
		fmtVar{"sslCert", strVal(sslCert)}, fmtVar{"bindOptions", strVal(bindOptions)},
		fmtVar{"httpFrontendOptions", strVal(frontendOptions)})
	b.exec(c, &c.backHead, "BACKEND_HEAD", backendV, fmtVar{"balance", strVal(l.Balance)}, modeV)

	c.weight = l.BackendWeight
	if b.bindHTTP && l.VHost != "" {
		b.vhostACLs(c)
	}
	if svc.mode == "http" && !ctx.appIDSeen {
		if b.cfg.HAProxyMap {
			if !b.once["appid"] {
				b.exec(c, &c.appID, "MAP_HTTP_FRONTEND_APPID_ACL")
				c.once["appid"] = true
			}
			c.appMap = append(c.appMap, [2]string{svc.appID, c.backend})
		} else {
			b.exec(c, &c.appID, "HTTP_FRONTEND_APPID_ACL",
				fmtVar{"cleanedUpAppId", strVal(cleanName(svc.appID))},
				fmtVar{"hostname", optStr(l.VHost)},
				fmtVar{"appId", strVal(svc.appID)}, backendV)
		}
	}
	if svc.mode == "http" {
		if l.UseHSTS {
			b.exec(c, &c.backHead, "BACKEND_HSTS_OPTIONS")
		}
		b.exec(c, &c.backHead, "BACKEND_HTTP_OPTIONS")
		hostV := fmtVar{"hostname", optStr(l.VHost)}
		if l.ProxyPassPath != "" {
			b.exec(c, &c.backHead, "HTTP_BACKEND_PROXYPASS_GLUE", hostV, fmtVar{"proxypath", strVal(l.ProxyPassPath)})
		}
		if l.RevProxyPath != "" {
			b.exec(c, &c.backHead, "HTTP_BACKEND_REVPROXY_GLUE", hostV, fmtVar{"rootpath", strVal(l.RevProxyPath)})
		}
		if l.RedirPath != "" {
			b.exec(c, &c.backHead, "HTTP_BACKEND_REDIR", hostV, fmtVar{"redirpath", strVal(l.RedirPath)})
		}
	}
	if l.NetworkAllowed != "" {
		acl, allowDeny := "TCP_BACKEND_NETWORK_ALLOWED_ACL", "TCP_BACKEND_ACL_ALLOW_DENY"
		if svc.mode == "http" {
			acl, allowDeny = "HTTP_BACKEND_NETWORK_ALLOWED_ACL", "HTTP_BACKEND_ACL_ALLOW_DENY"
		}
		for _, network := range strings.Fields(l.NetworkAllowed) {
			b.exec(c, &c.backHead, acl, fmtVar{"network_allowed", strVal(network)})
		}
		if c.err == nil {
			c.backHead = append(c.backHead, b.ts.byIndex[templateIndex[allowDeny]].Text...)
		}
	}
	if l.Sticky {
		b.exec(c, &c.backHead, "BACKEND_STICKY_OPTIONS")
	}
	b.exec(c, &c.frontend, "FRONTEND_BACKEND_GLUE", backendV)
	b.servers(c)
	if c.err == nil && len(c.servers) == 0 && !svc.lingering {
		c.err = errors.New("no server")
	}
	if c.err != nil {
		b.fail(svc, c.err.Error())
		return
	}
	b.commit(c)
}

func (b *builder) fail(svc *service, reason string) {
	svc.outcome.reason, svc.outcome.done = reason, nil
	b.model.Errors = append(b.model.Errors, AppError{AppID: svc.appID, Port: svc.index, Reason: reason})
}

func (b *builder) bindConflict(svc *service) string {
	o, ok := b.binds.conflict(svc.servicePort, svc.labels.BindAddr)
	if !ok {
		return ""
	}
	if o.app {
		return "app " + o.appID
	}
	return o.appID
}

// committed is a contribution made final: what apply adds to the model. Its
// strings and slices are shared by every model it is applied to (models are
// never modified), so that comparing two models built from the same
// outcome compares equal pointers.
type committed struct {
	userlist string
	http     string
	https    string
	// toHTTPS: the port has lines in marathon_https_in (possibly none).
	toHTTPS  bool
	weight   int
	gOrder   []string
	grouped  map[string]*groupedVHost
	once     []string
	appID    string
	domain   [][2]string
	appMap   [][2]string
	frontend Frontend
	backend  Backend
}

// commit adds a finished contribution to the model.
func (b *builder) commit(c *contribution) {
	svc := c.svc
	d := &committed{
		userlist: string(c.userlist),
		http:     string(c.http),
		https:    string(c.https),
		toHTTPS:  len(c.https) > 0 || (b.bindHTTP && svc.labels.VHost != ""),
		weight:   c.weight,
		gOrder:   c.gOrder,
		grouped:  c.grouped,
		appID:    string(c.appID),
		domain:   slices.Clone(c.domain),
		appMap:   slices.Clone(c.appMap),
		frontend: Frontend{
			Name: c.backend,
			Port: svc.servicePort,
			Text: string(c.frontend),
			Apps: svc.members,
		},
		backend: Backend{
			Name:        c.backend,
			AppID:       svc.appID,
			Apps:        svc.members,
			PortIndex:   svc.index,
			ServicePort: svc.servicePort,
			Mode:        svc.mode,
			Text:        string(c.backHead),
			Servers:     c.servers,
			claims:      b.claimsOf(svc),
		},
	}
	for k := range c.once {
		d.once = append(d.once, k)
	}
	d.backend.Balance, d.backend.Dynamic = backendDynamics(d.backend.Text, c.servers)
	svc.outcome.reason, svc.outcome.done = "", d
	b.apply(svc, d)
}

// apply adds a committed contribution of svc to the model.
func (b *builder) apply(svc *service, d *committed) {
	b.binds.add(svc.servicePort, bindOwner{svc.labels.BindAddr, svc.appID, true})
	b.userlists = append(b.userlists, d.userlist...)
	b.seq++
	if len(d.http) > 0 {
		b.http = append(b.http, weighted{weight: d.weight, seq: b.seq, appID: svc.appID, text: d.http})
	}
	if d.toHTTPS {
		b.https = append(b.https, weighted{weight: d.weight, seq: b.seq, appID: svc.appID, text: d.https})
	}
	for _, vh := range d.gOrder {
		g := b.grouped[vh]
		if g == nil {
			g = &groupedVHost{}
			b.grouped[vh] = g
		}
		cg := d.grouped[vh]
		for _, e := range cg.entries {
			e.seq = b.seq
			e.appID = svc.appID
			g.entries = append(g.entries, e)
		}
		g.certs = appendUnique(g.certs, cg.certs...)
		g.bindOpts = appendUnique(g.bindOpts, cg.bindOpts...)
	}
	for _, k := range d.once {
		b.once[k] = true
	}
	if svc.mode == "http" && !(b.appIDSet && b.appIDApp == svc.appID) {
		b.appIDApp, b.appIDSet = svc.appID, true
		if len(d.appID) > 0 {
			b.appIDParts = append(b.appIDParts, d.appID)
			b.appIDApps = append(b.appIDApps, svc.appID)
		}
	}
	for _, kv := range d.domain {
		b.domainMap.add(kv[0], kv[1])
	}
	for _, kv := range d.appMap {
		b.appMap.add(kv[0], kv[1])
	}
	b.frontends = append(b.frontends, &d.frontend)
	b.backends = append(b.backends, &d.backend)
}

func appendUnique(dst []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(dst, it) {
			dst = append(dst, it)
		}
	}
	return dst
}
