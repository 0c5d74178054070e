package dnsserver

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// HTTPOptions configures the /v1 HTTP API.
type HTTPOptions struct {
	// Table returns the current record table; it is called once per request
	// (typically an atomic.Pointer's Load). A nil table answers 503.
	Table func() *Table
	// Version is reported by /v1/version.
	Version string
	// Config returns the configuration view served by /v1/config, encoded as
	// JSON. It must already be redacted (no Mesos secret, no IAM key); as a
	// safety net, keys that look like secrets are removed again before encoding.
	Config func() any
	// RefreshSeconds is reported by /v1/axfr (mesos-dns's "refreshSeconds").
	RefreshSeconds int
	// EnumerationOn serves /v1/enumerate and /v1/axfr ("enumerationOn", on by
	// default in mesos-dns).
	EnumerationOn bool
	// Logger logs encoding failures; nil discards.
	Logger *slog.Logger
}

// NewHTTPHandler returns mesos-dns's /v1 API over the current table, with
// mesos-dns's JSON shapes:
//
//	GET /v1/version                {"Service","Version","URL"}
//	GET /v1/config                 the configuration view
//	GET /v1/hosts/{host}           [{"host","ip"}] for its A and AAAA records
//	GET /v1/hosts/{host}/ports     [{"service","host","ip","port"}] for the SRV
//	                               records that point at host (mesos-dns: 501)
//	GET /v1/services/{service}     [{"service","host","ip","port"}] per SRV target
//	GET /v1/enumerate              frameworks, tasks and their records
//	GET /v1/axfr                   the zone as name -> values maps
//
// Like mesos-dns, a name without records gives a list holding one empty object.
func NewHTTPHandler(opts HTTPOptions) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &httpAPI{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/version", h.version)
	mux.HandleFunc("GET /v1/config", h.config)
	mux.HandleFunc("GET /v1/hosts/{host}", h.withTable(h.hosts))
	mux.HandleFunc("GET /v1/hosts/{host}/ports", h.withTable(h.ports))
	mux.HandleFunc("GET /v1/services/{service}", h.withTable(h.services))
	if opts.EnumerationOn {
		mux.HandleFunc("GET /v1/enumerate", h.withTable(h.enumerate))
		mux.HandleFunc("GET /v1/axfr", h.withTable(h.axfr))
	}
	return mux
}

type httpAPI struct {
	opts HTTPOptions
}

func (h *httpAPI) withTable(fn func(http.ResponseWriter, *http.Request, *Table)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var t *Table
		if h.opts.Table != nil {
			t = h.opts.Table()
		}
		if t == nil {
			http.Error(w, "no records yet", http.StatusServiceUnavailable)
			return
		}
		fn(w, r, t)
	}
}

func (h *httpAPI) writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		h.opts.Logger.Error("encoding http api response", "err", err)
		http.Error(w, "encoding response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

func (h *httpAPI) version(w http.ResponseWriter, _ *http.Request) {
	h.writeJSON(w, map[string]string{
		"Service": "Mesos-DNS",
		"Version": h.opts.Version,
		"URL":     "https://github.com/discovery-mesos/discovery",
	})
}

func (h *httpAPI) config(w http.ResponseWriter, _ *http.Request) {
	var v any = map[string]any{}
	if h.opts.Config != nil {
		v = h.opts.Config()
	}
	red, err := redact(v)
	if err != nil {
		h.opts.Logger.Error("encoding config view", "err", err)
		http.Error(w, "encoding config", http.StatusInternalServerError)
		return
	}
	h.writeJSON(w, red)
}

// redact round-trips v through JSON and drops every object key that names a
// secret, at any depth.
func redact(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return scrub(out), nil
}

func scrub(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if secretKey(k) {
				delete(x, k)
				continue
			}
			x[k] = scrub(val)
		}
	case []any:
		for i := range x {
			x[i] = scrub(x[i])
		}
	}
	return v
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"secret", "password", "passwd", "credential", "token", "privatekey", "private_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// queryName turns an HTTP path parameter into a lowercase FQDN, dropping
// mesos-dns's ".*" wildcards.
func queryName(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, ".*", ""))
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

