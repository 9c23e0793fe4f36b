package queue

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AuditEntry is one line of the audit trail (the audit_log table the
// console shows). The console writes its own entries; changes made through
// the portal API or the command line are written with the storage change
// that they record, through this type, so no caller needs the console. The
// detail must never hold a secret.
type AuditEntry struct {
	// Actor is who acted: an admin's name, "portal:<id>", "cli:<os user>".
	Actor      string
	Action     string
	Target     string
	Detail     string
	RemoteAddr string
}

// writeAudit records e in the caller's transaction, so the entry exists
// exactly when the change it describes was committed.
func writeAudit(ctx context.Context, tx *sql.Tx, at time.Time, e AuditEntry) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO audit_log (created_at, actor, action, target, detail, remote_addr) VALUES (?,?,?,?,?,?)",
		ms(at), truncate(e.Actor, 100), truncate(e.Action, 64), nullString(truncate(e.Target, 64)),
		nullString(truncate(e.Detail, 4000)), nullString(truncate(e.RemoteAddr, 64)))
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
