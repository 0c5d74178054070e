package lbsync

import (
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
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

func (o *BuildOptions) previousServers() map[string]bool {
	if o == nil || o.Previous == nil {
		return nil
	}
	m := map[string]bool{}
	for i := range o.Previous.Backends {
		for _, s := range o.Previous.Backends[i].Servers {
			if s.TaskID != "" {
				m[s.TaskID] = true
			}
		}
	}
	return m
}

// BuildModel derives the load balancer model from apps, as marathon-lb's
// config generation would, with the given templates. It is a pure function:
// the same inputs give an equal model. An app (or app port) whose labels or
// templates are bad is left out and listed in Model.Errors; the rest is
// built. The error is for what no app can be blamed for: a global template
// that does not render.
func BuildModel(apps []state.App, cfg *Config, ts *Templates, opts *BuildOptions) (*Model, error) {
	if opts == nil {
		opts = &BuildOptions{}
	}
	b := newBuilder(cfg, ts)
	if !cfg.HealthCheck {
		opts = &BuildOptions{Exclude: opts.Exclude, Resolve: opts.Resolve}
	}
	sel := selectServices(apps, cfg, opts)
	b.model.Errors = sel.errors
	b.model.Backends = make([]Backend, 0, len(sel.services))
	b.binds.first = make(map[int]bindOwner, len(sel.services)+4)
	b.frontends = make([]Frontend, 0, len(sel.services))
	b.reserveSharedPorts()
	for _, svc := range sel.services {
		b.addService(svc)
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
	appIDSeen map[string]bool
	appIDText []byte
	appIDApps []string
	domainMap mapLines
	appMap    mapLines
	frontends []Frontend
	seq       int
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
		binds:          bindTable{first: map[int]bindOwner{}},
		grouped:        map[string]*groupedVHost{},
		appIDSeen:      map[string]bool{},
	}
}

// reserveSharedPorts marks the ports of the shared listeners taken.
func (b *builder) reserveSharedPorts() {
	b.binds.add(b.cfg.StatsPort, bindOwner{b.cfg.StatsBindAddr, "the stats listener", false})
	b.binds.add(b.cfg.AppIDPort, bindOwner{b.cfg.AppIDBindAddr, "marathon_http_appid_in", false})
	if b.bindHTTP {
		b.binds.add(b.cfg.HTTPPort, bindOwner{b.cfg.HTTPBindAddr, "marathon_http_in", false})
		b.binds.add(b.cfg.HTTPSPort, bindOwner{b.cfg.HTTPSBindAddr, "marathon_https_in", false})
	}
}

// bindTable records who binds each port: one owner in a map (the usual
// case), more in a second one.
type bindTable struct {
	first map[int]bindOwner
	more  map[int][]bindOwner
}

func (t *bindTable) add(port int, o bindOwner) {
	if _, ok := t.first[port]; !ok {
		t.first[port] = o
		return
	}
	if t.more == nil {
		t.more = map[int][]bindOwner{}
	}
	t.more[port] = append(t.more[port], o)
}

// conflict returns who binds port on an address that clashes with addr.
func (t *bindTable) conflict(port int, addr string) (bindOwner, bool) {
	o, ok := t.first[port]
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
	if svc != nil && !b.cfg.IgnoreTemplateLabels && svc.labels.Templates != nil {
		label := name
		text, ok := svc.labels.Templates[name]
		if !ok && strings.HasPrefix(name, "MAP_") {
			// marathon-lb lets the plain label override the map variant.
			label = strings.TrimPrefix(name, "MAP_")
			text, ok = svc.labels.Templates[label]
		}
		if ok {
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

func (b *builder) addService(svc *service) {
	appPath := strings.ReplaceAll(strings.TrimPrefix(svc.appID, "/"), "/", "_")
	c := &b.scratch
	c.reset(svc, appPath+"_"+strconv.Itoa(svc.servicePort))
	if svc.mode != "http" && svc.mode != "tcp" {
		b.fail(svc, fmt.Sprintf("HAPROXY_%d_MODE: %q is neither http nor tcp", svc.index, svc.mode))
		return
	}
	if owner := b.bindConflict(svc); owner != "" {
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
	if svc.mode == "http" && !b.appIDSeen[svc.appID] {
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
	if c.err == nil && len(c.servers) == 0 {
		c.err = errors.New("no server")
	}
	if c.err != nil {
		b.fail(svc, c.err.Error())
		return
	}
	b.commit(c)
}

func (b *builder) fail(svc *service, reason string) {
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

// healthVars are the {healthCheck…} placeholders of a health check, with port
// the health check port (0: None).
func healthVars(hc *state.HealthCheck, port int) []fmtVar {
	path := hc.Path
	if path == "" {
		path = "/"
	}
	portIndex := intVal(hc.PortIndex)
	if hc.Port != 0 {
		portIndex = noneVal
	}
	portV := noneVal
	portOptions := ""
	if port != 0 {
		portV = intVal(port)
		portOptions = " port " + strconv.Itoa(port)
	}
	dict := func(key string) (fmtValue, bool) {
		switch key {
		case "protocol":
			return strVal(hc.Protocol), true
		case "path":
			if hc.Path == "" {
				return fmtValue{}, false
			}
			return strVal(hc.Path), true
		case "portIndex":
			if hc.Port != 0 {
				return fmtValue{}, false
			}
			return intVal(hc.PortIndex), true
		case "port":
			if hc.Port == 0 {
				return fmtValue{}, false
			}
			return intVal(hc.Port), true
		case "intervalSeconds":
			return intVal(hc.IntervalSeconds), true
		case "timeoutSeconds":
			return intVal(hc.TimeoutSeconds), true
		case "gracePeriodSeconds":
			return intVal(hc.GracePeriodSeconds), true
		case "maxConsecutiveFailures":
			return intVal(hc.MaxConsecutiveFailures), true
		case "ignoreHttp1xx":
			return boolVal(hc.IgnoreHTTP1xx), true
		}
		return fmtValue{}, false
	}
	return []fmtVar{
		{"healthCheck", fmtValue{kind: kindDict, dict: dict}},
		{"healthCheckPortIndex", portIndex},
		{"healthCheckPort", portV},
		{"healthCheckProtocol", strVal(hc.Protocol)},
		{"healthCheckPath", strVal(path)},
		{"healthCheckTimeoutSeconds", intVal(hc.TimeoutSeconds)},
		{"healthCheckIntervalSeconds", intVal(hc.IntervalSeconds)},
		{"healthCheckIgnoreHttp1xx", boolVal(hc.IgnoreHTTP1xx)},
		{"healthCheckGracePeriodSeconds", intVal(hc.GracePeriodSeconds)},
		{"healthCheckMaxConsecutiveFailures", intVal(hc.MaxConsecutiveFailures)},
		{"healthCheckFalls", intVal(hc.MaxConsecutiveFailures + 1)},
		{"healthCheckPortOptions", strVal(portOptions)},
	}
}

// healthTemplates picks the backend and server health check templates, or
// "" when none applies.
func healthTemplates(svc *service) (backend, server string) {
	hc := svc.healthCheck
	switch {
	case hc == nil:
		return "", ""
	case svc.mode == "tcp" || hc.Protocol == "TCP" || hc.Protocol == "MESOS_TCP":
		return "BACKEND_TCP_HEALTHCHECK_OPTIONS", "BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS"
	case svc.mode == "http":
		return "BACKEND_HTTP_HEALTHCHECK_OPTIONS", "BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS"
	}
	return "", ""
}

// servers renders the backend's health check options and its servers.
func (b *builder) servers(c *contribution) {
	if c.err != nil {
		return
	}
	svc := c.svc
	eps := svc.endpoints // svc is this build's own
	slices.SortStableFunc(eps, func(x, y endpoint) int {
		return cmp.Or(strings.Compare(x.host, y.host), cmp.Compare(x.port, y.port), strings.Compare(x.taskID, y.taskID))
	})
	backendTmpl, serverTmpl := healthTemplates(svc)
	if backendTmpl != "" {
		port := eps[0].port
		if eps[0].healthPort != 0 {
			port = eps[0].healthPort
		}
		b.exec(c, &c.backHead, backendTmpl, healthVars(svc.healthCheck, port)...)
	}
	var taken idSet
	serverTemplate, err := b.template(svc, "BACKEND_SERVER_OPTIONS")
	if err != nil {
		c.err = err
		return
	}
	wantID := serverTemplate.uses("serverId")
	var hv []fmtVar
	if serverTmpl != "" && svc.labels.HealthCheckPortIndex < 0 {
		hv = healthVars(svc.healthCheck, svc.healthCheck.Port)
	}
	var hcOpts, nameBuf []byte
	c.servers = make([]Server, 0, len(eps))
	prevName := ""
	for _, ep := range eps {
		ip := ep.ip.String()
		nameBuf = nameBuf[:0]
		if ep.host != ip {
			nameBuf = appendClean(nameBuf, ep.host)
			nameBuf = append(nameBuf, '_')
		}
		nameBuf = appendClean(nameBuf, ip)
		nameBuf = append(nameBuf, '_')
		nameBuf = strconv.AppendInt(nameBuf, int64(ep.port), 10)
		name := string(nameBuf)
		if name == prevName {
			continue // the same address twice (eps are sorted): one server
		}
		prevName = name
		hcOpts = hcOpts[:0]
		if serverTmpl != "" {
			if svc.labels.HealthCheckPortIndex >= 0 {
				hv = healthVars(svc.healthCheck, cmp.Or(ep.healthPort, ep.port))
			}
			b.exec(c, &hcOpts, serverTmpl, hv...)
		}
		cookie := ""
		if svc.labels.Sticky {
			sum := sha1.Sum([]byte(name))
			cookie = " check cookie " + hex.EncodeToString(sum[:])[:10]
		}
		other := ""
		if ep.draining {
			other = " disabled"
		}
		c.buf = c.buf[:0]
		b.exec(c, &c.buf, "BACKEND_SERVER_OPTIONS",
			fmtVar{"host", strVal(ep.host)},
			fmtVar{"host_ipv4", strVal(ip)},
			fmtVar{"port", intVal(ep.port)},
			fmtVar{"serverName", strVal(name)},
			fmtVar{"serverId", serverIDValue(wantID, name, &taken)},
			fmtVar{"cookieOptions", strVal(cookie)},
			fmtVar{"healthCheckOptions", strVal(string(hcOpts))},
			fmtVar{"otherOptions", strVal(other)})
		if c.err != nil {
			return
		}
		s, addr, err := splitServerLine(string(c.buf))
		if err != nil {
			c.err = fmt.Errorf("HAPROXY_BACKEND_SERVER_OPTIONS: %w", err)
			return
		}
		if addr == ep.ip {
			s.Host = ip
		} else {
			s.Host = addr.String()
		}
		s.Draining = ep.draining
		s.TaskID = ep.taskID
		s.AppID = ep.appID
		c.servers = append(c.servers, s)
	}
	slices.SortFunc(c.servers, func(x, y Server) int { return strings.Compare(x.Name, y.Name) })
	for i := 1; i < len(c.servers); i++ {
		if c.servers[i].Name == c.servers[i-1].Name {
			c.err = fmt.Errorf("HAPROXY_BACKEND_SERVER_OPTIONS: server name %q used twice", c.servers[i].Name)
			return
		}
	}
}

// serverID is marathon-lb's stable server id: a hash of the name in 1..32766,
// rehashed on collision within the backend.
func serverID(name string, taken *idSet) int {
	for {
		sum := sha256.Sum256([]byte(name))
		id := 0
		for _, c := range sum {
			id = (id<<8 | int(c)) % 32767
		}
		if id > 0 && !taken.has(id) {
			taken.add(id)
			return id
		}
		name = name + " " + hex.EncodeToString(sum[:])
	}
}

func serverIDValue(want bool, name string, taken *idSet) fmtValue {
	if !want {
		return noneVal
	}
	return intVal(serverID(name, taken))
}

// idSet is a set of small ints, a slice while small.
type idSet struct {
	list []int
	m    map[int]bool
}

func (s *idSet) has(id int) bool {
	if s.m != nil {
		return s.m[id]
	}
	return slices.Contains(s.list, id)
}

func (s *idSet) add(id int) {
	if s.m == nil && len(s.list) >= 16 {
		s.m = make(map[int]bool, 32)
		for _, x := range s.list {
			s.m[x] = true
		}
	}
	if s.m != nil {
		s.m[id] = true
		return
	}
	s.list = append(s.list, id)
}

// parseServerLine splits a rendered HAPROXY_BACKEND_SERVER_OPTIONS line.
func parseServerLine(line string) (Server, error) {
	s, addr, err := splitServerLine(line)
	if err == nil {
		s.Host = addr.String()
	}
	return s, err
}

// splitServerLine is parseServerLine leaving Host empty and returning the
// address instead.
func splitServerLine(line string) (Server, netip.Addr, error) {
	line = strings.TrimRight(line, "\n")
	if strings.ContainsAny(line, "\n\r") {
		return Server{}, netip.Addr{}, errors.New("renders more than one line")
	}
	kw, rest := nextField(line)
	name, rest := nextField(rest)
	addr, rest := nextField(rest)
	if kw != "server" || addr == "" {
		return Server{}, netip.Addr{}, fmt.Errorf("renders %q, not \"server NAME ADDRESS:PORT …\"", line)
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return Server{}, netip.Addr{}, fmt.Errorf("server address %q has no port", addr)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr[:i], "["), "]")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return Server{}, netip.Addr{}, fmt.Errorf("server address %q is not an IP address", addr)
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return Server{}, netip.Addr{}, fmt.Errorf("server address %q has no valid port", addr)
	}
	s := Server{Name: name, Port: port, Weight: 1}
	// Keep the options as rendered (only the surrounding blanks go).
	s.Options = strings.Trim(rest, " \t")
	for opts := s.Options; opts != ""; {
		var f string
		f, opts = nextField(opts)
		if f == "weight" {
			v, _ := nextField(opts)
			if w, err := strconv.Atoi(v); err == nil {
				s.Weight = w
			}
		}
	}
	return s, ip.Unmap(), nil
}

// nextField splits off the first blank-separated field of s.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return s[i:j], s[j:]
}

// cleanName is marathon-lb's re.sub(r'[^a-zA-Z0-9\-]', '_', s).
func cleanName(s string) string {
	return string(appendClean(make([]byte, 0, len(s)), s))
}

func appendClean(dst []byte, s string) []byte {
	for _, r := range s {
		if r < 0x80 && (r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			dst = append(dst, byte(r))
		} else {
			dst = append(dst, '_')
		}
	}
	return dst
}

// commit adds a finished contribution to the model.
func (b *builder) commit(c *contribution) {
	svc := c.svc
	b.binds.add(svc.servicePort, bindOwner{svc.labels.BindAddr, svc.appID, true})
	b.userlists = append(b.userlists, c.userlist...)
	b.seq++
	if len(c.http) > 0 {
		b.http = append(b.http, weighted{c.weight, b.seq, svc.appID, string(c.http)})
	}
	if len(c.https) > 0 || (b.bindHTTP && svc.labels.VHost != "") {
		b.https = append(b.https, weighted{c.weight, b.seq, svc.appID, string(c.https)})
	}
	for _, vh := range c.gOrder {
		g := b.grouped[vh]
		if g == nil {
			g = &groupedVHost{}
			b.grouped[vh] = g
		}
		cg := c.grouped[vh]
		for _, e := range cg.entries {
			e.seq = b.seq
			e.appID = svc.appID
			g.entries = append(g.entries, e)
		}
		g.certs = appendUnique(g.certs, cg.certs...)
		g.bindOpts = appendUnique(g.bindOpts, cg.bindOpts...)
	}
	for k := range c.once {
		b.once[k] = true
	}
	if svc.mode == "http" && !b.appIDSeen[svc.appID] {
		b.appIDSeen[svc.appID] = true
		if len(c.appID) > 0 {
			b.appIDText = append(b.appIDText, c.appID...)
			b.appIDApps = append(b.appIDApps, svc.appID)
		}
	}
	for _, kv := range c.domain {
		b.domainMap.add(kv[0], kv[1])
	}
	for _, kv := range c.appMap {
		b.appMap.add(kv[0], kv[1])
	}
	b.frontends = append(b.frontends, Frontend{
		Name: c.backend,
		Port: svc.servicePort,
		Text: string(c.frontend),
		Apps: svc.members,
	})
	be := Backend{
		Name:        c.backend,
		AppID:       svc.appID,
		Apps:        svc.members,
		PortIndex:   svc.index,
		ServicePort: svc.servicePort,
		Mode:        svc.mode,
		Text:        string(c.backHead),
		Servers:     c.servers,
	}
	be.Balance, be.Dynamic = backendDynamics(be.Text, c.servers)
	b.model.Backends = append(b.model.Backends, be)
}

func appendUnique(dst []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(dst, it) {
			dst = append(dst, it)
		}
	}
	return dst
}

// backendDynamics reads the balance algorithm from a backend's text and says
// whether servers can be added to it at runtime.
func backendDynamics(text string, servers []Server) (balance string, dynamic bool) {
	consistent := false
	for line := range strings.SplitSeq(text, "\n") {
		kw, rest := nextField(line)
		arg, _ := nextField(rest)
		switch kw {
		case "balance":
			balance = arg
		case "hash-type":
			consistent = arg == "consistent"
		case "cookie", "server-template", "dynamic-cookie-key":
			// Stickiness by cookie writes "cookie" on each server, which a
			// server added at runtime cannot carry.
			return balance, false
		}
	}
	for _, s := range servers {
		for opts := s.Options; opts != ""; {
			var o string
			o, opts = nextField(opts)
			if o == "cookie" || o == "track" {
				return balance, false
			}
		}
	}
	algo := balance
	if i := strings.IndexAny(algo, "(("); i >= 0 {
		algo = algo[:i]
	}
	switch algo {
	case "", "roundrobin", "leastconn", "first", "random":
		return balance, true
	case "source", "uri", "url_param", "hdr", "rdp-cookie", "hash":
		return balance, consistent
	}
	return balance, false
}

// finish assembles the shared frontends, the head and the map files.
func (b *builder) finish() error {
	m := b.model
	head := b.ts.Get("HAPROXY_HEAD")
	text, err := head.execute(nil, fmtScope{settings: b.settings})
	if err != nil {
		return fmt.Errorf("rendering HAPROXY_HEAD: %w", err)
	}
	m.Head = string(text)
	m.Userlists = string(b.userlists)

	var shared []Frontend
	renderHTTPS := b.bindHTTP && len(b.https) > 0
	if b.bindHTTP && len(b.http) > 0 {
		fe, err := b.sharedFrontend("marathon_http_in", b.cfg.HTTPPort, "HTTP_FRONTEND_HEAD", nil, b.http)
		if err != nil {
			return err
		}
		shared = append(shared, fe)
	}
	appid := Frontend{Name: "marathon_http_appid_in", Port: b.cfg.AppIDPort, Apps: sortedUnique(b.appIDApps)}
	appid.Text = b.ts.Get("HAPROXY_HTTP_FRONTEND_APPID_HEAD").Text + string(b.appIDText)
	shared = append(shared, appid)
	if renderHTTPS {
		if b.cfg.GroupHTTPSByVHost {
			fes, bes, err := b.groupedHTTPS()
			if err != nil {
				return err
			}
			shared = append(shared, fes...)
			m.Backends = append(m.Backends, bes...)
		} else {
			vars := fmtVars{{"sslCerts", strVal(sslCertsOption(b.cfg.sslCerts()))}}
			fe, err := b.sharedFrontend("marathon_https_in", b.cfg.HTTPSPort, "HTTPS_FRONTEND_HEAD", vars, b.https)
			if err != nil {
				return err
			}
			shared = append(shared, fe)
		}
	}
	b.frontends = sortedByName(b.frontends, func(f *Frontend) string { return f.Name })
	m.Frontends = append(shared, b.frontends...)
	m.Backends = sortedByName(m.Backends, func(b *Backend) string { return b.Name })
	slices.SortStableFunc(m.Errors, func(x, y AppError) int {
		return cmp.Or(strings.Compare(x.AppID, y.AppID), cmp.Compare(x.Port, y.Port))
	})
	if b.cfg.HAProxyMap {
		dir := b.cfg.haproxyDir()
		m.Maps = []MapFile{
			{Path: filepath.Join(dir, "app2backend.map"), Content: b.appMap.lines},
			{Path: filepath.Join(dir, "domain2backend.map"), Content: b.domainMap.lines},
		}
	}
	return nil
}

// sortedByName returns items sorted by name. The items are large structs:
// sorting indexes and copying each once beats swapping them in place.
func sortedByName[T any](items []T, name func(*T) string) []T {
	if slices.IsSortedFunc(items, func(x, y T) int { return strings.Compare(name(&x), name(&y)) }) {
		return items
	}
	idx := make([]int32, len(items))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(x, y int32) int { return strings.Compare(name(&items[x]), name(&items[y])) })
	out := make([]T, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	return out
}

// sharedFrontend renders a head and the weighted app lines, heaviest first
// (ties in app order).
func (b *builder) sharedFrontend(name string, port int, head string, vars fmtVars, entries []weighted) (Frontend, error) {
	fe := Frontend{Name: name, Port: port}
	t := b.ts.Get("HAPROXY_" + head)
	size := 256
	for i := range entries {
		size += len(entries[i].text)
	}
	text, err := t.execute(make([]byte, 0, size), fmtScope{vars, b.settings})
	if err != nil {
		return fe, fmt.Errorf("rendering %s: %w", t.Name, err)
	}
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(x, y weighted) int { return cmp.Or(cmp.Compare(y.weight, x.weight), cmp.Compare(x.seq, y.seq)) })
	var apps []string
	for _, e := range sorted {
		text = append(text, e.text...)
		apps = append(apps, e.appID)
	}
	fe.Text = string(text)
	fe.Apps = sortedUnique(apps)
	return fe, nil
}

// groupedHTTPS renders --group-https-by-vhost: a TCP frontend on the HTTPS
// port passing each SNI to a loopback backend, and one TLS frontend per vhost.
func (b *builder) groupedHTTPS() ([]Frontend, []Backend, error) {
	vhosts := make([]string, 0, len(b.grouped))
	for vh := range b.grouped {
		vhosts = append(vhosts, vh)
	}
	slices.Sort(vhosts)
	head := b.ts.Get("HAPROXY_HTTPS_GROUPED_FRONTEND_HEAD")
	text := []byte(head.Text)
	acl := b.ts.Get("HAPROXY_HTTPS_GROUPED_VHOST_FRONTEND_ACL")
	var err error
	var allApps []string
	for _, vh := range vhosts {
		text, err = acl.execute(text, fmtScope{fmtVars{{"backend", strVal(cleanName(vh))}, {"host", strVal(vh)}}, b.settings})
		if err != nil {
			return nil, nil, fmt.Errorf("rendering %s: %w", acl.Name, err)
		}
	}
	var fes []Frontend
	var bes []Backend
	beHead := b.ts.Get("HAPROXY_HTTPS_GROUPED_VHOST_BACKEND_HEAD")
	feHead := b.ts.Get("HAPROXY_HTTPS_GROUPED_VHOST_FRONTEND_HEAD")
	for _, vh := range vhosts {
		g := b.grouped[vh]
		name := cleanName(vh)
		bt, err := beHead.execute(nil, fmtScope{fmtVars{{"name", strVal(name)}}, b.settings})
		if err != nil {
			return nil, nil, fmt.Errorf("rendering %s: %w", beHead.Name, err)
		}
		certs := slices.Clone(g.certs)
		if len(certs) == 0 {
			certs = b.cfg.sslCerts()
		}
		slices.Sort(certs)
		opts := slices.Sorted(slices.Values(g.bindOpts))
		var bindOpts strings.Builder
		for i, o := range opts {
			if i > 0 {
				bindOpts.WriteByte(' ')
			}
			bindOpts.WriteString(" " + o)
		}
		ft, err := feHead.execute(nil, fmtScope{fmtVars{{"name", strVal(name)},
			{"sslCerts", strVal(sslCertsOption(certs))}, {"bindOpts", strVal(bindOpts.String())}}, b.settings})
		if err != nil {
			return nil, nil, fmt.Errorf("rendering %s: %w", feHead.Name, err)
		}
		entries := slices.Clone(g.entries)
		slices.SortStableFunc(entries, func(x, y weighted) int { return cmp.Or(cmp.Compare(y.weight, x.weight), cmp.Compare(x.seq, y.seq)) })
		var apps []string
		for _, e := range entries {
			ft = append(ft, e.text...)
			apps = append(apps, e.appID)
		}
		apps = sortedUnique(apps)
		allApps = append(allApps, apps...)
		fes = append(fes, Frontend{Name: name, Text: string(ft), Apps: apps})
		bes = append(bes, Backend{Name: name, Mode: "tcp", Text: string(bt), Apps: apps})
	}
	main := Frontend{Name: "marathon_https_in", Port: b.cfg.HTTPSPort, Text: string(text), Apps: sortedUnique(allApps)}
	return append([]Frontend{main}, fes...), bes, nil
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
