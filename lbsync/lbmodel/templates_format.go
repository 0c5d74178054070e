package lbmodel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file implements the subset of Python's str.format that marathon-lb
// templates use, so that a template file written for marathon-lb renders the
// same here: "{name}" fields, "{{" and "}}" escapes, element access
// ("{healthCheck[path]}"), the !s / !r conversions and the common format specs
// (fill, alignment, width, precision, "d" and "s"). Anything else is an error,
// as it would be in Python, and leaves out only the app whose template it is.

// fmtKind is the Python type a placeholder value stands for.
type fmtKind uint8

const (
	kindStr fmtKind = iota
	kindInt
	kindNone
	kindBool
	kindDict
)

// fmtValue is one placeholder value.
type fmtValue struct {
	kind fmtKind
	s    string
	n    int
	b    bool
	dict func(key string) (fmtValue, bool)
}

func strVal(s string) fmtValue { return fmtValue{kind: kindStr, s: s} }
func intVal(n int) fmtValue    { return fmtValue{kind: kindInt, n: n} }
func boolVal(b bool) fmtValue  { return fmtValue{kind: kindBool, b: b} }

var noneVal = fmtValue{kind: kindNone}

// optStr is s, or None when s is empty: marathon-lb passes Python None for
// unset values, and a template that prints one prints "None".
func optStr(s string) fmtValue {
	if s == "" {
		return noneVal
	}
	return strVal(s)
}

// appendStr appends str(v).
func (v fmtValue) appendStr(dst []byte) []byte {
	switch v.kind {
	case kindStr:
		return append(dst, v.s...)
	case kindInt:
		return strconv.AppendInt(dst, int64(v.n), 10)
	case kindNone:
		return append(dst, "None"...)
	case kindBool:
		if v.b {
			return append(dst, "True"...)
		}
		return append(dst, "False"...)
	default:
		return append(dst, "{…}"...)
	}
}

