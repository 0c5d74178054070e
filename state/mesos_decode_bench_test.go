package state

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkDecodeMesosState measures decoding a whole master state, Seal included:
// the time from a fetched document to a Cluster consumers can use.
func BenchmarkDecodeMesosState(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		data := genMesosState(n)
		b.Run(strconv.Itoa(n/1000)+"k", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			meta := FetchMeta{Source: "bench", FetchedAt: time.Unix(1700000000, 0)}
			for b.Loop() {
				c, err := DecodeMesosState(data, meta)
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
