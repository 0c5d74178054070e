package lbsync

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"
)

// HTTPOptions configure the marathon-lb endpoints.
type HTTPOptions struct {
	// Refetch asks the sources to fetch now (the hup signal); nil only resyncs.
	Refetch func(context.Context) error
	// SignalsEnabled serves /_mlb_signal/hup and /_mlb_signal/usr1; when false
	// they answer 403. The daemon turns them off by default when its HTTP port
	// is not on loopback.
	SignalsEnabled bool
	Logger         *slog.Logger
}

// HTTPPaths are the paths HTTPHandler serves, for mounting it on a mux.
var HTTPPaths = []string{
	"/_haproxy_getconfig", "/_haproxy_getvhostmap", "/_haproxy_getappmap",
	"/_mlb_signal/hup", "/_mlb_signal/usr1",
}

// HTTPHandler serves marathon-lb's endpoints from the syncer's state:
//
//	/_haproxy_getconfig    the config HAProxy runs
//	/_haproxy_getvhostmap  the vhost→backend map (--haproxy-map), else empty
//	/_haproxy_getappmap    the app id→backend map (--haproxy-map), else empty
//	/_mlb_signal/hup       refetch, then rebuild and apply
//	/_mlb_signal/usr1      reload HAProxy
func HTTPHandler(s *Syncer, opts HTTPOptions) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	text := func(w http.ResponseWriter, body []byte) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(body)
	}
	mux.HandleFunc("GET /_haproxy_getconfig", func(w http.ResponseWriter, r *http.Request) {
		text(w, s.Config())
	})
	mapFile := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var body []byte
			if m := s.Model(); m != nil {
				for _, f := range m.Maps {
					if filepath.Base(f.Path) == name {
						body = f.Content
					}
				}
			}
			text(w, body)
		}
	}
	mux.HandleFunc("GET /_haproxy_getvhostmap", mapFile("domain2backend.map"))
	mux.HandleFunc("GET /_haproxy_getappmap", mapFile("app2backend.map"))

	signal := func(name string, do func(r *http.Request) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodPost {
				w.Header().Set("Allow", "GET, POST")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			if !opts.SignalsEnabled {
				http.Error(w, "signal endpoints are disabled", http.StatusForbidden)
				return
			}
			log.Info("signal received over http", "signal", name, "remote", r.RemoteAddr)
			if err := do(r); err != nil {
				log.Error("signal failed", "signal", name, "err", err)
				http.Error(w, name+" failed: "+err.Error(), http.StatusInternalServerError)
				return
			}
			text(w, []byte("Sent "+name+" signal to marathon-lb\n"))
		}
	}
	mux.HandleFunc("/_mlb_signal/hup", signal("SIGHUP", func(r *http.Request) error {
		if opts.Refetch != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
			defer cancel()
			if err := opts.Refetch(ctx); err != nil {
				return err
			}
		}
		s.Resync()
		return nil
	}))
	mux.HandleFunc("/_mlb_signal/usr1", signal("SIGUSR1", func(*http.Request) error {
		s.Reload()
		return nil
	}))
	return mux
}