// appendRepr appends repr(v).
func (v fmtValue) appendRepr(dst []byte) []byte {
	if v.kind != kindStr {
		return v.appendStr(dst)
	}
	q := byte('\'')
	if strings.IndexByte(v.s, '\'') >= 0 && strings.IndexByte(v.s, '"') < 0 {
		q = '"'
	}
	dst = append(dst, q)
	for _, r := range v.s {
		switch {
		case r == '\\':
			dst = append(dst, `\\`...)
		case r == rune(q):
			dst = append(dst, '\\', q)
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r < 0x20 || r == 0x7f:
			dst = fmt.Appendf(dst, `\x%02x`, r)
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, q)
}

// fmtVars resolves placeholder names. Lookups are linear: a template sees a
// dozen names at most, and a slice is faster than a map at that size.
type fmtVars []fmtVar

type fmtVar struct {
	name string
	val  fmtValue
}

func (vs fmtVars) lookup(name string) (fmtValue, bool) {
	for i := range vs {
		if vs[i].name == name {
			return vs[i].val, true
		}
	}
	return fmtValue{}, false
}

// fmtScope is the placeholders of one formatting: the call's own, then the
// settings every template sees.
type fmtScope struct {
	own, settings fmtVars
}

func (s fmtScope) lookup(name string) (fmtValue, bool) {
	if v, ok := s.own.lookup(name); ok {
		return v, true
	}
	return s.settings.lookup(name)
}

// fmtPiece is a literal run or a replacement field of a compiled template.
type fmtPiece struct {
	lit   string
	field *fmtField
}

type fmtField struct {
	name string
	// path is the chain of "[key]" or ".attr" accesses after the name; attrs
	// are kept with a leading '.'.
	path []string
	conv byte // 0, 's' or 'r'
	spec fmtSpec
	raw  string // the field as written, for errors
}

// fmtSpec is a parsed standard format spec.
type fmtSpec struct {
	set       bool
	fill      rune
	align     byte // 0, '<', '>', '^', '='
	sign      byte
	zero      bool
	width     int
	precision int // -1 when absent
	typ       byte
}

// Template is a compiled marathon-lb template: literal text, or a str.format
// string with placeholders.
type Template struct {
	// Name is the template's name, e.g. "HAPROXY_BACKEND_HEAD".
	Name string
	// Text is the template as written.
	Text string
	// Source says where Text came from: "default", "env", "file PATH" or
	// "label HAPROXY_0_BACKEND_HEAD".
	Source string
	pieces []fmtPiece
}

// errTemplateSyntax wraps the errors of compileFormat.
var errTemplateSyntax = errors.New("template syntax")

// compileFormat parses text as a str.format string.
func compileFormat(text string) ([]fmtPiece, error) {
	var pieces []fmtPiece
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			pieces = append(pieces, fmtPiece{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch c {
		case '{':
			if i+1 < len(text) && text[i+1] == '{' {
				lit.WriteByte('{')
				i += 2
				continue
			}
			end, err := fieldEnd(text, i)
			if err != nil {
				return nil, err
			}
			f, err := parseField(text[i+1 : end])
			if err != nil {
				return nil, err
			}
			flush()
			pieces = append(pieces, fmtPiece{field: f})
			i = end + 1
		case '}':
			if i+1 < len(text) && text[i+1] == '}' {
				lit.WriteByte('}')
				i += 2
				continue
			}
			return nil, fmt.Errorf("%w: single '}' encountered at offset %d", errTemplateSyntax, i)
		default:
			j := i + 1
			for j < len(text) && text[j] != '{' && text[j] != '}' {
				j++
			}
			lit.WriteString(text[i:j])
			i = j
		}
	}
	flush()
	return pieces, nil
}

// fieldEnd returns the index of the '}' closing the field opened at text[start].
// Brackets in element indexes may hold any character but ']'.
func fieldEnd(text string, start int) (int, error) {
	depth := 0
	for i := start + 1; i < len(text); i++ {
		switch text[i] {
		case '[':
			if depth == 0 {
				j := strings.IndexByte(text[i:], ']')
				if j < 0 {
					return 0, fmt.Errorf("%w: missing ']' in format string", errTemplateSyntax)
				}
				i += j
			}
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i, nil
			}
			depth--
		}
	}
	return 0, fmt.Errorf("%w: single '{' encountered at offset %d", errTemplateSyntax, start)
}

func parseField(s string) (*fmtField, error) {
	f := &fmtField{raw: "{" + s + "}"}
	// Split off ":spec" and "!conv", outside brackets.
	body := s
	inBracket := false
	cut := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			inBracket = true
		case ']':
			inBracket = false
		case '!', ':':
			if !inBracket && cut < 0 {
				cut = i
			}
		}
		if cut >= 0 {
			break
		}
	}
	if cut >= 0 {
		body = s[:cut]
		rest := s[cut:]
		if rest[0] == '!' {
			if len(rest) < 2 {
				return nil, fmt.Errorf("%w: end of string while looking for conversion specifier in %s", errTemplateSyntax, f.raw)
			}
			f.conv = rest[1]
			if f.conv != 's' && f.conv != 'r' && f.conv != 'a' {
				return nil, fmt.Errorf("%w: unknown conversion specifier %q in %s", errTemplateSyntax, rest[1], f.raw)
			}
			if f.conv == 'a' {
				f.conv = 'r'
			}
			rest = rest[2:]
			if rest != "" && rest[0] != ':' {
				return nil, fmt.Errorf("%w: expected ':' after conversion specifier in %s", errTemplateSyntax, f.raw)
			}
		}
		if rest != "" {
			spec, err := parseSpec(rest[1:])
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", errTemplateSyntax, f.raw, err)
			}
			f.spec = spec
		}
	}
	// The name, then .attr and [key] accesses.
	i := 0
	for i < len(body) && body[i] != '.' && body[i] != '[' {
		i++
	}
	f.name = body[:i]
	if f.name == "" {
		return nil, fmt.Errorf("%w: positional field %s: templates take named fields only", errTemplateSyntax, f.raw)
	}
	if f.name[0] >= '0' && f.name[0] <= '9' {
		return nil, fmt.Errorf("%w: positional field %s: templates take named fields only", errTemplateSyntax, f.raw)
	}
	for i < len(body) {
		switch body[i] {
		case '.':
			j := i + 1
			for j < len(body) && body[j] != '.' && body[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("%w: empty attribute in %s", errTemplateSyntax, f.raw)
			}
			f.path = append(f.path, body[i:j])
			i = j
		case '[':
			j := strings.IndexByte(body[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("%w: missing ']' in %s", errTemplateSyntax, f.raw)
			}
			if j == 1 {
				return nil, fmt.Errorf("%w: empty element index in %s", errTemplateSyntax, f.raw)
			}
			f.path = append(f.path, body[i+1:i+j])
			i += j + 1
			if i < len(body) && body[i] != '.' && body[i] != '[' {
				return nil, fmt.Errorf("%w: only '.' or '[' may follow ']' in %s", errTemplateSyntax, f.raw)
			}
		default:
			return nil, fmt.Errorf("%w: bad field %s", errTemplateSyntax, f.raw)
		}
	}
	return f, nil
}

