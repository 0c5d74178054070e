package dcosauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	// DefaultLifetime is the authentication token's lifetime asked of the
	// IAM, as marathon-lb asked (an IAM may grant another; the token's own
	// exp claim wins).
	DefaultLifetime = time.Hour
	// loginTokenLifetime bounds the signed login token: it proves the key
	// once, at the login, and should be useless soon after.
	loginTokenLifetime = 5 * time.Minute
	// loginTimeout bounds one login, connect to last byte.
	loginTimeout = 30 * time.Second
	// failedLoginPause is how long a refused or failed login is answered
	// from memory: several requests at once (the Marathon event source
	// refetches apps in parallel) make one login, not one each.
	failedLoginPause = 2 * time.Second
	// maxLoginBody bounds the login answer read.
	maxLoginBody = 1 << 20
	// cookieName is where DC/OS also puts the token (marathon-lb read it there).
	cookieName = "dcos-acs-auth-cookie"
)

// Options configure a Session. The zero value of each field works.
type Options struct {
	// Client sends the logins. Give it the TLS settings of the servers the
	// token is for: the login endpoint is usually on the same masters.
	Client *http.Client
	// Name says whose session this is ("mesos", "marathon"): a log attribute
	// and the metrics' client label.
	Name string
	// Lifetime is asked of the IAM for each token (default DefaultLifetime).
	Lifetime time.Duration
	Logger   *slog.Logger
	// Registerer takes the session's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Session holds one service account's authentication token, logging in when
// there is none, when it nears its expiry, and after a server refused it.
// It is safe for concurrent use; at most one login runs at a time.
type Session struct {
	creds   Credentials
	client  *http.Client
	name    string
	life    time.Duration
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	mu         sync.Mutex
	token      string
	refreshAt  time.Time // the token is replaced from here on
	expires    time.Time // and not sent after here
	failedAt   time.Time // the last login that failed, and why
	failedWith error
}

// NewSession returns a session for creds; nothing is sent until the first
// Token.
func NewSession(creds Credentials, o Options) (*Session, error) {
	s := &Session{creds: creds, client: o.Client, name: o.Name, life: o.Lifetime, log: o.Logger, now: o.Now}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.life <= 0 {
		s.life = DefaultLifetime
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	m, err := newMetrics(o.Name, o.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return s, nil
}

// Token returns a token to send: the current one while it is fresh, else
// one from a new login. A failed refresh keeps using a token that has not
// expired yet (the IAM may be back before it does).
func (s *Session) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.refreshAt) {
		return s.token, nil
	}
	if s.failedWith != nil && now.Sub(s.failedAt) < failedLoginPause {
		if s.token != "" && now.Before(s.expires) {
			return s.token, nil
		}
		return "", s.failedWith
	}
	token, expires, err := s.login(ctx, now)
	if err != nil {
		s.failedAt, s.failedWith = now, err
		if s.token != "" && now.Before(s.expires) {
			s.log.Warn("DC/OS login failed; the current token stays in use until it expires",
				"account", s.creds.UID, "expires", s.expires, "error", err)
			return s.token, nil
		}
		s.token = ""
		s.log.Error("DC/OS login failed", "account", s.creds.UID, "error", err)
		return "", err
	}
	s.failedWith = nil
	s.token, s.expires = token, expires
	// Refreshed at three quarters of its life: early enough that a slow or
	// failing IAM leaves a quarter to retry in.
	s.refreshAt = now.Add(expires.Sub(now) * 3 / 4)
	s.metrics.expiry.Set(float64(expires.Unix()))
	s.log.Info("logged in to DC/OS", "account", s.creds.UID, "expires", expires)
	return token, nil
}

// Invalidate drops token if it is still the current one: a server refused
// it, so the next Token logs in again.
func (s *Session) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token && token != "" {
		s.token = ""
		s.failedWith = nil
		s.metrics.refused.Inc()
		s.log.Info("a server refused the DC/OS token; logging in again", "account", s.creds.UID)
	}
}

// LoginError is a login the IAM answered with something other than 200.
// Refused reports the answers that retrying will not change until the
// credentials do (wrong key, unknown account).
type LoginError struct {
	Endpoint, UID string
	Status        string
	Code          int
	Message       string
}

// Refused reports whether the IAM refused the credentials themselves.
func (e *LoginError) Refused() bool {
	return e.Code == http.StatusBadRequest || e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
}

func (e *LoginError) Error() string {
	msg := ""
	if e.Message != "" {
		msg = ": " + e.Message
	}
	verb := "failed"
	if e.Refused() {
		verb = "refused"
	}
	return fmt.Sprintf("DC/OS login as %q at %s %s: %s%s", e.UID, e.Endpoint, verb, e.Status, msg)
}

// login exchanges a signed login token for an authentication token.
func (s *Session) login(ctx context.Context, now time.Time) (token string, expires time.Time, err error) {
	defer func() {
		result := "ok"
		if err != nil {
			result = "error"
			if le := (*LoginError)(nil); errors.As(err, &le) && le.Refused() {
				result = "refused"
			}
		}
		s.metrics.logins.WithLabelValues(result).Inc()
	}()
	body := map[string]any{"uid": s.creds.UID, "exp": now.Add(s.life).Unix()}
	if s.creds.Key != nil {
		signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"uid": s.creds.UID,
			"exp": now.Add(loginTokenLifetime).Unix(),
		}).SignedString(s.creds.Key)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("signing the DC/OS login token: %w", err)
		}
		body["token"] = signed
	} else {
		body["password"] = s.creds.Password
	}
	b, err := json.Marshal(body)
	if err != nil {
		return "", time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.creds.LoginEndpoint, bytes.NewReader(b))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("DC/OS login: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("DC/OS login as %q: %w", s.creds.UID, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxLoginBody))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("DC/OS login as %q: reading the answer: %w", s.creds.UID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", time.Time{}, &LoginError{Endpoint: s.creds.LoginEndpoint, UID: s.creds.UID,
			Status: resp.Status, Code: resp.StatusCode, Message: iamMessage(answer)}
	}
	var got struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(answer, &got)
	if got.Token == "" {
		for _, c := range resp.Cookies() {
			if c.Name == cookieName {
				got.Token = c.Value
			}
		}
	}
	if got.Token == "" {
		return "", time.Time{}, fmt.Errorf("DC/OS login as %q at %s: the answer holds no token", s.creds.UID, s.creds.LoginEndpoint)
	}
	return got.Token, tokenExpiry(got.Token, now, s.life), nil
}

// tokenExpiry reads the exp claim of an authentication token (DC/OS's are
// JWTs; only the IAM checks their signature). Without one, the lifetime
// asked for.
func tokenExpiry(token string, now time.Time, life time.Duration) time.Time {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err == nil {
		if exp, err := claims.GetExpirationTime(); err == nil && exp != nil && exp.After(now) {
			return exp.Time
		}
	}
	return now.Add(life)
}

// iamMessage is the IAM's explanation of a refusal: the description of its
// JSON error, or a short plain-text body; at most 200 characters, one line.
func iamMessage(body []byte) string {
	var e struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Message     string `json:"message"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		switch {
		case e.Description != "":
			msg = e.Description
		case e.Message != "":
			msg = e.Message
		default:
			msg = e.Title
		}
	} else if b := bytes.TrimSpace(body); len(b) > 0 && !bytes.ContainsAny(b, "<{") {
		msg = string(b)
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}
