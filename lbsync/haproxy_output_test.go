package lbsync

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// HAProxy's own warning and the log line of the same event are logged once;
// other lines, repeated or not, are all logged and all kept.
func TestCopyOutputLogsAServerEventOnce(t *testing.T) {
	var logs bytes.Buffer
	h := NewHAProxy(HAProxyOptions{ConfigPath: "/nonexistent", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
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
