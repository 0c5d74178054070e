package main

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
)

// hostGuard refuses requests whose Host header names a host this server does
// not know itself by. A page on another site can make a browser resolve its
// own name to this server's address (DNS rebinding) and then read our pages
// as same-origin; its requests still carry its own name in Host, which is what
// this refuses. Allowed: no Host (HTTP/1.0), IP addresses, localhost, this
// host's name, the DNS domain and names under it, and httpAllowedHosts.
// Monitoring paths (open is true for them) answer any Host: they show nothing
// a rebinding page could use, and scrapers name targets freely.
type hostGuard struct {
	names   []string // lower case, no trailing dot
	domain  string   // lower case, no dots around
	refused func()
}

func newHostGuard(cfg Config, refused func()) *hostGuard {
	g := &hostGuard{domain: strings.ToLower(strings.Trim(cfg.Domain, ".")), refused: refused}
	add := func(n string) {
		if n = strings.ToLower(strings.TrimSuffix(n, ".")); n != "" && !slices.Contains(g.names, n) {
			g.names = append(g.names, n)
		}
	}
	add("localhost")
	if h, err := os.Hostname(); err == nil {
		add(h)
		short, _, _ := strings.Cut(h, ".")
		add(short)
	}
	for _, n := range cfg.HTTPAllowedHosts {
		add(n)
	}
	return g
}

// allowed reports whether hostport (a Host header) names this server.
func (g *hostGuard) allowed(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.ToLower(host)
	switch {
	case slices.Contains(g.names, host), strings.HasSuffix(host, ".localhost"):
		return true
	case g.domain != "" && (host == g.domain || strings.HasSuffix(host, "."+g.domain)):
		return true
	}
	return false
}

// wrap refuses requests for a Host not allowed, except on the open paths.
func (g *hostGuard) wrap(h http.Handler, open ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(open, r.URL.Path) && !g.allowed(r.Host) {
			g.refused()
			http.Error(w, "host "+strconv.Quote(r.Host[:min(len(r.Host), 100)])+" is not a name of this server; add it to httpAllowedHosts", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuseCrossSite wraps an endpoint that changes state (a reload) so that a
// browser cannot be made to call it from another site: marathon-lb's clients
// call it with GET and no Origin (curl, scripts), which still works, while a
// browser says where a request comes from in Sec-Fetch-Site (every current
// browser) or Origin (cross-origin fetches and forms).
func refuseCrossSite(h http.Handler, refused func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			refused()
			http.Error(w, "cross-site requests may not change state", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// crossSite reports whether r is a browser request from another origin than
// the one it is sent to.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none": // none: typed into the address bar
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host)
}
