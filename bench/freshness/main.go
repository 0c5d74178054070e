// Command freshness measures how fresh discovery keeps DNS and HAProxy: the
// time from a task change at the (simulated) master or Marathon to DNS
// answering with or without the task, and to HAProxy routing to it, on a
// simulated cluster of 10,000 tasks (internal/sim); and what following the
// cluster costs the master, in requests and bytes per minute, streaming
// versus polling.
//
// It runs the real discovery binary (-discovery, built by run.sh) with a real
// HAProxy against the simulator in this process, then makes -changes changes
// one after another to apps whose tasks are real HTTP backends: a task
// started (DNS must list it, HAProxy must route a request to it) or killed
// (DNS must drop it). DNS is asked over UDP every millisecond; HAProxy gets a
// new connection every millisecond. Everything is on loopback.
//
// Modes (-mode):
//
//	stream    DNS and LB from the Mesos v1 operator API event stream
//	marathon  DNS from the Mesos stream, LB from Marathon's /v2/events
//	poll      DNS and LB from /master/state every -refresh seconds, LB
//	          from Marathon polling when -lb-marathon is set
//
// -pin D:B runs discovery and HAProxy on CPUs D and this process (the
// simulator and the prober) on CPUs B (taskset), so that the bench does not
// take the daemon's CPU; the figures are still what a probe sees.
//
// See run.sh and README.md for the figures and the commands behind them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/benchenv"
	"github.com/discovery-mesos/discovery/internal/freeport"
	"github.com/discovery-mesos/discovery/internal/sim"
)

type options struct {
	discovery   string
	haproxy     string
	mode        string
	apps, tasks int
	backendApps int
	changes     int
	refresh     int
	timeout     time.Duration
	portBase    int
	keep        bool
	trace       string
	lbProbe     bool
	pin         string
}

