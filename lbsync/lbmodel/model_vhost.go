package lbmodel

import (
	"strings"
)

// vhostACLs writes the marathon_http_in and marathon_https_in lines of a port
// with HAPROXY_{n}_VHOST, choosing templates exactly as marathon-lb does for
// each combination of several vhosts, path, auth, HTTPS redirect and maps.
func (b *builder) vhostACLs(c *contribution) {
	svc := c.svc
	l := &svc.labels
	w := vhostRoutes{
		b:        b,
		c:        c,
		l:        l,
		appPath:  strings.ReplaceAll(strings.TrimPrefix(svc.appID, "/"), "/", "_"),
		grouping: b.cfg.GroupHTTPSByVHost,
		auth:     l.Auth != nil,
		path:     l.Path,
	}
	if w.grouping {
		c.grouped = map[string]*groupedVHost{}
	}
	realm := ""
	if l.Auth != nil {
		realm = l.Auth.Realm
	}
	w.backendV = fmtVar{"backend", strVal(c.backend)}
	w.pathV = fmtVar{"path", strVal(w.path)}
	w.realmV = fmtVar{"realm", strVal(realm)}
	w.appIDV = fmtVar{"appId", strVal(svc.appID)}
	w.bindV = fmtVar{"bindAddr", strVal(l.BindAddr)}
	if strings.Contains(l.VHost, ",") {
		w.several(strings.Split(l.VHost, ","))
		return
	}
	w.one(l.VHost)
}

// vhostRoutes writes the vhost routing lines of one service port: what
// vhostACLs decides once (the variables every template takes) and the
// bookkeeping its templates share.
type vhostRoutes struct {
	b *builder
	c *contribution
	l *PortLabels
	// appPath is the app id as ACL names take it ("/a/b" is "a_b").
	appPath string
	// grouping: per-vhost bookkeeping, which only --group-https-by-vhost
	// needs.
	grouping bool
	auth     bool
	path     string
	backendV fmtVar
	pathV    fmtVar
	realmV   fmtVar
	appIDV   fmtVar
	bindV    fmtVar
	// tmp holds one HTTPS template's text (https).
	tmp []byte
}

// several writes the lines of a port with a comma list of vhosts: one ACL
// per vhost, the routing once, named after the first vhost.
func (w *vhostRoutes) several(vhosts []string) {
	b, c, l, path, auth := w.b, w.c, w.l, w.path, w.auth
	acl := cleanName(vhosts[0]) + "_" + w.appPath
	aclV := fmtVar{"cleanedUpHostname", strVal(acl)}
	if path != "" {
		if auth {
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH", w.pathV, aclV,
				fmtVar{"hostname", strVal(vhosts[0])}, w.realmV, w.backendV)
			w.https("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", w.pathV, aclV,
				fmtVar{"hostname", strVal(vhosts[0])}, w.realmV, w.backendV)
		} else {
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY_WITH_PATH", w.pathV, w.backendV)
			w.https("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", w.pathV, w.backendV)
		}
	}
	pathACLs := string(c.https)
	for _, vh := range vhosts {
		hostV := fmtVar{"hostname", strVal(vh)}
		w.addGrouped(vh, pathACLs)
		w.noteCertsAndOptions(vh)
		if b.cfg.HAProxyMap && path == "" && !auth && !l.RedirectToHTTPS {
			if w.mapOnce("http") {
				b.exec(c, &c.http, "MAP_HTTP_FRONTEND_ACL_ONLY")
			}
			c.domain = append(c.domain, [2]string{vh, c.backend})
		} else {
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY", aclV, hostV)
		}
		w.httpsACL(vh, aclV, hostV)
	}
	switch {
	case l.RedirectToHTTPS && path != "":
		b.exec(c, &c.http, "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH", w.bindV, aclV, w.backendV)
	case l.RedirectToHTTPS:
		b.exec(c, &c.http, "BACKEND_REDIRECT_HTTP_TO_HTTPS", w.bindV, aclV)
	case path != "" && auth:
		b.exec(c, &c.http, "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH", aclV, w.realmV, w.backendV)
	case path != "":
		b.exec(c, &c.http, "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH", aclV, w.backendV)
	case auth:
		b.exec(c, &c.http, "HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH", aclV, w.realmV, w.backendV)
	case !b.cfg.HAProxyMap:
		b.exec(c, &c.http, "HTTP_FRONTEND_ROUTING_ONLY", aclV, w.backendV)
	}
}

