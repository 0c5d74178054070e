package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/discovery-mesos/discovery/dnsserver"
	"github.com/discovery-mesos/discovery/internal/dcosauth"
	"github.com/discovery-mesos/discovery/state/mesos"
	"github.com/discovery-mesos/discovery/vips"
)

// Config is the daemon's configuration: every key of mesos-dns's config.json, with
// mesos-dns's defaults, plus discovery's own keys (documented in docs/config.md).
//
// Keys are matched case-insensitively, as mesos-dns's encoding/json decoding did,
// so "httpon", "HttpOn" and "HTTPOn" are one key. An unknown key is ignored, as
// mesos-dns ignored it (its own config.json.sample has one, "ns"), but not
// silently: it is a warning naming the key and the key it is probably a typo
// of, in the log and on the status page.
type Config struct {
	// mesos-dns keys, in the order its documentation lists them.
	Zk                  string      `json:"zk"`
	ZkDetectionTimeout  int         `json:"zkDetectionTimeout"`
	Masters             []string    `json:"masters"`
	MesosCredentials    Credentials `json:"mesosCredentials"`
	MesosAuthentication string      `json:"mesosAuthentication"`
	IAMConfigFile       string      `json:"IAMConfigFile"`
	MesosHTTPSOn        bool        `json:"mesosHTTPSOn"`
	CACertFile          string      `json:"caCertFile"`
	// CertFile and KeyFile are a client certificate for masters that require
	// one.
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// MesosHTTPSInsecure (ours) accepts any master certificate. mesos-dns did
	// that silently whenever caCertFile was empty; we verify unless told not to.
	MesosHTTPSInsecure     bool                `json:"mesosHTTPSInsecure"`
	RefreshSeconds         int                 `json:"refreshSeconds"`
	StateTimeoutSeconds    int                 `json:"stateTimeoutSeconds"`
	TTL                    int                 `json:"ttl"`
	Domain                 string              `json:"domain"`
	Port                   int                 `json:"port"`
	Resolvers              []string            `json:"resolvers"`
	ZoneResolvers          map[string][]string `json:"zoneResolvers"`
	Timeout                int                 `json:"timeout"`
	HTTPOn                 bool                `json:"httpon"`
	DNSOn                  bool                `json:"dnson"`
	HTTPPort               int                 `json:"httpport"`
	HTTPListener           string              `json:"httpListener"`
	ExternalOn             bool                `json:"externalon"`
	Listener               string              `json:"listener"`
	SOAMname               string              `json:"SOAMname"`
	SOARname               string              `json:"SOARname"`
	SOASerial              uint32              `json:"SOASerial"`
	SOARefresh             uint32              `json:"SOARefresh"`
	SOARetry               uint32              `json:"SOARetry"`
	SOAExpire              uint32              `json:"SOAExpire"`
	SOAMinttl              uint32              `json:"SOAMinttl"`
	RecurseOn              bool                `json:"recurseon"`
	EnforceRFC952          bool                `json:"enforceRFC952"`
	IPSources              []string            `json:"IPSources"`
	EnumerationOn          bool                `json:"EnumerationOn"`
	SRVRecordDefaultWeight int                 `json:"srvRecordDefaultWeight"`
	// SetTruncateBit false leaves the TC bit clear on UDP answers cut to fit,
	// as mesos-dns did for clients that cannot retry over TCP (upstream master,
	// resolver.truncate). True, the default, sets it.
	SetTruncateBit bool `json:"SetTruncateBit"`
	// File is where mesos-dns recorded the config file it read (a key because
	// its Config struct had the field); it only showed in its log. Accepted
	// with a log line, no meaning here. Not a flag.
	File string `json:"File" flag:"-"`

	// discovery's own keys.

	// StateFile follows a Mesos state document on disk instead of a master.
	StateFile string `json:"stateFile"`
	// MesosFollow is how the leading master is followed: "stream" (the v1
	// operator API's SUBSCRIBE event stream, falling back to polling on masters
	// without it) or "poll" (mesos-dns's way: /master/state every refreshSeconds).
	MesosFollow string `json:"mesosFollow"`
	// MaxStateBytes bounds what one Mesos state (polled, or the stream's
	// SUBSCRIBED) decodes into, and each other stream event's bytes; a state
	// over it is a failed fetch (on the stream, the source polls instead).
	// The default, 64 MiB, holds over 100,000 tasks of the simulator.
	MaxStateBytes int `json:"maxStateBytes"`
	// DNSRateLimit turns on a per-client response rate limit over UDP (answers
	// per second per client address; 0 = off), so the server cannot be used to
	// amplify traffic towards a spoofed address. DNSRateLimitBurst is the bucket.
	DNSRateLimit      int `json:"dnsRateLimit"`
	DNSRateLimitBurst int `json:"dnsRateLimitBurst"`
	// DNSMaxUDPSize caps UDP answers: a client gets the buffer size it
	// advertises with EDNS, but never more than this (512 without EDNS).
	DNSMaxUDPSize int `json:"dnsMaxUDPSize"`
	// HealthAwareAnswers withdraws the A, AAAA and SRV records of tasks whose
	// Mesos health check reports them unhealthy. Off by default: mesos-dns
	// answers for every running task.
	HealthAwareAnswers bool `json:"healthAwareAnswers"`
	// ExternalFrom are the client networks (CIDR or address) whose queries
	// for names outside the domain are forwarded (with externalon); others
	// get REFUSED. The default is loopback and the private networks, so that
	// a listener on a public address is not an open resolver.
	ExternalFrom []string `json:"externalFrom"`
	// DNSTCPMaxConnsPerClient caps one client's DNS TCP connections (-1: no
	// cap).
	DNSTCPMaxConnsPerClient int `json:"dnsTCPMaxConnsPerClient"`
	// HTTPMaxConns caps the HTTP server's open connections (further clients
	// wait in the listen backlog); HTTPMaxConnsPerClient caps one client's
	// (past it, a new connection is closed at once). -1: no cap.
	HTTPMaxConns          int `json:"httpMaxConns"`
	HTTPMaxConnsPerClient int `json:"httpMaxConnsPerClient"`
	// HTTPIdleTimeoutSeconds closes a keep-alive HTTP connection idle that long.
	HTTPIdleTimeoutSeconds int `json:"httpIdleTimeoutSeconds"`
	// HTTPAllowedHosts are host names the HTTP server answers to besides IP
	// addresses, localhost, this host's name and names under the domain: any
	// other Host header is refused (DNS rebinding).
	HTTPAllowedHosts []string `json:"httpAllowedHosts"`
	// LogFormat is "text" (default) or "json".
	LogFormat string `json:"logFormat"`
	// LogLevel is "debug", "info" (default), "warn" or "error".
	LogLevel string `json:"logLevel"`
	// SnapshotQuietMillis is how long a burst of changes must be quiet before a
	// new snapshot is handed to DNS and the load balancer.
	SnapshotQuietMillis int `json:"snapshotQuietMillis"`
	// SnapshotMaxDelayMillis bounds how long a change can wait for quiet.
	SnapshotMaxDelayMillis int `json:"snapshotMaxDelayMillis"`
	// VIPsOn makes the load balancer listen on the VIPs of VIP_{n} port
	// labels and DNS answer their names once the listeners run (vips
	// package); false turns both off.
	VIPsOn bool `json:"vipsOn"`
	// VIPRange holds the named VIPs' addresses, each derived from its name.
	VIPRange string `json:"vipRange"`
}

