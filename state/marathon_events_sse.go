package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// sseEvent is one server-sent event as the WHATWG EventSource rules define it:
// its type ("message" when the server named none), its data (the data lines
// joined by "\n") and the last event id seen on the stream.
type sseEvent struct {
	Type string
	Data []byte
	ID   string
}

// errSSETooLarge is returned by sseReader.Next for a line or an event longer
// than the reader's limit. The stream cannot be resynchronised after it: the
// caller drops the connection.
var errSSETooLarge = errors.New("server-sent event too large")

// sseReader parses a text/event-stream. It accepts LF, CRLF and lone CR line
// ends (a CR at the end of what has arrived so far ends the line at once, so a
// CR-only server is not delayed), skips comment lines (":" keep-alives), strips
// a leading byte-order mark, and, as the specification says, dispatches an event
// only at an empty line and only when it has data. An event cut off by the end
// of the stream is dropped.
type sseReader struct {
	r     io.Reader
	limit int // longest line, and longest event data, accepted

	buf     []byte // buf[start:end] is read but not yet parsed
	start   int
	end     int
	skipLF  bool // the last line ended with CR: a following LF belongs to it
	bomDone bool
	eof     error
	typ     []byte
	data    []byte
	hasData bool
	lastID  string
	retry   int // the last valid "retry:" field, in milliseconds; 0 when none
	onRead  func(n int)
}

// newSSEReader returns a reader of r that refuses lines and events longer than
// limit bytes. onRead, when not nil, is told how many bytes every read brought
// (for liveness and byte metrics).
func newSSEReader(r io.Reader, limit int, onRead func(n int)) *sseReader {
	return &sseReader{r: r, limit: limit, buf: make([]byte, 32<<10), onRead: onRead}
}

// Next returns the next dispatched event. It returns io.EOF (or the read error)
// when the stream ends; an event in progress is dropped then. The returned
// Data is only valid until the next call.
func (s *sseReader) Next() (sseEvent, error) {
	for {
		line, err := s.line()
		if err != nil {
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if !s.hasData {
				s.typ = s.typ[:0]
				continue
			}
			ev := sseEvent{Type: "message", Data: s.data, ID: s.lastID}
			if len(s.typ) > 0 {
				ev.Type = string(s.typ)
			}
			s.typ, s.data, s.hasData = s.typ[:0], s.data[:0], false
			return ev, nil
		}
		if line[0] == ':' {
			continue // a comment: keep-alive
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			s.typ = append(s.typ[:0], value...)
		case "data":
			if len(s.data)+len(value)+1 > s.limit {
				return sseEvent{}, fmt.Errorf("%w: data over %d bytes", errSSETooLarge, s.limit)
			}
			if s.hasData {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			s.hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				s.lastID = string(value)
			}
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && n >= 0 && isDigits(value) {
				s.retry = n
			}
		}
	}
}

// Retry returns the reconnection delay the server asked for with "retry:", in
// milliseconds, or 0.
func (s *sseReader) Retry() int { return s.retry }

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// line returns the next line without its end. The slice is valid until the
// next call.
func (s *sseReader) line() ([]byte, error) {
	for {
		if s.skipLF && s.start < s.end {
			if s.buf[s.start] == '\n' {
				s.start++
			}
			s.skipLF = false
		}
		if !s.bomDone {
			// A byte-order mark is only allowed as the stream's first bytes;
			// wait until enough has arrived to tell.
			have := s.buf[s.start:s.end]
			if len(have) < len(utf8BOM) && bytes.HasPrefix(utf8BOM, have) && s.eof == nil {
				if err := s.fill(); err != nil {
					return nil, err
				}
				continue
			}
			if bytes.HasPrefix(have, utf8BOM) {
				s.start += len(utf8BOM)
			}
			s.bomDone = true
		}
		chunk := s.buf[s.start:s.end]
		if i := bytes.IndexAny(chunk, "\r\n"); i >= 0 {
			s.start += i + 1
			s.skipLF = chunk[i] == '\r'
			return chunk[:i], nil
		}
		if s.eof != nil {
			// A partial line at the end of the stream is not a line: the
			// event it belongs to is dropped.
			return nil, s.eof
		}
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
}

var utf8BOM = []byte("\xef\xbb\xbf")

// fill reads more of the stream into buf. A read error is kept in s.eof and
// reported once the buffered lines are parsed; only a line over the limit is
// returned at once.
func (s *sseReader) fill() error {
	if s.end-s.start > s.limit {
		return fmt.Errorf("%w: line over %d bytes", errSSETooLarge, s.limit)
	}
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		s.start, s.end = 0, n
	}
	if s.end == len(s.buf) {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[s.end:])
	if n > 0 {
		s.end += n
		if s.onRead != nil {
			s.onRead(n)
		}
	}
	if err != nil {
		s.eof = err
	}
	return nil
}
