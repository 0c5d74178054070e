package lbmodel

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Users' template files were written for marathon-lb's HAProxy 1.x. HAProxy
// 2.x removed the req*/rsp* header directives, and marathon-lb's own Lua
// services are not there (discovery serves those endpoints itself). Rather
// than have HAProxy reject the whole config, each such line of a user's
// template is translated to its 2.x equivalent, or dropped when it has none,
// and a note names the template, the line and what was done. The operator's
// template is trusted text: this is a migration aid, not a sanitiser.

// marathonLBLua are the Lua scripts and services marathon-lb's HAPROXY_HEAD
// loads; discovery serves their endpoints natively.
var marathonLBLua = map[string]string{
	"getpids.lua": "/_haproxy_getpids", "getconfig.lua": "/_haproxy_getconfig",
	"getmaps.lua": "/_haproxy_getvhostmap and /_haproxy_getappmap", "signalmlb.lua": "/_mlb_signal/hup and /usr1",
}

var marathonLBLuaServices = map[string]bool{
	"lua.getpids": true, "lua.getvhostmap": true, "lua.getappmap": true, "lua.getconfig": true,
	"lua.signalmlbhup": true, "lua.signalmlbusr1": true,
}

// legacyMethodLine matches reqrep's request-line form: the method captured
// first, then a space (marathon-lb's proxypass glue).
var legacyMethodLine = regexp.MustCompile(`^\^\(\[\^\\? :\]\*\)\\ `)

// translateLegacy rewrites the HAProxy 1.x lines of a user's template text.
// statsSocket is the Runtime API socket discovery uses: a HAPROXY_HEAD that
// declares it without admin level gets it, so that server changes need no
// reload.
func translateLegacy(name, source, text, statsSocket string) (string, []string) {
	var out strings.Builder
	var notes []string
	note := func(line int, format string, args ...any) {
		notes = append(notes, fmt.Sprintf("%s (%s) line %d: %s", name, source, line, fmt.Sprintf(format, args...)))
	}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := lines[i]
		// A trailing backslash continues the line (marathon-lb's rspirep).
		for strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + strings.TrimLeft(lines[i], " \t")
		}
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		f := legacyFields(strings.TrimSpace(line))
		if len(f) == 0 {
			out.WriteString(line + "\n")
			continue
		}
		keep := func(s string) { out.WriteString(indent + s + "\n") }
		switch kw := f[0]; {
		case kw == "lua-load" && len(f) == 2 && marathonLBLua[path.Base(f[1])] != "":
			note(n, "%q dropped: discovery serves %s itself, on its HTTP port (our HAPROXY_HEAD passes them on from the stats port)", strings.TrimSpace(line), marathonLBLua[path.Base(f[1])])
		case kw == "http-request" && len(f) >= 3 && f[1] == "use-service" && marathonLBLuaServices[f[2]]:
			note(n, "%q dropped: discovery serves marathon-lb's endpoints itself, on its HTTP port (our HAPROXY_HEAD passes them on from the stats port)", strings.TrimSpace(line))
		case kw == "daemon" && name == "HAPROXY_HEAD":
			note(n, `"daemon" dropped: under discovery HAProxy stays in the foreground (master-worker)`)
		case kw == "stats" && len(f) >= 3 && f[1] == "socket" && f[2] == statsSocket && name == "HAPROXY_HEAD" && !slices.Contains(f, "admin"):
			s := strings.TrimSpace(line)
			if !slices.Contains(f, "mode") {
				s += " mode 600"
			}
			if !slices.Contains(f, "level") {
				s += " level admin"
			} else {
				s = socketLevel.ReplaceAllString(s, "level admin")
			}
			note(n, "the stats socket gets \"level admin\": server changes go through the Runtime API without a reload")
			keep(s)
		case kw == "reqadd" || kw == "rspadd":
			dir := map[string]string{"reqadd": "http-request", "rspadd": "http-response"}[kw]
			if len(f) < 2 {
				note(n, "%q dropped: no header", kw)
				continue
			}
			hdr, value, ok := strings.Cut(f[1], ":")
			if !ok {
				note(n, "%q dropped: %q is not \"Name: value\"", kw, f[1])
				continue
			}
			value = strings.TrimPrefix(value, `\ `)
			if value == "" && len(f) > 2 && !isCond(f[2]) {
				value, f = f[2], append(f[:2:2], f[3:]...)
			}
			s := join(dir, "add-header", hdr, value) + cond(f[2:])
			note(n, "%s translated to %q", kw, s)
			keep(s)
		case kw == "reqdel" || kw == "reqidel" || kw == "rspdel" || kw == "rspidel":
			dir := "http-request"
			if strings.HasPrefix(kw, "rsp") {
				dir = "http-response"
			}
			if len(f) >= 2 {
				if hdr, ok := headerOnlyPattern(f[1]); ok {
					s := join(dir, "del-header", hdr) + cond(f[2:])
					note(n, "%s translated to %q", kw, s)
					keep(s)
					continue
				}
			}
			note(n, "%q dropped: no 2.x equivalent; use %s del-header NAME", strings.TrimSpace(line), dir)
		case kw == "reqrep" || kw == "reqirep" || kw == "rsprep" || kw == "rspirep":
			if s, ok := translateRep(kw, f); ok {
				note(n, "%s translated to %q", kw, s)
				keep(s)
				continue
			}
			note(n, "%q dropped: no automatic 2.x equivalent; use http-request replace-uri/replace-path/replace-header or http-response replace-header", strings.TrimSpace(line))
		case legacyFiltering[kw]:
			note(n, "%q dropped: HAProxy 2.x removed %s; use http-request/http-response deny, allow or tarpit with a condition", strings.TrimSpace(line), kw)
		default:
			out.WriteString(line + "\n")
		}
	}
	return strings.TrimSuffix(out.String(), "\n"), notes
}

