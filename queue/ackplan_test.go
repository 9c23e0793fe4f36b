package queue_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// The ack deletes its events by primary key, also for a long list of seqs
// in a small outbox: MariaDB planned a full table scan there for the plain
// "seq IN (...)" from about 50 values on. The plan is read with EXPLAIN on
// the statements the ack runs, and running them deletes exactly the listed
// rows.
func TestAckDeletesUseThePrimaryKey(t *testing.T) {
	ctx := context.Background()
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			db := queuetest.Open(t, b)
			for i := 0; i < 300; i++ {
				if _, err := db.SQL.ExecContext(ctx, "INSERT INTO outbox_events (line_id, portal_id, event_id, payload, created_at) VALUES (?,?,?,?,?)",
					fmt.Sprintf("lin_%d", i%20), "prt_1", fmt.Sprintf("evt_%d", i), strings.Repeat("p", 600), 0); err != nil {
					t.Fatal(err)
				}
			}
			if b.Driver == sqldb.DriverMySQL {
				if _, err := db.SQL.ExecContext(ctx, "ANALYZE TABLE outbox_events"); err != nil {
					t.Fatal(err)
				}
			}
			var seqs []any
			rows, err := db.SQL.QueryContext(ctx, "SELECT seq FROM outbox_events ORDER BY seq LIMIT 100")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s int64
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, s)
			}
			rows.Close()
			stmts := queue.AckDeletes(db.Dialect, seqs)
			if len(stmts) != 1 {
				t.Fatalf("%d statements for 100 seqs", len(stmts))
			}
			explain := "EXPLAIN "
			if b.Driver == sqldb.DriverSQLite {
				explain = "EXPLAIN QUERY PLAN "
			}
			plan := explainRows(t, db.SQL, explain+stmts[0].Query, stmts[0].Args)
			switch b.Driver {
			case sqldb.DriverMySQL:
				if len(plan) != 1 || plan[0]["type"] == "ALL" || plan[0]["key"] != "PRIMARY" {
					t.Errorf("plan of %q: %v", stmts[0].Query[:40], plan)
				}
			default:
				if len(plan) != 1 || !strings.Contains(plan[0]["detail"], "PRIMARY KEY") {
					t.Errorf("plan of %q: %v", stmts[0].Query[:40], plan)
				}
			}
			res, err := db.SQL.ExecContext(ctx, stmts[0].Query, stmts[0].Args...)
			if err != nil {
				t.Fatal(err)
			}
			var left, lowest int64
			if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*), MIN(seq) FROM outbox_events").Scan(&left, &lowest); err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 100 || left != 200 || lowest <= seqs[99].(int64) {
				t.Errorf("deleted %d, %d left from seq %d; want 100 deleted, 200 left after seq %d", n, left, lowest, seqs[99])
			}
		})
	}
}

// explainRows runs an EXPLAIN and returns its rows by column name.
func explainRows(t *testing.T, db *sql.DB, q string, args []any) []map[string]string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = vals[i].String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
