package lbmodel

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/discovery-mesos/discovery/state"
)

// TestRendererMatchesRender renders the models of random sequences of views
// (tasks killed, started, moved and relabelled, apps coming and going) with
// one Renderer and compares each output with Render's. The builds with some
// apps left out (what the syncer's bisection renders) come in between.
func TestRendererMatchesRender(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Groups = []string{"external"}
	ts, err := LoadTemplates(cfg, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(5) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			c := lbCluster(20, 4)
			build := ModelBuilder(cfg, func() *Templates { return ts }, nil)
			rd := NewRenderer()
			reused := 0
			var prevText *Text
			var prevWant []byte
			for step := range 150 {
				c = nextCluster(c, func(n *state.Cluster) {
					for range 1 + r.IntN(3) {
						i := r.IntN(len(n.Tasks))
						switch r.IntN(6) {
						case 0:
							n.Tasks[i].State = []state.TaskState{state.TaskRunning, state.TaskKilling, state.TaskStaging}[r.IntN(3)]
						case 1:
							h := r.IntN(2) == 0
							n.Tasks[i].Healthy = &h
						case 2: // a new task
							n.Tasks = append(n.Tasks, lbTask(r.IntN(25), 100+step, n.Agents[r.IntN(len(n.Agents))].ID))
						case 3:
							n.Tasks = slices.Delete(n.Tasks, i, i+1)
						case 4: // a label changes the backend's options
							n.Tasks[i].Labels = append(slices.Clone(n.Tasks[i].Labels),
								state.Label{Key: "HAPROXY_0_BALANCE", Value: []string{"leastconn", "source"}[r.IntN(2)]})
						case 5: // moves
							n.Tasks[i].AgentID = n.Agents[r.IntN(len(n.Agents))].ID
						}
					}
				})
				snap := &state.Snapshot{Cluster: c, Seq: uint64(step + 1)}
				opts := &BuildOptions{}
				if step%5 == 4 {
					opts.Exclude = map[string]bool{fmt.Sprintf("/app-%04d.sim", r.IntN(20)): true}
				}
				m, err := build(snap, opts)
				if err != nil {
					t.Fatal(err)
				}
				want, err := Render(m)
				if err != nil {
					t.Fatal(err)
				}
				text, err := rd.RenderText(m)
				if err != nil {
					t.Fatal(err)
				}
				if got := text.Bytes(); !bytes.Equal(got, want) || text.Len() != len(want) {
					t.Fatalf("step %d: Renderer's config differs from Render's:\n%s", step, firstDiff(string(got), string(want)))
				}
				if got := bytes.Join(text.Parts(), nil); !bytes.Equal(got, want) {
					t.Fatalf("step %d: the pieces are not the config", step)
				}
				if text.Equal(prevText) != bytes.Equal(want, prevWant) || !text.Equal(TextOf(want)) || !TextOf(want).Equal(text) {
					t.Fatalf("step %d: Text.Equal disagrees with the bytes", step)
				}
				reused += rd.copied
				prevText, prevWant = text, want
			}
			if reused == 0 {
				t.Fatal("no backend copied: the test compares nothing of the shortcut")
			}
		})
	}
}

// TestRendererTellsChangedBackends: a backend whose servers are another slice
// (even of the same content), whose text changed, or that is new, is
// rendered from the model, never copied from the previous output.
func TestRendererTellsChangedBackends(t *testing.T) {
	servers := []Server{{Name: "a", Host: "127.1.0.1", Port: 31000, Weight: 1}, {Name: "b", Host: "127.1.0.2", Port: 31001, Weight: 1}}
	m1 := &Model{Head: "global\n", Frontends: []Frontend{{Name: "f", Text: "\nfrontend f\n"}}, Backends: []Backend{
		{Name: "x", Text: "\nbackend x\n", Servers: servers},
		{Name: "y", Text: "\nbackend y\n", Servers: servers[:1]},
	}}
	moved := slices.Clone(servers)
	moved[1].Port = 31002
	for name, m2 := range map[string]*Model{
		"same":             m1,
		"servers moved":    {Head: m1.Head, Frontends: m1.Frontends, Backends: []Backend{{Name: "x", Text: "\nbackend x\n", Servers: moved}, m1.Backends[1]}},
		"same content":     {Head: m1.Head, Frontends: m1.Frontends, Backends: []Backend{{Name: "x", Text: "\nbackend x\n", Servers: slices.Clone(servers)}, m1.Backends[1]}},
		"text changed":     {Head: m1.Head, Frontends: m1.Frontends, Backends: []Backend{{Name: "x", Text: "\nbackend x\n  balance source\n", Servers: servers}, m1.Backends[1]}},
		"renamed":          {Head: m1.Head, Frontends: m1.Frontends, Backends: []Backend{{Name: "w", Text: "\nbackend w\n", Servers: servers}, m1.Backends[1]}},
		"backend added":    {Head: m1.Head, Frontends: m1.Frontends, Backends: []Backend{m1.Backends[0], {Name: "xx", Text: "\nbackend xx\n"}, m1.Backends[1]}},
		"backend removed":  {Head: m1.Head, Frontends: m1.Frontends, Backends: m1.Backends[1:]},
		"head changed":     {Head: "global\n  maxconn 10\n", Frontends: m1.Frontends, Backends: m1.Backends},
		"one server fewer": {Head: m1.Head, Frontends: m1.Frontends, Backends: []Backend{{Name: "x", Text: "\nbackend x\n", Servers: servers[:1]}, m1.Backends[1]}},
	} {
		t.Run(name, func(t *testing.T) {
			rd := NewRenderer()
			if _, err := rd.Render(m1); err != nil {
				t.Fatal(err)
			}
			got, _ := rd.Render(m2)
			want, _ := Render(m2)
			if !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestTextEqual compares Texts cut in different places, sharing pieces or
// not.
func TestTextEqual(t *testing.T) {
	shared := []byte("backend x\n  server a 127.1.0.1:1\n")
	text := func(parts ...string) *Text {
		tx := &Text{}
		for _, p := range parts {
			b := []byte(p)
			if p == "<shared>" {
				b = shared
			}
			tx.parts = append(tx.parts, b)
			tx.size += len(b)
		}
		return tx
	}
	for _, c := range []struct {
		a, b *Text
		want bool
	}{
		{text("ab", "cd"), text("a", "bcd"), true},
		{text("ab", "", "cd"), text("abcd"), true},
		{text("ab", "cd"), text("ab", "ce"), false},
		{text("ab", "cd"), text("abc"), false},
		{text("g\n", "<shared>"), text("g\n", "<shared>"), true},
		{text("g\n", "<shared>"), text("h\n", "<shared>"), false},
		{text("g\n", "<shared>", "z"), text("g\n", string(shared), "z"), true},
		{text(), text(""), true},
		{nil, text(), false},
		{nil, nil, true},
	} {
		if got := c.a.Equal(c.b); got != c.want {
			t.Errorf("%q Equal %q = %v, want %v", c.a.Parts(), c.b.Parts(), got, c.want)
		}
		if got := c.b.Equal(c.a); got != c.want {
			t.Errorf("%q Equal %q = %v, want %v", c.b.Parts(), c.a.Parts(), got, c.want)
		}
	}
}
