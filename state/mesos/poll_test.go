package mesos

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

func servedBy(m *fakemaster.Master) func(*state.Cluster) bool {
	return func(c *state.Cluster) bool { return c.Leader.Port == m.Port() && c.Leader.Host == m.Host() }
}

// runPoller starts a poller for cfg and stops it when the test ends.
func runPoller(t *testing.T, cfg PollConfig) (*Poller, *statetest.Sink) {
	t.Helper()
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = 20 * time.Millisecond
	}
	if cfg.StateTimeout == 0 {
		cfg.StateTimeout = 5 * time.Second
	}
	p, err := NewPoller(cfg, statetest.Log(t))
	if err != nil {
		t.Fatalf("NewPoller: %v", err)
	}
	sink := statetest.NewSink()
	statetest.Run(t, p, sink)
	return p, sink
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	addr := m.Addr()
	m.Close()
	return addr
}

func TestPollFollowsLeader(t *testing.T) {
	fix := fakemaster.Fixture()
	tests := []struct {
		name string
		// setup returns the static masters list and the master expected to serve.
		setup func(t *testing.T) ([]string, *fakemaster.Master, *fakemaster.Master)
	}{
		{
			name: "first master redirects to the second",
			setup: func(t *testing.T) ([]string, *fakemaster.Master, *fakemaster.Master) {
				m1 := fakemaster.Start(t, fix, fakemaster.Options{})
				m2 := fakemaster.Start(t, fix, fakemaster.Options{})
				m1.SetLeader(m2.Addr())
				return []string{m1.Addr(), m2.Addr()}, m1, m2
			},
		},
		{
			name: "redirect to a leader not in the list",
			setup: func(t *testing.T) ([]string, *fakemaster.Master, *fakemaster.Master) {
				m1 := fakemaster.Start(t, fix, fakemaster.Options{})
				m3 := fakemaster.Start(t, fix, fakemaster.Options{})
				m1.SetLeader(m3.Addr())
				return []string{m1.Addr()}, m1, m3
			},
		},
		{
			name: "pre-1.1 follower serving state that names the leader",
			setup: func(t *testing.T) ([]string, *fakemaster.Master, *fakemaster.Master) {
				m1 := fakemaster.Start(t, fix, fakemaster.Options{})
				m2 := fakemaster.Start(t, fix, fakemaster.Options{})
				m1.SetLeader(m2.Addr())
				m1.SetMode(fakemaster.StaleFollower)
				return []string{m1.Addr(), m2.Addr()}, m1, m2
			},
		},
		{
			name: "first master down",
			setup: func(t *testing.T) ([]string, *fakemaster.Master, *fakemaster.Master) {
				m2 := fakemaster.Start(t, fix, fakemaster.Options{})
				return []string{deadAddr(t), m2.Addr()}, nil, m2
			},
		},
		{
			name: "first master without a leader",
			setup: func(t *testing.T) ([]string, *fakemaster.Master, *fakemaster.Master) {
				m1 := fakemaster.Start(t, fix, fakemaster.Options{})
				m1.SetMode(fakemaster.NoLeader)
				m2 := fakemaster.Start(t, fix, fakemaster.Options{})
				return []string{m1.Addr(), m2.Addr()}, m1, m2
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			masters, first, leader := tt.setup(t)
			_, sink := runPoller(t, PollConfig{Masters: masters})
			c := sink.NextCluster(t, 5*time.Second, "served by the leader", servedBy(leader))
			if len(c.Tasks) == 0 || len(c.Agents) == 0 {
				t.Errorf("cluster has %d tasks and %d agents", len(c.Tasks), len(c.Agents))
			}
			if c.Source != "mesos" {
				t.Errorf("Source = %q, want the source name", c.Source)
			}
			// Cluster.Masters is the static list, in configured order.
			if len(c.Masters) != len(masters) {
				t.Fatalf("Masters = %+v, want %v", c.Masters, masters)
			}
			for i, m := range c.Masters {
				if masterAddr(m) != masters[i] {
					t.Errorf("Masters[%d] = %s, want %s", i, masterAddr(m), masters[i])
				}
			}
			// Later fetches go straight to the leader.
			if first != nil {
				before := first.Requests()
				sink.SkipClusters()
				sink.NextCluster(t, 5*time.Second, "on a later fetch", servedBy(leader))
				sink.NextCluster(t, 5*time.Second, "on a later fetch", servedBy(leader))
				if after := first.Requests(); after != before {
					t.Errorf("the non-leader got %d more requests after the leader was known", after-before)
				}
			}
		})
	}
}