// legacyFiltering are the other req*/rsp* directives HAProxy 2.x removed.
var legacyFiltering = map[string]bool{
	"reqallow": true, "reqiallow": true, "reqdeny": true, "reqideny": true, "reqpass": true, "reqipass": true,
	"reqtarpit": true, "reqitarpit": true, "rspdeny": true, "rspideny": true,
}

// translateRep translates reqrep/reqirep/rsprep/rspirep: the request-line
// form (the method captured first) becomes replace-uri, the "^Name: …" form
// replace-header.
func translateRep(kw string, f []string) (string, bool) {
	if len(f) < 3 {
		return "", false
	}
	search, replace, rest := unquote(f[1]), unquote(f[2]), f[3:]
	ci := ""
	if strings.HasPrefix(kw, "reqi") || strings.HasPrefix(kw, "rspi") {
		ci = "(?i)"
	}
	dir := "http-request"
	if strings.HasPrefix(kw, "rsp") {
		dir = "http-response"
	}
	if dir == "http-request" {
		if loc := legacyMethodLine.FindStringIndex(search); loc != nil && strings.HasPrefix(replace, `\1\ `) {
			// "^([^ :]*)\ P" "\1\ R": the URI alone, its groups one lower.
			uri := "^" + unescapeSpaces(search[loc[1]:])
			repl := renumber(unescapeSpaces(strings.TrimPrefix(replace, `\1\ `)))
			return join(dir, "replace-uri", ci+uri, repl) + cond(rest), true
		}
	}
	hdr, ok := headerPrefix(search)
	if !ok {
		return "", false
	}
	body := strings.TrimPrefix(search, "^"+hdr+":")
	body = strings.TrimPrefix(strings.TrimPrefix(body, `\ `), " ")
	prefix, ok := strings.CutPrefix(replace, hdr+":")
	if !ok {
		return "", false
	}
	repl := strings.TrimLeft(strings.TrimPrefix(prefix, `\ `), " ")
	return join(dir, "replace-header", hdr, ci+"^"+unescapeSpaces(body), unescapeSpaces(repl)) + cond(rest), true
}

var (
	// socketLevel is a stats socket's "level X" option.
	socketLevel = regexp.MustCompile(`level\s+\S+`)
	// backRef is a regex back-reference past the first.
	backRef = regexp.MustCompile(`\\([2-9])`)
)

// headerPrefix reads "^Name:" at the start of a 1.x header regex.
var headerName = regexp.MustCompile(`^\^([A-Za-z0-9-]+):`)

func headerPrefix(search string) (string, bool) {
	m := headerName.FindStringSubmatch(search)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// headerOnlyPattern reads reqdel's usual "^Name:.*" (or "^Name:").
func headerOnlyPattern(p string) (string, bool) {
	p = unquote(p)
	hdr, ok := headerPrefix(p)
	if !ok {
		return "", false
	}
	rest := strings.TrimPrefix(p, "^"+hdr+":")
	return hdr, rest == "" || rest == ".*" || rest == `\ .*`
}

// renumber lowers every \N back-reference by one (the method group is gone).
func renumber(s string) string {
	return backRef.ReplaceAllStringFunc(s, func(m string) string {
		return `\` + string(m[1]-1)
	})
}

// unescapeSpaces turns 1.x's "\ " into a plain space; join quotes the
// argument again when it needs it.
func unescapeSpaces(s string) string { return strings.ReplaceAll(s, `\ `, " ") }

// join writes a config line, double-quoting an argument that holds a space.
func join(words ...string) string {
	for i, w := range words {
		if strings.ContainsAny(w, " \t") {
			words[i] = `"` + w + `"`
		}
	}
	return strings.Join(words, " ")
}

func cond(rest []string) string {
	if len(rest) == 0 {
		return ""
	}
	return " " + strings.Join(rest, " ")
}

func isCond(w string) bool { return w == "if" || w == "unless" }

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// legacyFields splits a config line as HAProxy does: blanks separate words,
// except escaped ("\ ") or inside double quotes (kept with their quotes).
func legacyFields(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
			have = true
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
			have = true
		case (c == ' ' || c == '\t') && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		case c == '#' && !inQuote && !have:
			// A comment: the rest of the line is not a directive.
			if len(out) == 0 {
				return nil
			}
			i = len(s)
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}
