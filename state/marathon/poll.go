package marathon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/discovery-mesos/discovery/state"
)

// Defaults for the zero fields of a Config.
const (
	// DefaultInterval is how often the app list is fetched. Without the
	// event stream it bounds how stale the load balancer can be.
	DefaultInterval = 10 * time.Second
	// DefaultTimeout bounds one request, connect to last byte
	// (marathon-lb allows 3 s to connect and 46 s to read).
	DefaultTimeout = 45 * time.Second
	// DefaultConnectTimeout bounds connecting, so that a dead Marathon
	// fails over quickly.
	DefaultConnectTimeout = 3 * time.Second
	// DefaultMaxBody bounds the size of the app list read (after
	// decompression); 10,000 apps with 3 tasks each are about 20 MB.
	DefaultMaxBody = 256 << 20
)

// Config configures a Poller. Its fields follow marathon-lb's
// flags; zero durations and sizes take the defaults above.
type Config struct {
	// URLs are the Marathon instances (--marathon URL [URL…]), e.g.
	// "http://127.0.0.1:8080" or "https://leader.mesos/marathon". They are
	// tried in order; after a failure the poller sticks with the one that
	// answered. A URL may carry user:pass@, used when no other credentials are
	// configured.
	URLs []string
	// Credentials is "user:pass" for basic auth (--auth-credentials).
	Credentials string
	// CredentialFile is a file whose first line is "user:pass"
	// (--marathon-auth-credential-file). It wins over Credentials; an empty
	// first line means no authentication, as in marathon-lb.
	CredentialFile string
	// CACertFile is a PEM bundle of the CAs trusted for https URLs, in place of
	// the system roots (--marathon-ca-cert).
	CACertFile string
	// InsecureSkipVerify turns certificate verification off for https URLs.
	// marathon-lb does not verify unless given a CA certificate; discovery does
	// by default, and this is the escape hatch.
	InsecureSkipVerify bool
	// Interval is the time between two fetches of the app list.
	Interval time.Duration
	// Timeout bounds one request, from connecting to reading the last byte.
	Timeout time.Duration
	// ConnectTimeout bounds connecting to one URL (at most Timeout).
	ConnectTimeout time.Duration
	// MaxBodyBytes bounds the size of the app list read.
	MaxBodyBytes int64
}

// String describes the configuration without its credentials.
func (c Config) String() string {
	urls := make([]string, len(c.URLs))
	for i, u := range c.URLs {
		urls[i] = redactURL(u)
	}
	return fmt.Sprintf("marathon %v (credentials %t, credential file %q, ca cert %q, interval %v, timeout %v)",
		urls, c.Credentials != "", c.CredentialFile, c.CACertFile, c.Interval, c.Timeout)
}

// LogValue keeps credentials out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("marathon config: URLs: at least one Marathon URL is needed")
	}
	for i, raw := range c.URLs {
		if _, err := parseMarathonURL(raw); err != nil {
			return fmt.Errorf("marathon config: URLs[%d]: %w", i, err)
		}
	}
	if c.Credentials != "" && !strings.Contains(c.Credentials, ":") {
		return errors.New("marathon config: Credentials: must be user:pass")
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Interval", c.Interval}, {"Timeout", c.Timeout}, {"ConnectTimeout", c.ConnectTimeout}} {
		if f.d < 0 {
			return fmt.Errorf("marathon config: %s: %v is negative", f.name, f.d)
		}
	}
	if c.MaxBodyBytes < 0 {
		return fmt.Errorf("marathon config: MaxBodyBytes: %d is negative", c.MaxBodyBytes)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	c.ConnectTimeout = min(c.ConnectTimeout, c.Timeout)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBody
	}
	return c
}

// marathonEndpoint is one configured Marathon, ready to be asked.
type marathonEndpoint struct {
	// name is the URL without credentials, path or query: AppSet.Source and the
	// source named in FetchFailed.
	name string
	// apps is the full /v2/apps request URL, without credentials.
	apps       string
	user, pass string
	auth       bool
}

// Poller is the Source that follows Marathon by fetching the whole app
// list (AppsPath) every Interval, and at once when Refresh is called.
// It fails over across the configured URLs and sticks with the one that
// answers. A failed or malformed fetch is reported to the sink for every URL that
// failed; it never replaces the last good app set.
type Poller struct {
	cfg       Config
	log       *slog.Logger
	client    *http.Client
	endpoints []marathonEndpoint
	refresh   chan struct{}

	mu      sync.Mutex
	current int
}

