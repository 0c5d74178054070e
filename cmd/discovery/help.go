package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// keyHelp says what each config key (and its flag) means, in one line: the
// flag's help, with the key named after it.
var keyHelp = map[string]string{
	"zk":                      "ZooKeeper URL of the Mesos masters, zk://host:2181,…/mesos (user:pass@ for digest auth)",
	"zkDetectionTimeout":      "seconds ZooKeeper may be unreachable before the static masters are used; 0: never",
	"masters":                 "Mesos masters, host:port, comma-separated (numbered master0, master1, … in DNS)",
	"mesosAuthentication":     `"" (none), "basic" (mesosCredentials, config file only) or "iam" (IAMConfigFile)`,
	"IAMConfigFile":           "DC/OS service account credentials file, for mesosAuthentication iam",
	"mesosHTTPSOn":            "talk HTTPS to the masters",
	"caCertFile":              "CAs that sign the masters' certificates (without it they are not verified, as in mesos-dns)",
	"certFile":                "client certificate for the masters",
	"keyFile":                 "the client certificate's key",
	"mesosHTTPSInsecure":      "accept any master certificate even with caCertFile",
	"refreshSeconds":          "seconds between state fetches when polling",
	"stateTimeoutSeconds":     "bound on one state fetch from one master, in seconds",
	"ttl":                     "TTL of every record, in seconds",
	"domain":                  "the domain served (task.framework.DOMAIN)",
	"port":                    "DNS port, UDP and TCP",
	"resolvers":               "upstream resolvers for other names, ip[:port], comma-separated (empty: /etc/resolv.conf's)",
	"zoneResolvers":           "upstreams for some zones",
	"timeout":                 "seconds per upstream exchange",
	"httpon":                  "serve the HTTP API, status page and metrics",
	"dnson":                   "serve DNS",
	"httpport":                "HTTP port",
	"httpListener":            "HTTP address",
	"externalon":              "forward names outside the domain (false: REFUSED)",
	"listener":                "DNS address (also the name server's own A record)",
	"SOAMname":                "SOA MNAME, the primary name server",
	"SOARname":                "SOA RNAME, the administrator's mailbox (@ read as .)",
	"SOASerial":               "SOA serial; 0: the time each record table was built",
	"SOARefresh":              "SOA refresh, seconds",
	"SOARetry":                "SOA retry, seconds",
	"SOAExpire":               "SOA expire, seconds",
	"SOAMinttl":               "SOA minimum TTL (negative answers), seconds",
	"recurseon":               "set the RA flag of answers",
	"enforceRFC952":           "stricter label rules (RFC 952)",
	"IPSources":               "order of task address sources: netinfo, mesos, docker, host",
	"EnumerationOn":           "serve /v1/enumerate",
	"srvRecordDefaultWeight":  "weight of SRV records",
	"SetTruncateBit":          "set TC on UDP answers cut to fit (false: as mesos-dns's option)",
	"stateFile":               "follow a Mesos state document on disk instead of masters (watched)",
	"mesosFollow":             "how to follow the leading master: stream (v1 operator events) or poll",
	"maxStateBytes":           "bound on what decoding one Mesos state may take, in bytes",
	"dnsRateLimit":            "DNS answers per second per client address over UDP (0: no limit)",
	"externalFrom":            "networks whose clients get names outside the domain forwarded (others: REFUSED)",
	"dnsTCPMaxConnsPerClient": "DNS-over-TCP connections one client may hold (-1: no cap)",
	"httpMaxConns":            "HTTP connections in all (-1: no cap)",
	"httpMaxConnsPerClient":   "HTTP connections one client may hold (-1: no cap)",
	"httpIdleTimeoutSeconds":  "seconds an idle HTTP keep-alive connection stays open",
	"httpAllowedHosts":        "Host names the HTTP API answers besides addresses, localhost, this host's name and the domain",
	"dnsRateLimitBurst":       "burst of the per-client DNS rate limit",
	"dnsMaxUDPSize":           "largest UDP answer in bytes: the client's EDNS buffer size, capped at this (512 without EDNS)",
	"healthAwareAnswers":      "leave tasks that Mesos health checks report unhealthy out of A, AAAA and SRV answers",
	"logFormat":               "log format: text or json",
	"logLevel":                "log level: debug, info, warn, error",
	"snapshotQuietMillis":     "a burst of changes must be quiet this long before it is applied",
	"snapshotMaxDelayMillis":  "…but no change waits longer than this",
	"vipsOn":                  "load balance the VIPs of VIP_{n} port labels and answer their names in DNS (false: off)",
	"vipRange":                "network holding the named VIPs' addresses, each derived from its name (CIDR)",
}

