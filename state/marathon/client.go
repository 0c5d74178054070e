package marathon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/internal/dcosauth"
	"github.com/discovery-mesos/discovery/internal/httpclient"
	"github.com/discovery-mesos/discovery/state"
)

// endpoint is one configured Marathon, ready to be asked.
type endpoint struct {
	// name is the URL without credentials, path or query: AppSet.Source and the
	// source named in FetchFailed.
	name string
	// apps is the full /v2/apps request URL, without credentials.
	apps       string
	user, pass string
	auth       bool
}

// client is how both Marathon sources speak to Marathon: the checked
// configuration, one HTTP client, an endpoint per configured URL with its
// credentials, and which endpoint answered last (the one asked first: failover
// sticks). The poller and the event source each hold one and never reach into
// each other.
type client struct {
	cfg       Config
	http      *http.Client
	endpoints []endpoint

	mu      sync.Mutex
	current int
}

// newClient checks cfg, reads its credential and CA files, and returns a
// client for its URLs. A DC/OS session logs to log and counts in reg (nil:
// not counted).
func newClient(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &client{cfg: cfg}

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
		ep := endpoint{user: user, pass: pass, auth: auth}
		if !auth && cfg.DCOSCredentials == "" && u.User != nil {
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
		c.endpoints = append(c.endpoints, ep)
	}

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CACertFile != "" {
		pool, err := httpclient.CertPool(cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("marathon config: CACertFile: %w", err)
		}
		tlsCfg.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: cfg.ConnectTimeout + 5*time.Second,
		// The event source refetches several apps at once over this client.
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	c.http = &http.Client{Transport: tr}
	if !auth && cfg.DCOSCredentials != "" {
		creds, err := dcosauth.ParseCredentials([]byte(cfg.DCOSCredentials))
		if err != nil {
			return nil, fmt.Errorf("marathon config: DCOSCredentials: %w", err)
		}
		// The login endpoint is DC/OS's, behind the same Admin Router as
		// Marathon: the same CA reaches it.
		session, err := dcosauth.NewSession(creds, dcosauth.Options{
			Client: &http.Client{Transport: tr}, Name: "marathon", Logger: log, Registerer: reg,
		})
		if err != nil {
			return nil, err
		}
		c.http.Transport = session.Transport(tr)
	}
	return c, nil
}

// Current returns the URL (without credentials) asked first: the one that
// last answered.
func (c *client) Current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endpoints[c.current].name
}

// order returns the endpoint indexes to try: the current one first.
func (c *client) order() []int {
	c.mu.Lock()
	start := c.current
	c.mu.Unlock()
	out := make([]int, len(c.endpoints))
	for k := range out {
		out[k] = (start + k) % len(c.endpoints)
	}
	return out
}

// answered makes endpoint i current. It returns the endpoint that was current
// before, and whether that was another one (a failover, for the caller to log).
func (c *client) answered(i int) (from *endpoint, moved bool) {
	c.mu.Lock()
	prev := c.current
	c.current = i
	c.mu.Unlock()
	return &c.endpoints[prev], prev != i
}

// do sends req with ep's credentials.
func (c *client) do(req *http.Request, ep *endpoint) (*http.Response, error) {
	if ep.auth {
		req.SetBasicAuth(ep.user, ep.pass)
	}
	return c.http.Do(req)
}

// marathonStatusError is a Marathon answer other than 200 OK.
type marathonStatusError struct {
	code   int
	status string
	msg    string // ": <Marathon's message>" or ""
}

func (e *marathonStatusError) Error() string {
	if e.code == http.StatusUnauthorized || e.code == http.StatusForbidden {
		// Retrying will not help: say which settings decide it.
		return e.status + e.msg + ": Marathon refused the credentials; check --auth-credentials, --marathon-auth-credential-file " +
			"(or MARATHON_USER and MARATHON_PASSWORD) and --dcos-auth-credentials (or DCOS_SERVICE_ACCOUNT_CREDENTIAL)"
	}
	return e.status + e.msg
}

// get sends a GET for rawURL (a URL under ep.name) with ep's credentials, bounded
// by Timeout, and returns the body of a 200 answer, at most MaxBodyBytes long.
// Any other status is a *marathonStatusError carrying Marathon's message. The
// event source uses it for single apps.
func (c *client) get(ctx context.Context, ep *endpoint, rawURL string) ([]byte, error) {
	var body []byte
	_, err := c.read(ctx, ep, rawURL, func(r io.Reader) (err error) {
		if body, err = io.ReadAll(r); err != nil {
			return fmt.Errorf("reading apps: %w", err)
		}
		return nil
	})
	return body, err
}

// getApps fetches the whole app list from ep and decodes it as it arrives,
// returning it with the number of bytes read.
func (c *client) getApps(ctx context.Context, ep *endpoint) (set *state.AppSet, n int64, err error) {
	n, err = c.read(ctx, ep, ep.apps, func(r io.Reader) (err error) {
		set, err = DecodeAppsFrom(r, ep.name, time.Now())
		return err
	})
	return set, n, err
}

// read sends a GET for rawURL as get does and hands the body of a 200 answer to
// fn, which fails once more than MaxBodyBytes have been read. It returns how
// many bytes fn read.
func (c *client) read(ctx context.Context, ep *endpoint, rawURL string, fn func(io.Reader) error) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req, ep)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, &marathonStatusError{code: resp.StatusCode, status: resp.Status, msg: marathonMessage(resp.Body)}
	}
	body := &boundedBody{r: resp.Body, limit: c.cfg.MaxBodyBytes}
	err = fn(body)
	return body.n, err
}

// boundedBody reads a body, failing once more than limit bytes have come.
type boundedBody struct {
	r     io.Reader
	n     int64
	limit int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.n > b.limit {
		return 0, fmt.Errorf("apps document exceeds %d bytes", b.limit)
	}
	if rest := b.limit + 1 - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		return n, fmt.Errorf("apps document exceeds %d bytes", b.limit)
	}
	return n, err
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
