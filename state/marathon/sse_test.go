package marathon

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// sseAll parses a whole stream, one byte at a time when oneByte (to exercise
// every split of lines and CRLF across reads), and returns the events and the
// error that ended it.
func sseAll(stream string, limit int, oneByte bool) ([]sseEvent, error) {
	var r io.Reader = strings.NewReader(stream)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	p := newSSEReader(r, limit, nil)
	var out []sseEvent
	for {
		ev, err := p.Next()
		if err != nil {
			return out, err
		}
		ev.Data = slices.Clone(ev.Data)
		out = append(out, ev)
	}
}

func TestSSEReader(t *testing.T) {
	ev := func(typ, data string) sseEvent { return sseEvent{Type: typ, Data: []byte(data)} }
	tests := []struct {
		name   string
		stream string
		want   []sseEvent
	}{
		{"marathon", "event: status_update_event\ndata: {\"a\":1}\n\n", []sseEvent{ev("status_update_event", `{"a":1}`)}},
		{"no space after colon", "event:x\ndata:{}\n\n", []sseEvent{ev("x", "{}")}},
		{"only one space stripped", "data:  two\n\n", []sseEvent{ev("message", " two")}},
		{"default type", "data: d\n\n", []sseEvent{ev("message", "d")}},
		{"multi-line data", "event: e\ndata: one\ndata: two\ndata:\n\n", []sseEvent{ev("e", "one\ntwo\n")}},
		{"CRLF", "event: e\r\ndata: d\r\n\r\n", []sseEvent{ev("e", "d")}},
		{"lone CR", "event: e\rdata: d\r\r", []sseEvent{ev("e", "d")}},
		{"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n", []sseEvent{ev("message", "a\nb\nc")}},
		{"comments and keep-alives", ":ok\n\n: ping\nevent: e\n:\ndata: d\n\n:\n\n", []sseEvent{ev("e", "d")}},
		{"event without data is not dispatched", "event: e\n\ndata: d\n\n", []sseEvent{ev("message", "d")}},
		{"type does not leak to the next event", "event: e\ndata: 1\n\ndata: 2\n\n", []sseEvent{ev("e", "1"), ev("message", "2")}},
		{"unknown fields ignored", "foo: bar\nevent: e\nretry: x\ndata: d\n\n", []sseEvent{ev("e", "d")}},
		{"field without colon", "data\ndata\n\n", []sseEvent{ev("message", "\n")}},
		{"colon in value", "data: a:b: c\n\n", []sseEvent{ev("message", "a:b: c")}},
		{"byte-order mark", "\xef\xbb\xbfdata: d\n\n", []sseEvent{ev("message", "d")}},
		{"BOM only at the start", "data: a\n\n\xef\xbb\xbfdata: b\n\n", []sseEvent{ev("message", "a")}},
		{"unterminated event dropped", "data: a\n\ndata: b\n", []sseEvent{ev("message", "a")}},
		{"partial line dropped", "data: a\n\ndata: b", []sseEvent{ev("message", "a")}},
		{"empty stream", "", nil},
		{"blank lines only", "\n\n\r\n\r", nil},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tt.name
			if oneByte {
				name += "/one byte reads"
			}
			t.Run(name, func(t *testing.T) {
				got, err := sseAll(tt.stream, 1<<20, oneByte)
				if !errors.Is(err, io.EOF) {
					t.Fatalf("ended with %v, want EOF", err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d events %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
				}
				for i := range got {
					if got[i].Type != tt.want[i].Type || string(got[i].Data) != string(tt.want[i].Data) {
						t.Errorf("event %d = %s %q, want %s %q", i, got[i].Type, got[i].Data, tt.want[i].Type, tt.want[i].Data)
					}
				}
			})
		}
	}
}

func TestSSEReaderIDAndRetry(t *testing.T) {
	p := newSSEReader(strings.NewReader("id: 7\nretry: 1500\ndata: a\n\nid: bad\x00\nretry: 1e3\ndata: b\n\n"), 1024, nil)
	a, err := p.Next()
	if err != nil || a.ID != "7" || p.Retry() != 1500 {
		t.Fatalf("first: %+v %v retry %d", a, err, p.Retry())
	}
	b, err := p.Next()
	if err != nil || b.ID != "7" || p.Retry() != 1500 {
		t.Fatalf("second: id %q (a NUL id is ignored) retry %d (a non-number is ignored), %v", b.ID, p.Retry(), err)
	}
}

