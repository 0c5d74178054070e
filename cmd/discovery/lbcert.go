package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// defaultSSLCert is marathon-lb's default --ssl-certs (a variable for tests).
var defaultSSLCert = "/etc/ssl/cert.pem"

// ownSSLCertName is the certificate discovery writes itself, beside the HAProxy
// config: the directory it owns, never a system path.
const ownSSLCertName = "cert.pem"

// ensureSSLCerts makes the HTTPS frontend's certificates exist, as marathon-lb's
// container does at start, and sets cfg.SSLCerts to the files HAProxy loads.
//
// With the default --ssl-certs: the HAPROXY_SSL_CERT environment variable,
// when set, is written beside the HAProxy config and used; otherwise
// /etc/ssl/cert.pem is used if it is there (where marathon-lb users put
// theirs); otherwise a self-signed certificate is written beside the HAProxy
// config (so vhost apps are served over HTTPS at once). marathon-lb wrote both
// into /etc/ssl, which inside its container was its own; on a host it is not
// ours to write. A certificate the operator named that does not exist is an
// error.
func ensureSSLCerts(cfg *lbmodel.Config, getenv func(string) string, log *slog.Logger) error {
	if !slices.Equal(cfg.SSLCerts, []string{defaultSSLCert}) && len(cfg.SSLCerts) > 0 {
		for _, c := range cfg.SSLCerts {
			if _, err := os.Stat(c); err != nil {
				return fmt.Errorf("flag --ssl-certs: %w", err)
			}
		}
		return nil
	}
	own := filepath.Join(filepath.Dir(cfg.HAProxyConfig), ownSSLCertName)
	if pemText := getenv("HAPROXY_SSL_CERT"); pemText != "" {
		if err := writePrivate(own, []byte(pemText)); err != nil {
			return fmt.Errorf("writing HAPROXY_SSL_CERT to %s: %w", own, err)
		}
		cfg.SSLCerts = []string{own}
		return nil
	}
	if _, err := os.Stat(defaultSSLCert); err == nil {
		cfg.SSLCerts = []string{defaultSSLCert}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("flag --ssl-certs: %w", err)
	}
	cfg.SSLCerts = []string{own}
	if _, err := os.Stat(own); err == nil {
		return nil // written by an earlier run
	}
	pemText, err := selfSignedPEM()
	if err != nil {
		return err
	}
	if err := writePrivate(own, pemText); err != nil {
		return fmt.Errorf("writing a self-signed certificate to %s: %w", own, err)
	}
	log.Warn("no TLS certificate for the HTTPS frontend: wrote a self-signed one beside the HAProxy config; give yours with --ssl-certs or HAPROXY_SSL_CERT", "path", own)
	return nil
}

func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// selfSignedPEM returns a certificate and its key in one PEM file, as HAProxy's
// "crt" takes them.
func selfSignedPEM() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "discovery self-signed", Organization: []string{"discovery"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating a certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...), nil
}
