package mesos

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

// jsonReader is a small pull reader over one JSON document. It exists because
// the Mesos master state is large (64 MB for 100,000 tasks) and we keep only a
// small part of it: decoding it with encoding/json into wire structs costs
// several times more time and memory than walking the bytes once and building
// the slim types directly.
//
// The document is either held whole (data, src nil) or read from src through a
// window that slides over it, so that a fetched state is decoded as it arrives
// and never held whole: the window holds the token being read and what follows
// it, and grows only for a single token larger than itself.
//
// The reader validates everything it passes over, including the values it skips,
// so a truncated or broken document is always an error. Strings it returns point
// into the window or into a scratch buffer that the next read overwrites;
// callers copy what they keep.
type jsonReader struct {
	// data is the window: the document from offset base on, as far as it has
	// been read. Bytes before pos are consumed.
	data  []byte
	pos   int
	depth int
	// buf holds unescaped strings.
	buf []byte
	// keyAt and keyLen place the key of the member being read at each depth
	// in the window (keyAt -1: in saved instead). Callers name the key in
	// errors after reading its value, and reading it may move the window: more
	// saves the keys it would overwrite first, rather than object copying every
	// key.
	keyAt, keyLen [maxJSONDepth + 2]int32
	saved         [][]byte

	// src is where the rest of the document comes from; nil once it has ended
	// (or for a document held whole).
	src io.Reader
	// base is the document offset of data[0].
	base int
	// err is the error src ended with, other than io.EOF.
	err error
	// maxToken bounds one token (the window grows to hold it whole, and an
	// escaped string's copy in buf); 0: no bound. A document's size bounds
	// nothing else.
	maxToken int
}

// tokenTooLarge stops the reader on a token over maxToken.
func (r *jsonReader) tokenTooLarge() {
	r.err = fmt.Errorf("%w: one JSON token of more than %d bytes (maxStateBytes)", ErrStateTooLarge, r.maxToken)
	r.src = nil
}

// minJSONRead is the least room more leaves to read into before it slides the
// window: smaller reads are not worth a call each.
const minJSONRead = 4 << 10

// newStreamReader returns a reader of the document src yields, with a window of
// size bytes to start with.
func newStreamReader(src io.Reader, size int) jsonReader {
	return jsonReader{data: make([]byte, 0, max(size, 1)), src: src}
}

// more reads more of the document into the window, keeping the bytes from pos
// on (and nothing before them). It returns how far those bytes moved towards
// the start of the window, to subtract from indices into data, and whether any
// new byte arrived; false means the document has ended (or src failed: see
// err).
func (r *jsonReader) more() (shift int, ok bool) {
	if r.src == nil {
		return 0, false
	}
	d := r.data
	if cap(d)-len(d) < minJSONRead {
		// Slide what is kept to the start of the window, growing the window
		// when what is kept (one token) fills more than half of it.
		keep := len(d) - r.pos
		to := d[:0:cap(d)]
		if keep > cap(d)/2 {
			if r.maxToken > 0 && keep > r.maxToken {
				r.tokenTooLarge()
				return 0, false
			}
			to = make([]byte, 0, 2*cap(d))
		}
		shift = r.pos
		r.saveKeys(shift)
		r.base += shift
		r.data = append(to, d[r.pos:]...)
		r.pos = 0
		d = r.data
	}
	for range 100 {
		n, err := r.src.Read(d[len(d):cap(d)])
		r.data = d[:len(d)+n]
		if err != nil {
			if err != io.EOF {
				r.err = err
			}
			r.src = nil
			return shift, n > 0
		}
		if n > 0 {
			return shift, true
		}
	}
	r.err, r.src = io.ErrNoProgress, nil
	return shift, false
}