// vipRange is VIPRange parsed (Validate checks it).
func (c *Config) vipRange() netip.Prefix {
	p, _ := netip.ParsePrefix(c.VIPRange)
	return p
}

// Credentials are mesos-dns's mesosCredentials.
type Credentials struct {
	Principal string `json:"principal"`
	Secret    string `json:"secret"`
}

// deprecatedKeys are keys old mesos-dns releases documented: accepted with a
// warning so that old config files keep starting.
var deprecatedKeys = map[string]string{
	"email": "SOARname", // mesos-dns before 0.1.2 called the SOA RNAME "email"
}

// DefaultConfig returns mesos-dns's defaults and ours. The record keys' defaults
// are the DNS server's (dnsserver.DefaultConfig), kept in one place.
func DefaultConfig() Config {
	d := dnsserver.DefaultConfig()
	return Config{
		ZkDetectionTimeout:      30,
		RefreshSeconds:          60,
		StateTimeoutSeconds:     300,
		TTL:                     int(d.TTL),
		Domain:                  d.Domain,
		Port:                    53,
		Resolvers:               []string{"8.8.8.8"},
		Timeout:                 5,
		HTTPOn:                  true,
		DNSOn:                   true,
		HTTPPort:                8123,
		HTTPListener:            "0.0.0.0",
		ExternalOn:              true,
		Listener:                d.Listener,
		SOAMname:                d.SOAMname,
		SOARname:                d.SOARname,
		SOARefresh:              d.SOARefresh,
		SOARetry:                d.SOARetry,
		SOAExpire:               d.SOAExpire,
		SOAMinttl:               d.SOAMinttl,
		RecurseOn:               true,
		IPSources:               d.IPSources,
		EnumerationOn:           true,
		SRVRecordDefaultWeight:  int(d.SRVRecordDefaultWeight),
		SetTruncateBit:          true,
		ExternalFrom:            slices.Clone(dnsserver.DefaultForwardFrom),
		DNSTCPMaxConnsPerClient: dnsserver.DefaultMaxTCPConnsPerClient,
		DNSMaxUDPSize:           dnsserver.DefaultMaxUDPSize,
		HTTPMaxConns:            defaultHTTPMaxConns,
		HTTPMaxConnsPerClient:   defaultHTTPMaxConnsPerClient,
		HTTPIdleTimeoutSeconds:  defaultHTTPIdleTimeoutSeconds,
		MesosFollow:             "stream",
		MaxStateBytes:           64 << 20,
		LogFormat:               "text",
		LogLevel:                "info",
		SnapshotQuietMillis:     0,
		SnapshotMaxDelayMillis:  200,
		VIPsOn:                  true,
		VIPRange:                vips.DefaultRange.String(),
	}
}

