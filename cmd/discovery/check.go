package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/lbsync"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
)

// checkNetworkTimeout bounds the network part of `discovery check`: a
// source that has not answered by then is reported unreachable.
const checkNetworkTimeout = 15 * time.Second

// runCheck is `discovery check`: it takes the configuration and flags of a
// run and reports every problem it can find without starting anything, so a
// config can be checked before it is deployed. Exit 0 only when all is well,
// 1 when it found problems, 2 on a usage error.
//
// What it checks: the config file and flags (unknown keys with the key meant,
// values), the addresses the servers would listen on, and, with the load
// balancer on, the HAProxy binary, the templates directory and the config
// rendered from the cluster through "haproxy -c". Unless -offline is given it
// also fetches the cluster once from every source (masters or ZooKeeper, the
// state file, Marathon), as render does, and reports those that do not answer.
func runCheck(args []string, stdout, stderr io.Writer) int {
	args, offline, err := takeOffline(args)
	if err != nil {
		fmt.Fprintln(stderr, "discovery check:", err)
		return 2
	}
	r := &checkReport{out: stdout}
	// The flag package prints the whole usage on a bad flag; the report's
	// one line names it instead. -h still prints the usage.
	var usage strings.Builder
	o, err := parseArgsFor(args, &usage, true)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage.String())
		fmt.Fprintln(stderr, "  -offline\n    \tcheck only: skip what needs the network (fetching the sources; the config is rendered from no apps)")
		return 0
	}
	if err != nil {
		r.problem("configuration: %v", err)
		return r.done()
	}
	from := "flags"
	if o.configPath != "" {
		from = o.configPath
	}
	r.ok("configuration read from %s", from)
	for _, w := range o.warnings {
		r.problem("configuration: %s", w)
	}
	if o.cfg.DNSOn {
		r.check("dns listener", checkLocalAddress(o.cfg.Listener))
	}
	if o.cfg.HTTPOn {
		r.check("http listener", checkLocalAddress(o.cfg.HTTPListener))
	}

	lbOn := o.lb.enabled()
	var ts *lbmodel.Templates
	if lbOn {
		if !o.lb.dry {
			r.check("haproxy binary "+o.lb.haproxyBinary, o.lb.checkRun())
		}
		o.lb.cfg.FromEnv(os.Getenv)
		ts, err = lbmodel.LoadTemplates(o.lb.cfg, o.lb.cfg.TemplatesDir, os.Getenv)
		r.check("templates in "+o.lb.cfg.TemplatesDir, err)
		if ts != nil {
			for _, w := range ts.Warnings(o.lb.cfg) {
				r.problem("templates: %s", w)
			}
		}
		if unknown, _ := lbmodel.UserTemplateFiles(o.lb.cfg.TemplatesDir); len(unknown) > 0 {
			r.problem("templates: files in %s match no template name: %s", o.lb.cfg.TemplatesDir, strings.Join(unknown, ", "))
		}
	}

	snap := &state.Snapshot{Seq: 1}
	if offline {
		r.note("offline: sources not fetched")
	} else {
		snap = r.fetch(o)
	}
	if lbOn && ts != nil {
		r.checkRender(o, ts, snap)
	}
	return r.done()
}

// takeOffline removes check's own -offline flag from args.
func takeOffline(args []string) (rest []string, offline bool, err error) {
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "offline", "offline=true":
			if strings.HasPrefix(a, "-") {
				offline = true
				continue
			}
		case "offline=false":
			if strings.HasPrefix(a, "-") {
				continue
			}
		}
		rest = append(rest, a)
	}
	return rest, offline, nil
}

// checkLocalAddress reports whether the servers could listen on ip: an
// address of this host (a port-0 listener on it works), or the unspecified one.
func checkLocalAddress(ip string) error {
	if ip == "" {
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return fmt.Errorf("%s is not an address of this host: %w", ip, err)
	}
	return ln.Close()
}

