// Package e2e holds the end-to-end faults, load and security suite of issue 7.
//
// Its tests build the real discovery binary once and run it as a subprocess
// against the simulated cluster (internal/sim), a real HAProxy and a real
// ZooKeeper, everything on loopback, and observe it only from outside: DNS
// queries, /status.json, /metrics, /ready, HAProxy's sockets and files, the
// process's log and its resident memory. They prove that the daemon keeps
// answering and routing through master failures, bad data and overload, and
// that it does not become a way in. The package has no code of its own: run
// it with `go test ./e2e` (-short leaves out the load tests; E2E_LONG=1 runs
// the load tests for the full durations).
package e2e
