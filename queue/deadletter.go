package queue

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DeadLetter is an event that expired undelivered. It is kept until replayed
// or purged by an operator; the gateway never drops it by itself.
type DeadLetter struct {
	ID        int64     `json:"id"`
	EventID   string    `json:"event_id"`
	LineID    string    `json:"line_id"`
	PortalID  string    `json:"portal_id"`
	Payload   []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	DiedAt    time.Time `json:"died_at"`
	Reason    string    `json:"reason"`
}

// expireLine moves every event of a line into dead letters, in the caller's
// transaction, and returns how many moved.
func (o *Outbox) expireLine(ctx context.Context, tx *sql.Tx, lineID string, now time.Time, reason string) (int64, error) {
	_, err := tx.ExecContext(ctx, `INSERT INTO dead_letters (orig_seq, line_id, portal_id, event_id, payload, created_at, died_at, reason)
		SELECT seq, line_id, portal_id, event_id, payload, created_at, ?, ? FROM outbox_events WHERE line_id = ? ORDER BY seq`,
		ms(now), "expired after "+o.cfg.Window.String()+" of failed delivery; last error: "+truncate(reason, 1000), lineID)
	if err != nil {
		return 0, fmt.Errorf("copy to dead letters: %w", err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM outbox_events WHERE line_id = ?", lineID)
	if err != nil {
		return 0, fmt.Errorf("delete expired: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// DeadLetters lists a line's dead letters in their original order, after the
// dead-letter id afterID (0 for the start), at most limit.
func (o *Outbox) DeadLetters(ctx context.Context, lineID string, afterID int64, limit int) ([]DeadLetter, error) {
	rows, err := o.db.SQL.QueryContext(ctx, `SELECT id, event_id, line_id, portal_id, payload, created_at, died_at, reason
		FROM dead_letters WHERE line_id = ? AND id > ? ORDER BY orig_seq, id LIMIT ?`, lineID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("queue: dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var created, died int64
		if err := rows.Scan(&d.ID, &d.EventID, &d.LineID, &d.PortalID, &d.Payload, &created, &died, &d.Reason); err != nil {
			return nil, fmt.Errorf("queue: dead letters: %w", err)
		}
		d.CreatedAt, d.DiedAt = fromMS(created), fromMS(died)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Replay moves a line's dead letters (all of them when ids is empty) back
// into the outbox in their original order, clears the line's lock-out so
// they are tried at once, and returns how many moved. Events keep their ids.
func (o *Outbox) Replay(ctx context.Context, lineID string, ids []int64) (int64, error) {
	var (
		moved int64
		lines []LineRef
	)
	err := o.db.InTx(ctx, func(tx *sql.Tx) error {
		moved = 0
		filter, args := "", []any{lineID}
		if len(ids) > 0 {
			filter = " AND id IN (" + placeholders(len(ids)) + ")"
			for _, id := range ids {
				args = append(args, id)
			}
		}
		rows, err := tx.QueryContext(ctx, "SELECT id, portal_id, event_id, payload FROM dead_letters WHERE line_id = ?"+filter+" ORDER BY orig_seq, id"+o.db.Dialect.ForUpdate(), args...)
		if err != nil {
			return fmt.Errorf("read dead letters: %w", err)
		}
		var evs []NewEvent
		var got []any
		for rows.Next() {
			var id int64
			var ev NewEvent
			if err := rows.Scan(&id, &ev.PortalID, &ev.EventID, &ev.Payload); err != nil {
				rows.Close()
				return err
			}
			ev.LineID = lineID
			evs = append(evs, ev)
			got = append(got, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		if lines, err = (committer{o}).insertEvents(ctx, tx, evs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM dead_letters WHERE id IN ("+placeholders(len(got))+")", got...); err != nil {
			return fmt.Errorf("delete dead letters: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE line_queue SET fail_count = 0, first_failed_at = NULL, locked_until = 0 WHERE line_id = ?", lineID); err != nil {
			return err
		}
		moved = int64(len(evs))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue: replay: %w", err)
	}
	if moved > 0 {
		o.Notify(lines)
	}
	return moved, nil
}

// LineStatus is a line's queue state, for the status API and console.
type LineStatus struct {
	LineID        string     `json:"line_id"`
	Pending       int64      `json:"pending"`
	OldestAt      *time.Time `json:"oldest_event_at,omitempty"`
	Failures      int        `json:"failures"`
	FirstFailedAt *time.Time `json:"first_failed_at,omitempty"`
	LockedUntil   *time.Time `json:"locked_until,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastOKAt      *time.Time `json:"last_ok_at,omitempty"`
	DeadLetters   int64      `json:"dead_letters"`
}

// Status reports a line's queue state. A line that never had events reports
// zeros.
func (o *Outbox) Status(ctx context.Context, lineID string) (LineStatus, error) {
	st := LineStatus{LineID: lineID}
	var (
		first, lastOK sql.NullInt64
		locked        int64
		lastErr       sql.NullString
	)
	err := o.db.SQL.QueryRowContext(ctx, `SELECT fail_count, first_failed_at, locked_until, last_error, last_ok_at
		FROM line_queue WHERE line_id = ?`, lineID).Scan(&st.Failures, &first, &locked, &lastErr, &lastOK)
	if err != nil && err != sql.ErrNoRows {
		return st, fmt.Errorf("queue: status: %w", err)
	}
	if first.Valid {
		t := fromMS(first.Int64)
		st.FirstFailedAt = &t
	}
	if locked > ms(o.cfg.Now()) {
		t := fromMS(locked)
		st.LockedUntil = &t
	}
	if lastOK.Valid {
		t := fromMS(lastOK.Int64)
		st.LastOKAt = &t
	}
	st.LastError = lastErr.String
	var oldest sql.NullInt64
	if err := o.db.SQL.QueryRowContext(ctx, "SELECT created_at FROM "+o.lineEvents()+" WHERE line_id = ? ORDER BY seq LIMIT 1", lineID).Scan(&oldest); err != nil && err != sql.ErrNoRows {
		return st, fmt.Errorf("queue: status: %w", err)
	}
	if oldest.Valid {
		t := fromMS(oldest.Int64)
		st.OldestAt = &t
	}
	if err := o.db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_events WHERE line_id = ?", lineID).Scan(&st.Pending); err != nil {
		return st, fmt.Errorf("queue: status: %w", err)
	}
	if err := o.db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM dead_letters WHERE line_id = ?", lineID).Scan(&st.DeadLetters); err != nil {
		return st, fmt.Errorf("queue: status: %w", err)
	}
	return st, nil
}