// configKeys maps every key, lowercased, to the field index of Config.
var configKeys = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		m[strings.ToLower(t.Field(i).Tag.Get("json"))] = i
	}
	return m
}()

// ConfigKeys returns the canonical spelling of every key, sorted.
func ConfigKeys() []string {
	t := reflect.TypeOf(Config{})
	keys := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		keys = append(keys, t.Field(i).Tag.Get("json"))
	}
	sort.Strings(keys)
	return keys
}

// configMessages are what reading a configuration has to say without failing:
// Warnings (an unknown or deprecated key, a setting that weakens something)
// are logged at WARN and shown on the status page; Notes (a mesos-dns key or
// flag accepted without a meaning here, a zero value given mesos-dns's
// meaning) are logged once at INFO.
type configMessages struct {
	Warnings []string
	Notes    []string
}

func (m *configMessages) warn(format string, args ...any) {
	m.Warnings = append(m.Warnings, fmt.Sprintf(format, args...))
}

func (m *configMessages) note(format string, args ...any) {
	m.Notes = append(m.Notes, fmt.Sprintf(format, args...))
}

// LoadConfigFile reads a config.json on top of the defaults. An unknown or
// deprecated key is a warning; a value of the wrong type is an error naming the
// key.
func LoadConfigFile(path string, cfg *Config) (configMessages, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return configMessages{}, fmt.Errorf("reading config file: %w", err)
	}
	msgs, err := decodeConfig(data, cfg)
	if err != nil {
		return msgs, fmt.Errorf("config file %s: %w", path, err)
	}
	return msgs, nil
}

func decodeConfig(data []byte, cfg *Config) (msgs configMessages, err error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return msgs, fmt.Errorf("not a JSON object: %w", err)
	}
	if raw == nil {
		return msgs, errors.New("not a JSON object: null")
	}
	if dec.More() {
		return msgs, errors.New("trailing data after the JSON object")
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic messages
	v := reflect.ValueOf(cfg).Elem()
	var errs []error
	for _, key := range keys {
		lower := strings.ToLower(key)
		if target, ok := deprecatedKeys[lower]; ok {
			msgs.warn("config key %q is deprecated, read as %q", key, target)
			lower = strings.ToLower(target)
		}
		i, ok := configKeys[lower]
		if !ok {
			msgs.Warnings = append(msgs.Warnings, unknownKeyWarning(key))
			continue
		}
		field := v.Field(i)
		fresh := reflect.New(field.Type())
		fd := json.NewDecoder(bytes.NewReader(raw[key]))
		fd.DisallowUnknownFields()
		if err := fd.Decode(fresh.Interface()); err != nil {
			errs = append(errs, fmt.Errorf("key %q: %s", key, describeJSONError(err, field.Type())))
			continue
		}
		// encoding/json leaves a field alone on null, except a list or an
		// object, which it empties: "resolvers": null meant [] to mesos-dns.
		isNull := bytes.Equal(bytes.TrimSpace(raw[key]), []byte("null"))
		if !isNull || field.Kind() == reflect.Slice || field.Kind() == reflect.Map {
			field.Set(fresh.Elem())
		}
		if lower == "file" {
			msgs.note("config key %q (mesos-dns's record of its own config file) is accepted and has no meaning here", key)
		}
	}
	return msgs, errors.Join(errs...)
}

