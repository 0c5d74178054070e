// Package fakeiam is DC/OS's identity and access manager as the sources meet
// it, for tests: a login endpoint that checks the service account's RS256
// login token against the account's public key and hands out authentication
// tokens that expire, and a check for the servers (fake masters, fake
// Marathon) that admit only those tokens, as DC/OS's Admin Router does. A
// real IAM cannot run here; this one follows its wire format
// (POST /acs/api/v1/auth/login, {"uid", "token"} in, {"token"} out, the
// token also as the dcos-acs-auth-cookie cookie, "Authorization: token=…").
package fakeiam

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// LoginPath is where DC/OS serves logins.
const LoginPath = "/acs/api/v1/auth/login"

// keys are generated once per test binary: a 2048-bit key takes a while
// under the race detector, and tests need a few.
var (
	keysOnce sync.Once
	keys     [3]*rsa.PrivateKey
)

func key(i int) *rsa.PrivateKey {
	keysOnce.Do(func() {
		for k := range keys {
			var err error
			if keys[k], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		}
	})
	return keys[i]
}

// AccountKey is the private key of the service account the IAM knows;
// OtherKey is one it does not.
func AccountKey() *rsa.PrivateKey { return key(0) }

// OtherKey is an RSA key the IAM has never seen.
func OtherKey() *rsa.PrivateKey { return key(1) }

// IAM is the fake identity and access manager.
type IAM struct {
	// URL is the login endpoint's full URL.
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	uid      string
	public   *rsa.PublicKey
	lifetime time.Duration
	issued   map[string]time.Time // token → expiry
	logins   int
	refusals int
	down     bool
	bodies   []map[string]any
}

// New starts an IAM on loopback that knows one account, uid, with
// AccountKey's public half. Tokens live lifetime (0: an hour).
func New(t testing.TB, uid string, lifetime time.Duration) *IAM {
	t.Helper()
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	iam := &IAM{uid: uid, public: &AccountKey().PublicKey, lifetime: lifetime, issued: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc(LoginPath, iam.login)
	iam.srv = httptest.NewServer(mux)
	t.Cleanup(iam.srv.Close)
	iam.URL = iam.srv.URL + LoginPath
	return iam
}

// CredentialsJSON is the account's credentials as DC/OS hands them out
// (marathon-lb's --dcos-auth-credentials), signed with key.
func (iam *IAM) CredentialsJSON(key *rsa.PrivateKey) string {
	b, _ := json.Marshal(map[string]string{
		"scheme":         "RS256",
		"uid":            iam.uid,
		"private_key":    PEM(key),
		"login_endpoint": iam.URL,
	})
	return string(b)
}

// MesosDNSJSON is the account's credentials as a mesos-dns IAMConfigFile.
func (iam *IAM) MesosDNSJSON(key *rsa.PrivateKey) string {
	b, _ := json.Marshal(map[string]string{
		"uid":            iam.uid,
		"secret":         PEM(key),
		"login_endpoint": iam.URL,
	})
	return string(b)
}

// PEM encodes key as DC/OS does (PKCS#8).
func PEM(key *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func (iam *IAM) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		iam.refuse(w, http.StatusBadRequest, "ERR_INVALID_DATA", "Request has bad JSON")
		return
	}
	iam.mu.Lock()
	iam.bodies = append(iam.bodies, body)
	uid, public, lifetime, down := iam.uid, iam.public, iam.lifetime, iam.down
	iam.mu.Unlock()
	if down {
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		return
	}

	if body["uid"] != uid {
		iam.refuse(w, http.StatusUnauthorized, "ERR_INVALID_CREDENTIALS", "The account does not exist")
		return
	}
	login, _ := body["token"].(string)
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(login, claims, func(*jwt.Token) (any, error) { return public, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if err != nil {
		iam.refuse(w, http.StatusUnauthorized, "ERR_INVALID_CREDENTIALS", "Login token: "+err.Error())
		return
	}
	if claims["uid"] != uid {
		iam.refuse(w, http.StatusUnauthorized, "ERR_INVALID_CREDENTIALS", "Login token is for another uid")
		return
	}
	exp := time.Now().Add(lifetime)
	iam.mu.Lock()
	serial := iam.logins + iam.refusals
	iam.mu.Unlock()
	token, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"uid": uid, "exp": exp.Unix(), "jti": fmt.Sprint(serial),
	}).SignedString(key(2))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	iam.mu.Lock()
	iam.logins++
	iam.issued[token] = exp
	iam.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "dcos-acs-auth-cookie", Value: token, Path: "/", HttpOnly: true})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
}

func (iam *IAM) refuse(w http.ResponseWriter, code int, errCode, desc string) {
	iam.mu.Lock()
	iam.refusals++
	iam.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"title": http.StatusText(code), "description": desc, "code": errCode})
}

// Check reports why r may not pass, or nil when it carries a token this IAM
// issued that has not expired or been revoked.
func (iam *IAM) Check(r *http.Request) error {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "token=")
	if !ok {
		return fmt.Errorf("no token in Authorization %q", h)
	}
	iam.mu.Lock()
	exp, known := iam.issued[token]
	iam.mu.Unlock()
	switch {
	case !known:
		return errors.New("unknown or revoked token")
	case time.Now().After(exp):
		return errors.New("expired token")
	}
	return nil
}

// Guard wraps h: requests without a valid token get 401, as DC/OS's Admin
// Router answers.
func (iam *IAM) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := iam.Check(r); err != nil {
			w.Header().Set("WWW-Authenticate", "acsjwt")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"title": "Unauthorized", "description": err.Error()})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// RevokeAll forgets every token issued, as an IAM whose signing key was
// rotated: servers answer 401 until the client logs in again.
func (iam *IAM) RevokeAll() {
	iam.mu.Lock()
	defer iam.mu.Unlock()
	iam.issued = map[string]time.Time{}
}

// SetDown makes every login answer 503 (true) or work again (false).
func (iam *IAM) SetDown(down bool) {
	iam.mu.Lock()
	defer iam.mu.Unlock()
	iam.down = down
}

// Logins is the number of successful logins; Refusals of refused ones.
func (iam *IAM) Logins() int {
	iam.mu.Lock()
	defer iam.mu.Unlock()
	return iam.logins
}

// Refusals is the number of logins refused.
func (iam *IAM) Refusals() int {
	iam.mu.Lock()
	defer iam.mu.Unlock()
	return iam.refusals
}

// LastBody is the last login request's JSON body.
func (iam *IAM) LastBody() map[string]any {
	iam.mu.Lock()
	defer iam.mu.Unlock()
	if len(iam.bodies) == 0 {
		return nil
	}
	return iam.bodies[len(iam.bodies)-1]
}
