package mesos

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
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

// stateBody reads what readBody would accept, byte for byte, and fails where
// readBody fails: over the limit, longer or shorter than the Content-Length,
// or on a read error, which it keeps for the caller.
func TestStateBody(t *testing.T) {
	broken := errors.New("connection reset")
	tests := []struct {
		name   string
		body   io.Reader
		length int64
		limit  int64
		want   string // "" for success
		is     error
	}{
		{"no length", strings.NewReader("hello"), -1, 5, "", nil},
		{"exact length", strings.NewReader("hello"), 5, 5, "", nil},
		{"empty", strings.NewReader(""), -1, 5, "", nil},
		{"over the limit", strings.NewReader("hello!"), -1, 5, "byte limit", errBodyTooLarge},
		{"length over the limit", strings.NewReader("hello!"), 6, 5, "Content-Length 6 exceeds", errBodyTooLarge},
		{"longer than its length", strings.NewReader("hello!"), 5, 10, "longer than its Content-Length", nil},
		{"shorter than its length", strings.NewReader("hell"), 5, 10, "after 4 of 5 bytes", io.ErrUnexpectedEOF},
		{"read error", iotest.TimeoutReader(strings.NewReader("hello")), -1, 10, "reading body after", iotest.ErrTimeout},
		{"read error with length", &errAfter{strings.NewReader("hel"), broken}, 5, 10, "after 3 of 5 bytes", broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{ContentLength: tt.length, Body: io.NopCloser(tt.body)}
			body, err := openStateBody(resp, tt.limit)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(iotest.OneByteReader(body))
				if body.err != err && err != nil {
					t.Errorf("kept error %v, read error %v", body.err, err)
				}
				if int(body.n) < len(got) {
					t.Errorf("counted %d bytes, read %d", body.n, len(got))
				}
			}
			if tt.want == "" {
				if err != nil || string(got) != "hello" && len(got) != 0 {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}
