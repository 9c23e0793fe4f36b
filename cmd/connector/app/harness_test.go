package app_test

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

const botToken = "123456789:AAH-test-token-0123456789abcdefghijkl"

// gateway is an in-process gateway serving on loopback.
type gateway struct {
	t      testing.TB
	app    *app.App
	URL    string
	cancel context.CancelFunc
	done   chan error
}

func testConfig(b queuetest.Backend, dsn, telegramEndpoint string) app.Config {
	cfg := app.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.PublicURL = "http://gateway.test"
	cfg.Database.Driver, cfg.Database.DSN = b.Driver, dsn
	yes := true
	cfg.Database.AutoMigrate = &yes
	cfg.Secrets.Key = portal.NewKey()
	cfg.Telegram.APIEndpoint = telegramEndpoint
	cfg.Dispatch.Poll = 50 * time.Millisecond
	return cfg
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CONNECTOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startGateway(t testing.TB, cfg app.Config) *gateway {
	t.Helper()
	return startGatewayLog(t, cfg, testLogger(t))
}

func startGatewayLog(t testing.TB, cfg app.Config, log *slog.Logger) *gateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start gateway: %v", err)
	}
	g := &gateway{t: t, app: a, URL: "http://" + a.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- a.Run(ctx) }()
	t.Cleanup(g.stop)
	return g
}

func (g *gateway) stop() {
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	select {
	case err := <-g.done:
		if err != nil {
			g.t.Errorf("gateway stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		g.t.Error("gateway did not stop within 30s")
	}
}

// wiring is one portal with lines, each with an active Telegram connection.
type wiring struct {
	PortalID string
	Secret   string
	Client   *sdk.Client
	Lines    []string
	Conns    []string
	Hashes   []string
	Secrets  []string // webhook secrets, per connection
	Tokens   []string // bot tokens, per connection (one bot each)
}

// lineBot returns a bot token of its own for a line and registers it with
// the fake Bot API: a bot is bound to one connection at a time, so every
// line needs its own.
func lineBot(tg *telegramtest.Server, lineID string) string {
	h := fnv.New32a()
	h.Write([]byte(lineID))
	tok := fmt.Sprintf("%d:AAH-test-token-%s", 100000000+h.Sum32()%800000000, strings.Repeat("x", 24))
	tg.AddBot(tok)
	return tok
}

// newPortal creates a portal as an admin would, tells the test portal its
// signing secret, and returns a signed API client for it.
func newPortal(t testing.TB, g *gateway, p *portaltest.Server) wiring {
	t.Helper()
	pr, secret, err := g.app.Store().Records.CreatePortal(context.Background(), "Acme helpdesk", p.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.SetSecrets(append(p.Secrets(), secret)...)
	return wiring{PortalID: pr.ID, Secret: secret, Client: &sdk.Client{BaseURL: g.URL, PortalID: pr.ID, Secret: secret}}
}

// wire creates a portal (as an admin would) and, through the signed portal
// API, its lines and Telegram connections, and activates them.
func wire(t testing.TB, g *gateway, tg *telegramtest.Server, p *portaltest.Server, lines int) wiring {
	t.Helper()
	ctx := context.Background()
	w := newPortal(t, g, p)
	for i := 0; i < lines; i++ {
		var line portal.Line
		if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Support " + string(rune('A'+i))}, &line, nil); err != nil {
			t.Fatalf("create line: %v", err)
		}
		whSecret := "hook-secret-" + line.ID
		tok := lineBot(tg, line.ID)
		var conn struct {
			ID       string `json:"id"`
			EntryURL string `json:"entry_url"`
		}
		err := w.Client.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{
			"connector": "telegram",
			"settings":  map[string]string{"bot_token": tok, "mode": "webhook", "webhook_secret": whSecret},
		}, &conn, nil)
		if err != nil {
			t.Fatalf("create connection: %v", err)
		}
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
			t.Fatalf("activate: %v", err)
		}
		u, err := url.Parse(conn.EntryURL)
		if err != nil || !strings.HasPrefix(u.Path, "/hook/") {
			t.Fatalf("entry url %q", conn.EntryURL)
		}
		w.Lines = append(w.Lines, line.ID)
		w.Conns = append(w.Conns, conn.ID)
		w.Hashes = append(w.Hashes, strings.TrimPrefix(u.Path, "/hook/"))
		w.Secrets = append(w.Secrets, whSecret)
		w.Tokens = append(w.Tokens, tok)
	}
	return w
}

// postUpdate posts a webhook as Telegram would and returns the status code.
func postUpdate(t testing.TB, g *gateway, hash, secret string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest("POST", g.URL+"/hook/"+hash, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post update: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// mysqlBackend is the MariaDB backend, for tests only it can run (several
// processes on one database).
func mysqlBackend() queuetest.Backend {
	for _, b := range queuetest.Backends() {
		if b.Driver == sqldb.DriverMySQL {
			return b
		}
	}
	panic("no MySQL backend")
}

// adminSetup creates, as an admin would before the gateway runs, a portal
// with one line and one Telegram connection with the given settings,
// activated when active is set (without calling Telegram). It returns the
// line, the connection and a client for the portal (BaseURL to be set).
func adminSetup(t testing.TB, cfg app.Config, pt *portaltest.Server, settings connectors.Settings, active bool) (portal.Line, portal.Connection, sdk.Client) {
	t.Helper()
	return adminSetupFor(t, cfg, pt, "telegram", settings, active)
}

// adminSetupFor is adminSetup for a connection of any connector.
func adminSetupFor(t testing.TB, cfg app.Config, pt *portaltest.Server, connector string, settings connectors.Settings, active bool) (portal.Line, portal.Connection, sdk.Client) {
	t.Helper()
	ctx := context.Background()
	store, err := app.OpenStore(ctx, cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	pr, secret, err := store.Records.CreatePortal(ctx, "Acme", pt.URL)
	if err != nil {
		t.Fatal(err)
	}
	pt.SetSecrets(secret)
	line, err := store.Records.CreateLine(ctx, pr.ID, "Support")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := store.Records.CreateConnection(ctx, line.ID, connector, settings)
	if err != nil {
		t.Fatal(err)
	}
	if active {
		if err := store.Records.SetState(ctx, conn.ID, true, portal.ConnOK, ""); err != nil {
			t.Fatal(err)
		}
	}
	return line, conn, sdk.Client{PortalID: pr.ID, Secret: secret}
}
