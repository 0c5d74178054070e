package lbmodel

import (
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/state"
)

// healthVars are the {healthCheck…} placeholders of a health check, with port
// the health check port (0: None).
func healthVars(hc *state.HealthCheck, port int) []fmtVar {
	path := hc.Path
	if path == "" {
		path = "/"
	}
	portIndex := intVal(hc.PortIndex)
	if hc.Port != 0 {
		portIndex = noneVal
	}
	portV := noneVal
	portOptions := ""
	if port != 0 {
		portV = intVal(port)
		portOptions = " port " + strconv.Itoa(port)
	}
	dict := func(key string) (fmtValue, bool) {
		switch key {
		case "protocol":
			return strVal(hc.Protocol), true
		case "path":
			if hc.Path == "" {
				return fmtValue{}, false
			}
			return strVal(hc.Path), true
		case "portIndex":
			if hc.Port != 0 {
				return fmtValue{}, false
			}
			return intVal(hc.PortIndex), true
		case "port":
			if hc.Port == 0 {
				return fmtValue{}, false
			}
			return intVal(hc.Port), true
		case "intervalSeconds":
			return intVal(hc.IntervalSeconds), true
		case "timeoutSeconds":
			return intVal(hc.TimeoutSeconds), true
		case "gracePeriodSeconds":
			return intVal(hc.GracePeriodSeconds), true
		case "maxConsecutiveFailures":
			return intVal(hc.MaxConsecutiveFailures), true
		case "ignoreHttp1xx":
			return boolVal(hc.IgnoreHTTP1xx), true
		}
		return fmtValue{}, false
	}
	return []fmtVar{
		{"healthCheck", fmtValue{kind: kindDict, dict: dict}},
		{"healthCheckPortIndex", portIndex},
		{"healthCheckPort", portV},
		{"healthCheckProtocol", strVal(hc.Protocol)},
		{"healthCheckPath", strVal(path)},
		{"healthCheckTimeoutSeconds", intVal(hc.TimeoutSeconds)},
		{"healthCheckIntervalSeconds", intVal(hc.IntervalSeconds)},
		{"healthCheckIgnoreHttp1xx", boolVal(hc.IgnoreHTTP1xx)},
		{"healthCheckGracePeriodSeconds", intVal(hc.GracePeriodSeconds)},
		{"healthCheckMaxConsecutiveFailures", intVal(hc.MaxConsecutiveFailures)},
		{"healthCheckFalls", intVal(hc.MaxConsecutiveFailures + 1)},
		{"healthCheckPortOptions", strVal(portOptions)},
	}
}

// healthTemplates picks the backend and server health check templates, or
// "" when none applies.
func healthTemplates(svc *service) (backend, server string) {
	hc := svc.healthCheck
	switch {
	case hc == nil:
		return "", ""
	case svc.mode == "tcp" || hc.Protocol == "TCP" || hc.Protocol == "MESOS_TCP":
		return "BACKEND_TCP_HEALTHCHECK_OPTIONS", "BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS"
	case svc.mode == "http":
		return "BACKEND_HTTP_HEALTHCHECK_OPTIONS", "BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS"
	}
	return "", ""
}

