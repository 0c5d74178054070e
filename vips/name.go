package vips

import "strings"

// Zone is the DNS zone DC/OS serves named VIPs in:
// <name>.<framework>.l4lb.thisdcos.directory.
const Zone = "l4lb.thisdcos.directory."

// DNSName is the part of a named VIP's DNS names before the zone,
// "<name>.<framework>", each part reduced by DNSLabel as dcos-net reduces it:
// the VIP "/group/app" of Marathon is "groupapp.marathon".
func DNSName(name, framework string) string {
	n, f := DNSLabel(name), DNSLabel(framework)
	switch {
	case n == "":
		return f
	case f == "":
		return n
	}
	return n + "." + f
}

// DNSLabel reduces a VIP name (or a framework name) to one or more DNS labels
// the way dcos-net does, so that DC/OS clients find the names they knew: the
// name is split at dots; in each part letters are lowered, '-' and '_' become
// '-' (after its first character), other characters are dropped, a part is
// cut to 63 characters, and leading and trailing dashes are trimmed. Empty
// parts are left out. Slashes are dropped, so "/group/app" is "groupapp".
func DNSLabel(s string) string {
	var out []string
	for part := range strings.SplitSeq(s, ".") {
		if l := dnsPart(part); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, ".")
}

func dnsPart(s string) string {
	b := make([]byte, 0, min(len(s), 63))
	for i := 0; i < len(s) && len(b) < 63; i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case (c == '-' || c == '_') && len(b) > 0:
			b = append(b, '-')
		}
	}
	return strings.TrimRight(string(b), "-")
}
