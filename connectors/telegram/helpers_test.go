package telegram_test

import (
	"testing"

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

// setup starts a fake Bot API and a connector talking to it, and returns a
// connection with normalized settings for the fake's token.
func setup(t *testing.T) (*telegram.Connector, connectors.Conn, *telegramtest.Server) {
	t.Helper()
	srv := telegramtest.New(t, token)
	cn := telegram.New(telegram.Options{APIEndpoint: srv.Endpoint()})
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
