package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/internal/dcosauth"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// lbOptions is the load balancer's part of the command line: marathon-lb's flags,
// unchanged, and ours (prefixed -lb- or -marathon-).
type lbOptions struct {
	cfg *lbmodel.Config

	// Marathon (marathon-lb's --marathon/-m, auth and CA flags).
	marathon       []string
	authCreds      string
	authCredsFile  string
	dcosCreds      string
	marathonCACert string
	sse            bool
	// marathonFollow is ours: "events" (default) or "poll".
	marathonFollow      string
	marathonPollSeconds int
	marathonInsecure    bool

	// HAProxy process control (ours).
	haproxyBinary  string
	masterSocket   string
	external       bool
	archiveDir     string
	archiveVersion int
	drainSeconds   int
	signals        string // "auto", "on", "off"
	// haproxyUser is -lb-haproxy-user (lbprivileges.go); haproxyEnv the
	// variables HAProxy gets from the daemon's environment besides PATH.
	haproxyUser string
	haproxyEnv  []string

	dry bool
	// logLevel is marathon-lb's --log-level, mapped to ours ("" when not given).
	logLevel string

	// ignored are marathon-lb flags given that discovery does not need, with why.
	ignored []string
}

// marathonLBIgnored are marathon-lb flags with no job here: accepted so that
// existing command lines keep working, and reported once at start-up.
var marathonLBIgnored = map[string]string{
	"command":                "discovery reloads HAProxy itself through the master CLI",
	"c":                      "discovery reloads HAProxy itself through the master CLI",
	"max-reload-retries":     "reloads are confirmed with show proc and retried with backoff",
	"reload-interval":        "reloads are coalesced by the snapshot hub",
	"skip-validation":        "every config is validated; invalid apps are left out, not the whole update",
	"log-format":             "use -logFormat text|json",
	"lru-cache-capacity":     "no DNS lookups are cached per app",
	"listening":              "Marathon HTTP callbacks were removed from Marathon; discovery follows its event stream",
	"l":                      "Marathon HTTP callbacks were removed from Marathon; discovery follows its event stream",
	"callback-url":           "Marathon HTTP callbacks were removed from Marathon; discovery follows its event stream",
	"u":                      "Marathon HTTP callbacks were removed from Marathon; discovery follows its event stream",
	"marathon-lb-group-name": "not used",
	"skip-config-cleanup":    "discovery never deletes files it did not write",
	"max-backoff":            "reconnects back off with jitter up to 30 s",
}

// marathonLBBoolIgnored are the ignored flags that take no value.
var marathonLBBoolIgnored = map[string]bool{"skip-validation": true, "skip-config-cleanup": true}

