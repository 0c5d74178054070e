package dnsserver

import (
	"strings"
	"testing"
)

// Cases from mesos-dns's records/labels tests.
func TestSanitizeLabel(t *testing.T) {
	common := map[string]string{
		"":                   "",
		"a":                  "a",
		"-":                  "",
		"a---":               "a",
		"---a---":            "a",
		"---a---b":           "a---b",
		"a.b.c.d.e":          "a-b-c-d-e",
		"a.c.d_de.":          "a-c-d-de",
		"abc123":             "abc123",
		"-abc123":            "abc123",
		"abc123-":            "abc123",
		"abc-123":            "abc-123",
		"abc--123":           "abc--123",
		"r29f.dev.angrypigs": "r29f-dev-angrypigs",
		"héllo wörld":        "hllowrld",
	}
	rfc952 := map[string]string{
		"4abc123":                                   "abc123",
		"-4abc123":                                  "abc123",
		"fd%gsf---gs7-f$gs--d7fddg-123":             "fdgsf---gs7-fgs--d7fddg1",
		"89fdgsf---gs7-fgs--d7fddg-123":             "fdgsf---gs7-fgs--d7fddg1",
		"89fdgsf---gs7-fgs--d7fddg---123":           "fdgsf---gs7-fgs--d7fddg1",
		"89fdgsf---gs7-fgs--d7fddg-":                "fdgsf---gs7-fgs--d7fddg",
		"chronos with a space AND MIXED CASE-2.0.1": "chronoswithaspaceandmixe",
		"chronos with a space AND----------MIXED--": "chronoswithaspaceandmixe",
		"hello--------------------------------------------------------f": "hellof",
	}
	rfc1123 := map[string]string{
		"4abc123":                         "4abc123",
		"-4abc123":                        "4abc123",
		"89fdgsf---gs7-fgs--d7fddg-123":   "89fdgsf---gs7-fgs--d7fddg-123",
		"89fdgsf---gs7-fgs--d7fddg---123": "89fdgsf---gs7-fgs--d7fddg---123",
		"89fdgsf---gs7-fgs--d7fddg-":      "89fdgsf---gs7-fgs--d7fddg",
		"fd%gsf---gs7-f$gs--d7fddg-123":   "fdgsf---gs7-fgs--d7fddg-123",
		"fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123":   "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
		"$$fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123":   "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
		"%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123": "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
		"##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-":      "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789",
		"hello--------------------------------------------------------f":         "hello--------------------------------------------------------f",
	}
	run := func(name string, rfc bool, cases ...map[string]string) {
		t.Run(name, func(t *testing.T) {
			for _, m := range cases {
				for in, want := range m {
					if got := SanitizeLabel(in, rfc); got != want {
						t.Errorf("SanitizeLabel(%q) = %q, want %q", in, got, want)
					}
				}
			}
		})
	}
	common["hello"+strings.Repeat("-", 58)+"f"] = "hellof" // 64 characters
	run("RFC952", true, common, rfc952)
	run("RFC1123", false, common, rfc1123)
}

func TestSanitizeDomainFragment(t *testing.T) {
	common := map[string]string{
		"": "", ".": "", "..": "", "...": "", "a": "a", "abc": "abc", "abc.": "abc", ".abc": "abc",
		"a.c": "a.c", ".a.c": "a.c", "a.c.": "a.c", "a..c": "a.c", "ab.c": "ab.c", "ab.cd": "ab.cd",
		"ab.cd.efg": "ab.cd.efg", "a.c.e": "a.c.e", "a..c.e": "a.c.e", "a.c..e": "a.c.e",
		"host.com": "host.com", "space space.com": "spacespace.com", "blah-dash.com": "blah-dash.com",
		"not$1234.com": "not1234.com", "(@ host . com": "host.com", "MiXeDcase.CoM": "mixedcase.com",
	}
	for in, want := range common {
		for _, rfc := range []bool{false, true} {
			if got := SanitizeDomainFragment(in, rfc); got != want {
				t.Errorf("SanitizeDomainFragment(%q, %v) = %q, want %q", in, rfc, got, want)
			}
		}
	}
	if got := SanitizeDomainFragment("pod_123$abc.marathon-0.6.0-dev.mesos", true); got != "pod-123abc.marathon-0.dev.mesos" {
		t.Errorf("RFC 952: %q", got)
	}
	if got := SanitizeDomainFragment("pod_123$abc.marathon-0.6.0-dev.mesos", false); got != "pod-123abc.marathon-0.6.0-dev.mesos" {
		t.Errorf("RFC 1123: %q", got)
	}
}