// servers renders the backend's health check options and its servers.
func (b *builder) servers(c *contribution) {
	if c.err != nil {
		return
	}
	svc := c.svc
	eps := svc.endpoints // svc is this build's own
	slices.SortStableFunc(eps, func(x, y endpoint) int {
		return cmp.Or(strings.Compare(x.host, y.host), cmp.Compare(x.port, y.port), strings.Compare(x.taskID, y.taskID))
	})
	backendTmpl, serverTmpl := healthTemplates(svc)
	if backendTmpl != "" {
		port := eps[0].port
		if eps[0].healthPort != 0 {
			port = eps[0].healthPort
		}
		b.exec(c, &c.backHead, backendTmpl, healthVars(svc.healthCheck, port)...)
	}
	var taken idSet
	serverTemplate, err := b.template(svc, "BACKEND_SERVER_OPTIONS")
	if err != nil {
		c.err = err
		return
	}
	wantID := serverTemplate.uses("serverId")
	var hv []fmtVar
	if serverTmpl != "" && svc.labels.HealthCheckPortIndex < 0 {
		hv = healthVars(svc.healthCheck, svc.healthCheck.Port)
	}
	var hcOpts, nameBuf []byte
	c.servers = make([]Server, 0, len(eps))
	prevName := ""
	for _, ep := range eps {
		ip := ep.ip.String()
		nameBuf = nameBuf[:0]
		if ep.host != ip {
			nameBuf = appendClean(nameBuf, ep.host)
			nameBuf = append(nameBuf, '_')
		}
		nameBuf = appendClean(nameBuf, ip)
		nameBuf = append(nameBuf, '_')
		nameBuf = strconv.AppendInt(nameBuf, int64(ep.port), 10)
		name := string(nameBuf)
		if name == prevName {
			continue // the same address twice (eps are sorted): one server
		}
		prevName = name
		hcOpts = hcOpts[:0]
		if serverTmpl != "" {
			if svc.labels.HealthCheckPortIndex >= 0 {
				hv = healthVars(svc.healthCheck, cmp.Or(ep.healthPort, ep.port))
			}
			b.exec(c, &hcOpts, serverTmpl, hv...)
		}
		cookie := ""
		if svc.labels.Sticky {
			sum := sha1.Sum([]byte(name))
			cookie = " check cookie " + hex.EncodeToString(sum[:])[:10]
		}
		other := ""
		if ep.draining {
			other = " disabled"
		}
		c.buf = c.buf[:0]
		b.exec(c, &c.buf, "BACKEND_SERVER_OPTIONS",
			fmtVar{"host", strVal(ep.host)},
			fmtVar{"host_ipv4", strVal(ip)},
			fmtVar{"port", intVal(ep.port)},
			fmtVar{"serverName", strVal(name)},
			fmtVar{"serverId", serverIDValue(wantID, name, &taken)},
			fmtVar{"cookieOptions", strVal(cookie)},
			fmtVar{"healthCheckOptions", strVal(string(hcOpts))},
			fmtVar{"otherOptions", strVal(other)})
		if c.err != nil {
			return
		}
		s, addr, err := splitServerLine(string(c.buf))
		if err != nil {
			c.err = fmt.Errorf("HAPROXY_BACKEND_SERVER_OPTIONS: %w", err)
			return
		}
		if addr == ep.ip {
			s.Host = ip
		} else {
			s.Host = addr.String()
		}
		s.Draining = ep.draining
		s.TaskID = ep.taskID
		s.AppID = ep.appID
		c.servers = append(c.servers, s)
	}
	slices.SortFunc(c.servers, func(x, y Server) int { return strings.Compare(x.Name, y.Name) })
	for i := 1; i < len(c.servers); i++ {
		if c.servers[i].Name == c.servers[i-1].Name {
			c.err = fmt.Errorf("HAPROXY_BACKEND_SERVER_OPTIONS: server name %q used twice", c.servers[i].Name)
			return
		}
	}
}

// serverID is marathon-lb's stable server id: a hash of the name in 1..32766,
// rehashed on collision within the backend.
func serverID(name string, taken *idSet) int {
	for {
		sum := sha256.Sum256([]byte(name))
		id := 0
		for _, c := range sum {
			id = (id<<8 | int(c)) % 32767
		}
		if id > 0 && !taken.has(id) {
			taken.add(id)
			return id
		}
		name = name + " " + hex.EncodeToString(sum[:])
	}
}

func serverIDValue(want bool, name string, taken *idSet) fmtValue {
	if !want {
		return noneVal
	}
	return intVal(serverID(name, taken))
}

// idSet is a set of small ints, a slice while small.
type idSet struct {
	list []int
	m    map[int]bool
}

