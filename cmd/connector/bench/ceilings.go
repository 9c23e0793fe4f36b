package bench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// payload is about the size of a normalized text event.
var payloadSize = 420

const partitions = 8

// ceilings measures what the database and loopback HTTP can do on this
// machine right now, with the gateway's own durability settings (the same
// Open), on a scratch table that is dropped afterwards.
func ceilings(ctx context.Context, o Options, r *Result, say func(string, ...any)) error {
	db, err := sqldb.Open(ctx, o.Driver, o.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	ddl := "CREATE TABLE bench_scratch (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, payload MEDIUMBLOB NOT NULL, KEY bench_k (k, id)) ENGINE=InnoDB"
	if o.Driver == sqldb.DriverSQLite {
		ddl = "CREATE TABLE bench_scratch (id INTEGER PRIMARY KEY AUTOINCREMENT, k INTEGER NOT NULL, payload BLOB NOT NULL)"
	}
	_, _ = db.SQL.ExecContext(ctx, "DROP TABLE IF EXISTS bench_scratch")
	if _, err := db.SQL.ExecContext(ctx, ddl); err != nil {
		return err
	}
	if o.Driver == sqldb.DriverSQLite {
		if _, err := db.SQL.ExecContext(ctx, "CREATE INDEX bench_k ON bench_scratch (k, id)"); err != nil {
			return err
		}
	}
	defer db.SQL.ExecContext(context.Background(), "DROP TABLE IF EXISTS bench_scratch")
	payload := bytes.Repeat([]byte("x"), payloadSize)

	// One row per commit, 32 clients: the naive design's limit.
	n, el, err := timed(o.Duration, 32, func(i int) (int, error) {
		_, err := db.SQL.ExecContext(ctx, "INSERT INTO bench_scratch (k, payload) VALUES (?, ?)", i%partitions, payload)
		return 1, err
	})
	if err != nil {
		return fmt.Errorf("single-commit inserts: %w", err)
	}
	r.CeilingSingleCommitPerS = float64(n) / el.Seconds()
	say("  ceiling single commit: %.0f rows/s", r.CeilingSingleCommitPerS)

	// Multi-row inserts: 100 rows per statement and commit, 4 clients.
	const rows = 100
	q := "INSERT INTO bench_scratch (k, payload) VALUES " + strings.TrimSuffix(strings.Repeat("(?,?),", rows), ",")
	n, el, err = timed(o.Duration, 4, func(i int) (int, error) {
		args := make([]any, 0, 2*rows)
		for j := 0; j < rows; j++ {
			args = append(args, (i+j)%partitions, payload)
		}
		_, err := db.SQL.ExecContext(ctx, q, args...)
		return rows, err
	})
	if err != nil {
		return fmt.Errorf("multi-row inserts: %w", err)
	}
	r.CeilingMultirowPerS = float64(n) / el.Seconds()
	say("  ceiling multi-row: %.0f rows/s", r.CeilingMultirowPerS)

	// Claim-and-delete: each worker takes the oldest 100 rows of its
	// partition and deletes them in one transaction, as a queue consumer.
	var empty atomic.Int64
	pr := newProbe(ctx, o)
	defer pr.close()
	s0 := pr.sample(ctx, os.Getpid())
	n, el, err = timed(o.Duration, partitions, func(i int) (int, error) {
		k := i % partitions
		var got int
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			rs, err := tx.QueryContext(ctx, "SELECT id, payload FROM bench_scratch WHERE k = ? ORDER BY id LIMIT 100", k)
			if err != nil {
				return err
			}
			var ids []any
			for rs.Next() {
				var id int64
				var p []byte
				if err := rs.Scan(&id, &p); err != nil {
					rs.Close()
					return err
				}
				ids = append(ids, id)
			}
			rs.Close()
			if len(ids) == 0 {
				return nil
			}
			_, err = tx.ExecContext(ctx, "DELETE FROM bench_scratch WHERE id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+")", ids...)
			got = len(ids)
			return err
		})
		if got == 0 {
			empty.Add(1)
		}
		return got, err
	})
	if err != nil {
		return fmt.Errorf("claim-and-delete: %w", err)
	}
	r.CeilingClaimDeletePerS = float64(n) / el.Seconds()
	// The client here is this process: its CPU is the "server" figure.
	r.CeilingClaimDelete = pr.per(s0, pr.sample(ctx, os.Getpid()), n)
	r.CeilingClaimDelete.BenchCPUus = 0
	say("  ceiling claim-and-delete: %.0f rows/s; %s", r.CeilingClaimDeletePerS, claimDeleteCost(*r))

	// Bare HTTP POST round trip on loopback, 32 clients.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	n, el, err = timed(o.Duration, 32, func(int) (int, error) {
		resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(payload))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return 1, nil
	})
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	r.CeilingHTTPPerS = float64(n) / el.Seconds()
	say("  ceiling http: %.0f req/s", r.CeilingHTTPPerS)
	return nil
}

// timed runs op from workers goroutines for d and returns the total units
// and the elapsed time.
func timed(d time.Duration, workers int, op func(worker int) (int, error)) (int64, time.Duration, error) {
	var total atomic.Int64
	var firstErr error
	var once sync.Once
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for time.Now().Before(stop) {
				n, err := op(w)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				total.Add(int64(n))
			}
		}(w)
	}
	wg.Wait()
	return total.Load(), time.Since(start), firstErr
}
