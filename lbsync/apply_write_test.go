package lbsync

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWriteAtomicParts writes a config in more pieces than one writev takes,
// some empty, and reads back their concatenation.
func TestWriteAtomicParts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	const iovMax = 1024 // what one writev takes on Linux
	for _, n := range []int{0, 1, iovMax - 1, iovMax, 2*iovMax + 7} {
		var parts [][]byte
		for i := range n {
			p := []byte("backend b" + strconv.Itoa(i) + "\n  server s 127.1.0.1:" + strconv.Itoa(i) + "\n")
			if i%5 == 3 {
				p = nil
			}
			parts = append(parts, p)
		}
		if err := writeAtomicParts(path, parts, configFileMode); err != nil {
			t.Fatalf("%d parts: %v", n, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.Join(parts, nil); !bytes.Equal(got, want) {
			t.Fatalf("%d parts: file has %d bytes, want %d", n, len(got), len(want))
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != configFileMode {
			t.Fatalf("%d parts: mode %v (%v)", n, fi.Mode(), err)
		}
	}
}