// helpGroups orders -h by role. Every flag is in exactly one group (a test
// checks), so a new flag must say where it belongs.
var helpGroups = []struct {
	title string
	flags []string
}{
	{"Running", []string{"config", "version", "dev", "dev-churn", "dev-dir"}},
	{"Mesos source (mesos-dns config keys)", []string{"masters", "zk", "zkDetectionTimeout", "mesosFollow", "refreshSeconds",
		"stateTimeoutSeconds", "stateFile", "maxStateBytes", "mesosHTTPSOn", "caCertFile", "certFile", "keyFile", "mesosHTTPSInsecure",
		"mesosAuthentication", "IAMConfigFile", "IPSources", "snapshotQuietMillis", "snapshotMaxDelayMillis"}},
	{"DNS and HTTP (mesos-dns config keys)", []string{"dnson", "domain", "listener", "port", "ttl", "resolvers", "zoneResolvers",
		"timeout", "externalon", "recurseon", "SOAMname", "SOARname", "SOASerial", "SOARefresh", "SOARetry", "SOAExpire", "SOAMinttl",
		"enforceRFC952", "EnumerationOn", "srvRecordDefaultWeight", "healthAwareAnswers", "SetTruncateBit", "externalFrom", "dnsRateLimit", "dnsRateLimitBurst",
		"dnsMaxUDPSize", "dnsTCPMaxConnsPerClient", "httpon", "httpListener", "httpport", "httpAllowedHosts", "httpMaxConns", "httpMaxConnsPerClient",
		"httpIdleTimeoutSeconds"}},
	{"Marathon source (marathon-lb flags)", []string{"marathon", "m", "auth-credentials", "marathon-auth-credential-file",
		"dcos-auth-credentials", "marathon-ca-cert", "sse", "s", "marathon-follow", "marathon-poll-seconds", "marathon-insecure"}},
	{"Load balancer (marathon-lb flags)", []string{"group", "haproxy-config", "strict-mode", "health-check", "H",
		"dont-bind-http-https", "ssl-certs", "group-https-by-vhost", "haproxy-map", "min-serv-port-ip-per-task",
		"max-serv-port-ip-per-task", "archive-versions", "syslog-socket", "dry", "d", "longhelp"}},
	{"Load balancer (discovery's own)", []string{"lb-templates-dir", "lb-template-labels", "lb-ignore-template-labels", "lb-cert-dirs", "lb-haproxy-binary", "lb-haproxy-user", "lb-haproxy-env",
		"lb-master-socket", "lb-stats-socket", "lb-external", "lb-stats-bind", "lb-http-bind", "lb-https-bind", "lb-appid-bind",
		"lb-hard-stop-after", "lb-drain-seconds", "lb-app-linger", "lb-skip-unreachable-tasks", "lb-archive-dir", "lb-signal-endpoints"}},
	{"Named VIPs (DC/OS VIP_{n} labels)", []string{"vipsOn", "vipRange"}},
	{"Logging", []string{"logLevel", "logFormat", "log-level", "v"}},
	{"mesos-dns's glog flags (accepted; discovery logs to stderr)", []string{"logtostderr", "alsologtostderr", "log_dir",
		"stderrthreshold", "vmodule", "log_backtrace_at"}},
	{"marathon-lb flags accepted and ignored (each says why)", nil}, // filled from marathonLBIgnored
}

