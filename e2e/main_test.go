package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// discoveryBin is the discovery executable TestMain built for this run (or the
// one E2E_DISCOVERY_BIN names).
var discoveryBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if b := os.Getenv("E2E_DISCOVERY_BIN"); b != "" {
		discoveryBin = b // a binary built beforehand
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	discoveryBin = filepath.Join(dir, "discovery")
	cmd := exec.Command("go", "build", "-o", discoveryBin, "../cmd/discovery")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building discovery:", err)
		return 1
	}
	return m.Run()
}
