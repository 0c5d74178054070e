package mesos

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/discovery-mesos/discovery/state"
)

// decodeFrom decodes data read through rd with dec and a window of window
// bytes to start with, as DecodeStateFrom does with its own window, telling
// the decoder the document's size (which may be wrong: it only sizes
// allocations).
func decodeFrom(dec *Decoder, rd io.Reader, window int, size int64) (*state.Cluster, error) {
	return dec.decode(newStreamReader(rd, window), FetchMeta{Source: "test", Size: size})
}

// readers are the ways a document may arrive: whole, a byte at a time, in
// halves of what is asked, with the end of input reported with the last bytes.
var readers = []struct {
	name string
	wrap func([]byte) io.Reader
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"one byte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"half", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	{"eof with data", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
}

// sameDecode checks that decoding data through a reader gives what decoding it
// whole gives: the same cluster, or the same error (offsets included).
func sameDecode(t *testing.T, data []byte, rd io.Reader, window int) {
	t.Helper()
	sameDecodeSized(t, data, rd, window, 0)
}

// sameDecodeSized is sameDecode telling the decoder the document has size
// bytes. One decoder decodes both ways, as one source decodes one fetch after
// another: the decode from the reader is sized from the whole one.
func sameDecodeSized(t *testing.T, data []byte, rd io.Reader, window int, size int64) {
	t.Helper()
	var dec Decoder
	want, wantErr := dec.Decode(data, FetchMeta{Source: "test"})
	got, err := decodeFrom(&dec, rd, window, size)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("window %d: from a reader: %v; whole: %v", window, err, wantErr)
	case err != nil:
		if err.Error() != wantErr.Error() {
			t.Fatalf("window %d: errors differ:\nreader: %v\nwhole:  %v", window, err, wantErr)
		}
		if got != nil {
			t.Fatalf("window %d: a cluster came back with the error", window)
		}
		if errors.Is(wantErr, io.ErrUnexpectedEOF) != errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("window %d: end of input not reported alike: %v", window, err)
		}
	default:
		if got.Digest != want.Digest {
			t.Errorf("window %d: digests differ", window)
		}
		if diff := cmp.Diff(want, got, clusterOpts); diff != "" {
			t.Fatalf("window %d: clusters differ (-whole +reader):\n%s", window, diff)
		}
	}
}

