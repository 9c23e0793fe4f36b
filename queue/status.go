package queue

import (
	"context"
	"database/sql"
	"fmt"
)

// Statuses reports the queue state of every line that ever had events, by
// line id, in three queries whatever the number of lines (the console shows
// them all at once), each field as Status reports it. A line missing from
// the map has never had events: its state is all zeros.
func (o *Outbox) Statuses(ctx context.Context) (map[string]LineStatus, error) {
	now := ms(o.cfg.Now())
	out := map[string]LineStatus{}
	rows, err := o.db.SQL.QueryContext(ctx, `SELECT line_id, fail_count, first_failed_at, locked_until, last_error, last_ok_at FROM line_queue`)
	if err != nil {
		return nil, fmt.Errorf("queue: statuses: %w", err)
	}
	for rows.Next() {
		var (
			st            LineStatus
			first, lastOK sql.NullInt64
			locked        int64
			lastErr       sql.NullString
		)
		if err := rows.Scan(&st.LineID, &st.Failures, &first, &locked, &lastErr, &lastOK); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queue: statuses: %w", err)
		}
		if first.Valid {
			t := fromMS(first.Int64)
			st.FirstFailedAt = &t
		}
		if locked > now {
			t := fromMS(locked)
			st.LockedUntil = &t
		}
		if lastOK.Valid {
			t := fromMS(lastOK.Int64)
			st.LastOKAt = &t
		}
		st.LastError = lastErr.String
		out[st.LineID] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: statuses: %w", err)
	}
	// Waiting events are counted, as Status counts them; the oldest is the
	// one with the line's lowest seq. Both come from the (line_id, seq)
	// index.
	rows, err = o.db.SQL.QueryContext(ctx, `SELECT e.line_id, f.n, e.created_at FROM outbox_events e
		JOIN (SELECT line_id, COUNT(*) AS n, MIN(seq) AS seq FROM outbox_events GROUP BY line_id) f ON e.seq = f.seq`)
	if err != nil {
		return nil, fmt.Errorf("queue: statuses: %w", err)
	}
	for rows.Next() {
		var line string
		var n, created int64
		if err := rows.Scan(&line, &n, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queue: statuses: %w", err)
		}
		st := out[line]
		st.LineID, st.Pending = line, n
		t := fromMS(created)
		st.OldestAt = &t
		out[line] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: statuses: %w", err)
	}
	rows, err = o.db.SQL.QueryContext(ctx, "SELECT line_id, COUNT(*) FROM dead_letters GROUP BY line_id")
	if err != nil {
		return nil, fmt.Errorf("queue: statuses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		var n int64
		if err := rows.Scan(&line, &n); err != nil {
			return nil, fmt.Errorf("queue: statuses: %w", err)
		}
		st := out[line]
		st.LineID = line
		st.DeadLetters = n
		out[line] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: statuses: %w", err)
	}
	return out, nil
}
