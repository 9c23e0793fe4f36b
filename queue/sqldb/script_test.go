package sqldb_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
	"github.com/go-sql-driver/mysql"
)

// The probe that decides whether scripts travel in one round trip: a
// server that accepts several statements per query passes it, a session
// that does not (as behind a proxy that refuses them) fails it, and Open
// then keeps to one statement per round trip.
func TestScriptsProbe(t *testing.T) {
	ctx := context.Background()
	dsn := queuetest.MySQLDSN(t)
	db, err := sqldb.Open(ctx, sqldb.DriverMySQL, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.UsesScripts() {
		t.Error("Open on MariaDB did not enable one-round-trip scripts")
	}
	for _, multi := range []bool{true, false} {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MultiStatements = multi
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pool := sql.OpenDB(c)
		if got := sqldb.ProbeScripts(ctx, pool); got != multi {
			t.Errorf("probe with multiStatements=%v = %v", multi, got)
		}
		pool.Close()
	}
}