func TestPollRedirectLoopFails(t *testing.T) {
	m1 := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	m2 := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	m1.SetLeader(m2.Addr())
	m2.SetLeader(m1.Addr())
	_, sink := runPoller(t, PollConfig{Masters: []string{m1.Addr()}})
	err := sink.NextFailure(t, 5*time.Second, "gave up after 3 hops")
	if !strings.Contains(err.Error(), m1.URL()) {
		t.Errorf("error %q does not name the master %s", err, m1.URL())
	}
	if n := sink.SkipClusters(); n != 0 {
		t.Errorf("%d clusters published from a redirect loop", n)
	}
}

func TestPollOldMasterFallsBackToStateJSON(t *testing.T) {
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{Old: true})
	_, sink := runPoller(t, PollConfig{Masters: []string{m.Addr()}})
	for range 3 {
		sink.NextCluster(t, 5*time.Second, "from the old master", servedBy(m))
	}
	if got := m.RequestsFor("/master/state"); got != 1 {
		t.Errorf("/master/state asked %d times, want once (then remembered)", got)
	}
	if got := m.RequestsFor("/master/state.json"); got < 3 {
		t.Errorf("/master/state.json asked %d times, want at least 3", got)
	}
}

func TestPollSeesStateChanges(t *testing.T) {
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	_, sink := runPoller(t, PollConfig{Masters: []string{m.Addr()}})
	before := sink.NextCluster(t, 5*time.Second, "first", servedBy(m))
	if len(before.Tasks) == 0 {
		t.Fatal("fixture has no tasks")
	}
	err := m.EditState(func(doc map[string]any) error {
		for _, f := range doc["frameworks"].([]any) {
			f.(map[string]any)["tasks"] = []any{}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sink.NextCluster(t, 5*time.Second, "without tasks", func(c *state.Cluster) bool { return len(c.Tasks) == 0 })
}

func TestPollKeepsLastGood(t *testing.T) {
	tests := []struct {
		name  string
		setup func(m *fakemaster.Master)
		want  string // in the reported error
	}{
		{"garbage", func(m *fakemaster.Master) { m.SetMode(fakemaster.Garbage) }, "decoding state"},
		{"truncated", func(m *fakemaster.Master) { m.SetMode(fakemaster.Truncated) }, "decoding state"},
		{"no leader", func(m *fakemaster.Master) { m.SetMode(fakemaster.NoLeader) }, "503"},
		{"slow", func(m *fakemaster.Master) {
			m.SetDelay(time.Hour)
			m.SetMode(fakemaster.Slow)
		}, "stateTimeoutSeconds"},
		{"huge chunked", func(m *fakemaster.Master) {
			// Tiny objects: what they decode into passes the limit long
			// before the bytes do.
			m.SetHuge(100<<20, false)
			m.SetMode(fakemaster.Huge)
		}, "maxStateBytes"},
		{"huge with length", func(m *fakemaster.Master) {
			m.SetHuge(100<<20, true)
			m.SetMode(fakemaster.Huge)
		}, "maxStateBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
			_, sink := runPoller(t, PollConfig{
				Masters:       []string{m.Addr()},
				StateTimeout:  300 * time.Millisecond,
				MaxStateBytes: 1 << 20,
			})
			sink.NextCluster(t, 5*time.Second, "before the fault", servedBy(m))

			tt.setup(m)
			err := sink.NextFailure(t, 5*time.Second, tt.want)
			if !strings.Contains(err.Error(), m.URL()) {
				t.Errorf("error %q does not name the master %s", err, m.URL())
			}
			// Clusters fetched before the fault may still be queued; after the
			// first failure nothing may be published while the fault lasts.
			sink.SkipClusters()
			bytesBefore := m.BytesServed()
			sink.NextFailure(t, 5*time.Second, tt.want)
			sink.NextFailure(t, 5*time.Second, tt.want)
			if n := sink.SkipClusters(); n != 0 {
				t.Errorf("%d clusters published while the master was broken", n)
			}
			// Two fetches of a huge body may not cost anywhere near 2×100 MB.
			if served := m.BytesServed() - bytesBefore; served > 40<<20 {
				t.Errorf("master wrote %d bytes for two failed fetches", served)
			}

			m.SetMode(fakemaster.Leading)
			sink.NextCluster(t, 5*time.Second, "after recovery", servedBy(m))
		})
	}
}

func TestPollBasicAuth(t *testing.T) {
	tests := []struct {
		name, principal, secret string
		auth                    string
		ok                      bool
	}{
		{"right credentials", "dns", "s3cret", AuthBasic, true},
		{"wrong secret", "dns", "wrong", AuthBasic, false},
		{"no authentication", "", "", AuthNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
			m.RequireBasicAuth("dns", "s3cret")
			_, sink := runPoller(t, PollConfig{
				Masters: []string{m.Addr()},
				HTTPConfig: HTTPConfig{
					Authentication: tt.auth, Principal: tt.principal, Secret: tt.secret,
				},
			})
			if tt.ok {
				sink.NextCluster(t, 5*time.Second, "with credentials", servedBy(m))
				return
			}
			err := sink.NextFailure(t, 5*time.Second, "401")
			if strings.Contains(err.Error(), "s3cret") || (tt.secret != "" && strings.Contains(err.Error(), tt.secret)) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestPollTLS(t *testing.T) {
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{TLS: true})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, m.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		http HTTPConfig
		fail string // "" = succeeds
	}{
		{"CA file", HTTPConfig{HTTPS: true, CACertFile: ca}, ""},
		{"insecure", HTTPConfig{HTTPS: true, InsecureSkipVerify: true}, ""},
		// As mesos-dns: without a CA file the certificate is not verified
		// (the daemon warns about it).
		{"no CA file", HTTPConfig{HTTPS: true}, ""},
		{"CA file of another CA", HTTPConfig{HTTPS: true, CACertFile: "testdata/unrelated-ca.pem"}, "certificate"},
		{"plain HTTP to a TLS master", HTTPConfig{}, "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sink := runPoller(t, PollConfig{Masters: []string{m.Addr()}, HTTPConfig: tt.http})
			if tt.fail == "" {
				sink.NextCluster(t, 5*time.Second, "over TLS", servedBy(m))
				return
			}
			sink.NextFailure(t, 5*time.Second, tt.fail)
		})
	}
}

func TestNewPollerValidation(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  PollConfig
		want string // "" = valid
	}{
		{"masters only", PollConfig{Masters: []string{"127.0.0.1:5050", "[::1]:5050", "m1.example:5050"}}, ""},
		{"zk only", PollConfig{ZK: "zk://127.0.0.1:2181/mesos"}, ""},
		{"nothing to follow", PollConfig{}, "masters, zk"},
		{"master without port", PollConfig{Masters: []string{"127.0.0.1:5050", "127.0.0.2"}}, "masters[1]"},
		{"master with bad port", PollConfig{Masters: []string{"127.0.0.1:http"}}, "masters[0]"},
		{"master twice", PollConfig{Masters: []string{"127.0.0.1:5050", "127.0.0.1:5050"}}, "listed twice"},
		{"bad zk", PollConfig{ZK: "http://127.0.0.1:2181/mesos"}, "zk:"},
		{"negative refresh", PollConfig{Masters: []string{"127.0.0.1:5050"}, RefreshInterval: -time.Second}, "refreshSeconds"},
		{"negative timeout", PollConfig{Masters: []string{"127.0.0.1:5050"}, StateTimeout: -time.Second}, "stateTimeoutSeconds"},
		{"negative zk timeout", PollConfig{ZK: "zk://127.0.0.1:2181/mesos", ZKDetectionTimeout: -1}, "zkDetectionTimeout"},
		{"negative max bytes", PollConfig{Masters: []string{"127.0.0.1:5050"}, MaxStateBytes: -1}, "MaxStateBytes"},
		{"basic without principal", PollConfig{Masters: []string{"127.0.0.1:5050"},
			HTTPConfig: HTTPConfig{Authentication: AuthBasic}}, "mesosCredentials"},
		{"iam without a file", PollConfig{Masters: []string{"127.0.0.1:5050"},
			HTTPConfig: HTTPConfig{Authentication: AuthIAM}}, "IAMConfigFile"},
		{"iam with a file that is not credentials", PollConfig{Masters: []string{"127.0.0.1:5050"},
			HTTPConfig: HTTPConfig{Authentication: AuthIAM, IAMConfigFile: notPEM}}, "IAMConfigFile"},
		{"unknown auth", PollConfig{Masters: []string{"127.0.0.1:5050"},
			HTTPConfig: HTTPConfig{Authentication: "kerberos"}}, "mesosAuthentication"},
		{"missing CA file", PollConfig{Masters: []string{"127.0.0.1:5050"},
			HTTPConfig: HTTPConfig{HTTPS: true, CACertFile: filepath.Join(dir, "nope.pem")}}, "caCertFile"},
		{"CA file without PEM", PollConfig{Masters: []string{"127.0.0.1:5050"},
			HTTPConfig: HTTPConfig{HTTPS: true, CACertFile: notPEM}}, "caCertFile"},
		{"cert without key", PollConfig{Masters: []string{"127.0.0.1:5050"},
			HTTPConfig: HTTPConfig{HTTPS: true, CertFile: notPEM}}, "keyFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPoller(tt.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("no error, want one naming %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
}

func TestPollMetrics(t *testing.T) {
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	reg := prometheus.NewRegistry()
	_, sink := runPoller(t, PollConfig{Masters: []string{m.Addr()}, Registerer: reg})
	sink.NextCluster(t, 5*time.Second, "first", servedBy(m))
	m.SetMode(fakemaster.Garbage)
	sink.NextFailure(t, 5*time.Second, "decoding")

	ok := metricValue(t, reg, "discovery_mesos_fetches_total", "ok")
	failed := metricValue(t, reg, "discovery_mesos_fetches_total", "error")
	if ok < 1 || failed < 1 {
		t.Errorf("fetches ok=%v error=%v, want both at least 1", ok, failed)
	}
	if got := metricValue(t, reg, "discovery_mesos_state_bytes", ""); got < 1000 {
		t.Errorf("state bytes = %v", got)
	}

	// A second poller with the same name cannot register the same series.
	_, err := NewPoller(PollConfig{Masters: []string{m.Addr()}, Registerer: reg}, statetest.Log(t))
	if err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Errorf("second registration: %v", err)
	}
}

// metricValue reads a counter or gauge from reg; result selects the series by
// its "result" label ("" for a metric without one).
func metricValue(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := result == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s{result=%q}", name, result)
	return 0
}

// maxStateBytes bounds what a state decodes into, not its bytes: a document
// three times the bound whose decoded view is small (the completed
// frameworks it carries are left out) is served; one token over the bound
// (which the decoder would have to hold) is refused.
func TestPollStateOverByteBoundDecodedSmall(t *testing.T) {
	pad := func(doc []byte, key, val string) []byte {
		return append([]byte(`{"`+key+`":`+val+`,`), doc[1:]...)
	}
	var done bytes.Buffer
	done.WriteString("[")
	for i := 0; done.Len() < 3<<20; i++ {
		if i > 0 {
			done.WriteString(",")
		}
		fmt.Fprintf(&done, `{"id":"done-%d","name":"old","tasks":[]}`, i)
	}
	done.WriteString("]")
	// Served as they are: the fake master would render its own document.
	serve := func(doc []byte) string {
		var addr string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(bytes.ReplaceAll(doc, []byte("127.0.0.1:15050"), []byte(addr)))
		}))
		t.Cleanup(srv.Close)
		addr = srv.Listener.Addr().String()
		return addr
	}
	big := pad(genMesosState(300), "completed_frameworks", done.String())
	_, sink := runPoller(t, PollConfig{Masters: []string{serve(big)}, MaxStateBytes: 1 << 20})
	c := sink.NextCluster(t, 10*time.Second, "a 3 MB state under a 1 MiB bound", func(*state.Cluster) bool { return true })
	if len(c.Tasks) != 300 {
		t.Errorf("%d tasks, want 300", len(c.Tasks))
	}

	huge := pad(genMesosState(300), "hostname", `"`+strings.Repeat("m", 2<<20)+`"`)
	_, sink2 := runPoller(t, PollConfig{Masters: []string{serve(huge)}, MaxStateBytes: 1 << 20})
	sink2.NextFailure(t, 10*time.Second, "one JSON token of more than 1048576 bytes (maxStateBytes)")
}
