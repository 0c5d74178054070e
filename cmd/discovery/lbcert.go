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
)

// defaultSSLCert is marathon-lb's default --ssl-certs (a variable for tests).
var defaultSSLCert = "/etc/ssl/cert.pem"

// ensureSSLCerts makes the HTTPS frontend's certificates exist, as marathon-lb's
// container does at start: the HAPROXY_SSL_CERT environment variable, when set,
// is written to the default certificate; a missing default certificate is
// replaced by a self-signed one (so vhost apps are served over HTTPS at once).
// A certificate the operator named that does not exist is an error.
func ensureSSLCerts(certs []string, getenv func(string) string, log *slog.Logger) error {
	if pemText := getenv("HAPROXY_SSL_CERT"); pemText != "" && slices.Contains(certs, defaultSSLCert) {
		if err := writePrivate(defaultSSLCert, []byte(pemText)); err != nil {
			return fmt.Errorf("writing HAPROXY_SSL_CERT to %s: %w", defaultSSLCert, err)
		}
	}
	for _, c := range certs {
		_, err := os.Stat(c)
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist) && c == defaultSSLCert:
			pemText, err := selfSignedPEM()
			if err != nil {
				return err
			}
			if err := writePrivate(c, pemText); err != nil {
				return fmt.Errorf("writing a self-signed certificate to %s: %w", c, err)
			}
			log.Warn("no TLS certificate for the HTTPS frontend: wrote a self-signed one; give yours with --ssl-certs or HAPROXY_SSL_CERT", "path", c)
		default:
			return fmt.Errorf("flag --ssl-certs: %w", err)
		}
	}
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
