package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// activityEvery is how stale a connection's recorded activity may get before
// a new webhook writes it again. It keeps the write off most webhooks.
const activityEvery = time.Minute

// NoteReceived records that c just received something from its messenger.
// It writes at most once per activityEvery per connection and process, and
// always on the first message after the connection changed (activation bumps
// UpdatedAt), so "did the first message arrive?" can be answered exactly.
// Safe for concurrent use.
func (r *Records) NoteReceived(ctx context.Context, c Connection) error {
	now := r.now().UTC()
	if v, ok := r.noted.Load(c.ID); ok {
		last := v.(time.Time)
		if last.After(c.UpdatedAt) && now.Sub(last) < activityEvery {
			return nil
		}
	}
	at := now.UnixMilli()
	res, err := r.db.SQL.ExecContext(ctx, "UPDATE connection_activity SET last_event_at = ? WHERE connection_id = ? AND last_event_at < ?", at, c.ID, at)
	if err != nil {
		return fmt.Errorf("portal: note received: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// No row yet, or another process wrote a later time: insert, and
		// let an existing row stand.
		if _, err := r.db.SQL.ExecContext(ctx, r.db.Dialect.InsertIgnore()+" connection_activity (connection_id, last_event_at) VALUES (?,?)", c.ID, at); err != nil {
			return fmt.Errorf("portal: note received: %w", err)
		}
	}
	r.noted.Store(c.ID, now)
	return nil
}

// LastReceived returns when a connection last received something from its
// messenger, as recorded by NoteReceived (zero when never). The time is
// exact for the first message after a change and at most about a minute
// old otherwise.
func (r *Records) LastReceived(ctx context.Context, connectionID string) (time.Time, error) {
	var at int64
	err := r.db.SQL.QueryRowContext(ctx, "SELECT last_event_at FROM connection_activity WHERE connection_id = ?", connectionID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("portal: last received: %w", err)
	}
	return time.UnixMilli(at).UTC(), nil
}

// AllLastReceived returns the recorded activity of every connection that has
// any, by connection id.
func (r *Records) AllLastReceived(ctx context.Context) (map[string]time.Time, error) {
	rows, err := r.db.SQL.QueryContext(ctx, "SELECT connection_id, last_event_at FROM connection_activity")
	if err != nil {
		return nil, fmt.Errorf("portal: activity: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("portal: activity: %w", err)
		}
		out[id] = time.UnixMilli(at).UTC()
	}
	return out, rows.Err()
}
