package lbmodel

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config holds the load balancer options that shape the HAProxy config. Every
// marathon-lb command-line option that changes the generated config has a
// field here, under the same meaning and default; the fields after those are
// ours (where marathon-lb hard-codes a value in its templates). Options about
// fetching (--marathon, --sse, auth) and applying (--command, reload retries,
// --archive-versions, --skip-validation) live with the code that does those.
type Config struct {
	// Groups (--group, repeatable, each a comma list) selects the apps whose
	// HAPROXY_GROUP (or per-port HAPROXY_{n}_GROUP) names one of them. "*"
	// selects every app, labelled or not. marathon-lb requires at least one.
	Groups []string
	// StrictMode (--strict-mode): a port is served only when its
	// HAPROXY_{n}_ENABLED label is true; otherwise every port is, unless the
	// label says false.
	StrictMode bool
	// HealthCheck (--health-check): of the apps with Marathon health checks,
	// only tasks whose checks pass are servers.
	HealthCheck bool
	// TrafficLog is where HAProxy sends its request logs, a syslog target:
	// a unix datagram socket (/dev/log: journald or syslogd) or host:port
	// (--syslog-socket, whose /dev/null means none); empty: none.
	TrafficLog string
	// SkipUnreachableTasks (-lb-skip-unreachable-tasks) leaves out tasks in
	// TASK_UNREACHABLE and TASK_LOST. By default they are routed, as
	// marathon-lb routes them (an agent cut off from the master may still
	// serve); with --health-check, their checks decide.
	SkipUnreachableTasks bool
	// DontBindHTTPHTTPS (--dont-bind-http-https): no marathon_http_in and
	// marathon_https_in frontends, so no vhost routing.
	DontBindHTTPHTTPS bool
	// SSLCerts (--ssl-certs, comma list) are the certificates of
	// marathon_https_in. Default /etc/ssl/cert.pem.
	SSLCerts []string
	// GroupHTTPSByVHost (--group-https-by-vhost): marathon_https_in passes TLS
	// through by SNI to one TLS-terminating frontend per virtual host, so each
	// vhost can have its own certificates and bind options.
	GroupHTTPSByVHost bool
	// HAProxyMap (--haproxy-map): route vhosts and app ids with map files
	// (domain2backend.map, app2backend.map next to the config) instead of one
	// ACL per vhost.
	HAProxyMap bool
	// HAProxyConfig (--haproxy-config) is where the config is written. Its
	// directory is {haproxy_dir}, where the map files go. Default
	// /etc/haproxy/haproxy.cfg.
	HAProxyConfig string
	// TemplatesDir is the directory of template files (HAPROXY_HEAD, …)
	// overriding our defaults; marathon-lb reads "templates" in its working
	// directory.
	TemplatesDir string
	// MinServPortIPPerTask and MaxServPortIPPerTask
	// (--min-serv-port-ip-per-task, --max-serv-port-ip-per-task) bound the
	// service ports assigned to IP-per-task app ports that have none. Both zero
	// turn assignment off. Defaults 10050 and 10100.
	MinServPortIPPerTask int
	MaxServPortIPPerTask int
	// FrameworkName is marathon-lb's FRAMEWORK_NAME environment variable: the
	// app with that id (without its leading "/") is the load balancer itself
	// and is skipped.
	FrameworkName string
	// GlobalDefaultOptions is marathon-lb's HAPROXY_GLOBAL_DEFAULT_OPTIONS: the
	// "option" lines of the defaults section ({globalDefaultOptions}).
	// Default redispatch, http-server-close, dontlognull.
	GlobalDefaultOptions []string

	// IgnoreTemplateLabels ignores every HAPROXY_{n}_<TEMPLATE> app label. App
	// labels can otherwise write arbitrary HAProxy configuration; with this
	// set, only the operator's templates are used.
	IgnoreTemplateLabels bool
	// TemplateLabels (-lb-template-labels), when not nil, are the only
	// templates (names without HAPROXY_) app labels may override; the rest of
	// the HAPROXY_{n}_<TEMPLATE> labels are ignored. Nil with
	// IgnoreTemplateLabels false is marathon-lb's behaviour: all of them.
	TemplateLabels []string
	// CertDirs (-lb-cert-dirs) are the directories HAPROXY_{n}_SSL_CERT and
	// the files of HAPROXY_{n}_BIND_OPTIONS may name files in. Empty: the
	// directories of SSLCerts.
	CertDirs []string

	// HAProxyUser and HAProxyGroup, when set, are written into the global
	// section as "user" and "group" (unless the HAPROXY_HEAD template sets
	// them): HAProxy started as root then serves as them. The daemon sets
	// them (-lb-haproxy-user); templates need no change.
	HAProxyUser  string
	HAProxyGroup string

	// StatsSocket is the worker stats socket (Runtime API), {statsSocket}.
	StatsSocket string
	// StatsBindAddr and StatsPort are where the stats listener and
	// /_haproxy_health_check bind. Default 0.0.0.0:9090.
	StatsBindAddr string
	StatsPort     int
	// HTTPBindAddr and HTTPPort are marathon_http_in's bind. Default *:80.
	HTTPBindAddr string
	HTTPPort     int
	// HTTPSBindAddr and HTTPSPort are marathon_https_in's bind. Default *:443.
	HTTPSBindAddr string
	HTTPSPort     int
	// AppIDBindAddr and AppIDPort are marathon_http_appid_in's bind
	// (X-Marathon-App-Id routing). Default *:9091.
	AppIDBindAddr string
	AppIDPort     int
	// EndpointsAddr is the host:port where HAProxy reaches discovery's own
	// HTTP listener on this machine ({discoveryHTTPAddr}): the stats listener
	// passes marathon-lb's /_haproxy_* and /_mlb_signal/* paths there, as
	// marathon-lb served them on its stats port. EndpointsHost turns the
	// listener's address into it. Default 127.0.0.1:8123.
	EndpointsAddr string
	// HardStopAfter bounds how long an old worker may keep serving its
	// connections after a reload, as HAProxy writes a time ("30s").
	HardStopAfter string
	// AppLinger is how long an app known only from its Mesos tasks keeps its
	// frontend and backend (with no server) after its last task ended, so that
	// an app restarting or briefly at zero causes no reload. Zero turns it off.
	// Apps from Marathon need none: Marathon lists an app scaled to zero.
	AppLinger time.Duration
	// VIPsOff turns off listening on the VIPs of VIP_{n} port labels
	// (vips.Build): by default every task carrying one is balanced on it,
	// whatever its HAPROXY_GROUP. VIPRange holds the named VIPs' addresses
	// (vips.DefaultRange when invalid).
	VIPsOff  bool
	VIPRange netip.Prefix
	// VIPListenCheck, when set, tells whether HAProxy could listen on a VIP
	// it does not listen on yet: an error leaves the VIP out, reported on its
	// apps. HAProxy refuses a whole config when one bind fails, so a VIP on a
	// port another program holds, or on an address not on this host, would
	// otherwise stop every later reload. The daemon's check binds the
	// address as HAProxy does.
	VIPListenCheck func(netip.AddrPort) error
}

