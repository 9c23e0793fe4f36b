package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
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

// Polls is the store of poll states: which connections are polled, their
// leases and positions. Its methods are safe for concurrent use, also from
// several processes sharing one MySQL.
type Polls struct {
	db  *sqldb.DB
	now func() time.Time
}

// NewPolls returns the poll states of db; now is the clock (nil:
// time.Now).
func NewPolls(db *sqldb.DB, now func() time.Time) *Polls {
	if now == nil {
		now = time.Now
	}
	return &Polls{db: db, now: now}
}

// Enable marks a connection as one to poll, keeping its position.
func (p *Polls) Enable(ctx context.Context, connectionID string) error {
	now := ms(p.now())
	_, err := p.db.SQL.ExecContext(ctx, p.db.Dialect.InsertIgnore()+" poll_state (connection_id, enabled, stream_pos, lease_until, updated_at) VALUES (?,1,'',0,?)", connectionID, now)
	if err == nil {
		_, err = p.db.SQL.ExecContext(ctx, "UPDATE poll_state SET enabled = 1, updated_at = ? WHERE connection_id = ?", now, connectionID)
	}
	if err != nil {
		return fmt.Errorf("queue: enable polling: %w", err)
	}
	return nil
}

// Disable stops polling a connection (its poller sees the change at
// its next renewal) and clears the lease. The position is kept, so polling
// enabled again resumes where it stopped.
func (p *Polls) Disable(ctx context.Context, connectionID string) error {
	_, err := p.db.SQL.ExecContext(ctx, "UPDATE poll_state SET enabled = 0, lease_owner = NULL, lease_until = 0, updated_at = ? WHERE connection_id = ?",
		ms(p.now()), connectionID)
	if err != nil {
		return fmt.Errorf("queue: disable polling: %w", err)
	}
	return nil
}

// States lists the connections that are to be polled.
func (p *Polls) States(ctx context.Context) ([]PollState, error) {
	rows, err := p.db.SQL.QueryContext(ctx, "SELECT connection_id, enabled, stream_pos, lease_owner, lease_until FROM poll_state WHERE enabled = 1 ORDER BY connection_id")
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

// TakeLease gives owner the connection's poll lease for d when polling
// is enabled and the lease is free, expired, or already owner's. It reports
// whether owner holds the lease now.
func (p *Polls) TakeLease(ctx context.Context, connectionID, owner string, d time.Duration) (bool, error) {
	now := p.now()
	res, err := p.db.SQL.ExecContext(ctx, `UPDATE poll_state SET lease_owner = ?, lease_until = ?
		WHERE connection_id = ? AND enabled = 1 AND (lease_owner IS NULL OR lease_until <= ? OR lease_owner = ?)`,
		owner, ms(now.Add(d)), connectionID, ms(now), owner)
	if err != nil {
		return false, fmt.Errorf("queue: take poll lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	return p.holdsLease(ctx, connectionID, owner)
}

// RenewLease extends owner's lease by d from now. It reports false when
// owner no longer holds it (taken over, or polling disabled): the poller
// must stop.
func (p *Polls) RenewLease(ctx context.Context, connectionID, owner string, d time.Duration) (bool, error) {
	res, err := p.db.SQL.ExecContext(ctx, "UPDATE poll_state SET lease_until = ? WHERE connection_id = ? AND enabled = 1 AND lease_owner = ?",
		ms(p.now().Add(d)), connectionID, owner)
	if err != nil {
		return false, fmt.Errorf("queue: renew poll lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	return p.holdsLease(ctx, connectionID, owner)
}

// HeldByOther reports whether a process other than owner holds the
// connection's poll lease now (unexpired, polling enabled).
func (p *Polls) HeldByOther(ctx context.Context, connectionID, owner string) (bool, error) {
	var n int
	err := p.db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM poll_state WHERE connection_id = ? AND enabled = 1 AND lease_owner IS NOT NULL AND lease_owner <> ? AND lease_until > ?",
		connectionID, owner, ms(p.now())).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("queue: check poll lease: %w", err)
	}
	return n == 1, nil
}

// ReleaseLease gives up owner's lease so another process can take the
// connection at once (shutdown).
func (p *Polls) ReleaseLease(ctx context.Context, connectionID, owner string) error {
	_, err := p.db.SQL.ExecContext(ctx, "UPDATE poll_state SET lease_owner = NULL, lease_until = 0 WHERE connection_id = ? AND lease_owner = ?", connectionID, owner)
	if err != nil {
		return fmt.Errorf("queue: release poll lease: %w", err)
	}
	return nil
}

// Position returns a connection's stored position ("" when none).
func (p *Polls) Position(ctx context.Context, connectionID string) (string, error) {
	var pos string
	err := p.db.SQL.QueryRowContext(ctx, "SELECT stream_pos FROM poll_state WHERE connection_id = ?", connectionID).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("queue: poll position: %w", err)
	}
	return pos, nil
}

// SavePosition stores a connection's position if owner still holds its
// lease; otherwise it returns ErrLeaseLost and stores nothing.
func (p *Polls) SavePosition(ctx context.Context, connectionID, owner, pos string) error {
	if len(pos) > 255 {
		return fmt.Errorf("queue: save poll position: position is %d bytes, at most 255 fit", len(pos))
	}
	res, err := p.db.SQL.ExecContext(ctx, "UPDATE poll_state SET stream_pos = ?, updated_at = ? WHERE connection_id = ? AND enabled = 1 AND lease_owner = ?",
		pos, ms(p.now()), connectionID, owner)
	if err != nil {
		return fmt.Errorf("queue: save poll position: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	held, err := p.holdsLease(ctx, connectionID, owner)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("queue: save poll position of %s: %w", connectionID, ErrLeaseLost)
	}
	return nil
}

// holdsLease tells whether owner holds the lease of an enabled
// connection. MySQL counts changed rows, not matched ones, so an update that
// wrote the values already there reports 0: this settles it.
func (p *Polls) holdsLease(ctx context.Context, connectionID, owner string) (bool, error) {
	var n int
	err := p.db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM poll_state WHERE connection_id = ? AND enabled = 1 AND lease_owner = ?", connectionID, owner).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("queue: check poll lease: %w", err)
	}
	return n == 1, nil
}

// DisableTx is Disable inside the caller's transaction.
func (p *Polls) DisableTx(ctx context.Context, tx *sql.Tx, connectionID string) error {
	_, err := tx.ExecContext(ctx, "UPDATE poll_state SET enabled = 0, lease_owner = NULL, lease_until = 0, updated_at = ? WHERE connection_id = ?",
		ms(p.now()), connectionID)
	if err != nil {
		return fmt.Errorf("queue: disable polling: %w", err)
	}
	return nil
}
