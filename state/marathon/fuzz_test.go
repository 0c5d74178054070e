package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/discovery-mesos/discovery/state"
)

// FuzzDecodeApps feeds arbitrary bytes to the /v2/apps decoder: it must
// never panic, and whatever it accepts must be a well-formed, sealed set.
func FuzzDecodeApps(f *testing.F) {
	for _, doc := range marSeedDocs(f) {
		f.Add(doc)
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

// FuzzDecodeAppsAsEncodingJSON checks the streaming decoder against
// encoding/json decoding the same wire structs: both accept the same documents
// and make the same sets of them, read whole or a few bytes at a time.
func FuzzDecodeAppsAsEncodingJSON(f *testing.F) {
	for _, doc := range marSeedDocs(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if appsArrays(data) > 1 {
			// encoding/json decodes a second "apps" array into the first's
			// elements (fields the second leaves out keep the first's
			// values); DecodeApps takes the second as it stands.
			t.Skip()
		}
		want, wantErr := decodeAppsReference(data)
		for _, how := range []string{"bytes", "reader"} {
			var got *state.AppSet
			var err error
			if how == "bytes" {
				got, err = DecodeApps(data, "fuzz", time.Time{})
			} else {
				got, err = DecodeAppsFrom(iotest.HalfReader(bytes.NewReader(data)), "fuzz", time.Time{})
			}
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%s: error %v, encoding/json's %v", how, err, wantErr)
			}
			if err != nil {
				continue
			}
			if diff := cmp.Diff(want, got, marCmpOpts); diff != "" {
				t.Fatalf("%s: set differs from encoding/json's (-want +got):\n%s", how, diff)
			}
		}
	})
}

// appsArrays counts the top-level members of data that encoding/json would
// decode into the apps list as arrays.
func appsArrays(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0
	}
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return n
		}
		if k, _ := tok.(string); strings.EqualFold(k, "apps") && bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			n++
		}
	}
	return n
}

// decodeAppsReference is DecodeApps done with encoding/json: the wire structs
// decoded in one go, then converted.
func decodeAppsReference(data []byte) (*state.AppSet, error) {
	var doc marathonAppsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Apps == nil {
		return nil, errors.New("no apps")
	}
	set := &state.AppSet{Source: "fuzz", Apps: []state.App{}}
	for i := range *doc.Apps {
		w := &(*doc.Apps)[i]
		app, tasksLeftOut, err := convertMarathonApp(w)
		set.LeftOut = append(set.LeftOut, tasksLeftOut...)
		if err != nil {
			set.LeftOut = append(set.LeftOut, appLeftOut(w.ID, err))
			continue
		}
		set.Apps = append(set.Apps, app)
	}
	return set.Seal(), nil
}

// marSeedDocs is the fuzz targets' corpus: the fixtures and documents that
// reach every branch of the decoder.
func marSeedDocs(f *testing.F) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "marathon", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	var docs [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		docs = append(docs, b)
	}
	for _, doc := range []string{
		`{"apps":[]}`,
		`{"apps":null}`,
		`{"message":"x"}`,
		`{"apps":[{"id":"/a","ipAddress":{"discovery":{"ports":[{"number":80,"name":"h","protocol":"tcp"}]}},"tasks":[{"id":"a.1","host":"127.0.0.1","ipAddresses":[{"ipAddress":"127.0.0.2"}],"ports":[1]}]}]}`,
		`{"apps":[{"id":"/b","container":{"docker":{"network":"BRIDGE","portMappings":[{"containerPort":80,"servicePort":10000}]}},"readinessCheckResults":[{"taskId":"b.1","ready":false}],"tasks":[{"id":"b.1","healthCheckResults":[{"alive":true}],"startedAt":"2016-02-01T22:14:03.432Z"}]}]}`,
		`{"apps":[{"id":"/c","networks":[{"mode":"container"},{}],"container":{"portMappings":[{"containerPort":1}]},"ipAddress":{}}]}`,
		`{"APPS":[{"ID":"/x","Labels":{"a":"b"}}],"apps":[{"id":"/y","id":"/z","tasks":[null,{"id":"t","ports":[1.5]}]}]}`,
		`{"apps":[{"id":"/\u00e9","labels":{"k":"\ud83d\ude00","k":null},"portDefinitions":[{"port":80,"labels":{}}],"versionInfo":null,"deployments":[{"id":"d"}],"healthChecks":[{"port":1}]}],"x":[true,false,null,-0.5e+3,{}]}`,
		`{"apps":[{"id":"/a","tasks":[{"id":"a.1","healthCheckResults":null,"draining":true,"state":"TASK_RUNNING","slaveId":"s"}]}]} `,
		`{"apps":[1]}`,
		`[{"apps":[]}]`,
	} {
		docs = append(docs, []byte(doc))
	}
	return docs
}
