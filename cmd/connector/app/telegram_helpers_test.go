package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// logBuffer collects a gateway's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startLoggedGateway is startGateway with every log line (debug level)
// kept for the test to search.
func startLoggedGateway(t testing.TB, cfg app.Config) (*gateway, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		cancel()
		t.Fatalf("start gateway: %v", err)
	}
	g := &gateway{t: t, app: a, URL: "http://" + a.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- a.Run(ctx) }()
	t.Cleanup(g.stop)
	return g, logs
}

// reachableConfig is testConfig whose public URL is the gateway's real
// address, so file links in events can be fetched.
func reachableConfig(t testing.TB, b queuetest.Backend, endpoint string) app.Config {
	cfg := testConfig(b, b.DSN(t), endpoint)
	cfg.Addr = freeAddr(t)
	cfg.PublicURL = "http://" + cfg.Addr
	cfg.Telegram.PollTimeout = time.Second
	cfg.Poll.Lease = 3 * time.Second
	return cfg
}

// connectTelegram makes a portal with one line and one Telegram connection
// in the given mode (its own bot), through the portal API, and activates it.
func connectTelegram(t testing.TB, g *gateway, tg *telegramtest.Server, p *portaltest.Server, mode string) wiring {
	t.Helper()
	ctx := context.Background()
	w := newPortal(t, g, p)
	var line portal.Line
	if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Support " + mode}, &line, nil); err != nil {
		t.Fatalf("create line: %v", err)
	}
	tok := lineBot(tg, line.ID)
	conn := addConnection(t, w.Client, line.ID, connectors.Settings{"bot_token": tok, "mode": mode, "webhook_secret": "hook-secret-" + line.ID})
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
		t.Fatalf("activate: %v", err)
	}
	w.Lines, w.Conns, w.Tokens = []string{line.ID}, []string{conn.ID}, []string{tok}
	w.Secrets = []string{"hook-secret-" + line.ID}
	if u, err := url.Parse(conn.EntryURL); err == nil {
		w.Hashes = []string{strings.TrimPrefix(u.Path, "/hook/")}
	}
	return w
}

type connView struct {
	ID         string   `json:"id"`
	LineID     string   `json:"line_id"`
	EntryURL   string   `json:"entry_url"`
	Active     bool     `json:"active"`
	Status     string   `json:"status"`
	LastError  string   `json:"last_error"`
	SecretsSet []string `json:"secrets_set"`
}

func addConnection(t testing.TB, c *sdk.Client, lineID string, settings connectors.Settings) connView {
	t.Helper()
	var conn connView
	if err := c.Do(context.Background(), "POST", "/v1/lines/"+lineID+"/connections", map[string]any{"connector": "telegram", "settings": settings}, &conn, nil); err != nil {
		t.Fatalf("create connection: %v", err)
	}
	return conn
}

// deliver hands updates to the gateway the way the connection receives:
// posted to its entry URL (webhook) or queued for getUpdates (polling).
func (w wiring) deliver(t testing.TB, g *gateway, tg *telegramtest.Server, mode string, updates ...[]byte) {
	t.Helper()
	for _, u := range updates {
		if mode == "polling" {
			tg.PushTo(w.Tokens[0], u)
			continue
		}
		if code := postUpdate(t, g, w.Hashes[0], w.Secrets[0], u); code != 200 {
			t.Fatalf("webhook answered %d for %s", code, u)
		}
	}
}

// rawUpdate builds an update of the given kind ("message",
// "edited_message") around msg, which gets message_id = id, date, from and
// a private chat unless it sets them.
func rawUpdate(id int, kind string, msg map[string]any) []byte {
	full := map[string]any{
		"message_id": id,
		"date":       time.Now().Unix(),
		"from":       map[string]any{"id": 4242, "is_bot": false, "first_name": "Ann", "last_name": "Berg", "username": "annb", "language_code": "de"},
		"chat":       map[string]any{"id": 4242, "type": "private", "first_name": "Ann"},
	}
	for k, v := range msg {
		full[k] = v
	}
	b, err := json.Marshal(map[string]any{"update_id": id, kind: full})
	if err != nil {
		panic(err)
	}
	return b
}

// statusOf waits for the status event of an outbound request.
func statusOf(t testing.TB, p *portaltest.Server, line, requestID string) connectors.Event {
	t.Helper()
	var found connectors.Event
	ok := p.WaitFor(30*time.Second, func() bool {
		for _, ev := range p.Events(line) {
			if ev.Status != nil && ev.Status.RequestID == requestID {
				found = ev
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no status event for %s; line has %d events", requestID, len(p.Events(line)))
	}
	return found
}

func get(t testing.TB, rawURL string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}
