package queue

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// Keys is the table of dedupe keys (inbox_keys). The outbox's Enqueue
// records inbound updates' keys there in the same transaction as their
// events; Keys reads them (what a connection last received) and records
// keys of its own (replayed signed requests, used form nonces), all kept for
// the outbox's DedupeTTL. Its methods are safe for concurrent use.
type Keys struct {
	db  *sqldb.DB
	now func() time.Time
	ttl time.Duration
}

// NewKeys returns the dedupe keys of the outbox's database, with its clock
// and TTL.
func NewKeys(o *Outbox) *Keys {
	return &Keys{db: o.db, now: o.cfg.Now, ttl: o.cfg.DedupeTTL}
}

// FirstSeen records key and reports whether it was new. It shares the dedupe
// table (and its TTL) with inbound updates; the API uses it to refuse a
// replayed signed request.
func (k *Keys) FirstSeen(ctx context.Context, key string) (bool, error) {
	res, err := k.db.SQL.ExecContext(ctx, k.db.Dialect.InsertIgnore()+" inbox_keys (dedupe_key, created_at) VALUES (?,?)", key, ms(k.now()))
	if err != nil {
		return false, fmt.Errorf("queue: first seen: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Purge forgets dedupe keys older than the TTL and returns how many.
func (k *Keys) Purge(ctx context.Context) (int64, error) {
	cut := ms(k.now().Add(-k.ttl))
	res, err := k.db.SQL.ExecContext(ctx, "DELETE FROM inbox_keys WHERE created_at < ?", cut)
	if err != nil {
		return 0, fmt.Errorf("queue: purge dedupe keys: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// prefixRange returns the key range [lo, hi) of the keys starting with
// prefix (which must not be empty or end in byte 0xff).
func prefixRange(prefix string) (lo, hi string) {
	last := prefix[len(prefix)-1]
	return prefix, prefix[:len(prefix)-1] + string(rune(last+1))
}

// FirstSince reports when the first dedupe key starting with prefix was
// recorded at or after since (ok false when none). Connectors key every
// messenger update "<type>:<connection id>:<update id>" (connectors.Keyed),
// so the prefix "<type>:<connection id>:" tells whether a connection
// received anything from its messenger since a moment, however it arrived
// (webhook, polling, socket, widget) and whichever gateway process took it.
// Keys are kept for the dedupe TTL; the lookup reads the key index only.
func (k *Keys) FirstSince(ctx context.Context, prefix string, since time.Time) (time.Time, bool, error) {
	if prefix == "" {
		return time.Time{}, false, fmt.Errorf("queue: first key: empty prefix")
	}
	lo, hi := prefixRange(prefix)
	var at sql.NullInt64
	err := k.db.SQL.QueryRowContext(ctx, "SELECT MIN(created_at) FROM inbox_keys WHERE dedupe_key >= ? AND dedupe_key < ? AND created_at >= ?",
		lo, hi, ms(since)).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("queue: first key: %w", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(at.Int64), true, nil
}

// Last reports when the newest dedupe key starting with prefix was
// recorded (ok false when none is remembered): for a connection, when it
// last received something (see FirstSince).
func (k *Keys) Last(ctx context.Context, prefix string) (time.Time, bool, error) {
	if prefix == "" {
		return time.Time{}, false, fmt.Errorf("queue: last key: empty prefix")
	}
	lo, hi := prefixRange(prefix)
	var at sql.NullInt64
	err := k.db.SQL.QueryRowContext(ctx, "SELECT MAX(created_at) FROM inbox_keys WHERE dedupe_key >= ? AND dedupe_key < ?", lo, hi).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("queue: last key: %w", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(at.Int64), true, nil
}
