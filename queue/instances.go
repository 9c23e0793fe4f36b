package queue

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// Instances records the running gateway processes (table instances) and
// what a dead one held. Each process has one id, which is the owner of every
// lease it takes (line leases, outbound claims, poll leases), and renews its
// heartbeat every instance.heartbeat. A process whose heartbeat is older than
// instance.stale_after is presumed dead: any live process releases all its
// leases at once, so its lines, requests and polled connections are taken
// over in seconds rather than after the leases' full length.
//
// Leases whose owner has no row (a process of a version without heartbeats,
// during a rolling upgrade) are never released this way; they run out as
// before. Its methods are safe for concurrent use, also from several
// processes.
type Instances struct {
	db  *sqldb.DB
	now func() time.Time
}

// NewInstances returns the instance registry of db; now is the clock (nil:
// time.Now). Heartbeats compare clocks of different processes, so replicas'
// clocks must agree to well within instance.stale_after (NTP), as leases
// already require.
func NewInstances(db *sqldb.DB, now func() time.Time) *Instances {
	if now == nil {
		now = time.Now
	}
	return &Instances{db: db, now: now}
}

// NewInstanceID names a process: host and pid (so an operator, or a test,
// can tell whose lease a row holds) and a random part (so a restarted
// process with a reused pid is never taken for its predecessor). At most 64
// characters, the width of the lease owner columns.
func NewInstanceID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r < 128 && (r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, host)
	if len(host) > 20 {
		host = host[:20]
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return fmt.Sprintf("gw-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Released counts what a release freed, and names the lines, so the caller
// can wake its dispatcher for them.
type Released struct {
	Instances int
	Lines     []LineRef
	Requests  int64
	Polls     int64
}

// Any tells whether anything was freed.
func (r Released) Any() bool { return len(r.Lines) > 0 || r.Requests > 0 || r.Polls > 0 }

// Register records id as running, heartbeat now.
func (in *Instances) Register(ctx context.Context, id string) error {
	now := ms(in.now())
	_, err := in.db.SQL.ExecContext(ctx, in.db.Dialect.InsertIgnore()+" instances (id, heartbeat_at, started_at) VALUES (?,?,?)", id, now, now)
	if err != nil {
		return fmt.Errorf("queue: register instance: %w", err)
	}
	return nil
}

// Heartbeat renews id's heartbeat. It reports false when id had no row any
// more: another process presumed this one dead and released its leases (a
// stall longer than stale_after); the row is written anew, and the caller
// should know that its leases may be held by others now (each holder finds
// out at its next renewal, ack or save, which fails as ErrLeaseLost).
func (in *Instances) Heartbeat(ctx context.Context, id string) (bool, error) {
	now := ms(in.now())
	res, err := in.db.SQL.ExecContext(ctx, "UPDATE instances SET heartbeat_at = ? WHERE id = ?", now, id)
	if err != nil {
		return false, fmt.Errorf("queue: heartbeat: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	// MySQL reports 0 changed rows when the value was already there (two
	// heartbeats in one millisecond): look before concluding.
	var exists int
	if err := in.db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM instances WHERE id = ?", id).Scan(&exists); err != nil {
		return false, fmt.Errorf("queue: heartbeat: %w", err)
	}
	if exists == 1 {
		return true, nil
	}
	return false, in.Register(ctx, id)
}

// Remove deletes id's row (graceful shutdown, after its leases were given
// back).
func (in *Instances) Remove(ctx context.Context, id string) error {
	if _, err := in.db.SQL.ExecContext(ctx, "DELETE FROM instances WHERE id = ?", id); err != nil {
		return fmt.Errorf("queue: remove instance: %w", err)
	}
	return nil
}

// ReleaseStale releases every lease held by an instance other than self
// whose heartbeat is older than staleAfter, and forgets those instances.
func (in *Instances) ReleaseStale(ctx context.Context, self string, staleAfter time.Duration) (Released, error) {
	return in.release(ctx, "SELECT id FROM instances WHERE id <> ? AND heartbeat_at < ?", []any{self, ms(in.now().Add(-staleAfter))}, "", nil)
}

// ReleaseOthers releases every lease held by anyone but self, and forgets
// every other instance. It is for a gateway starting on SQLite, where only
// one process serves: whatever another owner holds was held by a dead
// predecessor (whatever its version), and waiting for it to run out would
// only delay delivery.
func (in *Instances) ReleaseOthers(ctx context.Context, self string) (Released, error) {
	return in.release(ctx, "SELECT id FROM instances WHERE id <> ?", []any{self}, "lease_owner <> ?", []any{self})
}

// release frees the leases of the instances the query selects (or, with
// ownerFilter, of every owner it matches) in one transaction.
func (in *Instances) release(ctx context.Context, query string, args []any, ownerFilter string, ownerArgs []any) (Released, error) {
	var rel Released
	err := in.db.InTx(ctx, func(tx *sql.Tx) error {
		rel = Released{}
		var dead []any
		rows, err := tx.QueryContext(ctx, query+in.db.Dialect.ForUpdate(), args...)
		if err != nil {
			return fmt.Errorf("find stale instances: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			dead = append(dead, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		where, wargs := ownerFilter, ownerArgs
		if where == "" {
			if len(dead) == 0 {
				return nil
			}
			where, wargs = "lease_owner IN ("+placeholders(len(dead))+")", dead
		}
		lrows, err := tx.QueryContext(ctx, "SELECT line_id, portal_id FROM line_queue WHERE "+where+in.db.Dialect.ForUpdate(), wargs...)
		if err != nil {
			return fmt.Errorf("find leased lines: %w", err)
		}
		for lrows.Next() {
			var r LineRef
			if err := lrows.Scan(&r.LineID, &r.PortalID); err != nil {
				lrows.Close()
				return err
			}
			rel.Lines = append(rel.Lines, r)
		}
		lrows.Close()
		if err := lrows.Err(); err != nil {
			return err
		}
		if len(rel.Lines) > 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE line_queue SET lease_owner = NULL, lease_until = 0 WHERE "+where, wargs...); err != nil {
				return fmt.Errorf("release line leases: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx, "UPDATE outbound_requests SET lease_owner = NULL, lease_until = 0 WHERE state = 'pending' AND "+where, wargs...)
		if err != nil {
			return fmt.Errorf("release outbound claims: %w", err)
		}
		rel.Requests, _ = res.RowsAffected()
		res, err = tx.ExecContext(ctx, "UPDATE poll_state SET lease_owner = NULL, lease_until = 0 WHERE "+where, wargs...)
		if err != nil {
			return fmt.Errorf("release poll leases: %w", err)
		}
		rel.Polls, _ = res.RowsAffected()
		if len(dead) > 0 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM instances WHERE id IN ("+placeholders(len(dead))+")", dead...); err != nil {
				return fmt.Errorf("forget stale instances: %w", err)
			}
		}
		rel.Instances = len(dead)
		return nil
	})
	if err != nil {
		return Released{}, fmt.Errorf("queue: release leases of dead instances: %w", err)
	}
	return rel, nil
}
