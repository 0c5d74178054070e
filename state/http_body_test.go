package state

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// readBody without a Content-Length reads through pooled chunks: bodies of every
// size around the chunk size come back whole, also when the chunks are reused.
func TestReadBodyWithoutLength(t *testing.T) {
	for round := 0; round < 3; round++ {
		for _, size := range []int{0, 1, bodyChunkSize - 1, bodyChunkSize, bodyChunkSize + 1, 3*bodyChunkSize + 7} {
			want := bytes.Repeat([]byte("x"), size)
			for i := range want {
				want[i] = byte(i * 7)
			}
			resp := &http.Response{ContentLength: -1, Body: io.NopCloser(bytes.NewReader(want))}
			got, err := readBody(resp, 4*bodyChunkSize)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round %d size %d: %d bytes, %v", round, size, len(got), err)
			}
		}
	}
	resp := &http.Response{ContentLength: -1, Body: io.NopCloser(strings.NewReader(strings.Repeat("y", 2*bodyChunkSize+1)))}
	if _, err := readBody(resp, 2*bodyChunkSize); !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	resp = &http.Response{ContentLength: 10, Body: io.NopCloser(strings.NewReader(strings.Repeat("z", 11)))}
	if _, err := readBody(resp, 100); err == nil {
		t.Fatal("a body longer than its Content-Length was accepted")
	}
}
