package state

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// jsonReader is a small pull reader over one JSON document held in memory. It
// exists because the Mesos master state is large (64 MB for 100,000 tasks) and we
// keep only a small part of it: decoding it with encoding/json into wire structs
// costs several times more time and memory than walking the bytes once and
// building the slim types directly.
//
// The reader validates everything it passes over, including the values it skips,
// so a truncated or broken document is always an error. Strings it returns point
// into the document or into a scratch buffer that the next read overwrites;
// callers copy what they keep.
type jsonReader struct {
	data  []byte
	pos   int
	depth int
	// buf holds unescaped strings.
	buf []byte
}

// maxJSONDepth bounds nesting; Mesos documents are about a dozen levels deep.
const maxJSONDepth = 1000

// jsonSyntaxError is a malformed document, with the byte offset where it showed.
type jsonSyntaxError struct {
	Offset int
	msg    string
	err    error
}

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.msg)
}

func (e *jsonSyntaxError) Unwrap() error { return e.err }

func (r *jsonReader) fail(format string, args ...any) error {
	return &jsonSyntaxError{Offset: r.pos, msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at the current position (or the end of input).
func (r *jsonReader) unexpected(what string) error {
	if r.pos >= len(r.data) {
		return &jsonSyntaxError{Offset: r.pos, msg: "unexpected end of input, " + what, err: io.ErrUnexpectedEOF}
	}
	return r.fail("unexpected %s, %s", jsonQuoteByte(r.data[r.pos]), what)
}

func jsonQuoteByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return strconv.QuoteRune(rune(c))
}

// ws skips whitespace and returns the next byte, or 0 at the end of input.
func (r *jsonReader) ws() byte {
	d, i := r.data, r.pos
	for ; i < len(d); i++ {
		c := d[i]
		if c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
			r.pos = i
			return c
		}
	}
	r.pos = i
	return 0
}

// jsonKind names the JSON type starting with c, for error messages.
func jsonKind(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "no value"
}

// typeError reports a value of the wrong type. The value is not consumed.
func (r *jsonReader) typeError(want string) error {
	c := r.ws()
	if c == 0 {
		return r.unexpected("looking for " + want)
	}
	if jsonKind(c) == "no value" {
		return r.unexpected("looking for " + want)
	}
	return r.fail("want %s, found %s", want, jsonKind(c))
}

// null consumes a null if one is next and reports whether it did.
func (r *jsonReader) null() (bool, error) {
	if r.ws() != 'n' {
		return false, nil
	}
	return true, r.literal("null")
}

func (r *jsonReader) literal(lit string) error {
	if len(r.data)-r.pos >= len(lit) && string(r.data[r.pos:r.pos+len(lit)]) == lit {
		r.pos += len(lit)
		return nil
	}
	// Point at the first byte that differs.
	for i := 0; i < len(lit); i++ {
		if r.pos >= len(r.data) || r.data[r.pos] != lit[i] {
			return r.unexpected("in literal " + lit)
		}
		r.pos++
	}
	return nil
}

// object reads an object (or null, which it treats as an empty object), calling
// fn with each key; fn must consume the key's value. The key is valid only until
// the next read.
func (r *jsonReader) object(fn func(key []byte) error) error {
	switch r.ws() {
	case 'n':
		return r.literal("null")
	case '{':
	default:
		return r.typeError("an object")
	}
	r.depth++
	if r.depth > maxJSONDepth {
		return r.fail("nesting deeper than %d", maxJSONDepth)
	}
	r.pos++
	if r.ws() == '}' {
		r.pos++
		r.depth--
		return nil
	}
	for {
		if r.ws() != '"' {
			return r.unexpected("looking for an object key")
		}
		key, err := r.rawString()
		if err != nil {
			return err
		}
		if r.ws() != ':' {
			return r.unexpected("looking for ':' after an object key")
		}
		r.pos++
		if err := fn(key); err != nil {
			return err
		}
		switch r.ws() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			r.depth--
			return nil
		default:
			return r.unexpected("looking for ',' or '}' in an object")
		}
	}
}

// array reads an array (or null, an empty array), calling fn for each element
// with its index; fn must consume the element.
func (r *jsonReader) array(fn func(i int) error) error {
	switch r.ws() {
	case 'n':
		return r.literal("null")
	case '[':
	default:
		return r.typeError("an array")
	}
	r.depth++
	if r.depth > maxJSONDepth {
		return r.fail("nesting deeper than %d", maxJSONDepth)
	}
	r.pos++
	if r.ws() == ']' {
		r.pos++
		r.depth--
		return nil
	}
	for i := 0; ; i++ {
		if err := fn(i); err != nil {
			return err
		}
		switch r.ws() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			r.depth--
			return nil
		default:
			return r.unexpected("looking for ',' or ']' in an array")
		}
	}
}