// unknownKeyWarning names an unknown key and, when one is close, the key it is
// probably a typo of.
func unknownKeyWarning(key string) string {
	msg := fmt.Sprintf("unknown config key %q is ignored (as mesos-dns ignored it)", key)
	if best := closestKey(key); best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	return msg
}

// closestKey is the known key nearest to key by edit distance, or "" when none
// is close: at most a third of the key's length (at least 1, at most 3) edits,
// so that a short key like "ns" suggests nothing rather than "zk".
func closestKey(key string) string {
	limit := min(3, max(1, len(key)/3))
	best, bestDist := "", limit+1
	for _, k := range ConfigKeys() {
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func describeJSONError(err error, t reflect.Type) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("want %s, got a JSON %s", kindName(t), te.Value)
	}
	return err.Error()
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Uint32:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(kindName(t.Elem()), "a ") + "s"
	case reflect.Map:
		return "an object"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// hasMesosSource reports whether a Mesos view is configured.
func (c *Config) hasMesosSource() bool {
	return c.StateFile != "" || c.Zk != "" || len(c.Masters) > 0
}

// Validate checks every value and names the first bad key of each problem.
// Normalisation that mesos-dns does (lowercase domain, SOA names made absolute)
// is done by Normalize, after Validate.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("key %q: %s", key, fmt.Sprintf(format, args...)))
	}
	if !c.DNSOn && !c.HTTPOn {
		bad("dnson", "either dnson or httpon must be true")
	}
	seen := map[string]bool{}
	for _, m := range c.Masters {
		if _, _, err := splitHostPort(m); err != nil {
			bad("masters", "%q: %v", m, err)
		}
		if seen[m] {
			bad("masters", "%q is listed twice", m)
		}
		seen[m] = true
	}
	if c.Zk != "" {
		// The same parse the source does, so a URL it would refuse (no path,
		// no server) stops start-up here, naming the key.
		if _, err := mesos.ParseZKURL(c.Zk); err != nil {
			bad("zk", "%v", err)
		}
	}
	if c.ZkDetectionTimeout < 0 {
		bad("zkDetectionTimeout", "must not be negative, got %d", c.ZkDetectionTimeout)
	}
	switch c.MesosAuthentication {
	case "", "basic":
	case "iam":
		// Read now, so a missing or broken file stops start-up naming the key.
		if c.IAMConfigFile == "" {
			bad("IAMConfigFile", `mesosAuthentication "iam" needs the service account's credentials file`)
		} else if _, err := dcosauth.LoadCredentials(c.IAMConfigFile); err != nil {
			bad("IAMConfigFile", "%v", err)
		}
	default:
		bad("mesosAuthentication", `want "", "basic" or "iam", got %q`, c.MesosAuthentication)
	}
	if c.MesosAuthentication == "basic" && c.MesosCredentials.Principal == "" {
		bad("mesosCredentials", `mesosAuthentication "basic" needs a principal`)
	}
	if c.RefreshSeconds <= 0 {
		bad("refreshSeconds", "must be positive, got %d", c.RefreshSeconds)
	}
	if c.StateTimeoutSeconds <= 0 {
		bad("stateTimeoutSeconds", "must be positive, got %d", c.StateTimeoutSeconds)
	}
	if c.TTL < 0 || c.TTL > 1<<31-1 {
		bad("ttl", "must be between 0 and 2147483647, got %d", c.TTL)
	}
	if err := validDomain(c.Domain); err != nil {
		bad("domain", "%q: %v", c.Domain, err)
	}
	for _, p := range []struct {
		key  string
		port int
	}{{"port", c.Port}, {"httpport", c.HTTPPort}} {
		if p.port < 0 || p.port > 65535 {
			bad(p.key, "must be a port number (0-65535), got %d", p.port)
		}
	}
	if c.ExternalOn {
		for _, r := range c.Resolvers {
			if err := validResolver(r); err != nil {
				bad("resolvers", "%q: %v", r, err)
			}
		}
	}
	zones := make([]string, 0, len(c.ZoneResolvers))
	for z := range c.ZoneResolvers {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		if err := validDomain(strings.Trim(z, ".")); err != nil {
			bad("zoneResolvers", "zone %q: %v", z, err)
		}
		if len(c.ZoneResolvers[z]) == 0 {
			bad("zoneResolvers", "zone %q has no resolvers", z)
		}
		for _, r := range c.ZoneResolvers[z] {
			if err := validResolver(r); err != nil {
				bad("zoneResolvers", "zone %q: %q: %v", z, r, err)
			}
		}
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive, got %d", c.Timeout)
	}
	if _, err := netip.ParseAddr(c.Listener); err != nil {
		bad("listener", "%q is not an IP address", c.Listener)
	}
	if _, err := netip.ParseAddr(c.HTTPListener); err != nil {
		bad("httpListener", "%q is not an IP address", c.HTTPListener)
	}
	if len(c.IPSources) == 0 {
		bad("IPSources", "must list at least one source")
	}
	srcSeen := map[string]bool{}
	for _, s := range c.IPSources {
		switch s {
		case "host", "mesos", "docker", "netinfo":
		default:
			bad("IPSources", `%q is not one of "netinfo", "mesos", "docker", "host"`, s)
		}
		if srcSeen[s] {
			bad("IPSources", "%q is listed twice", s)
		}
		srcSeen[s] = true
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		bad("certFile", "certFile and keyFile go together")
	}
	if c.SRVRecordDefaultWeight < 0 || c.SRVRecordDefaultWeight > 65535 {
		bad("srvRecordDefaultWeight", "must be between 0 and 65535, got %d", c.SRVRecordDefaultWeight)
	}
	if c.MaxStateBytes < 1<<20 {
		bad("maxStateBytes", "must be at least 1048576 (1 MiB), got %d", c.MaxStateBytes)
	}
	if c.DNSRateLimit < 0 || c.DNSRateLimitBurst < 0 {
		bad("dnsRateLimit", "must not be negative")
	}
	if c.DNSMaxUDPSize < 512 || c.DNSMaxUDPSize > 65535 {
		bad("dnsMaxUDPSize", "must be between 512 and 65535, got %d", c.DNSMaxUDPSize)
	}
	if _, err := dnsserver.ParseClientNetworks(c.ExternalFrom); err != nil {
		bad("externalFrom", "%v", err)
	}
	for _, k := range []struct {
		key string
		n   int
	}{
		{"dnsTCPMaxConnsPerClient", c.DNSTCPMaxConnsPerClient},
		{"httpMaxConns", c.HTTPMaxConns},
		{"httpMaxConnsPerClient", c.HTTPMaxConnsPerClient},
	} {
		if k.n == 0 || k.n < -1 {
			bad(k.key, "want a positive number, or -1 for no cap, got %d", k.n)
		}
	}
	if c.HTTPIdleTimeoutSeconds <= 0 {
		bad("httpIdleTimeoutSeconds", "must be positive, got %d", c.HTTPIdleTimeoutSeconds)
	}
	for _, h := range c.HTTPAllowedHosts {
		if _, ok := dns.IsDomainName(h); !ok || strings.ContainsAny(h, ":/ ") {
			bad("httpAllowedHosts", "%q is not a host name", h)
		}
	}
	switch c.MesosFollow {
	case "stream", "poll":
	default:
		bad("mesosFollow", `want "stream" or "poll", got %q`, c.MesosFollow)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("logFormat", `want "text" or "json", got %q`, c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("logLevel", "%v", err)
	}
	if c.SnapshotQuietMillis < 0 {
		bad("snapshotQuietMillis", "must not be negative, got %d", c.SnapshotQuietMillis)
	}
	if c.SnapshotMaxDelayMillis < c.SnapshotQuietMillis {
		bad("snapshotMaxDelayMillis", "must be at least snapshotQuietMillis (%d), got %d", c.SnapshotQuietMillis, c.SnapshotMaxDelayMillis)
	}
	if p, err := netip.ParsePrefix(c.VIPRange); err != nil {
		bad("vipRange", "want a network in CIDR form, got %q", c.VIPRange)
	} else if err := vips.CheckRange(p); err != nil {
		bad("vipRange", "%v", err)
	}
	return errors.Join(errs...)
}

