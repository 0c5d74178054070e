// Command lbchurn measures what a moving cluster costs the traffic going
// through the load balancer: it runs a real HAProxy driven by lbsync, real HTTP
// backends on 127.0.0.x, and wrk sending requests through HAProxy, while it
// makes scale events (a task started or stopped: Runtime API) and structural
// changes (an app added or removed: a reload). It reports wrk's failed requests
// (target 0), the reloads, and how long server changes took to reach HAProxy.
//
// Everything listens on and connects to loopback addresses only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/discovery-mesos/discovery/internal/freeport"
	"github.com/discovery-mesos/discovery/lbsync"
	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/templates"
)

func main() {
	var (
		scale       = flag.Int("scale", 1000, "scale events (a task of the app under load started or stopped)")
		structural  = flag.Int("structural", 50, "structural changes (an app added or removed: a reload)")
		pool        = flag.Int("backends", 8, "HTTP backends (tasks) on 127.0.0.2 and up")
		interval    = flag.Duration("interval", 10*time.Millisecond, "pause between events")
		threads     = flag.Int("threads", 2, "wrk threads")
		conns       = flag.Int("connections", 32, "wrk connections")
		haproxyPath = flag.String("haproxy", "haproxy", "haproxy binary")
		wrkPath     = flag.String("wrk", "wrk", "wrk binary")
		verbose     = flag.Bool("v", false, "log the syncer's info messages")
	)
	flag.Parse()
	if err := run(*scale, *structural, *pool, *interval, *threads, *conns, *haproxyPath, *wrkPath, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "lbchurn:", err)
		os.Exit(1)
	}
}

