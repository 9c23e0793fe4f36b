package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// Outbound request states.
const (
	OutboundPending = "pending"
	OutboundDone    = "done"
	OutboundFailed  = "failed"
)

// OutboundRequest is a portal's request to act on a messenger chat (send,
// edit, delete). Requests of one chat are carried out one at a time,
// in the order they were accepted.
type OutboundRequest struct {
	ID           string
	PortalID     string
	LineID       string
	ConnectionID string
	ChatID       string
	Op           string
	// Payload is the operation's JSON (connectors.Outbound, Edit, Delete...).
	Payload []byte
	// IdemKey, when set, makes a repeat of the same portal request return
	// the first one's id instead of acting twice.
	IdemKey   string
	State     string
	Attempts  int
	LastError string
	Result    string
	CreatedAt time.Time
	seq       int64
	owner     string
}

// ErrNotFound is returned for an id that does not exist (for this portal).
var ErrNotFound = errors.New("queue: not found")

func chatKey(connectionID, chatID string) string { return connectionID + "\x00" + chatID }

// Outbound is the store of portals' requests bound for messengers (table
// outbound_requests). A request's final outcome is written together with
// the status event that tells its portal, through the outbox it was built
// on. Its methods are safe for concurrent use, also from several processes
// sharing one MySQL.
type Outbound struct {
	db     *sqldb.DB
	now    func() time.Time
	outbox *Outbox
}

// NewOutbound returns the outbound requests of the outbox's database, with
// its clock; status events go into that outbox.
func NewOutbound(o *Outbox) *Outbound {
	return &Outbound{db: o.db, now: o.cfg.Now, outbox: o}
}

// Submit stores a request. When IdemKey repeats an earlier request of the same
// portal, the earlier request's id is returned with existing set.
func (s *Outbound) Submit(ctx context.Context, r OutboundRequest) (id string, existing bool, err error) {
	now := ms(s.now())
	var idem any
	if r.IdemKey != "" {
		idem = r.IdemKey
	}
	_, err = s.db.SQL.ExecContext(ctx, `INSERT INTO outbound_requests
		(id, portal_id, line_id, connection_id, chat_key, op, payload, idem_key, state, attempts, next_at, created_at)
		VALUES (?,?,?,?,?,?,?,?,?,0,?,?)`,
		r.ID, r.PortalID, r.LineID, r.ConnectionID, chatKey(r.ConnectionID, r.ChatID), r.Op, r.Payload, idem, OutboundPending, now, now)
	if err == nil {
		return r.ID, false, nil
	}
	if r.IdemKey != "" && s.db.Dialect.IsDuplicate(err) {
		if qerr := s.db.SQL.QueryRowContext(ctx, "SELECT id FROM outbound_requests WHERE portal_id = ? AND idem_key = ?", r.PortalID, r.IdemKey).Scan(&id); qerr == nil {
			return id, true, nil
		}
	}
	return "", false, fmt.Errorf("queue: submit outbound: %w", err)
}

