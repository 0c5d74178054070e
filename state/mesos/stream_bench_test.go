package mesos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/master"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// getStateV1 asks a fake master for GET_STATE, the state a SUBSCRIBED carries.
func getStateV1(tb testing.TB, m *fakemaster.Master) *master.Response_GetState {
	tb.Helper()
	resp, err := http.Post(m.URL()+"/api/v1", "application/json", bytes.NewReader([]byte(`{"type":"GET_STATE"}`)))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET_STATE: %v %s", err, resp.Status)
	}
	var r master.Response
	if err := json.Unmarshal(data, &r); err != nil {
		tb.Fatal(err)
	}
	return r.GetState
}

// taskUpdatedRecord is a TASK_UPDATED event moving a task to a new address.
func taskUpdatedRecord(fw, id string, i int) []byte {
	return []byte(fmt.Sprintf(`{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":%q},"state":"TASK_RUNNING",`+
		`"status":{"task_id":{"value":%q},"state":"TASK_RUNNING","timestamp":%d.5,"healthy":%t,`+
		`"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"127.6.%d.%d"}]}]}}}}`,
		fw, id, 1800000000+i, i%2 == 0, (i/250)%250, 1+i%250))
}

// streamModel10k is a stream model reset from a 10,000-task (fake) master and
// 1,024 TASK_UPDATED records for its tasks, spread across them.
func streamModel10k(b *testing.B) (*streamModel, [][]byte) {
	return streamModelOf(b, genMesosState(10000))
}

// streamModelOf is a stream model reset from a (fake) master serving the
// state doc and 1,024 TASK_UPDATED records for its tasks, spread across them.
func streamModelOf(b *testing.B, doc []byte) (*streamModel, [][]byte) {
	b.Helper()
	m, err := fakemaster.New(doc, fakemaster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m.EnableOperatorAPI()
	st := getStateV1(b, m)
	// The fake master's copy of the state must not count as the stream's
	// (BenchmarkStreamUpdate100k reports the heap).
	m.Close()
	http.DefaultClient.CloseIdleConnections()
	model := newStreamModel()
	model.reset(st, map[string]string{})
	tasks := st.GetTasks.Tasks
	recs := make([][]byte, 1024)
	for i := range recs {
		t := &tasks[(i*7919)%len(tasks)]
		recs[i] = taskUpdatedRecord(t.FrameworkID.Value, t.TaskID.Value, i)
	}
	return model, recs
}

// mustDecodeEvent decodes one record, failing the benchmark when it cannot.
func mustDecodeEvent(b *testing.B, rec []byte) *master.Event {
	e, _, err := decodeEvent(rec)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkStreamUpdate10k measures what one event costs the stream in a
// 10,000-task cluster, from the record's bytes to a sealed Cluster handed to
// the sink: decoding the TASK_UPDATED record, applying it to the model, and
// rebuilding and sealing the view (once per batch; here every event is its
// own batch, the worst case).
func BenchmarkStreamUpdate10k(b *testing.B) {
	benchStreamUpdate(b, 10000, streamModel10k)
}

// benchStreamUpdate measures one TASK_UPDATED event per op on the model
// newModel makes, of the given number of tasks, each event its own batch.
// It reports the CPU time per op (cpu-ns/op, the collector's included) and
// the heap the stream holds between events (view-heap-MB: its model and the
// last view, less what the process held before the setup).
func benchStreamUpdate(b *testing.B, tasks int, newModel func(*testing.B) (*streamModel, [][]byte)) {
	base := heapInUse()
	model, recs := newModel(b)
	if len(model.order) != tasks {
		b.Fatalf("%d tasks, want %d", len(model.order), tasks)
	}
	sink := statetest.NewLatestSink()
	sink.PublishCluster(model.build("mesos", time.Now(), nil))
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		if changed, _ := model.apply(mustDecodeEvent(b, recs[i%len(recs)])); !changed {
			b.Fatal("event changed nothing")
		}
		sink.PublishCluster(model.build("mesos", time.Now(), nil))
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(heapInUse()-base)/(1<<20), "view-heap-MB")
	runtime.KeepAlive(model)
	runtime.KeepAlive(sink)
}

// heapInUse is the heap the live objects take after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkStreamApplyOnly10k is BenchmarkStreamUpdate10k without the rebuild:
// the O(1) part of an event, which a batch of events pays per event.
func BenchmarkStreamApplyOnly10k(b *testing.B) {
	model, recs := streamModel10k(b)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		model.apply(mustDecodeEvent(b, recs[i%len(recs)]))
		i++
	}
}

