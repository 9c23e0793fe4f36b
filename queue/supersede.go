package queue

import (
	"context"
	"database/sql"
	"fmt"
)

// supersede records the superseded keys of the group's fresh events, so a
// later event under one of them is a duplicate, and drops a fresh event
// that another fresh event of the same group supersedes (a "delivered" and
// a "read" of one message committed together: only the read stays, since
// the group's order between concurrent requests is arbitrary).
func (o committer) supersede(ctx context.Context, tx *sql.Tx, group []*enqueueReq, fresh [][]bool) error {
	var keys []string
	superseded := make(map[string]bool)
	for i, r := range group {
		for j, ev := range r.events {
			if !fresh[i][j] {
				continue
			}
			for _, k := range ev.Supersedes {
				if k != "" && k != ev.DedupeKey && !superseded[k] {
					superseded[k] = true
					keys = append(keys, k)
				}
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	for i, r := range group {
		for j, ev := range r.events {
			if fresh[i][j] && ev.DedupeKey != "" && superseded[ev.DedupeKey] {
				fresh[i][j] = false
			}
		}
	}
	now := ms(o.cfg.Now())
	for start := 0; start < len(keys); start += 500 {
		chunk := keys[start:min(start+500, len(keys))]
		if err := insertKeys(ctx, tx, o.db.Dialect.InsertIgnore(), chunk, now); err != nil {
			return fmt.Errorf("record superseded keys: %w", err)
		}
	}
	return nil
}

// insertKeys writes dedupe keys in one multi-row statement; insert is
// "INSERT INTO" (a duplicate fails the statement) or the dialect's
// insert-ignore.
func insertKeys(ctx context.Context, tx *sql.Tx, insert string, keys []string, now int64) error {
	args := make([]any, 0, 2*len(keys))
	vals := make([]byte, 0, 6*len(keys))
	for i, k := range keys {
		if i > 0 {
			vals = append(vals, ',')
		}
		vals = append(vals, "(?,?)"...)
		args = append(args, k, now)
	}
	_, err := tx.ExecContext(ctx, insert+" inbox_keys (dedupe_key, created_at) VALUES "+string(vals), args...)
	return err
}
