package portal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// AdapterIDs is the adapters' durable memory (table adapter_ids): per
// portal, keys an adapter chooses ("chat:<connection>:<chat>",
// "event:<id>", "cursor") mapped to the helpdesk's ids. It is what makes a
// retried batch skip the calls that already succeeded. Safe for
// concurrent use, also by several processes sharing one MySQL.
type AdapterIDs struct {
	db  *sqldb.DB
	now func() time.Time
}

// NewAdapterIDs returns the store on db.
func NewAdapterIDs(db *sqldb.DB) *AdapterIDs { return &AdapterIDs{db: db, now: time.Now} }

// Get returns the helpdesk id stored under key, and whether there was one.
func (s *AdapterIDs) Get(ctx context.Context, portalID, key string) (string, bool, error) {
	var id string
	err := s.db.SQL.QueryRowContext(ctx, "SELECT helpdesk_id FROM adapter_ids WHERE portal_id = ? AND map_key = ?", portalID, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("portal: adapter ids: get: %w", err)
	}
	return id, true, nil
}

// Put stores every key → id pair in one transaction, replacing earlier
// values (a cursor moves on; a mapping written twice holds the same id).
func (s *AdapterIDs) Put(ctx context.Context, portalID string, pairs map[string]string) error {
	now := s.now().UnixMilli()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for k, v := range pairs {
			if _, err := tx.ExecContext(ctx, "DELETE FROM adapter_ids WHERE portal_id = ? AND map_key = ?", portalID, k); err != nil {
				return fmt.Errorf("portal: adapter ids: put: %w", err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO adapter_ids (portal_id, map_key, helpdesk_id, created_at) VALUES (?,?,?,?)", portalID, k, v, now); err != nil {
				return fmt.Errorf("portal: adapter ids: put: %w", err)
			}
		}
		return nil
	})
}

// EachPending calls deliver, in the batch's order, with each event of b the
// adapter has not recorded as done under "event:<id>" (Put it there when
// the helpdesk accepted it), decoded; it stops at the first error, which it
// returns naming the event. It is every adapter's Deliver loop: a retried
// batch skips what already reached the helpdesk.
func (s *AdapterIDs) EachPending(ctx context.Context, portalID string, b DeliveryBatch, deliver func(connectors.Event) error) error {
	for _, it := range b.Items {
		if _, done, err := s.Get(ctx, portalID, "event:"+it.EventID); err != nil {
			return err
		} else if done {
			continue
		}
		var ev connectors.Event
		if err := json.Unmarshal(it.Payload, &ev); err != nil {
			return fmt.Errorf("decode event %s: %w", it.EventID, err)
		}
		if ev.ID == "" {
			ev.ID = it.EventID
		}
		if err := deliver(ev); err != nil {
			return fmt.Errorf("event %s (%s): %w", ev.ID, ev.Type, err)
		}
	}
	return nil
}
