// Command bigcluster measures how soon a DNS server serves a big simulated
// cluster (internal/sim, 100,000 tasks by default) from the moment it starts,
// and the most memory it held on the way: the real discovery binary in its
// default mode (the Mesos v1 event stream) and polling /master/state, and the
// real mesos-dns (the anchor) against the same cluster, in one run, rounds
// alternating. Everything listens on loopback.
//
// A server counts as serving when it answers the A query of the last app's
// name: each builds its table whole and swaps it in, so one name of the
// state means every name. The time runs from the process's start (the
// subscription or first fetch included) to that answer; the master's own
// cost of rendering the state is measured apart (master_ms: how long the
// simulator takes to send the SUBSCRIBED event or /master/state to a plain
// client), and is part of the total.
//
//	go run ./bench/bigcluster -discovery /tmp/discovery
//	go run ./bench/bigcluster -discovery /tmp/discovery -modes stream -runs 5
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/internal/benchenv"
	"github.com/discovery-mesos/discovery/internal/peers"
	"github.com/discovery-mesos/discovery/internal/sim"
)

type options struct {
	discovery, mesosDNS string
	apps, tasks, runs   int
	modes               string
	timeout             time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.discovery, "discovery", "", "discovery binary (required)")
	flag.StringVar(&o.mesosDNS, "mesos-dns", peers.Path("mesos-dns"), "mesos-dns binary (the anchor; skipped when absent)")
	flag.IntVar(&o.apps, "apps", 1000, "apps in the cluster")
	flag.IntVar(&o.tasks, "tasks", 100, "tasks per app")
	flag.IntVar(&o.runs, "runs", 3, "rounds (each runs every mode once)")
	flag.StringVar(&o.modes, "modes", "stream,poll,mesos-dns", "comma list of stream, poll, mesos-dns")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "longest wait for one server to serve")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bigcluster:", err)
		os.Exit(1)
	}
}

// result is one server's start.
type result struct {
	Mode     string  `json:"mode"`
	ServeMS  float64 `json:"serve_ms"`
	MasterMS float64 `json:"master_ms"`
	PeakMB   float64 `json:"peak_rss_mb"`
	RSSMB    float64 `json:"rss_mb"`
	CPUMS    float64 `json:"cpu_ms"`
	Load     string  `json:"load"`
}

func run(o options) error {
	if o.discovery == "" {
		return errors.New("-discovery is required")
	}
	began := time.Now()
	c, err := sim.New(sim.Config{Apps: o.apps, TasksPerApp: o.tasks, Seed: 1})
	if err != nil {
		return err
	}
	defer c.Close()
	m := c.Leader()
	tr := c.Truth()
	last := tr.Apps[len(tr.Apps)-1]
	name := strings.TrimPrefix(last.ID, "/")
	parts := strings.Split(name, "/")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	qname := strings.Join(parts, ".") + ".marathon.mesos."
	// The simulator renders each task's v1 form once and keeps it, as a
	// master keeps its state: the first SUBSCRIBE pays for that, not the
	// servers measured.
	warm := time.Now()
	if _, err := masterCost(m.Addr(), "stream"); err != nil {
		return err
	}
	fmt.Printf("cluster: %d tasks, /master/state %d bytes, built in %v (v1 rendering %v); asking %s\n",
		len(tr.Tasks()), len(m.State()), time.Since(began).Round(time.Millisecond), time.Since(warm).Round(time.Millisecond), qname)

	dir, err := os.MkdirTemp("", "bigcluster")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	modes := strings.Split(o.modes, ",")
	byMode := map[string][]result{}
	for range o.runs {
		for _, mode := range modes {
			if mode == "mesos-dns" {
				if st, err := os.Stat(o.mesosDNS); err != nil || st.IsDir() {
					continue
				}
			}
			r, err := once(o, dir, mode, m.Addr(), qname)
			if err != nil {
				return fmt.Errorf("%s: %w", mode, err)
			}
			if r.MasterMS, err = masterCost(m.Addr(), mode); err != nil {
				return fmt.Errorf("%s: the master's cost: %w", mode, err)
			}
			b, _ := json.Marshal(r)
			fmt.Println(string(b))
			byMode[mode] = append(byMode[mode], r)
		}
	}
	fmt.Println()
	for _, mode := range modes {
		rs := byMode[mode]
		if len(rs) == 0 {
			continue
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].ServeMS < rs[j].ServeMS })
		med := rs[len(rs)/2]
		peak := 0.0
		for _, r := range rs {
			peak = max(peak, r.PeakMB)
		}
		fmt.Printf("%-10s serve median %.0f ms (%.0f–%.0f), master's share median %.0f ms, peak RSS %.0f MB (max of %d)\n",
			mode, med.ServeMS, rs[0].ServeMS, rs[len(rs)-1].ServeMS, med.MasterMS, peak, len(rs))
	}
	return nil
}

