package lbmodel

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// Label values are data written into HAProxy configuration by whoever may
// post an app to Marathon, who is not the operator. HAProxy gives meaning to
// characters inside an argument: a double quote starts a string in which
// "${VAR}" expands to the environment of HAProxy, a single quote or a
// backslash changes how the rest of the line splits, "#" starts a comment. A
// value holding one of them could read the daemon's secrets back (a realm or
// a redirect location naming an environment variable) or write syntax of its
// own. So every label a default template renders is checked for its role:
// the characters its role needs and no others, an address is one address,
// bind options come from an allow-list, and a file may only be named inside
// the directories the operator allowed (Config.CertDirs). The value is
// quoted in the error only where it is the app's own text; nothing read from
// disk is ever quoted.

// quotingChars are the characters that change how HAProxy reads an argument:
// quotes, escapes, comments and environment variables.
const quotingChars = "\"'\\#$`"

// plainValue rejects a value holding a character of quotingChars or a blank
// (one argument).
func plainValue(v string) error {
	if i := strings.IndexAny(v, quotingChars); i >= 0 {
		return fmt.Errorf("%q holds %q, which HAProxy would read as syntax", v, v[i])
	}
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		return fmt.Errorf("%q holds a blank (one value expected)", v)
	}
	return nil
}

// onlyChars rejects v when it holds a character outside letters, digits and
// extra; what names v in the message.
func onlyChars(v, extra, what string) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0 {
			continue
		}
		return fmt.Errorf("%q is not %s (character %q)", v, what, c)
	}
	return nil
}

// urlPathChars are the characters of a URL path that need no quoting in
// HAProxy (RFC 3986 pchar without "$" and "'").
const urlPathChars = "/-._~!&()*+,;=:@%"

func checkVHost(v string) error {
	return onlyChars(v, ".-_*:,", "a host name list")
}

// checkPath allows HAPROXY_{n}_PATH's path_beg arguments: paths, and the -i
// flag (no -f: it would read a file of patterns).
func checkPath(v string) error {
	for _, f := range strings.Fields(v) {
		if f == "-i" {
			continue
		}
		if !strings.HasPrefix(f, "/") {
			return fmt.Errorf("%q: each item is a path starting with / (or -i)", v)
		}
		if err := onlyChars(f, urlPathChars, "a URL path"); err != nil {
			return err
		}
	}
	return nil
}

// checkURLPath allows one URL path.
func checkURLPath(v string) error {
	if err := onlyChars(v, urlPathChars, "a URL path"); err != nil {
		return err
	}
	if !strings.HasPrefix(v, "/") {
		return fmt.Errorf("%q is not a URL path (it starts with /)", v)
	}
	return nil
}

// checkRedirect allows one URL or URL path: HTTP_BACKEND_REDIR.
func checkRedirect(v string) error {
	return onlyChars(v, urlPathChars+"?[]", "a URL")
}

// checkBalance allows an algorithm and its arguments ("hdr(Host)",
// "url_param id check_post"); HAProxy itself says which names exist.
func checkBalance(v string) error {
	for _, f := range strings.Fields(v) {
		if err := onlyChars(f, "-_.(),", "a balance algorithm"); err != nil {
			return err
		}
	}
	return nil
}

// checkBindAddr allows one address: an IP, or * for all of them. A comma
// list, a port or a host name would let an app bind what it was not given.
func checkBindAddr(v string) error {
	if v == "*" {
		return nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]"))
	if err != nil || a.Zone() != "" {
		return fmt.Errorf("%q is not one IP address (or *)", v)
	}
	return nil
}

// checkNetworks allows blank-separated addresses and networks.
func checkNetworks(v string) error {
	for _, f := range strings.Fields(v) {
		if _, err := netip.ParsePrefix(f); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(f); err != nil {
			return fmt.Errorf("%q is not an address or network", f)
		}
	}
	return nil
}

// checkAuth allows realm:user:password-hash (the caller splits it). The
// value is never quoted: it holds a password hash.
func checkAuth(realm, user, password string) error {
	if i := strings.IndexAny(realm, quotingChars); i >= 0 {
		return fmt.Errorf("the realm holds %q, which HAProxy would read as syntax", realm[i])
	}
	if err := onlyChars(user, "._@+-", "a user name"); err != nil {
		return errors.New("the user is not a user name (letters, digits, . _ @ + -)")
	}
	// Crypt hashes hold "$" ($6$salt$hash); the password is written unquoted,
	// where HAProxy expands nothing.
	if err := onlyChars(password, "./$=+-", "a password hash"); err != nil {
		return errors.New("the password is not a crypt hash (letters, digits, . / $ = + -)")
	}
	return nil
}

// bindOption is one keyword HAPROXY_{n}_BIND_OPTIONS may use.
type bindOption struct {
	// args is how many arguments follow the keyword.
	args int
	// file: the argument is a file, which must lie in Config.CertDirs.
	file bool
}

