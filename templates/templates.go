// Package templates holds discovery's default HAProxy templates, one file per
// marathon-lb template name (HAPROXY_HEAD.tmpl, HAPROXY_BACKEND_HEAD.tmpl, …),
// embedded in the binary so that a bare install produces a working config.
//
// The texts are our own. They use marathon-lb's placeholders ({backend},
// {hostname}, {sslCerts}, …) with Python str.format syntax, so that a user's
// marathon-lb template file can replace any of them unchanged. Templates that
// marathon-lb inserts verbatim (HAPROXY_HEAD, the frontend heads, …) are
// expanded once, when loaded, with the load balancer's settings; that is how
// the default binds follow the configuration. The settings placeholders, which
// every formatted template may use too, are {statsSocket}, {statsBindAddr},
// {statsPort}, {httpBindAddr}, {httpPort}, {httpsBindAddr}, {httpsPort},
// {appIdBindAddr}, {appIdPort}, {hardStopAfter}, {discoveryHTTPAddr} (where
// HAProxy reaches discovery's HTTP listener), {serverStateFile},
// {globalDefaultOptions}, {sslCerts}, {haproxy_dir} and {httpFrontendOptions}
// (the options every HTTP-mode frontend gets; empty in a TCP frontend's
// HAPROXY_FRONTEND_HEAD).
//
// What the defaults do for hitless operation: the global section suits
// master-worker mode (no "daemon", an admin stats socket with "expose-fd
// listeners" for the Runtime API, "hard-stop-after" to bound old workers);
// HTTP frontends answer the next request on an idle keep-alive connection
// with "Connection: close" after a reload (option idle-close-on-response);
// backends balance with an algorithm that accepts servers added at runtime
// ("hash-type consistent" keeps source and uri hashing dynamic too).
// lbsync decides which template is formatted when.
package templates

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.tmpl
var files embed.FS

// Default returns the default text of the template with the given name
// ("HAPROXY_BACKEND_HEAD"), and whether there is one.
func Default(name string) (string, bool) {
	b, err := files.ReadFile(name + ".tmpl")
	if err != nil {
		return "", false
	}
	return string(b), true
}

// Names returns the names of every default template, sorted.
func Names() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic("templates: reading embedded files: " + err.Error())
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".tmpl"))
	}
	sort.Strings(names)
	return names
}
