// Command render times `discovery render` end to end — fetching Marathon's
// /v2/apps, decoding it, building the load balancer model, rendering and
// writing the HAProxy config — against marathon-lb's `--dry`, which does the
// same, on one generated document (../shared/tools/genapps.py) served from
// memory on loopback. Rounds alternate between the two so that both see the
// same machine; ratios are per round.
//
//	go build -o /tmp/discovery ./cmd/discovery && go run ./bench/render -discovery /tmp/discovery
//
// With -before, an earlier build runs in the same rounds too.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/discovery-mesos/discovery/internal/peers"
)

func main() {
	discovery := flag.String("discovery", "", "the discovery binary to time (required)")
	before := flag.String("before", "", "another discovery binary (an earlier tree) to time in the same rounds")
	apps := flag.Int("apps", 10000, "apps in the document (3 tasks each)")
	rounds := flag.Int("rounds", 5, "rounds, each timing both once")
	mlbRounds := flag.Int("mlb-rounds", 3, "rounds that also run marathon-lb (it takes seconds each)")
	group := flag.String("group", "*", "the --group both render")
	flag.Parse()
	if *discovery == "" {
		log.Fatal("give -discovery PATH")
	}
	mlb := peers.Path("marathon-lb")
	if mlb == "" {
		log.Fatal("marathon-lb not found (shared/peers)")
	}
	doc, err := exec.Command("/usr/bin/python3", filepath.Join(filepath.Dir(filepath.Dir(mlb)), "tools", "genapps.py"), fmt.Sprint(*apps)).Output()
	if err != nil {
		log.Fatalf("genapps.py: %v", err)
	}
	url, stop := serve(doc)
	defer stop()
	fmt.Printf("document: %d apps, %.1f MB, served from %s\n", *apps, float64(len(doc))/1e6, url)

	ours := []string{*discovery, "render", "--marathon", url, "--group", *group}
	theirs := []string{"/usr/bin/python3", filepath.Join(mlb, "marathon_lb.py"), "--dry", "--marathon", url, "--group", *group,
		"--skip-validation", "--syslog-socket", "/dev/null"}
	var walls, cpus []time.Duration
	var ratios, cpuRatios []float64
	for r := range *rounds {
		o := run(ours)
		walls, cpus = append(walls, o.wall), append(cpus, o.cpu)
		line := fmt.Sprintf("round %d: discovery %v (cpu %v, %d bytes)", r+1, o.wall.Round(time.Millisecond), o.cpu.Round(time.Millisecond), o.out)
		if *before != "" {
			argv := append([]string{*before}, ours[1:]...)
			b := run(argv)
			line += fmt.Sprintf("; before %v (cpu %v, %d bytes)", b.wall.Round(time.Millisecond), b.cpu.Round(time.Millisecond), b.out)
		}
		if r < *mlbRounds {
			t := run(theirs)
			ratios = append(ratios, t.wall.Seconds()/o.wall.Seconds())
			cpuRatios = append(cpuRatios, t.cpu.Seconds()/o.cpu.Seconds())
			line += fmt.Sprintf("; marathon-lb --dry %v (cpu %v, %d bytes); ratio %.1f×", t.wall.Round(time.Millisecond), t.cpu.Round(time.Millisecond), t.out, ratios[len(ratios)-1])
		}
		fmt.Println(line)
	}
	for _, s := range [][]time.Duration{walls, cpus} {
		slices.Sort(s)
	}
	fmt.Printf("discovery render: wall best %v, median %v; cpu best %v, median %v\n", walls[0].Round(time.Millisecond),
		walls[len(walls)/2].Round(time.Millisecond), cpus[0].Round(time.Millisecond), cpus[len(cpus)/2].Round(time.Millisecond))
	for _, r := range []struct {
		what string
		v    []float64
	}{{"wall", ratios}, {"cpu", cpuRatios}} {
		if len(r.v) > 0 {
			slices.Sort(r.v)
			fmt.Printf("marathon-lb --dry / discovery render, %s: median %.1f× (%.1f–%.1f×)\n", r.what, r.v[len(r.v)/2], r.v[0], r.v[len(r.v)-1])
		}
	}
}

// serve answers every request with doc (marathon-lb and discovery ask for
// /v2/apps with their embed parameters).
func serve(doc []byte) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/apps" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc))
	})}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

// timing is one run. Its peak memory is not taken from the rusage: the
// child shares this process's memory until it execs, so the kernel's
// high-water mark would be ours.
type timing struct {
	wall, cpu time.Duration
	out       int
}

// run times one command to its exit; its standard output is counted, not kept.
func run(argv []string) timing {
	var out bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = &out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v\n%s", argv[0], err, lastLines(stderr.Bytes()))
	}
	wall := time.Since(began)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if out.Len() == 0 {
		fmt.Fprintf(os.Stderr, "%s wrote no config\n", argv[0])
		os.Exit(1)
	}
	return timing{wall: wall, cpu: cpu, out: out.Len()}
}

func lastLines(b []byte) []byte {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return b
}
