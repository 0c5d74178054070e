// Command dnsbench serves a Mesos state file with the discovery DNS server, for
// the benchmarks in bench/dns. It reads the state document (e.g. from
// ../shared/tools/genstate.py), decodes it, builds the record table and serves
// it on a loopback address, printing the address on stdout once it answers.
//
// With -measure it reports, as one JSON line, how long it took from the state
// bytes in memory to serving every record (decode + build + swap) and the
// process's resident memory, then keeps serving (or exits with -exit).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/state"
)

func main() {
	statePath := flag.String("state", "", "Mesos master state JSON to serve")
	addr := flag.String("addr", "127.0.0.1:0", "address to serve DNS on (loopback only)")
	measure := flag.Bool("measure", false, "print decode/build/swap time and RSS as JSON")
	exit := flag.Bool("exit", false, "with -measure: exit after measuring instead of serving")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the serving to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "dnsbench")
	if err := run(*statePath, *addr, *measure, *exit, log); err != nil {
		log.Error("dnsbench", "err", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(statePath, addr string, measure, exit bool, log *slog.Logger) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("the benchmark serves on loopback only, not %q", addr)
	}
	data, err := os.ReadFile(statePath)
	if err != nil {
		return fmt.Errorf("reading state: %w", err)
	}
	var tables atomic.Pointer[dnsserver.Table]
	cfg := dnsserver.DefaultConfig()
	cfg.NameServerAddrs = []netip.Addr{ap.Addr()}

	// Decode + build + swap: what the daemon does between a fetch and serving it.
	runtime.GC()
	t0 := time.Now()
	c, err := state.DecodeMesosState(data, state.FetchMeta{Source: "file " + statePath, FetchedAt: t0})
	if err != nil {
		return err
	}
	t1 := time.Now()
	tables.Store(dnsserver.Build(c, cfg))
	t2 := time.Now()

	srv, err := dnsserver.NewServer(dnsserver.ServerConfig{Addr: addr, RecurseOn: true}, &tables, log, nil)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if measure {
		data = nil // the fetched document is dropped once decoded, as in the daemon
		runtime.GC()
		debug.FreeOSMemory()
		t := tables.Load()
		// Attribute the heap: build a second table and see what it adds.
		heapAll := heapMB()
		extra := dnsserver.Build(c, cfg)
		runtime.GC()
		tableHeap := heapMB() - heapAll
		runtime.KeepAlive(extra)
		runtime.GC()
		debug.FreeOSMemory()
		report := map[string]any{
			"table_heap_mb":  tableHeap,
			"tasks":          len(c.Tasks),
			"records":        t.Records(),
			"decode_ms":      ms(t1.Sub(t0)),
			"build_swap_ms":  ms(t2.Sub(t1)),
			"total_ms":       ms(t2.Sub(t0)),
			"rss_mb":         procStatusMB("VmRSS"),
			"peak_rss_mb":    procStatusMB("VmHWM"),
			"go_heap_mb":     heapMB(),
			"answers_sample": sample(srv.Addr(), c),
		}
		b, _ := json.Marshal(report)
		fmt.Fprintln(os.Stderr, string(b))
		if exit {
			return nil
		}
	}
	fmt.Println(srv.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func heapMB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// procStatusMB reads a memory figure (VmRSS, VmHWM) of this process in MB.
func procStatusMB(key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

// sample asks the running server for the first task's name and reports how
// many records it got: a check that what was measured is really served.
func sample(addr string, c *state.Cluster) string {
	if len(c.Tasks) == 0 {
		return "no tasks"
	}
	t := c.Tasks[len(c.Tasks)-1]
	f := c.Framework(t.FrameworkID)
	if f == nil {
		return "no framework"
	}
	name := dnsserver.SanitizeLabel(t.Name, false) + "." + dnsserver.SanitizeLabel(f.Name, false) + ".mesos."
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), addr)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s %s %d records", name, dns.RcodeToString[r.Rcode], len(r.Answer))
}
