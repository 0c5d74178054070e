package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/discovery-mesos/discovery/internal/sim"
)

// discovery -dev runs the whole daemon against a simulated cluster in the same
// process (internal/sim: a Mesos master with the v1 event stream, a Marathon,
// real HTTP backends on 127.1.x.y), so that one command shows DNS, the HTTP
// API, the status page and — when HAProxy is installed — load balancing, with
// tasks changing under them. Everything listens on loopback. -dev only
// supplies defaults: every flag given beside it still applies.
//
// So the product binary does ship internal/sim, and with it internal/fakemaster
// and internal/fakemarathon: internal/ means private to this module, not
// test-only. Some of its packages are part of the binary: the simulator and the
// fakes it runs, for -dev, and internal/backoff, the one retry delay of the
// sources and the load balancer. The others (internal/zktest,
// internal/haproxytest, internal/freeport) serve tests, harnesses and the
// programs under bench/ only. Nothing of the simulator runs unless -dev is
// given.

// The simulated cluster of -dev: a few apps, each with a few tasks, all
// labelled for the load balancer.
const (
	devApps            = 6
	devTasksPerApp     = 3
	devServicePortBase = 10000
	devSeed            = 1
)

// devInstallHint is what to do when HAProxy is missing.
const devInstallHint = "apt-get install haproxy"

// devFlags are -dev and its companions.
type devFlags struct {
	on    bool
	dir   string
	churn string
	// given names every flag on the command line: -dev's defaults never
	// replace one.
	given map[string]bool
}

func newDevFlags(fs *flag.FlagSet) *devFlags {
	d := &devFlags{given: map[string]bool{}}
	fs.BoolVar(&d.on, "dev", false, "try it: follow a simulated cluster run in-process, on loopback (DNS 127.0.0.1:8053, HTTP 127.0.0.1:8123, HAProxy when installed)")
	fs.StringVar(&d.dir, "dev-dir", "", "with -dev: directory for HAProxy's config and sockets (default: a temporary one, removed at exit)")
	fs.StringVar(&d.churn, "dev-churn", "0.5/s", `with -dev: random changes to the simulated cluster per second ("0.5/s", "20/m", "0" for none)`)
	return d
}

// record notes the flags given on the command line.
func (d *devFlags) record(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) { d.given[f.Name] = true })
}

func (d *devFlags) validate() error {
	if !d.on {
		for _, name := range []string{"dev-dir", "dev-churn"} {
			if d.given[name] {
				return fmt.Errorf("flag -%s: only with -dev", name)
			}
		}
		return nil
	}
	if _, err := sim.ParseRate(d.churn); err != nil {
		return fmt.Errorf("flag -dev-churn: %w", err)
	}
	return nil
}

// devConfig sets -dev's defaults on a config, before the config file and the
// flags are applied over it: the sample cluster's addresses, and no
// forwarding, so that nothing leaves the machine.
func devConfig(cfg *Config) {
	cfg.Listener, cfg.Port = "127.0.0.1", 8053
	cfg.HTTPListener, cfg.HTTPPort = "127.0.0.1", 8123
	cfg.ExternalOn = false
}

// devEnv is what -dev takes from its surroundings; tests replace it.
type devEnv struct {
	// findHAProxy returns the HAProxy binary; lookHAProxy when nil.
	findHAProxy func() (string, error)
	// portBase is the first service port tried; devServicePortBase when 0.
	portBase int
	// out receives the "try this" block; discarded when nil.
	out io.Writer
}

// lookHAProxy finds haproxy on PATH or, since a user's PATH often lacks the
// sbin directories, where Debian and a source build put it.
func lookHAProxy() (string, error) {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/haproxy", "/usr/local/sbin/haproxy"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("haproxy is not on PATH, nor in /usr/sbin or /usr/local/sbin")
}

// devRun is a running -dev: the simulated cluster and the daemon following it.
type devRun struct {
	d   *daemon
	sim *sim.Cluster
	// dir holds HAProxy's config and sockets.
	dir string
	// haproxy is the HAProxy binary driven; "" when the load balancer is off.
	haproxy string
	// done receives the daemon's result once everything is stopped and
	// cleaned up.
	done chan error
}

// runDev is discovery -dev: it runs until ctx is done.
func runDev(ctx context.Context, o *options, log *slog.Logger, out io.Writer) error {
	r, err := startDev(ctx, o, log, devEnv{out: out})
	if err != nil {
		return err
	}
	return <-r.done
}

