package queue

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// PurgeDeadLetters deletes dead letters of a line for good: the ids given,
// or, when ids is empty, all of the line's. Ids that are not dead letters
// of this line are ignored (so an id of another line's, or another
// portal's, is never touched). The purge and its audit entry (action
// "deadletters.purge", target the line, with the ids purged in the detail)
// are committed together. It returns how many were deleted.
func (o *Outbox) PurgeDeadLetters(ctx context.Context, lineID string, ids []int64, audit AuditEntry) (int64, error) {
	var purged []int64
	err := o.db.InTx(ctx, func(tx *sql.Tx) error {
		purged = purged[:0]
		filter, args := "", []any{lineID}
		if len(ids) > 0 {
			filter = " AND id IN (" + placeholders(len(ids)) + ")"
			for _, id := range ids {
				args = append(args, id)
			}
		}
		rows, err := tx.QueryContext(ctx, "SELECT id FROM dead_letters WHERE line_id = ?"+filter+" ORDER BY id"+o.db.Dialect.ForUpdate(), args...)
		if err != nil {
			return fmt.Errorf("read dead letters: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			purged = append(purged, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for start := 0; start < len(purged); start += 1000 {
			chunk := purged[start:min(start+1000, len(purged))]
			del := make([]any, len(chunk))
			for i, id := range chunk {
				del[i] = id
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM dead_letters WHERE id IN ("+placeholders(len(del))+")", del...); err != nil {
				return fmt.Errorf("delete dead letters: %w", err)
			}
		}
		audit.Action, audit.Target = "deadletters.purge", lineID
		audit.Detail = purgeDetail(ids, purged)
		return writeAudit(ctx, tx, o.cfg.Now(), audit)
	})
	if err != nil {
		return 0, fmt.Errorf("queue: purge dead letters: %w", err)
	}
	return int64(len(purged)), nil
}

// purgeDetail says what was asked and what went, for the audit trail.
func purgeDetail(asked, purged []int64) string {
	var b strings.Builder
	if len(asked) == 0 {
		b.WriteString("all; ")
	}
	fmt.Fprintf(&b, "purged %d", len(purged))
	if len(purged) > 0 {
		b.WriteString(": ")
		for i, id := range purged {
			if i > 0 {
				b.WriteByte(',')
			}
			if b.Len() > 3900 {
				b.WriteString("…")
				break
			}
			b.WriteString(strconv.FormatInt(id, 10))
		}
	}
	return b.String()
}