// DefaultConfig returns marathon-lb's defaults (and ours for the rest). Groups
// is empty: the caller must choose.
func DefaultConfig() *Config {
	return &Config{
		SSLCerts:             []string{"/etc/ssl/cert.pem"},
		HAProxyConfig:        "/etc/haproxy/haproxy.cfg",
		TemplatesDir:         "templates",
		MinServPortIPPerTask: 10050,
		MaxServPortIPPerTask: 10100,
		GlobalDefaultOptions: []string{"redispatch", "http-server-close", "dontlognull"},
		StatsSocket:          "/var/run/haproxy/socket",
		StatsBindAddr:        "0.0.0.0",
		StatsPort:            9090,
		HTTPBindAddr:         "*",
		HTTPPort:             80,
		HTTPSBindAddr:        "*",
		HTTPSPort:            443,
		AppIDBindAddr:        "*",
		AppIDPort:            9091,
		EndpointsAddr:        "127.0.0.1:8123",
		HardStopAfter:        "30s",
		AppLinger:            2 * time.Minute,
	}
}

// SplitList splits comma lists as the --group and --ssl-certs flags take
// them, dropping empty items and surrounding blanks.
func SplitList(values ...string) []string {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// Validate reports option combinations marathon-lb refuses, and values that
// would not make a config.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Groups) == 0 {
		errs = append(errs, errors.New("at least one group is required (use * for every app)"))
	}
	if (c.MinServPortIPPerTask == 0) != (c.MaxServPortIPPerTask == 0) {
		errs = append(errs, errors.New("set both --min-serv-port-ip-per-task and --max-serv-port-ip-per-task, or neither"))
	}
	if c.MinServPortIPPerTask > c.MaxServPortIPPerTask {
		errs = append(errs, errors.New("--min-serv-port-ip-per-task is higher than --max-serv-port-ip-per-task"))
	}
	for _, p := range []struct {
		name string
		port int
	}{
		{"min-serv-port-ip-per-task", c.MinServPortIPPerTask},
		{"max-serv-port-ip-per-task", c.MaxServPortIPPerTask},
		{"stats port", c.StatsPort}, {"HTTP port", c.HTTPPort},
		{"HTTPS port", c.HTTPSPort}, {"app id port", c.AppIDPort},
	} {
		if p.port < 0 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s %d is not a port", p.name, p.port))
		}
	}
	for _, s := range append(append([]string{c.StatsSocket, c.StatsBindAddr, c.HTTPBindAddr,
		c.HTTPSBindAddr, c.AppIDBindAddr, c.EndpointsAddr, c.HardStopAfter, c.HAProxyConfig}, c.SSLCerts...), c.GlobalDefaultOptions...) {
		if strings.ContainsAny(s, "\n\r") {
			errs = append(errs, fmt.Errorf("setting %q spans lines", s))
		}
	}
	return errors.Join(errs...)
}

