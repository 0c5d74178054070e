package lbsync

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
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
	// StatsSignalsEnabled is SignalsEnabled for the requests HAProxy's stats
	// listener passes on (they carry StatsPortHeader): the daemon turns them
	// off by default when the stats port is not on loopback.
	StatsSignalsEnabled bool
	Logger              *slog.Logger
}

// HTTPPaths are the paths HTTPHandler serves, for mounting it on a mux.
var HTTPPaths = []string{
	"/_haproxy_getconfig", "/_haproxy_getvhostmap", "/_haproxy_getappmap",
	"/_haproxy_getpids", "/_haproxy_health_check", "/haproxy", "/_haproxy_stats_csv",
	"/_mlb_signal/hup", "/_mlb_signal/usr1",
}

// StatsPortHeader marks the requests the default stats listener passes to
// discovery (HAPROXY_HEAD sets it, replacing any a client sent): their signal
// endpoints follow StatsSignalsEnabled. HAProxy connects from this machine; a
// client elsewhere that sends it meets the stricter of the two switches.
const StatsPortHeader = "X-Discovery-Stats-Port"

// HTTPHandler serves marathon-lb's endpoints from the syncer's state:
//
//	/_haproxy_getconfig    the config HAProxy runs
//	/_haproxy_getvhostmap  the vhost→backend map (--haproxy-map), else empty
//	/_haproxy_getappmap    the app id→backend map (--haproxy-map), else empty
//	/_haproxy_getpids      the PIDs of HAProxy's master and workers, old ones
//	                       included, space-separated (zdd.py waits while
//	                       there are more than two)
//	/_haproxy_health_check 200 while HAProxy runs, else 503
//	/haproxy?stats;csv     HAProxy's statistics CSV ("show stat"), the
//	                       column HAProxy 2.6 names "-" renamed (zdd.py
//	                       turns the headings into Python identifiers); the
//	                       stats listener passes it on as /_haproxy_stats_csv
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
	mux.HandleFunc("GET /_haproxy_getpids", func(w http.ResponseWriter, r *http.Request) {
		pids, err := haproxyPIDs(r.Context(), s.opts.HAProxy)
		if err != nil {
			http.Error(w, "haproxy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		text(w, []byte(pids))
	})
	statsCSV := func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		out, err := unixCommand(ctx, s.opts.StatsSocket, "show stat")
		if err != nil {
			http.Error(w, "haproxy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		text(w, []byte(identifierHeadings(out)))
	}
	mux.HandleFunc("GET /_haproxy_stats_csv", statsCSV)
	mux.HandleFunc("GET /haproxy", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "stats;csv" {
			http.NotFound(w, r)
			return
		}
		statsCSV(w, r)
	})
	mux.HandleFunc("GET /_haproxy_health_check", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if !s.opts.HAProxy.Running(ctx) {
			http.Error(w, "haproxy is not running", http.StatusServiceUnavailable)
			return
		}
		text(w, []byte("ok\n"))
	})

	signal := func(name string, do func(r *http.Request) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodPost {
				w.Header().Set("Allow", "GET, POST")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			enabled := opts.SignalsEnabled
			if r.Header.Get(StatsPortHeader) != "" {
				if fromThisHost(r) {
					enabled = opts.StatsSignalsEnabled
				} else {
					enabled = enabled && opts.StatsSignalsEnabled
				}
			}
			if !enabled {
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

// haproxyPIDs is marathon-lb's getpids answer ("pidof haproxy"): the master's
// PID and every worker's, old workers still finishing connections included,
// from the master CLI (retried for a moment: a reloading master does not
// answer).
func haproxyPIDs(ctx context.Context, h *HAProxy) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, err := h.showProcRetry(ctx)
	if err != nil {
		return "", err
	}
	pids := make([]string, 0, 1+len(p.Workers))
	pids = append(pids, strconv.Itoa(p.MasterPID))
	for _, w := range p.Workers {
		pids = append(pids, strconv.Itoa(w.PID))
	}
	return strings.Join(pids, " "), nil
}

// statsSeparatorHeading is the heading HAProxy 2.6 gives the column between
// its generic statistics and its modules' ("-"), and the name it is served
// under instead.
const (
	statsSeparatorHeading = ",-,"
	statsSeparatorName    = ",modules,"
)

// identifierHeadings renames the "-" heading of a "show stat" CSV, the one
// heading that is not an identifier: marathon-lb's zdd.py makes a Python
// namedtuple of the headings, which refuses it. The rows are HAProxy's; the
// blank line that ends the socket's answer goes, as the stats page has none
// (zdd.py fails on an empty row).
func identifierHeadings(csv string) string {
	head, rest, _ := strings.Cut(strings.TrimRight(csv, "\n")+"\n", "\n")
	return strings.Replace(head, statsSeparatorHeading, statsSeparatorName, 1) + "\n" + rest
}

// fromThisHost reports whether r came over a connection from this machine
// (its source address is the address it reached), as HAProxy's do.
func fromThisHost(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	lh, _, err1 := net.SplitHostPort(local.String())
	rh, _, err2 := net.SplitHostPort(r.RemoteAddr)
	if err1 != nil || err2 != nil {
		return false
	}
	l, err1 := netip.ParseAddr(lh)
	rr, err2 := netip.ParseAddr(rh)
	return err1 == nil && err2 == nil && (rr.IsLoopback() || l.Unmap() == rr.Unmap())
}
