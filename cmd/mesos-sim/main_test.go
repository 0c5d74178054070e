package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-apps", "3", "-tasks", "2", "-churn", "50/s", "-masters", "2",
			"-listen", "127.0.0.1:0", "-marathon-listen", "127.0.0.1:0", "-backends"}, w, io.Discard)
		w.Close()
	}()
	urls := map[string]string{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "master" || f[0] == "marathon") && urls[f[0]] == "" {
			urls[f[0]] = f[1]
		}
		if f[0] == "marathon" {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	for path, want := range map[string]string{
		urls["master"] + "/master/state": `"frameworks"`,
		urls["marathon"] + "/v2/apps":    `"/sim/app-002"`,
		urls["marathon"] + "/v2/info":    `"name"`,
	} {
		resp, err := http.Get(path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body without %s", path, resp.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop within 10s of its context ending")
	}
	if _, err := http.Get(urls["marathon"] + "/v2/apps"); err == nil {
		t.Errorf("marathon still serves after stopping")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-churn", "fast"}, {"-tasks", "0"}, {"extra"}, {"-listen", "256.0.0.1:1", "-marathon-listen", ""}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}