// one writes the lines of a port with a single vhost.
func (w *vhostRoutes) one(vh string) {
	b, c, l, path, auth := w.b, w.c, w.l, w.path, w.auth
	acl := cleanName(vh) + "_" + w.appPath
	aclV := fmtVar{"cleanedUpHostname", strVal(acl)}
	hostV := fmtVar{"hostname", strVal(vh)}
	w.noteCertsAndOptions(vh)
	if path != "" {
		switch {
		case l.RedirectToHTTPS:
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY", aclV, hostV)
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY_WITH_PATH", aclV, hostV, w.pathV, w.backendV)
			b.exec(c, &c.http, "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH", w.bindV, aclV, w.backendV)
		case auth:
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH", aclV, hostV, w.pathV, w.appIDV, w.realmV, w.backendV)
		default:
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_WITH_PATH", aclV, hostV, w.pathV, w.appIDV, w.backendV)
		}
		w.addGrouped(vh, w.https("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", w.pathV, w.backendV))
		if auth {
			w.addGrouped(vh, w.https("HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH", aclV, hostV, w.pathV, w.appIDV, w.realmV, w.backendV))
		} else {
			w.addGrouped(vh, w.https("HTTPS_FRONTEND_ACL_WITH_PATH", aclV, hostV, w.appIDV, w.backendV))
		}
		return
	}
	switch {
	case l.RedirectToHTTPS:
		b.exec(c, &c.http, "HTTP_FRONTEND_ACL", aclV, hostV, w.backendV)
		b.exec(c, &c.http, "BACKEND_REDIRECT_HTTP_TO_HTTPS", w.bindV, aclV)
	case auth:
		b.exec(c, &c.http, "HTTP_FRONTEND_ACL_WITH_AUTH", aclV, hostV, w.appIDV, w.realmV, w.backendV)
	case b.cfg.HAProxyMap:
		if w.mapOnce("http") {
			b.exec(c, &c.http, "MAP_HTTP_FRONTEND_ACL")
		}
		c.domain = append(c.domain, [2]string{vh, c.backend})
	default:
		b.exec(c, &c.http, "HTTP_FRONTEND_ACL", aclV, hostV, w.appIDV, w.backendV)
	}
	w.httpsACL(vh, aclV, hostV) // path is empty here
}

// httpsACL writes the marathon_https_in line of vhost vh, by SNI: the one
// line per vhost a port with several vhosts has, and what a port with one
// vhost and no path has.
func (w *vhostRoutes) httpsACL(vh string, aclV, hostV fmtVar) {
	c := w.c
	switch {
	case w.path != "" && w.auth:
		w.addGrouped(vh, w.https("HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH", aclV, hostV, w.appIDV, w.realmV, w.backendV))
	case w.path != "":
		w.addGrouped(vh, w.https("HTTPS_FRONTEND_ACL_WITH_PATH", aclV, hostV, w.appIDV, w.backendV))
	case w.auth:
		w.addGrouped(vh, w.https("HTTPS_FRONTEND_ACL_WITH_AUTH", aclV, hostV, w.appIDV, w.realmV, w.backendV))
	case w.b.cfg.HAProxyMap:
		if w.mapOnce("https") {
			w.addGroupedMap(vh, w.https("MAP_HTTPS_FRONTEND_ACL", hostV))
		}
		c.domain = append(c.domain, [2]string{vh, c.backend})
	default:
		w.addGrouped(vh, w.https("HTTPS_FRONTEND_ACL", aclV, hostV, w.appIDV, w.backendV))
	}
}

// https appends the template's text to the HTTPS lines and returns it (when
// grouping: it goes to the vhost's own frontend too).
func (w *vhostRoutes) https(name string, vars ...fmtVar) string {
	w.tmp = w.tmp[:0]
	w.b.exec(w.c, &w.tmp, name, vars...)
	w.c.https = append(w.c.https, w.tmp...)
	if !w.grouping {
		return ""
	}
	return string(w.tmp)
}

// mapOnce reports whether the map line key is still to be written
// (marathon-lb writes each a single time), and marks it written.
func (w *vhostRoutes) mapOnce(key string) bool {
	if w.b.once[key] || w.c.once[key] {
		return false
	}
	w.c.once[key] = true
	w.c.weight = -1
	return true
}

// group returns the vhost's grouped frontend, made on first use.
func (w *vhostRoutes) group(vh string) *groupedVHost {
	g := w.c.grouped[vh]
	if g == nil {
		g = &groupedVHost{}
		w.c.grouped[vh] = g
		w.c.gOrder = append(w.c.gOrder, vh)
	}
	return g
}

func (w *vhostRoutes) addGrouped(vh, text string) {
	if !w.grouping {
		return
	}
	g := w.group(vh)
	g.entries = append(g.entries, weighted{weight: w.c.weight, text: text})
}

func (w *vhostRoutes) addGroupedMap(vh, text string) {
	if !w.grouping {
		return
	}
	g := w.group(vh)
	g.entries = append(g.entries, weighted{weight: w.c.weight, text: text, mapACL: true})
}

// noteCertsAndOptions records the port's certificate and bind options for
// the vhost's own frontend.
func (w *vhostRoutes) noteCertsAndOptions(vh string) {
	if !w.grouping {
		return
	}
	if w.l.SSLCert != "" {
		g := w.group(vh)
		g.certs = appendUnique(g.certs, w.l.SSLCert)
	}
	if w.l.BindOptions != "" {
		g := w.group(vh)
		g.bindOpts = appendUnique(g.bindOpts, w.l.BindOptions)
	}
}
