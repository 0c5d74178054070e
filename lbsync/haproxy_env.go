package lbsync

import "os"

// HAProxy expands "${NAME}" in double-quoted config arguments from its own
// environment. Whatever the daemon's environment holds (credentials for
// Marathon or Mesos, HAPROXY_SSL_CERT, cloud tokens) would be one quoted
// argument away from a realm, a header or an error page. So HAProxy (and
// haproxy -c, which must see what HAProxy sees) runs with PATH and the
// variables the operator names (-lb-haproxy-env), nothing else.

// defaultPath is PATH for HAProxy when the daemon has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// HAProxyEnv returns the environment HAProxy runs with: PATH, then each
// variable of keep that getenv (os.Getenv when nil) sets.
func HAProxyEnv(keep []string, getenv func(string) string) []string {
	if getenv == nil {
		getenv = os.Getenv
	}
	path := getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{"PATH=" + path}
	for _, k := range keep {
		if k == "PATH" {
			continue
		}
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// env is the environment of the HAProxy processes we start.
func (h *HAProxy) env() []string {
	if h.opts.Env != nil {
		return h.opts.Env
	}
	return HAProxyEnv(nil, nil)
}