func main() {
	var o options
	flag.StringVar(&o.discovery, "discovery", "", "discovery binary (required)")
	flag.StringVar(&o.haproxy, "haproxy", "/usr/sbin/haproxy", "HAProxy binary")
	flag.StringVar(&o.mode, "mode", "stream", "stream, marathon or poll")
	flag.IntVar(&o.apps, "apps", 1000, "apps in the cluster")
	flag.IntVar(&o.tasks, "tasks", 10, "tasks per app")
	flag.IntVar(&o.backendApps, "backend-apps", 20, "apps whose tasks are real HTTP backends (the changed ones)")
	flag.IntVar(&o.changes, "changes", 200, "changes to measure")
	flag.IntVar(&o.refresh, "refresh", 60, "refreshSeconds in poll mode")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "longest wait for one change to be seen")
	flag.IntVar(&o.portBase, "port-base", 0, "first service port (HAProxy binds one per app); 0: a free range, kept apart from the daemon's own ports")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (discovery's log, HAProxy's config)")
	flag.BoolVar(&o.lbProbe, "lb-probe", true, "probe HAProxy after each start (false: DNS only, to see what probing HAProxy every millisecond costs the DNS figures)")
	flag.StringVar(&o.trace, "trace", "", "write each change's times to this CSV file (kind, change began, DNS answered with it, that question sent; Unix ns)")
	flag.StringVar(&o.pin, "pin", "", "CPUS:CPUS — run discovery (and HAProxy, its child) on the first CPU list and this process (the simulator and the prober) on the second, e.g. 0:1 (taskset lists)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "freshness:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.discovery == "" {
		return errors.New("-discovery is required")
	}
	switch o.mode {
	case "stream", "marathon", "poll":
	default:
		return fmt.Errorf("-mode %q: want stream, marathon or poll", o.mode)
	}
	if o.portBase == 0 {
		// The daemon's own ports come from freeport too: reserved first,
		// the service ports are never among them (one would keep HAProxy
		// from starting).
		base, err := freeport.TakeRange(o.apps)
		if err != nil {
			return err
		}
		o.portBase = base
	}
	start := time.Now()
	c, err := sim.New(sim.Config{
		Apps: o.apps, TasksPerApp: o.tasks, Backends: true, BackendApps: o.backendApps,
		ServicePortBase: o.portBase, Seed: 1,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	master := c.Leader()
	fmt.Printf("cluster: %d apps × %d tasks = %d tasks, %d agents, state document %d bytes (built in %v)\n",
		o.apps, o.tasks, len(c.Truth().Tasks()), len(c.Truth().Agents), len(master.State()), time.Since(start).Round(time.Millisecond))

	dir, err := os.MkdirTemp("", "fresh")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if err := os.Mkdir(filepath.Join(dir, "templates"), 0o755); err != nil {
		return err
	}
	dnsPort, httpPort := freePort(), freePort()
	args := []string{
		"-masters", master.Addr(), "-domain", "mesos",
		"-listener", "127.0.0.1", "-port", strconv.Itoa(dnsPort),
		"-httpListener", "127.0.0.1", "-httpport", strconv.Itoa(httpPort), "-externalon=false",
		"-refreshSeconds", strconv.Itoa(o.refresh),
		"--group", "external", "--dont-bind-http-https",
		"--haproxy-config", filepath.Join(dir, "haproxy.cfg"),
		"-lb-haproxy-binary", o.haproxy,
		"-lb-master-socket", filepath.Join(dir, "master.sock"),
		"-lb-stats-socket", filepath.Join(dir, "stats.sock"),
		"-lb-stats-bind", "127.0.0.1:" + strconv.Itoa(freePort()),
		"-lb-appid-bind", "127.0.0.1:" + strconv.Itoa(freePort()),
		"-lb-templates-dir", filepath.Join(dir, "templates"),
		"-lb-drain-seconds", "1",
	}
	switch o.mode {
	case "stream":
		args = append(args, "-mesosFollow", "stream")
	case "marathon":
		args = append(args, "-mesosFollow", "stream", "--marathon", c.MarathonURL(), "-marathon-follow", "events")
	case "poll":
		args = append(args, "-mesosFollow", "poll")
	}
	logf, err := os.Create(filepath.Join(dir, "discovery.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(o.discovery, args...)
	if o.pin != "" {
		daemonCPUs, benchCPUs, ok := strings.Cut(o.pin, ":")
		if !ok || daemonCPUs == "" || benchCPUs == "" {
			return fmt.Errorf("-pin %q: want DAEMON_CPUS:BENCH_CPUS, e.g. 0:1", o.pin)
		}
		if err := pinSelf(benchCPUs); err != nil {
			return err
		}
		// taskset execs discovery: the pid is discovery's.
		cmd = exec.Command("taskset", append([]string{"-c", daemonCPUs, o.discovery}, args...)...)
		fmt.Printf("pinned: discovery and HAProxy on CPUs %s, the simulator and the prober on CPUs %s\n", daemonCPUs, benchCPUs)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // HAProxy is its child: stop both
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting discovery: %w", err)
	}
	defer stop(cmd)
	// Killed by a signal (timeout, Ctrl-C), the deferred stop would not run
	// and discovery, in a process group of its own, would go on holding its
	// ports and restarting HAProxy on the service ports of the next run.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		s := <-sigs
		stop(cmd)
		fmt.Fprintf(os.Stderr, "freshness: %v: discovery stopped\n", s)
		os.Exit(1)
	}()

	p := &prober{dnsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort)), portBase: o.portBase,
		statsSock: filepath.Join(dir, "stats.sock")}
	tr := c.Truth()
	first := tr.Apps[0]
	ready := time.Now()
	deadline := time.Now().Add(5 * time.Minute)
	for !p.dnsHas(first, first.Tasks[0].Addr()) || !p.routesTo(first, first.Tasks[0].ID, 50) {
		if time.Now().After(deadline) {
			return fmt.Errorf("discovery not serving %s after 5 minutes; see %s", first.ID, logf.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("discovery serving DNS and HAProxy %v after start (mode %s)\n", time.Since(ready).Round(time.Millisecond), o.mode)

	// Cost: from here on, what the daemon asks of the master and Marathon.
	reqs0, bytes0 := master.Requests(), master.BytesServed()
	mar0 := c.Marathon().Requests("/v2/apps") + marathonAppRequests(c)
	cpu0, load0 := cpuUse(cmd.Process.Pid), benchenv.LoadAvg()
	t0 := time.Now()

	var dnsStart, dnsKill, lbStart, lbKill []time.Duration
	var trace strings.Builder
	for i := range o.changes {
		// A start then a kill on each app in turn: apps keep their size however
		// many changes are asked for.
		app := c.Truth().Apps[(i/2)%o.backendApps]
		if i%2 == 0 {
			ch, err := c.StartTask(app.ID)
			if err != nil {
				return err
			}
			at := ch.At
			if o.mode == "marathon" {
				at = ch.MarathonAt // the LB follows Marathon
			}
			var wg sync.WaitGroup
			var dnsSeen, dnsSent, lbSeen time.Time
			var dnsErr, lbErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				dnsSeen, dnsErr = p.until(o.timeout, func() bool { return p.dnsHas(app, ch.Addr) })
				dnsSent = p.lastSent()
			}()
			go func() {
				defer wg.Done()
				if o.lbProbe {
					lbSeen, lbErr = p.until(o.timeout, func() bool { return p.routesTo(app, ch.Task, 1) })
				}
			}()
			wg.Wait()
			if err := errors.Join(dnsErr, lbErr); err != nil {
				return fmt.Errorf("change %d (start %s at %v): %w; see %s", i, ch.Task, ch.Addr, err, logf.Name())
			}
			dnsStart = append(dnsStart, ch.Latency(dnsSeen))
			fmt.Fprintf(&trace, "start,%d,%d,%d\n", ch.At.UnixNano(), dnsSeen.UnixNano(), dnsSent.UnixNano())
			if o.lbProbe {
				lbStart = append(lbStart, lbSeen.Sub(at))
			}
		} else {
			victim := app.Tasks[0]
			ch, err := c.KillTask(victim.ID)
			if err != nil {
				return err
			}
			at := ch.At
			if o.mode == "marathon" {
				at = ch.MarathonAt
			}
			var wg sync.WaitGroup
			var seen, lbSeen time.Time
			var dnsErr, lbErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				seen, dnsErr = p.until(o.timeout, func() bool { return !p.dnsHasAddr(app, victim.Addr()) })
			}()
			go func() {
				defer wg.Done()
				if o.lbProbe {
					// Routed away: HAProxy's server for the task is draining, in
					// maintenance or gone (a new connection can no longer reach it).
					lbSeen, lbErr = p.until(o.timeout, func() bool { return !p.lbServerReady(app, victim.Addr()) })
				}
			}()
			wg.Wait()
			if err := errors.Join(dnsErr, lbErr); err != nil {
				return fmt.Errorf("change %d (kill %s): %w", i, victim.ID, err)
			}
			dnsKill = append(dnsKill, ch.Latency(seen))
			if o.lbProbe {
				lbKill = append(lbKill, lbSeen.Sub(at))
			}
			fmt.Fprintf(&trace, "kill,%d,%d,%d\n", ch.At.UnixNano(), seen.UnixNano(), p.lastSent().UnixNano())
		}
	}
	elapsed := time.Since(t0)
	cpu1, load1 := cpuUse(cmd.Process.Pid), benchenv.LoadAvg()
	if o.trace != "" {
		if err := os.WriteFile(o.trace, []byte(trace.String()), 0o644); err != nil {
			return err
		}
	}
	perMin := func(n int64) float64 { return float64(n) / elapsed.Minutes() }
	reqs, bytes := master.Requests()-reqs0, master.BytesServed()-bytes0
	mar := c.Marathon().Requests("/v2/apps") + marathonAppRequests(c) - mar0

	fmt.Printf("\n%d changes in %v (mode %s, %d tasks)\n", o.changes, elapsed.Round(time.Millisecond), o.mode, len(c.Truth().Tasks()))
	fmt.Printf("  %-34s %s\n", "task started → DNS lists it", summary(dnsStart))
	fmt.Printf("  %-34s %s\n", "task killed → DNS drops it", summary(dnsKill))
	fmt.Printf("  %-34s %s\n", "task started → HAProxy routes to it", summary(lbStart))
	fmt.Printf("  %-34s %s\n", "task killed → HAProxy routes away", summary(lbKill))
	fmt.Printf("  master: %.0f requests/min, %.0f bytes/min (%d requests, %d bytes in %v)\n",
		perMin(reqs), perMin(bytes), reqs, bytes, elapsed.Round(time.Millisecond))
	if o.mode == "marathon" {
		fmt.Printf("  marathon: %.0f app requests/min (/v2/apps and /v2/apps/{id})\n", perMin(int64(mar)))
	}
	fmt.Printf("  CPU used meanwhile (%d cores): ", runtime.NumCPU())
	for i, k := range []string{"bench+sim", "discovery", "haproxy"} {
		if i > 0 {
			fmt.Print(", ")
		}
		d := cpu1[k] - cpu0[k]
		fmt.Printf("%s %.2f s (%.0f%% of a core)", k, d.Seconds(), 100*d.Seconds()/elapsed.Seconds())
	}
	fmt.Printf("; load average %s → %s\n", load0, load1)
	fmt.Printf("  waiting for a CPU while ready to run (the machine's share): discovery %.2f s, bench+sim %.2f s\n",
		(cpu1["discovery wait"] - cpu0["discovery wait"]).Seconds(), (cpu1["bench+sim wait"] - cpu0["bench+sim wait"]).Seconds())
	return nil
}

// cpuUse returns the CPU time (user + system) used so far by this process
// ("bench+sim": the prober and the simulated cluster), by discovery (pid) and
// by HAProxy (discovery's descendants).
func cpuUse(pid int) map[string]time.Duration {
	out := map[string]time.Duration{}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		out["bench+sim"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	type proc struct {
		ppid int
		cpu  time.Duration
	}
	procs := map[int]proc{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
		// majflt cmajflt utime stime ...; comm may hold spaces.
		end := strings.LastIndexByte(string(b), ')')
		if end < 0 {
			continue
		}
		fields := strings.Fields(string(b[end+1:]))
		if len(fields) < 13 {
			continue
		}
		p, _ := strconv.Atoi(strings.Fields(string(b))[0])
		ppid, _ := strconv.Atoi(fields[1])
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		procs[p] = proc{ppid, time.Duration(utime+stime) * (time.Second / 100)} // USER_HZ
	}
	out["discovery"] = procs[pid].cpu
	out["discovery wait"] = runQueueWait(pid)
	out["bench+sim wait"] = runQueueWait(os.Getpid())
	for p, pr := range procs {
		for a, hops := pr.ppid, 0; a > 1 && hops < 8; a, hops = procs[a].ppid, hops+1 {
			if a == pid {
				out["haproxy"] += procs[p].cpu
				break
			}
		}
	}
	return out
}

// runQueueWait returns how long the threads of process pid have waited for
// a CPU while ready to run (the second field of schedstat): the time the
// machine, not the program, cost.
func runQueueWait(pid int) time.Duration {
	files, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	var total time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(b)); len(fs) >= 2 {
			ns, _ := strconv.ParseInt(fs[1], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total
}

// pinSelf restricts this process's threads (the simulator and the prober)
// to cpus, a taskset list.
func pinSelf(cpus string) error {
	out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pinning the bench to CPUs %s: %v: %s", cpus, err, out)
	}
	return nil
}

// marathonAppRequests counts the single-app fetches of the simulator's apps.
func marathonAppRequests(c *sim.Cluster) int {
	n := 0
	for _, a := range c.Truth().Apps {
		n += c.Marathon().Requests("/v2/apps" + a.ID)
	}
	return n
}

func freePort() int {
	p, err := freeport.Take("127.0.0.1")
	if err != nil {
		panic(err)
	}
	return p
}

// stop ends discovery (and HAProxy, its child, in the same process group).
func stop(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// prober asks DNS and HAProxy what they serve.
type prober struct {
	dnsAddr   string
	portBase  int
	statsSock string // HAProxy's worker stats socket

	mu   sync.Mutex // one DNS query at a time on conn
	conn net.Conn
	buf  []byte
	id   uint16
	// tcp asks again an answer that came truncated (TC): an app of 100
	// tasks has more SRV records than a UDP answer holds, and the server
	// rotates which it sends, so a UDP answer alone would see a started
	// task late and a killed one early, by chance.
	tcp *dns.Conn
	// sent is when the latest DNS query was sent (for -trace: a slow answer
	// and a late question tell the daemon's delay from the prober's).
	sent time.Time
}

// lastSent returns when the latest DNS query was sent.
func (p *prober) lastSent() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// until polls cond every millisecond and returns when it first held.
func (p *prober) until(timeout time.Duration, cond func() bool) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not seen within %v", timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// exchange asks DNS m over one long-lived UDP socket with a reused buffer:
// probing every millisecond through dns.Client (a new socket and a 64 KB
// buffer per query) cost the machine the daemon shares more CPU than the
// daemon's own query handling.
func (p *prober) exchange(m *dns.Msg) (*dns.Msg, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		c, err := net.Dial("udp", p.dnsAddr)
		if err != nil {
			return nil, err
		}
		p.conn, p.buf = c, make([]byte, 65535)
	}
	p.id++
	m.Id = p.id
	q, err := m.Pack()
	if err != nil {
		return nil, err
	}
	if err := p.conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return nil, err
	}
	p.sent = time.Now()
	if _, err := p.conn.Write(q); err != nil {
		return nil, err
	}
	for {
		n, err := p.conn.Read(p.buf)
		if err != nil {
			return nil, err
		}
		r := new(dns.Msg)
		if r.Unpack(p.buf[:n]) == nil && r.Id == m.Id {
			if r.Truncated {
				return p.exchangeTCP(m)
			}
			return r, nil
		}
		// A late answer to an earlier query that timed out: read on.
	}
}

// exchangeTCP asks m over one long-lived TCP connection, as a resolver
// does after a truncated answer. Callers hold p.mu.
func (p *prober) exchangeTCP(m *dns.Msg) (*dns.Msg, error) {
	if p.tcp == nil {
		c, err := dns.Dial("tcp", p.dnsAddr)
		if err != nil {
			return nil, err
		}
		p.tcp = c
	}
	if err := p.tcp.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return nil, err
	}
	if err := p.tcp.WriteMsg(m); err != nil {
		p.tcp.Close()
		p.tcp = nil
		return nil, err
	}
	r, err := p.tcp.ReadMsg()
	if err != nil {
		p.tcp.Close()
		p.tcp = nil
		return nil, err
	}
	return r, nil
}

// srv returns the address:port targets DNS gives for the app's SRV name,
// the addresses from the answer's additional A records.
func (p *prober) srv(a sim.App) []netip.AddrPort {
	m := new(dns.Msg)
	m.SetQuestion("_"+a.TaskName+"._tcp.marathon.mesos.", dns.TypeSRV)
	m.SetEdns0(65000, false)
	r, err := p.exchange(m)
	if err != nil || r == nil {
		return nil
	}
	ips := map[string]netip.Addr{}
	for _, rr := range r.Extra {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				ips[strings.ToLower(a.Hdr.Name)] = ip
			}
		}
	}
	var out []netip.AddrPort
	for _, rr := range r.Answer {
		s, ok := rr.(*dns.SRV)
		if !ok {
			continue
		}
		ip, ok := ips[strings.ToLower(s.Target)]
		if !ok {
			ip = p.lookupA(s.Target)
		}
		out = append(out, netip.AddrPortFrom(ip, s.Port))
	}
	return out
}

