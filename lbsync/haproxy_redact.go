package lbsync

import (
	"regexp"
	"strings"
)

// haproxy -c quotes the lines of the files a config points HAProxy at: the
// first line of a crt-list file, the pattern of a -f pattern file. What
// haproxy -c prints is published (the log, the status page, /status.json),
// and a config may name a file whose contents are secret (an app's template
// label pointing crt-list at a credential file). So the text HAProxy quotes
// from a file other than the config being checked is cut out of the output:
// what is left says which line of our config failed, and why, in HAProxy's
// words.

// otherFileParsing matches "parsing [FILE:LINE]".
var otherFileParsing = regexp.MustCompile(`parsing \[([^\]:]+):\d+\]`)

// quoted matches a single-quoted argument of an ALERT line.
var quoted = regexp.MustCompile(`'[^']*'`)

const notShown = "'[text from a file, not shown]'"

// The running HAProxy parses the config again on every reload, and its
// output is kept for the status page and logged: copyOutput passes each line
// through redactLine too.

// redactFileText returns haproxy -c's output with the text quoted from
// files other than configPath replaced by a marker.
func redactFileText(out, configPath string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = redactLine(l, configPath)
	}
	return strings.Join(lines, "\n")
}

func redactLine(l, configPath string) string {
	if !strings.Contains(l, "'crt-list'") && !strings.Contains(l, "parsing [") && !strings.Contains(l, " of file '") {
		return l // most lines: no regular expression run
	}
	// crt-list: everything after the keyword comes from the list file.
	if k := strings.Index(l, "'crt-list'"); k >= 0 {
		return l[:k+len("'crt-list'")] + " : " + notShown
	}
	fromOther := false
	if m := otherFileParsing.FindStringSubmatch(l); m != nil && m[1] != configPath {
		fromOther = true
	}
	// "regex 'PATTERN' is invalid ... at line N of file 'F'": the pattern is
	// a line of F.
	ofFile := strings.Contains(l, " of file '")
	if !fromOther && !ofFile {
		return l
	}
	var b strings.Builder
	last := 0
	for _, m := range quoted.FindAllStringIndex(l, -1) {
		q := l[m[0]:m[1]]
		keep := strings.HasPrefix(q, "'bind ") || (ofFile && !fromOther && strings.HasSuffix(l[:m[0]], "of file "))
		b.WriteString(l[last:m[0]])
		if keep {
			b.WriteString(q)
		} else {
			b.WriteString(notShown)
		}
		last = m[1]
	}
	b.WriteString(l[last:])
	return b.String()
}
