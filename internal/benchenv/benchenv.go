// Package benchenv reads what a benchmark reports beside its timings so that
// they can be judged on a machine shared with other work: the load average
// and the CPU time the process has used (the wall time of a run includes
// waiting for the CPU; CPU time does not). The bench programs and the
// benchmarks of several packages report them alike.
package benchenv

import (
	"os"
	"strings"
	"syscall"
	"time"
)

// LoadAvg is the machine's 1-minute load average as /proc/loadavg shows it,
// or "?" when it cannot be read.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// CPUTime is the CPU time the process has used (user and system), or 0 when
// it cannot be read.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