func newLBOptions(fs *flag.FlagSet) *lbOptions {
	o := &lbOptions{cfg: lbmodel.DefaultConfig()}
	o.cfg.RegisterFlags(fs)
	multi := &stringsFlag{list: &o.marathon}
	fs.Var(multi, "marathon", "Marathon URL (marathon-lb --marathon/-m; repeat or list several after one flag)")
	fs.Var(multi, "m", "short for -marathon")
	fs.StringVar(&o.authCreds, "auth-credentials", "", "Marathon user:pass (prefer -marathon-auth-credential-file: flags show in ps)")
	fs.StringVar(&o.authCredsFile, "marathon-auth-credential-file", "", "file whose first line is the Marathon user:pass")
	fs.StringVar(&o.dcosCreds, "dcos-auth-credentials", "", "DC/OS service account credentials (JSON: uid, private_key, login_endpoint) for Marathon; default $DCOS_SERVICE_ACCOUNT_CREDENTIAL")
	fs.StringVar(&o.marathonCACert, "marathon-ca-cert", "", "CA certificate (PEM) for Marathon over HTTPS")
	fs.BoolVar(&o.sse, "sse", false, "follow Marathon's event stream (marathon-lb --sse; the default here)")
	fs.BoolVar(&o.sse, "s", false, "short for -sse")
	fs.StringVar(&o.marathonFollow, "marathon-follow", "events", "how to follow Marathon: events (server-sent events, per-app refetch) or poll")
	fs.IntVar(&o.marathonPollSeconds, "marathon-poll-seconds", 10, "seconds between full fetches of Marathon's apps when polling")
	fs.BoolVar(&o.marathonInsecure, "marathon-insecure", false, "accept any Marathon TLS certificate (marathon-lb did when --marathon-ca-cert was not given)")
	fs.StringVar(&o.haproxyBinary, "lb-haproxy-binary", "/usr/sbin/haproxy", "HAProxy binary")
	fs.StringVar(&o.masterSocket, "lb-master-socket", "/var/run/haproxy/master.sock", "HAProxy master CLI socket")
	fs.BoolVar(&o.external, "lb-external", false, "drive an HAProxy started elsewhere (systemd) through its master and stats sockets")
	fs.StringVar(&o.archiveDir, "lb-archive-dir", "", "keep the last configs reloads loaded here (default: beside the HAProxy config)")
	fs.IntVar(&o.archiveVersion, "archive-versions", 5, "how many configs loaded by reloads to archive (marathon-lb --archive-versions)")
	fs.IntVar(&o.drainSeconds, "lb-drain-seconds", 30, "longest wait for a removed server's connections before it is deleted")
	fs.DurationVar(&o.cfg.AppLinger, "lb-app-linger", o.cfg.AppLinger, "how long an app known only from its Mesos tasks keeps its frontend and backend after its last task ended (no reload when it comes back); 0 turns it off")
	fs.StringVar(&o.haproxyUser, "lb-haproxy-user", "auto", "user[:group] HAProxy serves as: auto (haproxy:haproxy when the daemon runs as root and they exist), none, or USER[:GROUP]")
	fs.Var(&stringsFlag{list: &o.haproxyEnv}, "lb-haproxy-env", "environment variables HAProxy gets from the daemon besides PATH, for templates that use \"${NAME}\" (repeatable)")
	fs.StringVar(&o.signals, "lb-signal-endpoints", "auto", "/_mlb_signal/* endpoints: on, off, or auto (on only when the HTTP listener is loopback)")
	fs.Func("log-level", "marathon-lb's log level (CRITICAL, ERROR, WARNING, INFO, DEBUG): sets -logLevel", func(v string) error {
		lvl, ok := map[string]string{"CRITICAL": "error", "ERROR": "error", "WARNING": "warn", "INFO": "info", "DEBUG": "debug"}[strings.ToUpper(v)]
		if !ok {
			return fmt.Errorf("want CRITICAL, ERROR, WARNING, INFO or DEBUG, got %q", v)
		}
		o.logLevel = lvl
		return nil
	})
	fs.Bool("longhelp", false, "print the labels and templates reference and exit (marathon-lb --longhelp)")
	fs.BoolVar(&o.dry, "dry", false, "print the HAProxy config once and exit (marathon-lb --dry)")
	fs.BoolVar(&o.dry, "d", false, "short for -dry")
	for name, why := range marathonLBIgnored {
		record := func(string) {
			o.ignored = append(o.ignored, fmt.Sprintf("marathon-lb flag --%s is ignored: %s", name, why))
		}
		fs.Var(&ignoredFlag{isBool: marathonLBBoolIgnored[name], record: record}, name, "marathon-lb flag, accepted and ignored: "+why)
	}
	return o
}

// enabled reports whether the load balancer runs: marathon-lb requires --group,
// so a --group (or a Marathon URL) is what turns it on.
func (o *lbOptions) enabled() bool {
	return len(o.cfg.Groups) > 0 || len(o.marathon) > 0 || o.dry
}

// fromEnv takes the credentials marathon-lb took from its environment: its
// run script's MARATHON_USER and MARATHON_PASSWORD (below --auth-credentials
// and the credential file, which win), and DC/OS's
// DCOS_SERVICE_ACCOUNT_CREDENTIAL (the default of --dcos-auth-credentials).
// A service account given beside basic credentials is not used, as in
// marathon-lb; the returned warning says so.
func (o *lbOptions) fromEnv(getenv func(string) string) (warning string) {
	if !o.enabled() {
		return ""
	}
	if o.authCreds == "" && o.authCredsFile == "" {
		if user, pass := getenv("MARATHON_USER"), getenv("MARATHON_PASSWORD"); user != "" && pass != "" {
			o.authCreds = user + ":" + pass
		}
	}
	if o.dcosCreds == "" {
		o.dcosCreds = getenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL")
	}
	if o.dcosCreds != "" && (o.authCreds != "" || o.authCredsFile != "") {
		o.dcosCreds = ""
		return "the DC/OS service account (--dcos-auth-credentials or DCOS_SERVICE_ACCOUNT_CREDENTIAL) is not used: basic credentials for Marathon are given, and win as in marathon-lb"
	}
	return ""
}

