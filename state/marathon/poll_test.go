package marathon

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// marNextApps returns the next report, which must be published apps.
func marNextApps(t *testing.T, sink *statetest.Sink) *state.AppSet {
	t.Helper()
	r := sink.Next(t, 10*time.Second)
	if r.Apps == nil {
		t.Fatalf("got %s instead of apps", r)
	}
	return r.Apps
}

// marNextFailure returns the next report, which must be a failure.
func marNextFailure(t *testing.T, sink *statetest.Sink) statetest.Record {
	t.Helper()
	r := sink.Next(t, 10*time.Second)
	if r.Err == nil {
		t.Fatalf("got %s instead of a failure", r)
	}
	return r
}

func marStartFake(t *testing.T, opts fakemarathon.Options) *fakemarathon.Server {
	t.Helper()
	s := fakemarathon.New(opts)
	t.Cleanup(s.Close)
	if err := s.SetAppsJSON(marFixture(t, "apps-blue-green.json")); err != nil {
		t.Fatal(err)
	}
	return s
}

// marRunPoller starts p.Run with a fresh sink; the poller stops when the test ends.
// The interval is long: tests drive fetches with Refresh.
func marRunPoller(t *testing.T, cfg Config) (*Poller, *statetest.Sink, *statetest.LogBuffer) {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = time.Hour
	}
	logs := &statetest.LogBuffer{}
	p, err := NewPoller(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	sink := statetest.NewSink()
	statetest.Run(t, p, sink)
	return p, sink, logs
}

// marRefusedURL returns a loopback URL nothing listens on.
func marRefusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestPollerFetch(t *testing.T) {
	fake := marStartFake(t, fakemarathon.Options{})
	green := "nginx-green.0dbabba6-c931-11e5-9836-026ee08d9f6f"
	if err := fake.SetTaskReady("/nginx-green", green, false); err != nil {
		t.Fatal(err)
	}
	p, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL() + "/"}})

	set := marNextApps(t, sink)
	if set.Source != fake.URL() {
		t.Errorf("source = %q, want %q", set.Source, fake.URL())
	}
	if len(set.Apps) != 2 || set.Apps[0].ID != "/nginx-blue" || set.Apps[1].ID != "/nginx-green" {
		t.Fatalf("apps = %+v", set.Apps)
	}
	g := set.Apps[1]
	if len(g.Tasks) != 3 || g.Tasks[0].ID != green || g.Tasks[0].Host != "127.0.6.25" || g.Tasks[0].Ports[0] != 31184 {
		t.Errorf("tasks (embed=apps.tasks) = %+v", g.Tasks)
	}
	if g.Tasks[0].Ready == nil || *g.Tasks[0].Ready || g.Tasks[1].Ready != nil {
		t.Errorf("readiness (embed=apps.readiness) not decoded: %v %v", g.Tasks[0].Ready, g.Tasks[1].Ready)
	}
	if g.Labels["HAPROXY_DEPLOYMENT_COLOUR"] != "green" || g.Network != state.NetworkBridge || g.Ports[0].ServicePort != 10000 {
		t.Errorf("app = %+v", g)
	}

	// A change shows up on the next fetch, asked for with Refresh.
	if _, err := fake.AddTask("/nginx-blue", fakemarathon.Task{Host: "127.0.1.148", Ports: []int{25725}}); err != nil {
		t.Fatal(err)
	}
	dep, err := fake.StartDeployment("ScaleApplication", "/nginx-blue")
	if err != nil {
		t.Fatal(err)
	}
	p.Refresh()
	set2 := marNextApps(t, sink)
	if len(set2.Apps[0].Tasks) != 2 || set2.Digest == set.Digest {
		t.Errorf("after AddTask: %d tasks, digest changed %t", len(set2.Apps[0].Tasks), set2.Digest != set.Digest)
	}
	if d := set2.Apps[0].Deployments; len(d) != 1 || d[0] != dep {
		t.Errorf("deployments (embed=apps.deployments) = %v, want [%s]", d, dep)
	}
	if n := fake.Requests("/v2/apps"); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestPollerFailover(t *testing.T) {
	dead := marRefusedURL(t)
	flaky := marStartFake(t, fakemarathon.Options{})
	good := marStartFake(t, fakemarathon.Options{})
	flaky.SetBehaviour(fakemarathon.Unavailable)
	p, sink, _ := marRunPoller(t, Config{URLs: []string{dead, flaky.URL(), good.URL()}})

	// First round: the dead and the flaky one fail, in order, then the good one
	// answers.
	if f := marNextFailure(t, sink); f.Source != dead || !strings.Contains(f.Err.Error(), "connection refused") {
		t.Errorf("first failure = %s: %v", f.Source, f.Err)
	}
	if f := marNextFailure(t, sink); f.Source != flaky.URL() || !strings.Contains(f.Err.Error(), "503") ||
		!strings.Contains(f.Err.Error(), "Could not determine the current leader") {
		t.Errorf("second failure = %s: %v", f.Source, f.Err)
	}
	if set := marNextApps(t, sink); set.Source != good.URL() {
		t.Errorf("published from %s", set.Source)
	}
	if p.Current() != good.URL() {
		t.Errorf("current = %s", p.Current())
	}

	// It sticks with the one that worked.
	flaky.SetBehaviour(fakemarathon.Normal)
	p.Refresh()
	if set := marNextApps(t, sink); set.Source != good.URL() {
		t.Errorf("published from %s", set.Source)
	}
	sink.NoMore(t)
	if n := flaky.Requests("/v2/apps"); n != 1 {
		t.Errorf("flaky asked %d times, want 1", n)
	}

	// When that one goes, the next one in the list (wrapping around) takes over.
	good.Stop()
	p.Refresh()
	if f := marNextFailure(t, sink); f.Source != good.URL() {
		t.Errorf("failure from %s", f.Source)
	}
	if f := marNextFailure(t, sink); f.Source != dead {
		t.Errorf("failure from %s", f.Source)
	}
	if set := marNextApps(t, sink); set.Source != flaky.URL() {
		t.Errorf("published from %s", set.Source)
	}
}

