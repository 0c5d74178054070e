package sim

import (
	"testing"
	"time"
)

// BenchmarkNew10k measures building a 10,000-task cluster (1,000 apps of 10).
func BenchmarkNew10k(b *testing.B) {
	for b.Loop() {
		c, err := New(Config{Apps: 1000, TasksPerApp: 10, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkStep10k measures one random change in a 10,000-task cluster: the
// cost of publishing it to the master (a state document rewrite and its
// events) and to Marathon.
func BenchmarkStep10k(b *testing.B) {
	c, err := New(Config{Apps: 1000, TasksPerApp: 10, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := NewRand(2)
	start := time.Now()
	for b.Loop() {
		if _, err := c.Step(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.Seq())/time.Since(start).Seconds(), "changes/s")
}
