package lbmodel

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// buildBoth builds apps with BuildModel and with a ModelCache, both given
// previous, and checks they agree on backends and errors.
func buildBoth(t *testing.T, apps []state.App, cfg *Config, previous *Model) *Model {
	t.Helper()
	ts := mustTemplates(t, cfg, "", nil)
	m := mustBuild(t, apps, cfg, ts, &BuildOptions{Previous: previous})
	mc, err := NewModelCache().Build(apps, nil, cfg, ts, &BuildOptions{Previous: previous})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(backendNames(m), backendNames(mc)) || !slices.Equal(m.Errors, mc.Errors) {
		t.Fatalf("BuildModel and ModelCache disagree: %v %v / %v %v", backendNames(m), m.Errors, backendNames(mc), mc.Errors)
	}
	return m
}

func reasonOf(m *Model, appID string) string {
	for _, e := range m.Errors {
		if e.AppID == appID {
			return e.Reason
		}
	}
	return ""
}

// An app keeps the service port it holds: a newcomer claiming it is left
// out, even when it sorts first (marathon-lb gives the port to the first in
// sort order).
func TestIncumbentKeepsServicePort(t *testing.T) {
	cfg := testConfig()
	incumbent := app("/zz-shop", vhostLabels(), []int{10000}, "127.0.0.2:31000")
	m1 := buildBoth(t, []state.App{incumbent}, cfg, nil)
	thief := app("/aa-thief", vhostLabels("HAPROXY_0_PORT", "10000"), []int{10001}, "127.0.0.3:31000")
	m2 := buildBoth(t, []state.App{thief, incumbent}, cfg, m1)
	if got := backendNames(m2); !slices.Equal(got, []string{"zz-shop_10000"}) {
		t.Errorf("backends %v, want the incumbent's only", got)
	}
	if r := reasonOf(m2, "/aa-thief"); r != "service port 10000 is already bound by app /zz-shop" {
		t.Errorf("newcomer's reason %q", r)
	}
	// And on the next build (the model that runs now is m2).
	m3 := buildBoth(t, []state.App{thief, incumbent}, cfg, m2)
	if got := backendNames(m3); !slices.Equal(got, []string{"zz-shop_10000"}) {
		t.Errorf("next build: backends %v", got)
	}
	// Once the incumbent is gone, the port is free.
	m4 := buildBoth(t, []state.App{thief}, cfg, m3)
	if got := backendNames(m4); !slices.Equal(got, []string{"aa-thief_10000"}) {
		t.Errorf("incumbent gone: backends %v", got)
	}
}

// Without a running model (a restart), the app Marathon scaled first wins,
// then the app id.
func TestNewcomersOrderedByAge(t *testing.T) {
	cfg := testConfig()
	old := app("/zz-old", vhostLabels(), []int{10000}, "127.0.0.2:31000")
	old.LastScalingAt = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	young := app("/aa-young", vhostLabels("HAPROXY_0_PORT", "10000"), []int{10001}, "127.0.0.3:31000")
	young.LastScalingAt = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := backendNames(buildBoth(t, []state.App{young, old}, cfg, nil)); !slices.Equal(got, []string{"zz-old_10000"}) {
		t.Errorf("backends %v, want the older app's", got)
	}
	young.LastScalingAt = time.Time{}
	old.LastScalingAt = time.Time{}
	if got := backendNames(buildBoth(t, []state.App{young, old}, cfg, nil)); !slices.Equal(got, []string{"aa-young_10000"}) {
		t.Errorf("backends %v, want the first app id's when no age is known", got)
	}
}

// The shared frontends' ports are theirs.
func TestSharedPortsRefused(t *testing.T) {
	cfg := testConfig()
	for port, owner := range map[string]string{"9090": "the stats listener", "9091": "marathon_http_appid_in", "80": "marathon_http_in", "443": "marathon_https_in"} {
		a := app("/a", vhostLabels("HAPROXY_0_PORT", port, "HAPROXY_0_BIND_ADDR", "127.0.0.1"), []int{10000}, "127.0.0.2:31000")
		m := buildBoth(t, []state.App{a}, cfg, nil)
		if r := reasonOf(m, "/a"); r != "service port "+port+" is already bound by "+owner {
			t.Errorf("port %s: reason %q", port, r)
		}
	}
}

// A vhost (and path) another app routes stays its route: a newcomer asking
// for it, even with a heavier HAPROXY_{n}_BACKEND_WEIGHT (which would put its
// ACL first), is left out. Another path of the same vhost is another route.
func TestIncumbentKeepsVHostRoute(t *testing.T) {
	cfg := testConfig()
	shop := app("/zz-shop", vhostLabels("HAPROXY_0_VHOST", "shop.example.com", "HAPROXY_0_MODE", "http"), []int{10000}, "127.0.0.2:31000")
	m1 := buildBoth(t, []state.App{shop}, cfg, nil)
	thief := app("/aa-thief", vhostLabels("HAPROXY_0_VHOST", "www.example.com,SHOP.example.com", "HAPROXY_0_MODE", "http",
		"HAPROXY_0_BACKEND_WEIGHT", "100"), []int{10001}, "127.0.0.3:31000")
	api := app("/api", vhostLabels("HAPROXY_0_VHOST", "shop.example.com", "HAPROXY_0_PATH", "/api", "HAPROXY_0_MODE", "http"), []int{10002}, "127.0.0.4:31000")
	m2 := buildBoth(t, []state.App{thief, api, shop}, cfg, m1)
	if got := backendNames(m2); !slices.Equal(got, []string{"api_10002", "zz-shop_10000"}) {
		t.Errorf("backends %v", got)
	}
	if r := reasonOf(m2, "/aa-thief"); r != "vhost shop.example.com is routed by app /zz-shop" {
		t.Errorf("newcomer's reason %q", r)
	}
	if text := mustRender(t, m2); strings.Contains(text, "aa-thief") {
		t.Errorf("the newcomer is routed:\n%s", text)
	}
	// With the HTTP frontends off, vhosts route nothing: no conflict.
	cfg.DontBindHTTPHTTPS = true
	if m := buildBoth(t, []state.App{thief, shop}, cfg, nil); len(m.Errors) != 0 {
		t.Errorf("--dont-bind-http-https: %v", m.Errors)
	}
}