// Normalize applies mesos-dns's normalisation: the domain in lower case, SOA names
// absolute, "@" in SOARname read as ".".
func (c *Config) Normalize() {
	c.Domain = strings.ToLower(strings.Trim(c.Domain, "."))
	c.SOARname = strings.TrimRight(strings.ReplaceAll(c.SOARname, "@", "."), ".") + "."
	c.SOAMname = strings.TrimRight(c.SOAMname, ".") + "."
}

func splitHostPort(hp string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("want host:port: %w", err)
	}
	if host == "" {
		return "", 0, errors.New("empty host")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, port, nil
}

// validResolver accepts mesos-dns's resolver forms: an IP, or IP:port.
func validResolver(r string) error {
	if _, err := netip.ParseAddr(r); err == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(r)
	if err != nil {
		return errors.New("want an IP address or IP:port")
	}
	if ap.Port() == 0 {
		return errors.New("port 0")
	}
	return nil
}

func validDomain(d string) error {
	d = strings.Trim(d, ".")
	if d == "" {
		return errors.New("empty")
	}
	if len(d) > 253 {
		return errors.New("longer than 253 characters")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("label %q must be 1 to 63 characters", label)
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' && i > 0 && i < len(label)-1
			if !ok {
				return fmt.Errorf("label %q: only letters, digits and inner hyphens are allowed", label)
			}
		}
	}
	return nil
}

