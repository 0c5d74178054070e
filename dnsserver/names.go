package dnsserver

import (
	"crypto/sha1"
	"strings"
)

// DNS limits (RFC 1035): a label carries at most 63 octets and a name, written
// without its final dot, at most 253 characters.
const (
	maxLabel = 63
	maxFQDN  = 253
)

// labelSpec turns an arbitrary string into one DNS label, as mesos-dns's label
// functions do.
type labelSpec func(dst []byte, name string) []byte

// specFor returns RFC 952 or RFC 1123 label rules as cfg asks.
func specFor(cfg *Config) labelSpec {
	if cfg.EnforceRFC952 {
		return appendRFC952
	}
	return appendRFC1123
}

// SanitizeLabel returns name as one DNS label the way mesos-dns makes task names
// into labels: lowercased; '.', '_' and '-' become '-'; everything else that is
// not a letter or a digit is dropped; leading and trailing dashes are removed
// and the result is cut to 63 characters (RFC 1123). With rfc952 the label also
// may not start with a digit and is cut to 24 characters. The result may be
// empty.
func SanitizeLabel(name string, rfc952 bool) string {
	var buf [maxLabel]byte
	if rfc952 {
		return string(appendRFC952(buf[:0], name))
	}
	return string(appendRFC1123(buf[:0], name))
}

// SanitizeDomainFragment sanitises each dot-separated part of name as a label and
// joins the non-empty ones with dots, as mesos-dns does for framework names
// ("marathon-0.6.0-dev" stays as is under RFC 1123).
func SanitizeDomainFragment(name string, rfc952 bool) string {
	spec := appendRFC1123
	if rfc952 {
		spec = appendRFC952
	}
	return string(appendDomainFrag(nil, name, spec))
}

func appendRFC1123(dst []byte, name string) []byte {
	return appendLabel(dst, name, maxLabel, false)
}

func appendRFC952(dst []byte, name string) []byte {
	return appendLabel(dst, name, 24, true)
}

// appendLabel appends the label made from name to dst. It follows mesos-dns's
// rule: map the characters, drop leading dashes (and digits under RFC 952), cut
// at maxLen, drop the dashes the cut leaves at the end, and if any were dropped
// refill from the characters after the cut (skipping dashes) up to maxLen. Where
// that refill ends in a dash (mesos-dns then emits an invalid label), the
// trailing dashes are dropped.
func appendLabel(dst []byte, name string, maxLen int, noLeadingDigit bool) []byte {
	start := len(dst)
	// Map the characters; skip the leading cutset as we go.
	leading := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_':
			c = '-'
		default:
			// Other ASCII and every byte of a multi-byte rune is dropped.
			continue
		}
		if leading {
			if c == '-' || (noLeadingDigit && '0' <= c && c <= '9') {
				continue
			}
			leading = false
		}
		dst = append(dst, c)
	}
	mapped := dst[start:]
	size := min(len(mapped), maxLen)
	head := size
	for head > 0 && mapped[head-1] == '-' {
		head--
	}
	if head == size {
		return dst[:start+size]
	}
	// Refill with what follows the cut, without its leading dashes.
	tail := size
	for tail < len(mapped) && mapped[tail] == '-' {
		tail++
	}
	n := min(len(mapped)-tail, size-head)
	copy(mapped[head:], mapped[tail:tail+n])
	// mesos-dns stops here, and the refill can end in a dash ("a0…0--0-" cut at
	// 24 becomes "a0…00-"): not a valid label. Drop trailing dashes again.
	end := head + n
	for end > 0 && mapped[end-1] == '-' {
		end--
	}
	return dst[:start+end]
}

// appendDomainFrag appends name's dot-separated parts, each made a label by
// spec, skipping empty ones.
func appendDomainFrag(dst []byte, name string, spec labelSpec) []byte {
	first := true
	for len(name) > 0 {
		part := name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			part, name = name[:i], name[i+1:]
		} else {
			name = ""
		}
		mark := len(dst)
		if !first {
			dst = append(dst, '.')
		}
		before := len(dst)
		dst = spec(dst, part)
		if len(dst) == before {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	return dst
}

// zbase32 is the human-oriented base-32 alphabet mesos-dns uses for task hashes.
const zbase32 = "ybndrfg8ejkmcpqxot1uwisza345h769"

// appendHash5 appends the first five z-base-32 characters of the SHA-1 of s:
// mesos-dns's short hash of a task ID (e.g. "jhy6r").
func appendHash5(dst []byte, s string) []byte {
	var h [sha1.Size]byte
	if len(s) <= 256 {
		var buf [256]byte
		h = sha1.Sum(buf[:copy(buf[:], s)])
	} else {
		h = sha1.Sum([]byte(s))
	}
	// 25 bits, most significant first.
	v := uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
	for i := range 5 {
		dst = append(dst, zbase32[(v>>(27-5*i))&31])
	}
	return dst
}

// appendAgentIDTail appends the last dash-separated part of an agent ID,
// lowercased ("20150101-0000-S12" gives "s12"), as in mesos-dns's canonical
// names.
func appendAgentIDTail(dst []byte, id string) []byte {
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		id = id[i+1:]
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// Shortening: where mesos-dns would emit a label longer than 63 octets (a long
// task name plus its hash and agent suffix, or "_" plus a 63-character name),
// we keep the first 57 octets (without trailing dashes), then "-" and the
// five-character hash of the whole label. The result is at most 63 octets,
// stable across builds and distinct for distinct long labels.
const shortKeep = maxLabel - 6

// appendShortLabel appends label to dst, shortened as described above if it is
// longer than 63 octets.
func appendShortLabel(dst []byte, label []byte) []byte {
	if len(label) <= maxLabel {
		return append(dst, label...)
	}
	keep := shortKeep
	for keep > 1 && label[keep-1] == '-' {
		keep--
	}
	dst = append(dst, label[:keep]...)
	dst = append(dst, '-')
	return appendHash5(dst, string(label))
}

// validName reports whether the lowercase FQDN name (with its final dot) fits
// DNS: every label 1 to 63 octets of [a-z0-9_-], at most 253 characters
// without the dot.
func validName(name []byte) bool {
	if len(name) < 2 || len(name)-1 > maxFQDN || name[len(name)-1] != '.' {
		return false
	}
	l := 0
	for _, c := range name[:len(name)-1] {
		if c == '.' {
			if l == 0 {
				return false
			}
			l = 0
			continue
		}
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
		l++
		if l > maxLabel {
			return false
		}
	}
	return l > 0
}
