package queue

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// LineDepth is one line's share of the outbox at a moment, as the metrics
// scrape reads it: events waiting and the oldest one's age, whether the
// line is locked out, and its dead letters.
type LineDepth struct {
	PortalID string
	LineID   string
	// Pending counts waiting events; OldestAt is the oldest one's enqueue
	// time (zero when none waits).
	Pending  int64
	OldestAt time.Time
	// LockedOut is true while the line waits out a failed delivery.
	LockedOut bool
	// DeadLetters counts events that expired undelivered.
	DeadLetters int64
}

// Depths reports every line that has waiting events, a lock-out or dead
// letters, in three grouped queries whatever the number of lines, ordered
// by portal and line.
func (o *Outbox) Depths(ctx context.Context) ([]LineDepth, error) {
	type key struct{ portal, line string }
	byLine := map[key]*LineDepth{}
	at := func(portal, line string) *LineDepth {
		k := key{portal, line}
		d := byLine[k]
		if d == nil {
			d = &LineDepth{PortalID: portal, LineID: line}
			byLine[k] = d
		}
		return d
	}
	// Counted on the (line_id, seq) index alone, then one primary-key read
	// per line for its oldest event: grouping the rows themselves by portal
	// and age read the whole table (payloads included) on every sample,
	// which with a large backlog cost seconds of database CPU and pushed
	// the lines being delivered out of the buffer pool. A line belongs to
	// one portal, so its oldest event names it; the oldest is the first in
	// delivery order.
	rows, err := o.db.SQL.QueryContext(ctx, `SELECT e.portal_id, d.line_id, d.n, e.created_at
		FROM (SELECT line_id, COUNT(*) AS n, MIN(seq) AS s FROM outbox_events GROUP BY line_id) d
		JOIN outbox_events e ON e.seq = d.s`)
	if err != nil {
		return nil, fmt.Errorf("queue: depths: %w", err)
	}
	for rows.Next() {
		var p, l string
		var n, oldest int64
		if err := rows.Scan(&p, &l, &n, &oldest); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queue: depths: %w", err)
		}
		d := at(p, l)
		d.Pending, d.OldestAt = n, fromMS(oldest)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: depths: %w", err)
	}
	rows, err = o.db.SQL.QueryContext(ctx, "SELECT portal_id, line_id FROM line_queue WHERE locked_until > ?", ms(o.cfg.Now()))
	if err != nil {
		return nil, fmt.Errorf("queue: depths: %w", err)
	}
	for rows.Next() {
		var p, l string
		if err := rows.Scan(&p, &l); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queue: depths: %w", err)
		}
		at(p, l).LockedOut = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: depths: %w", err)
	}
	// The same for dead letters: counted on their line index, the portal
	// read from each line's first dead letter.
	rows, err = o.db.SQL.QueryContext(ctx, `SELECT x.portal_id, d.line_id, d.n
		FROM (SELECT line_id, COUNT(*) AS n, MIN(id) AS i FROM dead_letters GROUP BY line_id) d
		JOIN dead_letters x ON x.id = d.i`)
	if err != nil {
		return nil, fmt.Errorf("queue: depths: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p, l string
		var n int64
		if err := rows.Scan(&p, &l, &n); err != nil {
			return nil, fmt.Errorf("queue: depths: %w", err)
		}
		at(p, l).DeadLetters = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: depths: %w", err)
	}
	out := make([]LineDepth, 0, len(byLine))
	for _, d := range byLine {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PortalID != out[j].PortalID {
			return out[i].PortalID < out[j].PortalID
		}
		return out[i].LineID < out[j].LineID
	})
	return out, nil
}
