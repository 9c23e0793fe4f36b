package telegram_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
)

const (
	token     = "123456789:AAFakeTokenForTests_abcdefghijklmnopq"
	secret    = "s3cret_webhook-value"
	entryURL  = "https://gw.example.com/hook/h4sh"
	connID    = "conn_1"
	lineID    = "line_7"
	chatIDInt = 555000111
	chatID    = "555000111"
)

// fastOptions are connector options for tests: pacing too short to slow a
// test down, short long polls.
func fastOptions(endpoint string) telegram.Options {
	return telegram.Options{
		APIEndpoint:   endpoint,
		ChatInterval:  time.Millisecond,
		GroupInterval: time.Millisecond,
		BotInterval:   time.Microsecond,
		PollTimeout:   time.Second,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// setup starts a fake Bot API and a connector talking to it, and returns a
// connection with normalized settings for the fake's token and a file
// linker.
func setup(t testing.TB) (*telegram.Connector, connectors.Conn, *telegramtest.Server) {
	t.Helper()
	srv := telegramtest.New(t, token)
	cn := telegram.New(fastOptions(srv.Endpoint()))
	settings, err := cn.ValidateSettings(connectors.Settings{
		"bot_token":      token,
		"webhook_secret": secret,
	})
	if err != nil {
		t.Fatalf("ValidateSettings: %v", err)
	}
	return cn, connectors.Conn{
		ID:       connID,
		PortalID: "portal_1",
		LineID:   lineID,
		Hash:     "h4sh",
		EntryURL: entryURL,
		Settings: settings,
		Files:    linker{},
	}, srv
}

// withSettings returns c with its settings changed by kv pairs.
func withSettings(c connectors.Conn, kv ...string) connectors.Conn {
	s := make(connectors.Settings, len(c.Settings))
	for k, v := range c.Settings {
		s[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		s[kv[i]] = kv[i+1]
	}
	c.Settings = s
	return c
}

// linker makes readable test links: https://gw.example.com/files/<ref>?name=..&mime=..
type linker struct{}

const linkBase = "https://gw.example.com/files/"

func (linker) FileURL(ref, name, mime string) string {
	return linkBase + url.PathEscape(ref) + "?" + url.Values{"name": {name}, "mime": {mime}}.Encode()
}

// refOf returns the reference a test link carries.
func refOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, linkBase) {
		t.Fatalf("%q is not a gateway link", link)
	}
	ref, err := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/files/"))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// memCursor keeps a poller's position in memory.
type memCursor struct {
	mu    sync.Mutex
	pos   string
	saves []string
	fail  error // returned by Save when set
}

func (m *memCursor) Load(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pos, nil
}

func (m *memCursor) Save(_ context.Context, pos string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.pos = pos
	m.saves = append(m.saves, pos)
	return nil
}

func (m *memCursor) Saves() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.saves...)
}
