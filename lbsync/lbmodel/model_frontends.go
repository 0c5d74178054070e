package lbmodel

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// finish assembles the shared frontends, the head and the map files.
func (b *builder) finish() error {
	m := b.model
	head := b.ts.Get("HAPROXY_HEAD")
	text, err := head.execute(nil, fmtScope{settings: b.settings})
	if err != nil {
		return fmt.Errorf("rendering HAPROXY_HEAD: %w", err)
	}
	m.Head = withUserGroup(string(text), b.cfg.HAProxyUser, b.cfg.HAProxyGroup)
	m.Userlists = string(b.userlists)

	// marathon_http_in and marathon_https_in are there from the start, as
	// marathon-lb writes them: the first vhost needs no new bind, and
	// whatever expects ports 80 and 443 finds them.
	var shared []Frontend
	renderHTTPS := b.bindHTTP
	if b.bindHTTP {
		fe, err := b.sharedFrontend("marathon_http_in", b.cfg.HTTPPort, "HTTP_FRONTEND_HEAD", nil, b.http)
		if err != nil {
			return err
		}
		shared = append(shared, fe)
	}
	shared = append(shared, b.appIDFrontend())
	if renderHTTPS {
		if b.cfg.GroupHTTPSByVHost {
			fes, bes, err := b.groupedHTTPS()
			if err != nil {
				return err
			}
			shared = append(shared, fes...)
			for i := range bes {
				b.backends = append(b.backends, &bes[i])
			}
		} else {
			vars := fmtVars{{"sslCerts", strVal(sslCertsOption(b.cfg.sslCerts()))}}
			fe, err := b.sharedFrontend("marathon_https_in", b.cfg.HTTPSPort, "HTTPS_FRONTEND_HEAD", vars, b.https)
			if err != nil {
				return err
			}
			shared = append(shared, fe)
		}
	}
	m.Frontends = make([]Frontend, 0, len(shared)+len(b.frontends))
	m.Frontends = append(m.Frontends, shared...)
	for _, f := range b.sortedFrontends() {
		m.Frontends = append(m.Frontends, *f)
	}
	m.Backends = make([]Backend, 0, len(b.backends))
	for _, be := range b.sortedBackends() {
		m.Backends = append(m.Backends, *be)
	}
	slices.SortStableFunc(m.Errors, func(x, y AppError) int {
		return cmp.Or(strings.Compare(x.AppID, y.AppID), cmp.Compare(x.Port, y.Port))
	})
	if b.cfg.HAProxyMap {
		dir := b.cfg.haproxyDir()
		m.Maps = []MapFile{
			{Path: filepath.Join(dir, "app2backend.map"), Content: b.appMap.lines},
			{Path: filepath.Join(dir, "domain2backend.map"), Content: b.domainMap.lines},
		}
	}
	return nil
}

// sharedFrontend renders a head and the weighted app lines, heaviest first
// (ties in app order).
func (b *builder) sharedFrontend(name string, port int, head string, vars fmtVars, entries []weighted) (Frontend, error) {
	fe := Frontend{Name: name, Port: port}
	t := b.ts.Get("HAPROXY_" + head)
	headText, err := t.execute(nil, fmtScope{vars, b.settings})
	if err != nil {
		return fe, fmt.Errorf("rendering %s: %w", t.Name, err)
	}
	var kept *keptFrontend
	if b.memo != nil {
		kept = b.memo.shared(name)
		if kept.port == port && string(headText) == kept.head && slices.Equal(entries, kept.entries) {
			return kept.fe, nil
		}
	}
	size := len(headText)
	for i := range entries {
		size += len(entries[i].text)
	}
	text := append(make([]byte, 0, size), headText...)
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(x, y weighted) int { return cmp.Or(cmp.Compare(y.weight, x.weight), cmp.Compare(x.seq, y.seq)) })
	var apps []string
	for _, e := range sorted {
		text = append(text, e.text...)
		apps = append(apps, e.appID)
	}
	fe.Text = string(text)
	fe.Apps = sortedUnique(apps)
	if kept != nil {
		*kept = keptFrontend{name: name, port: port, head: string(headText), entries: entries, fe: fe}
	}
	return fe, nil
}