// parseSpec parses [[fill]align][sign][#][0][width][,|_][.precision][type].
func parseSpec(s string) (fmtSpec, error) {
	sp := fmtSpec{set: s != "", fill: ' ', precision: -1}
	if strings.ContainsAny(s, "{}") {
		return sp, errors.New("nested fields in format specs are not supported")
	}
	isAlign := func(c byte) bool { return c == '<' || c == '>' || c == '^' || c == '=' }
	if r, n := utf8.DecodeRuneInString(s); n > 0 && n < len(s) && isAlign(s[n]) {
		sp.fill, sp.align = r, s[n]
		s = s[n+1:]
	} else if s != "" && isAlign(s[0]) {
		sp.align = s[0]
		s = s[1:]
	}
	if s != "" && (s[0] == '+' || s[0] == '-' || s[0] == ' ') {
		sp.sign = s[0]
		s = s[1:]
	}
	if s != "" && s[0] == '#' {
		s = s[1:]
	}
	if s != "" && s[0] == '0' {
		sp.zero = true
		s = s[1:]
	}
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j > 0 {
		w, err := strconv.Atoi(s[:j])
		if err != nil || w > 4096 {
			return sp, fmt.Errorf("width %q too large", s[:j])
		}
		sp.width = w
		s = s[j:]
	}
	if s != "" && (s[0] == ',' || s[0] == '_') {
		return sp, errors.New("thousands separators are not supported")
	}
	if s != "" && s[0] == '.' {
		j = 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == 1 {
			return sp, errors.New("format specifier missing precision")
		}
		p, err := strconv.Atoi(s[1:j])
		if err != nil || p > 4096 {
			return sp, fmt.Errorf("precision %q too large", s[1:j])
		}
		sp.precision = p
		s = s[j:]
	}
	if len(s) > 1 {
		return sp, fmt.Errorf("invalid format specifier %q", s)
	}
	if s != "" {
		sp.typ = s[0]
		if sp.typ != 's' && sp.typ != 'd' {
			return sp, fmt.Errorf("unsupported format type %q", sp.typ)
		}
	}
	return sp, nil
}

// execute appends the template formatted with vars to dst. A literal template
// (pieces == nil and Text set) is appended as is.
func (t *Template) execute(dst []byte, vars fmtScope) ([]byte, error) {
	for i := range t.pieces {
		p := &t.pieces[i]
		if p.field == nil {
			dst = append(dst, p.lit...)
			continue
		}
		var err error
		dst, err = p.field.appendTo(dst, vars)
		if err != nil {
			return dst, fmt.Errorf("template %s (%s): %w", t.Name, t.Source, err)
		}
	}
	return dst, nil
}

