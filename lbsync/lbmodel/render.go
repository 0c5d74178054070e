package lbmodel

import (
	"strconv"
	"strings"
)

// Render writes m as a HAProxy configuration: the head, the frontends in order,
// then the backends, each followed by its server lines. It is a pure function of
// m: the same model always gives the same bytes, so a byte comparison tells
// whether anything changed.
func Render(m *Model) ([]byte, error) {
	size := len(m.Head) + len(m.Userlists)
	for i := range m.Frontends {
		size += len(m.Frontends[i].Text)
	}
	for i := range m.Backends {
		b := &m.Backends[i]
		size += len(b.Text)
		for j := range b.Servers {
			size += 32 + len(b.Servers[j].Name) + len(b.Servers[j].Host) + len(b.Servers[j].Options)
		}
	}
	out := make([]byte, 0, size)
	out = append(out, m.Head...)
	out = append(out, m.Userlists...)
	for i := range m.Frontends {
		out = append(out, m.Frontends[i].Text...)
	}
	for i := range m.Backends {
		b := &m.Backends[i]
		out = append(out, b.Text...)
		for j := range b.Servers {
			out = AppendServerLine(out, &b.Servers[j])
		}
	}
	return out, nil
}

// AppendServerLine appends the config line of s ("  server NAME HOST:PORT
// OPTIONS\n") to dst: the same line Render writes, and the same address and
// options text an "add server" on the Runtime API takes.
func AppendServerLine(dst []byte, s *Server) []byte {
	dst = append(dst, "  server "...)
	dst = append(dst, s.Name...)
	dst = append(dst, ' ')
	dst = AppendServerAddr(dst, s)
	if s.Options != "" {
		dst = append(dst, ' ')
		dst = append(dst, s.Options...)
	}
	return append(dst, '\n')
}

// AppendServerAddr appends s's address as HAProxy reads it: "HOST:PORT", with
// IPv6 hosts in brackets.
func AppendServerAddr(dst []byte, s *Server) []byte {
	if strings.IndexByte(s.Host, ':') >= 0 {
		dst = append(dst, '[')
		dst = append(dst, s.Host...)
		dst = append(dst, ']')
	} else {
		dst = append(dst, s.Host...)
	}
	dst = append(dst, ':')
	return strconv.AppendInt(dst, int64(s.Port), 10)
}
