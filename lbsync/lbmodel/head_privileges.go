package lbmodel

import "strings"

// withUserGroup adds "user" and "group" lines to the global section of head,
// right after its "global" line, so that HAProxy started as root serves as
// an unprivileged user whatever the operator's HAPROXY_HEAD says. A global
// section that names a user or group itself (user, uid, group, gid) is the
// operator's choice and is left as it is, as is a head without a global
// section.
func withUserGroup(head, user, group string) string {
	if user == "" && group == "" {
		return head
	}
	lines := strings.SplitAfter(head, "\n")
	at := -1
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if at < 0 {
			if l[0] != ' ' && l[0] != '\t' && f[0] == "global" {
				at = i
			}
			continue
		}
		if l[0] != ' ' && l[0] != '\t' {
			break // the next section
		}
		switch f[0] {
		case "user", "uid", "group", "gid":
			return head
		}
	}
	if at < 0 {
		return head
	}
	var add string
	if user != "" {
		add += "  user " + user + "\n"
	}
	if group != "" {
		add += "  group " + group + "\n"
	}
	if !strings.HasSuffix(lines[at], "\n") {
		lines[at] += "\n"
	}
	return strings.Join(lines[:at+1], "") + add + strings.Join(lines[at+1:], "")
}
