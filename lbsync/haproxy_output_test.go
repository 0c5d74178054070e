package lbsync

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// HAProxy's own warning and the log line of the same event are logged once;
// other lines, repeated or not, are all logged (at some level) and all kept.
func TestCopyOutputLogsAServerEventOnce(t *testing.T) {
	var logs bytes.Buffer
	h := NewHAProxy(HAProxyOptions{ConfigPath: "/nonexistent", Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	out := strings.Join([]string{
		"[WARNING]  (7) : CLI : Server web_10000/a is going DOWN for maintenance.",
		"Server web_10000/a is going DOWN for maintenance.",
		"[NOTICE]   (6) : New worker (8) forked",
		"[WARNING]  (8) : Server web_10000/b is UP.",
		"Server web_10000/b is UP.",
		"Server web_10000/b is UP.",
		"Proxy stats started.",
		"Proxy stats started.",
		"[ALERT]    (6) : config : parsing [x.cfg:3] : unknown keyword 'bogus'",
	}, "\n") + "\n"
	h.copyOutput(strings.NewReader(out))
	got := logs.String()
	for _, want := range []struct {
		text string
		n    int
	}{
		{"going DOWN for maintenance", 1},
		{"New worker (8) forked", 1},
		{"web_10000/b is UP", 2}, // the warning once, then a third, real repeat
		{"Proxy stats started", 2},
		{"unknown keyword", 1},
	} {
		if n := strings.Count(got, want.text); n != want.n {
			t.Errorf("%q logged %d times, want %d:\n%s", want.text, n, want.n, got)
		}
	}
	if n := len(h.recentOutput(100)); n != 9 {
		t.Errorf("kept %d lines, want all 9", n)
	}
}

// The lines HAProxy 2.6 printed in a churn test's daemon logs (one per task
// change, most of them) and what each is logged at: the echo of our own
// commands and every reload's lifecycle at DEBUG, what a health check or a
// misconfiguration says at WARN or ERROR.
func TestOutputLevel(t *testing.T) {
	for _, tc := range []struct {
		line string
		want slog.Level
	}{
		{"[WARNING]  (7342) : CLI : Server sim_app-3_10003/10_1_0_3_31003 enters drain state. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.", slog.LevelDebug},
		{"[NOTICE]   (7342) : CLI : 'server sim_app-3_10003/10_1_0_3_31004' : New server registered.", slog.LevelDebug},
		{"[WARNING]  (7342) : CLI : Server sim_app-3_10003/10_1_0_3_31003 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.", slog.LevelDebug},
		{"[WARNING]  (7342) : CLI : Server sim_app-3_10003/10_1_0_3_31004 is UP/READY (leaving forced maintenance).", slog.LevelDebug},
		// A state the server-state file kept across a reload (an operator's
		// maintenance): what the file is for.
		{"[WARNING]  (2967) : config : Server web_28806/127_0_0_2_37141 is DOWN, changed from server-state after a reload. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.", slog.LevelDebug},
		{"[WARNING]  (7342) : CLI : Proxy sim_app-3_10003 stopped (cumulated conns: FE: 0, BE: 12).", slog.LevelDebug},
		{"[WARNING]  (7344) : Server sim_app-3_10003/10_1_0_3_31003 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.", slog.LevelDebug},
		{"[NOTICE]   (7342) : New worker (7344) forked", slog.LevelDebug},
		{"[NOTICE]   (7342) : Loading success.", slog.LevelDebug},
		{"[NOTICE]   (7342) : haproxy version is 2.6.12-1+deb12u1", slog.LevelDebug},
		{"[NOTICE]   (7342) : path to executable is /usr/sbin/haproxy", slog.LevelDebug},
		{"[WARNING]  (7342) : Reexecuting Master process", slog.LevelDebug},
		{"[WARNING]  (7342) : Former worker (7344) exited with code 0 (Exit)", slog.LevelDebug},
		{"[WARNING]  (7342) : Exiting Master process...", slog.LevelDebug},
		{"[WARNING]  (7342) : All workers exited. Exiting... (0)", slog.LevelDebug},
		{"Server sim_app-3_10003/10_1_0_3_31003 is going DOWN for maintenance.", slog.LevelDebug},
		{"backend sim_app-3_10003 has no server available!", slog.LevelDebug},
		{"[ALERT]    (7342) : CLI : backend 'sim_app-3_10003' has no server available!", slog.LevelWarn},
		{"[WARNING]  (7344) : Server web_10000/a is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.", slog.LevelWarn},
		{"[ALERT]    (7344) : backend 'web_10000' has no server available!", slog.LevelError},
		{"[WARNING]  (7344) : Server web_10000/a is UP, reason: Layer4 check passed, check duration: 0ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.", slog.LevelInfo},
		{"[WARNING]  (7342) : config : 'option forwardfor' ignored for proxy 'x' as it requires HTTP mode.", slog.LevelWarn},
		{"[ALERT]    (6) : config : parsing [x.cfg:3] : unknown keyword 'bogus'", slog.LevelError},
	} {
		if got := outputLevel(tc.line); got != tc.want {
			t.Errorf("%s\n  logged at %v, want %v", tc.line, got, tc.want)
		}
	}
}