func (p *prober) lookupA(name string) netip.Addr {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r, err := p.exchange(m)
	if err != nil || r == nil {
		return netip.Addr{}
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ip, _ := netip.AddrFromSlice(a.A.To4())
			return ip
		}
	}
	return netip.Addr{}
}

func (p *prober) dnsHas(a sim.App, addr netip.AddrPort) bool { return p.dnsHasAddr(a, addr) }

func (p *prober) dnsHasAddr(a sim.App, addr netip.AddrPort) bool {
	return slices.Contains(p.srv(a), addr)
}

var lbClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// routesTo sends up to tries requests, each on a new connection, to the
// app's service port on HAProxy and reports whether the task answered one.
func (p *prober) routesTo(a sim.App, taskID string, tries int) bool {
	url := "http://127.0.0.1:" + strconv.Itoa(a.ServicePort) + "/"
	for range tries {
		resp, err := lbClient.Get(url)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Task-Id") == taskID {
			return true
		}
	}
	return false
}

// lbServerReady reports whether HAProxy has a server at addr in the app's
// backend that takes new connections: operational and in no admin state
// (drain, maintenance). It asks "show servers state BACKEND" on the stats
// socket; an unanswered question counts as ready (not yet routed away).
func (p *prober) lbServerReady(a sim.App, addr netip.AddrPort) bool {
	backend := strings.ReplaceAll(strings.Trim(a.ID, "/"), "/", "_") + "_" + strconv.Itoa(a.ServicePort)
	conn, err := net.DialTimeout("unix", p.statsSock, time.Second)
	if err != nil {
		return true
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show servers state "+backend+"\n"); err != nil {
		return true
	}
	out, err := io.ReadAll(conn)
	if err != nil || !strings.Contains(string(out), backend) {
		return true
	}
	host, port := addr.Addr().String(), strconv.Itoa(int(addr.Port()))
	for _, line := range strings.Split(string(out), "\n") {
		// be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state … srv_port (19th)
		f := strings.Fields(line)
		if len(f) > 18 && f[1] == backend && f[4] == host && f[18] == port {
			return f[5] != "0" && f[6] == "0"
		}
	}
	return false
}

// summary renders p50, p99 and max of ds.
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))] }
	r := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
	}
	return fmt.Sprintf("p50 %s  p99 %s  max %s  (n=%d)", r(q(0.50)), r(q(0.99)), r(s[len(s)-1]), len(s))
}
