// Package dcosauth logs in to DC/OS's identity and access manager as a
// service account and keeps the resulting token on every request.
//
// Both tools discovery replaces could do this, each its own way: mesos-dns
// reads an IAMConfigFile (mesosAuthentication "iam") for the masters, and
// marathon-lb takes --dcos-auth-credentials or DCOS_SERVICE_ACCOUNT_CREDENTIAL
// for Marathon. Both files describe the same thing (a uid, an RSA private key
// and a login endpoint), so one Session serves both sources: it signs a
// short-lived RS256 login token with the key, exchanges it at the login
// endpoint for an authentication token, sends that as "Authorization:
// token=…", refreshes it before it expires and logs in again when a server
// answers 401.
package dcosauth

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Credentials are a service account's: who it is, how it proves it, and
// where it logs in.
type Credentials struct {
	// UID is the service account's id.
	UID string
	// Key signs the login token. Nil when Password is used instead.
	Key *rsa.PrivateKey
	// Password logs in a user account instead of a key (DC/OS accepts
	// either; mesos-dns's IAM file has the field).
	Password string
	// LoginEndpoint is the IAM's login URL, e.g.
	// https://leader.mesos/acs/api/v1/auth/login.
	LoginEndpoint string
}

// String names the account without its secret.
func (c Credentials) String() string {
	how := "private key"
	if c.Key == nil {
		how = "password"
	}
	return fmt.Sprintf("uid %q (%s) at %s", c.UID, how, c.LoginEndpoint)
}

// credentialsFile is the union of the two files users have: DC/OS's service
// account secret (private_key, scheme) as marathon-lb read it, and
// mesos-dns's IAMConfigFile (secret, password). Other fields are ignored, as
// both tools ignored them.
type credentialsFile struct {
	UID           string `json:"uid"`
	PrivateKey    string `json:"private_key"`
	Secret        string `json:"secret"`
	Password      string `json:"password"`
	LoginEndpoint string `json:"login_endpoint"`
	Scheme        string `json:"scheme"`
}

// ParseCredentials reads a service account's JSON credentials. Every problem
// is named; the key itself never appears in an error.
func ParseCredentials(data []byte) (Credentials, error) {
	var f credentialsFile
	if err := json.Unmarshal(data, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Credentials{}, fmt.Errorf("not JSON: syntax error at byte %d", se.Offset)
		}
		return Credentials{}, fmt.Errorf("not a credentials object: %w", err)
	}
	var errs []error
	c := Credentials{UID: f.UID, Password: f.Password, LoginEndpoint: f.LoginEndpoint}
	if c.UID == "" {
		errs = append(errs, errors.New("uid: missing"))
	}
	if f.Scheme != "" && !strings.EqualFold(f.Scheme, "RS256") {
		errs = append(errs, fmt.Errorf("scheme: only RS256 is supported, got %q", f.Scheme))
	}
	pem := f.PrivateKey
	if pem == "" {
		pem = f.Secret
	}
	switch {
	case pem != "":
		key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(pem))
		if err != nil {
			errs = append(errs, fmt.Errorf("private_key: not a PEM RSA private key: %w", err))
		}
		c.Key = key
	case c.Password == "":
		errs = append(errs, errors.New("private_key: missing (or password)"))
	}
	if err := checkEndpoint(c.LoginEndpoint); err != nil {
		errs = append(errs, fmt.Errorf("login_endpoint: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// LoadCredentials reads ParseCredentials' input from a file.
func LoadCredentials(path string) (Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, err
	}
	c, err := ParseCredentials(data)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func checkEndpoint(raw string) error {
	if raw == "" {
		return errors.New("missing")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%s: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return fmt.Errorf("%s: no host", u.Redacted())
	}
	return nil
}
