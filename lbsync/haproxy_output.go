package lbsync

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strings"
)

// copyOutput logs HAProxy's output line by line, at the level the line
// deserves (outputLevel), and keeps the latest lines for the status page and
// for reload errors.
//
// HAProxy prints a server's state change twice on stderr, as a warning
// ("[WARNING]  (pid) : Server … is DOWN") and as the log line our HAPROXY_HEAD
// sends to stderr ("Server … is DOWN"): the second is not logged again.
func (h *HAProxy) copyOutput(r io.Reader) {
	sc := bufio.NewScanner(r)
	prev := ""
	for sc.Scan() {
		line := redactLine(sc.Text(), h.opts.ConfigPath)
		h.mu.Lock()
		h.output = append(h.output, line)
		if len(h.output) > 100 {
			h.output = append(h.output[:0], h.output[len(h.output)-50:]...)
		}
		h.mu.Unlock()
		msg := outputMessage(line)
		repeated := msg == line && msg == prev // an unprefixed echo of the warning before
		prev = ""
		if msg != line {
			prev = msg
		}
		if repeated {
			continue
		}
		h.log.Log(context.Background(), outputLevel(line), "haproxy", "line", line)
	}
}

// outputLevel is the level a line of HAProxy's output is logged at. Most of
// what HAProxy prints is routine: the echo of our own Runtime API commands
// ("CLI : Server … enters drain state", one per task change), workers forked
// and exited on every reload, proxies stopped by a reload. Logged at WARN, as
// HAProxy labels much of it, it buried what an operator must see; it goes to
// DEBUG. A health check taking a server down, a backend left without servers,
// and warnings we do not know stay WARN; alerts outside the CLI are errors.
func outputLevel(line string) slog.Level {
	msg := outputMessage(line)
	cli := strings.Contains(line, ") : CLI : ")
	switch {
	case strings.HasPrefix(line, "[ALERT]"):
		if cli {
			// "backend 'x' has no server available!" after we removed its
			// last server: the app's tasks are gone, which the operator may
			// want to know, but nothing is broken in HAProxy.
			return slog.LevelWarn
		}
		return slog.LevelError
	case !strings.HasPrefix(line, "["):
		// The log lines HAPROXY_HEAD sends to stderr: each event also comes
		// as a prefixed line, logged at its level.
		return slog.LevelDebug
	case cli:
		return slog.LevelDebug
	case isRoutineOutput(msg):
		return slog.LevelDebug
	case strings.HasPrefix(msg, "Server ") && strings.Contains(msg, " is UP"):
		return slog.LevelInfo // a health check brought a server back
	case strings.HasPrefix(line, "[WARNING]"):
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// routineOutput are the starts of HAProxy messages that every reload, start
// and stop prints.
var routineOutput = []string{
	"New worker ", "Loading success", "path to executable is ", "haproxy version is ",
	"Reexecuting Master process", "Exiting Master process", "Current worker ",
	"Former worker ", "Former process ", "All workers exited", "Stopping ", "Pausing ",
}

// isRoutineOutput reports whether msg (without its prefix) is one of the lines
// HAProxy prints in the course of starting, reloading and stopping, or a server
// state change that our own settings made (maintenance, drain, weights and
// states loaded from the server-state file).
func isRoutineOutput(msg string) bool {
	for _, p := range routineOutput {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	if strings.HasPrefix(msg, "Proxy ") && (strings.HasSuffix(msg, " started.") || strings.Contains(msg, " stopped (")) {
		return true
	}
	// A state the server-state file kept across a reload (an operator's
	// maintenance), said as the new worker reads its config.
	if strings.HasPrefix(msg, "config : Server ") && strings.Contains(msg, "changed from server-state after a reload") {
		return true
	}
	if strings.HasPrefix(msg, "Server ") {
		for _, s := range []string{"going DOWN for maintenance", "leaving forced maintenance", "enters drain state", "leaving forced drain", "changed its weight"} {
			if strings.Contains(msg, s) {
				return true
			}
		}
	}
	return false
}

// outputMessage is an output line without HAProxy's "[LEVEL]  (pid) : " and
// "CLI : " prefixes.
func outputMessage(line string) string {
	if !strings.HasPrefix(line, "[") {
		return line
	}
	_, rest, ok := strings.Cut(line, ") : ")
	if !ok {
		return line
	}
	return strings.TrimPrefix(rest, "CLI : ")
}
