package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// pullReader reads one JSON document token by token, from bytes held whole or
// from an io.Reader through a window that slides over it. It exists because
// Marathon's /v2/apps is large (16.7 MB for 10,000 apps) and read on every
// start and full resync: walking it once and filling the wire structs directly
// costs a fraction of encoding/json's reflection, and the document is never
// held whole.
//
// Everything the reader passes over is validated, skipped values included,
// so a truncated or broken document is an error. The bytes from mark on are
// kept in the window, so that a caller can go back to mark and hand the value
// there to encoding/json (appsDecoder does, for any app its fast path does
// not cover). Byte slices it returns point into the window and are valid until
// the next read.
type pullReader struct {
	buf []byte
	pos int
	// mark is the first byte to keep when the window slides, or -1.
	mark  int
	depth int
	// base is the document offset of buf[0], for error messages.
	base int
	src  io.Reader
	err  error // what src failed with, other than io.EOF
	// str holds strings that needed unescaping.
	str []byte
}

// maxPullDepth is encoding/json's nesting limit, kept so that both refuse the
// same documents.
const maxPullDepth = 10000

// minPullRead is the least room fill leaves to read into.
const minPullRead = 32 << 10

// newPullBytes reads the document data, held whole.
func newPullBytes(data []byte) *pullReader {
	return &pullReader{buf: data, mark: -1}
}

// newPullReader reads the document src yields, as it arrives.
func newPullReader(src io.Reader) *pullReader {
	return &pullReader{buf: make([]byte, 0, 256<<10), mark: -1, src: src}
}

// errSlow is the fast path giving up on a value it does not cover (a type it
// does not expect, a key in another case, a key twice): the caller goes back to
// its mark and lets encoding/json decode the value.
var errSlow = errors.New("value for encoding/json")

// fill reads more of the document into the window, keeping the bytes from pos
// (or mark, if earlier) on. It returns how far those bytes moved towards the
// start, to subtract from saved indices, and false when the document has ended.
func (r *pullReader) fill() (shift int, ok bool) {
	if r.src == nil {
		return 0, false
	}
	if cap(r.buf)-len(r.buf) < minPullRead {
		keep := r.pos
		if r.mark >= 0 && r.mark < keep {
			keep = r.mark
		}
		to := r.buf[:0]
		if len(r.buf)-keep > cap(r.buf)/2 {
			to = make([]byte, 0, 2*cap(r.buf))
		}
		r.buf = append(to, r.buf[keep:]...)
		r.pos -= keep
		if r.mark >= 0 {
			r.mark -= keep
		}
		r.base += keep
		shift = keep
	}
	// A reader may return nothing without an error now and then; one that
	// keeps doing so is failed rather than spun on.
	empty := 0
	for {
		n, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		switch {
		case err == io.EOF:
			r.src = nil
			return shift, n > 0
		case err != nil:
			r.src, r.err = nil, err
			return shift, n > 0
		case n > 0:
			return shift, true
		}
		if empty++; empty == 100 {
			r.src, r.err = nil, io.ErrNoProgress
			return shift, false
		}
	}
}

// eof is the error for a document that ends early.
func (r *pullReader) eof() error {
	if r.err != nil {
		return fmt.Errorf("reading the document: %w", r.err)
	}
	return errors.New("unexpected end of JSON input")
}

// syntax is the error for byte c, found at pos where context says it may not
// be; the words are encoding/json's, so that messages read the same.
func (r *pullReader) syntax(c byte, context string) error {
	return fmt.Errorf("invalid character %s %s (offset %d)", quoteChar(c), context, r.base+r.pos)
}

// quoteChar quotes c for a syntax error.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// next skips white space and returns the next byte without consuming it.
func (r *pullReader) next() (byte, error) {
	for {
		for r.pos < len(r.buf) {
			switch c := r.buf[r.pos]; c {
			case ' ', '\t', '\n', '\r':
				r.pos++
			default:
				return c, nil
			}
		}
		if _, ok := r.fill(); !ok {
			return 0, r.eof()
		}
	}
}

// need makes n bytes from pos available, returning false at the end of the
// document.
func (r *pullReader) need(n int) bool {
	for len(r.buf)-r.pos < n {
		if _, ok := r.fill(); !ok {
			return false
		}
	}
	return true
}

// end checks that nothing but white space follows the document.
func (r *pullReader) end() error {
	c, err := r.next()
	if err == nil {
		return r.syntax(c, "after top-level value")
	}
	if r.err != nil {
		return r.eof()
	}
	return nil
}

// kind names the JSON value starting with c, for type errors.
func kind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// null consumes a null if one is next.
func (r *pullReader) null() (bool, error) {
	c, err := r.next()
	if err != nil || c != 'n' {
		return false, err
	}
	return true, r.literal("null")
}