// bindOptions are the bind keywords an app may use: TLS settings and
// connection tuning of its own listener. What is left out reads files in
// ways HAProxy echoes (crt-list prints its lines in errors), changes who owns
// a socket, or touches other listeners (process, thread, namespace).
var bindOptions = map[string]bindOption{
	"ssl": {}, "accept-proxy": {}, "allow-0rtt": {}, "defer-accept": {},
	"no-ca-names": {}, "no-sslv3": {}, "no-tlsv10": {}, "no-tlsv11": {},
	"no-tlsv12": {}, "no-tlsv13": {}, "no-tls-tickets": {}, "prefer-client-ciphers": {},
	"strict-sni": {}, "tfo": {}, "transparent": {}, "v4v6": {}, "v6only": {},
	"alpn": {args: 1}, "npn": {args: 1}, "ciphers": {args: 1}, "ciphersuites": {args: 1},
	"curves": {args: 1}, "ecdhe": {args: 1}, "sigalgs": {args: 1}, "client-sigalgs": {args: 1},
	"ssl-min-ver": {args: 1}, "ssl-max-ver": {args: 1}, "verify": {args: 1},
	"maxconn": {args: 1}, "backlog": {args: 1}, "mss": {args: 1}, "tcp-ut": {args: 1},
	"nice": {args: 1}, "name": {args: 1}, "id": {args: 1}, "interface": {args: 1},
	"accept-netscaler-cip": {args: 1}, "crt-ignore-err": {args: 1}, "ca-ignore-err": {args: 1},
	"crt": {args: 1, file: true}, "ca-file": {args: 1, file: true},
	"crl-file": {args: 1, file: true}, "ca-verify-file": {args: 1, file: true},
}

// bindOptionFiles checks HAPROXY_{n}_BIND_OPTIONS against bindOptions and
// returns the files it names.
func bindOptionFiles(v string) ([]string, error) {
	var files []string
	f := strings.Fields(v)
	for i := 0; i < len(f); i++ {
		kw := f[i]
		o, ok := bindOptions[kw]
		if !ok {
			return nil, fmt.Errorf("bind option %q is not one an app may set", kw)
		}
		if i+o.args >= len(f) {
			return nil, fmt.Errorf("bind option %q wants an argument", kw)
		}
		for j := 1; j <= o.args; j++ {
			arg := f[i+j]
			if o.file {
				files = append(files, arg)
			} else if err := onlyChars(arg, "-_.:,+!@/=", "a bind option argument"); err != nil {
				return nil, fmt.Errorf("bind option %s: %w", kw, err)
			}
		}
		i += o.args
	}
	return files, nil
}

// checkBindOptions is bindOptionFiles without the files, for ParsePortLabels
// (the files are checked against the config's directories later).
func checkBindOptions(v string) error {
	_, err := bindOptionFiles(v)
	return err
}

// checkCertPath allows one absolute file path of plain characters.
func checkCertPath(v string) error {
	if err := onlyChars(v, "/-._@+", "a file path"); err != nil {
		return err
	}
	if !filepath.IsAbs(v) || filepath.Clean(v) != v {
		return fmt.Errorf("%q is not an absolute, clean file path", v)
	}
	return nil
}

// allowedFile reports whether path lies in one of dirs (or below).
func allowedFile(path string, dirs []string) bool {
	for _, d := range dirs {
		d = filepath.Clean(d)
		if rel, err := filepath.Rel(d, path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") && filepath.IsAbs(d) {
			return true
		}
	}
	return false
}

// checkLabelFiles checks the files a port's labels name (HAPROXY_{n}_SSL_CERT
// and the file arguments of HAPROXY_{n}_BIND_OPTIONS) against the
// directories the operator allowed. The message names the label and the
// directories, never anything of the file.
func checkLabelFiles(l *PortLabels, n int, dirs []string) error {
	var files []string
	if l.SSLCert != "" {
		files = append(files, l.SSLCert)
	}
	bf, err := bindOptionFiles(l.BindOptions)
	if err != nil {
		return fmt.Errorf("HAPROXY_%d_BIND_OPTIONS: %w", n, err)
	}
	files = append(files, bf...)
	for _, f := range files {
		if err := checkCertPath(f); err != nil {
			return fmt.Errorf("HAPROXY_%d certificate file: %w", n, err)
		}
		if !allowedFile(f, dirs) {
			return fmt.Errorf("HAPROXY_%d certificate file %q is outside the certificate directories (%s)",
				n, f, strings.Join(dirs, ", "))
		}
	}
	return nil
}

// CertDirs returns the directories app labels may name certificate files
// in: Config.CertDirs, else the directories of the --ssl-certs files.
func (c *Config) certDirs() []string {
	if len(c.CertDirs) > 0 {
		return c.CertDirs
	}
	var dirs []string
	for _, f := range c.sslCerts() {
		dirs = appendUnique(dirs, filepath.Dir(f))
	}
	return dirs
}

// checkAppID allows the characters Marathon allows in app ids (and upper
// case, for ids derived from Mesos tasks): the id is written into the
// X-Marathon-App-Id ACL and backend names.
func checkAppID(id string) error {
	return onlyChars(id, "/-._", "an app id")
}

// checkHealthPath allows a Marathon health check path, written after "option
// httpchk GET".
func checkHealthPath(v string) error {
	if v == "" {
		return nil
	}
	return onlyChars(v, urlPathChars+"?", "a health check path")
}