func (f *fmtField) appendTo(dst []byte, vars fmtScope) ([]byte, error) {
	v, ok := vars.lookup(f.name)
	if !ok {
		return dst, fmt.Errorf("unknown placeholder %s", f.raw)
	}
	for _, key := range f.path {
		if key[0] == '.' {
			return dst, fmt.Errorf("no attribute %q in %s", key[1:], f.raw)
		}
		if v.kind != kindDict {
			return dst, fmt.Errorf("%s: value is not subscriptable", f.raw)
		}
		if v, ok = v.dict(key); !ok {
			return dst, fmt.Errorf("%s: no key %q", f.raw, key)
		}
	}
	if f.conv == 0 && !f.spec.set {
		return v.appendStr(dst), nil
	}
	if f.conv == 'r' {
		v = strVal(string(v.appendRepr(nil)))
	}
	if !f.spec.set {
		return v.appendStr(dst), nil
	}
	return f.spec.apply(dst, v)
}

// apply formats v under the spec, as format(v, spec) does.
func (sp fmtSpec) apply(dst []byte, v fmtValue) ([]byte, error) {
	var body []byte
	numeric := v.kind == kindInt || v.kind == kindBool
	switch {
	case sp.typ == 'd':
		if !numeric {
			return dst, errors.New("unknown format code 'd' for a string value")
		}
		n := v.n
		if v.kind == kindBool && v.b {
			n = 1
		}
		body = strconv.AppendInt(nil, int64(n), 10)
		if sp.sign == '+' && n >= 0 {
			body = append([]byte{'+'}, body...)
		} else if sp.sign == ' ' && n >= 0 {
			body = append([]byte{' '}, body...)
		}
	case numeric && sp.typ == 0 && v.kind == kindInt:
		body = strconv.AppendInt(nil, int64(v.n), 10)
		if sp.sign == '+' && v.n >= 0 {
			body = append([]byte{'+'}, body...)
		}
	default:
		if sp.sign != 0 {
			return dst, errors.New("sign not allowed in string format specifier")
		}
		if v.kind != kindStr && v.kind != kindNone && v.kind != kindBool && sp.typ == 's' {
			return dst, errors.New("unknown format code 's' for a number")
		}
		body = v.appendStr(nil)
		if sp.precision >= 0 && utf8.RuneCount(body) > sp.precision {
			r := []rune(string(body))
			body = []byte(string(r[:sp.precision]))
		}
	}
	n := utf8.RuneCount(body)
	if n >= sp.width {
		return append(dst, body...), nil
	}
	pad := sp.width - n
	fill := sp.fill
	align := sp.align
	if align == 0 {
		if v.kind == kindInt && sp.typ != 's' {
			align = '>'
		} else {
			align = '<'
		}
		if sp.zero && v.kind == kindInt {
			fill, align = '0', '='
		}
	}
	left, right := 0, 0
	switch align {
	case '<':
		right = pad
	case '>', '=':
		left = pad
	case '^':
		left = pad / 2
		right = pad - left
	}
	if align == '=' && len(body) > 0 && (body[0] == '-' || body[0] == '+' || body[0] == ' ') {
		dst = append(dst, body[0])
		body = body[1:]
	}
	for range left {
		dst = utf8.AppendRune(dst, fill)
	}
	dst = append(dst, body...)
	for range right {
		dst = utf8.AppendRune(dst, fill)
	}
	return dst, nil
}

// uses reports whether the template has a placeholder named name.
func (t *Template) uses(name string) bool {
	for i := range t.pieces {
		if f := t.pieces[i].field; f != nil && f.name == name {
			return true
		}
	}
	return false
}

// newTemplate compiles text as the template name. A literal template is one
// that marathon-lb inserts without formatting.
func newTemplate(name, text, source string, literal bool) (*Template, error) {
	t := &Template{Name: name, Text: text, Source: source}
	if name == "HAPROXY_BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS" || name == "HAPROXY_BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS" {
		// marathon-lb strips these and prefixes a blank: they are spliced
		// into the server line.
		if text = strings.TrimSpace(text); text != "" {
			text = " " + text
		}
	}
	if literal {
		if text != "" {
			t.pieces = []fmtPiece{{lit: text}}
		}
		return t, nil
	}
	pieces, err := compileFormat(text)
	if err != nil {
		return nil, fmt.Errorf("template %s (%s): %w", name, source, err)
	}
	t.pieces = pieces
	return t, nil
}