func TestPollerAllDownKeepsLastGood(t *testing.T) {
	tests := []struct {
		name      string
		behaviour fakemarathon.Behaviour
		want      string
	}{
		{"garbage", fakemarathon.Garbage, "unexpected end of JSON"},
		{"unavailable", fakemarathon.Unavailable, "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := marStartFake(t, fakemarathon.Options{})
			p, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL()}})
			good := marNextApps(t, sink)

			fake.SetBehaviour(tt.behaviour)
			p.Refresh()
			if f := marNextFailure(t, sink); f.Source != fake.URL() || !strings.Contains(f.Err.Error(), tt.want) {
				t.Errorf("failure = %s: %v", f.Source, f.Err)
			}

			// Healthy again: the next fetch publishes, and nothing was published
			// in between.
			fake.SetBehaviour(fakemarathon.Normal)
			p.Refresh()
			if set := marNextApps(t, sink); set.Digest != good.Digest {
				t.Error("a different set after recovery")
			}
			sink.NoMore(t)
		})
	}
}

func TestPollerEmptyIsValid(t *testing.T) {
	fake := fakemarathon.New(fakemarathon.Options{})
	defer fake.Close()
	_, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL()}})
	if set := marNextApps(t, sink); len(set.Apps) != 0 {
		t.Errorf("apps = %v", set.Apps)
	}
}

func TestPollerAuth(t *testing.T) {
	const user, pass = "marathon", "s3cret-pa:ss"
	fake := marStartFake(t, fakemarathon.Options{User: user, Password: pass})
	dir := t.TempDir()
	credFile := filepath.Join(dir, "creds")
	if err := os.WriteFile(credFile, []byte(user+":"+pass+"\nignored:line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostPort := strings.TrimPrefix(fake.URL(), "http://")
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"auth-credentials", Config{Credentials: user + ":" + pass}, true},
		{"credential file", Config{CredentialFile: credFile}, true},
		{"credential file wins", Config{CredentialFile: credFile, Credentials: "wrong:wrong"}, true},
		{"credentials in the URL", Config{URLs: []string{"http://" + user + ":" + strings.ReplaceAll(pass, ":", "%3A") + "@" + hostPort}}, true},
		{"no credentials", Config{}, false},
		{"empty credential file means none", Config{CredentialFile: emptyFile}, false},
		{"wrong password", Config{Credentials: user + ":wrong-s3cret"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.URLs == nil {
				cfg.URLs = []string{fake.URL()}
			}
			_, sink, logs := marRunPoller(t, cfg)
			if tt.ok {
				if set := marNextApps(t, sink); set.Source != fake.URL() {
					t.Errorf("source = %q (credentials must not be in it)", set.Source)
				}
			} else {
				f := marNextFailure(t, sink)
				if !strings.Contains(f.Err.Error(), "401") {
					t.Errorf("failure = %v", f.Err)
				}
				if strings.Contains(f.Err.Error(), "s3cret") {
					t.Errorf("secret in error: %v", f.Err)
				}
			}
			if strings.Contains(logs.String(), "s3cret") {
				t.Errorf("secret in logs:\n%s", logs)
			}
		})
	}
}

