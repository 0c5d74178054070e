package mesos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/mesos/mesos-go/api/v1/lib/master"
)

// The Mesos operator API streams events in RecordIO framing: each record is its
// length in decimal, a newline, and that many bytes of JSON. mesos-go has a
// reader for it, but it caps a record at 4 MiB (its bufio.Scanner's limit),
// and the SUBSCRIBED record carries the whole cluster: 10,000 tasks are about
// 10 MB. recordIOReader reads records of any size up to a configured bound,
// growing its buffer only as far as the records do, or hands a record to a
// decoder that reads it as it arrives (the SUBSCRIBED event: see
// decodeSubscribed), whatever its size.

// errRecordTooLarge is a record over the configured bound.
var errRecordTooLarge = errors.New("record too large")

// recordIOReader reads RecordIO records.
type recordIOReader struct {
	r   *bufio.Reader
	max int64
	buf []byte
}

func newRecordIOReader(r io.Reader, maxRecord int64) *recordIOReader {
	return &recordIOReader{r: bufio.NewReaderSize(r, 64<<10), max: maxRecord}
}

// next returns the next record, valid until the following call. io.EOF means
// the stream ended cleanly between records; a stream cut inside a record is
// io.ErrUnexpectedEOF.
func (rr *recordIOReader) next() ([]byte, error) {
	n, err := rr.length()
	if err != nil {
		return nil, err
	}
	return rr.record(n)
}

// length reads the length line of the next record. io.EOF means the stream
// ended cleanly between records.
func (rr *recordIOReader) length() (int64, error) {
	var n int64
	digits := 0
	for {
		c, err := rr.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return 0, fmt.Errorf("record length: %w", io.ErrUnexpectedEOF)
			}
			return 0, err
		}
		if c == '\n' {
			if digits == 0 {
				return 0, errors.New("record length: empty")
			}
			return n, nil
		}
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("record length: unexpected byte %s", jsonQuoteByte(c))
		}
		digits++
		if digits > 18 {
			return 0, fmt.Errorf("%w: a length of more than 18 digits", errRecordTooLarge)
		}
		n = n*10 + int64(c-'0')
	}
}

// head returns up to max of the first bytes of a record of n bytes whose
// length was just read, without consuming them.
func (rr *recordIOReader) head(n int64, max int) []byte {
	b, _ := rr.r.Peek(int(min(n, int64(max))))
	return b
}

// record reads the n bytes of a record whose length was just read, up to
// the configured bound.
func (rr *recordIOReader) record(n int64) ([]byte, error) {
	if n > rr.max {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d byte limit", errRecordTooLarge, n, rr.max)
	}
	if int64(cap(rr.buf)) < n {
		rr.buf = make([]byte, n)
	}
	rr.buf = rr.buf[:n]
	if _, err := io.ReadFull(rr.r, rr.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("record of %d bytes: %w", n, err)
	}
	rec := rr.buf[:n:n]
	// Keep a big buffer no longer than needed: most events are small.
	if cap(rr.buf) > 1<<20 && n < 64<<10 {
		rr.buf = nil
	}
	return rec, nil
}

// body returns a reader of the n bytes of a record whose length was just
// read, for a decoder that reads it as it arrives; the record must be read
// to its end (io.EOF) before the next. A stream that ends first gives
// io.ErrUnexpectedEOF.
func (rr *recordIOReader) body(n int64) io.Reader { return &recordBody{r: rr.r, left: n} }

type recordBody struct {
	r    io.Reader
	left int64
}

func (b *recordBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = fmt.Errorf("record cut with %d bytes to go: %w", b.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

// buffered returns how many bytes of the stream have been read but not yet
// returned as records.
func (rr *recordIOReader) buffered() int { return rr.r.Buffered() }

// decodeEvent decodes one JSON event record. An event of a type this mesos-go
// does not know (a newer master's) is skipped: it returns nil and the type's
// name. A record that is not an event object is an error.
//
// Every event of a known type is decoded once, whole. Only a record that does
// not decode, or decodes to a type it may not have named as a string (no
// type, UNKNOWN, a number), has its type read on its own, to tell a skipped
// type from an error, as a record of a type mesos-go does not know fails to
// decode whole.
func decodeEvent(rec []byte) (*master.Event, string, error) {
	e := new(master.Event)
	err := json.Unmarshal(rec, e)
	if err == nil && e.Type != master.Event_UNKNOWN {
		if q := quotedEventTypes[e.Type]; q != nil && bytes.Contains(rec, q) {
			return e, e.Type.String(), nil
		}
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(rec, &head); err != nil {
		return nil, "", fmt.Errorf("decoding event: %w", err)
	}
	if v, ok := master.Event_Type_value[head.Type]; !ok || v == int32(master.Event_UNKNOWN) {
		if head.Type == "" {
			return nil, "", errors.New(`decoding event: no "type"`)
		}
		return nil, head.Type, nil
	}
	if err != nil {
		return nil, head.Type, fmt.Errorf("decoding %s event: %w", head.Type, err)
	}
	return e, head.Type, nil
}

// quotedEventTypes are the event types' names as JSON strings: a record that
// decodes to a type holds its name so, unless the type came as a number or
// with escapes.
var quotedEventTypes = func() map[master.Event_Type][]byte {
	m := make(map[master.Event_Type][]byte, len(master.Event_Type_name))
	for v, name := range master.Event_Type_name {
		m[master.Event_Type(v)] = []byte(strconv.Quote(name))
	}
	return m
}()
