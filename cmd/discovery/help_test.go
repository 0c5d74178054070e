package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestHelpGroupsEveryFlag: -h lists every flag under its role, none under
// "Other", and every config key's flag says what it means, its key and, where
// it has one, its default.
func TestHelpGroupsEveryFlag(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("-h exit %d", code)
	}
	help := out.String() + errOut.String()
	if strings.Contains(help, "\nOther:") {
		t.Errorf("flags in no group:\n%s", help[strings.Index(help, "\nOther:"):])
	}
	for _, g := range helpGroups {
		if !strings.Contains(help, "\n"+g.title+":\n") {
			t.Errorf("group %q missing", g.title)
		}
	}
	for _, f := range completionFlags() {
		if f == "-offline" {
			continue
		}
		if !strings.Contains(help, "\n  "+f+"\n") && !strings.Contains(help, "\n  "+f+" ") {
			t.Errorf("-h does not list %s", f)
		}
	}
	ty := reflect.TypeOf(Config{})
	for i := 0; i < ty.NumField(); i++ {
		f := ty.Field(i)
		key := f.Tag.Get("json")
		if f.Type == reflect.TypeOf(Credentials{}) || f.Tag.Get("flag") == "-" {
			continue
		}
		if keyHelp[key] == "" {
			t.Errorf("config key %q has no help text", key)
		}
		if !strings.Contains(help, "(config key "+key+")") {
			t.Errorf("-h does not name config key %q", key)
		}
	}
	for _, want := range []string{"-refreshSeconds n\n    \tseconds between state fetches when polling (config key refreshSeconds) (default 60)",
		"-dnson\n    \tserve DNS (config key dnson) (default true)"} {
		if !strings.Contains(help, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
	var rout strings.Builder
	if code := run([]string{"run", "-h"}, &rout, &rout); code != 0 || !strings.Contains(rout.String(), "Mesos source") {
		t.Errorf("run -h: exit %d", code)
	}
}

// TestCompletionScripts: the bash script completes subcommands and flags (in
// marathon-lb's --spelling too) in a real bash; the zsh script parses.
func TestCompletionScripts(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	var script strings.Builder
	if code := run([]string{"completion", "bash"}, &script, &script); code != 0 {
		t.Fatalf("completion bash: exit %d: %s", code, script.String())
	}
	path := filepath.Join(t.TempDir(), "discovery.bash")
	if err := os.WriteFile(path, []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		t.Helper()
		cmd := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _discovery; echo "${COMPREPLY[*]}"`
		out, err := exec.Command(bash, append([]string{"-c", cmd, "bash", path}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"discovery", "ch"}, "check"},
		{[]string{"discovery", "-marathon-f"}, "-marathon-follow"},
		{[]string{"discovery", "--dcos"}, "--dcos-auth-credentials"},
		{[]string{"discovery", "check", "-off"}, "-offline"},
		{[]string{"discovery", "completion", ""}, "bash zsh"},
	} {
		if got := complete(tc.words...); got != tc.want {
			t.Errorf("%v: completed %q, want %q", tc.words, got, tc.want)
		}
	}
	var z strings.Builder
	if code := run([]string{"completion", "zsh"}, &z, &z); code != 0 || !strings.HasPrefix(z.String(), "#compdef discovery") {
		t.Fatalf("completion zsh: exit %d", code)
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		zpath := filepath.Join(t.TempDir(), "_discovery")
		if err := os.WriteFile(zpath, []byte(z.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(zsh, "-n", zpath).CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v: %s", err, out)
		}
	}
	if code := run([]string{"completion", "fish"}, &z, &z); code != 2 {
		t.Errorf("completion fish: exit %d, want 2", code)
	}
}

var updateFlags = flag.Bool("update-flags", false, "rewrite docs/flags.md from the flags' definitions")

// TestFlagReference: docs/flags.md is what the flags' definitions generate.
func TestFlagReference(t *testing.T) {
	fs, _, _ := runFlags(&options{})
	var b strings.Builder
	writeFlagReference(&b, fs)
	if *updateFlags {
		if err := os.WriteFile("../../docs/flags.md", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("../../docs/flags.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != b.String() {
		t.Errorf("docs/flags.md differs from the flags' definitions: run go test ./cmd/discovery -run TestFlagReference -update-flags")
	}
}

// TestLongHelpPrintsTheReference: marathon-lb's --longhelp prints the labels
// and templates reference and exits 0, with no configuration needed.
func TestLongHelpPrintsTheReference(t *testing.T) {
	for _, arg := range []string{"--longhelp", "-longhelp"} {
		var out, errOut strings.Builder
		if code := run([]string{arg}, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", arg, code, errOut.String())
		}
		for _, want := range []string{"HAPROXY_{n}_VHOST", "HAPROXY_DEPLOYMENT_GROUP", "## HAPROXY_HEAD — global", "## HAPROXY_BACKEND_HEAD — per app"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s output lacks %q", arg, want)
			}
		}
	}
}

// TestConfigDocNamesEveryKey: docs/config.md, written by hand for its notes,
// names every config key (the generated docs/flags.md has every flag), so a
// key added to the code without its row fails here.
func TestConfigDocNamesEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	ty := reflect.TypeOf(Config{})
	for i := 0; i < ty.NumField(); i++ {
		key := ty.Field(i).Tag.Get("json")
		if key == "" || key == "-" {
			continue
		}
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("docs/config.md does not name config key %q", key)
		}
	}
}
