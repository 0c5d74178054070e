package mesos

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// HTTPConfig is how discovery speaks HTTP to Mesos masters: scheme, TLS and
// authentication. Every field maps onto a mesos-dns config.json key (named in
// its comment) so that an unchanged mesos-dns configuration keeps working.
type HTTPConfig struct {
	// HTTPS talks to the masters over TLS (mesosHTTPSOn).
	HTTPS bool
	// CACertFile is a PEM file of CAs that sign the masters' certificates
	// (caCertFile). Empty means the system roots.
	CACertFile string
	// CertFile and KeyFile are a client certificate and its key, for masters
	// that require one (certFile, keyFile). Both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any master certificate. mesos-dns did this
	// whenever mesosHTTPSOn was set without caCertFile; we only do it when asked.
	InsecureSkipVerify bool
	// Authentication is "" (none) or "basic" (mesosAuthentication). mesos-dns's
	// "iam" (DC/OS service accounts) is not supported.
	Authentication string
	// Principal and Secret are the basic-auth credentials (mesosCredentials).
	Principal, Secret string
}

// Authentication mechanisms (mesosAuthentication).
const (
	AuthNone  = ""
	AuthBasic = "basic"
)

func (c HTTPConfig) validate() error {
	var errs []error
	switch c.Authentication {
	case AuthNone:
	case AuthBasic:
		if c.Principal == "" {
			errs = append(errs, errors.New(`mesosCredentials: mesosAuthentication "basic" needs a principal`))
		}
	case "iam":
		errs = append(errs, errors.New(`mesosAuthentication: "iam" is not supported; use "basic"`))
	default:
		errs = append(errs, fmt.Errorf(`mesosAuthentication: want "" or "basic", got %q`, c.Authentication))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("certFile, keyFile: give both or neither"))
	}
	return errors.Join(errs...)
}

// mesosClient sends requests to Mesos masters with the configured scheme, TLS
// and credentials. It never follows redirects itself: a non-leading master's 307
// is handled by the caller, which knows which hops it has made.
type mesosClient struct {
	http      *http.Client
	scheme    string
	principal string
	secret    string
}

func newMesosClient(c HTTPConfig) (*mesosClient, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil, // masters are reached directly, never through $HTTP_PROXY
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		// A fresh connection per fetch, as mesos-dns does: fetches are a minute
		// apart and a pooled connection to a master that went away only costs a
		// failed request.
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: 0, // bounded by the request context
	}
	mc := &mesosClient{scheme: "http"}
	if c.HTTPS {
		mc.scheme = "https"
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // only when configured
		if c.CACertFile != "" {
			pem, err := os.ReadFile(c.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("caCertFile: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("caCertFile: %s holds no PEM certificate", c.CACertFile)
			}
			tc.RootCAs = pool
		}
		if c.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("certFile, keyFile: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	if c.Authentication == AuthBasic {
		mc.principal, mc.secret = c.Principal, c.Secret
	}
	mc.http = &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return mc, nil
}

// get sends a GET for url with the credentials and headers Mesos expects.
func (c *mesosClient) get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "discovery")
	if c.principal != "" {
		req.SetBasicAuth(c.principal, c.secret)
	}
	return c.http.Do(req)
}

// errBodyTooLarge is returned by readBody for a body over the limit.
var errBodyTooLarge = errors.New("body too large")

// bodyChunks recycles the fixed-size chunks readBody reads bodies without a
// Content-Length into, so that repeated oversized answers (a fault retried every
// half second) reuse the same memory instead of each allocating up to the limit.
var bodyChunks = sync.Pool{New: func() any {
	b := make([]byte, bodyChunkSize)
	return &b
}}

const bodyChunkSize = 1 << 20

// readBody reads at most limit bytes of resp's body. A longer body is an error
// as soon as it is known to be longer. With a Content-Length the body is read
// into one buffer of that size; without one it is read in fixed chunks and
// copied once into a buffer of the final size, so that a runaway response costs
// at most limit bytes (growing one buffer by doubling would cost up to three
// times that until the garbage collector runs).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds the %d byte limit", errBodyTooLarge, resp.ContentLength, limit)
	}
	r := io.LimitReader(resp.Body, limit+1)
	if resp.ContentLength >= 0 {
		buf := make([]byte, resp.ContentLength)
		n, err := io.ReadFull(r, buf)
		if err != nil {
			return nil, fmt.Errorf("reading body after %d of %d bytes: %w", n, resp.ContentLength, err)
		}
		var extra [1]byte
		if m, _ := r.Read(extra[:]); m > 0 {
			return nil, fmt.Errorf("body longer than its Content-Length %d", resp.ContentLength)
		}
		return buf, nil
	}
	// Pooled chunks are never trimmed (a trimmed one would come back short);
	// the bytes read into each are counted in lens.
	var chunks []*[]byte
	var lens []int
	defer func() {
		for _, c := range chunks {
			bodyChunks.Put(c)
		}
	}()
	var total int64
	for {
		c := bodyChunks.Get().(*[]byte)
		chunks = append(chunks, c)
		n, err := io.ReadFull(r, *c)
		lens = append(lens, n)
		total += int64(n)
		if total > limit {
			return nil, fmt.Errorf("%w: more than the %d byte limit", errBodyTooLarge, limit)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading body after %d bytes: %w", total, err)
		}
	}
	buf := make([]byte, 0, total)
	for i, c := range chunks {
		buf = append(buf, (*c)[:lens[i]]...)
	}
	return buf, nil
}

// stateBody reads a response body as a decoder consumes it, with readBody's
// limits: at most limit bytes, and exactly the Content-Length when there is
// one. It counts the bytes read and keeps the first error, so that a caller can
// tell a body that could not be read (err) from one that was read but is not a
// state.
type stateBody struct {
	r      io.Reader
	left   int64 // bytes that may still be read before the limit is checked
	length int64 // the Content-Length, or -1
	limit  int64
	n      int64
	err    error
}

// openStateBody checks resp's Content-Length against limit and returns a
// reader of its body.
func openStateBody(resp *http.Response, limit int64) (*stateBody, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds the %d byte limit", errBodyTooLarge, resp.ContentLength, limit)
	}
	left := limit
	if resp.ContentLength >= 0 {
		left = resp.ContentLength
	}
	return &stateBody{r: resp.Body, left: left, length: resp.ContentLength, limit: limit}, nil
}

func (b *stateBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		// All that may be read has been: anything more is an error.
		var extra [1]byte
		m, err := 0, error(nil)
		for range 100 { // a Read may return nothing and no error
			if m, err = b.r.Read(extra[:]); m > 0 || err != nil {
				break
			}
		}
		switch {
		case m > 0 && b.length >= 0:
			b.err = fmt.Errorf("body longer than its Content-Length %d", b.length)
		case m > 0:
			b.err = fmt.Errorf("%w: more than the %d byte limit", errBodyTooLarge, b.limit)
		case err == nil || err == io.EOF:
			return 0, io.EOF
		default:
			b.err = fmt.Errorf("reading body after %d bytes: %w", b.n, err)
		}
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.length >= 0 && b.n < b.length:
		b.err = fmt.Errorf("reading body after %d of %d bytes: %w", b.n, b.length, io.ErrUnexpectedEOF)
	case err != nil && err != io.EOF:
		if b.length >= 0 {
			b.err = fmt.Errorf("reading body after %d of %d bytes: %w", b.n, b.length, err)
		} else {
			b.err = fmt.Errorf("reading body after %d bytes: %w", b.n, err)
		}
	}
	if b.err != nil {
		return n, b.err
	}
	return n, err
}
