// Command discovery gives the services of an Apache Mesos cluster names (DNS, as
// mesos-dns does) and load balancing (HAProxy, as marathon-lb does) from one view
// of the cluster.
//
// Usage:
//
//	discovery [-config config.json] [flags]   run the daemon
//	discovery -dev [flags]                    run it against a simulated cluster, to try it
//	discovery render [flags]                  print the HAProxy config once and exit
//	discovery check [-offline] [flags]        report every problem with a config, starting nothing
//	discovery version                         print the version
//
// The config file is mesos-dns's config.json, unchanged; every key is also a flag
// (-domain, -refreshSeconds, …) and flags override the file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintln(stdout, "discovery", versionString())
			return 0
		case "render":
			return runRender(args[1:], stdout, stderr)
		case "check":
			return runCheck(args[1:], stdout, stderr)
		case "run":
			return run(args[1:], stdout, stderr)
		case "completion":
			return runCompletion(args[1:], stdout, stderr)
		case "help":
			// help [render|check]: the flags of the command, on stdout, exit 0.
			if len(args) > 1 && args[1] == "render" {
				return runRender([]string{"-h"}, stdout, stdout)
			}
			if len(args) > 1 && args[1] == "check" {
				return runCheck([]string{"-h"}, stdout, stdout)
			}
			return run([]string{"-h"}, stdout, stdout)
		}
	}
	// marathon-lb's --longhelp needs no configuration: the reference alone.
	if slices.Contains(args, "--longhelp") || slices.Contains(args, "-longhelp") {
		if err := lbmodel.WriteReference(stdout); err != nil {
			fmt.Fprintln(stderr, "discovery:", err)
			return 1
		}
		return 0
	}
	opts, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "discovery:", err)
		return 2
	}
	if opts.version {
		fmt.Fprintln(stdout, "discovery", versionString())
		return 0
	}
	if opts.lb.dry {
		return runRender(args, stdout, stderr)
	}
	if !opts.dev.on { // -dev finds HAProxy itself, or runs without
		if err := opts.lb.checkRun(); err != nil {
			fmt.Fprintln(stderr, "discovery:", err)
			return 2
		}
	}
	log, err := newLogger(stderr, opts.cfg.LogFormat, opts.cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(stderr, "discovery:", err)
		return 2
	}
	for _, n := range opts.notes {
		log.Info(n, "component", "config")
	}
	for _, w := range opts.warnings {
		log.Warn(w, "component", "config")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// marathon-lb users send HUP (refetch and resync) and USR1 (reload HAProxy)
	// by habit: both keep the daemon running.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	opts.signals = sigs
	if opts.dev.on {
		err = runDev(ctx, opts, log, stderr)
	} else {
		err = runDaemon(ctx, opts, log)
	}
	if err != nil {
		log.Error("discovery stopped", "component", "daemon", "err", err)
		return 1
	}
	return 0
}

// options is everything the command line and the config file decided.
type options struct {
	cfg        Config
	lb         *lbOptions
	configPath string
	version    bool
	// warnings are logged at start and shown on the status page; notes are
	// logged once (see configMessages).
	warnings []string
	notes    []string
	dev      *devFlags
	// signals delivers SIGHUP and SIGUSR1 to the running daemon.
	signals <-chan os.Signal
}

// usageHead is what -h prints before the flags.
const usageHead = `usage: discovery [run] [flags]     run the daemon (DNS, the load balancer, or both)
       discovery render [flags]    print the HAProxy config for the cluster as it is now, and exit
       discovery check [-offline] [flags]
                                   report every problem with this config and these flags, starting
                                   nothing (exit 0 only when all is well)
       discovery version           print the version
       discovery help [render|check]
                                   this text, or render's or check's
       discovery completion bash|zsh
                                   a shell completion script (source it, or install it in
                                   /etc/bash_completion.d or a directory of $fpath)

Every mesos-dns config.json key is also a flag (the config key is named after
its meaning); flags override the file. marathon-lb's flags are accepted.
`

// defaultConfigFile is what -config reads when not given, as in mesos-dns:
// config.json in the working directory, if it is there.
const defaultConfigFile = "config.json"

// runFlags registers every flag of a run on a new flag set, recording into o:
// the one definition -h, docs/flags.md and the completion scripts come from.
func runFlags(o *options) (*flag.FlagSet, *configFlags, *glogFlags) {
	fs := flag.NewFlagSet("discovery", flag.ContinueOnError)
	fs.Usage = func() { printUsage(fs.Output(), fs) }
	fs.StringVar(&o.configPath, "config", defaultConfigFile, "mesos-dns config.json; every key is also a flag. When not given, ./config.json is read if it is there, as mesos-dns did")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	cf := newConfigFlags(fs)
	glog := newGlogFlags(fs)
	o.lb = newLBOptions(fs)
	o.dev = newDevFlags(fs)
	return fs, cf, glog
}

