package lbmodel

import (
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

func TestWithUserGroup(t *testing.T) {
	for _, tc := range []struct{ head, user, group, want string }{
		{"# c\nglobal\n  daemon\ndefaults\n  mode tcp\n", "haproxy", "haproxy",
			"# c\nglobal\n  user haproxy\n  group haproxy\n  daemon\ndefaults\n  mode tcp\n"},
		{"global\n  uid 99\ndefaults\n", "haproxy", "haproxy", "global\n  uid 99\ndefaults\n"},
		{"global\n  daemon\ndefaults\n  user x\n", "haproxy", "", "global\n  user haproxy\n  daemon\ndefaults\n  user x\n"},
		{"defaults\n  mode tcp\n", "haproxy", "haproxy", "defaults\n  mode tcp\n"},
		{"global\n", "", "", "global\n"},
	} {
		if got := withUserGroup(tc.head, tc.user, tc.group); got != tc.want {
			t.Errorf("withUserGroup(%q, %q, %q)\n = %q\nwant %q", tc.head, tc.user, tc.group, got, tc.want)
		}
	}
}

// The default HAPROXY_HEAD with a user and group is a config HAProxy
// accepts, with the lines in its global section.
func TestHeadUserGroupRendered(t *testing.T) {
	cfg := testConfig()
	cfg.HAProxyUser, cfg.HAProxyGroup = "nobody", "nogroup"
	m := mustBuild(t, []state.App{app("/a", vhostLabels(), []int{10000}, "127.0.0.2:31000")}, cfg, mustTemplates(t, cfg, "", nil), nil)
	text := mustRender(t, m)
	global := text[strings.Index(text, "\nglobal\n"):strings.Index(text, "\ndefaults\n")]
	if !strings.Contains(global, "\n  user nobody\n  group nogroup\n") {
		t.Errorf("no user/group in the global section:\n%s", global)
	}
	checkHAProxy(t, m, text)
}