type hostJSON struct {
	Host string `json:"host"`
	IP   string `json:"ip"`
}

type serviceJSON struct {
	Service string `json:"service"`
	Host    string `json:"host"`
	IP      string `json:"ip"`
	Port    string `json:"port"`
}

func (h *httpAPI) hosts(w http.ResponseWriter, r *http.Request, t *Table) {
	name := queryName(r.PathValue("host"))
	addrs := t.addrs(name)
	out := make([]hostJSON, 0, max(len(addrs), 1))
	for _, a := range addrs {
		out = append(out, hostJSON{Host: name, IP: a.String()})
	}
	if len(out) == 0 {
		out = append(out, hostJSON{})
	}
	h.writeJSON(w, out)
}

// appendTargets appends one entry per address of each SRV target (its first A
// and first AAAA), as mesos-dns does.
func appendTargets(out []serviceJSON, t *Table, service string, srvs []srvTarget) []serviceJSON {
	for _, s := range srvs {
		v4, v6 := t.firstAddrs(s.target)
		for _, a := range [2]netip.Addr{v4, v6} {
			if a.IsValid() {
				out = append(out, serviceJSON{
					Service: service,
					Host:    t.nodeName(s.target),
					IP:      a.String(),
					Port:    strconv.Itoa(int(s.port)),
				})
			}
		}
	}
	return out
}

func (h *httpAPI) services(w http.ResponseWriter, r *http.Request, t *Table) {
	service := r.PathValue("service")
	out := appendTargets(nil, t, service, t.srvs(queryName(service)))
	if len(out) == 0 {
		out = append(out, serviceJSON{})
	}
	h.writeJSON(w, out)
}

// ports lists the SRV records whose target is host: which services it serves
// and on which ports.
func (h *httpAPI) ports(w http.ResponseWriter, r *http.Request, t *Table) {
	name := queryName(r.PathValue("host"))
	var out []serviceJSON
	if target, ok := t.find(name); ok {
		for i := range uint32(t.nodeCount()) {
			nd := t.nodes.at(i)
			for _, s := range t.srvOf(nd) {
				if s.target == target {
					out = appendTargets(out, t, t.nodeName(i), []srvTarget{s})
				}
			}
		}
	}
	if len(out) == 0 {
		out = append(out, serviceJSON{})
	}
	h.writeJSON(w, out)
}

func (h *httpAPI) enumerate(w http.ResponseWriter, _ *http.Request, t *Table) {
	h.writeJSON(w, t.Enumerate())
}

// axfrJSON is mesos-dns's /v1/axfr document (Go field names, no tags).
type axfrJSON struct {
	TTL            int32
	Serial         uint32
	RefreshSeconds int
	Mname          string
	Rname          string
	Domain         string
	Records        axfrRecords
}

type axfrRecords struct {
	As    map[string][]string
	AAAAs map[string][]string
	SRVs  map[string][]string
}

func (h *httpAPI) axfr(w http.ResponseWriter, _ *http.Request, t *Table) {
	recs := axfrRecords{
		As:    map[string][]string{},
		AAAAs: map[string][]string{},
		SRVs:  map[string][]string{},
	}
	for i := range uint32(t.nodeCount()) {
		nd := t.nodes.at(i)
		name := t.nodeName(i)
		for _, a := range t.a4Of(nd) {
			recs.As[name] = append(recs.As[name], netip.AddrFrom4(a).String())
		}
		for _, a := range t.a6Of(nd) {
			recs.AAAAs[name] = append(recs.AAAAs[name], netip.AddrFrom16(a).String())
		}
		for _, s := range t.srvOf(nd) {
			recs.SRVs[name] = append(recs.SRVs[name], t.nodeName(s.target)+":"+strconv.Itoa(int(s.port)))
		}
	}
	cfg := t.Config()
	ttl := int32(min(cfg.TTL, 1<<31-1))
	h.writeJSON(w, axfrJSON{
		TTL:            ttl,
		Serial:         t.Serial(),
		RefreshSeconds: h.opts.RefreshSeconds,
		Mname:          cfg.soaMname(),
		Rname:          cfg.soaRname(),
		Domain:         strings.TrimSuffix(t.Zone(), "."),
		Records:        recs,
	})
}
