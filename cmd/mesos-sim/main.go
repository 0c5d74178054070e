// Command mesos-sim runs a simulated Mesos + Marathon cluster on loopback, for
// trying discovery (or mesos-dns, or marathon-lb) without a cluster: a fake
// Mesos master serving /master/state and the v1 operator API's SUBSCRIBE
// stream, and a fake Marathon serving /v2/apps and /v2/events, both telling
// the same story as tasks start, fail, move and change health.
//
// Usage:
//
//	mesos-sim [-apps 20] [-tasks 3] [-churn 2/s] [-listen 127.0.0.1:5050]
//	          [-marathon-listen 127.0.0.1:8080] [-masters 1] [-backends] [-seed 1]
//
// Flags:
//
//	-apps N             apps to start with (default 20)
//	-tasks N            instances of each app (default 3)
//	-churn RATE         random changes per second: "2/s", "30/m", "0" for none
//	                    (default 2/s); with several masters the leader changes
//	                    now and then too
//	-listen ADDR        address of the (first) master (default 127.0.0.1:5050;
//	                    empty for a free port)
//	-marathon-listen ADDR
//	                    address of Marathon (default 127.0.0.1:8080; empty for
//	                    a free port)
//	-masters N          number of masters (default 1)
//	-backends           make every task a real HTTP server on its 127.1.x.y
//	                    address and port, so that HAProxy can route to it
//	-seed N             seed of the cluster and of the churn (default 1)
//
// It prints the URLs, then runs until SIGINT or SIGTERM and stops cleanly.
// Every address is on loopback.
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
	"syscall"

	"github.com/discovery-mesos/discovery/internal/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mesos-sim:", err)
		}
		os.Exit(2)
	}
}

// run runs the simulator until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mesos-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apps := fs.Int("apps", 20, "apps to start with")
	tasks := fs.Int("tasks", 3, "instances of each app")
	churn := fs.String("churn", "2/s", `random changes per second ("2/s", "30/m", "0" for none)`)
	listen := fs.String("listen", "127.0.0.1:5050", "address of the first master (empty: a free port)")
	marathonListen := fs.String("marathon-listen", "127.0.0.1:8080", "address of Marathon (empty: a free port)")
	masters := fs.Int("masters", 1, "number of masters")
	backends := fs.Bool("backends", false, "make every task a real HTTP server on its address")
	seed := fs.Uint64("seed", 1, "seed of the cluster and of the churn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	rate, err := sim.ParseRate(*churn)
	if err != nil {
		return err
	}
	if *apps < 0 || *tasks < 1 || *masters < 1 {
		return errors.New("-apps must be at least 0, -tasks and -masters at least 1")
	}
	nApps := *apps
	if nApps == 0 {
		nApps = -1 // sim.Config: none
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	c, err := sim.New(sim.Config{
		Apps: nApps, TasksPerApp: *tasks, Masters: *masters, Backends: *backends, Seed: *seed,
		MasterListen: *listen, MarathonListen: *marathonListen, Log: log,
	})
	if err != nil {
		return err
	}
	defer c.Close()

	tr := c.Truth()
	if u := c.MasterListenURL(); u != "" {
		fmt.Fprintf(stdout, "master   %s (also %s)\n", u, c.Masters()[0].URL())
	} else {
		fmt.Fprintf(stdout, "master   %s\n", c.Masters()[0].URL())
	}
	for _, m := range c.Masters()[1:] {
		fmt.Fprintf(stdout, "master   %s (not leading)\n", m.URL())
	}
	fmt.Fprintf(stdout, "marathon %s\n", c.MarathonURL())
	fmt.Fprintf(stdout, "%d agents (127.1.x.y), %d apps, %d tasks, churn %s, backends %t\n",
		len(tr.Agents), len(tr.Apps), len(tr.Tasks()), *churn, *backends)
	if len(tr.Apps) > 0 {
		a := tr.Apps[0]
		fmt.Fprintf(stdout, "e.g. app %s: DNS %s, service port %d, vhost %s\n",
			a.ID, tr.TaskDNSName(a, "mesos"), a.ServicePort, a.VHost)
	}

	if rate > 0 {
		if err := c.Churn(ctx, rate, *seed); err != nil && !errors.Is(err, sim.ErrClosed) {
			return err
		}
	} else {
		<-ctx.Done()
	}
	log.Info("stopping", "changes", c.Seq())
	return nil
}
