// Package sqldb is the gateway's database handle: opening MySQL/MariaDB
// (production, several gateway processes) or SQLite (embedded default, one
// process), the small dialect adapter that keeps their differences apart,
// transactions with retry, and the embedded schema migrations. The stores
// that hold the gateway's state (queue, portal records, console, web chat)
// are built on it.
package sqldb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations
var migrationsFS embed.FS

// Drivers the gateway supports.
const (
	DriverMySQL  = "mysql"
	DriverSQLite = "sqlite"
)

// ErrSchemaBehind means the database needs `connector migrate`.
var ErrSchemaBehind = errors.New("database schema is behind this binary: run `connector migrate`")

// DB is an open gateway database with its SQL dialect.
type DB struct {
	SQL     *sql.DB
	Dialect Dialect
	// scripts is a small MySQL pool that accepts several statements per
	// query, used by Script only; nil on SQLite.
	scripts *sql.DB
}

// Open connects to the database. For SQLite, dsn is a file path (or a
// "file:" URI); durable pragmas (WAL, synchronous=FULL, busy timeout) are
// added. For MySQL, dsn is a go-sql-driver DSN.
func Open(ctx context.Context, driver, dsn string) (*DB, error) {
	var (
		db, scripts *sql.DB
		d           Dialect
	)
	switch driver {
	case DriverSQLite:
		sdb, err := sql.Open("sqlite", sqliteDSN(dsn))
		if err != nil {
			return nil, fmt.Errorf("queue: open sqlite: %w", err)
		}
		// SQLite has one writer; one connection serializes access without
		// SQLITE_BUSY churn and makes group commit the only way to scale.
		sdb.SetMaxOpenConns(1)
		db, d = sdb, sqliteDialect{}
	case DriverMySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("queue: parse mysql dsn: %w", err)
		}
		cfg.ParseTime = false
		// Interpolate arguments client-side: one round trip per statement
		// instead of prepare, execute and close. Safe with utf8mb4 (the
		// driver refuses it for the multibyte charsets where it is not).
		cfg.InterpolateParams = true
		// Affected rows count matched rows, as SQLite does: every
		// compare-and-set here asks "did my WHERE match", and a lease renewed
		// within the same millisecond changes no value.
		cfg.ClientFoundRows = true
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		mdb, err := openMySQL(ctx, cfg)
		if err != nil {
			return nil, err
		}
		mdb.SetMaxOpenConns(64)
		mdb.SetMaxIdleConns(64)
		mdb.SetConnMaxLifetime(30 * time.Minute)
		// Scripts (one round trip per small transaction) need the server
		// to accept several statements per query. Only Script uses this
		// pool, and it sends only statements the gateway builds itself,
		// with arguments escaped by the driver as on the main pool.
		mc := cfg.Clone()
		mc.MultiStatements = true
		sdb, err := openMySQL(ctx, mc)
		if err != nil {
			mdb.Close()
			return nil, err
		}
		sdb.SetMaxOpenConns(8)
		sdb.SetMaxIdleConns(8)
		sdb.SetConnMaxLifetime(30 * time.Minute)
		if probeScripts(ctx, sdb) {
			scripts = sdb
		} else {
			// A proxy in front of the server that refuses them: scripts
			// then run one statement per round trip on the main pool.
			sdb.Close()
		}
		db, d = mdb, mysqlDialect{}
	default:
		return nil, fmt.Errorf("queue: unknown driver %q (want %q or %q)", driver, DriverMySQL, DriverSQLite)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		if scripts != nil {
			scripts.Close()
		}
		return nil, fmt.Errorf("queue: connect to %s: %w", driver, err)
	}
	return &DB{SQL: db, Dialect: d, scripts: scripts}, nil
}

// openMySQL opens a pool whose sessions run at READ COMMITTED: claims are
// compare-and-set updates, so the gap locks of REPEATABLE READ would only add
// contention between ingest and ack. MySQL 8 and MariaDB 11 call the variable
// transaction_isolation, older MariaDB tx_isolation; the first that the server
// knows is used.
func openMySQL(ctx context.Context, cfg *mysql.Config) (*sql.DB, error) {
	var last error
	for _, name := range []string{"transaction_isolation", "tx_isolation"} {
		c := cfg.Clone()
		c.Params = make(map[string]string, len(cfg.Params)+1)
		for k, v := range cfg.Params {
			c.Params[k] = v
		}
		c.Params[name] = "'READ-COMMITTED'"
		conn, err := mysql.NewConnector(c)
		if err != nil {
			return nil, fmt.Errorf("queue: mysql connector: %w", err)
		}
		db := sql.OpenDB(conn)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = db.PingContext(pctx)
		cancel()
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1193 { // unknown system variable
			db.Close()
			last = err
			continue
		}
		return db, nil // a connection error is reported by Open's ping
	}
	return nil, fmt.Errorf("queue: set isolation level: %w", last)
}

func sqliteDSN(dsn string) string {
	if !strings.HasPrefix(dsn, "file:") {
		dsn = "file:" + dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
		if !strings.Contains(dsn, p[:strings.IndexByte(p, '(')]) {
			dsn += sep + "_pragma=" + p
			sep = "&"
		}
	}
	if !strings.Contains(dsn, "_txlock") {
		dsn += sep + "_txlock=immediate"
	}
	return dsn
}

// Close closes the database.
func (db *DB) Close() error {
	if db.scripts != nil {
		db.scripts.Close()
	}
	return db.SQL.Close()
}

