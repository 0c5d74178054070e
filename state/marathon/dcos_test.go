package marathon

import (
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/internal/fakeiam"
	"github.com/discovery-mesos/discovery/internal/fakemarathon"
	"github.com/discovery-mesos/discovery/state"
	"github.com/discovery-mesos/discovery/state/statetest"
)

// TestPollerDCOSServiceAccount: --dcos-auth-credentials logs in at the IAM
// and Marathon, behind a guard that admits only its tokens, serves the apps;
// a revoked token means one more login, not a failed fetch.
func TestPollerDCOSServiceAccount(t *testing.T) {
	iam := fakeiam.New(t, "marathon-lb-sa", 0)
	fake := marStartFake(t, fakemarathon.Options{})
	fake.RequireToken(iam.Check)
	p, sink, logs := marRunPoller(t, Config{URLs: []string{fake.URL()}, DCOSCredentials: iam.CredentialsJSON(fakeiam.AccountKey())})
	marNextApps(t, sink)
	if n := iam.Logins(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	iam.RevokeAll()
	failures := len(sink.View().Failures)
	p.Refresh()
	marNextApps(t, sink)
	if n := iam.Logins(); n != 2 {
		t.Errorf("%d logins after the token was revoked, want 2", n)
	}
	if f := sink.View().Failures[failures:]; len(f) != 0 {
		t.Errorf("a revoked token failed fetches: %v", f)
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Errorf("the key reached the log:\n%s", logs)
	}

	t.Run("a key the IAM does not know", func(t *testing.T) {
		_, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL()}, DCOSCredentials: iam.CredentialsJSON(fakeiam.OtherKey())})
		f := marNextFailure(t, sink)
		for _, want := range []string{`DC/OS login as "marathon-lb-sa"`, "refused: 401"} {
			if !strings.Contains(f.Err.Error(), want) {
				t.Errorf("failure %q lacks %q", f.Err, want)
			}
		}
	})
	t.Run("no credentials at all", func(t *testing.T) {
		_, sink, _ := marRunPoller(t, Config{URLs: []string{fake.URL()}})
		f := marNextFailure(t, sink)
		for _, want := range []string{"401", "Marathon refused the credentials", "--dcos-auth-credentials"} {
			if !strings.Contains(f.Err.Error(), want) {
				t.Errorf("failure %q lacks %q", f.Err, want)
			}
		}
	})
}

// TestEventsDCOSServiceAccount: the event stream and the per-app refetches
// carry the token.
func TestEventsDCOSServiceAccount(t *testing.T) {
	iam := fakeiam.New(t, "marathon-lb-sa", 0)
	fake := fakemarathon.New(fakemarathon.Options{})
	t.Cleanup(fake.Close)
	evAddApp(t, fake, "/a", 10001, 1)
	fake.RequireToken(iam.Check)
	_, sink := evRun(t, Config{URLs: []string{fake.URL()}, DCOSCredentials: iam.CredentialsJSON(fakeiam.AccountKey())}, evOptions())
	waitApps(t, sink, "app /a", func(a *state.AppSet) bool { return len(a.Apps) == 1 })
	if _, err := fake.AddTask("/a", fakemarathon.Task{Host: "127.0.0.8", Ports: []int{31008}}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 10*time.Second, "two tasks of /a", func(v statetest.View) bool {
		return v.Apps != nil && len(v.Apps.Apps) == 1 && len(v.Apps.Apps[0].Tasks) == 2
	})
	if n := iam.Logins(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}
