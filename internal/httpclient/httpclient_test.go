package httpclient

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCertPool(t *testing.T) {
	dir := t.TempDir()
	if _, err := CertPool(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("a missing file gave no error")
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CertPool(empty); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a file without a certificate: err = %v", err)
	}
}

func TestCancelOnCloseCancels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	body := &CancelOnClose{ReadCloser: io.NopCloser(strings.NewReader("x")), Cancel: cancel}
	if err := body.Close(); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil {
		t.Error("closing the body left the request's context alive")
	}
}