// saveKeys prepares the keys of the members being read for the window to move
// shift bytes down: keys before pos are copied out, the others moved along.
func (r *jsonReader) saveKeys(shift int) {
	for depth := 1; depth <= r.depth; depth++ {
		at := int(r.keyAt[depth])
		switch {
		case at < 0:
		case at+int(r.keyLen[depth]) > len(r.data):
			r.keyAt[depth] = -1 // left by an object that failed: never used
		case at >= r.pos:
			r.keyAt[depth] -= int32(shift)
		default:
			for len(r.saved) <= depth {
				r.saved = append(r.saved, nil)
			}
			r.saved[depth] = append(r.saved[depth][:0], r.data[at:at+int(r.keyLen[depth])]...)
			r.keyAt[depth] = -1
		}
	}
}

// noteKey records where key, just read by the object at depth, is, so that
// key can return it once the window has moved.
func (r *jsonReader) noteKey(depth int, key []byte) {
	// An unescaped key is in the window, just before the closing quote at pos-1.
	at := r.pos - 1 - len(key)
	if len(key) > 0 && at >= 0 && &r.data[at] == &key[0] {
		r.keyAt[depth], r.keyLen[depth] = int32(at), int32(len(key))
		return
	}
	for len(r.saved) <= depth {
		r.saved = append(r.saved, nil)
	}
	r.saved[depth] = append(r.saved[depth][:0], key...)
	r.keyAt[depth] = -1
}

// key returns the key of the member object at depth is reading.
func (r *jsonReader) key(depth int) []byte {
	if at := int(r.keyAt[depth]); at >= 0 {
		return r.data[at : at+int(r.keyLen[depth])]
	}
	return r.saved[depth]
}

// keyedError is an error a member's callback returns to have the member's key
// added to its path (see inKey).
type keyedError struct{ err error }

func (e *keyedError) Error() string { return e.err.Error() }
func (e *keyedError) Unwrap() error { return e.err }

// ensure makes at least n bytes from pos on available in the window, unless the
// document ends first; it reports whether they are.
func (r *jsonReader) ensure(n int) bool {
	for len(r.data)-r.pos < n {
		if _, ok := r.more(); !ok {
			return false
		}
	}
	return true
}

// offset is the document offset of position i of the window.
func (r *jsonReader) offset(i int) int { return r.base + i }

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
	return &jsonSyntaxError{Offset: r.offset(r.pos), msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at the current position (or the end of input).
func (r *jsonReader) unexpected(what string) error {
	if r.pos >= len(r.data) {
		return &jsonSyntaxError{Offset: r.offset(r.pos), msg: "unexpected end of input, " + what, err: io.ErrUnexpectedEOF}
	}
	return r.fail("unexpected %s, %s", jsonQuoteByte(r.data[r.pos]), what)
}

func jsonQuoteByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return strconv.QuoteRune(rune(c))
}

// ws skips whitespace and returns the next byte, or 0 at the end of input (pos
// is then len(data); a NUL byte in the document also reads as 0).
func (r *jsonReader) ws() byte {
	// Most tokens follow their separator directly (see separator).
	if r.pos < len(r.data) {
		if c := r.data[r.pos]; c > ' ' {
			return c
		}
	}
	return r.skipWS()
}

// skipWS is ws for the other cases.
func (r *jsonReader) skipWS() byte {
	for {
		d, i := r.data, r.pos
		for ; i < len(d); i++ {
			c := d[i]
			if c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
				r.pos = i
				return c
			}
		}
		r.pos = i
		if _, ok := r.more(); !ok {
			return 0
		}
	}
}