// once starts the server of mode, waits for it to serve qname, and reads its
// memory.
func once(o options, dir, mode, master, qname string) (result, error) {
	dnsPort, httpPort := freePort(), freePort()
	var cmd *exec.Cmd
	switch mode {
	case "stream", "poll":
		cmd = exec.Command(o.discovery, "-masters", master, "-domain", "mesos", "-mesosFollow", mode,
			"-listener", "127.0.0.1", "-port", strconv.Itoa(dnsPort),
			"-httpListener", "127.0.0.1", "-httpport", strconv.Itoa(httpPort),
			"-externalon=false", "-refreshSeconds", "60", "-logFormat", "json")
	case "mesos-dns":
		cfg := map[string]any{
			"zk": "", "masters": []string{master}, "refreshSeconds": 60, "ttl": 60, "domain": "mesos",
			"port": dnsPort, "resolvers": []string{"127.0.0.1"}, "timeout": 1, "listener": "127.0.0.1",
			"httpListener": "127.0.0.1", "httpport": httpPort, "dnson": true, "httpon": true,
			"externalon": false, "stateTimeoutSeconds": 300,
		}
		b, _ := json.Marshal(cfg)
		path := filepath.Join(dir, "mesos-dns.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return result{}, err
		}
		cmd = exec.Command(o.mesosDNS, "-config", path)
	default:
		return result{}, fmt.Errorf("unknown mode %q", mode)
	}
	logf, err := os.Create(filepath.Join(dir, mode+".log"))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	load := benchenv.LoadAvg()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort))
	cl := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	q := new(dns.Msg)
	q.SetQuestion(qname, dns.TypeA)
	deadline := start.Add(o.timeout)
	for {
		r, _, err := cl.Exchange(q, addr)
		if err == nil && len(r.Answer) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("not serving %s after %v (log %s)", qname, o.timeout, logf.Name())
		}
		time.Sleep(2 * time.Millisecond)
	}
	served := time.Since(start)
	peak, rss := procMem(cmd.Process.Pid)
	return result{Mode: mode, ServeMS: ms(served), PeakMB: peak, RSSMB: rss, CPUMS: ms(procCPU(cmd.Process.Pid)), Load: load}, nil
}

// masterCost is how long the simulated master takes to send what the mode
// reads first to a client that only counts the bytes: the SUBSCRIBED event
// for stream, /master/state otherwise.
func masterCost(master, mode string) (float64, error) {
	start := time.Now()
	var resp *http.Response
	var err error
	if mode == "stream" {
		resp, err = http.Post("http://"+master+"/api/v1", "application/json", strings.NewReader(`{"type":"SUBSCRIBE"}`))
	} else {
		resp, err = http.Get("http://" + master + "/master/state")
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if mode != "stream" {
		_, err = io.Copy(io.Discard, resp.Body)
		return ms(time.Since(start)), err
	}
	br := bufio.NewReaderSize(resp.Body, 1<<20)
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return 0, err
	}
	if _, err := io.CopyN(io.Discard, br, n); err != nil {
		return 0, err
	}
	return ms(time.Since(start)), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// procMem reads a process's peak and current resident memory, in MB.
func procMem(pid int) (peak, rss float64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmHWM:":
			peak = kb * 1024 / 1e6
		case "VmRSS:":
			rss = kb * 1024 / 1e6
		}
	}
	return peak, rss
}

// procCPU is the CPU time (user + system) a process used so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
