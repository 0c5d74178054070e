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
// growing its buffer only as far as the records do.

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
	var n int64
	digits := 0
	for {
		c, err := rr.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return nil, fmt.Errorf("record length: %w", io.ErrUnexpectedEOF)
			}
			return nil, err
		}
		if c == '\n' {
			if digits == 0 {
				return nil, errors.New("record length: empty")
			}
			break
		}
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("record length: unexpected byte %s", jsonQuoteByte(c))
		}
		digits++
		n = n*10 + int64(c-'0')
		if digits > 19 || n > rr.max {
			return nil, fmt.Errorf("%w: more than the %d byte limit", errRecordTooLarge, rr.max)
		}
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
	// Keep a big buffer (the SUBSCRIBED record's) no longer than needed: the
	// events after it are small.
	if cap(rr.buf) > 1<<20 && n < 64<<10 {
		rr.buf = nil
	}
	return rec, nil
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
