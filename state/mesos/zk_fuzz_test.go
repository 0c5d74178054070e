package mesos

import (
	"strings"
	"testing"
)

// FuzzMasterFromInfo feeds arbitrary ZooKeeper node data to the MasterInfo
// parser: whatever a broken or hostile master writes there must be an error,
// never a panic or a master without an address.
func FuzzMasterFromInfo(f *testing.F) {
	f.Add([]byte(`{"address":{"hostname":"m1","ip":"10.0.0.1","port":5050},"hostname":"m1","id":"id1","ip":16777226,"pid":"master@10.0.0.1:5050","port":5050,"version":"1.11.0"}`))
	f.Add([]byte(`{"id":"id2","pid":"master@[fd00::1]:5051"}`))
	f.Add([]byte(`{"id":"id3","ip":16777343,"port":5050}`))
	f.Add([]byte(`{"address":{"ip":"","port":-1}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := masterFromInfo(data)
		if err != nil {
			return
		}
		if m.Host == "" || m.Port < 1 || m.Port > 65535 || masterAddr(m) == "" {
			t.Fatalf("accepted %q as %+v", data, m)
		}
	})
}

// FuzzParseZKURL checks the zk URL parser on arbitrary input: no panic, and
// what it accepts has servers with ports, an absolute clean path, and a String
// without the password.
func FuzzParseZKURL(f *testing.F) {
	for _, s := range []string{
		"zk://127.0.0.1:2181/mesos",
		"zk://h1:2181,h2,h3:2183/mesos/",
		"zk://user:p%40ss@[::1]:2181/a/b",
		"zk://@h/x",
		"zk://h1:2181,,/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseZKURL(raw)
		if err != nil {
			return
		}
		if len(u.Servers) == 0 || !strings.HasPrefix(u.Path, "/") || u.Path == "/" {
			t.Fatalf("%q parsed to %+v", raw, u)
		}
		for _, s := range u.Servers {
			if _, err := ParseMasterAddr(s); err != nil {
				t.Fatalf("%q: server %q: %v", raw, s, err)
			}
		}
		if len(u.Password) >= 4 && !strings.Contains(u.User, u.Password) &&
			!strings.Contains(strings.Join(u.Servers, ",")+u.Path, u.Password) &&
			strings.Contains(u.String(), u.Password) {
			t.Fatalf("String() %q shows the password", u.String())
		}
	})
}
