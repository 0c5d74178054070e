package lbsync

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// ProcInfo is the master CLI's "show proc" answer: the master's reload counters
// and the workers it runs. A reload is confirmed by comparing two of them, since
// on HAProxy 2.6 the "reload" command itself answers nothing.
type ProcInfo struct {
	// MasterPID is the master's process id.
	MasterPID int
	// Reloads counts the reloads the master attempted, failed ones included.
	Reloads int
	// Failed counts the reloads that failed (the new config did not load and the
	// old workers kept serving).
	Failed int
	// Workers are the worker processes, current first as HAProxy lists them.
	Workers []WorkerProc
}

// WorkerProc is one worker line of "show proc".
type WorkerProc struct {
	PID int
	// Reloads is how many reloads the worker has lived through: 0 for the worker
	// started by the latest reload, more for old workers still finishing
	// connections.
	Reloads int
}

// CurrentWorker returns the worker started by the latest successful reload (the
// one that has lived through no reload), and false when there is none.
func (p ProcInfo) CurrentWorker() (WorkerProc, bool) {
	for _, w := range p.Workers {
		if w.Reloads == 0 {
			return w, true
		}
	}
	return WorkerProc{}, false
}

// parseShowProc parses the output of the master CLI's "show proc":
//
//	#<PID>          <type>          <reloads>       <uptime>        <version>
//	7517            master          2 [failed: 1]   0d00h00m03s     2.6.12
//	# workers
//	7544            worker          1               0d00h00m03s     2.6.12
//	# programs
func parseShowProc(out string) (ProcInfo, error) {
	var p ProcInfo
	sawMaster := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		reloads, err := strconv.Atoi(f[2])
		if err != nil {
			return p, fmt.Errorf("show proc: bad reload count in %q", line)
		}
		switch f[1] {
		case "master":
			sawMaster = true
			p.MasterPID = pid
			p.Reloads = reloads
			if i := strings.Index(line, "[failed:"); i >= 0 {
				rest := strings.TrimSpace(line[i+len("[failed:"):])
				if j := strings.IndexByte(rest, ']'); j >= 0 {
					if n, err := strconv.Atoi(strings.TrimSpace(rest[:j])); err == nil {
						p.Failed = n
					}
				}
			}
		case "worker":
			p.Workers = append(p.Workers, WorkerProc{PID: pid, Reloads: reloads})
		}
	}
	if !sawMaster {
		return p, fmt.Errorf("show proc: no master line in %q", truncate(out, 200))
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
