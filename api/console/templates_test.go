package console

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// copyWithout copies the embedded files except the one named.
func copyWithout(t *testing.T, skip string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(embedded, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == skip {
			return err
		}
		raw, err := fs.ReadFile(embedded, p)
		out[p] = &fstest.MapFile{Data: raw}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testDeps(t *testing.T) Deps {
	t.Helper()
	db := queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN})
	sealer, err := portal.NewSealer(portal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := queue.NewOutbox(db, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(outbox.Close)
	reg, err := connectors.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	records := portal.NewRecords(db, sealer, outbox, queue.NewPolls(db, nil))
	views := portal.NewViews("", nil)
	lc := portal.NewLifecycle(portal.LifecycleDeps{Records: records, Registry: reg, Views: views})
	return Deps{DB: db, Records: records, Outbox: outbox, Keys: queue.NewKeys(outbox), Registry: reg, Lifecycle: lc, Views: views}
}

// The gateway refuses to start when a page template or static file is
// missing, naming it, instead of failing at the first visit.
func TestMissingTemplateRefusesToStart(t *testing.T) {
	deps := testDeps(t)
	if _, err := New(context.Background(), Config{AdminPassword: "a good long password"}, deps); err != nil {
		t.Fatalf("complete templates: %v", err)
	}
	for _, missing := range []string{"templates/wizard_test.html", "templates/layout.html", "templates/partials.html", "static/console.js"} {
		_, err := New(context.Background(), Config{AdminPassword: "a good long password", Templates: copyWithout(t, missing)}, deps)
		if err == nil || !strings.Contains(err.Error(), missing[strings.LastIndex(missing, "/")+1:]) {
			t.Errorf("without %s: New = %v, want an error naming it", missing, err)
		}
	}
	broken := copyWithout(t, "")
	broken["templates/status.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}x{{end}}{{define "content"}}{{.Nope{{end}}`)}
	if _, err := New(context.Background(), Config{AdminPassword: "a good long password", Templates: broken}, deps); err == nil || !strings.Contains(err.Error(), "status.html") {
		t.Errorf("broken template: New = %v, want an error naming status.html", err)
	}
}

func TestConfigIsValidated(t *testing.T) {
	deps := testDeps(t)
	for name, cfg := range map[string]Config{
		"short admin password": {AdminPassword: "short"},
		"cookie mode":          {CookieSecure: "sometimes"},
		"session ttl":          {SessionTTL: 10},
	} {
		if _, err := New(context.Background(), cfg, deps); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