// literal reads lit (true, false or null), whose first byte is at pos.
func (r *pullReader) literal(lit string) error {
	if !r.need(len(lit)) {
		for i := 0; r.pos+i < len(r.buf); i++ {
			if r.buf[r.pos+i] != lit[i] {
				r.pos += i
				return r.syntax(r.buf[r.pos], "in literal "+lit+" (expecting "+quoteChar(lit[i])+")")
			}
		}
		return r.eof()
	}
	for i := range len(lit) {
		if r.buf[r.pos+i] != lit[i] {
			r.pos += i
			return r.syntax(r.buf[r.pos], "in literal "+lit+" (expecting "+quoteChar(lit[i])+")")
		}
	}
	r.pos += len(lit)
	return nil
}

// object reads an object, calling fn for each member with its key; fn must
// read or skip the value. A key is valid only until fn reads.
func (r *pullReader) object(fn func(key []byte) error) error {
	return r.members('{', '}', "after object key:value pair", func() error {
		c, err := r.next()
		if err != nil {
			return err
		}
		if c != '"' {
			return r.syntax(c, "looking for beginning of object key string")
		}
		key, err := r.rawString()
		if err != nil {
			return err
		}
		if c, err = r.next(); err != nil {
			return err
		}
		if c != ':' {
			return r.syntax(c, "after object key")
		}
		r.pos++
		return fn(key)
	})
}

// array reads an array, calling fn for each element; fn must read or skip it.
func (r *pullReader) array(fn func() error) error {
	return r.members('[', ']', "after array element", fn)
}

// members reads the members of an object or the elements of an array
// (between open and close, separated by commas) with member. Another kind of
// value is errSlow.
func (r *pullReader) members(open, close byte, after string, member func() error) error {
	c, err := r.next()
	if err != nil {
		return err
	}
	if c != open {
		return errSlow
	}
	if r.depth++; r.depth > maxPullDepth {
		return errors.New("exceeded max depth")
	}
	r.pos++
	if c, err = r.next(); err != nil {
		return err
	}
	if c != close {
		for {
			if err := member(); err != nil {
				return err
			}
			if c, err = r.next(); err != nil {
				return err
			}
			if c == close {
				break
			}
			if c != ',' {
				return r.syntax(c, after)
			}
			r.pos++
		}
	}
	r.pos++
	r.depth--
	return nil
}

// rawString reads a string and returns its value: the bytes in the window
// when it has no escape and is valid UTF-8 (the common case), else what
// encoding/json makes of it, so that both agree on every string.
func (r *pullReader) rawString() ([]byte, error) {
	if !r.need(1) {
		return nil, r.eof()
	}
	if r.buf[r.pos] != '"' {
		return nil, errSlow
	}
	plain := true
	i := r.pos + 1
	for {
		buf := r.buf
		for i < len(buf) && !strStop[buf[i]] {
			i++
		}
		if i >= len(buf) {
			shift, ok := r.fill()
			if !ok {
				return nil, r.eof()
			}
			i -= shift
			continue
		}
		switch c := buf[i]; {
		case c == '"':
			tok := buf[r.pos : i+1]
			r.pos = i + 1
			if plain {
				return tok[1 : len(tok)-1], nil
			}
			return r.unescape(tok)
		case c == '\\':
			// The escaped byte is skipped here (a quote must not end the
			// string); encoding/json checks the escape.
			plain = false
			if i+1 >= len(buf) {
				shift, ok := r.fill()
				if !ok {
					return nil, r.eof()
				}
				i -= shift
			}
			i += 2
		case c < 0x20:
			r.pos = i
			return nil, r.syntax(c, "in string literal")
		default:
			plain = false
			i++
		}
	}
}

// strStop marks the bytes that end the plain run of a string: the quote, the
// backslash, control characters and bytes outside ASCII.
var strStop = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

// unescape decodes a string token with escapes or bytes outside ASCII.
func (r *pullReader) unescape(tok []byte) ([]byte, error) {
	if utf8.Valid(tok) && bytes.IndexByte(tok, '\\') < 0 {
		return tok[1 : len(tok)-1], nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return nil, err
	}
	r.str = append(r.str[:0], s...)
	return r.str, nil
}

// number reads a number and returns its text.
func (r *pullReader) number() ([]byte, error) {
	start := r.pos
	i := start
	at := func() (byte, bool) {
		if i >= len(r.buf) {
			shift, ok := r.fill()
			i -= shift
			start -= shift
			if !ok {
				return 0, false
			}
		}
		return r.buf[i], true
	}
	digits := func() int {
		n := 0
		for {
			c, ok := at()
			if !ok || c < '0' || c > '9' {
				return n
			}
			i++
			n++
		}
	}
	bad := func(context string) error {
		c, ok := at()
		if !ok {
			return r.eof()
		}
		r.pos = i
		return r.syntax(c, context)
	}
	if c, _ := at(); c == '-' {
		i++
	}
	c, ok := at()
	switch {
	case !ok:
		return nil, r.eof()
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		digits()
	default:
		return nil, bad("in numeric literal")
	}
	if c, ok := at(); ok && c == '.' {
		i++
		if digits() == 0 {
			return nil, bad("after decimal point in numeric literal")
		}
	}
	if c, ok := at(); ok && (c == 'e' || c == 'E') {
		i++
		if c, ok := at(); ok && (c == '+' || c == '-') {
			i++
		}
		if digits() == 0 {
			return nil, bad("in exponent of numeric literal")
		}
	}
	r.pos = i
	return r.buf[start:i], nil
}