func TestShortLabel(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("a", 64),
		strings.Repeat("a", 56) + "--------x",
		"_" + strings.Repeat("b", 63),
		strings.Repeat("c", 200),
	} {
		got := string(appendShortLabel(nil, []byte(in)))
		if len(got) > maxLabel || !validName([]byte(got+".")) {
			t.Errorf("short(%q) = %q: invalid", in, got)
		}
		if got2 := string(appendShortLabel(nil, []byte(in))); got2 != got {
			t.Errorf("not deterministic: %q vs %q", got, got2)
		}
	}
	if got := string(appendShortLabel(nil, []byte("short"))); got != "short" {
		t.Errorf("short label changed: %q", got)
	}
	a := string(appendShortLabel(nil, []byte(strings.Repeat("a", 70)+"1")))
	b := string(appendShortLabel(nil, []byte(strings.Repeat("a", 70)+"2")))
	if a == b {
		t.Errorf("distinct long labels collide: %q", a)
	}
}

// refLabel is mesos-dns's label rule written the plain way, to fuzz against,
// with our one correction: no trailing dash after the refill.
func refLabel(name string, maxLen int, noLeadingDigit bool) string {
	var m []byte
	for _, r := range name {
		switch {
		case r >= 'A' && r <= 'Z':
			m = append(m, byte(r-'A'+'a'))
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			m = append(m, byte(r))
		case r == '-' || r == '.' || r == '_':
			m = append(m, '-')
		}
	}
	cut := "-"
	if noLeadingDigit {
		cut = "-0123456789"
	}
	s := strings.TrimLeft(string(m), cut)
	size := min(len(s), maxLen)
	head := strings.TrimRight(s[:size], "-")
	if len(head) == size {
		return head
	}
	tail := strings.TrimLeft(s[size:], "-")
	// Where mesos-dns's refill ends in a dash, we drop it (a valid label).
	return strings.TrimRight(head+tail[:min(len(tail), size-len(head))], "-")
}

func FuzzSanitizeLabel(f *testing.F) {
	for _, s := range []string{"", "nginx", "Chronos 2.0.1", "-4abc_123$", strings.Repeat("ab-", 40), "héllo.wörld", "\xff\xfe-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rfc952 := range []bool{false, true} {
			got := SanitizeLabel(s, rfc952)
			maxLen := maxLabel
			if rfc952 {
				maxLen = 24
			}
			if want := refLabel(s, maxLen, rfc952); got != want {
				t.Fatalf("SanitizeLabel(%q, %v) = %q, reference %q", s, rfc952, got, want)
			}
			if len(got) > maxLen {
				t.Fatalf("too long: %q", got)
			}
			if got != "" {
				if !validName([]byte(got+".")) || got[0] == '-' || got[len(got)-1] == '-' || strings.Contains(got, "_") {
					t.Fatalf("invalid label %q", got)
				}
				if rfc952 && got[0] >= '0' && got[0] <= '9' {
					t.Fatalf("RFC 952 label starts with a digit: %q", got)
				}
			}
			if again := SanitizeLabel(got, rfc952); again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
			frag := SanitizeDomainFragment(s, rfc952)
			if frag != "" && !validName([]byte(frag+".")) && len(frag) <= maxFQDN {
				t.Fatalf("invalid fragment %q", frag)
			}
			long := string(appendShortLabel(nil, []byte(got+"-"+got+"-"+got)))
			if long != "" && !validName([]byte(long+".")) {
				t.Fatalf("appendShortLabel gave %q", long)
			}
		}
	})
}
