package lbmodel

import (
	"flag"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

// -lb-template-labels: all applies every template label (marathon-lb's
// behaviour), none applies none, a list applies those named only.
func TestTemplateLabelsPolicy(t *testing.T) {
	appLabels := labels("HAPROXY_GROUP", "external",
		"HAPROXY_0_BACKEND_HEAD", "backend {backend}\n  balance {balance}\n  mode {mode}\n  # from BACKEND_HEAD label\n",
		"HAPROXY_0_FRONTEND_HEAD", "\nfrontend {backend}\n  bind {bindAddr}:{servicePort}\n  mode {mode}\n  # from FRONTEND_HEAD label\n")
	for _, tc := range []struct {
		flag           string
		backend, front bool
		wantErr        string
	}{
		{flag: "all", backend: true, front: true},
		{flag: "none"},
		{flag: "HAPROXY_BACKEND_HEAD", backend: true},
		{flag: "FRONTEND_HEAD, HAPROXY_BACKEND_HEAD", backend: true, front: true},
		{flag: "HAPROXY_HEAD", wantErr: `"HAPROXY_HEAD" is not a template app labels can override`},
		{flag: "NO_SUCH", wantErr: "is not a template"},
		{flag: ",", wantErr: "want all, none or a list"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			cfg := testConfig()
			cfg.Groups = []string{"external"}
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			cfg.RegisterFlags(fs)
			err := fs.Parse([]string{"-lb-template-labels=" + tc.flag})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := app("/a", appLabels, []int{10000}, "10.0.0.1:31000")
			text := mustRender(t, mustBuild(t, []state.App{a}, cfg, mustTemplates(t, cfg, "", nil), nil))
			if got := strings.Contains(text, "# from BACKEND_HEAD label"); got != tc.backend {
				t.Errorf("BACKEND_HEAD label applied: %v, want %v", got, tc.backend)
			}
			if got := strings.Contains(text, "# from FRONTEND_HEAD label"); got != tc.front {
				t.Errorf("FRONTEND_HEAD label applied: %v, want %v", got, tc.front)
			}
		})
	}
	// The old flag is the policy none.
	cfg := testConfig()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-lb-ignore-template-labels"}); err != nil {
		t.Fatal(err)
	}
	if cfg.templateLabelAllowed("BACKEND_HEAD") || fs.Lookup("lb-template-labels").Value.String() != "none" {
		t.Error("-lb-ignore-template-labels does not mean -lb-template-labels=none")
	}
}