// NewPoller checks cfg, reads its credential and CA files, and returns a
// poller ready to Run. log may be nil.
func NewPoller(cfg Config, log *slog.Logger) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Poller{
		cfg:     cfg,
		log:     log.With("component", "marathon"),
		refresh: make(chan struct{}, 1),
	}

	user, pass, auth := "", "", false
	switch {
	case cfg.CredentialFile != "":
		line, err := firstLine(cfg.CredentialFile)
		if err != nil {
			return nil, fmt.Errorf("marathon config: CredentialFile: %w", err)
		}
		if line != "" {
			var ok bool
			if user, pass, ok = strings.Cut(line, ":"); !ok {
				return nil, fmt.Errorf("marathon config: CredentialFile: %s: first line must be user:pass", cfg.CredentialFile)
			}
			auth = true
		}
	case cfg.Credentials != "":
		user, pass, _ = strings.Cut(cfg.Credentials, ":")
		auth = true
	}
	for _, raw := range cfg.URLs {
		u, _ := parseMarathonURL(raw)
		ep := marathonEndpoint{user: user, pass: pass, auth: auth}
		if !auth && u.User != nil {
			ep.user = u.User.Username()
			ep.pass, _ = u.User.Password()
			ep.auth = true
		}
		u.User = nil
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		ep.name = u.String()
		path, query, _ := strings.Cut(AppsPath, "?")
		u.Path += path
		u.RawQuery = query
		ep.apps = u.String()
		p.endpoints = append(p.endpoints, ep)
	}

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CACertFile != "" {
		pem, err := os.ReadFile(cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("marathon config: CACertFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("marathon config: CACertFile: %s holds no PEM certificate", cfg.CACertFile)
		}
		tlsCfg.RootCAs = pool
	}
	p.client = &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tlsCfg,
			TLSHandshakeTimeout: cfg.ConnectTimeout + 5*time.Second,
			// The event source refetches several apps at once over this client.
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		},
	}
	return p, nil
}

// Name implements Source.
func (p *Poller) Name() string { return "marathon" }

// Refresh makes the running poller fetch now (for /_mlb_signal/hup and SIGHUP)
// instead of waiting for the interval. It never blocks; refreshes asked for while
// a fetch is under way are merged into one more fetch.
func (p *Poller) Refresh() {
	select {
	case p.refresh <- struct{}{}:
	default:
	}
}

// Current returns the URL (without credentials) the poller asks first: the one
// that last answered.
func (p *Poller) Current() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endpoints[p.current].name
}

// Run implements Source: it fetches at once, then every Interval and on Refresh,
// until ctx is done.
func (p *Poller) Run(ctx context.Context, sink state.Sink) error {
	p.log.Info("following marathon", "config", p.cfg)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-p.refresh:
			timer.Stop()
		}
		set, err := p.fetch(ctx, sink.FetchFailed)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			p.log.Error("no marathon answered; keeping the last good apps", "error", err)
		} else {
			sink.PublishApps(set)
		}
		timer.Reset(p.cfg.Interval)
	}
}

// Fetch fetches the app list once, with failover, and returns it sealed. It is
// what `discovery render` uses; Run calls the same code.
func (p *Poller) Fetch(ctx context.Context) (*state.AppSet, error) {
	return p.fetch(ctx, func(string, error) {})
}

func (p *Poller) fetch(ctx context.Context, failed func(source string, err error)) (*state.AppSet, error) {
	p.mu.Lock()
	start := p.current
	p.mu.Unlock()
	var errs []error
	for k := range p.endpoints {
		i := (start + k) % len(p.endpoints)
		ep := &p.endpoints[i]
		began := time.Now()
		set, err := p.fetchOne(ctx, ep)
		if err == nil {
			if i != start {
				p.log.Warn("marathon failover", "from", p.endpoints[start].name, "to", ep.name)
				p.mu.Lock()
				p.current = i
				p.mu.Unlock()
			}
			p.log.Debug("fetched marathon apps", "url", ep.name, "apps", len(set.Apps), "took", time.Since(began))
			return set, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = fmt.Errorf("fetching apps from %s: %w", ep.name, err)
		p.log.Warn("marathon fetch failed", "url", ep.name, "error", err)
		failed(ep.name, err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (p *Poller) fetchOne(ctx context.Context, ep *marathonEndpoint) (*state.AppSet, error) {
	body, err := p.get(ctx, ep, ep.apps)
	if err != nil {
		return nil, err
	}
	return DecodeApps(body, ep.name, time.Now())
}

// marathonStatusError is a Marathon answer other than 200 OK.
type marathonStatusError struct {
	code   int
	status string
	msg    string // ": <Marathon's message>" or ""
}

func (e *marathonStatusError) Error() string { return e.status + e.msg }

// get sends a GET for rawURL (a URL under ep.name) with ep's credentials, bounded
// by Timeout, and returns the body of a 200 answer, at most MaxBodyBytes long.
// Any other status is a *marathonStatusError carrying Marathon's message. The
// event source uses it for single apps as well as the whole list.
func (p *Poller) get(ctx context.Context, ep *marathonEndpoint, rawURL string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if ep.auth {
		req.SetBasicAuth(ep.user, ep.pass)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &marathonStatusError{code: resp.StatusCode, status: resp.Status, msg: marathonMessage(resp.Body)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading apps: %w", err)
	}
	if int64(len(body)) > p.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("apps document exceeds %d bytes", p.cfg.MaxBodyBytes)
	}
	return body, nil
}

// marathonMessage returns ": <message>" from a Marathon error body
// ({"message": "..."}), or "" when there is none.
func marathonMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return ": " + truncate(m.Message, 200)
	}
	if b = bytes.TrimSpace(b); len(b) > 0 && !bytes.ContainsAny(b, "<{") {
		return ": " + truncate(string(b), 200)
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func parseMarathonURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the URL, credentials included.
		return nil, fmt.Errorf("%q is not a URL", redactURL(raw))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("%s: no host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%s: must not have a query or fragment", u.Redacted())
	}
	return u, nil
}

// redactURL hides the password of a URL, even one that does not parse.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		if scheme := strings.Index(raw, "://"); scheme >= 0 && scheme < at {
			return raw[:scheme+3] + "xxxxx" + raw[at:]
		}
		return "xxxxx" + raw[at:]
	}
	return raw
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
