package mesos

import (
	"runtime"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// The 100,000-task cluster of bench/freshness: 1,000 apps of 100 tasks on
// 500 agents.
const (
	bigTasks  = 100_000
	bigApps   = 1_000
	bigAgents = 500
)

// streamModel100k is streamModel10k for the 100,000-task cluster.
func streamModel100k(b *testing.B) (*streamModel, [][]byte) {
	return streamModelOf(b, genMesosStateShaped(bigTasks, bigApps, bigAgents))
}

// BenchmarkStreamUpdate100k is BenchmarkStreamUpdate10k in the
// 100,000-task cluster: the heap it reports (view-heap-MB) is the daemon's
// floor at this size.
func BenchmarkStreamUpdate100k(b *testing.B) {
	benchStreamUpdate(b, bigTasks, streamModel100k)
}

// BenchmarkDecodeState100kShaped is BenchmarkDecodeState/100k on the
// cluster of bench/freshness, reporting too the heap one polled view holds
// (view-heap-MB), the document collected.
func BenchmarkDecodeState100kShaped(b *testing.B) {
	data := genMesosStateShaped(bigTasks, bigApps, bigAgents)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	meta := FetchMeta{Source: "bench", FetchedAt: time.Unix(1700000000, 0)}
	var dec Decoder
	var c *state.Cluster
	defer reportCPU(b)()
	for b.Loop() {
		c = nil // collectable while the next one decodes, as in a poller
		var err error
		if c, err = dec.Decode(data, meta); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if len(c.Tasks) != bigTasks {
		b.Fatalf("decoded %d tasks, want %d", len(c.Tasks), bigTasks)
	}
	data = nil
	with := heapInUse()
	runtime.KeepAlive(c)
	c = nil
	b.ReportMetric(float64(with-heapInUse())/(1<<20), "view-heap-MB")
}
