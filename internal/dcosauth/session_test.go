package dcosauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/internal/dcosauth"
	"github.com/discovery-mesos/discovery/internal/fakeiam"
)

// fixture is an IAM, a server behind it that counts what it served, and a
// client whose session runs on a clock the test moves.
type fixture struct {
	iam     *fakeiam.IAM
	server  *httptest.Server
	session *dcosauth.Session
	client  *http.Client
	reg     *prometheus.Registry

	mu     sync.Mutex
	now    time.Time
	bodies []string
}

func newFixture(t *testing.T, key string, lifetime time.Duration) *fixture {
	t.Helper()
	f := &fixture{iam: fakeiam.New(t, "discovery-sa", lifetime), now: time.Now(), reg: prometheus.NewRegistry()}
	f.server = httptest.NewServer(f.iam.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, string(b))
		f.mu.Unlock()
		io.WriteString(w, "ok")
	})))
	t.Cleanup(f.server.Close)
	k := fakeiam.AccountKey()
	if key == "other" {
		k = fakeiam.OtherKey()
	}
	creds, err := dcosauth.ParseCredentials([]byte(f.iam.CredentialsJSON(k)))
	if err != nil {
		t.Fatal(err)
	}
	f.session, err = dcosauth.NewSession(creds, dcosauth.Options{Name: "test", Registerer: f.reg, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.client = &http.Client{Transport: f.session.Transport(nil)}
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fixture) get(t *testing.T) (int, error) {
	t.Helper()
	resp, err := f.client.Get(f.server.URL + "/master/state")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// metric reads a counter of the session's, with result when given.
func (f *fixture) metric(t *testing.T, name, result string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["client"] == "test" && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestSessionLogsInOnceAndSendsTheToken(t *testing.T) {
	f := newFixture(t, "account", 0)
	for i := range 3 {
		if code, err := f.get(t); err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
	}
	if n := f.iam.Logins(); n != 1 {
		t.Errorf("%d logins for 3 requests, want 1", n)
	}
	body := f.iam.LastBody()
	if body["uid"] != "discovery-sa" || body["token"] == nil || body["exp"] == nil {
		t.Errorf("login body %v", body)
	}
	if got := f.metric(t, "discovery_dcos_logins_total", "ok"); got != 1 {
		t.Errorf("logins{result=ok} = %v", got)
	}
}

func TestSessionRefreshesBeforeTheTokenExpires(t *testing.T) {
	f := newFixture(t, "account", time.Hour)
	if code, err := f.get(t); err != nil || code != 200 {
		t.Fatal(code, err)
	}
	f.advance(40 * time.Minute) // two thirds of its life: still fresh
	if code, err := f.get(t); err != nil || code != 200 || f.iam.Logins() != 1 {
		t.Fatalf("at 40 min: %d %v, %d logins", code, err, f.iam.Logins())
	}
	f.advance(10 * time.Minute) // past three quarters: refreshed
	if code, err := f.get(t); err != nil || code != 200 {
		t.Fatal(code, err)
	}
	if n := f.iam.Logins(); n != 2 {
		t.Errorf("%d logins after 50 min of a 1 h token, want 2", n)
	}
}

func TestSessionLogsInAgainAfter401AndResendsTheBody(t *testing.T) {
	f := newFixture(t, "account", 0)
	if code, err := f.get(t); err != nil || code != 200 {
		t.Fatal(code, err)
	}
	f.iam.RevokeAll()
	resp, err := f.client.Post(f.server.URL+"/api/v1", "application/json", strings.NewReader(`{"type":"SUBSCRIBE"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the token was revoked: %s", resp.Status)
	}
	if n := f.iam.Logins(); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}
	f.mu.Lock()
	last := f.bodies[len(f.bodies)-1]
	f.mu.Unlock()
	if last != `{"type":"SUBSCRIBE"}` {
		t.Errorf("the resent request's body was %q", last)
	}
	if got := f.metric(t, "discovery_dcos_tokens_refused_total", ""); got != 1 {
		t.Errorf("tokens_refused = %v", got)
	}
}

func TestSessionWithAnUnknownKeyIsOneClearError(t *testing.T) {
	f := newFixture(t, "other", 0)
	_, err := f.get(t)
	var le *dcosauth.LoginError
	if !errors.As(err, &le) || !le.Refused() || le.Code != 401 {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{`"discovery-sa"`, f.iam.URL, "refused", "401", "crypto/rsa: verification error"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Requests right after a refusal are answered from it: no login storm.
	for range 5 {
		if _, err := f.get(t); err == nil {
			t.Fatal("a request passed without a token")
		}
	}
	if n := f.iam.Refusals(); n != 1 {
		t.Errorf("%d logins refused, want 1", n)
	}
	f.advance(3 * time.Second)
	_, _ = f.get(t)
	if n := f.iam.Refusals(); n != 2 {
		t.Errorf("%d logins refused after the pause, want 2", n)
	}
	if got := f.metric(t, "discovery_dcos_logins_total", "refused"); got != 2 {
		t.Errorf("logins{result=refused} = %v", got)
	}
}

func TestSessionKeepsItsTokenWhileTheIAMIsDown(t *testing.T) {
	f := newFixture(t, "account", time.Hour)
	if code, err := f.get(t); err != nil || code != 200 {
		t.Fatal(code, err)
	}
	f.iam.SetDown(true)
	f.advance(50 * time.Minute) // due for a refresh, which fails
	if code, err := f.get(t); err != nil || code != 200 {
		t.Fatalf("with the IAM down before expiry: %d %v", code, err)
	}
	f.advance(11 * time.Minute) // expired
	_, err := f.get(t)
	var le *dcosauth.LoginError
	if !errors.As(err, &le) || le.Refused() || le.Code != 503 || !strings.Contains(err.Error(), "failed: 503") {
		t.Fatalf("after expiry with the IAM down: %v", err)
	}
	f.iam.SetDown(false)
	f.advance(3 * time.Second)
	if code, err := f.get(t); err != nil || code != 200 {
		t.Fatalf("with the IAM back: %d %v", code, err)
	}
}

func TestSessionLogsInOnceForConcurrentRequests(t *testing.T) {
	f := newFixture(t, "account", 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if code, err := f.get(t); err != nil || code != 200 {
				t.Errorf("%d %v", code, err)
			}
		})
	}
	wg.Wait()
	if n := f.iam.Logins(); n != 1 {
		t.Errorf("%d logins for 8 concurrent requests, want 1", n)
	}
}

func TestTokenHonoursTheContext(t *testing.T) {
	f := newFixture(t, "account", 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.session.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}
