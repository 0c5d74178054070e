// Package httpclient is the HTTP plumbing the Mesos and Marathon sources
// share: each speaks its own protocol with its own client, but both trust
// CAs from a PEM file and both keep a streaming response's request alive
// exactly as long as its body is open.
package httpclient

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
)

// CertPool reads the PEM certificates in file into a pool: the CAs a source
// trusts in place of the system roots. A file without one is an error.
func CertPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// CancelOnClose is a response body whose Close also cancels the request's
// context: a stream (the Mesos event stream, Marathon's server-sent events)
// runs on a context of its own, which must end with the body, not before.
type CancelOnClose struct {
	io.ReadCloser
	Cancel context.CancelFunc
}

// Close cancels the request and closes the body.
func (c *CancelOnClose) Close() error {
	c.Cancel()
	return c.ReadCloser.Close()
}
