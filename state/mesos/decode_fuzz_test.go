package mesos

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

// FuzzDecodeState checks that no input makes the decoder panic, that it
// never accepts what is not JSON, and that what it accepts decodes to a sealed,
// stable cluster.
func FuzzDecodeState(f *testing.F) {
	// Seeds stay small: the fuzzer minimizes every new finding, which takes
	// minutes for a document the size of the fixture.
	f.Add(genMesosState(1))
	for _, doc := range []string{
		mesos028, mesos1x,
		``, `{}`, `[]`, `"x"`, `null`, `<html></html>`,
		`{"leader": "master@127.0.0.1:5050"}`,
		`{"leader_info": {"ip": 16777343, "port": 5050}}`,
		`{"leader": "master@[::1]:5050", "frameworks": [{"id": "F", "pid": "s@[::1]:1", "tasks": [{"id": "T", "resources": {"ports": "[1-2, 3]"}}]}]}`,
		`{"leader": "m@127.0.0.1:1", "frameworks": [{"tasks": [{"statuses": [{"state": "TASK_RUNNING", "timestamp": 1e3, "healthy": true,
			"labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "::1"}],
			"container_status": {"network_infos": [{"ip_address": "127.0.0.1", "ip_addresses": []}]}}]}]}]}`,
		`{"leader": "m@127.0.0.1:1", "x": "\ud83d\ude00\u0000\"\\"}`,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeState(data, FetchMeta{Source: "fuzz"})
		if err != nil {
			if c != nil {
				t.Fatal("a cluster came back with an error")
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted a document that is not JSON: %q", data)
		}
		if !slices.IsSortedFunc(c.Tasks, func(a, b *state.Task) int { return strings.Compare(a.ID, b.ID) }) {
			t.Fatal("tasks not sorted")
		}
		for i := range c.Agents {
			if c.Agent(c.Agents[i].ID) == nil {
				t.Fatalf("agent %q not indexed", c.Agents[i].ID)
			}
		}
		again, err := DecodeState(data, FetchMeta{Source: "fuzz"})
		if err != nil || again.Digest != c.Digest {
			t.Fatalf("second decode differs: %v", err)
		}
	})
}
