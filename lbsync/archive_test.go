package lbsync

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestArchiveKeepsLastN(t *testing.T) {
	dir := t.TempDir()
	a := newArchive(filepath.Join(dir, "archive"), 3)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 5 {
		if err := a.Save([]byte{byte('a' + i)}, at.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	files, err := a.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d files, want 3: %v", len(files), files)
	}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(rune('c' + i)); string(b) != want {
			t.Errorf("file %d holds %q, want %q", i, b, want)
		}
	}
	if newArchive("", 3) != nil || newArchive(dir, 0) != nil {
		t.Error("an archive without dir or count must be nil")
	}
	var none *archive
	if err := none.Save([]byte("x"), at); err != nil {
		t.Errorf("nil archive: %v", err)
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "haproxy.cfg")
	for _, content := range []string{"one\n", "two\n"} {
		if err := writeAtomic(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
	if err := writeAtomic(filepath.Join(dir, "missing", "x.cfg"), []byte("x"), 0o644); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}