// groupedHTTPS renders --group-https-by-vhost: a TCP frontend on the HTTPS
// port passing each SNI to a loopback backend, and one TLS frontend per vhost.
func (b *builder) groupedHTTPS() ([]Frontend, []Backend, error) {
	vhosts := make([]string, 0, len(b.grouped))
	for vh := range b.grouped {
		vhosts = append(vhosts, vh)
	}
	slices.Sort(vhosts)
	head := b.ts.Get("HAPROXY_HTTPS_GROUPED_FRONTEND_HEAD")
	text := []byte(head.Text)
	acl := b.ts.Get("HAPROXY_HTTPS_GROUPED_VHOST_FRONTEND_ACL")
	var err error
	var allApps []string
	for _, vh := range vhosts {
		text, err = acl.execute(text, fmtScope{fmtVars{{"backend", strVal(cleanName(vh))}, {"host", strVal(vh)}}, b.settings})
		if err != nil {
			return nil, nil, fmt.Errorf("rendering %s: %w", acl.Name, err)
		}
	}
	var fes []Frontend
	var bes []Backend
	beHead := b.ts.Get("HAPROXY_HTTPS_GROUPED_VHOST_BACKEND_HEAD")
	feHead := b.ts.Get("HAPROXY_HTTPS_GROUPED_VHOST_FRONTEND_HEAD")
	for _, vh := range vhosts {
		g := b.grouped[vh]
		name := cleanName(vh)
		bt, err := beHead.execute(nil, fmtScope{fmtVars{{"name", strVal(name)}}, b.settings})
		if err != nil {
			return nil, nil, fmt.Errorf("rendering %s: %w", beHead.Name, err)
		}
		certs := slices.Clone(g.certs)
		if len(certs) == 0 {
			certs = b.cfg.sslCerts()
		}
		slices.Sort(certs)
		opts := slices.Sorted(slices.Values(g.bindOpts))
		var bindOpts strings.Builder
		for i, o := range opts {
			if i > 0 {
				bindOpts.WriteByte(' ')
			}
			bindOpts.WriteString(" " + o)
		}
		ft, err := feHead.execute(nil, fmtScope{fmtVars{{"name", strVal(name)},
			{"sslCerts", strVal(sslCertsOption(certs))}, {"bindOpts", strVal(bindOpts.String())}}, b.settings})
		if err != nil {
			return nil, nil, fmt.Errorf("rendering %s: %w", feHead.Name, err)
		}
		entries := slices.Clone(g.entries)
		if b.cfg.HAProxyMap && len(b.domainMap.lines) > 0 && !slices.ContainsFunc(entries, func(e weighted) bool { return e.mapACL }) {
			// marathon-lb writes the map line once, into the first vhost's
			// frontend only, leaving the others' vhosts unrouted; every TLS
			// frontend of a mapped vhost needs it.
			t := b.ts.Get("HAPROXY_MAP_HTTPS_FRONTEND_ACL")
			line, err := t.execute(nil, fmtScope{fmtVars{{"hostname", strVal(vh)}}, b.settings})
			if err != nil {
				return nil, nil, fmt.Errorf("rendering %s: %w", t.Name, err)
			}
			entries = append(entries, weighted{weight: -1, seq: int(^uint(0) >> 1), text: string(line), mapACL: true})
		}
		slices.SortStableFunc(entries, func(x, y weighted) int { return cmp.Or(cmp.Compare(y.weight, x.weight), cmp.Compare(x.seq, y.seq)) })
		var apps []string
		for _, e := range entries {
			ft = append(ft, e.text...)
			apps = append(apps, e.appID)
		}
		apps = sortedUnique(apps)
		allApps = append(allApps, apps...)
		fes = append(fes, Frontend{Name: name, Text: string(ft), Apps: apps})
		bes = append(bes, Backend{Name: name, Mode: "tcp", Text: string(bt), Apps: apps})
	}
	main := Frontend{Name: "marathon_https_in", Port: b.cfg.HTTPSPort, Text: string(text), Apps: sortedUnique(allApps)}
	return append([]Frontend{main}, fes...), bes, nil
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	if !slices.IsSorted(out) {
		slices.Sort(out)
	}
	return slices.Compact(out)
}
