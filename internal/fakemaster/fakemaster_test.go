package fakemaster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       5 * time.Second,
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp, body
}

func TestModes(t *testing.T) {
	leader := Start(t, Fixture(), Options{})
	m := Start(t, Fixture(), Options{})

	tests := []struct {
		name     string
		setup    func()
		path     string
		status   int
		location string
		check    func(t *testing.T, body []byte)
	}{
		{
			name:   "leading",
			setup:  func() { m.SetMode(Leading) },
			path:   "/master/state",
			status: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				var d struct {
					Leader     string            `json:"leader"`
					PID        string            `json:"pid"`
					Frameworks []json.RawMessage `json:"frameworks"`
				}
				if err := json.Unmarshal(body, &d); err != nil {
					t.Fatalf("state is not JSON: %v", err)
				}
				if d.Leader != m.PID() || d.PID != m.PID() {
					t.Errorf("leader %q pid %q, want both %q", d.Leader, d.PID, m.PID())
				}
				if len(d.Frameworks) == 0 {
					t.Error("no frameworks")
				}
			},
		},
		{
			name:     "not leading redirects scheme-relative",
			setup:    func() { m.SetLeader(leader.Addr()) },
			path:     "/master/state",
			status:   http.StatusTemporaryRedirect,
			location: "//" + leader.Addr() + "/master/state",
		},
		{
			name:     "redirect endpoint",
			setup:    func() { m.SetLeader(leader.Addr()) },
			path:     "/master/redirect",
			status:   http.StatusTemporaryRedirect,
			location: "//" + leader.Addr(),
		},
		{
			name: "stale follower names the leader",
			setup: func() {
				m.SetLeader(leader.Addr())
				m.SetMode(StaleFollower)
			},
			path:   "/state",
			status: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				var d struct{ Leader, PID string }
				if err := json.Unmarshal(body, &d); err != nil {
					t.Fatal(err)
				}
				if d.Leader != leader.PID() || d.PID != m.PID() {
					t.Errorf("leader %q pid %q, want %q and %q", d.Leader, d.PID, leader.PID(), m.PID())
				}
			},
		},
		{name: "no leader", setup: func() { m.SetMode(NoLeader) }, path: "/master/state", status: http.StatusServiceUnavailable},
		{
			name: "garbage", setup: func() { m.SetMode(Garbage) }, path: "/master/state", status: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				if json.Valid(body) {
					t.Error("garbage is valid JSON")
				}
			},
		},
		{
			name: "truncated", setup: func() { m.SetMode(Truncated) }, path: "/master/state", status: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				if json.Valid(body) || !strings.HasPrefix(string(body), "{") {
					t.Errorf("truncated body %.40q is valid JSON or not a document start", body)
				}
			},
		},
		{
			name: "huge", setup: func() { m.SetMode(Huge); m.SetHuge(3<<20, false) }, path: "/master/state", status: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				if len(body) != 3<<20 {
					t.Errorf("huge body is %d bytes, want %d", len(body), 3<<20)
				}
			},
		},
		{name: "old path absent on new master", setup: func() { m.SetMode(Leading) }, path: "/master/state.json", status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			resp, body := get(t, noRedirect, m.URL()+tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %.80q)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func TestOldMaster(t *testing.T) {
	m := Start(t, Fixture(), Options{Old: true})
	for path, want := range map[string]int{
		"/master/state":      http.StatusNotFound,
		"/state":             http.StatusNotFound,
		"/master/state.json": http.StatusOK,
		"/state.json":        http.StatusOK,
	} {
		if resp, _ := get(t, noRedirect, m.URL()+path); resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
		}
	}
	if got := m.RequestsFor("/master/state"); got != 1 {
		t.Errorf("RequestsFor(/master/state) = %d, want 1", got)
	}
	if got := m.Requests(); got != 4 {
		t.Errorf("Requests() = %d, want 4", got)
	}
}

func TestSlowReleasedByClient(t *testing.T) {
	m := Start(t, Fixture(), Options{})
	m.SetMode(Slow)
	m.SetDelay(time.Hour)
	c := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	if _, err := c.Get(m.URL() + "/master/state"); err == nil {
		t.Fatal("slow master answered within the client timeout")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("client waited %v", d)
	}
	m.SetDelay(0)
	if resp, _ := get(t, noRedirect, m.URL()+"/master/state"); resp.StatusCode != http.StatusOK {
		t.Errorf("slow master with zero delay: status %d", resp.StatusCode)
	}
}

func TestBasicAuth(t *testing.T) {
	m := Start(t, Fixture(), Options{})
	m.RequireBasicAuth("dns", "s3cret")
	for _, tt := range []struct {
		name, user, pass string
		status           int
	}{
		{"none", "", "", http.StatusUnauthorized},
		{"wrong", "dns", "nope", http.StatusUnauthorized},
		{"right", "dns", "s3cret", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, m.URL()+"/master/state", nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	m := Start(t, Fixture(), Options{TLS: true})
	if !strings.HasPrefix(m.URL(), "https://") {
		t.Fatalf("URL %q is not https", m.URL())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.CACertPEM()) {
		t.Fatal("CACertPEM is not a PEM certificate")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, _ := get(t, c, m.URL()+"/master/state"); resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestEditStateAndCounting(t *testing.T) {
	m := Start(t, Fixture(), Options{})
	_, before := get(t, noRedirect, m.URL()+"/master/state")
	err := m.EditState(func(doc map[string]any) error {
		doc["frameworks"] = []any{}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, after := get(t, noRedirect, m.URL()+"/master/state")
	var d struct{ Frameworks []any }
	if err := json.Unmarshal(after, &d); err != nil || len(d.Frameworks) != 0 {
		t.Errorf("edited state: %v, %d frameworks", err, len(d.Frameworks))
	}
	if got, want := m.BytesServed(), int64(len(before)+len(after)); got != want {
		t.Errorf("BytesServed() = %d, want %d", got, want)
	}
}

func TestMasterInfo(t *testing.T) {
	m := Start(t, Fixture(), Options{})
	var info struct {
		ID      string `json:"id"`
		PID     string `json:"pid"`
		IP      uint32 `json:"ip"`
		Port    int    `json:"port"`
		Address struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"address"`
	}
	if err := json.Unmarshal(m.MasterInfo(), &info); err != nil {
		t.Fatal(err)
	}
	if info.PID != m.PID() || info.Address.IP != "127.0.0.1" || info.Address.Port != m.Port() || info.Port != m.Port() {
		t.Errorf("MasterInfo %+v does not describe %s", info, m.Addr())
	}
	if info.IP != 0x0100007f {
		t.Errorf("ip = %#x, want 0x0100007f (127.0.0.1 little-endian)", info.IP)
	}
}

func TestHandleAddsRoutesWithLeaderBehaviour(t *testing.T) {
	leader := Start(t, Fixture(), Options{})
	m := Start(t, Fixture(), Options{})
	m.Handle("/api/v1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.Leading(w, r) {
			return
		}
		_, _ = io.WriteString(w, "subscribed")
	}))
	if resp, body := get(t, noRedirect, m.URL()+"/api/v1"); resp.StatusCode != http.StatusOK || string(body) != "subscribed" {
		t.Errorf("leading: %d %q", resp.StatusCode, body)
	}
	m.SetLeader(leader.Addr())
	resp, _ := get(t, noRedirect, m.URL()+"/api/v1")
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//"+leader.Addr()+"/api/v1" {
		t.Errorf("not leading: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := m.RequestsFor("/api/v1"); got != 2 {
		t.Errorf("RequestsFor(/api/v1) = %d, want 2", got)
	}
}
