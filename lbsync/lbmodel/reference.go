package lbmodel

import (
	"fmt"
	"io"
	"strings"

	"github.com/discovery-mesos/discovery/templates"
)

// labelMeanings say what each label does, for the reference --longhelp
// prints (marathon-lb's --longhelp printed its own). A test checks that every
// label the parser reads has one.
var labelMeanings = map[string]string{
	LabelGroup:                       "the groups the app belongs to (--group selects them)",
	LabelDeploymentGroup:             "blue/green: apps of one group share the service port and backend (zdd.py)",
	LabelDeploymentAltPort:           "blue/green: the service port of the other colour",
	LabelDeploymentColour:            "blue/green: blue or green",
	LabelDeploymentStartedAt:         "blue/green: when the deployment started (the newer app takes over)",
	LabelDeploymentTargetInstances:   "blue/green: the instances the new app ends with",
	LabelDeploymentNewInstances:      "hybrid deploys: the new app's instances so far",
	"VHOST":                          "virtual hosts routed to this port on the HTTP and HTTPS frontends (comma list)",
	"PATH":                           "path prefixes (path_beg) the vhosts route to this port",
	"AUTH":                           "basic auth: realm:user:password-hash",
	"BALANCE":                        "balance algorithm (roundrobin, leastconn, source, …)",
	"BIND_ADDR":                      "address the port's own frontend binds (one IP, or *)",
	"BIND_OPTIONS":                   "bind options of the port's own frontend (an allow-list)",
	"MODE":                           "http or tcp",
	"PORT":                           "service port to bind instead of Marathon's",
	"REDIRECT_TO_HTTPS":              "redirect plain HTTP requests for the vhosts to HTTPS",
	"SSL_CERT":                       "certificate of the port's own frontend (inside -lb-cert-dirs)",
	"STICKY":                         "sticky sessions by cookie",
	"USE_HSTS":                       "send Strict-Transport-Security",
	"BACKEND_WEIGHT":                 "order of vhost rules: heavier first",
	"HTTP_BACKEND_PROXYPASS_PATH":    "prefix removed from the path before it reaches the tasks",
	"HTTP_BACKEND_REVPROXY_PATH":     "root path a Location pointing at the app's host becomes",
	"HTTP_BACKEND_REDIR":             "path / of the vhost redirects to",
	"BACKEND_NETWORK_ALLOWED_ACL":    "addresses or networks allowed to reach the backend (blank-separated)",
	"BACKEND_HEALTHCHECK_PORT_INDEX": "index of the port whose Marathon health check this port uses",
	"ENABLED":                        "serve this port (with --strict-mode only ports saying true are served)",
	"GROUP":                          "the groups of this port, over HAPROXY_GROUP",
}

// WriteReference writes the labels and templates reference: every label with
// what it does, then every template with its scope and default text.
func WriteReference(w io.Writer) error {
	var b strings.Builder
	b.WriteString("App labels (read from the Marathon app, or from the Mesos task):\n\n")
	for _, l := range []string{LabelGroup, LabelDeploymentGroup, LabelDeploymentAltPort, LabelDeploymentColour,
		LabelDeploymentStartedAt, LabelDeploymentTargetInstances, LabelDeploymentNewInstances} {
		fmt.Fprintf(&b, "  %-40s %s\n", l, labelMeanings[l])
	}
	b.WriteString("\nPort labels (n is the port's index):\n\n")
	for _, d := range portLabelDefs {
		fmt.Fprintf(&b, "  %-40s %s\n", "HAPROXY_{n}_"+d.suffix, labelMeanings[d.suffix])
	}
	b.WriteString("  HAPROXY_{n}_<TEMPLATE>                   the template of that name for this port (per-app templates below;\n" +
		"                                           -lb-template-labels decides which ones app authors may set)\n")
	b.WriteString("\nTemplates (a file of that name in -lb-templates-dir, or an environment variable, overrides the default):\n")
	for _, d := range templateDefs {
		scope := "global"
		if d.perApp {
			scope = "per app (also the HAPROXY_{n}_" + d.name + " label)"
		}
		text, _ := templates.Default("HAPROXY_" + d.name)
		fmt.Fprintf(&b, "\n## HAPROXY_%s — %s\n\n%s\n", d.name, scope, strings.TrimRight(text, "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