// Claim leases up to limit due requests for owner, each the oldest
// pending request of its chat, so chats are served in order and one slow chat
// never holds up another.
func (s *Outbound) Claim(ctx context.Context, owner string, limit int, d time.Duration) ([]OutboundRequest, error) {
	now := ms(s.now())
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT o.seq, o.id, o.portal_id, o.line_id, o.connection_id, o.chat_key, o.op, o.payload, o.attempts, o.result, o.created_at
		FROM outbound_requests o
		WHERE o.state = 'pending' AND o.next_at <= ? AND (o.lease_owner IS NULL OR o.lease_until <= ?)
		AND NOT EXISTS (SELECT 1 FROM outbound_requests p WHERE p.chat_key = o.chat_key AND p.state = 'pending' AND p.seq < o.seq)
		ORDER BY o.seq LIMIT ?`, now, now, limit)
	if err != nil {
		return nil, fmt.Errorf("queue: claim outbound: %w", err)
	}
	var cands []OutboundRequest
	for rows.Next() {
		var r OutboundRequest
		var key string
		var created int64
		var result sql.NullString
		if err := rows.Scan(&r.seq, &r.ID, &r.PortalID, &r.LineID, &r.ConnectionID, &key, &r.Op, &r.Payload, &r.Attempts, &result, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queue: claim outbound: %w", err)
		}
		r.ChatID = key[len(r.ConnectionID)+1:]
		r.CreatedAt = fromMS(created)
		r.Result = result.String
		r.State = OutboundPending
		cands = append(cands, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: claim outbound: %w", err)
	}
	var out []OutboundRequest
	until := ms(s.now().Add(d))
	for _, r := range cands {
		res, err := s.db.SQL.ExecContext(ctx, `UPDATE outbound_requests SET lease_owner = ?, lease_until = ?
			WHERE seq = ? AND state = 'pending' AND (lease_owner IS NULL OR lease_until <= ?)`, owner, until, r.seq, now)
		if err != nil {
			return out, fmt.Errorf("queue: claim outbound: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			r.owner = owner
			out = append(out, r)
		}
	}
	return out, nil
}

// Finish marks a request done or failed and enqueues its status event
// in the same transaction, so the portal hears of every outcome exactly when
// it becomes final.
func (s *Outbound) Finish(ctx context.Context, r OutboundRequest, state, result string, status NewEvent) error {
	if state != OutboundDone && state != OutboundFailed {
		return fmt.Errorf("queue: finish outbound: bad state %q", state)
	}
	var lines []LineRef
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbound_requests SET state = ?, result = ?, attempts = attempts + 1, done_at = ?,
			lease_owner = NULL, lease_until = 0, last_error = ? WHERE seq = ? AND lease_owner = ?`,
			state, result, ms(s.now()), nullIfEmpty(r.LastError), r.seq, r.owner)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLeaseLost
		}
		lines, err = s.outbox.EnqueueTx(ctx, tx, []NewEvent{status})
		return err
	})
	if err != nil {
		return fmt.Errorf("queue: finish outbound: %w", err)
	}
	s.outbox.Notify(lines)
	return nil
}

// Retry counts a failed attempt and schedules the next one at 'at'.
// r.Result is stored with it: a request that got partly through (some parts
// of a split message delivered) keeps its progress there, and the next
// claim returns it.
func (s *Outbound) Retry(ctx context.Context, r OutboundRequest, at time.Time, reason string) error {
	_, err := s.db.SQL.ExecContext(ctx, `UPDATE outbound_requests SET attempts = attempts + 1, next_at = ?, last_error = ?, result = ?,
		lease_owner = NULL, lease_until = 0 WHERE seq = ? AND lease_owner = ?`, ms(at), truncate(reason, 2000), nullIfEmpty(r.Result), r.seq, r.owner)
	if err != nil {
		return fmt.Errorf("queue: retry outbound: %w", err)
	}
	return nil
}

// Get returns one request of a portal.
func (s *Outbound) Get(ctx context.Context, portalID, id string) (OutboundRequest, error) {
	var r OutboundRequest
	var key string
	var created int64
	var lastErr, result sql.NullString
	err := s.db.SQL.QueryRowContext(ctx, `SELECT seq, id, portal_id, line_id, connection_id, chat_key, op, state, attempts, last_error, result, created_at
		FROM outbound_requests WHERE id = ? AND portal_id = ?`, id, portalID).
		Scan(&r.seq, &r.ID, &r.PortalID, &r.LineID, &r.ConnectionID, &key, &r.Op, &r.State, &r.Attempts, &lastErr, &result, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("queue: get outbound: %w", err)
	}
	r.ChatID = key[len(r.ConnectionID)+1:]
	r.LastError, r.Result, r.CreatedAt = lastErr.String, result.String, fromMS(created)
	return r, nil
}

// NextWake returns when the earliest pending request becomes due
// (zero when there is none).
func (s *Outbound) NextWake(ctx context.Context) (time.Time, error) {
	var v sql.NullInt64
	if err := s.db.SQL.QueryRowContext(ctx, "SELECT MIN(next_at) FROM outbound_requests WHERE state = 'pending'").Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("queue: next outbound: %w", err)
	}
	if !v.Valid {
		return time.Time{}, nil
	}
	return fromMS(v.Int64), nil
}

// Purge forgets finished requests older than age.
func (s *Outbound) Purge(ctx context.Context, age time.Duration) (int64, error) {
	res, err := s.db.SQL.ExecContext(ctx, "DELETE FROM outbound_requests WHERE state <> 'pending' AND done_at < ?", ms(s.now().Add(-age)))
	if err != nil {
		return 0, fmt.Errorf("queue: purge outbound: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Pending counts the requests not yet done or failed (metrics).
func (s *Outbound) Pending(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbound_requests WHERE state = 'pending'").Scan(&n); err != nil {
		return 0, fmt.Errorf("queue: pending outbound: %w", err)
	}
	return n, nil
}
