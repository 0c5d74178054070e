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
	appPath := strings.ReplaceAll(strings.TrimPrefix(svc.appID, "/"), "/", "_")
	// Per-vhost bookkeeping only matters with --group-https-by-vhost.
	grouping := b.cfg.GroupHTTPSByVHost
	if grouping {
		c.grouped = map[string]*groupedVHost{}
	}
	group := func(vh string) *groupedVHost {
		g := c.grouped[vh]
		if g == nil {
			g = &groupedVHost{}
			c.grouped[vh] = g
			c.gOrder = append(c.gOrder, vh)
		}
		return g
	}
	addGrouped := func(vh, text string) {
		if !grouping {
			return
		}
		g := group(vh)
		g.entries = append(g.entries, weighted{weight: c.weight, text: text})
	}
	addGroupedMap := func(vh, text string) {
		if !grouping {
			return
		}
		g := group(vh)
		g.entries = append(g.entries, weighted{weight: c.weight, text: text, mapACL: true})
	}
	noteCertsAndOptions := func(vh string) {
		if !grouping {
			return
		}
		if l.SSLCert != "" {
			g := group(vh)
			g.certs = appendUnique(g.certs, l.SSLCert)
		}
		if l.BindOptions != "" {
			g := group(vh)
			g.bindOpts = appendUnique(g.bindOpts, l.BindOptions)
		}
	}
	realm := ""
	if l.Auth != nil {
		realm = l.Auth.Realm
	}
	auth := l.Auth != nil
	path := l.Path
	backendV := fmtVar{"backend", strVal(c.backend)}
	pathV := fmtVar{"path", strVal(path)}
	realmV := fmtVar{"realm", strVal(realm)}
	appIDV := fmtVar{"appId", strVal(svc.appID)}
	bindV := fmtVar{"bindAddr", strVal(l.BindAddr)}
	var tmp []byte
	// https appends the template's text to the HTTPS lines and returns it.
	https := func(name string, vars ...fmtVar) string {
		tmp = tmp[:0]
		b.exec(c, &tmp, name, vars...)
		c.https = append(c.https, tmp...)
		if !grouping {
			return ""
		}
		return string(tmp)
	}
	mapOnce := func(key string) bool {
		if b.once[key] || c.once[key] {
			return false
		}
		c.once[key] = true
		c.weight = -1
		return true
	}

	if strings.Contains(l.VHost, ",") {
		vhosts := strings.Split(l.VHost, ",")
		acl := cleanName(vhosts[0]) + "_" + appPath
		aclV := fmtVar{"cleanedUpHostname", strVal(acl)}
		if path != "" {
			if auth {
				b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH", pathV, aclV,
					fmtVar{"hostname", strVal(vhosts[0])}, realmV, backendV)
				https("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", pathV, aclV,
					fmtVar{"hostname", strVal(vhosts[0])}, realmV, backendV)
			} else {
				b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY_WITH_PATH", pathV, backendV)
				https("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", pathV, backendV)
			}
		}
		pathACLs := string(c.https)
		for _, vh := range vhosts {
			hostV := fmtVar{"hostname", strVal(vh)}
			addGrouped(vh, pathACLs)
			noteCertsAndOptions(vh)
			if b.cfg.HAProxyMap && path == "" && !auth && !l.RedirectToHTTPS {
				if mapOnce("http") {
					b.exec(c, &c.http, "MAP_HTTP_FRONTEND_ACL_ONLY")
				}
				c.domain = append(c.domain, [2]string{vh, c.backend})
			} else {
				b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY", aclV, hostV)
			}
			switch {
			case path != "" && auth:
				addGrouped(vh, https("HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH", aclV, hostV, appIDV, realmV, backendV))
			case path != "":
				addGrouped(vh, https("HTTPS_FRONTEND_ACL_WITH_PATH", aclV, hostV, appIDV, backendV))
			case auth:
				addGrouped(vh, https("HTTPS_FRONTEND_ACL_WITH_AUTH", aclV, hostV, appIDV, realmV, backendV))
			case b.cfg.HAProxyMap:
				if mapOnce("https") {
					addGroupedMap(vh, https("MAP_HTTPS_FRONTEND_ACL", hostV))
				}
				c.domain = append(c.domain, [2]string{vh, c.backend})
			default:
				addGrouped(vh, https("HTTPS_FRONTEND_ACL", aclV, hostV, appIDV, backendV))
			}
		}
		switch {
		case l.RedirectToHTTPS && path != "":
			b.exec(c, &c.http, "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH", bindV, aclV, backendV)
		case l.RedirectToHTTPS:
			b.exec(c, &c.http, "BACKEND_REDIRECT_HTTP_TO_HTTPS", bindV, aclV)
		case path != "" && auth:
			b.exec(c, &c.http, "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH", aclV, realmV, backendV)
		case path != "":
			b.exec(c, &c.http, "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH", aclV, backendV)
		case auth:
			b.exec(c, &c.http, "HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH", aclV, realmV, backendV)
		case !b.cfg.HAProxyMap:
			b.exec(c, &c.http, "HTTP_FRONTEND_ROUTING_ONLY", aclV, backendV)
		}
		return
	}

	// One vhost.
	vh := l.VHost
	acl := cleanName(vh) + "_" + appPath
	aclV := fmtVar{"cleanedUpHostname", strVal(acl)}
	hostV := fmtVar{"hostname", strVal(vh)}
	noteCertsAndOptions(vh)
	if path != "" {
		switch {
		case l.RedirectToHTTPS:
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY", aclV, hostV)
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_ONLY_WITH_PATH", aclV, hostV, pathV, backendV)
			b.exec(c, &c.http, "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH", bindV, aclV, backendV)
		case auth:
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH", aclV, hostV, pathV, appIDV, realmV, backendV)
		default:
			b.exec(c, &c.http, "HTTP_FRONTEND_ACL_WITH_PATH", aclV, hostV, pathV, appIDV, backendV)
		}
		addGrouped(vh, https("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", pathV, backendV))
		if auth {
			addGrouped(vh, https("HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH", aclV, hostV, pathV, appIDV, realmV, backendV))
		} else {
			addGrouped(vh, https("HTTPS_FRONTEND_ACL_WITH_PATH", aclV, hostV, appIDV, backendV))
		}
		return
	}
	switch {
	case l.RedirectToHTTPS:
		b.exec(c, &c.http, "HTTP_FRONTEND_ACL", aclV, hostV, backendV)
		b.exec(c, &c.http, "BACKEND_REDIRECT_HTTP_TO_HTTPS", bindV, aclV)
	case auth:
		b.exec(c, &c.http, "HTTP_FRONTEND_ACL_WITH_AUTH", aclV, hostV, appIDV, realmV, backendV)
	case b.cfg.HAProxyMap:
		if mapOnce("http") {
			b.exec(c, &c.http, "MAP_HTTP_FRONTEND_ACL")
		}
		c.domain = append(c.domain, [2]string{vh, c.backend})
	default:
		b.exec(c, &c.http, "HTTP_FRONTEND_ACL", aclV, hostV, appIDV, backendV)
	}
	switch {
	case auth:
		addGrouped(vh, https("HTTPS_FRONTEND_ACL_WITH_AUTH", aclV, hostV, appIDV, realmV, backendV))
	case b.cfg.HAProxyMap:
		if mapOnce("https") {
			addGroupedMap(vh, https("MAP_HTTPS_FRONTEND_ACL", hostV))
		}
		c.domain = append(c.domain, [2]string{vh, c.backend})
	default:
		addGrouped(vh, https("HTTPS_FRONTEND_ACL", aclV, hostV, appIDV, backendV))
	}
}