// BenchmarkStreamEndToEnd10k measures the time from a change at a 10,000-task
// (fake) master to the stream source handing the sink a view that shows it,
// over HTTP: the master encoding and sending the event, the source reading,
// decoding and applying it, rebuilding and sealing the view. It reports the
// median and the 99th percentile, and the bytes the master sent per event
// (compare state-bytes/op of BenchmarkPollFetch: what one poll costs),
// and what the subscription cost: bytes (SUBSCRIBED, GET_MASTER, the state
// summary) and the time to the first view.
func BenchmarkStreamEndToEnd10k(b *testing.B) {
	m, err := fakemaster.New(genMesosState(10000), fakemaster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	api := m.EnableOperatorAPI()
	api.SetHeartbeat(time.Second)
	s, err := NewStream(StreamConfig{PollConfig: PollConfig{Masters: []string{m.Addr()}}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	sink := &probeSink{seen: make(chan struct{}, 1)}
	subscribeBegan := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	ids, err := api.TaskIDs()
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(ids)
	// Wait for the first view.
	sink.expect("", "")
	for {
		if c := sink.latest(); c != nil && len(c.Tasks) == 10000 {
			break
		}
		<-sink.seen
	}
	subscribeTook := time.Since(subscribeBegan)
	var lat []time.Duration
	before := s.BytesReceived()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		id := ids[(i*7919)%len(ids)]
		ip := "127.5." + strconv.Itoa((i/250)%250) + "." + strconv.Itoa(1+i%250)
		sink.expect(id, ip)
		began := time.Now()
		err := api.UpdateTask(id, "TASK_RUNNING", map[string]any{
			"timestamp": 1800000000.0 + float64(i),
			"container_status": map[string]any{"network_infos": []any{map[string]any{
				"ip_addresses": []any{map[string]any{"ip_address": ip}}}}},
		})
		if err != nil {
			b.Fatal(err)
		}
		<-sink.seen
		lat = append(lat, time.Since(began))
		i++
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(s.BytesReceived()-before)/float64(len(lat)), "stream-bytes/event")
	b.ReportMetric(float64(before), "subscribe-bytes")
	b.ReportMetric(float64(subscribeTook.Microseconds())/1000, "subscribe-ms")
}

// probeSink signals when a published view shows the expected task address.
type probeSink struct {
	mu       sync.Mutex
	c        *state.Cluster
	id, ip   string
	seen     chan struct{}
	lastSeen uint64
}

func (p *probeSink) expect(id, ip string) {
	p.mu.Lock()
	p.id, p.ip = id, ip
	p.mu.Unlock()
}

func (p *probeSink) latest() *state.Cluster {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.c
}

func (p *probeSink) PublishCluster(c *state.Cluster) {
	p.mu.Lock()
	p.c = c
	id, ip := p.id, p.ip
	p.mu.Unlock()
	hit := id == ""
	if !hit {
		i, ok := slices.BinarySearchFunc(c.Tasks, id, func(t *state.Task, id string) int {
			switch {
			case t.ID < id:
				return -1
			case t.ID > id:
				return 1
			}
			return 0
		})
		hit = ok && len(c.Tasks[i].NetInfo) == 1 && c.Tasks[i].NetInfo[0].String() == ip
	}
	if hit {
		select {
		case p.seen <- struct{}{}:
		default:
		}
	}
}

func (p *probeSink) PublishApps(*state.AppSet) {}
func (p *probeSink) FetchFailed(string, error) {}
