package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PollState is the durable state of one connection that receives by polling
// (table poll_state): whether it should be polled, where its update stream
// resumes, and which gateway process polls it now.
//
// The lease makes "exactly one poller per connection" hold across replicas
// sharing one database: a process polls a connection only while it holds an
// unexpired lease, renews it well before it runs out, and stops polling when
// a renewal fails. Another process takes the connection over only once the
// lease has expired.
type PollState struct {
	ConnectionID string
	Enabled      bool
	// Position is the connector's opaque resume point ("" at first).
	Position   string
	LeaseOwner string
	LeaseUntil time.Time
}

// EnablePolling marks a connection as one to poll, keeping its position.
func (o *Outbox) EnablePolling(ctx context.Context, connectionID string) error {
	now := ms(o.cfg.Now())
	_, err := o.db.SQL.ExecContext(ctx, o.db.Dialect.InsertIgnore()+" poll_state (connection_id, enabled, stream_pos, lease_until, updated_at) VALUES (?,1,'',0,?)", connectionID, now)
	if err == nil {
		_, err = o.db.SQL.ExecContext(ctx, "UPDATE poll_state SET enabled = 1, updated_at = ? WHERE connection_id = ?", now, connectionID)
	}
	if err != nil {
		return fmt.Errorf("queue: enable polling: %w", err)
	}
	return nil
}

// DisablePolling stops polling a connection (its poller sees the change at
// its next renewal) and clears the lease. The position is kept, so polling
// enabled again resumes where it stopped.
func (o *Outbox) DisablePolling(ctx context.Context, connectionID string) error {
	_, err := o.db.SQL.ExecContext(ctx, "UPDATE poll_state SET enabled = 0, lease_owner = NULL, lease_until = 0, updated_at = ? WHERE connection_id = ?",
		ms(o.cfg.Now()), connectionID)
	if err != nil {
		return fmt.Errorf("queue: disable polling: %w", err)
	}
	return nil
}

// PollStates lists the connections that are to be polled.
func (o *Outbox) PollStates(ctx context.Context) ([]PollState, error) {
	rows, err := o.db.SQL.QueryContext(ctx, "SELECT connection_id, enabled, stream_pos, lease_owner, lease_until FROM poll_state WHERE enabled = 1 ORDER BY connection_id")
	if err != nil {
		return nil, fmt.Errorf("queue: poll states: %w", err)
	}
	defer rows.Close()
	var out []PollState
	for rows.Next() {
		var s PollState
		var enabled int
		var owner sql.NullString
		var until int64
		if err := rows.Scan(&s.ConnectionID, &enabled, &s.Position, &owner, &until); err != nil {
			return nil, fmt.Errorf("queue: poll states: %w", err)
		}
		s.Enabled, s.LeaseOwner, s.LeaseUntil = enabled != 0, owner.String, fromMS(until)
		out = append(out, s)
	}
	return out, rows.Err()
}

// TakePollLease gives owner the connection's poll lease for d when polling
// is enabled and the lease is free, expired, or already owner's. It reports
// whether owner holds the lease now.
func (o *Outbox) TakePollLease(ctx context.Context, connectionID, owner string, d time.Duration) (bool, error) {
	now := o.cfg.Now()
	res, err := o.db.SQL.ExecContext(ctx, `UPDATE poll_state SET lease_owner = ?, lease_until = ?
		WHERE connection_id = ? AND enabled = 1 AND (lease_owner IS NULL OR lease_until <= ? OR lease_owner = ?)`,
		owner, ms(now.Add(d)), connectionID, ms(now), owner)
	if err != nil {
		return false, fmt.Errorf("queue: take poll lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	return o.holdsPollLease(ctx, connectionID, owner)
}

// RenewPollLease extends owner's lease by d from now. It reports false when
// owner no longer holds it (taken over, or polling disabled): the poller
// must stop.
func (o *Outbox) RenewPollLease(ctx context.Context, connectionID, owner string, d time.Duration) (bool, error) {
	res, err := o.db.SQL.ExecContext(ctx, "UPDATE poll_state SET lease_until = ? WHERE connection_id = ? AND enabled = 1 AND lease_owner = ?",
		ms(o.cfg.Now().Add(d)), connectionID, owner)
	if err != nil {
		return false, fmt.Errorf("queue: renew poll lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	return o.holdsPollLease(ctx, connectionID, owner)
}

// ReleasePollLease gives up owner's lease so another process can take the
// connection at once (shutdown).
func (o *Outbox) ReleasePollLease(ctx context.Context, connectionID, owner string) error {
	_, err := o.db.SQL.ExecContext(ctx, "UPDATE poll_state SET lease_owner = NULL, lease_until = 0 WHERE connection_id = ? AND lease_owner = ?", connectionID, owner)
	if err != nil {
		return fmt.Errorf("queue: release poll lease: %w", err)
	}
	return nil
}

// PollPosition returns a connection's stored position ("" when none).
func (o *Outbox) PollPosition(ctx context.Context, connectionID string) (string, error) {
	var pos string
	err := o.db.SQL.QueryRowContext(ctx, "SELECT stream_pos FROM poll_state WHERE connection_id = ?", connectionID).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("queue: poll position: %w", err)
	}
	return pos, nil
}

// SavePollPosition stores a connection's position if owner still holds its
// lease; otherwise it returns ErrLeaseLost and stores nothing.
func (o *Outbox) SavePollPosition(ctx context.Context, connectionID, owner, pos string) error {
	if len(pos) > 255 {
		return fmt.Errorf("queue: save poll position: position is %d bytes, at most 255 fit", len(pos))
	}
	res, err := o.db.SQL.ExecContext(ctx, "UPDATE poll_state SET stream_pos = ?, updated_at = ? WHERE connection_id = ? AND enabled = 1 AND lease_owner = ?",
		pos, ms(o.cfg.Now()), connectionID, owner)
	if err != nil {
		return fmt.Errorf("queue: save poll position: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	held, err := o.holdsPollLease(ctx, connectionID, owner)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("queue: save poll position of %s: %w", connectionID, ErrLeaseLost)
	}
	return nil
}

// holdsPollLease tells whether owner holds the lease of an enabled
// connection. MySQL counts changed rows, not matched ones, so an update that
// wrote the values already there reports 0: this settles it.
func (o *Outbox) holdsPollLease(ctx context.Context, connectionID, owner string) (bool, error) {
	var n int
	err := o.db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM poll_state WHERE connection_id = ? AND enabled = 1 AND lease_owner = ?", connectionID, owner).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("queue: check poll lease: %w", err)
	}
	return n == 1, nil
}

// DisablePollingTx is DisablePolling inside the caller's transaction.
func (o *Outbox) DisablePollingTx(ctx context.Context, tx *sql.Tx, connectionID string) error {
	_, err := tx.ExecContext(ctx, "UPDATE poll_state SET enabled = 0, lease_owner = NULL, lease_until = 0, updated_at = ? WHERE connection_id = ?",
		ms(o.cfg.Now()), connectionID)
	if err != nil {
		return fmt.Errorf("queue: disable polling: %w", err)
	}
	return nil
}
