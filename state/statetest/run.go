package statetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// Run runs src into sink until the test ends; then it cancels src and wants
// Run to return context.Canceled within 10 s.
func Run(t testing.TB, src state.Source, sink state.Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not stop within 10s of its context ending", src.Name())
		}
	})
}
