package lbsync

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/discovery-mesos/discovery/lbsync/lbmodel"
)

// HAProxy forgets at a reload what was set at runtime: a server an operator
// put in maintenance through the stats socket would come back in service.
// With "server-state-file" in the global section and
// "load-server-state-from-file global" in defaults (our HAPROXY_HEAD, and
// marathon-lb's), the new worker takes the states the file holds; the syncer
// writes it from "show servers state" just before every reload. Like the
// config beside it, it is readable by all (HAProxy may read it as another
// user); it holds names, addresses and states, no secret.

// serverStatePath returns the server-state file the global section of head
// names (with server-state-base applied as HAProxy applies it), "" when none.
func serverStatePath(head string) string {
	var file, base string
	section := ""
	for line := range strings.Lines(head) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			section = f[0]
			continue
		}
		if section != "global" || len(f) < 2 {
			continue
		}
		switch f[0] {
		case "server-state-file":
			file = f[1]
		case "server-state-base":
			base = f[1]
		}
	}
	if file == "" {
		return ""
	}
	if !filepath.IsAbs(file) && base != "" {
		return filepath.Join(base, file)
	}
	return file
}

// resetServerState writes an empty server-state file for a config's first
// start (the states of an earlier run may name servers put in maintenance
// for draining, which the config no longer drains), and for haproxy -c,
// which warns about a missing one.
func resetServerState(head string) error {
	path := serverStatePath(head)
	if path == "" {
		return nil
	}
	if err := writeAtomic(path, []byte(lbmodel.EmptyServerState), 0o644); err != nil {
		return fmt.Errorf("writing empty server state: %w", err)
	}
	return nil
}

// ensureServerState writes an empty server-state file when there is none.
func ensureServerState(head string) error {
	path := serverStatePath(head)
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return resetServerState(head)
}

// saveServerState writes what the running worker says of its servers to the
// file the next config loads. Maintenance the syncer set itself (a draining
// server of running) is left out, so the next config alone decides those: a
// server that no longer drains must not stay in maintenance.
func (a *applier) saveServerState(ctx context.Context, running, next *lbmodel.Model) error {
	path := serverStatePath(next.Head)
	if path == "" {
		return nil
	}
	out, err := unixCommand(ctx, a.rt.socket, "show servers state")
	if err != nil {
		return fmt.Errorf("show servers state: %w", err)
	}
	data, err := serverStateWithout(out, drainingServers(running))
	if err != nil {
		return err
	}
	if err := writeAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("writing server state: %w", err)
	}
	return nil
}

// drainingServers are the servers of m the syncer keeps in maintenance.
func drainingServers(m *lbmodel.Model) map[serverKey]bool {
	out := map[serverKey]bool{}
	if m == nil {
		return out
	}
	for _, b := range m.Backends {
		for _, s := range b.Servers {
			if s.Draining {
				out[serverKey{b.Name, s.Name}] = true
			}
		}
	}
	return out
}

// srvAdmForcedMaint is the srv_admin_state bit of maintenance set from the
// CLI (SRV_ADMF_FMAINT).
const srvAdmForcedMaint = 0x01

// serverStateWithout returns a "show servers state" answer as a state file,
// with the CLI maintenance bit cleared on the servers in ours.
func serverStateWithout(out string, ours map[serverKey]bool) ([]byte, error) {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			if strings.TrimSpace(line) != "1" {
				return nil, fmt.Errorf("show servers state: unknown format version %q", truncate(line, 40))
			}
			first = false
		}
		f := strings.Fields(line)
		// be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state …
		if len(f) > 6 && !strings.HasPrefix(f[0], "#") && ours[serverKey{f[1], f[3]}] {
			if st, err := strconv.Atoi(f[6]); err == nil && st&srvAdmForcedMaint != 0 {
				f[6] = strconv.Itoa(st &^ srvAdmForcedMaint)
				line = strings.Join(f, " ")
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("show servers state: %w", err)
	}
	if first {
		return []byte(lbmodel.EmptyServerState), nil
	}
	return []byte(b.String()), nil
}
