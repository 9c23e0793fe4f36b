// Package queuetest gives tests real databases: a fresh MariaDB database per
// test (from CONNECTOR_TEST_MYSQL_DSN) and a fresh SQLite file, and holds the
// conformance suite every queue backend must pass.
package queuetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// EnvMySQL names the variable holding a MariaDB/MySQL server DSN (no
// database name) with the right to create databases. scripts/test.sh sets it.
const EnvMySQL = "CONNECTOR_TEST_MYSQL_DSN"

// Backend is one database to run a test on.
type Backend struct {
	Driver string
	// DSN opens a fresh, empty database for one test.
	DSN func(t testing.TB) string
}

// Backends returns SQLite and, when EnvMySQL is set, MariaDB. When it is not
// set, the MariaDB variant is skipped with a message saying how to enable it;
// under CI (CI=true) a missing MariaDB fails the test instead.
func Backends() []Backend {
	return []Backend{
		{Driver: sqldb.DriverMySQL, DSN: MySQLDSN},
		{Driver: sqldb.DriverSQLite, DSN: SQLiteDSN},
	}
}

// SQLiteDSN returns the path of a new SQLite file in the test's temp dir.
func SQLiteDSN(t testing.TB) string {
	return filepath.Join(t.TempDir(), "connector.db")
}

// MySQLDSN creates an empty database for the test and drops it afterwards.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvMySQL)
	if server == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set; CI must run the MariaDB tests (use scripts/test.sh)", EnvMySQL)
		}
		t.Skipf("MariaDB tests skipped: set %s (scripts/test.sh does)", EnvMySQL)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "ct_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("mysql", server)
	if err != nil {
		t.Fatalf("open mariadb: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("mysql", server)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec("DROP DATABASE IF EXISTS " + name)
	})
	return withDBName(server, name)
}

// withDBName puts a database name into a DSN of the form user:pw@proto(addr)/?params.
func withDBName(server, name string) string {
	i := strings.LastIndex(server, "/")
	if i < 0 {
		return server + "/" + name
	}
	rest := server[i+1:]
	params := ""
	if q := strings.Index(rest, "?"); q >= 0 {
		params = rest[q:]
	}
	return server[:i+1] + name + params
}

// Open opens and migrates a fresh database of the backend.
func Open(t testing.TB, b Backend) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), b.Driver, b.DSN(t))
	if err != nil {
		t.Fatalf("open %s: %v", b.Driver, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", b.Driver, err)
	}
	return db
}
