package queuetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// Clock is a settable clock for tests of time-based rules.
type Clock struct{ ns atomic.Int64 }

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func ev(line, key string, n int) queue.NewEvent {
	return queue.NewEvent{DedupeKey: key, PortalID: "p1", LineID: line, EventID: fmt.Sprintf("evt-%s-%d", line, n), Payload: []byte(fmt.Sprintf(`{"n":%d}`, n))}
}

// Run is the conformance suite every backend must pass, one section per
// store of package queue.
func Run(t *testing.T, b Backend) {
	t.Run("Database", func(t *testing.T) { runDatabase(t, b) })
	t.Run("Script", func(t *testing.T) { runScript(t, b) })
	t.Run("Outbox", func(t *testing.T) { runOutbox(t, b) })
	t.Run("Outbound", func(t *testing.T) { runOutbound(t, b) })
	t.Run("Polls", func(t *testing.T) { runPolls(t, b) })
	t.Run("Keys", func(t *testing.T) { runKeys(t, b) })
}

// newOutbox starts an outbox on db, closed when the test ends.
func newOutbox(t *testing.T, db *sqldb.DB, cfg queue.Config) *queue.Outbox {
	t.Helper()
	o, err := queue.NewOutbox(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// runDatabase: the schema the binary carries (package sqldb).
func runDatabase(t *testing.T, b Backend) {
	ctx := context.Background()
	t.Run("SchemaBehindIsRefused", func(t *testing.T) {
		db, err := sqldb.Open(ctx, b.Driver, b.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.CheckSchema(ctx)
		if !errors.Is(err, sqldb.ErrSchemaBehind) {
			t.Fatalf("fresh database: CheckSchema = %v, want ErrSchemaBehind", err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatalf("after migrate: %v", err)
		}
	})
}

// runScript: sqldb.Script, a transaction sent in one round trip.
func runScript(t *testing.T, b Backend) {
	ctx := context.Background()
	db := Open(t, b)
	keys := func(where string) int {
		t.Helper()
		var n int
		if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM inbox_keys WHERE "+where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// openTx counts the transactions the server holds open for this
	// test's database (MariaDB only): a script must never leave one
	// behind on a pooled connection.
	openTx := func() int {
		t.Helper()
		if b.Driver != sqldb.DriverMySQL {
			return 0
		}
		var n int
		if err := db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.innodb_trx t
			JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id WHERE p.db = DATABASE()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ins := func(key string) sqldb.Stmt {
		return sqldb.Stmt{Query: "INSERT INTO inbox_keys (dedupe_key, created_at) VALUES (?, ?)", Args: []any{key, 1}}
	}

	t.Run("CountsEachStatementAndSeesItsWrites", func(t *testing.T) {
		stmts := []sqldb.Stmt{
			{Query: "INSERT INTO inbox_keys (dedupe_key, created_at) VALUES (?, ?), (?, ?)", Args: []any{"a", 1, "b", 1}},
			{Query: "UPDATE inbox_keys SET created_at = ? WHERE dedupe_key IN (?, ?, ?)", Args: []any{5, "a", "b", "nothing"}},
		}
		called := false
		err := db.Script(ctx, stmts, func(ctx context.Context, c sqldb.Conn, affected []int64) error {
			called = true
			if len(affected) != 2 || affected[0] != 2 || affected[1] != 2 {
				t.Errorf("affected = %v, want [2 2]", affected)
			}
			var n int
			rows, err := c.QueryContext(ctx, "SELECT COUNT(*) FROM inbox_keys WHERE created_at = 5")
			if err != nil {
				return err
			}
			defer rows.Close()
			if rows.Next() {
				if err := rows.Scan(&n); err != nil {
					return err
				}
			}
			if n != 2 {
				t.Errorf("inside the script %d rows carry its update, want 2", n)
			}
			return rows.Err()
		})
		if err != nil || !called {
			t.Fatalf("Script = %v (then called: %v)", err, called)
		}
		if n := keys("dedupe_key IN ('a', 'b') AND created_at = 5"); n != 2 {
			t.Errorf("after commit %d rows, want 2", n)
		}
	})

	t.Run("AFailedStatementUndoesTheScript", func(t *testing.T) {
		err := db.Script(ctx, []sqldb.Stmt{ins("c"), ins("a")}, nil)
		if err == nil || !db.Dialect.IsDuplicate(err) {
			t.Fatalf("Script with a duplicate key = %v, want a duplicate-key error", err)
		}
		if n := keys("dedupe_key = 'c'"); n != 0 {
			t.Errorf("the statement before the failed one stayed (%d rows)", n)
		}
		if n := openTx(); n != 0 {
			t.Errorf("%d transactions left open after a failed script", n)
		}
		// Every pooled connection runs a script now: one that kept the
		// failed transaction open would commit its insert with this BEGIN.
		for i := range 10 {
			if err := db.Script(ctx, []sqldb.Stmt{ins(fmt.Sprintf("e%d", i))}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := keys("dedupe_key = 'c'"); n != 0 {
			t.Errorf("a later script committed the failed one's insert")
		}
		if n := keys("dedupe_key LIKE 'e%'"); n != 10 {
			t.Errorf("%d of 10 later scripts committed", n)
		}
	})

	t.Run("AnErrorBeforeCommitUndoesTheScript", func(t *testing.T) {
		stop := errors.New("stop")
		err := db.Script(ctx, []sqldb.Stmt{ins("d")}, func(context.Context, sqldb.Conn, []int64) error { return stop })
		if !errors.Is(err, stop) {
			t.Fatalf("Script = %v, want the callback's error", err)
		}
		if n := keys("dedupe_key = 'd'"); n != 0 {
			t.Errorf("the script's insert stayed after its callback failed")
		}
		if n := openTx(); n != 0 {
			t.Errorf("%d transactions left open after a failed callback", n)
		}
	})

	t.Run("AScriptOutlivesItsConnections", func(t *testing.T) {
		if b.Driver != sqldb.DriverMySQL {
			t.Skip("SQLite has no server connections to lose")
		}
		// Fill the scripts pool, then kill every server session of this
		// database but the one asking: as a MariaDB restart leaves them.
		for i := range 8 {
			if err := db.Script(ctx, []sqldb.Stmt{ins(fmt.Sprintf("k%d", i))}, nil); err != nil {
				t.Fatal(err)
			}
		}
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()")
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			_, _ = conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
		}
		conn.Close()
		if len(ids) == 0 {
			t.Fatal("no session to kill; the scripts pool should hold one")
		}
		for i := range 10 {
			if err := db.Script(ctx, []sqldb.Stmt{ins(fmt.Sprintf("r%d", i))}, nil); err != nil {
				t.Fatalf("script %d after the sessions were killed: %v", i, err)
			}
		}
		if n := keys("dedupe_key LIKE 'r%'"); n != 10 {
			t.Errorf("%d of 10 scripts committed", n)
		}
	})

	t.Run("AScriptLargerThanAPacketStillRuns", func(t *testing.T) {
		// The MySQL driver inlines a script's arguments only while the
		// query fits in max_allowed_packet; past that the statements run
		// one by one, prepared, which streams large values in pieces.
		big, dsn := db, ""
		if b.Driver == sqldb.DriverMySQL {
			dsn = b.DSN(t)
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			var err error
			big, err = sqldb.Open(ctx, b.Driver, dsn+sep+"maxAllowedPacket=65536")
			if err != nil {
				t.Fatal(err)
			}
			defer big.Close()
			if _, err := big.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		payload := []byte(strings.Repeat("x", 100_000))
		stmts := []sqldb.Stmt{{Query: "INSERT INTO outbox_events (line_id, portal_id, event_id, payload, created_at) VALUES (?, ?, ?, ?, ?)",
			Args: []any{"big", "p1", "evt_big", payload, 1}}}
		if err := big.Script(ctx, stmts, nil); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := big.SQL.QueryRowContext(ctx, "SELECT LENGTH(payload) FROM outbox_events WHERE event_id = 'evt_big'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(payload) {
			t.Errorf("stored %d bytes, want %d", n, len(payload))
		}
	})
}

// runOutbox: enqueue with dedupe, claim, ack, lock-out, dead letters,
// several processes on one database.
func runOutbox(t *testing.T, b Backend) {
	ctx := context.Background()
	l1 := queue.LineRef{LineID: "l1", PortalID: "p1"}

	t.Run("BatchReadsExamineOnlyTheirLine", func(t *testing.T) {
		if b.Driver != sqldb.DriverMySQL {
			t.Skip("a MariaDB planner case; SQLite reads a line by the index it is given and counts no handler reads")
		}
		db := Open(t, b)
		// The handler counters read below are one session's.
		db.SQL.SetMaxOpenConns(1)
		o := newOutbox(t, db, queue.Config{})
		// Five lines of 40 events each, interleaved, with fresh statistics:
		// left to itself MariaDB 10.11 reads one line's batch along the
		// primary key here, examining all 200 events for 40.
		var evs []queue.NewEvent
		for n := range 200 {
			evs = append(evs, ev(fmt.Sprintf("s%d", n%5), "", n))
		}
		if _, err := o.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL.ExecContext(ctx, "ANALYZE TABLE outbox_events"); err != nil {
			t.Fatal(err)
		}
		reads := func() int64 {
			t.Helper()
			var name string
			var n int64
			if err := db.SQL.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Handler_read_next'").Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		lease, err := ClaimLine(ctx, o, queue.LineRef{LineID: "s1", PortalID: "p1"}, "d1", time.Minute)
		if err != nil || lease == nil {
			t.Fatalf("claim = %v, %v", lease, err)
		}
		before := reads()
		batch, err := o.Next(ctx, lease, 100)
		if err != nil || len(batch.Items) != 40 {
			t.Fatalf("Next = %v, %v; want 40 events", batch, err)
		}
		if n := reads() - before; n > 45 {
			t.Errorf("Next examined %d index entries for a line of 40 events", n)
		}
		before = reads()
		batches, err := o.NextLines(ctx, []*queue.Lease{lease}, 100)
		if err != nil || len(batches["s1"].Items) != 40 {
			t.Fatalf("NextLines = %v, %v; want 40 events", batches, err)
		}
		if n := reads() - before; n > 45 {
			t.Errorf("NextLines examined %d index entries for a line of 40 events", n)
		}
	})

	t.Run("DedupeKeepsOne", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{})
		n, err := o.Enqueue(ctx, []queue.NewEvent{ev("l1", "k1", 1)})
		if err != nil || n != 1 {
			t.Fatalf("first enqueue = %d, %v", n, err)
		}
		n, err = o.Enqueue(ctx, []queue.NewEvent{ev("l1", "k1", 1)})
		if err != nil || n != 0 {
			t.Fatalf("repeat enqueue = %d, %v; want 0, nil", n, err)
		}
		st, _ := o.Status(ctx, "l1")
		if st.Pending != 1 {
			t.Fatalf("pending = %d, want 1", st.Pending)
		}
	})

	t.Run("SupersededKeysAreDuplicates", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{})
		read := ev("l1", "m1:status:read", 1)
		read.Supersedes = []string{"m1:status:delivered", "m1:status:sent"}
		if n, err := o.Enqueue(ctx, []queue.NewEvent{read}); err != nil || n != 1 {
			t.Fatalf("read = %d, %v; want 1, nil", n, err)
		}
		// The late delivered of the same message adds nothing.
		late := ev("l1", "m1:status:delivered", 2)
		late.Supersedes = []string{"m1:status:sent"}
		if n, err := o.Enqueue(ctx, []queue.NewEvent{late}); err != nil || n != 0 {
			t.Fatalf("late delivered = %d, %v; want 0, nil", n, err)
		}
		// Delivered and read of another message in one group: only read.
		d2 := ev("l1", "m2:status:delivered", 3)
		r2 := ev("l1", "m2:status:read", 4)
		r2.Supersedes = []string{"m2:status:delivered"}
		if n, err := o.Enqueue(ctx, []queue.NewEvent{d2, r2}); err != nil || n != 1 {
			t.Fatalf("delivered+read together = %d, %v; want 1, nil", n, err)
		}
		st, _ := o.Status(ctx, "l1")
		if st.Pending != 2 {
			t.Fatalf("pending = %d, want 2 (the two reads)", st.Pending)
		}
	})

	t.Run("ConcurrentDuplicatesGroupCommit", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{})
		var wg sync.WaitGroup
		var added atomic.Int64
		// 50 distinct updates, each delivered 4 times concurrently.
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				k := i % 50
				n, err := o.Enqueue(ctx, []queue.NewEvent{ev(fmt.Sprintf("l%d", k%5), fmt.Sprintf("k%d", k), k)})
				if err != nil {
					t.Error(err)
				}
				added.Add(int64(n))
			}(i)
		}
		wg.Wait()
		if added.Load() != 50 {
			t.Fatalf("added = %d, want 50", added.Load())
		}
		var total int64
		for l := 0; l < 5; l++ {
			st, err := o.Status(ctx, fmt.Sprintf("l%d", l))
			if err != nil {
				t.Fatal(err)
			}
			total += st.Pending
		}
		if total != 50 {
			t.Fatalf("pending over lines = %d, want 50", total)
		}
	})

	t.Run("ClaimIsExclusiveAndOrdered", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{})
		for i := 0; i < 10; i++ {
			if _, err := o.Enqueue(ctx, []queue.NewEvent{ev("l1", fmt.Sprintf("k%d", i), i)}); err != nil {
				t.Fatal(err)
			}
		}
		l, err := ClaimLine(ctx, o, l1, "a", time.Minute)
		if err != nil || l == nil {
			t.Fatalf("claim a = %v, %v", l, err)
		}
		if l2, err := ClaimLine(ctx, o, l1, "b", time.Minute); err != nil || l2 != nil {
			t.Fatalf("claim b while a holds = %v, %v; want nil", l2, err)
		}
		if ready, _ := o.ReadyLines(ctx, 10); len(ready) != 0 {
			t.Fatalf("leased line listed as ready: %v", ready)
		}
		batch, err := o.Next(ctx, l, 4)
		if err != nil || len(batch.Items) != 4 {
			t.Fatalf("next = %v, %v", batch, err)
		}
		for i, it := range batch.Items {
			if it.EventID != fmt.Sprintf("evt-l1-%d", i) {
				t.Fatalf("item %d = %s: out of order", i, it.EventID)
			}
		}
		if err := o.Ack(ctx, batch, time.Minute); err != nil {
			t.Fatal(err)
		}
		st, _ := o.Status(ctx, "l1")
		if st.Pending != 6 {
			t.Fatalf("pending after ack = %d, want 6", st.Pending)
		}
		batch, _ = o.Next(ctx, l, 100)
		if len(batch.Items) != 6 || batch.Items[0].EventID != "evt-l1-4" {
			t.Fatalf("second batch starts at %v", batch.Items)
		}
		// The last ack releases the lease in the same transaction.
		if err := o.Ack(ctx, batch, 0); err != nil {
			t.Fatal(err)
		}
		if ready, _ := o.ReadyLines(ctx, 10); len(ready) != 0 {
			t.Fatalf("drained line listed as ready: %v", ready)
		}
		l3, err := ClaimLine(ctx, o, l1, "b", time.Minute)
		if err != nil || l3 == nil {
			t.Fatalf("released line not claimable by another owner: %v, %v", l3, err)
		}
		if b3, _ := o.Next(ctx, l3, 10); len(b3.Items) != 0 {
			t.Fatalf("drained line still has %d events", len(b3.Items))
		}
	})

	t.Run("NextLinesReadsEachLinesOldestInOrder", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{})
		for i := 0; i < 6; i++ {
			if _, err := o.Enqueue(ctx, []queue.NewEvent{ev("l1", fmt.Sprintf("k1-%d", i), i), ev("l2", fmt.Sprintf("k2-%d", i), i)}); err != nil {
				t.Fatal(err)
			}
		}
		var leases []*queue.Lease
		for _, line := range []string{"l1", "l2", "l3"} {
			l, err := ClaimLine(ctx, o, queue.LineRef{LineID: line, PortalID: "p1"}, "a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if l == nil {
				l = &queue.Lease{LineID: line, PortalID: "p1", Owner: "a"}
			}
			leases = append(leases, l)
		}
		got, err := o.NextLines(ctx, leases, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{"l1", "l2"} {
			bt := got[line]
			if bt == nil || len(bt.Items) != 4 || !bt.More {
				t.Fatalf("%s: batch %v, want 4 items and more behind them", line, bt)
			}
			for i, it := range bt.Items {
				if want := fmt.Sprintf("evt-%s-%d", line, i); it.EventID != want {
					t.Fatalf("%s item %d = %s, want %s", line, i, it.EventID, want)
				}
			}
			if bt.Lease.LineID != line {
				t.Fatalf("%s batch carries lease of %s", line, bt.Lease.LineID)
			}
		}
		if bt := got["l3"]; bt == nil || len(bt.Items) != 0 {
			t.Fatalf("empty line: %v", bt)
		}
	})

	t.Run("NextRecentReadsKeptLinesInOneGo", func(t *testing.T) {
		db := Open(t, b)
		o := newOutbox(t, db, queue.Config{})
		// p1 has a row (version 7), p2 none.
		if _, err := db.SQL.ExecContext(ctx, "INSERT INTO portals (id, name, webhook_url, secrets, created_at, version) VALUES ('p1', 'p1', 'http://x', '', 0, 7)"); err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{"r1": 5, "r3": 2, "z9": 20, "q1": 1}
		for line, n := range counts {
			for i := range n {
				e := ev(line, fmt.Sprintf("%s-%d", line, i), i)
				if line == "q1" {
					e.PortalID = "p2"
				}
				if _, err := o.Enqueue(ctx, []queue.NewEvent{e}); err != nil {
					t.Fatal(err)
				}
			}
		}
		lease := func(line string) *queue.Lease {
			portal := "p1"
			if line == "q1" {
				portal = "p2"
			}
			return &queue.Lease{LineID: line, PortalID: portal, Owner: "a"}
		}
		check := func(t *testing.T, got map[string]*queue.Batch, line string, n int, more bool) {
			t.Helper()
			bt := got[line]
			if bt == nil || len(bt.Items) != n || bt.More != more || bt.Lease.LineID != line {
				t.Fatalf("%s: batch %+v; want %d items, more=%t", line, bt, n, more)
			}
			for i, it := range bt.Items {
				if want := fmt.Sprintf("evt-%s-%d", line, i); it.EventID != want {
					t.Fatalf("%s item %d = %s, want %s", line, i, it.EventID, want)
				}
			}
			if want := map[bool]int64{true: 7}[bt.Lease.PortalID == "p1"]; n > 0 && bt.PortalVersion != want {
				t.Fatalf("%s: portal version %d, want %d", line, bt.PortalVersion, want)
			}
		}

		// Under the limit every line is told, the empty one too, across
		// two portals.
		got, err := o.NextRecent(ctx, []*queue.Lease{lease("r1"), lease("r2"), lease("r3"), lease("q1")}, 3)
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, "r1", 3, true)
		check(t, got, "r2", 0, false)
		check(t, got, "r3", 2, false)
		check(t, got, "q1", 1, false)

		// r1 (5 events) then z9 fill the limit of 2×(3+1): r1 is whole,
		// z9 is where the read stopped, short of a batch and the event
		// after it, so it is left to its worker.
		got, err = o.NextRecent(ctx, []*queue.Lease{lease("z9"), lease("r1")}, 3)
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, "r1", 3, true)
		if bt, ok := got["z9"]; ok || len(got) != 1 {
			t.Fatalf("the line the read stopped in short of a batch was returned: %+v (%d lines)", bt, len(got))
		}

		// r3 (2 events) then z9: z9 got its batch and more; r2 (empty,
		// maybe not reached) is not called drained.
		got, err = o.NextRecent(ctx, []*queue.Lease{lease("r2"), lease("z9"), lease("r3")}, 3)
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, "r3", 2, false)
		check(t, got, "z9", 3, true)
		if bt, ok := got["r2"]; ok {
			t.Fatalf("a read stopped at its limit called r2 drained: %+v", bt)
		}
	})

	t.Run("BatchesTellWhetherMoreIsWaiting", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{})
		for i := range 3 {
			if _, err := o.Enqueue(ctx, []queue.NewEvent{ev("m1", fmt.Sprintf("m-%d", i), i)}); err != nil {
				t.Fatal(err)
			}
		}
		l, err := ClaimLine(ctx, o, queue.LineRef{LineID: "m1", PortalID: "p1"}, "a", time.Minute)
		if err != nil || l == nil {
			t.Fatalf("claim: %v %v", l, err)
		}
		for _, c := range []struct {
			max  int
			n    int
			more bool
		}{{2, 2, true}, {3, 3, false}, {4, 3, false}} {
			bt, err := o.Next(ctx, l, c.max)
			if err != nil {
				t.Fatal(err)
			}
			many, err := o.NextLines(ctx, []*queue.Lease{l}, c.max)
			if err != nil {
				t.Fatal(err)
			}
			for name, got := range map[string]*queue.Batch{"Next": bt, "NextLines": many["m1"]} {
				if len(got.Items) != c.n || got.More != c.more || got.Items[0].EventID != "evt-m1-0" {
					t.Fatalf("%s with max %d: %d items, more=%t; want %d, more=%t", name, c.max, len(got.Items), got.More, c.n, c.more)
				}
			}
		}
	})

	t.Run("ClaimLinesTakesOnlyTheFreeOnes", func(t *testing.T) {
		clk := NewClock(time.Unix(1_700_000_000, 0))
		o := newOutbox(t, Open(t, b), queue.Config{Now: clk.Now, Schedule: []time.Duration{time.Hour}})
		var refs []queue.LineRef
		for _, l := range []string{"free", "leased", "locked"} {
			if _, err := o.Enqueue(ctx, []queue.NewEvent{ev(l, "k-"+l, 1)}); err != nil {
				t.Fatal(err)
			}
			refs = append(refs, queue.LineRef{LineID: l, PortalID: "p1"})
		}
		if l, _ := ClaimLine(ctx, o, refs[1], "other", time.Minute); l == nil {
			t.Fatal("setup: claim")
		}
		lk, _ := ClaimLine(ctx, o, refs[2], "w", time.Minute)
		bl, _ := o.Next(ctx, lk, 10)
		if _, err := o.Fail(ctx, bl, "503"); err != nil {
			t.Fatal(err)
		}
		got, err := o.ClaimLines(ctx, refs, "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].LineID != "free" || got[0].PortalID != "p1" {
			t.Fatalf("claimed %+v, want only the free line", got)
		}
		// Acks of several lines in flight at once share a transaction and
		// each lands on its own line.
		l2, _ := o.ClaimLines(ctx, refs[:1], "w", time.Minute)
		if len(l2) != 1 {
			t.Fatal("re-claim by the holder failed")
		}
		batch, _ := o.Next(ctx, got[0], 10)
		if err := o.Ack(ctx, batch, 0); err != nil {
			t.Fatal(err)
		}
		if st, _ := o.Status(ctx, "free"); st.Pending != 0 {
			t.Fatalf("acked line still has %d", st.Pending)
		}
		if st, _ := o.Status(ctx, "leased"); st.Pending != 1 {
			t.Fatalf("other line lost events: %d", st.Pending)
		}
	})

	t.Run("ReleaseLinesGivesBackOnlyTheOwnersLeases", func(t *testing.T) {
		clk := NewClock(time.Unix(1_700_000_000, 0))
		o := newOutbox(t, Open(t, b), queue.Config{Now: clk.Now})
		var refs []queue.LineRef
		for _, l := range []string{"a", "b", "c"} {
			if _, err := o.Enqueue(ctx, []queue.NewEvent{ev(l, "r-"+l, 1)}); err != nil {
				t.Fatal(err)
			}
			refs = append(refs, queue.LineRef{LineID: l, PortalID: "p1"})
		}
		mine, err := o.ClaimLines(ctx, refs[:2], "w", time.Minute)
		if err != nil || len(mine) != 2 {
			t.Fatalf("claim: %v %v", mine, err)
		}
		theirs, _ := o.ClaimLines(ctx, refs[2:], "other", time.Minute)
		if len(theirs) != 1 {
			t.Fatal("setup: other's claim")
		}
		// A lease of "w" on c that c does not have (stale) must not free
		// other's lease.
		stale := &queue.Lease{LineID: "c", PortalID: "p1", Owner: "w"}
		if err := o.ReleaseLines(ctx, append(mine, stale)); err != nil {
			t.Fatal(err)
		}
		if got, _ := o.ClaimLines(ctx, refs, "x", time.Minute); len(got) != 2 || got[0].LineID != "a" || got[1].LineID != "b" {
			t.Fatalf("after release, x claimed %+v, want a and b only", got)
		}
	})

	t.Run("ExpiredLeaseIsTakenOver", func(t *testing.T) {
		clk := NewClock(time.Unix(1_700_000_000, 0))
		o := newOutbox(t, Open(t, b), queue.Config{Now: clk.Now})
		if _, err := o.Enqueue(ctx, []queue.NewEvent{ev("l1", "k", 1)}); err != nil {
			t.Fatal(err)
		}
		la, _ := ClaimLine(ctx, o, l1, "a", 30*time.Second)
		if la == nil {
			t.Fatal("no lease")
		}
		clk.Advance(31 * time.Second)
		lb, err := ClaimLine(ctx, o, l1, "b", 30*time.Second)
		if err != nil || lb == nil {
			t.Fatalf("take-over after expiry = %v, %v", lb, err)
		}
		batchA, _ := o.Next(ctx, la, 10)
		if err := o.Ack(ctx, batchA, time.Minute); !errors.Is(err, queue.ErrLeaseLost) {
			t.Fatalf("ack by old holder = %v, want ErrLeaseLost", err)
		}
		st, _ := o.Status(ctx, "l1")
		if st.Pending != 0 {
			t.Fatalf("pending = %d after delivered ack", st.Pending)
		}
	})

	// claimOne enqueues one event on each line, claims the lines for owner
	// and reads their batches.
	claimOne := func(t *testing.T, o *queue.Outbox, owner string, lines ...string) []*queue.Batch {
		t.Helper()
		var out []*queue.Batch
		for i, line := range lines {
			if _, err := o.Enqueue(ctx, []queue.NewEvent{ev(line, owner+"-k-"+line, i)}); err != nil {
				t.Fatal(err)
			}
			l, err := ClaimLine(ctx, o, queue.LineRef{LineID: line, PortalID: "p1"}, owner, time.Minute)
			if err != nil || l == nil {
				t.Fatalf("claim %s = %v, %v", line, l, err)
			}
			b, err := o.Next(ctx, l, 10)
			if err != nil || len(b.Items) != 1 {
				t.Fatalf("next %s = %v, %v", line, b, err)
			}
			out = append(out, b)
		}
		return out
	}
	pendingOf := func(t *testing.T, o *queue.Outbox, line string) int64 {
		t.Helper()
		st, err := o.Status(ctx, line)
		if err != nil {
			t.Fatal(err)
		}
		return st.Pending
	}
	waitAck := func(t *testing.T, p *queue.PendingAck) error {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return p.Wait(wctx)
	}

	t.Run("DeferredAcksWaitForCompanyThenCommitTogether", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{AckDelay: time.Second})
		batches := claimOne(t, o, "a", "d1", "d2", "d3", "d4")
		var heard atomic.Int32
		var pending []*queue.PendingAck
		for _, bt := range batches[:3] {
			p, err := o.AckLater(ctx, bt, time.Minute, func(err error) {
				if err == nil {
					heard.Add(1)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			pending = append(pending, p)
		}
		// Nothing committed them yet: a second is a long wait.
		for i, p := range pending {
			select {
			case <-p.Done():
				t.Fatalf("deferred ack %d committed before its delay or company", i)
			default:
			}
		}
		if n := pendingOf(t, o, "d1"); n != 1 {
			t.Fatalf("d1 pending = %d before its ack committed, want 1", n)
		}
		// An ack someone waits on commits at once, and takes the
		// deferred ones with it.
		before := batches[3].Lease.Until
		if err := o.Ack(ctx, batches[3], 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		if !batches[3].Lease.Until.After(before) {
			t.Fatalf("Ack did not renew the lease: %v → %v", before, batches[3].Lease.Until)
		}
		for i, p := range pending {
			if err := waitAck(t, p); err != nil {
				t.Fatalf("deferred ack %d: %v", i, err)
			}
			line := fmt.Sprintf("d%d", i+1)
			if n := pendingOf(t, o, line); n != 0 {
				t.Fatalf("%s pending = %d after its ack, want 0", line, n)
			}
		}
		if heard.Load() != 3 {
			t.Fatalf("done callbacks heard %d successes, want 3", heard.Load())
		}
	})

	t.Run("ADeferredAckCommitsAloneAfterItsDelay", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{AckDelay: 20 * time.Millisecond})
		bt := claimOne(t, o, "a", "e1")[0]
		before := bt.Lease.Until
		p, err := o.AckLater(ctx, bt, 5*time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitAck(t, p); err != nil {
			t.Fatal(err)
		}
		if n := pendingOf(t, o, "e1"); n != 0 {
			t.Fatalf("pending = %d after the deferred ack, want 0", n)
		}
		// The lease is renewed as by Ack, once the ack is in.
		if !bt.Lease.Until.After(before.Add(3 * time.Minute)) {
			t.Fatalf("lease until %v, want renewed for 5m (was %v)", bt.Lease.Until, before)
		}
		// And it is still held: another owner cannot claim the line.
		if _, err := o.Enqueue(ctx, []queue.NewEvent{ev("e1", "e1-next", 9)}); err != nil {
			t.Fatal(err)
		}
		if l, err := ClaimLine(ctx, o, queue.LineRef{LineID: "e1", PortalID: "p1"}, "b", time.Minute); err != nil || l != nil {
			t.Fatalf("claim by another owner = %v, %v; want nil (the renewed lease holds)", l, err)
		}
	})

	t.Run("HurryCommitsTheDeferredAcksAtOnce", func(t *testing.T) {
		o := newOutbox(t, Open(t, b), queue.Config{AckDelay: time.Minute})
		bt := claimOne(t, o, "a", "h1")[0]
		p, err := o.AckLater(ctx, bt, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Hurry()
		// Far less than the minute the ack would otherwise wait.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := p.Wait(wctx); err != nil {
			t.Fatalf("hurried ack: %v", err)
		}
		if n := pendingOf(t, o, "h1"); n != 0 {
			t.Fatalf("pending = %d after the hurried ack, want 0", n)
		}
	})

	t.Run("ADeferredAckReportsALostLease", func(t *testing.T) {
		clk := NewClock(time.Unix(1_700_000_000, 0))
		o := newOutbox(t, Open(t, b), queue.Config{Now: clk.Now, AckDelay: time.Millisecond})
		bt := claimOne(t, o, "a", "f1")[0]
		clk.Advance(2 * time.Minute)
		if l, err := ClaimLine(ctx, o, queue.LineRef{LineID: "f1", PortalID: "p1"}, "b", time.Minute); err != nil || l == nil {
			t.Fatalf("take-over after expiry = %v, %v", l, err)
		}
		var heard atomic.Value
		p, err := o.AckLater(ctx, bt, time.Minute, func(err error) { heard.Store(fmt.Sprint(err)) })
		if err != nil {
			t.Fatal(err)
		}
		if err := waitAck(t, p); !errors.Is(err, queue.ErrLeaseLost) {
			t.Fatalf("deferred ack by the old holder = %v, want ErrLeaseLost", err)
		}
		if got := heard.Load(); got != queue.ErrLeaseLost.Error() {
			t.Fatalf("done callback heard %v, want %v", got, queue.ErrLeaseLost)
		}
		if n := pendingOf(t, o, "f1"); n != 0 {
			t.Fatalf("pending = %d: a delivered batch's events must go even when the lease was lost", n)
		}
	})

	t.Run("CloseCommitsTheDeferredAcks", func(t *testing.T) {
		db := Open(t, b)
		o, err := queue.NewOutbox(db, queue.Config{AckDelay: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		bt := claimOne(t, o, "a", "g1")[0]
		p, err := o.AckLater(ctx, bt, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.Close()
		select {
		case <-p.Done():
		default:
			t.Fatal("Close returned with a deferred ack not done")
		}
		if err := waitAck(t, p); err != nil {
			t.Fatal(err)
		}
		o2 := newOutbox(t, db, queue.Config{})
		if n := pendingOf(t, o2, "g1"); n != 0 {
			t.Fatalf("pending = %d after Close committed the ack, want 0", n)
		}
	})

	t.Run("LockoutGrowsThenDeadLettersThenReplayInOrder", func(t *testing.T) {
		clk := NewClock(time.Unix(1_700_000_000, 0))
		sched := []time.Duration{time.Minute, 5 * time.Minute, 12 * time.Hour}
		o := newOutbox(t, Open(t, b), queue.Config{Now: clk.Now, Schedule: sched, Window: 24 * time.Hour})
		for i := 0; i < 5; i++ {
			if _, err := o.Enqueue(ctx, []queue.NewEvent{ev("l1", fmt.Sprintf("k%d", i), i)}); err != nil {
				t.Fatal(err)
			}
		}
		start := clk.Now()
		var periods []time.Duration
		for attempt := 0; attempt < 10; attempt++ {
			l, err := ClaimLine(ctx, o, l1, "a", time.Minute)
			if err != nil || l == nil {
				t.Fatalf("attempt %d: claim = %v, %v", attempt, l, err)
			}
			batch, _ := o.Next(ctx, l, 2)
			lo, err := o.Fail(ctx, batch, "portal answered 503")
			if err != nil {
				t.Fatal(err)
			}
			if lo.Expired > 0 {
				if lo.Expired != 5 {
					t.Fatalf("expired %d, want all 5", lo.Expired)
				}
				if got := clk.Now().Sub(start); got != 24*time.Hour {
					t.Fatalf("expired after %s, want exactly the 24h window", got)
				}
				break
			}
			if l2, _ := ClaimLine(ctx, o, l1, "a", time.Minute); l2 != nil {
				t.Fatal("locked line claimed")
			}
			st, _ := o.Status(ctx, "l1")
			if st.LockedUntil == nil || st.LastError != "portal answered 503" {
				t.Fatalf("status during lock-out = %+v", st)
			}
			p := lo.Until.Sub(clk.Now())
			periods = append(periods, p)
			clk.Advance(p)
		}
		want := []time.Duration{time.Minute, 5 * time.Minute, 12 * time.Hour, 24*time.Hour - 12*time.Hour - 6*time.Minute}
		if fmt.Sprint(periods) != fmt.Sprint(want) {
			t.Fatalf("lock periods = %v, want %v", periods, want)
		}
		st, _ := o.Status(ctx, "l1")
		if st.Pending != 0 || st.DeadLetters != 5 || st.LockedUntil != nil {
			t.Fatalf("after expiry: %+v", st)
		}
		dls, err := o.DeadLetters(ctx, "l1", 0, 100)
		if err != nil || len(dls) != 5 {
			t.Fatalf("dead letters = %d, %v", len(dls), err)
		}
		n, err := o.Replay(ctx, "l1", nil)
		if err != nil || n != 5 {
			t.Fatalf("replay = %d, %v", n, err)
		}
		l, _ := ClaimLine(ctx, o, l1, "a", time.Minute)
		batch, _ := o.Next(ctx, l, 100)
		for i, it := range batch.Items {
			if it.EventID != fmt.Sprintf("evt-l1-%d", i) {
				t.Fatalf("replayed item %d = %s: order lost", i, it.EventID)
			}
		}
		if len(batch.Items) != 5 {
			t.Fatalf("replayed %d items", len(batch.Items))
		}
	})

	t.Run("DepthsCountWhatWaits", func(t *testing.T) {
		clk := NewClock(time.Unix(1_700_000_000, 0))
		o := newOutbox(t, Open(t, b), queue.Config{Now: clk.Now, Schedule: []time.Duration{time.Hour}, Window: 2 * time.Hour})
		if ds, err := o.Depths(ctx); err != nil || len(ds) != 0 {
			t.Fatalf("empty outbox: depths %+v, %v", ds, err)
		}
		start := clk.Now()
		if _, err := o.Enqueue(ctx, []queue.NewEvent{ev("l1", "", 1), ev("l1", "", 2), ev("l2", "", 1), ev("l3", "", 1)}); err != nil {
			t.Fatal(err)
		}
		fail := func(line string) {
			t.Helper()
			l, err := ClaimLine(ctx, o, queue.LineRef{LineID: line, PortalID: "p1"}, "w", time.Minute)
			if err != nil || l == nil {
				t.Fatalf("claim %s: %v, %v", line, l, err)
			}
			batch, err := o.Next(ctx, l, 10)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.Fail(ctx, batch, "portal down"); err != nil {
				t.Fatal(err)
			}
		}
		// l3 fails until its window is over: its event becomes a dead
		// letter. l2 fails once after that: it is locked out now.
		fail("l3")
		clk.Advance(2 * time.Hour)
		fail("l3")
		fail("l2")
		// A later event does not move l1's oldest; another portal's line
		// is reported under its portal.
		later := clk.Now()
		if _, err := o.Enqueue(ctx, []queue.NewEvent{ev("l1", "", 3), {PortalID: "p2", LineID: "m1", EventID: "evt-m1", Payload: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		got, err := o.Depths(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []queue.LineDepth{
			{PortalID: "p1", LineID: "l1", Pending: 3, OldestAt: start.UTC()},
			{PortalID: "p1", LineID: "l2", Pending: 1, OldestAt: start.UTC(), LockedOut: true},
			{PortalID: "p1", LineID: "l3", DeadLetters: 1},
			{PortalID: "p2", LineID: "m1", Pending: 1, OldestAt: later.UTC()},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("depths\n got %+v\nwant %+v", got, want)
		}
	})

	t.Run("TwoProcessesNeverShareALine", func(t *testing.T) {
		dsn := b.DSN(t)
		open := func() *queue.Outbox {
			db, err := sqldb.Open(ctx, b.Driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return newOutbox(t, db, queue.Config{})
		}
		o1 := open()
		o2 := open()
		const lines, per = 10, 60
		for i := 0; i < per; i++ {
			var evs []queue.NewEvent
			for l := 0; l < lines; l++ {
				evs = append(evs, ev(fmt.Sprintf("l%d", l), fmt.Sprintf("k%d-%d", l, i), i))
			}
			if _, err := o1.Enqueue(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w, o := range []*queue.Outbox{o1, o2, o1, o2} {
			wg.Add(1)
			go func(owner string, o *queue.Outbox) {
				defer wg.Done()
				for {
					ready, err := o.ReadyLines(ctx, 100)
					if err != nil {
						t.Error(err)
						return
					}
					if len(ready) == 0 {
						return
					}
					for _, r := range ready {
						l, err := ClaimLine(ctx, o, r, owner, time.Minute)
						if err != nil {
							t.Error(err)
							return
						}
						if l == nil {
							continue
						}
						batch, err := o.Next(ctx, l, 7)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						for _, it := range batch.Items {
							seen[it.EventID]++
						}
						mu.Unlock()
						if err := o.Ack(ctx, batch, time.Minute); err != nil {
							t.Error(err)
						}
						if err := o.Release(ctx, l); err != nil {
							t.Error(err)
						}
					}
				}
			}(fmt.Sprintf("w%d", w), o)
		}
		wg.Wait()
		if len(seen) != lines*per {
			t.Fatalf("delivered %d distinct events, want %d", len(seen), lines*per)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("event %s delivered %d times", id, n)
			}
		}
	})
}

// ClaimLine takes the lease of one line for owner through ClaimLines, as
// the dispatcher does; nil, nil when the line is not claimable.
func ClaimLine(ctx context.Context, o *queue.Outbox, line queue.LineRef, owner string, d time.Duration) (*queue.Lease, error) {
	leases, err := o.ClaimLines(ctx, []queue.LineRef{line}, owner, d)
	if err != nil || len(leases) == 0 {
		return nil, err
	}
	return leases[0], nil
}
