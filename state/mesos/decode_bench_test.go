package mesos

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/benchenv"
	"github.com/discovery-mesos/discovery/state"
)

// BenchmarkDecodeState measures decoding a whole master state, Seal included:
// the time from a fetched document to a Cluster consumers can use. One
// Decoder decodes every iteration, as a source's decodes one fetch after
// another.
func BenchmarkDecodeState(b *testing.B) {
	benchDecode(b, func(dec *Decoder, data []byte, meta FetchMeta) (*state.Cluster, error) {
		return dec.Decode(data, meta)
	})
}

// BenchmarkDecodeStateFrom is BenchmarkDecodeState decoding from a
// reader, as the sources do.
func BenchmarkDecodeStateFrom(b *testing.B) {
	benchDecode(b, func(dec *Decoder, data []byte, meta FetchMeta) (*state.Cluster, error) {
		return dec.DecodeFrom(bytes.NewReader(data), meta)
	})
}

// benchDecode measures decode on states of 10,000 and 100,000 tasks, with one
// Decoder for every iteration.
func benchDecode(b *testing.B, decode func(dec *Decoder, data []byte, meta FetchMeta) (*state.Cluster, error)) {
	for _, n := range []int{10_000, 100_000} {
		data := genMesosState(n)
		b.Run(strconv.Itoa(n/1000)+"k", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			meta := FetchMeta{Source: "bench", FetchedAt: time.Unix(1700000000, 0)}
			var dec Decoder
			defer reportCPU(b)()
			for b.Loop() {
				c, err := decode(&dec, data, meta)
				if err != nil {
					b.Fatal(err)
				}
				if len(c.Tasks) != n {
					b.Fatalf("decoded %d tasks, want %d", len(c.Tasks), n)
				}
			}
		})
	}
}

// reportCPU reports the CPU time (user and system, the collector's included)
// per operation, when deferred from the benchmark's start: on a machine shared
// with other work it varies much less than the wall time ns/op reports.
func reportCPU(b *testing.B) func() {
	start := benchenv.CPUTime()
	return func() {
		b.ReportMetric(float64((benchenv.CPUTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
