package lbmodel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// App-level labels (not per port).
const (
	LabelGroup                     = "HAPROXY_GROUP"
	LabelDeploymentGroup           = "HAPROXY_DEPLOYMENT_GROUP"
	LabelDeploymentAltPort         = "HAPROXY_DEPLOYMENT_ALT_PORT"
	LabelDeploymentColour          = "HAPROXY_DEPLOYMENT_COLOUR"
	LabelDeploymentStartedAt       = "HAPROXY_DEPLOYMENT_STARTED_AT"
	LabelDeploymentTargetInstances = "HAPROXY_DEPLOYMENT_TARGET_INSTANCES"
	LabelDeploymentNewInstances    = "HAPROXY_DEPLOYMENT_NEW_INSTANCES"
)

// PortLabels is what the HAPROXY_{n}_* labels of one app port say. Zero values
// mean "not set"; ParsePortLabels fills in marathon-lb's defaults.
type PortLabels struct {
	// VHost is HAPROXY_{n}_VHOST lowercased: one host, or a comma list.
	VHost string
	// Path is HAPROXY_{n}_PATH: path_beg arguments ("/api" or "-i /a /b").
	Path string
	// Auth is HAPROXY_{n}_AUTH, "realm:user:password-hash"; nil when unset.
	Auth *BasicAuth
	// Balance is HAPROXY_{n}_BALANCE; default roundrobin.
	Balance string
	// BindAddr is HAPROXY_{n}_BIND_ADDR; default "*".
	BindAddr string
	// BindOptions is HAPROXY_{n}_BIND_OPTIONS.
	BindOptions string
	// Mode is HAPROXY_{n}_MODE lowercased; empty when unset (then a health
	// check or a vhost decides).
	Mode string
	// Port is HAPROXY_{n}_PORT, overriding the service port; 0 when unset.
	Port int
	// RedirectToHTTPS is HAPROXY_{n}_REDIRECT_TO_HTTPS.
	RedirectToHTTPS bool
	// SSLCert is HAPROXY_{n}_SSL_CERT.
	SSLCert string
	// Sticky is HAPROXY_{n}_STICKY.
	Sticky bool
	// UseHSTS is HAPROXY_{n}_USE_HSTS.
	UseHSTS bool
	// BackendWeight is HAPROXY_{n}_BACKEND_WEIGHT: vhost ACLs of heavier
	// backends come first. A port with a path and no weight weighs 1.
	BackendWeight int
	// ProxyPassPath, RevProxyPath and RedirPath are
	// HAPROXY_{n}_HTTP_BACKEND_PROXYPASS_PATH, _REVPROXY_PATH and _REDIR.
	ProxyPassPath string
	RevProxyPath  string
	RedirPath     string
	// NetworkAllowed is HAPROXY_{n}_BACKEND_NETWORK_ALLOWED_ACL: blank-separated
	// addresses or networks.
	NetworkAllowed string
	// HealthCheckPortIndex is HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX; -1
	// when unset.
	HealthCheckPortIndex int
	// Enabled is HAPROXY_{n}_ENABLED; default true, or false in strict mode.
	Enabled bool
	// Groups is HAPROXY_{n}_GROUP split on commas; nil when unset (then the
	// app's HAPROXY_GROUP applies).
	Groups []string
	// Templates are the HAPROXY_{n}_<TEMPLATE> overrides, by template name
	// without the HAPROXY_ prefix ("BACKEND_HEAD").
	Templates map[string]string
}

// BasicAuth is an HAPROXY_{n}_AUTH value.
type BasicAuth struct {
	Realm, User, Password string
}

// portLabelKind says how a per-port label's value is read.
type portLabelKind uint8

const (
	plString portLabelKind = iota
	plLower
	plBool
	plInt
	plPort
	plAuth
	plGroups
	plVHost
)

type portLabelDef struct {
	suffix string
	kind   portLabelKind
	set    func(p *PortLabels, s string, n int, b bool)
	// check, when set, says whether a string value suits the label's role
	// (labels_validate.go).
	check func(string) error
}

// portLabelDefs are the per-port labels that are not templates.
var portLabelDefs = []portLabelDef{
	{"VHOST", plVHost, func(p *PortLabels, s string, _ int, _ bool) { p.VHost = s }, checkVHost},
	{"PATH", plString, func(p *PortLabels, s string, _ int, _ bool) { p.Path = s }, checkPath},
	{"AUTH", plAuth, nil, nil},
	{"BALANCE", plString, func(p *PortLabels, s string, _ int, _ bool) { p.Balance = s }, checkBalance},
	{"BIND_ADDR", plString, func(p *PortLabels, s string, _ int, _ bool) { p.BindAddr = s }, checkBindAddr},
	{"BIND_OPTIONS", plString, func(p *PortLabels, s string, _ int, _ bool) { p.BindOptions = s }, checkBindOptions},
	{"MODE", plLower, func(p *PortLabels, s string, _ int, _ bool) { p.Mode = s }, nil},
	{"PORT", plPort, func(p *PortLabels, _ string, n int, _ bool) { p.Port = n }, nil},
	{"REDIRECT_TO_HTTPS", plBool, func(p *PortLabels, _ string, _ int, b bool) { p.RedirectToHTTPS = b }, nil},
	{"SSL_CERT", plString, func(p *PortLabels, s string, _ int, _ bool) { p.SSLCert = s }, checkCertPath},
	{"STICKY", plBool, func(p *PortLabels, _ string, _ int, b bool) { p.Sticky = b }, nil},
	{"USE_HSTS", plBool, func(p *PortLabels, _ string, _ int, b bool) { p.UseHSTS = b }, nil},
	{"BACKEND_WEIGHT", plInt, func(p *PortLabels, _ string, n int, _ bool) { p.BackendWeight = n }, nil},
	{"HTTP_BACKEND_PROXYPASS_PATH", plString, func(p *PortLabels, s string, _ int, _ bool) { p.ProxyPassPath = s }, checkURLPath},
	{"HTTP_BACKEND_REVPROXY_PATH", plString, func(p *PortLabels, s string, _ int, _ bool) { p.RevProxyPath = s }, checkURLPath},
	{"HTTP_BACKEND_REDIR", plString, func(p *PortLabels, s string, _ int, _ bool) { p.RedirPath = s }, checkRedirect},
	{"BACKEND_NETWORK_ALLOWED_ACL", plString, func(p *PortLabels, s string, _ int, _ bool) { p.NetworkAllowed = s }, checkNetworks},
	{"BACKEND_HEALTHCHECK_PORT_INDEX", plInt, func(p *PortLabels, _ string, n int, _ bool) { p.HealthCheckPortIndex = n }, nil},
	{"ENABLED", plBool, func(p *PortLabels, _ string, _ int, b bool) { p.Enabled = b }, nil},
	{"GROUP", plGroups, nil, nil},
}