// haproxyDir is the directory of the config file: marathon-lb's {haproxy_dir}.
func (c *Config) haproxyDir() string {
	if c.HAProxyConfig == "" {
		return "/etc/haproxy"
	}
	return filepath.Dir(c.HAProxyConfig)
}

// ServerStateFile is where the default global section keeps the servers'
// states across reloads ({serverStateFile}): beside the config.
func (c *Config) ServerStateFile() string {
	return filepath.Join(c.haproxyDir(), "server-state")
}

// EmptyServerState is a server-state file with no server: HAProxy warns
// about a missing or empty one.
const EmptyServerState = "1\n"

// EndpointsHost is the host HAProxy connects to for a listener of discovery
// bound to addr: loopback for an unspecified address (0.0.0.0, ::, empty),
// the address itself otherwise.
func EndpointsHost(addr string) string {
	switch addr {
	case "", "0.0.0.0", "*":
		return "127.0.0.1"
	case "::", "[::]":
		return "::1"
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

// sslCertsOption is "crt A crt B", marathon-lb's {sslCerts}.
func sslCertsOption(certs []string) string {
	var b strings.Builder
	for i, c := range certs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("crt ")
		b.WriteString(c)
	}
	return b.String()
}

func (c *Config) sslCerts() []string {
	if len(c.SSLCerts) == 0 {
		return []string{"/etc/ssl/cert.pem"}
	}
	return c.SSLCerts
}

// globalDefaultOptions renders the defaults' option lines as marathon-lb does:
// one "  option X" line per distinct option, sorted.
func (c *Config) GlobalDefaultOptionLines() string {
	lines := make([]string, 0, len(c.GlobalDefaultOptions))
	for _, o := range c.GlobalDefaultOptions {
		lines = append(lines, "  option            "+strings.TrimSpace(o)+"\n")
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	return strings.Join(lines, "")
}

// trafficLogLine is the defaults section's log target for request logs
// ({trafficLog}): every proxy logs its connections and requests there at
// info, which the global stderr target (notice and up) leaves out.
func (c *Config) trafficLogLine() string {
	if c.TrafficLog == "" {
		return ""
	}
	return "  log " + c.TrafficLog + " local0 info\n"
}

// settingsVars are the placeholders every template may use, from the config.
func (c *Config) settingsVars() fmtVars {
	return fmtVars{
		{"haproxy_dir", strVal(c.haproxyDir())},
		{"statsSocket", strVal(c.StatsSocket)},
		{"statsBindAddr", strVal(c.StatsBindAddr)},
		{"statsPort", intVal(c.StatsPort)},
		{"httpBindAddr", strVal(c.HTTPBindAddr)},
		{"httpPort", intVal(c.HTTPPort)},
		{"httpsBindAddr", strVal(c.HTTPSBindAddr)},
		{"httpsPort", intVal(c.HTTPSPort)},
		{"appIdBindAddr", strVal(c.AppIDBindAddr)},
		{"appIdPort", intVal(c.AppIDPort)},
		{"hardStopAfter", strVal(c.HardStopAfter)},
		{"discoveryHTTPAddr", strVal(c.EndpointsAddr)},
		{"serverStateFile", strVal(c.ServerStateFile())},
		{"globalDefaultOptions", strVal(c.GlobalDefaultOptionLines())},
		{"trafficLog", strVal(c.trafficLogLine())},
		{"sslCerts", strVal(sslCertsOption(c.sslCerts()))},
		{"httpFrontendOptions", strVal(httpFrontendOptions)},
	}
}

// httpFrontendOptions are the options our default templates give every HTTP
// frontend ({httpFrontendOptions}; empty for a TCP one). After a reload, the
// old worker answers the next request of an idle keep-alive connection with
// "Connection: close" instead of closing it under the client's feet. It is
// not in the defaults section because HAProxy warns about it on every TCP
// proxy there.
const httpFrontendOptions = "  option idle-close-on-response\n"

// RegisterFlags defines c's options on fs under marathon-lb's flag names
// (-group, -strict-mode, -health-check/-H, -dont-bind-http-https, -ssl-certs,
// -group-https-by-vhost, -haproxy-map, -haproxy-config,
// -min-serv-port-ip-per-task, -max-serv-port-ip-per-task) and ours, prefixed
// lb- (-lb-templates-dir, -lb-ignore-template-labels, -lb-stats-socket,
// -lb-stats-bind, -lb-http-bind, -lb-https-bind, -lb-appid-bind,
// -lb-hard-stop-after). The current values of c are the defaults. -group
// may be repeated and takes comma lists; the first -group replaces the
// default groups.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(&listFlag{list: &c.Groups}, "group", "only apps with one of these HAPROXY_GROUP names (comma list, repeatable; * for every app)")
	fs.BoolVar(&c.StrictMode, "strict-mode", c.StrictMode, "serve a port only when its HAPROXY_{n}_ENABLED label is true")
	fs.BoolVar(&c.HealthCheck, "health-check", c.HealthCheck, "only tasks whose Marathon health checks pass receive traffic")
	fs.BoolVar(&c.HealthCheck, "H", c.HealthCheck, "short for -health-check")
	fs.Func("syslog-socket", "syslog target of HAProxy's request logs: a unix socket (/dev/log) or host:port; /dev/null: none (marathon-lb --syslog-socket)", func(v string) error {
		if v == "/dev/null" {
			v = ""
		}
		if strings.ContainsAny(v, " \t\n\"#") {
			return fmt.Errorf("%q is not a socket path or host:port", v)
		}
		c.TrafficLog = v
		return nil
	})
	fs.BoolVar(&c.SkipUnreachableTasks, "lb-skip-unreachable-tasks", c.SkipUnreachableTasks, "leave out tasks in TASK_UNREACHABLE or TASK_LOST (marathon-lb routes them)")
	fs.BoolVar(&c.DontBindHTTPHTTPS, "dont-bind-http-https", c.DontBindHTTPHTTPS, "no HTTP and HTTPS vhost frontends")
	fs.Var(&listFlag{list: &c.SSLCerts}, "ssl-certs", "certificates of marathon_https_in (comma list)")
	fs.BoolVar(&c.GroupHTTPSByVHost, "group-https-by-vhost", c.GroupHTTPSByVHost, "one TLS frontend per virtual host, chosen by SNI")
	fs.BoolVar(&c.HAProxyMap, "haproxy-map", c.HAProxyMap, "route vhosts and app ids with map files")
	fs.StringVar(&c.HAProxyConfig, "haproxy-config", c.HAProxyConfig, "where the HAProxy config is written")
	fs.IntVar(&c.MinServPortIPPerTask, "min-serv-port-ip-per-task", c.MinServPortIPPerTask, "lowest service port assigned to IP-per-task apps")
	fs.IntVar(&c.MaxServPortIPPerTask, "max-serv-port-ip-per-task", c.MaxServPortIPPerTask, "highest service port assigned to IP-per-task apps")
	fs.StringVar(&c.TemplatesDir, "lb-templates-dir", c.TemplatesDir, "directory of HAProxy template files (HAPROXY_HEAD, …)")
	fs.BoolVar(&c.IgnoreTemplateLabels, "lb-ignore-template-labels", c.IgnoreTemplateLabels, "ignore HAPROXY_{n}_<TEMPLATE> app labels (-lb-template-labels=none)")
	fs.Var(templateLabelsFlag{c}, "lb-template-labels", "which HAPROXY_{n}_<TEMPLATE> app labels apply: all (marathon-lb's behaviour: app authors write any HAProxy config), none, or a comma list of template names")
	fs.Var(&listFlag{list: &c.CertDirs}, "lb-cert-dirs", "directories app labels may name certificate files in (comma list; default: the directories of -ssl-certs)")
	fs.StringVar(&c.StatsSocket, "lb-stats-socket", c.StatsSocket, "HAProxy worker stats socket (Runtime API)")
	fs.Var(&bindFlag{&c.StatsBindAddr, &c.StatsPort}, "lb-stats-bind", "ADDR:PORT of the stats listener")
	fs.Var(&bindFlag{&c.HTTPBindAddr, &c.HTTPPort}, "lb-http-bind", "ADDR:PORT of marathon_http_in")
	fs.Var(&bindFlag{&c.HTTPSBindAddr, &c.HTTPSPort}, "lb-https-bind", "ADDR:PORT of marathon_https_in")
	fs.Var(&bindFlag{&c.AppIDBindAddr, &c.AppIDPort}, "lb-appid-bind", "ADDR:PORT of marathon_http_appid_in")
	fs.StringVar(&c.HardStopAfter, "lb-hard-stop-after", c.HardStopAfter, "longest life of an old HAProxy worker after a reload")
}

// FromEnv reads the environment variables marathon-lb reads besides the
// templates: FRAMEWORK_NAME and HAPROXY_GLOBAL_DEFAULT_OPTIONS.
func (c *Config) FromEnv(getenv func(string) string) {
	if v := getenv("FRAMEWORK_NAME"); v != "" {
		c.FrameworkName = v
	}
	if v := getenv("HAPROXY_GLOBAL_DEFAULT_OPTIONS"); v != "" {
		c.GlobalDefaultOptions = SplitList(v)
	}
}

// listFlag is a repeatable comma-list flag; the first use replaces the
// default.
type listFlag struct {
	list *[]string
	set  bool
}

func (f *listFlag) String() string {
	if f == nil || f.list == nil {
		return ""
	}
	return strings.Join(*f.list, ",")
}

func (f *listFlag) Set(v string) error {
	if !f.set {
		*f.list = nil
		f.set = true
	}
	*f.list = append(*f.list, SplitList(v)...)
	return nil
}

// bindFlag sets an address and a port from "ADDR:PORT" (":PORT" keeps the
// address, "*:PORT" is every address).
type bindFlag struct {
	addr *string
	port *int
}

func (f *bindFlag) String() string {
	if f == nil || f.addr == nil {
		return ""
	}
	return *f.addr + ":" + strconv.Itoa(*f.port)
}

func (f *bindFlag) Set(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want ADDR:PORT: %w", err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q is not a port", port)
	}
	if host != "" {
		*f.addr = host
	}
	*f.port = n
	return nil
}