func TestPollerTLS(t *testing.T) {
	fake := marStartFake(t, fakemarathon.Options{TLS: true})
	caFile, err := fake.WriteCACert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ca cert", func(t *testing.T) {
		_, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL()}, CACertFile: caFile})
		if set := marNextApps(t, sink); set.Source != fake.URL() || len(set.Apps) != 2 {
			t.Errorf("set from %s with %d apps", set.Source, len(set.Apps))
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		_, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL()}})
		if f := marNextFailure(t, sink); !strings.Contains(f.Err.Error(), "certificate") {
			t.Errorf("failure = %v", f.Err)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		_, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL()}, InsecureSkipVerify: true})
		marNextApps(t, sink)
	})
}

func TestPollerLimits(t *testing.T) {
	fake := marStartFake(t, fakemarathon.Options{})
	t.Run("max body", func(t *testing.T) {
		_, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL()}, MaxBodyBytes: 1000})
		if f := marNextFailure(t, sink); !strings.Contains(f.Err.Error(), "exceeds 1000 bytes") {
			t.Errorf("failure = %v", f.Err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		hang := marStartFake(t, fakemarathon.Options{})
		hang.SetBehaviour(fakemarathon.Hang)
		_, sink, _ := marRunPoller(t, Config{URLs: []string{hang.URL(), fake.URL()}, Timeout: 200 * time.Millisecond})
		if f := marNextFailure(t, sink); f.Source != hang.URL() || !strings.Contains(f.Err.Error(), "deadline exceeded") {
			t.Errorf("failure = %s: %v", f.Source, f.Err)
		}
		if set := marNextApps(t, sink); set.Source != fake.URL() {
			t.Errorf("published from %s", set.Source)
		}
	})
}

func TestPollerFetchOnce(t *testing.T) {
	fake := marStartFake(t, fakemarathon.Options{})
	p, err := NewPoller(Config{URLs: []string{marRefusedURL(t), fake.URL()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if set.Source != fake.URL() || len(set.Apps) != 2 {
		t.Errorf("set from %s with %d apps", set.Source, len(set.Apps))
	}
	fake.Stop()
	if _, err := p.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("all down: err = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	badCred := filepath.Join(dir, "bad")
	if err := os.WriteFile(badCred, []byte("no-colon-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := []string{"http://127.0.0.1:8080"}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no URLs", Config{}, "URLs"},
		{"bad scheme", Config{URLs: []string{"http://127.0.0.1:8080", "ftp://127.0.0.1"}}, "URLs[1]"},
		{"no host", Config{URLs: []string{"http://"}}, "no host"},
		{"unparsable", Config{URLs: []string{"http://u:s3cret@127.0.0.1:8080/%zz"}}, "URLs[0]"},
		{"query", Config{URLs: []string{"http://127.0.0.1:8080/?a=b"}}, "query"},
		{"credentials without colon", Config{URLs: ok, Credentials: "s3cret"}, "Credentials"},
		{"negative interval", Config{URLs: ok, Interval: -time.Second}, "Interval"},
		{"negative timeout", Config{URLs: ok, Timeout: -time.Second}, "Timeout"},
		{"negative connect timeout", Config{URLs: ok, ConnectTimeout: -time.Second}, "ConnectTimeout"},
		{"negative max body", Config{URLs: ok, MaxBodyBytes: -1}, "MaxBodyBytes"},
		{"missing credential file", Config{URLs: ok, CredentialFile: filepath.Join(dir, "nope")}, "CredentialFile"},
		{"credential file without colon", Config{URLs: ok, CredentialFile: badCred}, "CredentialFile"},
		{"missing CA file", Config{URLs: ok, CACertFile: filepath.Join(dir, "nope")}, "CACertFile"},
		{"CA file not PEM", Config{URLs: ok, CACertFile: notPEM}, "CACertFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPoller(tt.cfg, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("secret in error %q", err)
			}
		})
	}
	cfg := Config{URLs: []string{"http://u:s3cret@127.0.0.1:8080"}, Credentials: "u:s3cret"}
	if s := cfg.String(); strings.Contains(s, "s3cret") {
		t.Errorf("String() leaks: %s", s)
	}
}

// TestDecodeAppFromFake checks the fake's /v2/apps/{id} answer against
// the single-app decoder.
func TestDecodeAppFromFake(t *testing.T) {
	fake := marStartFake(t, fakemarathon.Options{})
	req, err := http.NewRequest(http.MethodGet, fake.URL()+"/v2/apps/nginx-green", nil)
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := DecodeApp(marBody(t, fake.Client(), req))
	if err != nil {
		t.Fatal(err)
	}
	if app.ID != "/nginx-green" || len(app.Tasks) != 3 || app.Network != state.NetworkBridge || app.Tasks[2].Ports[0] != 23336 {
		t.Errorf("app = %+v", app)
	}
}
