package mesos

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// errBodyTooLarge is returned by readBody for a body over the limit.
var errBodyTooLarge = errors.New("body too large")

// bodyChunks recycles the fixed-size chunks readBody reads bodies without a
// Content-Length into, so that repeated oversized answers (a fault retried every
// half second) reuse the same memory instead of each allocating up to the limit.
var bodyChunks = sync.Pool{New: func() any {
	b := make([]byte, bodyChunkSize)
	return &b
}}

const bodyChunkSize = 1 << 20

// readBody reads at most limit bytes of resp's body. A longer body is an error
// as soon as it is known to be longer. With a Content-Length the body is read
// into one buffer of that size; without one it is read in fixed chunks and
// copied once into a buffer of the final size, so that a runaway response costs
// at most limit bytes (growing one buffer by doubling would cost up to three
// times that until the garbage collector runs).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds the %d byte limit", errBodyTooLarge, resp.ContentLength, limit)
	}
	r := io.LimitReader(resp.Body, limit+1)
	if resp.ContentLength >= 0 {
		buf := make([]byte, resp.ContentLength)
		n, err := io.ReadFull(r, buf)
		if err != nil {
			return nil, fmt.Errorf("reading body after %d of %d bytes: %w", n, resp.ContentLength, err)
		}
		var extra [1]byte
		if m, _ := r.Read(extra[:]); m > 0 {
			return nil, fmt.Errorf("body longer than its Content-Length %d", resp.ContentLength)
		}
		return buf, nil
	}
	// Pooled chunks are never trimmed (a trimmed one would come back short);
	// the bytes read into each are counted in lens.
	var chunks []*[]byte
	var lens []int
	defer func() {
		for _, c := range chunks {
			bodyChunks.Put(c)
		}
	}()
	var total int64
	for {
		c := bodyChunks.Get().(*[]byte)
		chunks = append(chunks, c)
		n, err := io.ReadFull(r, *c)
		lens = append(lens, n)
		total += int64(n)
		if total > limit {
			return nil, fmt.Errorf("%w: more than the %d byte limit", errBodyTooLarge, limit)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading body after %d bytes: %w", total, err)
		}
	}
	buf := make([]byte, 0, total)
	for i, c := range chunks {
		buf = append(buf, (*c)[:lens[i]]...)
	}
	return buf, nil
}

// stateBody reads a response body as a decoder consumes it, with readBody's
// limits: at most limit bytes, and exactly the Content-Length when there is
// one. It counts the bytes read and keeps the first error, so that a caller can
// tell a body that could not be read (err) from one that was read but is not a
// state.
type stateBody struct {
	r      io.Reader
	left   int64 // bytes that may still be read before the limit is checked
	length int64 // the Content-Length, or -1
	limit  int64
	n      int64
	err    error
}

// openStateBody checks resp's Content-Length against limit and returns a
// reader of its body.
func openStateBody(resp *http.Response, limit int64) (*stateBody, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds the %d byte limit", errBodyTooLarge, resp.ContentLength, limit)
	}
	left := limit
	if resp.ContentLength >= 0 {
		left = resp.ContentLength
	}
	return &stateBody{r: resp.Body, left: left, length: resp.ContentLength, limit: limit}, nil
}

func (b *stateBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		// All that may be read has been: anything more is an error.
		var extra [1]byte
		m, err := 0, error(nil)
		for range 100 { // a Read may return nothing and no error
			if m, err = b.r.Read(extra[:]); m > 0 || err != nil {
				break
			}
		}
		switch {
		case m > 0 && b.length >= 0:
			b.err = fmt.Errorf("body longer than its Content-Length %d", b.length)
		case m > 0:
			b.err = fmt.Errorf("%w: more than the %d byte limit", errBodyTooLarge, b.limit)
		case err == nil || err == io.EOF:
			return 0, io.EOF
		default:
			b.err = fmt.Errorf("reading body after %d bytes: %w", b.n, err)
		}
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.length >= 0 && b.n < b.length:
		b.err = fmt.Errorf("reading body after %d of %d bytes: %w", b.n, b.length, io.ErrUnexpectedEOF)
	case err != nil && err != io.EOF:
		if b.length >= 0 {
			b.err = fmt.Errorf("reading body after %d of %d bytes: %w", b.n, b.length, err)
		} else {
			b.err = fmt.Errorf("reading body after %d bytes: %w", b.n, err)
		}
	}
	if b.err != nil {
		return n, b.err
	}
	return n, err
}

// drain reads a little of an unwanted body and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
