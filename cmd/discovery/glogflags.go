package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// glogFlags accepts the flags of glog, the logging library mesos-dns was built
// with, because mesos-dns's unit files and Marathon app definitions carry them
// (-v=2 -logtostderr=true). -v maps onto our log level: mesos-dns logged its
// "verbose" lines from -v=1 on, so -v=1 and above mean -logLevel debug (unless
// -logLevel is given too). The others chose where glog wrote its files; discovery
// logs to stderr only, and says so once.
type glogFlags struct {
	v     int
	given []string // the flags given, in order, as "-name=value"
}

// glogValueFlags are glog's flags that take a value (besides -v).
var glogValueFlags = []string{"log_dir", "stderrthreshold", "vmodule", "log_backtrace_at"}

// glogBoolFlags are glog's flags that take none.
var glogBoolFlags = []string{"logtostderr", "alsologtostderr"}

func newGlogFlags(fs *flag.FlagSet) *glogFlags {
	g := &glogFlags{}
	fs.Var(glogLevel{g}, "v", "mesos-dns's glog verbosity: 1 or more means -logLevel debug (0: as -logLevel says)")
	for _, name := range append(slices.Clone(glogValueFlags), glogBoolFlags...) {
		record := func(v string) { g.given = append(g.given, "-"+name+"="+v) }
		fs.Var(&ignoredFlag{isBool: slices.Contains(glogBoolFlags, name), record: record}, name, "glog flag of mesos-dns, accepted: discovery logs to stderr")
	}
	return g
}

// apply maps -v onto cfg's log level and notes, in one line, the flags accepted
// without effect.
func (g *glogFlags) apply(cfg *Config, logLevelFlag bool, msgs *configMessages) {
	if g.v >= 1 && !logLevelFlag {
		cfg.LogLevel = "debug"
	}
	var ignored []string
	for _, f := range g.given {
		if !strings.HasPrefix(f, "-v=") {
			ignored = append(ignored, f)
		}
	}
	if len(ignored) > 0 {
		msgs.note("glog flags %s accepted: discovery logs to stderr (log/slog), nowhere else", strings.Join(ignored, " "))
	}
}

type glogLevel struct{ g *glogFlags }

func (l glogLevel) String() string { return "" }
func (l glogLevel) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("want a verbosity level (0, 1, 2, …), got %q", s)
	}
	l.g.v = n
	l.g.given = append(l.g.given, "-v="+s)
	return nil
}