// resolvConfPath is where "resolvers": [] finds its nameservers (tests point it
// elsewhere).
var resolvConfPath = "/etc/resolv.conf"

// applyMesosDNSZeros gives the zero values that mesos-dns treated specially
// their mesos-dns meaning (upstream master: records.Config.initResolvers,
// resolver.New, the listeners' net.JoinHostPort). Zero values mesos-dns used as
// they are (ttl, port, httpport, SOA numbers, srvRecordDefaultWeight: 0;
// zkDetectionTimeout: 0 = no timeout) need nothing here; those it refused
// (refreshSeconds, stateTimeoutSeconds, IPSources, domain) Validate refuses.
func (c *Config) applyMesosDNSZeros(msgs *configMessages) error {
	if c.Timeout == 0 {
		c.Timeout = DefaultConfig().Timeout
	}
	if c.Listener == "" {
		c.Listener = "0.0.0.0"
	}
	if c.HTTPListener == "" {
		c.HTTPListener = "0.0.0.0"
	}
	if c.ExternalOn && len(c.Resolvers) == 0 {
		servers, err := localNameservers(resolvConfPath)
		if err != nil {
			return fmt.Errorf(`key "resolvers": empty, and the nameservers of %s: %w`, resolvConfPath, err)
		}
		c.Resolvers = servers
		if len(servers) == 0 {
			msgs.warn(`"resolvers" is empty and %s lists no nameserver that is not this host: names outside %q cannot be forwarded`, resolvConfPath, c.Domain)
		} else {
			msgs.note(`"resolvers" is empty: forwarding to the nameservers of %s, as mesos-dns did: %s`, resolvConfPath, strings.Join(servers, ", "))
		}
	}
	return nil
}

// localNameservers are the nameservers of a resolv.conf that are not an
// address of this host, as mesos-dns's GetLocalDNS chose them (a resolver on
// this host may be discovery itself).
func localNameservers(path string) ([]string, error) {
	conf, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	own := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				own[p.Addr().Unmap().String()] = true
			}
		}
	}
	var out []string
	for _, s := range conf.Servers {
		if a, err := netip.ParseAddr(s); err == nil && own[a.Unmap().String()] {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// mesosTLSWarning is the warning for HTTPS masters whose certificates are not
// verified, "" when they are (or there are none).
func (c *Config) mesosTLSWarning() string {
	if !c.MesosHTTPSOn || c.StateFile != "" || !c.hasMesosSource() {
		return ""
	}
	switch {
	case c.MesosHTTPSInsecure:
		return `"mesosHTTPSInsecure" is true: the Mesos masters' certificates are not verified`
	case c.CACertFile == "":
		return `"mesosHTTPSOn" without "caCertFile": the Mesos masters' certificates are not verified, as mesos-dns did not verify them; give caCertFile to verify`
	}
	return ""
}