// printUsage writes the usage head and every flag of fs by group: its
// meaning, its config key and its default.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usageHead)
	defaults, kinds := keyDefaults(), keyKinds()
	for _, g := range flagGroupsOf(fs) {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, f := range g.flags {
			name := "-" + f.Name
			if k, ok := kinds[f.Name]; ok {
				name += k
			} else if hint := valueHint(f); hint != "" {
				name += " " + hint
			}
			fmt.Fprintf(w, "  %s\n    \t%s", name, f.Usage)
			if d := defaults[f.Name]; d != "" {
				fmt.Fprintf(w, " (default %s)", d)
			} else if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" {
				fmt.Fprintf(w, " (default %s)", d)
			}
			fmt.Fprintln(w)
		}
	}
}

// flagGroup is one titled group of flags, as -h and docs/flags.md show it.
type flagGroup struct {
	title string
	flags []*flag.Flag
}

// flagGroupsOf returns fs's flags in their groups; a flag in no group lands
// in a last "Other" group (the test fails on it).
func flagGroupsOf(fs *flag.FlagSet) []flagGroup {
	var out []flagGroup
	placed := map[string]bool{}
	for _, g := range helpGroups {
		names := g.flags
		if names == nil {
			for n := range marathonLBIgnored {
				names = append(names, n)
			}
			sort.Strings(names)
		}
		var fl []*flag.Flag
		for _, n := range names {
			if f := fs.Lookup(n); f != nil && !placed[n] {
				fl = append(fl, f)
				placed[n] = true
			}
		}
		out = append(out, flagGroup{g.title, fl})
	}
	var other []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !placed[f.Name] {
			other = append(other, f)
		}
	})
	if len(other) > 0 {
		out = append(out, flagGroup{"Other", other})
	}
	return out
}

// valueHint names what a flag takes ("" for a boolean).
func valueHint(f *flag.Flag) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return ""
	}
	name, _ := flag.UnquoteUsage(f)
	if name == "" {
		return "value"
	}
	return name
}

// keyKinds are what each config key's flag takes, as -h shows it.
func keyKinds() map[string]string {
	out := map[string]string{}
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("json")
		switch t.Field(i).Type.Kind() {
		case reflect.Bool:
			out[key] = ""
		case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64:
			out[key] = " n"
		case reflect.Slice:
			out[key] = " list"
		case reflect.Map:
			out[key] = " zone=ip,…"
		default:
			out[key] = " string"
		}
	}
	return out
}

// keyDefaults are the config keys' defaults as the file would spell them,
// for -h: the default flag values of the key flags are empty (a flag given
// overrides the file, one not given does not).
func keyDefaults() map[string]string {
	out := map[string]string{}
	def := DefaultConfig()
	v := reflect.ValueOf(def)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("json")
		fv := v.Field(i)
		if key == "" || fv.IsZero() {
			continue
		}
		b, err := json.Marshal(fv.Interface())
		if err != nil {
			continue
		}
		out[key] = strings.Trim(string(b), `"`)
	}
	return out
}

// writeFlagReference writes docs/flags.md: every flag by group, as a
// Markdown table, from the same definitions -h prints.
func writeFlagReference(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "# Flag reference\n\nGenerated from the flags' definitions (`go test ./cmd/discovery -run TestFlagReference -update-flags`);\n"+
		"a test fails when it and the code disagree. Every config key of [config.md](config.md) is also a flag;\n"+
		"flags override the config file.\n")
	defaults, kinds := keyDefaults(), keyKinds()
	for _, g := range flagGroupsOf(fs) {
		fmt.Fprintf(w, "\n## %s\n\n| flag | default | meaning |\n|---|---|---|\n", g.title)
		for _, f := range g.flags {
			name := "-" + f.Name
			if k, ok := kinds[f.Name]; ok {
				name += k
			} else if hint := valueHint(f); hint != "" {
				name += " " + hint
			}
			def := defaults[f.Name]
			if def == "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
				def = f.DefValue
			}
			if def != "" {
				def = "`" + def + "`"
			}
			fmt.Fprintf(w, "| `%s` | %s | %s |\n", name, def, strings.ReplaceAll(f.Usage, "|", `\|`))
		}
	}
}
