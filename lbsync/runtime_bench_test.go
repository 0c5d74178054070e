package lbsync

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	hrt "github.com/haproxytech/client-native/v5/runtime"
	"github.com/haproxytech/client-native/v5/runtime/options"

	"github.com/discovery-mesos/discovery/internal/haproxytest"
)

// BenchmarkRuntimeServerCycle compares the two ways of moving servers at
// runtime on HAProxy 2.6, one server brought in and taken out per iteration:
//
//   - add_del: "add server", "enable health", "state ready", then "state
//     drain", "state maint", "del server" (what runtimeAPI does);
//
//   - template_slot: a pre-allocated server-template slot moved with "set
//     server addr" and "state ready", then "state maint".
//
//     go test ./lbsync -run '^$' -bench RuntimeServerCycle
func BenchmarkRuntimeServerCycle(b *testing.B) {
	bin := haproxytest.Binary(b)
	dir := haproxytest.Dir(b)
	stats := filepath.Join(dir, "stats.sock")
	be := haproxytest.StartBackend(b, "127.0.0.2")
	cfg := haproxytest.Head(stats) +
		"backend dyn\n  balance roundrobin\n  server s0 " + be.Addr() + " check inter 1s\n" +
		"backend tpl\n  balance roundrobin\n  server-template slot 1-10 127.0.0.2:1 check inter 1s disabled\n" +
		"frontend f\n  bind 127.0.0.1:" + strconv.Itoa(haproxytest.FreePort(b, "127.0.0.1")) + "\n  default_backend dyn\n"
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	h := NewHAProxy(HAProxyOptions{Binary: bin, ConfigPath: cfgPath, MasterSocket: filepath.Join(dir, "master.sock")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h.Start()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := h.WaitRunning(wctx); err != nil {
		b.Fatal(err)
	}
	c, err := hrt.New(ctx, options.Socket(stats))
	if err != nil {
		b.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("add_del", func(b *testing.B) {
		for i := range b.N {
			name := "t" + strconv.Itoa(i)
			must(c.AddServer("dyn", name, be.Addr()+" check inter 1s"))
			must(c.EnableServerHealth("dyn", name))
			must(c.SetServerState("dyn", name, "ready"))
			must(c.SetServerState("dyn", name, "drain"))
			must(c.SetServerState("dyn", name, "maint"))
			must(c.DeleteServer("dyn", name))
		}
	})
	b.Run("template_slot", func(b *testing.B) {
		for i := range b.N {
			slot := "slot" + strconv.Itoa(i%10+1)
			must(c.SetServerAddr("tpl", slot, be.Host, be.Port))
			must(c.SetServerState("tpl", slot, "ready"))
			must(c.SetServerState("tpl", slot, "maint"))
		}
	})
}
