package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/connector-gateway/connector/api"
	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

const adminPassword = "a long admin passphrase"

// syncBuffer is a log sink tests can read while the console writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gateway is the API server with the console mounted, on real HTTP over
// loopback, with its own database.
type gateway struct {
	URL     string
	DB      *sqldb.DB
	Records *portal.Records
	Outbox  *queue.Outbox
	Log     *syncBuffer
}

// newGateway serves the console on a fresh database of backend b with the
// given connectors. cfg.AdminPassword defaults to adminPassword; set it to
// "-" for a one-time password.
func newGateway(t testing.TB, b queuetest.Backend, cfg console.Config, cs ...connectors.Connector) *gateway {
	t.Helper()
	return newGatewayWithAdapters(t, b, cfg, nil, cs...)
}

// newGatewayWithAdapters is newGateway with helpdesk adapters by portal
// kind (console.Deps.Adapters).
func newGatewayWithAdapters(t testing.TB, b queuetest.Backend, cfg console.Config, adapters map[string]portal.Deliverer, cs ...connectors.Connector) *gateway {
	t.Helper()
	db := queuetest.Open(t, b)
	sealer, err := portal.NewSealer(portal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := queue.NewOutbox(db, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(outbox.Close)
	reg, err := connectors.NewRegistry(cs...)
	if err != nil {
		t.Fatal(err)
	}
	records := portal.NewRecords(db, sealer, outbox, queue.NewPolls(db, nil))
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	views := portal.NewViews("https://gateway.example", nil)
	lc := portal.NewLifecycle(portal.LifecycleDeps{Records: records, Registry: reg, Views: views, Logger: log})
	srv := api.New(api.Config{Logger: log}, api.Deps{Records: records, Outbox: outbox, Outbound: queue.NewOutbound(outbox), Keys: queue.NewKeys(outbox),
		Inbox: portal.NewInbox(outbox), Registry: reg, Views: views, Lifecycle: lc})
	switch cfg.AdminPassword {
	case "":
		cfg.AdminPassword = adminPassword
	case "-":
		cfg.AdminPassword = ""
	}
	cfg.Logger = log
	cons, err := console.New(context.Background(), cfg, console.Deps{DB: db, Records: records, Outbox: outbox, Keys: queue.NewKeys(outbox), Registry: reg, Lifecycle: lc, Views: views, Adapters: adapters})
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	srv.MountConsole(cons)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &gateway{URL: hs.URL, DB: db, Records: records, Outbox: outbox, Log: logs}
}

// get fetches a page; redirects are not followed.
func get(t testing.TB, c *http.Client, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, c, req)
}

// post sends a form; redirects are not followed.
func post(t testing.TB, c *http.Client, u string, form url.Values, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, c, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// login signs in over plain HTTP and returns the client holding the session.
func (g *gateway) login(t testing.TB, user, password string) *http.Client {
	t.Helper()
	c := consoletest.Client(t)
	_, page := get(t, c, g.URL+"/console/login")
	form := consoletest.Hidden(page)
	form.Set("username", user)
	form.Set("password", password)
	resp, body := post(t, c, g.URL+"/console/login", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d\n%s", user, resp.StatusCode, body)
	}
	return c
}

// csrf reads the session's CSRF token from any signed-in page.
func (g *gateway) csrf(t *testing.T, c *http.Client) string {
	t.Helper()
	resp, page := get(t, c, g.URL+"/console/wizard")
	tok := consoletest.Hidden(page).Get("csrf")
	if resp.StatusCode != http.StatusOK || tok == "" {
		t.Fatalf("no CSRF token on the wizard page (%d)", resp.StatusCode)
	}
	return tok
}

// auditActions lists the audit trail's actions, newest first.
func (g *gateway) auditActions(t *testing.T) []string {
	t.Helper()
	rows, err := g.DB.SQL.Query("SELECT action FROM audit_log ORDER BY id DESC")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b queuetest.Backend)) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) { fn(t, b) })
	}
}

func sqliteOnly() queuetest.Backend {
	return queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}
}