func (s *idSet) has(id int) bool {
	if s.m != nil {
		return s.m[id]
	}
	return slices.Contains(s.list, id)
}

func (s *idSet) add(id int) {
	if s.m == nil && len(s.list) >= 16 {
		s.m = make(map[int]bool, 32)
		for _, x := range s.list {
			s.m[x] = true
		}
	}
	if s.m != nil {
		s.m[id] = true
		return
	}
	s.list = append(s.list, id)
}

// parseServerLine splits a rendered HAPROXY_BACKEND_SERVER_OPTIONS line.
func parseServerLine(line string) (Server, error) {
	s, addr, err := splitServerLine(line)
	if err == nil {
		s.Host = addr.String()
	}
	return s, err
}

// splitServerLine is parseServerLine leaving Host empty and returning the
// address instead.
func splitServerLine(line string) (Server, netip.Addr, error) {
	line = strings.TrimRight(line, "\n")
	if strings.ContainsAny(line, "\n\r") {
		return Server{}, netip.Addr{}, errors.New("renders more than one line")
	}
	kw, rest := nextField(line)
	name, rest := nextField(rest)
	addr, rest := nextField(rest)
	if kw != "server" || addr == "" {
		return Server{}, netip.Addr{}, fmt.Errorf("renders %q, not \"server NAME ADDRESS:PORT …\"", line)
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return Server{}, netip.Addr{}, fmt.Errorf("server address %q has no port", addr)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr[:i], "["), "]")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return Server{}, netip.Addr{}, fmt.Errorf("server address %q is not an IP address", addr)
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return Server{}, netip.Addr{}, fmt.Errorf("server address %q has no valid port", addr)
	}
	s := Server{Name: name, Port: port, Weight: 1}
	// Keep the options as rendered (only the surrounding blanks go).
	s.Options = strings.Trim(rest, " \t")
	for opts := s.Options; opts != ""; {
		var f string
		f, opts = nextField(opts)
		if f == "weight" {
			v, _ := nextField(opts)
			if w, err := strconv.Atoi(v); err == nil {
				s.Weight = w
			}
		}
	}
	return s, ip.Unmap(), nil
}

// nextField splits off the first blank-separated field of s.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return s[i:j], s[j:]
}

// cleanName is marathon-lb's re.sub(r'[^a-zA-Z0-9\-]', '_', s).
func cleanName(s string) string {
	return string(appendClean(make([]byte, 0, len(s)), s))
}

func appendClean(dst []byte, s string) []byte {
	for _, r := range s {
		if r < 0x80 && (r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			dst = append(dst, byte(r))
		} else {
			dst = append(dst, '_')
		}
	}
	return dst
}

// backendDynamics reads the balance algorithm from a backend's text and says
// whether servers can be added to it at runtime.
func backendDynamics(text string, servers []Server) (balance string, dynamic bool) {
	consistent := false
	for line := range strings.SplitSeq(text, "\n") {
		kw, rest := nextField(line)
		arg, _ := nextField(rest)
		switch kw {
		case "balance":
			balance = arg
		case "hash-type":
			consistent = arg == "consistent"
		case "cookie", "server-template", "dynamic-cookie-key":
			// Stickiness by cookie writes "cookie" on each server, which a
			// server added at runtime cannot carry.
			return balance, false
		}
	}
	for _, s := range servers {
		for opts := s.Options; opts != ""; {
			var o string
			o, opts = nextField(opts)
			if o == "cookie" || o == "track" {
				return balance, false
			}
		}
	}
	algo := balance
	if i := strings.IndexAny(algo, "(("); i >= 0 {
		algo = algo[:i]
	}
	switch algo {
	case "", "roundrobin", "leastconn", "first", "random":
		return balance, true
	case "source", "uri", "url_param", "hdr", "rdp-cookie", "hash":
		return balance, consistent
	}
	return balance, false
}