// parseArgs reads flags and the config file into options: defaults, then the
// file, then the flags. A bad flag, key or value is an error naming it.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	return parseArgsFor(args, stderr, true)
}

// parseArgsFor is parseArgs; defaultFile says whether config.json in the
// working directory is read when -config is not given (the daemon, as
// mesos-dns; not render, --dry or -dev, which must not pick up a file by
// accident).
func parseArgsFor(args []string, stderr io.Writer, defaultFile bool) (*options, error) {
	o := &options{}
	fs, cf, glog := runFlags(o)
	fs.SetOutput(stderr)
	if err := fs.Parse(normalizeArgs(args)); err != nil {
		return nil, err
	}
	o.dev.record(fs)
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.cfg = DefaultConfig()
	if o.version {
		return o, nil
	}
	if o.dev.on {
		devConfig(&o.cfg)
	}
	configGiven := false
	fs.Visit(func(f *flag.Flag) { configGiven = configGiven || f.Name == "config" })
	// missingDefault is the default config.json when it is not there: fine as
	// long as something else configures a source (checked below).
	missingDefault := ""
	if !configGiven {
		_, err := os.Stat(defaultConfigFile)
		switch {
		case !defaultFile || o.dev.on || o.lb.dry:
			o.configPath = ""
		case errors.Is(err, os.ErrNotExist):
			missingDefault, _ = filepath.Abs(defaultConfigFile)
			o.configPath = ""
		}
	}
	var msgs configMessages
	if o.configPath != "" {
		m, err := LoadConfigFile(o.configPath, &o.cfg)
		msgs = m
		if err != nil {
			return nil, withWarnings(err, msgs.Warnings)
		}
	}
	if err := cf.apply(&o.cfg); err != nil {
		return nil, err
	}
	glog.apply(&o.cfg, cf.given("logLevel"), &msgs)
	if err := o.cfg.applyMesosDNSZeros(&msgs); err != nil {
		return nil, err
	}
	// A relative stateFile in a config file is relative to that file, so a config
	// and its state can be moved (and run from anywhere) together.
	if o.configPath != "" && o.cfg.StateFile != "" && !filepath.IsAbs(o.cfg.StateFile) && !cf.given("stateFile") {
		o.cfg.StateFile = filepath.Join(filepath.Dir(o.configPath), o.cfg.StateFile)
	}
	o.warnings = append(msgs.Warnings, o.lb.ignored...)
	o.notes = msgs.Notes
	if o.lb.logLevel != "" && !cf.given("logLevel") {
		o.cfg.LogLevel = o.lb.logLevel
	}
	// A marathon-lb command line (Marathon, no Mesos source): the load balancer
	// alone, without a DNS server unless one is asked for.
	lbOnly := !o.cfg.hasMesosSource() && len(o.lb.marathon) > 0
	if lbOnly && o.configPath == "" && !cf.given("dnson") {
		o.cfg.DNSOn = false
	}
	if w := o.lb.fromEnv(os.Getenv); w != "" {
		o.warnings = append(o.warnings, w)
	}
	err := errors.Join(o.cfg.Validate(), o.lb.validate(), o.dev.validate())
	// -dev's masters are its simulated cluster's, known once it runs.
	if !o.cfg.hasMesosSource() && !lbOnly && !o.dev.on {
		if missingDefault != "" {
			err = errors.Join(err, fmt.Errorf(`no config file: %s (the default of -config) does not exist, and no flag gives masters, zk or stateFile: give -config FILE, or -masters, -zk or -stateFile (or --marathon for the load balancer alone)`, missingDefault))
		} else {
			err = errors.Join(err, errors.New(`key "masters": give masters, zk or stateFile (or --marathon for the load balancer alone)`))
		}
	}
	if err != nil {
		src := "flags"
		if o.configPath != "" {
			src = o.configPath
		}
		return nil, withWarnings(fmt.Errorf("invalid configuration (%s):\n%w", src, err), o.warnings)
	}
	if w := o.cfg.mesosTLSWarning(); w != "" {
		o.warnings = append(o.warnings, w)
	}
	o.cfg.Normalize()
	return o, nil
}

// withWarnings adds the configuration's warnings to the error that stops
// start-up: an unknown key ("mastres") is often why a setting is missing.
func withWarnings(err error, warnings []string) error {
	if len(warnings) == 0 {
		return err
	}
	return fmt.Errorf("%w\nwarnings:\n  %s", err, strings.Join(warnings, "\n  "))
}

// runDaemon builds every component (failing on a bad configuration before
// anything starts), then runs them until ctx is done.
func runDaemon(ctx context.Context, o *options, log *slog.Logger) error {
	d, err := newDaemon(o.cfg, o.lb, o.warnings, log)
	if err != nil {
		return err
	}
	d.signals = o.signals
	return d.run(ctx)
}