// startDev starts the simulated cluster and the daemon following it, and
// returns once the daemon's servers listen. The daemon and the cluster stop
// when ctx is done; r.done then receives the daemon's result.
func startDev(ctx context.Context, o *options, log *slog.Logger, env devEnv) (r *devRun, err error) {
	if env.out == nil {
		env.out = io.Discard
	}
	rate, err := sim.ParseRate(o.dev.churn)
	if err != nil {
		return nil, fmt.Errorf("flag -dev-churn: %w", err)
	}
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()

	r = &devRun{dir: o.dev.dir, done: make(chan error, 1)}
	if r.dir == "" {
		// Short and under /tmp: unix socket paths are limited to ~100 bytes.
		if r.dir, err = os.MkdirTemp("", "discovery-dev-"); err != nil {
			return nil, fmt.Errorf("-dev: %w", err)
		}
		dir := r.dir
		cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	} else if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("flag -dev-dir: %w", err)
	}

	r.haproxy, err = devLoadBalancer(o, r.dir, env)
	if err != nil {
		return nil, err
	}
	if r.haproxy == "" {
		log.Warn("haproxy not found: the load balancer is off, DNS and HTTP run without it; to see load balancing too, install HAProxy ("+devInstallHint+") and run again",
			"component", "dev")
	}

	base, err := devPortBase(cmp.Or(env.portBase, devServicePortBase), devApps)
	if err != nil {
		return nil, err
	}
	c, err := sim.New(sim.Config{
		Apps: devApps, TasksPerApp: devTasksPerApp, Backends: true, Seed: devSeed,
		ServicePortBase: base,
		// The service ports on loopback only, as everything else.
		AppLabels: map[string]string{"HAPROXY_0_BIND_ADDR": "127.0.0.1"},
		Log:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("-dev: starting the simulated cluster: %w", err)
	}
	r.sim = c
	cleanups = append(cleanups, c.Close)

	o.cfg.Masters = []string{c.Leader().Addr()}
	o.cfg.Zk, o.cfg.StateFile = "", ""
	if r.haproxy != "" && len(o.lb.marathon) == 0 {
		o.lb.marathon = []string{c.MarathonURL()}
	}
	r.d, err = newDaemon(o.cfg, o.lb, o.warnings, log)
	if err != nil {
		return nil, err
	}
	r.d.signals = o.signals

	ctx, cancel := context.WithCancel(ctx)
	cleanups = append(cleanups, cancel)
	ran := make(chan error, 1)
	go func() { ran <- r.d.run(ctx) }()
	select {
	case <-r.d.started:
	case err := <-ran:
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("%w (move the servers with -port and -httpport)", err)
		}
		return nil, err
	}

	var churn sync.WaitGroup
	if rate > 0 {
		churn.Add(1)
		go func() {
			defer churn.Done()
			if err := c.Churn(ctx, rate, devSeed); err != nil && !errors.Is(err, sim.ErrClosed) {
				log.Warn("simulated churn stopped", "component", "dev", "err", err)
			}
		}()
	}
	go func() {
		err := <-ran
		cancel()
		churn.Wait()
		cleanup()
		r.done <- err
	}()
	r.tryThis(env.out, o, rate)
	return r, nil
}

// devLoadBalancer turns the load balancer on when HAProxy is installed, with
// its files in dir and every frontend on 127.0.0.1 (flags given win). It
// returns the HAProxy binary, or "" when there is none and the load balancer
// stays off. Load balancer flags given without an HAProxy are an error.
func devLoadBalancer(o *options, dir string, env devEnv) (string, error) {
	given := o.dev.given
	lb := o.lb
	bin := lb.haproxyBinary
	if given["lb-haproxy-binary"] {
		if _, err := exec.LookPath(bin); err != nil {
			return "", fmt.Errorf("flag -lb-haproxy-binary: %w; install HAProxy with %s", err, devInstallHint)
		}
	} else {
		find := env.findHAProxy
		if find == nil {
			find = lookHAProxy
		}
		var err error
		if bin, err = find(); err != nil {
			if lb.enabled() {
				return "", fmt.Errorf("-dev: load balancer flags given, but %v; install it with %s", err, devInstallHint)
			}
			return "", nil
		}
	}
	lb.haproxyBinary = bin
	set := func(name string, f func()) {
		if !given[name] {
			f()
		}
	}
	set("group", func() { lb.cfg.Groups = []string{"external"} })
	set("haproxy-config", func() { lb.cfg.HAProxyConfig = filepath.Join(dir, "haproxy.cfg") })
	set("lb-master-socket", func() { lb.masterSocket = filepath.Join(dir, "master.sock") })
	set("lb-stats-socket", func() { lb.cfg.StatsSocket = filepath.Join(dir, "stats.sock") })
	set("lb-templates-dir", func() { lb.cfg.TemplatesDir = filepath.Join(dir, "templates") })

	ports := &portPicker{taken: map[int]bool{}}
	set("lb-stats-bind", func() { lb.cfg.StatsBindAddr, lb.cfg.StatsPort = "127.0.0.1", ports.pick(9090) })
	set("lb-appid-bind", func() { lb.cfg.AppIDBindAddr, lb.cfg.AppIDPort = "127.0.0.1", ports.pick(9091) })
	if !lb.cfg.DontBindHTTPHTTPS {
		// 80 and 443 need root (or CAP_NET_BIND_SERVICE); 8080 and 8443 do not.
		set("lb-http-bind", func() { lb.cfg.HTTPBindAddr, lb.cfg.HTTPPort = "127.0.0.1", ports.pick(80, 8080) })
		set("lb-https-bind", func() { lb.cfg.HTTPSBindAddr, lb.cfg.HTTPSPort = "127.0.0.1", ports.pick(443, 8443) })
		if !given["ssl-certs"] {
			cert := filepath.Join(dir, "cert.pem")
			pemText, err := selfSignedPEM()
			if err != nil {
				return "", fmt.Errorf("-dev: %w", err)
			}
			if err := writePrivate(cert, pemText); err != nil {
				return "", fmt.Errorf("-dev: writing a self-signed certificate: %w", err)
			}
			lb.cfg.SSLCerts = []string{cert}
		}
	}
	if err := os.MkdirAll(lb.cfg.TemplatesDir, 0o755); err != nil {
		return "", fmt.Errorf("-dev: %w", err)
	}
	if err := lb.validate(); err != nil {
		return "", fmt.Errorf("-dev: load balancer: %w", err)
	}
	return bin, nil
}

