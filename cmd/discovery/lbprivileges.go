package main

import (
	"fmt"
	"os/user"
	"strings"
)

// HAProxy started by a root daemon would serve as root: a bug in HAProxy,
// or a template label that makes it serve a file, then reaches what root
// reaches. -lb-haproxy-user makes it drop to an unprivileged user once its
// sockets are bound. "auto" (the default) is haproxy:haproxy, the user and
// group Debian's haproxy package creates, when the daemon runs as root and
// they exist; "none" keeps HAProxy's own default (the user that started it);
// USER[:GROUP] names them.

// resolveHAProxyUser turns the flag's value into the user and group written
// into the global section ("" for none).
func resolveHAProxyUser(v string, euid int, lookup func(user, group string) bool) (string, string, error) {
	switch v {
	case "none", "":
		return "", "", nil
	case "auto":
		if euid == 0 && lookup("haproxy", "haproxy") {
			return "haproxy", "haproxy", nil
		}
		return "", "", nil
	}
	u, g, _ := strings.Cut(v, ":")
	if u == "" || strings.ContainsAny(v, " \t\"'#$\\") {
		return "", "", fmt.Errorf("flag -lb-haproxy-user: want auto, none or USER[:GROUP], got %q", v)
	}
	return u, g, nil
}

// systemUserGroup reports whether the system knows user and group.
func systemUserGroup(u, g string) bool {
	if _, err := user.Lookup(u); err != nil {
		return false
	}
	_, err := user.LookupGroup(g)
	return err == nil
}