// skip reads and validates one value of any kind.
func (r *pullReader) skip() error {
	c, err := r.next()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		return r.object(func([]byte) error { return r.skip() })
	case '[':
		return r.array(r.skip)
	case '"':
		_, err := r.rawString()
		return err
	case 't':
		return r.literal("true")
	case 'f':
		return r.literal("false")
	case 'n':
		return r.literal("null")
	}
	if c == '-' || c >= '0' && c <= '9' {
		_, err := r.number()
		return err
	}
	return r.syntax(c, "looking for beginning of value")
}

// expectValue checks the next byte starts a value (so that a syntax error is
// reported as one rather than as errSlow).
func (r *pullReader) expectValue() (byte, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	switch {
	case c == '{', c == '[', c == '"', c == 't', c == 'f', c == 'n', c == '-', c >= '0' && c <= '9':
		return c, nil
	}
	return 0, r.syntax(c, "looking for beginning of value")
}

// scalar starts reading a value into a field: a null is read and leaves the
// field as it is, as encoding/json does (done true); otherwise c is the value's
// first byte.
func (r *pullReader) scalar() (c byte, done bool, err error) {
	if c, err = r.expectValue(); err != nil {
		return 0, true, err
	}
	if c == 'n' {
		return 0, true, r.literal("null")
	}
	return c, false, nil
}

// strInto reads a string into *dst; another kind is errSlow.
func (r *pullReader) strInto(dst *string, in *interner) error {
	c, done, err := r.scalar()
	if done || c != '"' {
		return fieldErr(err, done)
	}
	b, err := r.rawString()
	if err != nil {
		return err
	}
	*dst = in.get(b)
	return nil
}

// fieldErr is what a field reader returns when scalar found no value of its
// kind: scalar's result once done, else errSlow.
func fieldErr(err error, done bool) error {
	if done {
		return err
	}
	return errSlow
}

// intInto reads an integer that encoding/json would store in an int.
func (r *pullReader) intInto(dst *int) error {
	c, done, err := r.scalar()
	if done || c != '-' && (c < '0' || c > '9') {
		return fieldErr(err, done)
	}
	b, err := r.number()
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return errSlow
	}
	*dst = int(n)
	return nil
}

// boolInto reads a boolean into *dst.
func (r *pullReader) boolInto(dst *bool) error {
	c, done, err := r.scalar()
	if done || c != 't' && c != 'f' {
		return fieldErr(err, done)
	}
	*dst = c == 't'
	if *dst {
		return r.literal("true")
	}
	return r.literal("false")
}

// ints reads a list of integers; null is nil, [] an empty list.
func (r *pullReader) ints() ([]int, error) { return list(r, r.intInto) }

// labels reads an object of strings.
func (r *pullReader) labels(in *interner) (map[string]string, error) {
	if isNull, err := r.null(); isNull || err != nil {
		return nil, err
	}
	out := map[string]string{}
	err := r.object(func(key []byte) error {
		k := in.get(key)
		if isNull, err := r.null(); isNull || err != nil {
			if err == nil {
				err = errSlow
			}
			return err
		}
		var v string
		if err := r.strInto(&v, in); err != nil {
			return err
		}
		out[k] = v
		return nil
	})
	return out, err
}

// rawInto decodes the next value with encoding/json: for the parts of an app
// that are small and rare enough not to need a fast path.
func (r *pullReader) rawInto(v any) error {
	if c, err := r.expectValue(); err != nil || c == 'n' {
		if err != nil {
			return err
		}
		return r.literal("null") // leaves v zero, as encoding/json does
	}
	start := r.pos
	if r.mark < 0 {
		r.mark = start
		defer func() { r.mark = -1 }()
	}
	shiftBase := r.base
	if err := r.skip(); err != nil {
		return err
	}
	start -= r.base - shiftBase
	if err := json.Unmarshal(r.buf[start:r.pos], v); err != nil {
		return errSlow
	}
	return nil
}

// interner shares the strings a document repeats (states, versions, hosts,
// label values), so that a decoded set holds each once.
type interner struct {
	slots [1024]string
}

// get returns b as a string, the one it returned before for the same bytes
// when that is still in its slot.
func (in *interner) get(b []byte) string {
	if in == nil || len(b) > 64 {
		return string(b)
	}
	h := uint(len(b))
	for _, c := range b {
		h = h*31 + uint(c)
	}
	s := &in.slots[h%uint(len(in.slots))]
	if *s != string(b) {
		*s = string(b)
	}
	return *s
}
