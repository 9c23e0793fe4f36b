package telegram_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
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
		Files:    &connectortest.Linker{},
	}, srv
}