func (db *DB) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrationsFS, "migrations/"+db.Dialect.Name())
	if err != nil {
		return nil, fmt.Errorf("queue: migrations: %w", err)
	}
	p, err := goose.NewProvider(db.Dialect.goose(), db.SQL, sub)
	if err != nil {
		return nil, fmt.Errorf("queue: migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration, each recorded as it lands.
func (db *DB) Migrate(ctx context.Context) (applied []int64, err error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	for _, r := range res {
		if r.Error == nil {
			applied = append(applied, r.Source.Version)
		}
	}
	if err != nil {
		return applied, fmt.Errorf("queue: migrate: %w", err)
	}
	return applied, nil
}

// SchemaVersion reports the applied and the embedded schema versions.
func (db *DB) SchemaVersion(ctx context.Context) (current, target int64, err error) {
	p, err := db.provider()
	if err != nil {
		return 0, 0, err
	}
	current, target, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("queue: schema version: %w", err)
	}
	return current, target, nil
}

// CheckSchema returns an error wrapping ErrSchemaBehind when migrations are
// pending.
func (db *DB) CheckSchema(ctx context.Context) error {
	current, target, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current < target {
		return fmt.Errorf("%w (database at version %d, binary needs %d)", ErrSchemaBehind, current, target)
	}
	return nil
}

// InTx runs fn in a transaction, retrying it when MySQL picks it as a
// deadlock victim or times out a lock wait (both are safe to retry whole).
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.retry(ctx, func() error { return db.tryTx(ctx, fn) })
}

// retry runs try up to five times while it fails in a way the dialect
// says is safe to retry whole, waiting a little longer each time.
func (db *DB) retry(ctx context.Context, try func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = try()
		if err == nil || !db.Dialect.retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return err
}

func (db *DB) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Dialect holds what differs between the SQL of the two backends.
type Dialect interface {
	Name() string
	// InsertIgnore starts an insert that skips rows whose key exists.
	InsertIgnore() string
	// UpsertAdd is the suffix that turns an INSERT into one that, on a key
	// conflict on conflictCol, adds the inserted value of col to the row's.
	UpsertAdd(conflictCol, col string) string
	// ForUpdate is the locking-read suffix ("" where the whole database is
	// locked by the transaction anyway).
	ForUpdate() string
	// IsDuplicate tells a unique-key violation.
	IsDuplicate(err error) bool
	// ByIndex names table in a FROM clause so that it is read through
	// index, where the planner's own choice is known to go wrong. MariaDB
	// reads "WHERE line_id = ? ORDER BY seq LIMIT n" along the primary key,
	// filtering out other lines' rows, once one line holds much of a small
	// table (the outbox while delivery keeps up): a batch read then
	// examines every waiting event instead of its own.
	ByIndex(table, index string) string
	// ByKeys is the suffix of a DELETE of n rows listed by their primary
	// key column key ("WHERE key IN (...)") that makes it look them up in
	// that key. MariaDB plans a full table scan for a list of about 50
	// keys or more in a small table (its statistics see a few pages, and
	// the scan also walks the rows purge has not yet removed); a
	// single-table DELETE takes no index hint, but ORDER BY the key with a
	// LIMIT of n uses it, never leaves a listed row behind, and keeps the
	// statement deterministic for statement-based replication.
	ByKeys(key string, n int) string
	goose() goose.Dialect
	retryable(err error) bool
}

type mysqlDialect struct{}

func (mysqlDialect) Name() string         { return DriverMySQL }
func (mysqlDialect) InsertIgnore() string { return "INSERT IGNORE INTO" }
func (mysqlDialect) UpsertAdd(_, col string) string {
	return fmt.Sprintf(" ON DUPLICATE KEY UPDATE %s = %s + VALUES(%s)", col, col, col)
}
func (mysqlDialect) ForUpdate() string { return " FOR UPDATE" }
func (mysqlDialect) ByIndex(table, index string) string {
	return table + " FORCE INDEX (" + index + ")"
}
func (mysqlDialect) ByKeys(key string, n int) string {
	return " ORDER BY " + key + " LIMIT " + strconv.Itoa(n)
}
func (mysqlDialect) goose() goose.Dialect { return goose.DialectMySQL }
func (mysqlDialect) IsDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
func (mysqlDialect) retryable(err error) bool {
	var me *mysql.MySQLError
	// 1213 deadlock, 1205 lock wait timeout.
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

type sqliteDialect struct{}

func (sqliteDialect) Name() string         { return DriverSQLite }
func (sqliteDialect) InsertIgnore() string { return "INSERT OR IGNORE INTO" }
func (sqliteDialect) UpsertAdd(conflictCol, col string) string {
	return fmt.Sprintf(" ON CONFLICT(%s) DO UPDATE SET %s = %s + excluded.%s", conflictCol, col, col, col)
}
func (sqliteDialect) ForUpdate() string { return "" }
func (sqliteDialect) ByIndex(table, index string) string {
	return table + " INDEXED BY " + index
}
func (sqliteDialect) ByKeys(string, int) string { return "" }
func (sqliteDialect) goose() goose.Dialect      { return goose.DialectSQLite3 }
func (sqliteDialect) IsDuplicate(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
func (sqliteDialect) retryable(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked"))
}

// MS is how every table stores a time: Unix milliseconds.
func MS(t time.Time) int64 { return t.UnixMilli() }

// FromMS reads a stored time; 0 is the zero time.
func FromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Placeholders returns "?,?,?" with n marks.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}
