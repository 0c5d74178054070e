package marathon

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// FuzzDecodeApps feeds arbitrary bytes to the /v2/apps decoder: it must
// never panic, and whatever it accepts must be a well-formed, sealed set.
func FuzzDecodeApps(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "marathon", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, doc := range []string{
		`{"apps":[]}`,
		`{"apps":null}`,
		`{"message":"x"}`,
		`{"apps":[{"id":"/a","ipAddress":{"discovery":{"ports":[{"number":80,"name":"h","protocol":"tcp"}]}},"tasks":[{"id":"a.1","host":"127.0.0.1","ipAddresses":[{"ipAddress":"127.0.0.2"}],"ports":[1]}]}]}`,
		`{"apps":[{"id":"/b","container":{"docker":{"network":"BRIDGE","portMappings":[{"containerPort":80,"servicePort":10000}]}},"readinessCheckResults":[{"taskId":"b.1","ready":false}],"tasks":[{"id":"b.1","healthCheckResults":[{"alive":true}],"startedAt":"2016-02-01T22:14:03.432Z"}]}]}`,
		`{"apps":[{"id":"/c","networks":[{"mode":"container"},{}],"container":{"portMappings":[{"containerPort":1}]},"ipAddress":{}}]}`,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := DecodeApps(data, "fuzz", time.Time{})
		if err != nil {
			if set != nil {
				t.Fatal("set returned with an error")
			}
			return
		}
		if !slices.IsSortedFunc(set.Apps, func(a, b state.App) int { return strings.Compare(a.ID, b.ID) }) {
			t.Fatal("apps not sorted")
		}
		for _, a := range set.Apps {
			if a.ID == "" {
				t.Fatal("app without id accepted")
			}
			if !slices.IsSortedFunc(a.Tasks, func(x, y state.AppTask) int { return strings.Compare(x.ID, y.ID) }) {
				t.Fatal("tasks not sorted")
			}
			for _, p := range a.Ports {
				for _, n := range []int{p.ServicePort, p.ContainerPort, p.HostPort} {
					if n < 0 || n > 65535 {
						t.Fatalf("port %d accepted", n)
					}
				}
			}
			for _, tk := range a.Tasks {
				if tk.ID == "" {
					t.Fatal("task without id accepted")
				}
				for _, ip := range tk.IPs {
					if !ip.IsValid() {
						t.Fatal("invalid IP kept")
					}
				}
			}
		}
		again, err := DecodeApps(data, "other", time.Unix(1, 0))
		if err != nil || again.Digest != set.Digest {
			t.Fatalf("decoding twice: err %v, digest %x vs %x", err, again.Digest, set.Digest)
		}
	})
}