// portPicker picks loopback ports for HAProxy's fixed frontends: the first of
// the preferred ports free now, else one the kernel chooses; never the same
// one twice.
type portPicker struct{ taken map[int]bool }

func (p *portPicker) pick(preferred ...int) int {
	for _, port := range preferred {
		if !p.taken[port] && loopbackFree(port) {
			p.taken[port] = true
			return port
		}
	}
	for range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			break
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !p.taken[port] {
			p.taken[port] = true
			return port
		}
	}
	return preferred[len(preferred)-1] // HAProxy will say why it cannot bind
}

// loopbackFree reports whether a TCP port can be listened on at 127.0.0.1
// now (by this process, so with its privileges).
func loopbackFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// devPortBase returns the first of start, start+100, … from which n service
// ports in a row are free on loopback.
func devPortBase(start, n int) (int, error) {
	for base := start; base+n <= 65535 && base < start+5000; base += 100 {
		free := true
		for p := base; p < base+n && free; p++ {
			free = loopbackFree(p)
		}
		if free {
			return base, nil
		}
	}
	return 0, fmt.Errorf("-dev: no %d free service ports in a row from %d", n, start)
}

// tryThis writes what to try against the running -dev.
func (r *devRun) tryThis(w io.Writer, o *options, rate float64) {
	tr := r.sim.Truth()
	if len(tr.Apps) == 0 {
		return
	}
	a := tr.Apps[0]
	domain := strings.Trim(o.cfg.Domain, ".")
	name := strings.TrimSuffix(tr.TaskDNSName(a, domain), ".")
	srv := "_" + a.TaskName + "._tcp." + tr.Framework + "." + domain

	var b strings.Builder
	churn := "no churn"
	if rate > 0 {
		churn = "a random change every " + (time.Duration(float64(time.Second) / rate)).Round(time.Millisecond).String()
	}
	fmt.Fprintf(&b, "\ndiscovery -dev: a simulated cluster on loopback — %d apps × %d tasks, %s; its master is %s.\n",
		len(tr.Apps), devTasksPerApp, churn, tr.Leader)
	fmt.Fprintf(&b, "Try:\n")
	if r.d.dns != nil {
		host, port, _ := net.SplitHostPort(r.d.dns.Addr())
		fmt.Fprintf(&b, "  dig @%s -p %s %s\n", host, port, name)
		fmt.Fprintf(&b, "  dig @%s -p %s %s SRV\n", host, port, srv)
	}
	if r.d.httpLn != nil {
		base := "http://" + r.d.httpLn.Addr().String()
		fmt.Fprintf(&b, "  curl -s %s/v1/hosts/%s\n", base, name)
		fmt.Fprintf(&b, "  %s/   (status page; /metrics, /ready)\n", base)
	}
	if r.haproxy == "" {
		fmt.Fprintf(&b, "  HAProxy is not installed, so the load balancer is off. For it: %s, then run again.\n", devInstallHint)
	} else {
		cfg := o.lb.cfg
		fmt.Fprintf(&b, "  curl -s http://127.0.0.1:%d/   (through HAProxy to a task of %s; service ports %d–%d)\n",
			a.ServicePort, a.ID, tr.Apps[0].ServicePort, tr.Apps[len(tr.Apps)-1].ServicePort)
		if !cfg.DontBindHTTPHTTPS {
			// curl resolves *.localhost to loopback by itself.
			fmt.Fprintf(&b, "  curl -s %s   (by virtual host; HTTPS: curl -sk %s)\n",
				vhostURL("http", a.VHost, cfg.HTTPPort, 80), vhostURL("https", a.VHost, cfg.HTTPSPort, 443))
		}
		fmt.Fprintf(&b, "  http://%s/haproxy?stats   (HAProxy's statistics; config in %s)\n",
			net.JoinHostPort(cfg.StatsBindAddr, strconv.Itoa(cfg.StatsPort)), cfg.HAProxyConfig)
	}
	fmt.Fprintf(&b, "Stop with Ctrl-C.\n\n")
	_, _ = io.WriteString(w, b.String())
}

// vhostURL is the URL of a virtual host on a port, without the scheme's
// default port.
func vhostURL(scheme, host string, port, schemePort int) string {
	if port != schemePort {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return scheme + "://" + host + "/"
}