func (o *lbOptions) validate() error {
	if !o.enabled() {
		return nil
	}
	var errs []error
	if o.dcosCreds != "" {
		// The secret itself never reaches the error: only what is wrong with it.
		if _, err := dcosauth.ParseCredentials([]byte(o.dcosCreds)); err != nil {
			errs = append(errs, fmt.Errorf("flag -dcos-auth-credentials (or DCOS_SERVICE_ACCOUNT_CREDENTIAL): %w", err))
		}
	}
	if err := o.cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch o.marathonFollow {
	case "events", "poll":
	default:
		errs = append(errs, fmt.Errorf("flag -marathon-follow: want events or poll, got %q", o.marathonFollow))
	}
	if o.marathonPollSeconds <= 0 {
		errs = append(errs, fmt.Errorf("flag -marathon-poll-seconds: must be positive, got %d", o.marathonPollSeconds))
	}
	switch o.signals {
	case "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("flag -lb-signal-endpoints: want on, off or auto, got %q", o.signals))
	}
	if _, _, err := resolveHAProxyUser(o.haproxyUser, 1, func(string, string) bool { return false }); err != nil {
		errs = append(errs, err)
	}
	if o.archiveVersion < 0 {
		errs = append(errs, fmt.Errorf("flag -archive-versions: must not be negative, got %d", o.archiveVersion))
	}
	if o.drainSeconds < 0 {
		errs = append(errs, fmt.Errorf("flag -lb-drain-seconds: must not be negative, got %d", o.drainSeconds))
	}
	if o.cfg.AppLinger < 0 {
		errs = append(errs, fmt.Errorf("flag -lb-app-linger: must not be negative, got %v", o.cfg.AppLinger))
	}
	for _, u := range o.marathon {
		if err := checkMarathonURL(u); err != nil {
			errs = append(errs, fmt.Errorf("flag -marathon: %w", err))
		}
	}
	// The default directory may be absent (the built-in templates serve); one
	// named on the command line that is not there is a typo or a missing
	// volume, and the built-ins would silently replace the operator's.
	if dir := o.cfg.TemplatesDir; dir != lbmodel.DefaultConfig().TemplatesDir {
		if st, err := os.Stat(dir); err != nil {
			errs = append(errs, fmt.Errorf("flag -lb-templates-dir: %w; create it or leave the flag out for the built-in templates", err))
		} else if !st.IsDir() {
			errs = append(errs, fmt.Errorf("flag -lb-templates-dir: %s is not a directory", dir))
		}
	}
	return errors.Join(errs...)
}

// checkMarathonURL refuses what would only fail later, on every fetch: a URL
// without http:// or https://, or without a host.
func checkMarathonURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
		return nil
	case !strings.Contains(raw, "://"):
		return fmt.Errorf("%q has no scheme; give http://%s (or https://)", raw, strings.TrimPrefix(raw, "//"))
	}
	return fmt.Errorf("%q is not an http:// or https:// URL with a host", raw)
}

// checkRun is what a running load balancer needs beyond valid flags: the
// HAProxy binary, which validates every config and runs it. Without it the
// daemon would start and retry forever; it stops here instead. render and
// --dry need no HAProxy and do not call it.
func (o *lbOptions) checkRun() error {
	if !o.enabled() || o.dry {
		return nil
	}
	if _, err := exec.LookPath(o.haproxyBinary); err != nil {
		return fmt.Errorf("flag -lb-haproxy-binary: %w; install HAProxy with %s, or give its path", err, devInstallHint)
	}
	return nil
}

// stringsFlag collects values: repeated flags and, after normalizeArgs, the
// several URLs marathon-lb's --marathon takes after one flag.
type stringsFlag struct{ list *[]string }

func (f *stringsFlag) String() string {
	if f == nil || f.list == nil {
		return ""
	}
	return strings.Join(*f.list, " ")
}

func (f *stringsFlag) Set(v string) error {
	*f.list = append(*f.list, v)
	return nil
}

// ignoredFlag is a flag of another tool (marathon-lb, glog) accepted without
// effect: Set checks a boolean's value and hands the value to record.
type ignoredFlag struct {
	isBool bool
	record func(value string)
}

func (f *ignoredFlag) String() string   { return "" }
func (f *ignoredFlag) IsBoolFlag() bool { return f.isBool }
func (f *ignoredFlag) Set(v string) error {
	if f.isBool {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
	}
	f.record(v)
	return nil
}

// multiValueFlags take several values after one flag, as marathon-lb's argparse
// nargs="+" did: "--marathon http://a:8080 http://b:8080".
var multiValueFlags = map[string]bool{"marathon": true, "m": true}

// normalizeArgs rewrites a marathon-lb style command line for Go's flag package:
// the container entry point's leading "sse" or "poll" word becomes -sse or
// -marathon-follow=poll, and the values following a multi-value flag become
// repeated flags.
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	if len(args) > 0 {
		switch args[0] {
		case "sse":
			out = append(out, "-sse")
			args = args[1:]
		case "poll":
			out = append(out, "-marathon-follow=poll")
			args = args[1:]
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || strings.Contains(name, "=") || !multiValueFlags[name] {
			continue
		}
		// The first value goes with the flag; each further non-flag value gets
		// the flag again.
		if i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			out = append(out, a, args[i])
		}
	}
	return out
}
