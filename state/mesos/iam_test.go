package mesos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakeiam"
	"github.com/discovery-mesos/discovery/internal/fakemaster"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// iamFile writes a mesos-dns IAMConfigFile for iam's account, signed with key.
func iamFile(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "iam.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPollIAM: mesosAuthentication "iam" logs in with the service account,
// sends the token to a master that admits only tokens, and logs in again
// (without a failed fetch) when the token is refused.
func TestPollIAM(t *testing.T) {
	iam := fakeiam.New(t, "mesos-dns-sa", 0)
	m := fakemaster.Start(t, fakemaster.Fixture(), fakemaster.Options{})
	m.RequireToken(iam.Check)
	_, sink := runPoller(t, PollConfig{
		Masters:    []string{m.Addr()},
		HTTPConfig: HTTPConfig{Authentication: AuthIAM, IAMConfigFile: iamFile(t, iam.MesosDNSJSON(fakeiam.AccountKey()))},
	})
	sink.NextCluster(t, 5*time.Second, "with the IAM token", servedBy(m))
	if n := iam.Logins(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}

	failuresBefore := len(sink.View().Failures)
	iam.RevokeAll()
	sink.SkipClusters()
	sink.Wait(t, 5*time.Second, "a second login", func(statetest.View) bool { return iam.Logins() == 2 })
	sink.NextCluster(t, 5*time.Second, "after the token was refused", servedBy(m))
	if f := sink.View().Failures[failuresBefore:]; len(f) != 0 {
		t.Errorf("a refused token failed fetches: %v", f)
	}

	t.Run("a key the IAM does not know", func(t *testing.T) {
		_, sink := runPoller(t, PollConfig{
			Masters:    []string{m.Addr()},
			HTTPConfig: HTTPConfig{Authentication: AuthIAM, IAMConfigFile: iamFile(t, iam.CredentialsJSON(fakeiam.OtherKey()))},
		})
		err := sink.NextFailure(t, 5*time.Second, "DC/OS login")
		for _, want := range []string{`"mesos-dns-sa"`, "refused: 401 Unauthorized", iam.URL} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("failure %q lacks %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("failure shows the key: %q", err)
		}
	})
}

// TestStreamIAM: the event stream's SUBSCRIBE and its state-summary read
// carry the token too.
func TestStreamIAM(t *testing.T) {
	iam := fakeiam.New(t, "mesos-dns-sa", 0)
	m, api := startAPIMaster(t, genMesosState(20), time.Second)
	m.RequireToken(iam.Check)
	cfg := staticCfg(m)
	cfg.Authentication, cfg.IAMConfigFile = AuthIAM, iamFile(t, iam.CredentialsJSON(fakeiam.AccountKey()))
	_, sink := runStream(t, cfg)
	converge(t, sink, 10*time.Second, "SUBSCRIBED with the IAM token", m)
	if err := api.AddTask(newTask("web.iam", genFramework, genAgent, "127.9.3.2", 31334, 1700000800)); err != nil {
		t.Fatal(err)
	}
	c := converge(t, sink, 5*time.Second, "event with the IAM token", m)
	for _, f := range c.Frameworks {
		if f.ID == genFramework && f.PID == "" {
			t.Error("framework pid missing: /master/state-summary was not read with the token")
		}
	}
	if n := iam.Logins(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}
