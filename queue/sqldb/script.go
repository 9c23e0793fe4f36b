package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Stmt is one statement of a script.
type Stmt struct {
	Query string
	Args  []any
}

// Conn runs follow-up statements inside a script's open transaction.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Script runs stmts as one transaction and sends them to the server
// together: on MySQL, BEGIN, every statement and COMMIT travel in one round
// trip instead of one each, which is most of what a small transaction costs
// both the gateway and the server (a group commit of one webhook, or one
// ack, is otherwise four round trips). On SQLite, which runs in process, it
// is an ordinary transaction.
//
// If then is not nil it is called before the commit with each statement's
// affected rows, and may run more statements in the still open transaction
// through c; an error from it rolls everything back. The commit is then a
// second round trip. A statement's error (a duplicate key, say) rolls the
// whole script back and is returned as the server reported it, so callers
// test it with Dialect.IsDuplicate as usual. Deadlocks and lock-wait
// timeouts are retried, as InTx does.
func (db *DB) Script(ctx context.Context, stmts []Stmt, then func(ctx context.Context, c Conn, affected []int64) error) error {
	if len(stmts) == 0 {
		return errors.New("sqldb: empty script")
	}
	if db.scripts == nil {
		return db.scriptTx(ctx, stmts, then)
	}
	err := db.retry(ctx, func() error { return db.tryScript(ctx, stmts, then) })
	if errors.Is(err, driver.ErrSkip) {
		// The driver would not inline the arguments (a script larger than
		// max_allowed_packet, or an argument of a type it does not inline)
		// and sent nothing: run the statements one by one, prepared.
		return db.scriptTx(ctx, stmts, then)
	}
	return err
}

// probeScripts reports whether db's server runs several statements sent
// in one query (MariaDB and MySQL do when the client asks for it; some
// proxies refuse).
func probeScripts(ctx context.Context, db *sql.DB) bool {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := db.ExecContext(pctx, "DO 1; DO 2")
	return err == nil
}

// scriptTx runs a script as an ordinary transaction, one statement at a
// time.
func (db *DB) scriptTx(ctx context.Context, stmts []Stmt, then func(ctx context.Context, c Conn, affected []int64) error) error {
	return db.InTx(ctx, func(tx *sql.Tx) error {
		affected := make([]int64, len(stmts))
		for i, s := range stmts {
			res, err := tx.ExecContext(ctx, s.Query, s.Args...)
			if err != nil {
				return err
			}
			affected[i], _ = res.RowsAffected()
		}
		if then != nil {
			return then(ctx, tx, affected)
		}
		return nil
	})
}

// tryScript is one attempt of a MySQL script, on a connection of the
// scripts pool (the only one that accepts several statements per query).
//
// database/sql does not know about a transaction begun inside a query, so
// this function owns the invariant that no connection goes back to the
// pool with one open: after any failure it rolls back, and a connection
// whose rollback cannot be confirmed is discarded. A transaction left open
// would otherwise be committed, half done, by the next script's BEGIN.
func (db *DB) tryScript(ctx context.Context, stmts []Stmt, then func(ctx context.Context, c Conn, affected []int64) error) (err error) {
	conn, err := db.scripts.Conn(ctx)
	if err != nil {
		return fmt.Errorf("script: connection: %w", err)
	}
	open := false
	defer func() {
		if open {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}
		conn.Close()
	}()

	var q strings.Builder
	n, nargs := 0, 0
	for _, s := range stmts {
		n += len(s.Query) + 1
		nargs += len(s.Args)
	}
	q.Grow(n + len("BEGIN;COMMIT"))
	q.WriteString("BEGIN")
	args := make([]driver.NamedValue, 0, nargs)
	for _, s := range stmts {
		q.WriteByte(';')
		q.WriteString(s.Query)
		for _, a := range s.Args {
			args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: a})
		}
	}
	if then == nil {
		q.WriteString(";COMMIT")
	}
	var affected []int64
	err = conn.Raw(func(dc any) error {
		if c, ok := dc.(driver.NamedValueChecker); ok {
			for i := range args {
				if err := c.CheckNamedValue(&args[i]); err != nil {
					return fmt.Errorf("script: argument %d: %w", i+1, err)
				}
			}
		}
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return errors.New("script: driver cannot execute directly")
		}
		// From here on the server may hold an open transaction.
		open = true
		res, err := ex.ExecContext(ctx, q.String(), args)
		if err != nil {
			return err
		}
		all := res.(mysql.Result).AllRowsAffected()
		if len(all) < 1+len(stmts) {
			return fmt.Errorf("script: %d results for %d statements", len(all), len(stmts))
		}
		affected = all[1 : 1+len(stmts)]
		if then == nil {
			open = false // COMMIT was the last statement and it succeeded
		}
		return nil
	})
	if err != nil {
		return err
	}
	if then == nil {
		return nil
	}
	if err := then(ctx, conn, affected); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	open = false
	return nil
}