// TestSSEReaderLimits checks that an over-long line or event is read past and
// reported, and that the stream goes on after it.
func TestSSEReaderLimits(t *testing.T) {
	tests := []struct {
		name   string
		stream string
	}{
		{"long data line", "event: big\ndata: " + strings.Repeat("x", 200) + "\n\n"},
		{"long line with CRLF", "event: big\r\ndata: " + strings.Repeat("x", 300) + "\r\n\r\n"},
		{"many data lines", "event: big\n" + strings.Repeat("data: 0123456789\n", 20) + "\n"},
		{"long type", "event: big" + strings.Repeat("x", 200) + "\ndata: {}\n\n"},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/one byte %t", tt.name, oneByte), func(t *testing.T) {
				got, err := sseAll(tt.stream+": still there\nevent: next\ndata: ok\n\n", 100, oneByte)
				if !errors.Is(err, io.EOF) {
					t.Fatalf("ended with %v", err)
				}
				if len(got) != 2 || !got[0].Oversize || got[0].Data != nil || got[1].Oversize || got[1].Type != "next" || string(got[1].Data) != "ok" {
					t.Fatalf("events %+v, want an oversize one then next/ok", got)
				}
				if !strings.HasPrefix(tt.name, "long type") && got[0].Type != "big" {
					t.Errorf("oversize event type %q, want big", got[0].Type)
				}
			})
		}
	}
	got, err := sseAll("data: "+strings.Repeat("x", 90)+"\n\n", 100, true)
	if !errors.Is(err, io.EOF) || len(got) != 1 || got[0].Oversize {
		t.Fatalf("an event under the limit: %+v, %v", got, err)
	}
}

// TestSSEReaderBoundedMemory feeds a 64 MB line: the reader's buffer must stay
// near its limit.
func TestSSEReaderBoundedMemory(t *testing.T) {
	huge := io.MultiReader(strings.NewReader("data: "), io.LimitReader(repeatReader('x'), 64<<20), strings.NewReader("\n\ndata: ok\n\n"))
	p := newSSEReader(huge, 1<<10, nil)
	ev, err := p.Next()
	if err != nil || !ev.Oversize {
		t.Fatalf("first = %+v, %v", ev, err)
	}
	if ev, err = p.Next(); err != nil || string(ev.Data) != "ok" {
		t.Fatalf("second = %+v, %v", ev, err)
	}
	if cap(p.buf) > 64<<10 {
		t.Errorf("buffer grew to %d bytes", cap(p.buf))
	}
}

type repeatReader byte

func (r repeatReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(r)
	}
	return len(b), nil
}

func TestSSEReaderCountsBytes(t *testing.T) {
	stream := ": hi\n\nevent: e\ndata: d\n\n"
	n := 0
	p := newSSEReader(iotest.HalfReader(strings.NewReader(stream)), 1024, func(k int) { n += k })
	for {
		if _, err := p.Next(); err != nil {
			break
		}
	}
	if n != len(stream) {
		t.Errorf("counted %d bytes, want %d", n, len(stream))
	}
}

func TestSSEReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom))
	p := newSSEReader(r, 1024, nil)
	if ev, err := p.Next(); err != nil || string(ev.Data) != "a" {
		t.Fatalf("first = %q, %v", ev.Data, err)
	}
	if _, err := p.Next(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

// FuzzSSEReader checks that no input panics or loops, that the reader never
// returns more than its limit, and that splitting the input into one-byte
// reads changes nothing.
func FuzzSSEReader(f *testing.F) {
	for _, s := range []string{
		"event: status_update_event\ndata: {\"taskStatus\":\"TASK_KILLED\"}\n\n",
		"data: a\r\ndata: b\r\r\n:ping\n\n",
		"\xef\xbb\xbfid: 1\nretry: 10\ndata\n\n",
		"event: deployment_info\ndata: {\"plan\":{\"steps\":[{\"actions\":[{\"app\":\"/a\"}]}]}}\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err1 := sseAll(string(in), 64, false)
		split, err2 := sseAll(string(in), 64, true)
		if !errors.Is(err1, io.EOF) || !errors.Is(err2, io.EOF) {
			t.Fatalf("ended with %v / %v, want EOF", err1, err2)
		}
		if len(whole) != len(split) {
			t.Fatalf("%d events whole, %d split", len(whole), len(split))
		}
		for i := range whole {
			if whole[i].Type != split[i].Type || string(whole[i].Data) != string(split[i].Data) || whole[i].ID != split[i].ID || whole[i].Oversize != split[i].Oversize {
				t.Fatalf("event %d differs: %+v / %+v", i, whole[i], split[i])
			}
			if len(whole[i].Data) > 64 {
				t.Fatalf("event %d over the limit", i)
			}
			// Whatever came through decodes without panicking.
			_, _ = decodeMarathonEvent(whole[i].Type, whole[i].Data)
		}
	})
}
