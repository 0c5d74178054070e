package mesos

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// pickUpWithin is how soon a changed state file must be served (issue: "within a
// second of it changing").
const pickUpWithin = time.Second

// waitCluster waits for a cluster whose only task is taskID, skipping others (a
// file caught half-written may fail first).
func waitCluster(t *testing.T, sink *statetest.Sink, taskID string) *state.Cluster {
	t.Helper()
	deadline := time.Now().Add(pickUpWithin)
	for {
		r := sink.Next(t, time.Until(deadline))
		if c := r.Cluster; c != nil && len(c.Tasks) == 1 && c.Tasks[0].ID == taskID {
			return c
		}
	}
}

// waitFailure waits for the next report, which must be a failure.
func waitFailure(t *testing.T, sink *statetest.Sink) error {
	t.Helper()
	r := sink.Next(t, pickUpWithin)
	if r.Err == nil {
		t.Fatalf("got %s, want a failure", r)
	}
	return r.Err
}

// oneTaskState is a small state document whose one task is taskID.
func oneTaskState(taskID string) []byte {
	return []byte(`{"leader": "master@127.0.0.1:5050", "slaves": [{"id": "S1", "pid": "slave(1)@127.0.1.1:5051"}],
  "frameworks": [{"id": "F1", "name": "marathon", "tasks": [
    {"id": "` + taskID + `", "name": "web", "slave_id": "S1", "state": "TASK_RUNNING",
     "statuses": [{"state": "TASK_RUNNING", "timestamp": 1}]}]}]}`)
}

// startFileSource runs a source on path until the test ends.
func startFileSource(t *testing.T, path string) *statetest.Sink {
	t.Helper()
	sink := statetest.NewSink()
	src := NewFileSource(path, []state.Master{{Host: "127.0.0.1", Port: 5050}}, nil)
	statetest.Run(t, src, sink)
	return sink
}

// writeAtomic writes data to a temporary file in path's directory and renames it
// over path, as deploy tools and consul-template do.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileSourceFollowsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, oneTaskState("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	sink := startFileSource(t, path)
	c := waitCluster(t, sink, "first")
	if c.Source != "file "+path || len(c.Masters) != 1 || c.FetchedAt.IsZero() {
		t.Errorf("Source, Masters, FetchedAt = %q, %v, %v", c.Source, c.Masters, c.FetchedAt)
	}

	steps := []struct {
		name   string
		taskID string
		change func(t *testing.T, data []byte)
	}{
		{"written in place", "in-place", func(t *testing.T, data []byte) {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced by rename", "renamed", func(t *testing.T, data []byte) {
			writeAtomic(t, path, data)
		}},
		{"moved aside and rewritten by an editor", "edited", func(t *testing.T, data []byte) {
			if err := os.Rename(path, path+"~"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted and created again", "recreated", func(t *testing.T, data []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change(t, oneTaskState(st.taskID))
			waitCluster(t, sink, st.taskID)
		})
	}
}

func TestFileSourceFollowsSymlinkSwap(t *testing.T) {
	// Kubernetes mounts config maps as path -> ..data/file, and swaps ..data.
	dir := t.TempDir()
	for name, id := range map[string]string{"v1": "one", "v2": "two"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "state.json"), oneTaskState(id), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.json")
	if err := os.Symlink("..data/state.json", path); err != nil {
		t.Fatal(err)
	}
	sink := startFileSource(t, path)
	waitCluster(t, sink, "one")

	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink("v2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	waitCluster(t, sink, "two")
}

func TestFileSourceMalformedKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	writeAtomic(t, path, oneTaskState("good"))
	sink := startFileSource(t, path)
	waitCluster(t, sink, "good")

	for _, bad := range []struct{ name, doc string }{
		{"truncated", string(oneTaskState("bad"))[:40]},
		{"not a state", `[]`},
		{"html", `<html>oops</html>`},
	} {
		t.Run(bad.name, func(t *testing.T) {
			writeAtomic(t, path, []byte(bad.doc))
			err := waitFailure(t, sink)
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "decoding mesos state") {
				t.Errorf("failure %q does not name the file and the cause", err)
			}
		})
	}

	writeAtomic(t, path, oneTaskState("recovered"))
	waitCluster(t, sink, "recovered")
}

func TestFileSourceMissingAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	sink := startFileSource(t, path)
	if err := waitFailure(t, sink); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failure = %v, want a missing file", err)
	}
	writeAtomic(t, path, oneTaskState("appeared"))
	waitCluster(t, sink, "appeared")
}

func TestFileSourceUnwatchableDirectory(t *testing.T) {
	src := NewFileSource(filepath.Join(t.TempDir(), "no-such-dir", "state.json"), nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := src.Run(ctx, statetest.NewSink())
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no-such-dir") {
		t.Fatalf("Run = %v, want an error naming the directory", err)
	}
}

func TestFileSourceName(t *testing.T) {
	if got := NewFileSource("deploy/sample/../sample/state.json", nil, nil).Name(); got != "file deploy/sample/state.json" {
		t.Errorf("Name = %q", got)
	}
}
