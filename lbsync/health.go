package lbsync

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"time"
)

// ServerHealth is what HAProxy says of one server: its state (UP, DOWN,
// MAINT, DRAIN, "no check"…) and its last health check ("L4OK", "L7STS",
// "L4CON", …; empty without checks).
type ServerHealth struct {
	Status string
	Check  string
}

// healthTimeout bounds one ServerHealth query: the status page must not wait
// on a stuck HAProxy.
const healthTimeout = time.Second

// ServerHealth asks the serving HAProxy for every server's state, keyed
// "backend/server". The configured state is the model's; this is HAProxy's
// own view, health checks included.
func (s *Syncer) ServerHealth(ctx context.Context) (map[string]ServerHealth, error) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	// Servers only (type 4), every proxy: one CSV line per server.
	out, err := unixCommand(ctx, s.opts.StatsSocket, "show stat -1 4 -1")
	if err != nil {
		return nil, fmt.Errorf("show stat: %w", err)
	}
	return parseServerHealth(out)
}

// parseServerHealth reads "show stat" CSV by its header's column names, which
// later HAProxy versions extend.
func parseServerHealth(out string) (map[string]ServerHealth, error) {
	header, body, ok := strings.Cut(out, "\n")
	if !ok || !strings.HasPrefix(header, "# ") {
		return nil, fmt.Errorf("show stat: no header in %.80q", out)
	}
	col := map[string]int{}
	for i, name := range strings.Split(strings.TrimPrefix(header, "# "), ",") {
		col[name] = i
	}
	for _, need := range []string{"pxname", "svname", "status", "check_status"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("show stat: no %s column", need)
		}
	}
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("show stat: %w", err)
	}
	health := make(map[string]ServerHealth, len(rows))
	for _, row := range rows {
		if len(row) <= max(col["pxname"], col["svname"], col["status"], col["check_status"]) {
			continue
		}
		sv := row[col["svname"]]
		if sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		health[row[col["pxname"]]+"/"+sv] = ServerHealth{Status: row[col["status"]], Check: row[col["check_status"]]}
	}
	return health, nil
}