// separator consumes the ':' or ',' at pos and the one space many writers put
// after it (", " and ": "), which saves ws a call.
func (r *jsonReader) separator() {
	r.pos++
	if r.pos < len(r.data) && r.data[r.pos] == ' ' {
		r.pos++
	}
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
	if (len(r.data)-r.pos >= len(lit) || r.ensure(len(lit))) && string(r.data[r.pos:r.pos+len(lit)]) == lit {
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
	depth := r.depth
	for {
		if r.ws() != '"' {
			return r.unexpected("looking for an object key")
		}
		key, err := r.rawString()
		if err != nil {
			return err
		}
		r.noteKey(depth, key)
		base := r.base
		if r.ws() != ':' {
			return r.unexpected("looking for ':' after an object key")
		}
		r.separator()
		if r.base != base {
			// Looking for the ':' moved the window: take the key from where
			// noteKey and saveKeys keep it.
			key = r.key(depth)
		}
		if err := fn(key); err != nil {
			if k, ok := err.(*keyedError); ok {
				return inPath(k.err, string(r.key(depth)))
			}
			return err
		}
		switch r.ws() {
		case ',':
			r.separator()
		case '}':
			r.pos++
			r.depth--
			r.keyAt[depth] = -1 // no key: saveKeys leaves it alone
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
			r.separator()
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
	b, err := r.number()
	if err != nil || b == nil {
		return 0, false, err
	}
	if f, ok := simpleFloat(b); ok {
		return f, true, nil
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		r.pos -= len(b)
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
	b, err := r.number()
	if err != nil || b == nil {
		return 0, false, err
	}
	n, err := strconv.ParseUint(unsafe.String(unsafe.SliceData(b), len(b)), 10, 32)
	if err != nil {
		r.pos -= len(b)
		return 0, false, r.fail("number %s is not a 32-bit unsigned integer", string(b))
	}
	return uint32(n), true, nil
}

func jsonDigit(c byte) bool { return c >= '0' && c <= '9' }

// rawNumber scans a number at r.pos, checking the JSON grammar.
func (r *jsonReader) rawNumber() ([]byte, error) {
	start := r.pos
	for {
		b, err := r.scanNumber()
		if r.pos < len(r.data) || r.src == nil {
			return b, err
		}
		// The scan ran into the end of the window: the number may go on.
		// Read more and scan it again.
		r.pos = start
		r.more()
		start = r.pos
	}
}

// scanNumber is rawNumber within the window.
func (r *jsonReader) scanNumber() ([]byte, error) {
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
	start := r.pos + 1
	i := start
	ascii := true
	for {
		d := r.data
		i = jsonScanPlain(d, i)
		if i >= len(d) {
			r.pos = start
			shift, ok := r.more()
			start, i = start-shift, i-shift
			if ok {
				continue
			}
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
	i := r.pos
	ascii := true
	for {
		// Read on, so that an escape's second byte is in the window too.
		for i+1 >= len(r.data) {
			if r.maxToken > 0 && len(r.buf) > r.maxToken {
				r.tokenTooLarge()
				break
			}
			r.pos = i
			shift, ok := r.more()
			i -= shift
			if !ok {
				break
			}
		}
		d := r.data
		if i >= len(d) {
			break
		}
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
				if r.ensure(6) {
					d := r.data[r.pos : r.pos+6]
					if d[0] == '\\' && d[1] == 'u' {
						if c2, ok := hex4(d[2:]); ok {
							if dec := utf16.DecodeRune(rune(c1), rune(c2)); dec != utf8.RuneError {
								ch = dec
								r.pos += 6
							}
						}
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
	r.pos = len(r.data)
	return nil, r.unexpected("in a string")
}

// hex4 reads four hex digits at r.pos; on failure pos is at the first byte
// that is not one (or at the end of input).
func (r *jsonReader) hex4() (uint16, bool) {
	if !r.ensure(4) {
		r.pos = len(r.data)
		return 0, false
	}
	v, ok := hex4(r.data[r.pos : r.pos+4])
	if ok {
		r.pos += 4
		return v, true
	}
	for isHex(r.data[r.pos]) {
		r.pos++
	}
	return 0, false
}

// hex4 decodes the four hex digits of b.
func hex4(b []byte) (uint16, bool) {
	var v uint16
	for _, c := range b[:4] {
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
	}
	return v, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
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
	i := r.pos + 1
	for {
		d := r.data
		i = jsonScanPlain(d, i)
		if i >= len(d) {
			// Nothing before i is needed again.
			r.pos = i
			shift, ok := r.more()
			i -= shift
			if ok {
				continue
			}
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
	if r.ws() != 0 || r.pos < len(r.data) {
		return r.fail("unexpected %s after the document", jsonQuoteByte(r.data[r.pos]))
	}
	return nil
}