// ParsePortLabels reads the HAPROXY_{n}_* labels of port n. A label that does
// not parse, or a single-line label whose value holds a line break, is an
// error naming the label; the port must then be left out.
func ParsePortLabels(labels map[string]string, n int, strictMode bool) (PortLabels, error) {
	p := PortLabels{
		Balance:              "roundrobin",
		BindAddr:             "*",
		HealthCheckPortIndex: -1,
		Enabled:              !strictMode,
	}
	prefix := "HAPROXY_" + strconv.Itoa(n) + "_"
	var errs []error
	pathSet := false
	for key, value := range labels {
		suffix, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		if d := lookupPortLabel(suffix); d != nil {
			if err := d.parse(&p, value); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
			if suffix == "PATH" {
				pathSet = true
			}
			continue
		}
		if i, ok := templateIndex[suffix]; ok && templateDefs[i].perApp {
			if p.Templates == nil {
				p.Templates = make(map[string]string)
			}
			p.Templates[suffix] = value
		}
	}
	// marathon-lb gives a path-routed port weight 1 when it has none, so that
	// its ACLs come before the vhost-only ones.
	if pathSet && p.BackendWeight == 0 {
		p.BackendWeight = 1
	}
	if len(errs) > 0 {
		// Sort for a stable message: map iteration order is random.
		sortErrors(errs)
		return p, errors.Join(errs...)
	}
	return p, nil
}

func lookupPortLabel(suffix string) *portLabelDef {
	for i := range portLabelDefs {
		if portLabelDefs[i].suffix == suffix {
			return &portLabelDefs[i]
		}
	}
	return nil
}

func (d *portLabelDef) parse(p *PortLabels, value string) error {
	if err := singleLine(value); err != nil {
		return err
	}
	if d.check != nil {
		if err := d.check(value); err != nil {
			return err
		}
	}
	switch d.kind {
	case plString:
		d.set(p, value, 0, false)
	case plLower:
		d.set(p, strings.ToLower(value), 0, false)
	case plBool:
		d.set(p, "", 0, parseBool(value))
	case plInt:
		n, err := parseInt(value)
		if err != nil {
			return err
		}
		d.set(p, "", n, false)
	case plPort:
		n, err := parseInt(value)
		if err != nil {
			return err
		}
		if n < 1 || n > 65535 {
			return fmt.Errorf("%d is not a port", n)
		}
		d.set(p, "", n, false)
	case plAuth:
		parts := strings.Split(value, ":")
		if len(parts) != 3 {
			return fmt.Errorf("want realm:user:password, got %d fields", len(parts))
		}
		if err := checkAuth(parts[0], parts[1], parts[2]); err != nil {
			return err
		}
		p.Auth = &BasicAuth{Realm: parts[0], User: parts[1], Password: parts[2]}
	case plGroups:
		p.Groups = strings.Split(value, ",")
	case plVHost:
		// Host names go into ACL patterns and SNI expressions (checkVHost).
		d.set(p, strings.ToLower(value), 0, false)
	}
	return nil
}

// singleLine rejects values that would break out of their config line.
func singleLine(v string) error {
	if i := strings.IndexAny(v, "\n\r\x00"); i >= 0 {
		return fmt.Errorf("value holds a line break or NUL at offset %d", i)
	}
	return nil
}

// parseBool is marathon-lb's string_to_bool: true, t, yes, y in any case.
func parseBool(s string) bool {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y":
		return true
	}
	return false
}

// parseInt reads an integer as Python's int() does for the forms labels use:
// surrounding blanks allowed, optional sign, decimal digits (underscores
// between digits allowed).
func parseInt(s string) (int, error) {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "__") || strings.HasPrefix(strings.TrimLeft(t, "+-"), "_") || strings.HasSuffix(t, "_") {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	n, err := strconv.Atoi(strings.ReplaceAll(t, "_", ""))
	if err != nil || len(t) > 12 {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

// appGroups reads HAPROXY_GROUP.
func appGroups(labels map[string]string) ([]string, error) {
	v, ok := labels[LabelGroup]
	if !ok {
		return nil, nil
	}
	if err := singleLine(v); err != nil {
		return nil, fmt.Errorf("%s: %w", LabelGroup, err)
	}
	return strings.Split(v, ","), nil
}

func sortErrors(errs []error) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Error() < errs[j-1].Error(); j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}