// Documents that exercise every path of the reader: escapes (\u pairs, lone
// surrogates, split across reads), invalid UTF-8, numbers at the end of input,
// long strings, and broken documents.
func readerDocs(t *testing.T) map[string][]byte {
	docs := map[string][]byte{
		"fixture":   readFixture(t, mesosFixture),
		"0.28":      []byte(mesos028),
		"1.x":       []byte(mesos1x),
		"generated": genMesosState(300),
		"escapes": []byte(`{"leader": "master@127.0.0.1:5050", "x": "\ud83d\ude00\u0000\"\\\/\b\f\n\r\t", "y": "\ud83d\u0041 \udc00 \ud83dx",
			"frameworks": [{"id": "F\u0031", "name": "n\u00e9", "tasks": [{"id": "T\"1", "name": "a\\b", "labels": [{"key": "k\u006by", "value": "v\ud83d\ude00"}]}]}]}`),
		"invalid utf-8": []byte("{\"leader\": \"master@127.0.0.1:5050\", \"frameworks\": [{\"id\": \"F\xff\", \"name\": \"x\xc3\\n\"}]}"),
		"long string": []byte(`{"leader": "master@127.0.0.1:5050", "frameworks": [{"id": "F", "name": "` + strings.Repeat("n", 100_000) +
			`", "tasks": [{"id": "T", "labels": [{"key": "k", "value": "` + strings.Repeat("v\\n", 50_000) + `"}]}]}]}`),
		"number at end":  []byte(`123`),
		"literal at end": []byte(`{"leader": "master@127.0.0.1:5050", "x": tru`),
		"nul after":      []byte("{\"leader\": \"master@127.0.0.1:5050\"}\x00"),
		"escape at end":  []byte(`{"leader": "master@127.0.0.1:5050", "x": "\`),
		"bad \\u":        []byte(`{"leader": "master@127.0.0.1:5050", "x": "\u12G4"}`),
		"short \\u":      []byte(`{"leader": "master@127.0.0.1:5050", "x": "\u12`),
		"pair at end":    []byte(`{"leader": "master@127.0.0.1:5050", "x": "\ud83d\ude0`),
		"big timestamp":  []byte(`{"leader": "master@127.0.0.1:5050", "frameworks": [{"tasks": [{"statuses": [{"timestamp":    1e999}]}]}]}`),
		"escaped keys":   []byte(`{"le\u0061der": "master@127.0.0.1:5050", "frameworks": [{"t\u0061sks": [{"st\u0061tuses": [{"timestamp": "x"}]}]}]}`),
	}
	return docs
}

func TestDecodeStateFromMatchesWhole(t *testing.T) {
	for name, doc := range readerDocs(t) {
		t.Run(name, func(t *testing.T) {
			for _, rd := range readers {
				for _, window := range []int{1, 2, 7, 64, 5000, stateWindow} {
					if len(doc) > 20_000 && window < 64 && rd.name == "one byte" {
						continue // quadratic: the window slides a byte at a time
					}
					sameDecode(t, doc, rd.wrap(doc), window)
				}
			}
		})
	}
}

// The document's size, right or wrong, changes only how the decoder sizes its
// task slice, never what it decodes.
func TestDecodeStateFromSizeHint(t *testing.T) {
	for _, n := range []int{0, 1, sampleTasks - 1, sampleTasks, sampleTasks + 1, 3 * sampleTasks, 5000} {
		doc := genMesosState(n)
		for _, size := range []int64{int64(len(doc)), int64(len(doc)) / 3, 3 * int64(len(doc)), 1, 1 << 40} {
			sameDecodeSized(t, doc, bytes.NewReader(doc), stateWindow, size)
		}
	}
	// With the right size, a state of many tasks like those of a generated
	// one is decoded into one slice: no chunks to copy together.
	doc := genMesosState(5000)
	d := mesosDecoder{r: newStreamReader(bytes.NewReader(doc), stateWindow), size: len(doc), firstTask: -1}
	if err := d.document(); err != nil {
		t.Fatal(err)
	}
	if len(d.full) != 0 || len(d.tasks) != 5000 || cap(d.tasks) > 5000+5000/4+64 {
		t.Errorf("%d full chunks, %d tasks in a slice of %d", len(d.full), len(d.tasks), cap(d.tasks))
	}
}

// Every prefix of a document decodes from a reader as it does whole: an
// unexpected end of input at the same offset.
func TestDecodeStateFromTruncated(t *testing.T) {
	doc := bytes.TrimSpace(readFixture(t, mesosFixture))
	for n := 0; n < len(doc); n++ {
		if n > 64 && n < len(doc)-64 && n%13 != 0 {
			continue
		}
		sameDecode(t, doc[:n], iotest.OneByteReader(bytes.NewReader(doc[:n])), 16)
	}
}

// The window stays small whatever the size of the document, and grows only for
// a token larger than itself.
func TestDecodeStateFromWindow(t *testing.T) {
	doc := genMesosState(3000)
	d := mesosDecoder{r: newStreamReader(bytes.NewReader(doc), 4096)}
	if err := d.document(); err != nil {
		t.Fatal(err)
	}
	if c := cap(d.r.data); c > 4096 {
		t.Errorf("window grew to %d bytes for a %d-byte document of small tokens", c, len(doc))
	}
	long := []byte(`{"leader": "master@127.0.0.1:5050", "hostname": "` + strings.Repeat("y", 50_000) + `"}`)
	d = mesosDecoder{r: newStreamReader(bytes.NewReader(long), 4096)}
	if err := d.document(); err != nil {
		t.Fatal(err)
	}
	if c := cap(d.r.data); c < 50_000 || c > 4*50_000 {
		t.Errorf("window of %d bytes for a 50,000-byte string", c)
	}
}

// errAfter yields data, then fails with err instead of io.EOF.
type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

// A read error fails the decode, even when the document read so far is whole,
// and is reported as itself rather than as a truncated document.
func TestDecodeStateFromReadError(t *testing.T) {
	broken := errors.New("connection reset")
	doc := []byte(mesos1x)
	for _, n := range []int{0, 10, len(doc) / 2, len(doc)} {
		c, err := DecodeStateFrom(&errAfter{bytes.NewReader(doc[:n]), broken}, FetchMeta{})
		if c != nil || !errors.Is(err, broken) {
			t.Errorf("after %d bytes: %v", n, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "reading mesos state: ") {
			t.Errorf("error %q lacks context", err)
		}
	}
	// A reader that keeps returning nothing is an error too, not a hang.
	c, err := DecodeStateFrom(iotest.ErrReader(nil), FetchMeta{})
	if c != nil || !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("a reader making no progress: %v", err)
	}
	c, err = DecodeStateFrom(bytes.NewReader(doc), FetchMeta{})
	if err != nil || len(c.Tasks) == 0 {
		t.Fatalf("the document itself: %v", err)
	}
}

// FuzzDecodeStateFrom checks that decoding from a reader, a byte at a time
// and through a small window, always agrees with decoding the document whole.
func FuzzDecodeStateFrom(f *testing.F) {
	f.Add(genMesosState(1), uint8(3))
	for _, doc := range []string{
		mesos028, mesos1x, ``, `{}`, `[]`, `"x"`, `null`, `<html></html>`, "{}\x00",
		`{"leader": "master@127.0.0.1:5050", "x": "\ud83d\ude00\u0000\"\\"}`,
		`{"leader": "m@127.0.0.1:1", "frameworks": [{"tasks": [{"statuses": [{"state": "TASK_RUNNING", "timestamp": 1e3, "healthy": true}]}]}]}`,
		`{"leader": "master@127.0.0.1:5050", "x": 1.5e+3, "y": -0, "z": [true, false, null]}`,
	} {
		f.Add([]byte(doc), uint8(len(doc)))
	}
	f.Fuzz(func(t *testing.T, data []byte, window uint8) {
		sameDecode(t, data, iotest.OneByteReader(bytes.NewReader(data)), 1+int(window%32))
		sameDecode(t, data, bytes.NewReader(data), stateWindow)
	})
}
