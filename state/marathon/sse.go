package marathon

import (
	"bytes"
	"errors"
	"io"
	"strconv"
)

// sseEvent is one server-sent event as the WHATWG EventSource rules define it:
// its type ("message" when the server named none), its data (the data lines
// joined by "\n") and the last event id seen on the stream. Oversize is set,
// and Data nil, when the event was longer than the reader's limit: it was read
// past, not kept.
type sseEvent struct {
	Type     string
	Data     []byte
	ID       string
	Oversize bool
}

// errSSETooLarge marks an event the reader skipped for its size. The stream
// stays usable; what the event said is lost, so the caller resynchronises.
var errSSETooLarge = errors.New("server-sent event too large")

// sseReader parses a text/event-stream. It accepts LF, CRLF and lone CR line
// ends (a CR at the end of what has arrived so far ends the line at once, so a
// CR-only server is not delayed), skips comment lines (":" keep-alives), strips
// a leading byte-order mark, and, as the specification says, dispatches an event
// only at an empty line and only when it has data. An event cut off by the end
// of the stream is dropped. Memory stays bounded by the limit: a longer line or
// event is read past and reported as Oversize.
type sseReader struct {
	r     io.Reader
	limit int // longest line, and longest event data, kept

	buf        []byte // buf[start:end] is read but not yet parsed
	start, end int
	skipLF     bool // the last line ended with CR: a following LF belongs to it
	bomDone    bool
	eof        error
	// discarding is set while the rest of an over-long line is skipped; head
	// keeps its first bytes, enough to tell its field.
	discarding bool
	head       []byte

	typ      []byte
	data     []byte
	hasData  bool
	oversize bool
	lastID   string
	retry    int // the last valid "retry:" field, in milliseconds; 0 when none
	onRead   func(n int)
}

// headBytes is how much of an over-long line is kept to tell its field.
const headBytes = 16

// newSSEReader returns a reader of r that keeps lines and events up to limit
// bytes. onRead, when not nil, is told how many bytes every read brought (for
// liveness and byte metrics).
func newSSEReader(r io.Reader, limit int, onRead func(n int)) *sseReader {
	limit = max(limit, headBytes)
	return &sseReader{r: r, limit: limit, buf: make([]byte, min(32<<10, limit+1)), onRead: onRead}
}

// Next returns the next dispatched event. It returns io.EOF (or the read error)
// when the stream ends; an event in progress is dropped then. The returned
// Data is only valid until the next call.
func (s *sseReader) Next() (sseEvent, error) {
	for {
		line, cut, err := s.line()
		if err != nil {
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if !s.hasData {
				s.typ, s.oversize = s.typ[:0], false
				continue
			}
			ev := sseEvent{Type: "message", Data: s.data, ID: s.lastID, Oversize: s.oversize}
			if len(s.typ) > 0 {
				ev.Type = string(s.typ)
			}
			if ev.Oversize {
				ev.Data = nil
			}
			s.typ, s.data, s.hasData, s.oversize = s.typ[:0], s.data[:0], false, false
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
		if cut {
			// Only a data line's loss matters; an over-long type or id
			// loses the event too, as it cannot be told apart.
			switch string(field) {
			case "data", "event", "id":
				s.oversize, s.hasData = true, true
			}
			continue
		}
		switch string(field) {
		case "event":
			s.typ = append(s.typ[:0], value...)
		case "data":
			if s.oversize {
				continue
			}
			if len(s.data)+len(value)+1 > s.limit {
				s.oversize, s.hasData, s.data = true, true, s.data[:0]
				continue
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
			if isDigits(value) {
				if n, err := strconv.Atoi(string(value)); err == nil {
					s.retry = n
				}
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

var utf8BOM = []byte("\xef\xbb\xbf")

// line returns the next line without its end, and whether it was cut: longer
// than the limit, of which only the first headBytes are returned. The slice is
// valid until the next call.
func (s *sseReader) line() ([]byte, bool, error) {
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
				s.fill()
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
			if s.discarding {
				s.discarding = false
				return s.head, true, nil
			}
			if i > s.limit {
				return chunk[:headBytes], true, nil
			}
			return chunk[:i], false, nil
		}
		if s.eof != nil {
			// A partial line at the end of the stream is not a line: the
			// event it belongs to is dropped.
			return nil, false, s.eof
		}
		if len(chunk) > s.limit {
			// Too long to keep: remember its start, skip the rest.
			if !s.discarding {
				s.head = append(s.head[:0], chunk[:headBytes]...)
				s.discarding = true
			}
			s.start, s.end = 0, 0
		}
		s.fill()
	}
}

// fill reads more of the stream into buf, growing it up to about the limit. A
// read error is kept in s.eof and reported once the buffered lines are parsed.
func (s *sseReader) fill() {
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		s.start, s.end = 0, n
	}
	if s.end == len(s.buf) {
		nb := make([]byte, min(2*len(s.buf), s.limit+1+len(s.buf)))
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
}
