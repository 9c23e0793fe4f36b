package queue

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// supersede records the superseded keys of the group's fresh events, so a
// later event under one of them is a duplicate, and drops a fresh event
// that another fresh event of the same group supersedes (a "delivered" and
// a "read" of one message committed together: only the read stays, since
// the group's order between concurrent requests is arbitrary).
func (o committer) supersede(ctx context.Context, tx *sql.Tx, group []*enqueueReq, fresh [][]bool) error {
	keys := dropSuperseded(group, fresh)
	now := ms(o.cfg.Now())
	for _, s := range keyStmts(o.db.Dialect.InsertIgnore(), keys, now) {
		if _, err := tx.ExecContext(ctx, s.Query, s.Args...); err != nil {
			return fmt.Errorf("record superseded keys: %w", err)
		}
	}
	return nil
}

// dropSuperseded is supersede without the database: it marks not fresh
// every fresh event that another fresh event of the group supersedes, and
// returns the superseded keys to record.
func dropSuperseded(group []*enqueueReq, fresh [][]bool) []string {
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
	return keys
}

// keyStmts writes dedupe keys in multi-row statements of up to 500 keys;
// insert is "INSERT INTO" (a duplicate fails the statement) or the
// dialect's insert-ignore.
func keyStmts(insert string, keys []string, now int64) []sqldb.Stmt {
	return multiRow(insert+" inbox_keys (dedupe_key, created_at) VALUES ", "(?,?)", len(keys), func(i int, args []any) []any {
		return append(args, keys[i], now)
	})
}

// multiRow splits n rows into statements of up to 500 rows each: head
// followed by one tuple of placeholders per row, with row(i, args)
// appending row i's values.
func multiRow(head, tuple string, n int, row func(i int, args []any) []any) []sqldb.Stmt {
	var out []sqldb.Stmt
	for start := 0; start < n; start += 500 {
		end := min(start+500, n)
		q := make([]byte, 0, len(head)+(len(tuple)+1)*(end-start))
		q = append(q, head...)
		args := make([]any, 0, strings.Count(tuple, "?")*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				q = append(q, ',')
			}
			q = append(q, tuple...)
			args = row(i, args)
		}
		out = append(out, sqldb.Stmt{Query: string(q), Args: args})
	}
	return out
}