func run(nscale, nstruct, npool int, interval time.Duration, threads, conns int, haproxyPath, wrkPath string, verbose bool) error {
	dir, err := os.MkdirTemp("", "lbchurn")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// HAProxy reports every server coming and going as a warning: errors only.
	hlog := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	backends := make([]*backend, npool)
	for i := range backends {
		b, err := startBackend(fmt.Sprintf("127.0.0.%d", i+2))
		if err != nil {
			return err
		}
		defer b.close()
		backends[i] = b
	}

	cfg := lbmodel.DefaultConfig()
	cfg.Groups = []string{"external"}
	cfg.HAProxyConfig = filepath.Join(dir, "haproxy.cfg")
	cfg.StatsSocket = filepath.Join(dir, "stats.sock")
	cfg.TemplatesDir = ""
	cfg.DontBindHTTPHTTPS = true
	cfg.HardStopAfter = "10s"
	if cfg.StatsPort, err = freePort(); err != nil {
		return err
	}
	if cfg.AppIDPort, err = freePort(); err != nil {
		return err
	}
	cfg.StatsBindAddr, cfg.AppIDBindAddr = "127.0.0.1", "127.0.0.1"
	cfg.GlobalDefaultOptions = append(cfg.GlobalDefaultOptions, "idle-close-on-response")
	ts, err := lbmodel.LoadTemplates(cfg, "", headOverride(cfg))
	if err != nil {
		return err
	}

	h := lbsync.NewHAProxy(lbsync.HAProxyOptions{
		Binary:       haproxyPath,
		ConfigPath:   cfg.HAProxyConfig,
		MasterSocket: filepath.Join(dir, "master.sock"),
		Logger:       hlog.With("component", "haproxy"),
	})
	var mu sync.Mutex
	appsBySeq := map[uint64][]state.App{}
	// Incremental builds, as the daemon's lbmodel.ModelBuilder makes them.
	cache := lbmodel.NewModelCache()
	s, err := lbsync.NewSyncer(lbsync.SyncerOptions{
		HAProxy:     h,
		StatsSocket: cfg.StatsSocket,
		Build: func(snap *state.Snapshot, opts *lbmodel.BuildOptions) (*lbmodel.Model, error) {
			mu.Lock()
			apps := appsBySeq[snap.Seq]
			mu.Unlock()
			return cache.Build(apps, nil, cfg, ts, opts)
		},
		DrainTimeout: 5 * time.Second,
		Logger:       log.With("component", "lbsync"),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := make(chan *state.Snapshot, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = h.Run(ctx) }()
	go func() { defer wg.Done(); _ = s.Run(ctx, snaps) }()
	defer wg.Wait()
	defer cancel()

	var seq uint64
	apply := func(apps []state.App) (lbsync.Status, error) {
		seq++
		mu.Lock()
		appsBySeq[seq] = apps
		delete(appsBySeq, seq-2)
		mu.Unlock()
		snaps <- &state.Snapshot{Seq: seq}
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		if err := s.WaitApplied(wctx, seq); err != nil {
			return lbsync.Status{}, err
		}
		return s.Status(), nil
	}

	webPort, err := freePort()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 11))
	current := backends[:npool/2]
	web := func() state.App { return httpApp("/web", webPort, current) }
	if _, err := apply([]state.App{web()}); err != nil {
		return fmt.Errorf("first config: %w", err)
	}
	target := "http://127.0.0.1:" + strconv.Itoa(webPort) + "/"
	if err := waitServing(target); err != nil {
		return err
	}

	wrk := exec.Command(wrkPath, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", "3600s",
		"--timeout", "5s", "--latency", target)
	var wrkOut strings.Builder
	wrk.Stdout, wrk.Stderr = &wrkOut, &wrkOut
	if err := wrk.Start(); err != nil {
		return fmt.Errorf("starting wrk: %w", err)
	}
	wrkDone := make(chan error, 1)
	go func() { wrkDone <- wrk.Wait() }()

	var extras []state.App
	var runtimeLat []time.Duration
	var reloadLat []time.Duration
	via := map[string]int{}
	start := time.Now()
	total := nscale + nstruct
	for i := range total {
		structuralNow := nstruct > 0 && i%(total/nstruct) == total/nstruct-1 && len(reloadLat) < nstruct
		if structuralNow {
			// Add an app, or remove the oldest once there are a few.
			if len(extras) < 3 || rng.IntN(2) == 0 {
				p, err := freePort()
				if err != nil {
					return err
				}
				extras = append(extras, httpApp("/extra"+strconv.Itoa(i), p, backends[:1]))
			} else {
				extras = extras[1:]
			}
		} else {
			// Start or stop one task of /web, keeping at least one.
			b := backends[rng.IntN(npool)]
			if i := slices.Index(current, b); i >= 0 {
				if len(current) > 1 {
					current = slices.Delete(slices.Clone(current), i, i+1)
				} else {
					current = []*backend{backends[(slices.Index(backends, b)+1)%npool]}
				}
			} else {
				current = append(slices.Clone(current), b)
			}
		}
		apps := append([]state.App{web()}, extras...)
		st, err := apply(apps)
		if err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		via[st.Via]++
		switch st.Via {
		case "runtime":
			runtimeLat = append(runtimeLat, st.Took)
		case "reload":
			reloadLat = append(reloadLat, st.Took)
		}
		time.Sleep(interval)
	}
	churn := time.Since(start)

	_ = wrk.Process.Signal(syscall.SIGINT)
	select {
	case <-wrkDone:
	case <-time.After(10 * time.Second):
		_ = wrk.Process.Kill()
		<-wrkDone
	}
	failed, requests, summary := parseWrk(wrkOut.String())

	served := 0
	for _, b := range backends {
		if b.hits.Load() > 0 {
			served++
		}
	}
	st := s.Status()
	fmt.Printf("events: %d scale + %d structural in %s (via runtime %d, reload %d, none %d)\n",
		nscale, nstruct, churn.Round(time.Millisecond), via["runtime"], via["reload"], via["none"])
	fmt.Printf("server change → HAProxy: p50 %s  p99 %s  max %s (%d runtime changes)\n",
		pct(runtimeLat, 0.5), pct(runtimeLat, 0.99), pct(runtimeLat, 1), len(runtimeLat))
	fmt.Printf("structural change → HAProxy (check, write, reload): p50 %s  max %s (%d reloads)\n",
		pct(reloadLat, 0.5), pct(reloadLat, 1), len(reloadLat))
	fmt.Printf("backends that served: %d of %d; haproxy restarts: %d\n", served, npool, st.Restarts)
	fmt.Printf("wrk: %d requests, %d failed\n%s\n", requests, failed, summary)
	if failed > 0 {
		return fmt.Errorf("%d failed requests", failed)
	}
	if requests == 0 {
		return errors.New("wrk sent no request")
	}
	return nil
}

