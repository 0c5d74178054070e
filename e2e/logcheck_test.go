package e2e

import (
	"slices"
	"testing"
)

// The checks every e2e daemon's log goes through, on lines that fail them.
func TestLogChecks(t *testing.T) {
	lines := []string{
		`{"time":"t","level":"INFO","msg":"ok","component":"dns"}`,
		`{"time":"t","level":"INFO","msg":"anonymous"}`,
		`{"time":"t","level":"INFO","msg":"anonymous"}`,
		`{"time":"t","level":"INFO","msg":"twice","component":"lbsync","component":"haproxy"}`,
		`not json: a banner`,
	}
	if got := withoutComponent(lines); !slices.Equal(got, []string{"anonymous"}) {
		t.Errorf("withoutComponent = %q", got)
	}
	if got := firstDuplicateKey(lines); got != lines[3] {
		t.Errorf("firstDuplicateKey = %q", got)
	}
	if got := firstDuplicateKey(lines[:3]); got != "" {
		t.Errorf("firstDuplicateKey of clean lines = %q", got)
	}
}
