package lbmodel

import (
	"slices"

	"github.com/discovery-mesos/discovery/vips"
)

// Model is everything HAProxy is told, derived from one snapshot: the rendered
// head (global, defaults, stats listener), the frontends, the backends with their
// servers, the map files and the apps left out. A Model is built whole by
// BuildModel and never mutated afterwards; Render turns it into config bytes.
//
// The split matters to whoever applies it: everything in a Backend except its
// Servers is structural (a change needs a reload), while Servers can be added,
// removed, re-addressed, re-weighted and drained through the Runtime API when
// Backend.Dynamic is true. StructuralEqual compares two models ignoring servers.
type Model struct {
	// Head is the rendered HAPROXY_HEAD: global, defaults and the stats listener.
	Head string
	// Userlists are the userlist sections for HAPROXY_{n}_AUTH (HAPROXY_USERLIST_HEAD),
	// concatenated in backend order; Render writes them right after Head.
	Userlists string
	// Frontends are in the order Render writes them: the shared frontends
	// (marathon_http_in, marathon_http_appid_in, marathon_https_in) first, then
	// the per-service-port frontends sorted by Name.
	Frontends []Frontend
	// Backends are sorted by Name.
	Backends []Backend
	// Maps are the map files referenced by the config (--haproxy-map), sorted by
	// Path. They must be written before the config is validated or loaded.
	Maps []MapFile
	// Errors are the apps (or app ports) left out of the model, sorted by AppID
	// then Port.
	Errors []AppError
	// VIPs are the VIPs the model listens on (WithVIPs), each with a frontend
	// and a backend named VIPProxyName; VIPCollisions the named VIPs that did
	// not get the address their name hashes to.
	VIPs          []vips.VIP
	VIPCollisions []vips.Collision
}

// Frontend is one rendered frontend section.
type Frontend struct {
	// Name is the frontend's name (marathon_http_in, marathon_https_in,
	// marathon_http_appid_in, or a backend name for a per-service-port frontend).
	Name string
	// Port is the port it binds, 0 when unknown (a template without a bind).
	Port int
	// Text is the complete section, from "frontend NAME" to its last line, each
	// line ending in "\n".
	Text string
	// Apps are the ids of the apps that contributed lines, sorted. Leaving one of
	// them out (BuildOptions.Exclude) changes Text.
	Apps []string
}

// Backend is one backend section: structure in Text, servers apart.
type Backend struct {
	// Name is the backend's name, e.g. "nginx_10000".
	Name string
	// AppID is the Marathon app id the backend serves; for a blue/green pair it is
	// the id without the colour suffix (HAPROXY_DEPLOYMENT_ALT_PORT pairs share a
	// backend).
	AppID string
	// Apps are the ids of every app whose tasks are in the backend, sorted (two for
	// a blue/green deployment in progress, else one).
	Apps []string
	// PortIndex is the n of the HAPROXY_{n}_* labels the backend comes from.
	PortIndex int
	// ServicePort is the port the backend's frontend binds.
	ServicePort int
	// Mode is "http" or "tcp".
	Mode string
	// Balance is the balance algorithm written in Text ("roundrobin" …), empty
	// when the template writes none.
	Balance string
	// Dynamic is true when servers may be added to the backend at runtime: its
	// balance algorithm is dynamic and no option forbids it (cookie-based
	// stickiness renders "cookie" on each server, which "add server" refuses).
	Dynamic bool
	// Text is the section without its server lines: "backend NAME" and its
	// options, each line ending in "\n".
	Text string
	// Servers are sorted by Name. Render writes them after Text.
	Servers []Server

	// claims are what the backend's service holds (Model.Claims).
	claims *serviceClaims
}

// Server is one server line of a backend:
//
//	server NAME HOST:PORT OPTIONS
type Server struct {
	// Name is unique within its backend and stable for a task's address, so a
	// task that stays put keeps its name across snapshots.
	Name string
	// Host is an IP literal (IPv6 without brackets).
	Host string
	Port int
	// Weight is the server's HAProxy weight: the "weight N" of Options when the
	// template writes one, else 1 (HAProxy's default). (HAPROXY_{n}_BACKEND_WEIGHT
	// is something else: it orders the vhost ACLs.)
	Weight int
	// Options is the rendered text after "server NAME HOST:PORT" (cookie, check
	// and other options), without leading or trailing blanks; empty when none.
	Options string
	// Draining is true for a task that is going away: it is kept in maintenance
	// (Options then holds "disabled") so connections finish without new ones.
	Draining bool
	// TaskID is the task the server points at, for logs.
	TaskID string
	// AppID is the app the task belongs to (differs from Backend.AppID for the
	// members of a blue/green pair).
	AppID string
}

// MapFile is a HAProxy map file the config refers to (--haproxy-map).
type MapFile struct {
	// Path is where the config expects the file.
	Path string
	// Content is its complete text.
	Content []byte
}

// AppError says why an app, or one of its ports, was left out of the model.
type AppError struct {
	AppID string
	// Port is the port index n of the HAPROXY_{n}_* labels concerned, or -1 when
	// the whole app is left out.
	Port int
	// Reason is a human-readable cause, e.g. `HAPROXY_0_PORT: "x" is not a port`.
	Reason string
}

// Error makes an AppError usable as an error.
func (e AppError) Error() string {
	if e.Port < 0 {
		return "app " + e.AppID + ": " + e.Reason
	}
	return "app " + e.AppID + " port " + itoa(e.Port) + ": " + e.Reason
}

// Backend returns the backend with the given name, or nil.
func (m *Model) Backend(name string) *Backend {
	i, ok := slices.BinarySearchFunc(m.Backends, name, func(b Backend, n string) int {
		return compareStrings(b.Name, n)
	})
	if !ok {
		return nil
	}
	return &m.Backends[i]
}

// StructuralEqual reports whether a and b differ at most in their backends'
// servers: when true, a running HAProxy configured from a can be brought to b
// through the Runtime API alone (for the backends where Dynamic is true); when
// false, a reload is needed. Errors are not compared (they are not rendered).
func StructuralEqual(a, b *Model) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Head != b.Head || a.Userlists != b.Userlists || len(a.Frontends) != len(b.Frontends) ||
		len(a.Backends) != len(b.Backends) || len(a.Maps) != len(b.Maps) {
		return false
	}
	for i := range a.Frontends {
		if a.Frontends[i].Name != b.Frontends[i].Name || a.Frontends[i].Text != b.Frontends[i].Text {
			return false
		}
	}
	for i := range a.Backends {
		x, y := &a.Backends[i], &b.Backends[i]
		if x.Name != y.Name || x.Text != y.Text || x.Dynamic != y.Dynamic {
			return false
		}
	}
	for i := range a.Maps {
		if a.Maps[i].Path != b.Maps[i].Path || string(a.Maps[i].Content) != string(b.Maps[i].Content) {
			return false
		}
	}
	return true
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