// str reads a string; null reads as nil. The result is valid only until the next
// read. Invalid UTF-8 is replaced by U+FFFD, as encoding/json does.
func (r *jsonReader) str() ([]byte, error) {
	switch r.ws() {
	case '"':
		return r.rawString()
	case 'n':
		return nil, r.literal("null")
	}
	return nil, r.typeError("a string")
}

// boolean reads true or false; null reads as absent.
func (r *jsonReader) boolean() (val, ok bool, err error) {
	switch r.ws() {
	case 't':
		return true, true, r.literal("true")
	case 'f':
		return false, true, r.literal("false")
	case 'n':
		return false, false, r.literal("null")
	}
	return false, false, r.typeError("a boolean")
}

// number reads a number literal and returns its text; null reads as nil.
func (r *jsonReader) number() ([]byte, error) {
	switch c := r.ws(); {
	case c == 'n':
		return nil, r.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return r.rawNumber()
	}
	return nil, r.typeError("a number")
}

// float reads a number as a float64; null reads as absent.
func (r *jsonReader) float() (float64, bool, error) {
	start := r.pos
	b, err := r.number()
	if err != nil || b == nil {
		return 0, false, err
	}
	if f, ok := simpleFloat(b); ok {
		return f, true, nil
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		r.pos = start
		return 0, false, r.fail("number %s out of range", string(b))
	}
	return f, true, nil
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// simpleFloat converts the common number shape of Mesos timestamps,
// "1413572390.09275": digits, an optional fraction, no sign or exponent, at most
// 15 significant digits. Then mantissa and power of ten are exact float64s and
// one division rounds correctly, so the result equals strconv.ParseFloat's.
func simpleFloat(b []byte) (float64, bool) {
	var mant uint64
	digits, frac := 0, -1 // significant digits; index of the '.'
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			if mant != 0 {
				digits++
			}
		case c == '.' && frac < 0:
			frac = i
		default:
			return 0, false
		}
	}
	if digits > 15 || frac == len(b)-1 || frac == 0 {
		return 0, false
	}
	k := 0
	if frac > 0 {
		k = len(b) - frac - 1
	}
	if k >= len(exactPow10) {
		return 0, false
	}
	return float64(mant) / exactPow10[k], true
}

// uint32 reads a non-negative integer that fits 32 bits; null reads as absent.
func (r *jsonReader) uint32() (uint32, bool, error) {
	start := r.pos
	b, err := r.number()
	if err != nil || b == nil {
		return 0, false, err
	}
	n, err := strconv.ParseUint(unsafe.String(unsafe.SliceData(b), len(b)), 10, 32)
	if err != nil {
		r.pos = start
		return 0, false, r.fail("number %s is not a 32-bit unsigned integer", string(b))
	}
	return uint32(n), true, nil
}

func jsonDigit(c byte) bool { return c >= '0' && c <= '9' }

// rawNumber scans a number at r.pos, checking the JSON grammar.
func (r *jsonReader) rawNumber() ([]byte, error) {
	d, start := r.data, r.pos
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i++; i < len(d) && jsonDigit(d[i]); i++ {
		}
	default:
		r.pos = i
		return nil, r.unexpected("looking for a digit")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !jsonDigit(d[i]) {
			r.pos = i
			return nil, r.unexpected("looking for a digit after '.'")
		}
		for ; i < len(d) && jsonDigit(d[i]); i++ {
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !jsonDigit(d[i]) {
			r.pos = i
			return nil, r.unexpected("looking for an exponent digit")
		}
		for ; i < len(d) && jsonDigit(d[i]); i++ {
		}
	}
	r.pos = i
	return d[start:i], nil
}

const (
	jsonOnes = 0x0101010101010101
	jsonHigh = 0x8080808080808080
)

// jsonStopMask marks (with its high bit) each byte of the little-endian word x that
// a string scan must stop at: a quote, a backslash, a control character or a
// non-ASCII byte. Bytes above the first marked one may be marked wrongly (borrows
// propagate upwards), so only the lowest mark is exact — which is all a scan
// needs.
func jsonStopMask(x uint64) uint64 {
	q := x ^ (jsonOnes * '"')
	b := x ^ (jsonOnes * '\\')
	return ((x-jsonOnes*0x20)&^x | (q-jsonOnes)&^q | (b-jsonOnes)&^b | x) & jsonHigh
}

