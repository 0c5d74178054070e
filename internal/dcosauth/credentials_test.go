package dcosauth_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discovery-mesos/discovery/internal/dcosauth"
	"github.com/discovery-mesos/discovery/internal/fakeiam"
)

func TestParseCredentialsBothFormats(t *testing.T) {
	iam := fakeiam.New(t, "discovery-sa", 0)
	for name, doc := range map[string]string{
		"DC/OS service account (marathon-lb)": iam.CredentialsJSON(fakeiam.AccountKey()),
		"mesos-dns IAMConfigFile":             iam.MesosDNSJSON(fakeiam.AccountKey()),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := dcosauth.ParseCredentials([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if c.UID != "discovery-sa" || c.LoginEndpoint != iam.URL || c.Key == nil || !c.Key.Equal(fakeiam.AccountKey()) {
				t.Errorf("got %v", c)
			}
			if s := c.String(); strings.Contains(s, "PRIVATE") || !strings.Contains(s, "discovery-sa") {
				t.Errorf("String() = %q", s)
			}
		})
	}
	c, err := dcosauth.ParseCredentials([]byte(`{"uid":"ops","password":"pw","login_endpoint":"http://127.0.0.1:1/acs/api/v1/auth/login"}`))
	if err != nil || c.Password != "pw" || c.Key != nil {
		t.Errorf("password login: %v %v", c, err)
	}
}

func TestParseCredentialsNamesEveryProblem(t *testing.T) {
	pem := fakeiam.PEM(fakeiam.AccountKey())
	doc := func(m map[string]string) string {
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"not JSON", `{"uid":`, []string{"not JSON"}},
		{"empty", `{}`, []string{"uid: missing", "private_key: missing", "login_endpoint: missing"}},
		{"bad key", doc(map[string]string{"uid": "a", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "login_endpoint": "https://127.0.0.1/x"}), []string{"private_key: not a PEM RSA private key"}},
		{"scheme", doc(map[string]string{"uid": "a", "scheme": "HS256", "private_key": pem, "login_endpoint": "https://127.0.0.1/x"}), []string{`scheme: only RS256`}},
		{"endpoint without scheme", doc(map[string]string{"uid": "a", "private_key": pem, "login_endpoint": "leader.mesos/acs/api/v1/auth/login"}), []string{"login_endpoint:", "scheme must be http or https"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dcosauth.ParseCredentials([]byte(tc.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "MII") {
				t.Errorf("error shows key material: %q", err)
			}
		})
	}
}

func TestLoadCredentialsNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iam.json")
	if err := os.WriteFile(path, []byte(`{"uid":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := dcosauth.LoadCredentials(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v", err)
	}
	if _, err := dcosauth.LoadCredentials(path + ".missing"); err == nil {
		t.Error("a missing file was accepted")
	}
}