// After a restart no model runs: the claims saved before (BuildOptions.Held)
// decide, and a running model's claims win over them.
func TestHeldClaimsWithoutPreviousModel(t *testing.T) {
	cfg := testConfig()
	ts := mustTemplates(t, cfg, "", nil)
	incumbent := app("/zz-shop", vhostLabels(), []int{10000}, "127.0.0.2:31000")
	thief := app("/aa-thief", vhostLabels("HAPROXY_0_PORT", "10000"), []int{10001}, "127.0.0.3:31000")
	m1 := mustBuild(t, []state.App{incumbent}, cfg, ts, nil)
	if got := m1.Claims()["port 10000@*"]; got != "/zz-shop" {
		t.Fatalf("claims %v", m1.Claims())
	}
	apps := []state.App{thief, incumbent}
	m2 := mustBuild(t, apps, cfg, ts, &BuildOptions{Held: m1.Claims()})
	if got := backendNames(m2); !slices.Equal(got, []string{"zz-shop_10000"}) {
		t.Errorf("with the saved claims: backends %v", got)
	}
	mine := mustBuild(t, []state.App{thief}, cfg, ts, nil)
	m3 := mustBuild(t, apps, cfg, ts, &BuildOptions{Previous: mine, Held: m1.Claims()})
	if got := backendNames(m3); !slices.Equal(got, []string{"aa-thief_10000"}) {
		t.Errorf("the running model's claims: backends %v", got)
	}
}

// A newcomer's path route on another app's vhost is refused when it may take
// requests the existing route gets: the same prefix ("/" is the whole
// vhost), or a shorter one whose ACL may come first (its weight is not
// lower). A longer prefix (a part of the vhost) is allowed, as marathon-lb's
// users split one vhost between apps.
func TestVHostPathShadowing(t *testing.T) {
	vh := func(kv ...string) map[string]string {
		return vhostLabels(append([]string{"HAPROXY_0_VHOST", "shop.example.com", "HAPROXY_0_MODE", "http"}, kv...)...)
	}
	for _, tc := range []struct {
		name     string
		holder   map[string]string
		newcomer map[string]string
		want     string // the newcomer's reason; "" when it is built
	}{
		{"root path on a whole vhost", vh(), vh("HAPROXY_0_PATH", "/"), "vhost shop.example.com is routed by app /zz-holder"},
		{"heavier whole vhost", vh(), vh("HAPROXY_0_BACKEND_WEIGHT", "100"), "vhost shop.example.com is routed by app /zz-holder"},
		{"shorter heavier prefix", vh("HAPROXY_0_PATH", "/api"), vh("HAPROXY_0_PATH", "-i /AP", "HAPROXY_0_BACKEND_WEIGHT", "100"), "vhost shop.example.com/api is routed by app /zz-holder"},
		{"heavier whole vhost over a path", vh("HAPROXY_0_PATH", "/api"), vh("HAPROXY_0_BACKEND_WEIGHT", "5"), "vhost shop.example.com/api is routed by app /zz-holder"},
		{"whole vhost under a path", vh("HAPROXY_0_PATH", "/api"), vh(), ""},
		{"path under a whole vhost", vh(), vh("HAPROXY_0_PATH", "/api"), ""},
		{"longer prefix", vh("HAPROXY_0_PATH", "/api"), vh("HAPROXY_0_PATH", "/api/v2", "HAPROXY_0_BACKEND_WEIGHT", "100"), ""},
		{"other vhost", vh(), vhostLabels("HAPROXY_0_VHOST", "www.example.com", "HAPROXY_0_BACKEND_WEIGHT", "100"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			holder := app("/zz-holder", tc.holder, []int{10000}, "127.0.0.2:31000")
			m1 := buildBoth(t, []state.App{holder}, cfg, nil)
			newcomer := app("/aa-new", tc.newcomer, []int{10001}, "127.0.0.3:31000")
			m2 := buildBoth(t, []state.App{newcomer, holder}, cfg, m1)
			if r := reasonOf(m2, "/aa-new"); r != tc.want {
				t.Errorf("newcomer's reason %q, want %q", r, tc.want)
			}
			if r := reasonOf(m2, "/zz-holder"); r != "" {
				t.Errorf("the holder is left out: %q", r)
			}
		})
	}
	// A holder that makes its own route heavier, over another app's path,
	// makes a new claim: the path's route stays.
	cfg := testConfig()
	shop := app("/aa-shop", vh(), []int{10000}, "127.0.0.2:31000")
	api := app("/zz-api", vh("HAPROXY_0_PATH", "/api"), []int{10001}, "127.0.0.3:31000")
	m1 := buildBoth(t, []state.App{shop, api}, cfg, nil)
	shop.Labels = vh("HAPROXY_0_BACKEND_WEIGHT", "100")
	m2 := buildBoth(t, []state.App{shop, api}, cfg, m1)
	if r := reasonOf(m2, "/aa-shop"); r != "vhost shop.example.com/api is routed by app /zz-api" {
		t.Errorf("reason %q", r)
	}
}
