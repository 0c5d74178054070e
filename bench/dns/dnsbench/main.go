// Command dnsbench serves a Mesos state file with the discovery DNS server, for
// the benchmarks in bench/dns. It reads the state document (e.g. from
// ../shared/tools/genstate.py), decodes it, builds the record table and serves
// it on a loopback address, printing the address on stdout once it answers.
//
// With -measure it reports, as one JSON line, how long it took from the state
// to serving every record (read + decode, build, swap) and the process's
// resident memory, then keeps serving (or exits with -exit). The state is
// decoded as it is read (mesos.DecodeStateFrom), as the daemon decodes a
// fetched state, so the peak includes everything the daemon would hold; with
// -whole it is read into memory first and decoded from there
// (mesos.DecodeState), the way it was before.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
	"github.com/discovery-mesos/discovery/internal/benchenv"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/mesos"
)

func main() {
	statePath := flag.String("state", "", "Mesos master state JSON to serve")
	addr := flag.String("addr", "127.0.0.1:0", "address to serve DNS on (loopback only)")
	measure := flag.Bool("measure", false, "print decode/build/swap time and RSS as JSON")
	exit := flag.Bool("exit", false, "with -measure: exit after measuring instead of serving")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the serving to this file")
	memprofile := flag.String("memprofile", "", "with -measure: write a heap profile (allocations and what is live) to this file")
	whole := flag.Bool("whole", false, "read the whole state into memory before decoding it (timing starts after the read)")
	loadprofile := flag.String("loadprofile", "", "write a CPU profile of the load (read, decode, build, swap) to this file")
	refetch := flag.Bool("refetch", false, "with -measure: then decode the state again and update the table from the one serving, as the daemon does on every later fetch, and report that too")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "dnsbench")
	if err := run(*statePath, *addr, *measure, *exit, *whole, *refetch, *memprofile, *loadprofile, log); err != nil {
		log.Error("dnsbench", "err", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(statePath, addr string, measure, exit, whole, refetch bool, memprofile, loadprofile string, log *slog.Logger) error {
	if memprofile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("the benchmark serves on loopback only, not %q", addr)
	}
	var data []byte
	f, err := os.Open(statePath)
	if err == nil && whole {
		data, err = io.ReadAll(f)
	}
	if err != nil {
		return fmt.Errorf("reading state: %w", err)
	}
	defer f.Close()
	var tables atomic.Pointer[dnsserver.Table]
	cfg := dnsserver.DefaultConfig()
	cfg.NameServerAddrs = []netip.Addr{ap.Addr()}

	// Read and decode, build, swap: what the daemon does between asking for the
	// state and serving it.
	runtime.GC()
	if loadprofile != "" {
		pf, err := os.Create(loadprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	cpu0 := benchenv.CPUTime()
	t0 := time.Now()
	meta := mesos.FetchMeta{Source: "file " + statePath, FetchedAt: t0}
	if info, err := f.Stat(); err == nil {
		meta.Size = info.Size() // as the file source and a Content-Length tell it
	}
	// One decoder for every decode, as the daemon's source has: a refetch is
	// sized from the first decode.
	var dec mesos.Decoder
	var c *state.Cluster
	if whole {
		c, err = dec.Decode(data, meta)
	} else {
		c, err = dec.DecodeFrom(f, meta)
	}
	if err != nil {
		return err
	}
	t1 := time.Now()
	tables.Store(dnsserver.Build(c, cfg))
	t2 := time.Now()
	cpu := benchenv.CPUTime() - cpu0
	if loadprofile != "" {
		pprof.StopCPUProfile()
	}

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
		// Memory now, before the attribution below builds a second table.
		rss, peak, heap := procStatusMB("VmRSS"), procStatusMB("VmHWM"), heapMB()
		answer := sample(srv.Addr(), c)
		if memprofile != "" {
			if f, err := os.Create(memprofile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
		// Attribute the heap: build a second table and see what it adds.
		heapAll := heapMB()
		extra := dnsserver.Build(c, cfg)
		runtime.GC()
		tableHeap := heapMB() - heapAll
		runtime.KeepAlive(extra)
		mode := "stream"
		if whole {
			mode = "whole"
		}
		report := map[string]any{
			"mode":           mode,
			"loadavg":        benchenv.LoadAvg(),
			"table_heap_mb":  tableHeap,
			"tasks":          len(c.Tasks),
			"records":        t.Records(),
			"decode_ms":      ms(t1.Sub(t0)),
			"build_swap_ms":  ms(t2.Sub(t1)),
			"total_ms":       ms(t2.Sub(t0)),
			"total_cpu_ms":   ms(cpu),
			"rss_mb":         rss,
			"peak_rss_mb":    peak,
			"go_heap_mb":     heap,
			"answers_sample": answer,
		}
		if refetch {
			// The daemon's later fetches: the cluster and table being served
			// stay live while the next state is decoded and the table updated.
			extra, t = nil, nil
			runtime.GC()
			f2, err := os.Open(statePath)
			if err != nil {
				return err
			}
			cpu0, t0 := benchenv.CPUTime(), time.Now()
			meta := mesos.FetchMeta{Source: "file " + statePath, FetchedAt: t0}
			if info, err := f2.Stat(); err == nil {
				meta.Size = info.Size()
			}
			c2, err := dec.DecodeFrom(f2, meta)
			f2.Close()
			if err != nil {
				return err
			}
			tables.Store(tables.Load().Update(c2))
			report["refetch_ms"] = ms(time.Since(t0))
			report["refetch_cpu_ms"] = ms(benchenv.CPUTime() - cpu0)
			report["refetch_peak_rss_mb"] = procStatusMB("VmHWM")
			c = c2
			runtime.GC()
			debug.FreeOSMemory()
			report["refetch_rss_mb"] = procStatusMB("VmRSS")
			report["refetch_go_heap_mb"] = heapMB()
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
