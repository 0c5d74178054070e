package mesos

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/discovery-mesos/discovery/internal/dcosauth"
	"github.com/discovery-mesos/discovery/internal/httpclient"
)

// HTTPConfig is how discovery speaks HTTP to Mesos masters: scheme, TLS and
// authentication. Every field maps onto a mesos-dns config.json key (named in
// its comment) so that an unchanged mesos-dns configuration keeps working.
type HTTPConfig struct {
	// HTTPS talks to the masters over TLS (mesosHTTPSOn).
	HTTPS bool
	// CACertFile is a PEM file of CAs that sign the masters' certificates
	// (caCertFile). Empty means the certificates are not verified, as mesos-dns
	// did (upstream httpcli.TLSConfig: InsecureSkipVerify when it has no CA
	// pool); the caller warns about it.
	CACertFile string
	// CertFile and KeyFile are a client certificate and its key, for masters
	// that require one (certFile, keyFile). Both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any master certificate even with a
	// CACertFile (mesosHTTPSInsecure).
	InsecureSkipVerify bool
	// Authentication is "" (none), "basic" or "iam" (mesosAuthentication).
	Authentication string
	// Principal and Secret are the basic-auth credentials (mesosCredentials).
	Principal, Secret string
	// IAMConfigFile holds a DC/OS service account's credentials, for "iam"
	// (IAMConfigFile): mesos-dns's file (uid, secret, login_endpoint) or
	// DC/OS's (uid, private_key, login_endpoint).
	IAMConfigFile string
}

// SkipsVerify reports whether the masters' certificates go unverified: over
// HTTPS without a CACertFile (as mesos-dns), or when asked to.
func (c HTTPConfig) SkipsVerify() bool {
	return c.HTTPS && (c.InsecureSkipVerify || c.CACertFile == "")
}

// Authentication mechanisms (mesosAuthentication).
const (
	AuthNone  = ""
	AuthBasic = "basic"
	AuthIAM   = "iam"
)

func (c HTTPConfig) validate() error {
	var errs []error
	switch c.Authentication {
	case AuthNone:
	case AuthBasic:
		if c.Principal == "" {
			errs = append(errs, errors.New(`mesosCredentials: mesosAuthentication "basic" needs a principal`))
		}
	case AuthIAM:
		if c.IAMConfigFile == "" {
			errs = append(errs, errors.New(`IAMConfigFile: mesosAuthentication "iam" needs a service account's credentials file`))
		}
	default:
		errs = append(errs, fmt.Errorf(`mesosAuthentication: want "", "basic" or "iam", got %q`, c.Authentication))
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

func newMesosClient(c HTTPConfig, o clientOptions) (*mesosClient, error) {
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
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.SkipsVerify()} //nolint:gosec // as mesos-dns, with a warning
		if c.CACertFile != "" {
			pool, err := httpclient.CertPool(c.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("caCertFile: %w", err)
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
	var rt http.RoundTripper = tr
	switch c.Authentication {
	case AuthBasic:
		mc.principal, mc.secret = c.Principal, c.Secret
	case AuthIAM:
		creds, err := dcosauth.LoadCredentials(c.IAMConfigFile)
		if err != nil {
			return nil, fmt.Errorf("IAMConfigFile: %w", err)
		}
		// The login endpoint is usually on the masters (Admin Router):
		// the same TLS settings reach it.
		session, err := dcosauth.NewSession(creds, dcosauth.Options{
			Client:     &http.Client{Transport: tr},
			Name:       o.name,
			Logger:     o.log,
			Registerer: o.reg,
		})
		if err != nil {
			return nil, err
		}
		rt = session.Transport(tr)
	}
	mc.http = &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return mc, nil
}

// clientOptions are what a client's DC/OS session logs and counts under.
type clientOptions struct {
	name string
	log  *slog.Logger
	reg  prometheus.Registerer
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

// post sends a POST of a JSON body with the credentials and headers Mesos
// expects.
func (c *mesosClient) post(ctx context.Context, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "discovery")
	if c.principal != "" {
		req.SetBasicAuth(c.principal, c.secret)
	}
	return c.http.Do(req)
}
