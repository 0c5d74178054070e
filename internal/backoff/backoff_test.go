package backoff

import (
	"context"
	"testing"
	"time"
)

func TestNextDoublesWithinBoundsAndResets(t *testing.T) {
	b := New(100*time.Millisecond, time.Second)
	steps := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, s := range steps {
		step := s * time.Millisecond
		d := b.Next()
		if d < step/2 || d > step {
			t.Fatalf("step %d: delay %v outside [%v, %v]", i, d, step/2, step)
		}
	}
	b.Reset()
	if d := b.Next(); d < 50*time.Millisecond || d > 100*time.Millisecond {
		t.Fatalf("after Reset: delay %v, want within [50ms, 100ms]", d)
	}
}

func TestAttemptFollowsTheSameCurve(t *testing.T) {
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		step := want * time.Millisecond
		for range 100 {
			d := Attempt(n, 100*time.Millisecond, time.Second)
			if d < step/2 || d > step {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", n, d, step/2, step)
			}
		}
	}
}

func TestJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		seen[Jitter(time.Second)] = true
	}
	if len(seen) < 100 {
		t.Fatalf("200 draws gave only %d distinct delays: no jitter", len(seen))
	}
	if Jitter(1) != 1 || Jitter(0) != 0 {
		t.Fatal("delays too small to halve are returned as they are")
	}
}

func TestMaxBelowMinIsRaised(t *testing.T) {
	b := New(time.Second, time.Millisecond)
	for range 5 {
		if d := b.Next(); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("delay %v, want within [500ms, 1s]", d)
		}
	}
}

func TestSleepStopsWithItsContext(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep of 1ms with a live context reported it was cut short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep with a done context reported the hour passed")
	}
}

func TestSleepOrWake(t *testing.T) {
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	began := time.Now()
	if !SleepOrWake(context.Background(), time.Hour, wake) {
		t.Fatal("woken: reported ctx done")
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Fatalf("a wake did not cut the hour short (%v)", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if SleepOrWake(ctx, time.Hour, nil) {
		t.Fatal("ctx done: reported the wait passed")
	}
	if !SleepOrWake(context.Background(), time.Millisecond, nil) {
		t.Fatal("the delay passed: reported ctx done")
	}
}