// fetch fetches the cluster once from every source, as render does, and
// reports each source that did not answer.
func (r *checkReport) fetch(o *options) *state.Snapshot {
	empty := &state.Snapshot{Seq: 1}
	lbo := *o.lb
	lbo.dry = true // sources only: nothing is started
	d, err := newDaemon(o.cfg, &lbo, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		r.problem("sources: %v", err)
		return empty
	}
	if len(d.sources) == 0 {
		return empty
	}
	timeout := min(time.Duration(o.cfg.StateTimeoutSeconds)*time.Second, checkNetworkTimeout)
	snap, err := fetchOnce(d.sources, timeout)
	if err != nil {
		for _, e := range unjoin(err) {
			r.problem("unreachable: %v", e)
		}
	}
	if snap.Cluster != nil {
		r.ok("mesos: %d tasks of %d frameworks from %s", len(snap.Cluster.Tasks), len(snap.Cluster.Frameworks), snap.Cluster.Source)
	}
	if snap.Apps != nil {
		r.ok("marathon: %d apps from %s", len(snap.Apps.Apps), snap.Apps.Source)
	}
	return snap
}

// checkRender builds and renders the HAProxy config from snap and has
// HAProxy check it, with the certificate and map files a run would write
// put in a scratch directory instead.
func (r *checkReport) checkRender(o *options, ts *lbmodel.Templates, snap *state.Snapshot) {
	dir, err := os.MkdirTemp("", "discovery-check-")
	if err != nil {
		r.problem("render: %v", err)
		return
	}
	defer os.RemoveAll(dir)
	cfg := *o.lb.cfg
	cfg.HAProxyConfig = filepath.Join(dir, "haproxy.cfg")
	if !cfg.DontBindHTTPHTTPS {
		if err := ensureSSLCerts(&cfg, os.Getenv, slog.New(slog.DiscardHandler)); err != nil {
			r.problem("certificates: %v", err)
			return
		}
	}
	build := lbmodel.ModelBuilder(&cfg, func() *lbmodel.Templates { return ts }, nil)
	m, err := build(snap, &lbmodel.BuildOptions{})
	if err != nil {
		r.problem("render: %v", err)
		return
	}
	for _, e := range m.Errors {
		// An app author's mistake, not the operator's: said, not failed.
		r.note("app %s port %d left out: %s", e.AppID, e.Port, e.Reason)
	}
	text, err := lbmodel.Render(m)
	if err != nil {
		r.problem("render: %v", err)
		return
	}
	for _, f := range m.Maps {
		if err := os.WriteFile(f.Path, f.Content, 0o600); err != nil {
			r.problem("render: %v", err)
			return
		}
	}
	if err := os.WriteFile(cfg.HAProxyConfig, text, 0o600); err != nil {
		r.problem("render: %v", err)
		return
	}
	if o.lb.checkRun() != nil && !o.lb.dry {
		return // the missing binary is reported already
	}
	h := lbsync.NewHAProxy(lbsync.HAProxyOptions{Binary: o.lb.haproxyBinary, ConfigPath: cfg.HAProxyConfig})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.check(fmt.Sprintf("rendered config (%d frontends, %d backends) through haproxy -c", len(m.Frontends), len(m.Backends)),
		h.Check(ctx, cfg.HAProxyConfig))
}

// unjoin splits an errors.Join into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// checkReport prints one line per finding and counts the problems.
type checkReport struct {
	out      io.Writer
	problems int
}

func (r *checkReport) ok(format string, args ...any) {
	fmt.Fprintf(r.out, "ok       %s\n", fmt.Sprintf(format, args...))
}

func (r *checkReport) note(format string, args ...any) {
	fmt.Fprintf(r.out, "note     %s\n", fmt.Sprintf(format, args...))
}

func (r *checkReport) problem(format string, args ...any) {
	r.problems++
	// A multi-line error (a joined configuration error) keeps its lines
	// under one finding.
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\n         ")
	fmt.Fprintf(r.out, "PROBLEM  %s\n", msg)
}

func (r *checkReport) check(what string, err error) {
	if err != nil {
		r.problem("%s: %v", what, err)
		return
	}
	r.ok("%s", what)
}

func (r *checkReport) done() int {
	if r.problems > 0 {
		fmt.Fprintf(r.out, "%d problem(s) found\n", r.problems)
		return 1
	}
	fmt.Fprintln(r.out, "all is well")
	return 0
}