// httpApp is a Marathon app in HTTP mode on 127.0.0.1:port with a task per
// backend.
func httpApp(id string, port int, tasks []*backend) state.App {
	a := state.App{
		ID:      id,
		Labels:  map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "http", "HAPROXY_0_BIND_ADDR": "127.0.0.1"},
		Network: state.NetworkHost, Instances: len(tasks),
		Ports: []state.AppPort{{ServicePort: port, Protocol: "tcp"}},
	}
	for _, b := range tasks {
		a.Tasks = append(a.Tasks, state.AppTask{
			ID:   strings.TrimPrefix(id, "/") + "." + strings.ReplaceAll(b.addr, ":", "_"),
			Host: b.host, Ports: []int{b.port}, State: state.TaskRunning,
		})
	}
	return a
}

// headOverride returns a getenv that replaces our HAPROXY_HEAD when this
// machine's file descriptor limit cannot hold its maxconn 50000 (HAProxy
// refuses to start then): same head, a maxconn that fits. A user's head is
// taken verbatim, so the placeholders are filled in here.
func headOverride(cfg *lbmodel.Config) func(string) string {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Max >= 2*50000+1000 {
		return nil
	}
	maxconn := (int(lim.Max) - 1000) / 2
	head, _ := templates.Default("HAPROXY_HEAD")
	opts := ""
	for _, o := range cfg.GlobalDefaultOptions {
		opts += "  option            " + o + "\n"
	}
	head = strings.NewReplacer(
		"maxconn 50000", "maxconn "+strconv.Itoa(maxconn),
		"{hardStopAfter}", cfg.HardStopAfter,
		"{statsSocket}", cfg.StatsSocket,
		"{globalDefaultOptions}", opts,
		"{statsBindAddr}", cfg.StatsBindAddr,
		"{statsPort}", strconv.Itoa(cfg.StatsPort),
		"{discoveryHTTPAddr}", cfg.EndpointsAddr,
		"{serverStateFile}", cfg.ServerStateFile(),
	).Replace(head)
	return func(k string) string {
		if k == "HAPROXY_HEAD" {
			return head
		}
		return ""
	}
}

type backend struct {
	host string
	port int
	addr string
	srv  *http.Server
	hits atomic.Int64
}

func startBackend(ip string) (*backend, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, fmt.Errorf("backend on %s: %w", ip, err)
	}
	b := &backend{host: ip, port: l.Addr().(*net.TCPAddr).Port}
	b.addr = l.Addr().String()
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.hits.Add(1)
			_, _ = io.WriteString(w, b.addr)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

func (b *backend) close() { _ = b.srv.Close() }

func freePort() (int, error) { return freeport.Take("127.0.0.1") }

func waitServing(url string) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	reqRe    = regexp.MustCompile(`(\d+) requests in`)
	sockRe   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	non2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk returns the failed requests (socket errors and non-2xx/3xx
// answers), the requests, and wrk's summary lines.
func parseWrk(out string) (failed, requests int, summary string) {
	if m := reqRe.FindStringSubmatch(out); m != nil {
		requests, _ = strconv.Atoi(m[1])
	}
	if m := sockRe.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			failed += n
		}
	}
	if m := non2xxRe.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		failed += n
	}
	return failed, requests, strings.TrimSpace(out)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))].Round(10 * time.Microsecond)
}
