package mesos

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
)

// BenchmarkPollFetch measures one poll of a 10,000-task master: the HTTP
// request, reading the body and decoding it. The master-side cost of polling is
// reported too: bytes the master serves per poll (state-bytes/op).
func BenchmarkPollFetch(b *testing.B) {
	m, err := fakemaster.New(genMesosState(10000), fakemaster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	p, err := NewPoller(PollConfig{Masters: []string{m.Addr()}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	known := p.m.leader.known()
	ctx := context.Background()
	served := m.BytesServed()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, _, _, err := p.fetchFrom(ctx, m.Addr(), known)
		if err != nil {
			b.Fatal(err)
		}
		if len(c.Tasks) != 10000 {
			b.Fatalf("%d tasks", len(c.Tasks))
		}
	}
	b.ReportMetric(float64(m.BytesServed()-served)/float64(b.N), "state-bytes/op")
}