// jsonScanPlain returns the index of the first byte at or after i that a string scan
// must stop at, or a position inPath the last 8 bytes of d from which the scan
// goes on byte by byte.
func jsonScanPlain(d []byte, i int) int {
	for i+8 <= len(d) {
		if m := jsonStopMask(binary.LittleEndian.Uint64(d[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	return i
}

// rawString reads the string whose opening quote is at r.pos.
func (r *jsonReader) rawString() ([]byte, error) {
	d := r.data
	start := r.pos + 1
	i := start
	ascii := true
	for {
		i = jsonScanPlain(d, i)
		if i >= len(d) {
			r.pos = i
			return nil, r.unexpected("in a string")
		}
		c := d[i]
		switch {
		case c == '"':
			r.pos = i + 1
			s := d[start:i]
			if !ascii && !utf8.Valid(s) {
				r.buf = append(r.buf[:0], s...)
				return r.fixUTF8(), nil
			}
			return s, nil
		case c == '\\':
			r.buf = append(r.buf[:0], d[start:i]...)
			r.pos = i
			return r.escapedString()
		case c < 0x20:
			r.pos = i
			return nil, r.unexpected("in a string")
		case c >= 0x80:
			ascii = false
		}
		i++
	}
}

// escapedString continues a string at the backslash at r.pos, unescaping into
// r.buf (which holds the part before it).
func (r *jsonReader) escapedString() ([]byte, error) {
	d := r.data
	i := r.pos
	ascii := true
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			r.pos = i + 1
			if !ascii && !utf8.Valid(r.buf) {
				return r.fixUTF8(), nil
			}
			return r.buf, nil
		case c < 0x20:
			r.pos = i
			return nil, r.unexpected("in a string")
		case c != '\\':
			if c >= 0x80 {
				ascii = false
			}
			r.buf = append(r.buf, c)
			i++
			continue
		}
		i++
		if i >= len(d) {
			break
		}
		switch e := d[i]; e {
		case '"', '\\', '/':
			r.buf = append(r.buf, e)
		case 'b':
			r.buf = append(r.buf, '\b')
		case 'f':
			r.buf = append(r.buf, '\f')
		case 'n':
			r.buf = append(r.buf, '\n')
		case 'r':
			r.buf = append(r.buf, '\r')
		case 't':
			r.buf = append(r.buf, '\t')
		case 'u':
			r.pos = i + 1
			c1, ok := r.hex4()
			if !ok {
				return nil, r.unexpected("in a \\u escape")
			}
			ch := rune(c1)
			if utf16.IsSurrogate(ch) {
				ch = utf8.RuneError
				// A high surrogate followed by an escaped low one is one rune.
				if r.pos+1 < len(d) && d[r.pos] == '\\' && d[r.pos+1] == 'u' {
					save := r.pos
					r.pos += 2
					if c2, ok := r.hex4(); ok {
						if dec := utf16.DecodeRune(rune(c1), rune(c2)); dec != utf8.RuneError {
							ch = dec
						} else {
							r.pos = save
						}
					} else {
						r.pos = save
					}
				}
			}
			r.buf = utf8.AppendRune(r.buf, ch)
			i = r.pos
			continue
		default:
			r.pos = i
			return nil, r.unexpected("in a string escape")
		}
		i++
	}
	r.pos = len(d)
	return nil, r.unexpected("in a string")
}

// hex4 reads four hex digits at r.pos.
func (r *jsonReader) hex4() (uint16, bool) {
	if len(r.data)-r.pos < 4 {
		r.pos = len(r.data)
		return 0, false
	}
	var v uint16
	for k := 0; k < 4; k++ {
		c := r.data[r.pos]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
		r.pos++
	}
	return v, true
}

// fixUTF8 replaces each invalid byte in r.buf with U+FFFD.
func (r *jsonReader) fixUTF8() []byte {
	in := r.buf
	out := make([]byte, 0, len(in)+8)
	for len(in) > 0 {
		ch, n := utf8.DecodeRune(in)
		if ch == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, in[:n]...)
		}
		in = in[n:]
	}
	r.buf = out
	return out
}

// skip consumes one value of any type, checking its syntax.
func (r *jsonReader) skip() error {
	switch c := r.ws(); {
	case c == '{':
		return r.object(func([]byte) error { return r.skip() })
	case c == '[':
		return r.array(func(int) error { return r.skip() })
	case c == '"':
		return r.skipString()
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || jsonDigit(c):
		_, err := r.rawNumber()
		return err
	}
	return r.unexpected("looking for a value")
}

// skipString passes over a string without unescaping it.
func (r *jsonReader) skipString() error {
	d := r.data
	i := r.pos + 1
	for {
		i = jsonScanPlain(d, i)
		if i >= len(d) {
			r.pos = i
			return r.unexpected("in a string")
		}
		switch c := d[i]; {
		case c == '"':
			r.pos = i + 1
			return nil
		case c == '\\':
			r.pos = i
			r.buf = r.buf[:0]
			_, err := r.escapedString()
			return err
		case c < 0x20:
			r.pos = i
			return r.unexpected("in a string")
		}
		i++
	}
}

// end checks that nothing but whitespace follows the document.
func (r *jsonReader) end() error {
	if r.ws() != 0 {
		return r.fail("unexpected %s after the document", jsonQuoteByte(r.data[r.pos]))
	}
	return nil
}
