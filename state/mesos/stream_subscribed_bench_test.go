package mesos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/mesos/mesos-go/api/v1/lib/master"
)

// subscribedFixtures are the SUBSCRIBED event of a generated state in v1
// JSON and in the operator API's protobuf encoding (application/x-protobuf),
// by task count; built once per process (the 100,000-task one takes
// seconds).
var subscribedFixtures = struct {
	sync.Mutex
	json, proto map[int][]byte
}{json: map[int][]byte{}, proto: map[int][]byte{}}

func subscribedFixture(b *testing.B, tasks int) (js, pb []byte) {
	b.Helper()
	subscribedFixtures.Lock()
	defer subscribedFixtures.Unlock()
	if js := subscribedFixtures.json[tasks]; js != nil {
		return js, subscribedFixtures.proto[tasks]
	}
	js = subscribedRecord(getStateJSON(b, genMesosState(tasks)), true)
	var e master.Event
	if err := json.Unmarshal(js, &e); err != nil {
		b.Fatal(err)
	}
	pb, err := e.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	subscribedFixtures.json[tasks], subscribedFixtures.proto[tasks] = js, pb
	return js, pb
}

// BenchmarkDecodeSubscribed compares ways to take the SUBSCRIBED event of
// 10,000 and 100,000 tasks: decoded as it is read into the slim model (what
// the stream does), encoding/json into mesos-go's types (what it did), and
// the protobuf encoding into mesos-go's types (gogo's generated code; the
// operator API serves it on Accept: application/x-protobuf). It reports the
// record's size; bytes/op and allocs/op are the decoding's.
func BenchmarkDecodeSubscribed(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		name := strconv.Itoa(n/1000) + "k"
		bench := func(what string, data func(js, pb []byte) []byte, decode func([]byte) error) {
			b.Run(name+"/"+what, func(b *testing.B) {
				in := data(subscribedFixture(b, n))
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := decode(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		js := func(js, _ []byte) []byte { return js }
		pb := func(_, pb []byte) []byte { return pb }
		tasksLost := fmt.Errorf("not %d tasks", n)
		bench("json-streamed", js, func(in []byte) error {
			ss, err := decodeSubscribed(bytes.NewReader(in), 0)
			if err == nil && len(ss.tasks) != n {
				err = tasksLost
			}
			return err
		})
		bench("json-mesos-go", js, func(in []byte) error {
			var e master.Event
			return json.Unmarshal(in, &e)
		})
		bench("protobuf-mesos-go", pb, func(in []byte) error {
			var e master.Event
			return e.Unmarshal(in)
		})
		bench("protobuf-mesos-go+convert", pb, func(in []byte) error {
			var e master.Event
			err := e.Unmarshal(in)
			if err == nil && len(subscribedFromV1(e.Subscribed).tasks) != n {
				err = tasksLost
			}
			return err
		})
	}
}
