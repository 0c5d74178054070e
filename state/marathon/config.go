package marathon

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/discovery-mesos/discovery/internal/dcosauth"
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
	// DCOSCredentials is a DC/OS service account's credentials, the JSON
	// DC/OS hands out (uid, private_key, login_endpoint):
	// --dcos-auth-credentials or DCOS_SERVICE_ACCOUNT_CREDENTIAL. Used when
	// no basic-auth credentials are given, as in marathon-lb.
	DCOSCredentials string
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
	return fmt.Sprintf("marathon %v (credentials %t, credential file %q, dc/os service account %t, ca cert %q, interval %v, timeout %v)",
		urls, c.Credentials != "", c.CredentialFile, c.DCOSCredentials != "", c.CACertFile, c.Interval, c.Timeout)
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
	if c.DCOSCredentials != "" {
		if _, err := dcosauth.ParseCredentials([]byte(c.DCOSCredentials)); err != nil {
			return fmt.Errorf("marathon config: DCOSCredentials: %w", err)
		}
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
